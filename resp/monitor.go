package resp

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/warmkv/warmkv/cache"
)

// MONITOR streams every command the server runs to the clients that asked,
// one line each, as Redis 7 writes them:
//
//	+1700000000.123456 [0 127.0.0.1:50000] "SET" "k" "v"
//
// after the command has run, whatever it answered; not the commands refused
// before running (unknown, wrong arity, NOAUTH), nor administrative ones
// (CONFIG, CLIENT LIST, MONITOR, ...). AUTH's arguments, and HELLO's after
// AUTH, show as "(redacted)", as in Redis, so the token never reaches a
// monitor. A monitor may still run commands that touch no key.
//
// Lines for a monitor are queued under its lock by whichever goroutine ran
// the command and sent by the monitor's own driver: its event loop, woken
// with posted work, or a writer goroutine beside its reading one. What is
// queued counts against the connections' buffer budget; a monitor too slow
// to keep up within it is disconnected.

const msgMonitorKeyspace = "ERR Replica can't interact with the keyspace"

// monitorState is a monitor's queue of lines not yet handed to its driver.
type monitorState struct {
	mu      sync.Mutex
	pending []byte
	held    int64 // bytes of pending reserved from the buffer budget
	closed  bool

	// Goroutine driver: wake signals the writer, writeMu keeps its writes and
	// the connection's replies apart.
	wake    chan struct{}
	writeMu sync.Mutex
}

// monitorSet is the server's monitors, read without a lock by every command.
type monitorSet struct {
	on   atomic.Bool
	list atomic.Pointer[[]*conn]
}

// cmdMonitor turns the connection into a monitor. A second MONITOR is
// ignored without a reply, as in Redis.
func cmdMonitor(c *conn, _ [][]byte) {
	if _, inExec := c.kv.(cache.Tx); inExec {
		// A transaction's client expects one reply per command, as Redis
		// says of its clients that may not block.
		c.out.err("ERR MONITOR isn't allowed for DENY BLOCKING client")
		return
	}
	if c.mon != nil {
		return
	}
	c.mon = &monitorState{}
	c.info.monitor.Store(true)
	c.restricted = true
	if c.loop == nil {
		c.mon.wake = make(chan struct{}, 1)
		go c.monitorWriter()
	}
	s := c.srv
	s.mu.Lock()
	var list []*conn
	if old := s.monitors.list.Load(); old != nil {
		list = append(list, *old...)
	}
	list = append(list, c)
	s.monitors.list.Store(&list)
	s.monitors.on.Store(true)
	s.mu.Unlock()
	c.out.ok()
}

// stopMonitor takes a closing connection off the monitors and gives back
// what its queue held. The caller holds s.mu.
func (c *conn) stopMonitor() {
	s := c.srv
	var list []*conn
	for _, m := range *s.monitors.list.Load() {
		if m != c {
			list = append(list, m)
		}
	}
	s.monitors.list.Store(&list)
	s.monitors.on.Store(len(list) > 0)
	c.mon.mu.Lock()
	c.mon.closed = true
	s.buffers.used.Add(-c.mon.held)
	c.mon.pending, c.mon.held = nil, 0
	if c.mon.wake != nil {
		close(c.mon.wake)
	}
	c.mon.mu.Unlock()
}

// feedMonitors sends the command c has just run to every monitor: its own
// line straight into its replies, after the reply, when c is one.
func (c *conn) feedMonitors(args [][]byte) {
	c.feedMonitorLines(monitorLine(c.remote, c.last, args, c.srv.now()))
}

// monitorLater keeps the monitor line of cmd, run by a transaction's run
// (EXEC's commands, a script's redis.call) for feedLater: Redis shows them
// as they run, and here a run may be run again, so they wait until one
// stands. client is what the line names: the connection, or "lua".
func (c *conn) monitorLater(client string, cmd *command, args [][]byte) {
	if !c.srv.monitors.on.Load() || cmd.skipMonitor {
		return
	}
	c.laterLines = append(c.laterLines, monitorLine(client, cmd, args, c.srv.now())...)
}

// feedLater sends the lines monitorLater kept, in the order they ran.
func (c *conn) feedLater() {
	if len(c.laterLines) > 0 {
		c.feedMonitorLines(c.laterLines)
		c.laterLines = c.laterLines[:0]
	}
}

// feedMonitorLines sends lines to every monitor.
func (c *conn) feedMonitorLines(line []byte) {
	list := c.srv.monitors.list.Load()
	if list == nil || len(*list) == 0 {
		return
	}
	for _, m := range *list {
		if m == c {
			c.out.b = append(c.out.b, line...)
			continue
		}
		m.queueMonitorLine(line)
	}
}

// queueMonitorLine queues line for monitor c and wakes its driver if the
// queue was empty. A monitor the buffer budget cannot hold is closed.
func (c *conn) queueMonitorLine(line []byte) {
	mon := c.mon
	mon.mu.Lock()
	if mon.closed {
		mon.mu.Unlock()
		return
	}
	if !c.srv.buffers.reserve(int64(len(line))) {
		mon.closed = true
		mon.mu.Unlock()
		c.srv.log.Warn("resp: a monitor fell behind past the client buffers' bound; closing it", "remote", c.remote)
		c.srv.mu.Lock()
		c.srv.closeLocked(c)
		c.srv.mu.Unlock()
		return
	}
	wasEmpty := len(mon.pending) == 0
	mon.pending = append(mon.pending, line...)
	mon.held += int64(len(line))
	mon.mu.Unlock()
	if !wasEmpty {
		return
	}
	if c.loop != nil {
		c.loop.post(c, postMonitor)
	} else {
		select {
		case mon.wake <- struct{}{}:
		default:
		}
	}
}

// takeMonitorLines empties the queue, giving back what it held to the
// budget: the caller moves the lines into a buffer of its own.
func (c *conn) takeMonitorLines() []byte {
	mon := c.mon
	mon.mu.Lock()
	defer mon.mu.Unlock()
	lines := mon.pending
	c.srv.buffers.used.Add(-mon.held)
	mon.pending, mon.held = nil, 0
	return lines
}

// monitorWriter sends a goroutine-driven monitor's lines as they come,
// until the connection closes.
func (c *conn) monitorWriter() {
	for range c.mon.wake {
		lines := c.takeMonitorLines()
		if len(lines) == 0 {
			continue
		}
		c.mon.writeMu.Lock()
		if c.srv.writeTO > 0 {
			_ = c.nc.SetWriteDeadline(time.Now().Add(c.srv.writeTO))
		}
		_, err := c.nc.Write(lines)
		c.mon.writeMu.Unlock()
		if err != nil {
			_ = c.nc.Close() // the reading goroutine sees it and cleans up
			return
		}
	}
}

// monitorLine formats a command as Redis's replicationFeedMonitors does.
func monitorLine(client string, cmd *command, args [][]byte, now time.Time) []byte {
	b := make([]byte, 0, 64)
	b = append(b, '+')
	b = strconv.AppendInt(b, now.Unix(), 10)
	b = append(b, '.')
	usec := strconv.Itoa(now.Nanosecond() / 1000)
	for range 6 - len(usec) {
		b = append(b, '0')
	}
	b = append(b, usec...)
	b = append(b, " [0 "...)
	b = append(b, client...)
	b = append(b, "] "...)
	redacted := redactions(cmd, args)
	for i, a := range args {
		if i > 0 {
			b = append(b, ' ')
		}
		if redacted(i) {
			b = append(b, `"(redacted)"`...)
			continue
		}
		b = appendRepr(b, a)
	}
	return append(b, '\r', '\n')
}

// redactions says which arguments of a command a monitor must not see: the
// password (and user name) of AUTH, and of HELLO's AUTH option.
func redactions(cmd *command, args [][]byte) func(i int) bool {
	switch cmd.name {
	case "auth":
		return func(i int) bool { return i > 0 }
	case "hello":
		hidden := map[int]bool{}
		for j := 2; j+2 < len(args); j++ {
			if equalFold(args[j], "auth") {
				hidden[j+1], hidden[j+2] = true, true
				j += 2
			}
		}
		return func(i int) bool { return hidden[i] }
	}
	return func(int) bool { return false }
}

// appendRepr quotes s as Redis's sdscatrepr does: printable ASCII as it is,
// \\ \" \n \r \t \a \b escaped, any other byte as \xHH.
func appendRepr(b, s []byte) []byte {
	b = append(b, '"')
	for _, ch := range s {
		switch ch {
		case '\\', '"':
			b = append(b, '\\', ch)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case '\a':
			b = append(b, '\\', 'a')
		case '\b':
			b = append(b, '\\', 'b')
		default:
			if ch >= ' ' && ch <= '~' {
				b = append(b, ch)
			} else {
				b = append(b, '\\', 'x', lowerHexDigits[ch>>4], lowerHexDigits[ch&0xf])
			}
		}
	}
	return append(b, '"')
}

const lowerHexDigits = "0123456789abcdef"
