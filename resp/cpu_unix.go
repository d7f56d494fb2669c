//go:build unix

package resp

import "syscall"

// cpuField is one of INFO cpu's figures, in microseconds.
type cpuField struct {
	name string
	usec int64
}

// cpuFields are the process's CPU times and its children's, from getrusage,
// under Redis's names. (Redis's *_main_thread figures have no meaning for a
// Go program, whose goroutines move between threads.)
func cpuFields() []cpuField {
	var self, children syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	usec := func(t syscall.Timeval) int64 { return int64(t.Sec)*1e6 + int64(t.Usec) } //nolint:unconvert // int32 on some platforms
	return []cpuField{
		{"used_cpu_sys", usec(self.Stime)},
		{"used_cpu_user", usec(self.Utime)},
		{"used_cpu_sys_children", usec(children.Stime)},
		{"used_cpu_user_children", usec(children.Utime)},
	}
}
