package server

import "syscall"

// getNofile reads RLIMIT_NOFILE.
func getNofile() (soft, hard uint64, err error) {
	var lim syscall.Rlimit
	err = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	return lim.Cur, lim.Max, err
}
