//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package testsupport

import "time"

// ProcessCPUTime is 0 where the process's CPU time is not at hand: benchmarks
// then report wall time only.
func ProcessCPUTime() time.Duration { return 0 }
