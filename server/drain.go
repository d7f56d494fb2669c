package server

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// silentGrace is how long, once shutdown starts, a connection that has sent
// nothing yet may still send its first bytes: a request already on its way
// (or sitting in the kernel's buffer) is read and served, a silent one is cut.
const silentGrace = 100 * time.Millisecond

// drainListener wraps the HTTP listener so that closing it, which fasthttp's
// Shutdown does first, also cuts the accepted connections that have not sent a
// byte. fasthttp counts such a connection as busy until READ_HEADER_TIMEOUT, so
// one silent client (a browser's speculative preconnect, a TCP health check)
// would otherwise hold the drain that long, or fail it when SHUTDOWN_TIMEOUT is
// shorter. No request has started on such a connection.
//
// It also rides out accept errors that pass, which fasthttp would take as the
// end of the listener (see Accept).
type drainListener struct {
	net.Listener
	logger   *slog.Logger
	closing  chan struct{} // closed by Close, to end an accept back-off at once
	mu       sync.Mutex
	silent   map[*drainConn]struct{}
	closedAt time.Time // zero while open
}

func newDrainListener(ln net.Listener, logger *slog.Logger) *drainListener {
	return &drainListener{Listener: ln, logger: logger, closing: make(chan struct{}), silent: make(map[*drainConn]struct{})}
}

// Accept back-off bounds, as net/http's Server uses for the same errors.
const (
	firstAcceptBackoff = 5 * time.Millisecond
	maxAcceptBackoff   = time.Second
)

// Accept waits for the next connection. When the process is out of file
// descriptors (EMFILE, ENFILE) or the kernel of buffers (ENOBUFS, ENOMEM),
// accept fails until some connection closes; fasthttp treats any such error
// as permanent and stops serving every client for good. Here the listener
// instead waits, 5 ms doubling up to 1 s, and tries again: the connections it
// cannot take yet wait in the kernel's backlog, the ones it holds keep being
// served. It logs once when that starts and once when it ends.
func (l *drainListener) Accept() (net.Conn, error) {
	var backoff time.Duration
	var failures int
	var c net.Conn
	for {
		var err error
		c, err = l.Listener.Accept()
		if err == nil {
			break
		}
		if !acceptErrorPasses(err) {
			return nil, err
		}
		if failures == 0 {
			l.logger.Warn("cannot accept connections for now; serving the open ones and retrying (raise the open-file limit: ulimit -n, or docker run --ulimit nofile=...)",
				"err", err)
			backoff = firstAcceptBackoff
		} else {
			backoff = min(2*backoff, maxAcceptBackoff)
		}
		failures++
		select {
		case <-time.After(backoff):
		case <-l.closing:
			return nil, net.ErrClosed
		}
	}
	if failures > 0 {
		l.logger.Info("accepting connections again", "failed_accepts", failures)
	}
	dc := &drainConn{Conn: c, l: l}
	l.mu.Lock()
	if l.closedAt.IsZero() {
		l.silent[dc] = struct{}{}
	} else {
		dc.cutoff.Store(l.closedAt.Add(silentGrace).UnixNano())
	}
	l.mu.Unlock()
	return dc, nil
}

// Close closes the listener and gives every silent connection silentGrace to
// speak: its pending read ends then unless bytes arrive.
func (l *drainListener) Close() error {
	err := l.Listener.Close()
	l.mu.Lock()
	if l.closedAt.IsZero() {
		close(l.closing)
		l.closedAt = time.Now()
		cutoff := l.closedAt.Add(silentGrace)
		for c := range l.silent {
			c.cutoff.Store(cutoff.UnixNano())
			_ = c.Conn.SetReadDeadline(cutoff)
		}
		clear(l.silent)
	}
	l.mu.Unlock()
	return err
}

// acceptErrorPasses reports whether an accept error ends when resources free
// up, rather than meaning the listener is gone.
func acceptErrorPasses(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM)
}

func (l *drainListener) forget(c *drainConn) {
	l.mu.Lock()
	delete(l.silent, c)
	l.mu.Unlock()
}

// drainConn notices its first bytes, and keeps a read deadline set by the
// server from outliving the shutdown cut-off while it has said nothing.
type drainConn struct {
	net.Conn
	l      *drainListener
	spoke  atomic.Bool
	cutoff atomic.Int64 // Unix ns; 0 while no shutdown has begun
}

func (c *drainConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && !c.spoke.Swap(true) {
		c.l.forget(c)
	}
	return n, err
}

func (c *drainConn) SetReadDeadline(t time.Time) error {
	return c.Conn.SetReadDeadline(c.clamp(t))
}

func (c *drainConn) SetDeadline(t time.Time) error {
	if err := c.SetWriteDeadline(t); err != nil { // not clamped: answers may finish
		return err
	}
	return c.Conn.SetReadDeadline(c.clamp(t))
}

func (c *drainConn) clamp(t time.Time) time.Time {
	if cut := c.cutoff.Load(); cut != 0 && !c.spoke.Load() {
		if limit := time.Unix(0, cut); t.IsZero() || t.After(limit) {
			return limit
		}
	}
	return t
}

func (c *drainConn) Close() error {
	if !c.spoke.Load() {
		c.l.forget(c)
	}
	return c.Conn.Close()
}
