package server

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// fakeNofile is an RLIMIT_NOFILE whose calls can be made to fail.
type fakeNofile struct {
	soft, hard     uint64
	clamp          uint64 // when set, a raise stops there, as a kernel's fs.nr_open would
	getErr, setErr error
	failSecondGet  bool
	gets, sets     int
}

func (f *fakeNofile) get() (uint64, uint64, error) {
	f.gets++
	if f.getErr != nil || (f.failSecondGet && f.gets == 2) {
		return 0, 0, errors.Join(f.getErr, errors.New("get failed"))
	}
	return f.soft, f.hard, nil
}

func (f *fakeNofile) set(soft, hard uint64) error {
	f.sets++
	if f.setErr != nil {
		return f.setErr
	}
	if f.clamp != 0 && soft > f.clamp {
		soft = f.clamp
	}
	f.soft, f.hard = soft, hard
	return nil
}

func TestRaiseFileLimitWith(t *testing.T) {
	errPerm := errors.New("operation not permitted")
	tests := []struct {
		name     string
		fake     fakeNofile
		want     fileLimit
		wantSets int
		wantErr  bool
	}{
		{"raises soft to hard", fakeNofile{soft: 1024, hard: 524288},
			fileLimit{Before: 1024, After: 524288, Hard: 524288}, 1, false},
		{"runtime already raised it to hard-1", fakeNofile{soft: 19999, hard: 20000},
			fileLimit{Before: 19999, After: 20000, Hard: 20000}, 1, false},
		{"already at hard: no call", fakeNofile{soft: 20000, hard: 20000},
			fileLimit{Before: 20000, After: 20000, Hard: 20000}, 0, false},
		{"kernel clamps the raise: reports what it got", fakeNofile{soft: 1024, hard: 1 << 40, clamp: 1 << 20},
			fileLimit{Before: 1024, After: 1 << 20, Hard: 1 << 40}, 1, false},
		{"raise refused: soft unchanged", fakeNofile{soft: 1024, hard: 4096, setErr: errPerm},
			fileLimit{Before: 1024, After: 1024, Hard: 4096}, 1, true},
		{"cannot read", fakeNofile{getErr: errPerm},
			fileLimit{}, 0, true},
		{"cannot read back: keeps the old soft", fakeNofile{soft: 1024, hard: 4096, failSecondGet: true},
			fileLimit{Before: 1024, After: 1024, Hard: 4096}, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.fake
			got := raiseFileLimitWith(f.get, f.set)
			if (got.Err != nil) != tt.wantErr {
				t.Fatalf("Err = %v, want error: %v", got.Err, tt.wantErr)
			}
			got.Err = nil
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if f.sets != tt.wantSets {
				t.Errorf("set called %d times, want %d", f.sets, tt.wantSets)
			}
		})
	}
}

func TestFileLimitLogLevelAndValue(t *testing.T) {
	tests := []struct {
		name     string
		limit    fileLimit
		level    slog.Level
		contains []string
		lacks    []string
	}{
		{"plenty", fileLimit{Before: 1024, After: 65536, Hard: 65536}, slog.LevelInfo,
			[]string{"soft_before=1024", "soft=65536", "hard=65536"}, []string{"err=", "hint="}},
		{"too low for 10k connections", fileLimit{Before: 1024, After: 4096, Hard: 4096}, slog.LevelWarn,
			[]string{"soft=4096", "hint=", "--ulimit nofile=65536:65536"}, []string{"err="}},
		{"raise failed", fileLimit{Before: 1024, After: 1024, Hard: 65536, Err: errors.New("EPERM")}, slog.LevelWarn,
			[]string{"soft=1024", "err=EPERM"}, nil},
		{"cannot read", fileLimit{Err: errors.New("EFAULT")}, slog.LevelWarn,
			[]string{"err=EFAULT"}, []string{"soft="}},
		{"not managed on this OS", fileLimit{Err: fmt.Errorf("nofile: %w", errors.ErrUnsupported)}, slog.LevelDebug,
			[]string{"err="}, []string{"soft="}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.limit.LogLevel(); got != tt.level {
				t.Errorf("LogLevel() = %v, want %v", got, tt.level)
			}
			var out strings.Builder
			slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug})).Info("open file limit", "nofile", tt.limit)
			line := out.String()
			for _, s := range tt.contains {
				if !strings.Contains(line, s) {
					t.Errorf("log line %q lacks %q", line, s)
				}
			}
			for _, s := range tt.lacks {
				if strings.Contains(line, s) {
					t.Errorf("log line %q has %q", line, s)
				}
			}
		})
	}
}

// TestRaiseFileLimitRaisesTheRealLimit lowers this process's soft limit (which
// needs no privilege) and checks raiseFileLimit takes it back to the hard one.
func TestRaiseFileLimitRaisesTheRealLimit(t *testing.T) {
	soft, hard, err := getNofile()
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skip("the open-file limit is not managed on this OS")
	}
	if err != nil {
		t.Fatal(err)
	}
	if hard < 256 {
		t.Skipf("hard limit %d leaves no room to lower the soft one safely", hard)
	}
	t.Cleanup(func() {
		if err := setNofile(soft, hard); err != nil {
			t.Errorf("restoring the limit: %v", err)
		}
	})
	lowered := hard / 2
	if err := setNofile(lowered, hard); err != nil {
		t.Fatal(err)
	}
	got := raiseFileLimit()
	if got.Err != nil {
		t.Fatal(got.Err)
	}
	if got.Before != lowered || got.After != hard || got.Hard != hard {
		t.Errorf("got %+v, want Before %d, After %d, Hard %d", got, lowered, hard, hard)
	}
	if now, _, _ := getNofile(); now != hard {
		t.Errorf("soft limit is %d after raiseFileLimit, want %d", now, hard)
	}
}
