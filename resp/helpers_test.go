package resp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/warmkv/warmkv/cache"
)

// driver is a way of serving connections; the tests that touch sockets run
// against each one the platform has.
type driver struct {
	name       string
	eventLoops int
	busyPoll   time.Duration
}

func drivers() []driver {
	d := []driver{{name: "goroutine", eventLoops: -1}}
	if epollSupported {
		// Two loops that poll before they sleep, as the app's default does.
		d = append(d, driver{name: "epoll", eventLoops: 1}, driver{name: "epoll2", eventLoops: 2, busyPoll: 50 * time.Microsecond})
	}
	return d
}

// forEachDriver runs fn as a subtest per driver.
func forEachDriver(t *testing.T, fn func(t *testing.T, d driver)) {
	for _, d := range drivers() {
		t.Run(d.name, func(t *testing.T) { fn(t, d) })
	}
}

// clock is a settable time shared by the store and the server, so that TTL
// tests need no sleeping.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Unix(1_700_000_000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// testServer is a running server on a loopback port.
type testServer struct {
	srv  *Server
	kv   *cache.Cache
	addr string

	stopped  chan struct{} // closed when Serve has returned
	serveErr error         // what Serve returned
}

// serverOpt adjusts the options of a test server.
type serverOpt func(*Options)

func withAuth(token string) serverOpt { return func(o *Options) { o.AuthToken = token } }

// withClock makes the store and the server read c.
func withClock(c *clock) serverOpt { return func(o *Options) { o.Now = c.Now } }

// startServer runs a server over a fresh cache on 127.0.0.1:0 with driver d.
// It is shut down when the test ends.
func startServer(t testing.TB, d driver, opts ...serverOpt) *testServer {
	t.Helper()
	return startServerWith(t, d, nil, opts...)
}

// startServerWith is startServer with a chance to adjust the server before it
// serves.
func startServerWith(t testing.TB, d driver, adjust func(*Server), opts ...serverOpt) *testServer {
	t.Helper()
	o := Options{
		MaxKeyLength:  16,
		MaxValueBytes: 128,
		EventLoops:    d.eventLoops,
		BusyPoll:      d.busyPoll,
		Version:       "test",
	}
	for _, opt := range opts {
		opt(&o)
	}
	var storeClock func() int64
	ts := &testServer{}
	if o.Now != nil {
		now := o.Now
		storeClock = func() int64 { return now().UnixNano() }
	}
	kv, err := cache.New(cache.Options{MaxBytes: 64 << 20, Clock: storeClock, ReapInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	// The options apply again over the store, so that one can remove Keys.
	o.Store, o.Keys = kv, kv
	for _, opt := range opts {
		opt(&o)
	}
	srv, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if adjust != nil {
		adjust(srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.srv, ts.kv, ts.addr, ts.stopped = srv, kv, ln.Addr().String(), make(chan struct{})
	go func() {
		ts.serveErr = srv.Serve(ln)
		close(ts.stopped)
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		ts.waitServeReturned(t)
		kv.Close()
	})
	return ts
}

// waitServeReturned checks that Serve has returned ErrServerClosed.
func (ts *testServer) waitServeReturned(t testing.TB) {
	t.Helper()
	select {
	case <-ts.stopped:
		if !errors.Is(ts.serveErr, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", ts.serveErr)
		}
	case <-time.After(5 * time.Second):
		t.Error("Serve has not returned 5s after Shutdown")
	}
}

// client is a go-redis client of ts speaking protocol 2 or 3.
func (ts *testServer) client(t testing.TB, protocol int, password string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{
		Addr:         ts.addr,
		Protocol:     protocol,
		Password:     password,
		DialTimeout:  5 * time.Second,
		ReadTimeout:  5 * time.Second,
		WriteTimeout: 5 * time.Second,
		MaxRetries:   -1, // a retry would hide a failure
	})
	t.Cleanup(func() { c.Close() })
	return c
}

// forEachProtocol runs fn with a go-redis client in RESP2 and in RESP3.
func forEachProtocol(t *testing.T, ts *testServer, fn func(t *testing.T, c *redis.Client)) {
	for _, p := range []int{2, 3} {
		t.Run(fmt.Sprintf("RESP%d", p), func(t *testing.T) { fn(t, ts.client(t, p, "")) })
	}
}

// raw is a plain TCP client that sends bytes and reads whole replies back as
// they were sent, for the exact replies go-redis would interpret.
type raw struct {
	t    testing.TB
	conn net.Conn
	rd   *bufio.Reader
}

func (ts *testServer) raw(t testing.TB) *raw {
	t.Helper()
	conn, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &raw{t: t, conn: conn, rd: bufio.NewReader(conn)}
}

// encode writes args as a RESP array of bulk strings.
func encode(args ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.String()
}

func (r *raw) send(s string) {
	r.t.Helper()
	_ = r.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(r.conn, s); err != nil {
		r.t.Fatalf("send: %v", err)
	}
}

// do sends one command and returns its reply as sent.
func (r *raw) do(args ...string) string {
	r.t.Helper()
	r.send(encode(args...))
	return r.reply()
}

// reply reads one whole reply and returns its bytes.
func (r *raw) reply() string {
	r.t.Helper()
	_ = r.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	s, err := readReply(r.rd)
	if err != nil {
		r.t.Fatalf("reading a reply: %v (got %q)", err, s)
	}
	return s
}

// expectClosed checks that the server closes the connection, after the
// replies already on their way.
func (r *raw) expectClosed() {
	r.t.Helper()
	_ = r.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := r.rd.ReadByte()
	if err == nil {
		rest, _ := r.rd.Peek(r.rd.Buffered())
		r.t.Fatalf("connection still open: read %q", string(b)+string(rest))
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		r.t.Fatal("connection still open after 5s")
	}
}

// readReply reads one RESP2 or RESP3 reply, nested ones included, and returns
// its raw bytes. It is strict: anything malformed is an error, which is how
// the tests check that every reply the server writes is well formed.
func readReply(rd *bufio.Reader) (string, error) {
	var b strings.Builder
	err := readInto(rd, &b, 0)
	return b.String(), err
}

func readInto(rd *bufio.Reader, b *strings.Builder, depth int) error {
	if depth > 32 {
		return errors.New("replies nested too deep")
	}
	line, err := rd.ReadString('\n')
	b.WriteString(line)
	if err != nil {
		return err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return fmt.Errorf("line %q does not end in CRLF", line)
	}
	kind, body := line[0], line[1:len(line)-2]
	count := func() (int, error) {
		n, err := strconv.Atoi(body)
		if err != nil || n < -1 {
			return 0, fmt.Errorf("bad length in %q", line)
		}
		return n, nil
	}
	switch kind {
	case '+', '-':
		if strings.ContainsAny(body, "\r\n") {
			return fmt.Errorf("line break inside %q", line)
		}
		return nil
	case ':':
		_, err := strconv.ParseInt(body, 10, 64)
		return err
	case ',', '#', '(': // RESP3 double, boolean, big number
		return nil
	case '_':
		if body != "" {
			return fmt.Errorf("bad null %q", line)
		}
		return nil
	case '$', '=':
		n, err := count()
		if err != nil || n < 0 {
			return err
		}
		data := make([]byte, n+2)
		if _, err := io.ReadFull(rd, data); err != nil {
			return err
		}
		b.Write(data)
		if string(data[n:]) != "\r\n" {
			return fmt.Errorf("bulk of %d bytes not followed by CRLF", n)
		}
		if kind == '=' && (n < 4 || data[3] != ':') {
			return fmt.Errorf("verbatim string without a format: %q", data)
		}
		return nil
	case '*', '~', '%':
		n, err := count()
		if err != nil {
			return err
		}
		if kind == '%' {
			n *= 2
		}
		for range n {
			if err := readInto(rd, b, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("unknown reply type in %q", line)
}

// ctx is the context of go-redis calls in tests.
var ctx = context.Background()
