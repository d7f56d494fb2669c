//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package testsupport

import (
	"syscall"
	"time"
)

// ProcessCPUTime is the CPU time the process has used, user and system, all
// threads (the garbage collector's included).
func ProcessCPUTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
