//go:build linux && !noepoll

package resp

import (
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// The epoll driver serves TCP connections on Linux from a few event loops, the
// way Redis does, instead of a goroutine per connection.
//
// Why: with one request in flight per connection (redis-benchmark -P 1), each
// request through net.Conn costs a read that finds nothing (EAGAIN) before
// the goroutine parks, a wake-up through the Go netpoller, and often a second
// OS thread woken to run it. On two cores shared with the client that made
// warmkv about 20% slower than Redis. An event loop waits for many sockets in
// one epoll_wait and reads each once per readiness event, so a request costs
// one read and one write, as in Redis. Pipelined load was already faster than
// Redis either way.
//
// Each accepted connection leaves Go's netpoller: the accept goroutine
// duplicates its socket, closes the net.Conn (which unregisters it from the
// runtime's epoll) and hands the duplicate, non-blocking, to a loop. Only that
// loop's goroutine touches the connection from then on. Timeouts are checked
// by the loop on a coarse tick.
//
// Build with -tags noepoll to leave this driver out (serve_epoll_other.go
// then serves every connection with a goroutine); bench/resp.sh compares the
// two builds with Redis.

// eventLoop is one epoll instance and the connections registered with it.
type eventLoop struct {
	srv    *Server
	epfd   int
	wakefd int // an eventfd: new connections, shutdown

	mu       sync.Mutex
	incoming []*conn
	posted   []postedWork
	stopped  bool

	force atomic.Bool // close every connection now
	stop  atomic.Bool // close everything and return
	done  chan struct{}

	conns  []*conn // indexed by file descriptor; loop goroutine only
	events []syscall.EpollEvent
	now    int64 // Unix ns, read once per wake-up

	busyPoll int64 // ns to keep polling before sleeping (Options.BusyPoll)
	spinning bool  // poll before the next sleep: see keepSpinning
	polls    atomic.Int64
}

const (
	epollEventsPerWait = 256
	// timeoutTick is how often a loop checks deadlines, and so how late a
	// timeout may fire.
	timeoutTick = 250 * time.Millisecond
)

// epollSupported reports whether this platform has the epoll driver.
const epollSupported = true

func newEventLoop(s *Server) (*eventLoop, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	wakefd, _, errno := syscall.Syscall(syscall.SYS_EVENTFD2, 0, syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if errno != 0 {
		syscall.Close(epfd)
		return nil, errno
	}
	l := &eventLoop{
		srv:    s,
		epfd:   epfd,
		wakefd: int(wakefd),
		done:   make(chan struct{}),
		events: make([]syscall.EpollEvent, epollEventsPerWait),

		busyPoll: int64(s.busyPoll),
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(l.wakefd)}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, l.wakefd, &ev); err != nil {
		syscall.Close(epfd)
		syscall.Close(l.wakefd)
		return nil, err
	}
	go l.run()
	return l, nil
}

// wake interrupts the loop's epoll_wait. Once the loop has stopped, its
// eventfd is closed and the number may belong to another file: the lock and
// the stopped flag make sure nothing is written to it then.
func (l *eventLoop) wake() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return
	}
	var one [8]byte // an eventfd counts in a native-endian uint64
	binary.NativeEndian.PutUint64(one[:], 1)
	_, _ = syscall.Write(l.wakefd, one[:])
}

// attach moves nc into the loop. It reports false, leaving nc untouched, when
// nc is not a socket the loop can take; the caller then serves it with a
// goroutine, as it does when the loop has failed. The caller holds the
// server's lock and has checked that the server is not shutting down, so
// Shutdown has not stopped the loop.
func (l *eventLoop) attach(c *conn, nc net.Conn) bool {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return false
	}
	switch nc.(type) {
	case *net.TCPConn, *net.UnixConn:
	default:
		return false // e.g. TLS: the bytes on the socket are not the protocol
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	fd := -1
	var dupErr error
	if err := rc.Control(func(raw uintptr) { fd, dupErr = dupCloseOnExec(int(raw)) }); err != nil || dupErr != nil {
		return false
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return false
	}
	c.fd = fd
	c.loop = l
	c.info.fd = fd
	l.mu.Lock()
	if l.stopped {
		// The loop failed; goroutines take over.
		l.mu.Unlock()
		syscall.Close(fd)
		c.fd, c.loop, c.info.fd = -1, nil, -1
		return false
	}
	l.incoming = append(l.incoming, c)
	l.mu.Unlock()
	// The duplicate keeps the socket open; closing nc takes the original
	// descriptor out of the Go runtime's poller.
	nc.Close()
	l.wake()
	return true
}

// rawRead and rawWrite skip the Go scheduler's bookkeeping around a system
// call (entersyscall, exitsyscall), which syscall.Read and syscall.Write do for
// calls that may block. On a non-blocking socket these never block, and with
// one request per connection at a time that bookkeeping was a few percent of
// the server's CPU. They return the errno itself (0 for none), never
// wrapped, so callers compare it directly.
func rawRead(fd int, b []byte) (int, syscall.Errno) {
	if len(b) == 0 {
		return 0, 0
	}
	n, _, errno := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b))) //nolint:gosec // G103: audited: b outlives the call
	if errno != 0 {
		return 0, errno
	}
	return int(n), 0
}

func rawWrite(fd int, b []byte) (int, syscall.Errno) {
	if len(b) == 0 {
		return 0, 0
	}
	n, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b))) //nolint:gosec // G103: audited: b outlives the call
	if errno != 0 {
		return 0, errno
	}
	return int(n), 0
}

func dupCloseOnExec(fd int) (int, error) {
	nfd, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_DUPFD_CLOEXEC, 0)
	if errno != 0 {
		return -1, errno
	}
	return int(nfd), nil
}

func (l *eventLoop) run() {
	defer close(l.done)
	timed := l.srv.readTO > 0 || l.srv.writeTO > 0 || l.srv.idleTO > 0 || l.srv.authTO > 0
	waitMs := -1
	if timed {
		waitMs = int(timeoutTick / time.Millisecond)
	}
	nextTick := int64(0)
	for {
		n, caught := 0, false
		if l.spinning {
			n = l.poll()
			caught = n > 0
		}
		if n == 0 {
			var err error
			n, err = syscall.EpollWait(l.epfd, l.events, waitMs)
			if err != nil && !errors.Is(err, syscall.EINTR) {
				l.srv.log.Error("resp: epoll_wait failed; closing this event loop's connections", "err", err)
				l.shutdownLoop()
				return
			}
		}
		l.spinning = keepSpinning(l.busyPoll, n, caught)
		l.now = time.Now().UnixNano()
		for i := 0; i < n; i++ {
			ev := l.events[i]
			fd := int(ev.Fd)
			if fd == l.wakefd {
				var buf [8]byte
				_, _ = syscall.Read(l.wakefd, buf[:])
				incoming, posted := l.handedOver()
				l.takeIncoming(incoming)
				l.runPosted(posted)
				continue
			}
			if fd >= len(l.conns) || l.conns[fd] == nil {
				continue
			}
			c := l.conns[fd]
			if ev.Events&syscall.EPOLLOUT != 0 {
				l.writable(c)
			} else if ev.Events&(syscall.EPOLLIN|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
				l.readable(c)
			}
		}
		switch {
		case l.stop.Load():
			l.shutdownLoop()
			return
		case l.force.Load():
			l.each(l.close)
		case l.srv.inShutdown.Load():
			l.drain()
		}
		if timed && l.now >= nextTick {
			l.closeExpired()
			nextTick = l.now + int64(timeoutTick)
		}
	}
}

// Busy polling. Each time a loop sleeps in epoll_wait, the next request that
// arrives for it must wake it: in the kernel, whoever delivers the request
// (on one machine, the client's own write) runs the wake-up, an
// inter-processor interrupt and a context switch. With one request in flight
// per connection (redis-benchmark -P 1) the server was switched out 74,000 to
// 178,000 times per 400,000 requests, and the client, which paid for each
// wake-up with its own CPU, served fewer requests. So after a wake-up that
// found work, a loop polls without sleeping (epoll_pwait with no timeout) for
// up to Options.BusyPoll before it sleeps: with 50 µs that fell to 12,000 to
// 21,000 (perf stat, three runs each).
//
// Polling burns CPU while nothing comes, so it is kept to load that has
// earned it (keepSpinning): a loop polls after a wake-up that brought more
// than one event, or after a poll that caught one. A lone request every so
// often (one event per wake-up, polls that catch nothing) stops it after one
// fruitless poll of at most BusyPoll.

// keepSpinning reports whether a loop should poll before its next sleep,
// given BusyPoll, the events of the wake-up it just had and whether a poll
// caught them.
func keepSpinning(busyPoll int64, events int, caught bool) bool {
	return busyPoll > 0 && (caught || events > 1)
}

// poll waits for events without sleeping, for up to busyPoll, and returns
// how many it found (0: none came, or the poll failed; the blocking wait that
// follows reports failures). The system call cannot block, so it runs
// without handing the P back to the scheduler, as rawRead does.
func (l *eventLoop) poll() int {
	l.polls.Add(1) // for tests: whether an idle loop sleeps
	until := time.Now().UnixNano() + l.busyPoll
	for {
		n, _, errno := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(l.epfd),
			uintptr(unsafe.Pointer(&l.events[0])), uintptr(len(l.events)), 0, 0, 0) //nolint:gosec // G103: audited: l.events outlives the call
		if errno != 0 {
			return 0
		}
		if n > 0 {
			return int(n)
		}
		if time.Now().UnixNano() >= until {
			return 0
		}
	}
}

// postedWork is work another goroutine hands a loop for one of its
// connections, which only the loop may touch.
type postedWork struct {
	c    *conn
	what postKind
}

type postKind uint8

const (
	postClose   postKind = iota // CLIENT KILL, or a monitor that fell behind
	postMonitor                 // a monitor has lines to send
)

// post hands the loop work for c and wakes it.
func (l *eventLoop) post(c *conn, what postKind) {
	l.mu.Lock()
	stopped := l.stopped
	if !stopped {
		l.posted = append(l.posted, postedWork{c, what})
	}
	l.mu.Unlock()
	if !stopped {
		l.wake()
	}
}

// handedOver takes what other goroutines handed the loop: new connections
// and posted work.
func (l *eventLoop) handedOver() ([]*conn, []postedWork) {
	l.mu.Lock()
	defer l.mu.Unlock()
	incoming, posted := l.incoming, l.posted
	l.incoming, l.posted = nil, nil
	return incoming, posted
}

// runPosted does the work posted for connections still open on this loop.
func (l *eventLoop) runPosted(posted []postedWork) {
	for _, p := range posted {
		c := p.c
		if c.fd < 0 || c.fd >= len(l.conns) || l.conns[c.fd] != c {
			continue // closed meanwhile
		}
		switch p.what {
		case postClose:
			l.close(c)
		case postMonitor:
			l.sendMonitorLines(c)
		}
	}
}

// sendMonitorLines moves a monitor's queued lines into its replies and
// writes them, or leaves them to the write already waiting for the client.
func (l *eventLoop) sendMonitorLines(c *conn) {
	lines := c.takeMonitorLines()
	if len(lines) == 0 {
		return
	}
	waiting := c.outPos < len(c.out.b)
	c.out.b = append(c.out.b, lines...)
	c.settleOutput()
	if waiting {
		return
	}
	if !l.write(c) {
		l.watch(c, syscall.EPOLLOUT)
		c.setExpiry(l.now)
		return
	}
	if c.closing {
		l.close(c)
	}
}

// takeIncoming registers the connections attach handed over.
func (l *eventLoop) takeIncoming(incoming []*conn) {
	for _, c := range incoming {
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(c.fd)}
		if err := syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_ADD, c.fd, &ev); err != nil {
			l.srv.log.Warn("resp: cannot watch a new connection; closing it", "remote", c.remote, "err", err)
			fd := c.fd
			c.srv.release(c, func() { syscall.Close(fd) })
			continue
		}
		for c.fd >= len(l.conns) {
			l.conns = append(l.conns, make([]*conn, max(64, len(l.conns)))...)
		}
		l.conns[c.fd] = c
		c.setExpiry(l.now)
	}
}

// readable reads once, runs what arrived and writes the replies.
func (l *eventLoop) readable(c *conn) {
	if !c.makeRoom() {
		c.refuseBuffers()
		l.process(c)
		return
	}
	n, errno := rawRead(c.fd, c.in[c.w:])
	switch {
	case errno == syscall.EAGAIN || errno == syscall.EINTR:
		return
	case errno != 0 || n <= 0:
		l.close(c) // EOF or reset: the client left
		return
	}
	c.w += n
	l.process(c)
}

// process runs the buffered commands and writes their replies; when the
// client does not take them all, the loop waits for it to be writable and
// reads nothing more from it meanwhile.
func (l *eventLoop) process(c *conn) {
	c.runBuffered(func() bool { return l.write(c) })
	c.touched(l.now)
	if c.handOff {
		l.handOff(c)
		return
	}
	if !l.write(c) {
		l.watch(c, syscall.EPOLLOUT)
		c.setExpiry(l.now)
		return
	}
	if c.closing || l.srv.inShutdown.Load() {
		l.close(c)
		return
	}
	c.setExpiry(l.now)
}

// writable resumes a connection whose replies were waiting for the client.
func (l *eventLoop) writable(c *conn) {
	if !l.write(c) {
		return
	}
	l.watch(c, syscall.EPOLLIN)
	// Commands left in the buffer while the replies were blocked run now.
	l.process(c)
}

// write sends the pending replies and reports whether all went out. A write
// error closes the connection (and counts as done).
func (l *eventLoop) write(c *conn) bool {
	for c.outPos < len(c.out.b) {
		n, errno := rawWrite(c.fd, c.out.b[c.outPos:])
		if n > 0 {
			c.outPos += n
		}
		switch errno {
		case 0, syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			c.srv.log.Debug("resp: write failed; closing", "remote", c.remote, "err", errno)
			c.closing = true
			c.outPos = len(c.out.b)
		}
	}
	c.outPos = 0
	c.resetOutput()
	return true
}

func (l *eventLoop) watch(c *conn, events uint32) {
	ev := syscall.EpollEvent{Events: events, Fd: int32(c.fd)}
	_ = syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_MOD, c.fd, &ev)
}

// setExpiry sets when the connection times out, for its state: replies the
// client is not reading (WriteTimeout), half a command (ReadTimeout, from the
// last completed command), or nothing to do (IdleTimeout).
func (c *conn) setExpiry(now int64) {
	s := c.srv
	switch {
	case c.outPos < len(c.out.b) && s.writeTO > 0:
		if c.deadline != writeDeadline {
			c.expires = now + int64(s.writeTO)
			c.deadline = writeDeadline
		}
	case c.w > c.r && s.readTO > 0:
		if c.deadline != commandDeadline || c.progressed {
			c.expires = now + int64(s.readTO)
			c.deadline = commandDeadline
		}
	case c.w == c.r && s.idleTO > 0:
		c.expires = now + int64(s.idleTO)
		c.deadline = idleDeadline
	default:
		c.expires = 0
		c.deadline = noDeadline
	}
	c.progressed = false
}

// each calls fn for every connection; fn may close it.
func (l *eventLoop) each(fn func(*conn)) {
	for _, c := range l.conns {
		if c != nil {
			fn(c)
		}
	}
}

func (l *eventLoop) closeExpired() {
	l.each(func(c *conn) {
		if !c.authed && c.authDeadline != 0 && l.now >= c.authDeadline {
			c.srv.log.Debug("resp: connection did not authenticate in time; closing", "remote", c.remote)
			l.close(c)
			return
		}
		if c.expires != 0 && l.now >= c.expires {
			c.srv.log.Debug("resp: connection timed out; closing", "remote", c.remote,
				"mid_command", c.w > c.r, "replies_pending", c.outPos < len(c.out.b))
			l.close(c)
		}
	})
}

// drain closes every connection that has nothing left to write: all it sent
// in full has run already. The others close once their replies are out.
func (l *eventLoop) drain() {
	l.each(func(c *conn) {
		if c.outPos >= len(c.out.b) {
			l.close(c)
		}
	})
}

func (l *eventLoop) close(c *conn) {
	fd := c.fd
	l.conns[fd] = nil
	c.fd = -1
	c.srv.release(c, func() { syscall.Close(fd) }) // closing also leaves the epoll set
}

// shutdownLoop closes every connection, pending or not, and the loop itself.
func (l *eventLoop) shutdownLoop() {
	l.mu.Lock()
	l.stopped = true
	incoming := l.incoming
	l.incoming = nil
	l.mu.Unlock()
	for _, c := range incoming {
		fd := c.fd
		c.srv.release(c, func() { syscall.Close(fd) })
	}
	l.each(l.close)
	syscall.Close(l.epfd)
	syscall.Close(l.wakefd)
}

// closeAll asks the loop to close its connections now.
func (l *eventLoop) closeAll() {
	l.force.Store(true)
	l.wake()
}

// terminate stops the loop and, if asked, waits for it.
func (l *eventLoop) terminate(wait bool) {
	l.stop.Store(true)
	l.wake()
	if wait {
		<-l.done
	}
}
