//go:build linux && !noepoll

package resp

import (
	"net"
	"os"
	"syscall"
)

// handOff moves a connection from the event loop to a goroutine of its own,
// for good, before it runs a script: a script may run for seconds, and on the
// loop it would hold up every other connection of the loop, SCRIPT KILL from
// one of them included. The replies not yet written go with it; the commands
// not yet run run on the goroutine.
func (l *eventLoop) handOff(c *conn) {
	c.handOff = false
	fd := c.fd
	_ = syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_DEL, fd, nil)
	l.conns[fd] = nil
	c.fd = -1
	f := os.NewFile(uintptr(fd), "resp") //nolint:gosec // G115: a file descriptor is never negative here
	nc, err := net.FileConn(f)           // a duplicate, in Go's poller
	f.Close()
	if err != nil {
		c.srv.log.Warn("resp: cannot move a connection off its event loop; closing it", "remote", c.remote, "err", err)
		c.srv.release(c, func() {})
		return
	}
	c.out.b = c.out.b[c.outPos:]
	c.outPos = 0
	c.srv.mu.Lock()
	c.nc = nc // Shutdown reads nc under the server's lock
	shutting := c.srv.inShutdown.Load()
	c.srv.mu.Unlock()
	if shutting {
		_ = nc.SetReadDeadline(aLongTimeAgo)
	}
	go c.serveGoroutine()
}
