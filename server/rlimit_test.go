package server

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestFileLimitLogLevelAndValue(t *testing.T) {
	tests := []struct {
		name     string
		limit    fileLimit
		level    slog.Level
		contains []string
		lacks    []string
	}{
		{"plenty", fileLimit{Soft: 65535, Hard: 65536}, slog.LevelInfo,
			[]string{"soft=65535", "hard=65536"}, []string{"err=", "hint="}},
		{"too low for 10k connections", fileLimit{Soft: 4095, Hard: 4096}, slog.LevelWarn,
			[]string{"soft=4095", "hint=", "--ulimit nofile=65536:65536"}, []string{"err="}},
		{"cannot read", fileLimit{Err: errors.New("EFAULT")}, slog.LevelWarn,
			[]string{"err=EFAULT"}, []string{"soft="}},
		{"not read on this OS", fileLimit{Err: fmt.Errorf("nofile: %w", errors.ErrUnsupported)}, slog.LevelDebug,
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
