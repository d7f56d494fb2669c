package server

import (
	"syscall"
	"testing"
)

// TestReadFileLimitReadsTheRealLimit lowers this process's soft limit (which
// needs no privilege) and checks readFileLimit reports it.
func TestReadFileLimitReadsTheRealLimit(t *testing.T) {
	var orig syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &orig); err != nil {
		t.Fatal(err)
	}
	if orig.Max < 256 {
		t.Skipf("hard limit %d leaves no room to lower the soft one safely", orig.Max)
	}
	t.Cleanup(func() {
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &orig); err != nil {
			t.Errorf("restoring the limit: %v", err)
		}
	})
	lowered := syscall.Rlimit{Cur: orig.Max / 2, Max: orig.Max}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lowered); err != nil {
		t.Fatal(err)
	}
	if got := readFileLimit(); got != (fileLimit{Soft: lowered.Cur, Hard: orig.Max}) {
		t.Errorf("readFileLimit() = %+v, want soft %d, hard %d", got, lowered.Cur, orig.Max)
	}
}
