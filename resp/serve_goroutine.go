package resp

import (
	"errors"
	"net"
	"time"
)

// serveGoroutine is the portable driver: one goroutine per connection, reading
// and writing through net.Conn. It serves any listener (TLS, unix sockets, and
// every platform), and every connection where the epoll loop is unavailable.
//
// It reads what arrived, runs every complete command in it and writes all the
// replies in one go, so that pipelined commands cost one read and one write
// per batch, not per command.
func (c *conn) serveGoroutine() {
	defer c.srv.release(c, func() { c.nc.Close() })
	for {
		c.runBuffered(func() bool { return c.flush() == nil })
		c.touched(time.Now().UnixNano())
		if err := c.flush(); err != nil || c.closing {
			return
		}
		if !c.makeRoom() {
			c.refuseBuffers()
			_ = c.flush()
			return
		}
		if !c.setReadDeadline() {
			return
		}
		n, err := c.nc.Read(c.in[c.w:])
		c.w += n
		if err != nil {
			if n > 0 {
				c.runBuffered(func() bool { return c.flush() == nil })
				_ = c.flush()
			}
			c.logReadError(err)
			return
		}
	}
}

// flush writes the pending replies.
func (c *conn) flush() error {
	if len(c.out.b) == 0 {
		return nil
	}
	if c.mon != nil {
		// A monitor's lines are written by its own goroutine too.
		c.mon.writeMu.Lock()
		defer c.mon.writeMu.Unlock()
	}
	if c.srv.writeTO > 0 {
		_ = c.nc.SetWriteDeadline(time.Now().Add(c.srv.writeTO))
	}
	_, err := c.nc.Write(c.out.b)
	c.resetOutput()
	if err != nil {
		c.closing = true
		c.srv.log.Debug("resp: write failed; closing", "remote", c.remote, "err", err)
	}
	return err
}

// setReadDeadline sets the read deadline for the connection's state and
// reports whether to read on: false once the server is shutting down, every
// complete command having been answered.
func (c *conn) setReadDeadline() bool {
	pending := c.w - c.r
	if !c.authed && c.authDeadline != 0 {
		return c.setAuthReadDeadline(pending)
	}
	switch {
	case pending > 0 && c.srv.readTO > 0:
		// A client streaming a long pipeline often has half a command
		// buffered; the time limit restarts with each command completed.
		if c.deadline != commandDeadline || c.progressed {
			_ = c.nc.SetReadDeadline(time.Now().Add(c.srv.readTO))
			c.deadline = commandDeadline
		}
	case pending == 0 && c.srv.idleTO > 0:
		_ = c.nc.SetReadDeadline(time.Now().Add(c.srv.idleTO))
		c.deadline = idleDeadline
	case c.deadline != noDeadline:
		_ = c.nc.SetReadDeadline(time.Time{})
		c.deadline = noDeadline
	}
	c.progressed = false
	// Checked after setting the deadline: see Server.Shutdown.
	return !c.srv.inShutdown.Load()
}

// setAuthReadDeadline is setReadDeadline for a connection that must still
// authenticate: the earlier of its own deadline and the time it has left to
// do so. Such connections are few and short-lived, so it is reset every time.
func (c *conn) setAuthReadDeadline(pending int) bool {
	now := time.Now()
	at := time.Unix(0, c.authDeadline)
	switch {
	case pending > 0 && c.srv.readTO > 0:
		at = minTime(at, now.Add(c.srv.readTO))
	case pending == 0 && c.srv.idleTO > 0:
		at = minTime(at, now.Add(c.srv.idleTO))
	}
	_ = c.nc.SetReadDeadline(at)
	c.deadline = authDeadline
	c.progressed = false
	return !c.srv.inShutdown.Load()
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func (c *conn) logReadError(err error) {
	var ne net.Error
	switch {
	case c.srv.inShutdown.Load():
	case errors.As(err, &ne) && ne.Timeout():
		c.srv.log.Debug("resp: read timed out; closing", "remote", c.remote, "mid_command", c.w > c.r)
	default:
		// EOF and resets are how clients leave.
	}
}
