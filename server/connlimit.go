package server

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// connLimitListener bounds the HTTP connections the server holds (MAX_CONNS).
// Every connection costs memory outside the cache's budget, idle or not, so
// without a bound a client that opens enough of them takes the process past
// its memory limit. Past the bound a new connection is answered 503 with
// Retry-After, in the JSON envelope, and closed, rather than left waiting in
// the backlog (clients would see a timeout) or reset (they would see a network
// error). fasthttp's own Concurrency limit is set out of the way because its
// 503 carries no Retry-After.
type connLimitListener struct {
	net.Listener
	max      int64
	logger   *slog.Logger
	open     atomic.Int64
	refusing chan struct{} // bounds the refusals in progress
	refused  atomic.Int64
	lastLog  atomic.Int64 // Unix ns of the last "limit reached" log line
}

// refusalsAtOnce bounds the goroutines answering refused connections; past it
// a refused connection is just closed, because a flood of them must not cost
// more than the connections it is kept from.
const refusalsAtOnce = 256

// refusalDeadline bounds how long a refused connection may take to send its
// request head and receive the answer.
const refusalDeadline = time.Second

// limitLogEvery spaces the log lines about refused connections.
const limitLogEvery = 10 * time.Second

var tooManyConnections = func() []byte {
	body := `{"status":"ERROR","message":"Server overloaded: too many connections. Retry later."}`
	return []byte("HTTP/1.1 503 Service Unavailable\r\n" +
		"Content-Type: application/json\r\n" +
		"Retry-After: 1\r\n" +
		"Connection: close\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}()

// newConnLimitListener bounds ln to limit open connections; limit < 1 means no bound.
func newConnLimitListener(ln net.Listener, limit int, logger *slog.Logger) net.Listener {
	if limit < 1 {
		return ln
	}
	return &connLimitListener{Listener: ln, max: int64(limit), logger: logger, refusing: make(chan struct{}, refusalsAtOnce)}
}

func (l *connLimitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) <= l.max {
			return &limitedConn{Conn: c, l: l}, nil
		}
		l.open.Add(-1)
		l.refuse(c)
	}
}

// refuse answers c with the 503 once its request head has arrived (an answer
// sent before the request would look unsolicited to clients such as Go's),
// then closes it.
func (l *connLimitListener) refuse(c net.Conn) {
	n := l.refused.Add(1)
	if now := time.Now().UnixNano(); now-l.lastLog.Load() >= int64(limitLogEvery) {
		l.lastLog.Store(now)
		l.logger.Warn("connection limit reached: new connections get 503 (raise MAX_CONNS if memory allows)",
			"max_conns", l.max, "refused_so_far", n)
	}
	select {
	case l.refusing <- struct{}{}:
	default:
		c.Close()
		return
	}
	go func() {
		defer func() { <-l.refusing }()
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(refusalDeadline))
		if !readHead(bufio.NewReaderSize(c, 4<<10)) {
			return
		}
		if _, err := c.Write(tooManyConnections); err != nil {
			return
		}
		// Half-close and drain what the client still sends, so that closing does
		// not reset the connection and destroy the answer before it is read.
		if hc, ok := c.(interface{ CloseWrite() error }); ok {
			_ = hc.CloseWrite()
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(c, 64<<10))
	}()
}

// readHead reads up to the blank line that ends a request's headers, within
// the reader's buffer; it reports whether it got there.
func readHead(r *bufio.Reader) bool {
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return false
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			return true
		}
	}
}

// limitedConn gives its place back once, on the first Close.
type limitedConn struct {
	net.Conn
	l      *connLimitListener
	closed sync.Once
}

func (c *limitedConn) Close() error {
	c.closed.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}
