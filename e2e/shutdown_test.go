package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestSIGTERMUnderLoadDrains sends SIGTERM while clients on keep-alive and on
// fresh connections keep the server busy, and while some requests are
// deliberately half sent. Every request that got any byte of an answer must
// have got a whole, right one; the half-sent requests must be answered in
// full; requests that the server never started are refused (at connect, or by
// a close before any answer byte) rather than left hanging; and the process
// must exit 0 within its grace period.
//
// Nothing here depends on timing: the half-sent requests are known to be in
// the server's hands before the signal and are completed only after the log
// says the shutdown began; the load's answers count as "after" from the
// moment the signal is sent.
func TestSIGTERMUnderLoadDrains(t *testing.T) {
	const grace = 5 * time.Second
	// Generous request timeouts: the half-sent requests wait for the shutdown
	// to begin, and a loaded 2-core CI box must not time them out first.
	s := start(t, "SHUTDOWN_TIMEOUT=5s", "READ_HEADER_TIMEOUT=30s", "READ_TIMEOUT=30s")
	addr := fmt.Sprintf("127.0.0.1:%d", s.port)

	// The landing page is a ~20 KB answer: a truncated copy cannot pass for it.
	home := &rawClient{addr: addr}
	r := home.do("GET /home HTTP/1.1\r\nHost: x\r\n\r\n")
	if r.err != nil || r.status != 200 || len(r.body) < 10_000 {
		t.Fatalf("GET /home before the signal: %d, %d bytes, %v", r.status, len(r.body), r.err)
	}
	homePage := string(r.body)
	home.close()

	var signalled atomic.Bool
	ld := &load{addr: addr, homePage: homePage, signalled: &signalled}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() { ld.run(i, i%2 == 0, stop) })
	}
	stopLoad := sync.OnceFunc(func() { close(stop); wg.Wait() })
	t.Cleanup(stopLoad)
	deadline := time.Now().Add(15 * time.Second)
	for ld.answered.Load() < 300 {
		if time.Now().After(deadline) {
			t.Fatalf("the load got only %d answers in 15s; failures: %v", ld.answered.Load(), ld.failures())
		}
		time.Sleep(10 * time.Millisecond)
	}

	// Requests in flight by construction: each asks "Expect: 100-continue",
	// so the server's "100 Continue" proves it has read the headers and is
	// waiting for the body; the body follows only once the shutdown has begun.
	// (A request merely written before the signal proves nothing: the server
	// may not have accepted its connection, or read from it, yet.)
	inflight := []struct {
		name      string
		keepAlive bool // answer one request on the connection first
		early     int  // bytes of the body sent before the signal
	}{
		{"on a fresh connection", false, 0},
		{"on a fresh connection, half the body sent", false, 20},
		{"on a keep-alive connection", true, 0},
	}
	partial := make([]*rawClient, len(inflight))
	bodies := make([]string, len(inflight))
	for i, in := range inflight {
		c := &rawClient{addr: addr}
		defer c.close()
		partial[i] = c
		if in.keepAlive {
			if r := c.do("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); r.err != nil || r.status != 200 {
				t.Fatalf("%s: first request: %d %v", in.name, r.status, r.err)
			}
		}
		bodies[i] = fmt.Sprintf(`{"key":"inflight-%d","value":"answered during the drain"}`, i)
		err := c.send("POST /put HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n" +
			"Content-Length: " + fmt.Sprint(len(bodies[i])) + "\r\n\r\n")
		if err != nil {
			t.Fatalf("%s: %v", in.name, err)
		}
		if r := c.finish(""); r.err != nil || r.status != 100 {
			t.Fatalf("%s: want 100 Continue, got %d %v", in.name, r.status, r.err)
		}
		if err := c.send(bodies[i][:in.early]); err != nil {
			t.Fatalf("%s: %v", in.name, err)
		}
	}

	before := ld.answered.Load()
	signalled.Store(true)
	sentAt := time.Now()
	s.signal(t, syscall.SIGTERM)
	s.waitForLog(t, "shutting down", 10*time.Second)
	// The drain loop closes idle connections every 100ms: let it run a few
	// times while these requests wait, so that they would be cut if it took
	// them for idle.
	time.Sleep(300 * time.Millisecond)
	for i, in := range inflight {
		r := partial[i].finish(bodies[i][in.early:])
		switch {
		case r.err != nil:
			t.Errorf("in-flight request %s failed during the drain: %v (%d bytes of answer)", in.name, r.err, r.got)
		case r.status != 200 || string(r.body) != okPutBody:
			t.Errorf("in-flight request %s: %d %.200q, want 200 %s", in.name, r.status, r.body, okPutBody)
		case !r.close:
			t.Errorf("in-flight request %s: an answer during the drain must say Connection: close", in.name)
		}
	}

	if err := s.waitExit(t, grace+5*time.Second); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
	t.Logf("exited %v after SIGTERM", time.Since(sentAt).Round(time.Millisecond))
	stopLoad()

	for _, f := range ld.failures() {
		t.Error(f)
	}
	log := s.log.String()
	for _, want := range []string{`msg="shutting down"`, `msg=stopped`} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %s:\n%s", want, log)
		}
	}
	if strings.Contains(log, "did not finish") {
		t.Errorf("the log says the drain did not finish:\n%s", log)
	}
	t.Logf("load: %d answers before SIGTERM, %d after; after it %d requests refused at connect, %d closed before any answer byte",
		before, ld.answered.Load()-before, ld.refused.Load(), ld.unanswered.Load())
}

const okPutBody = `{"status":"OK","message":"Key inserted/updated successfully."}`

// load is the clients that keep the server busy through the signal. Each
// client owns its keys, so it knows what every GET must return.
type load struct {
	addr       string
	homePage   string
	signalled  *atomic.Bool
	answered   atomic.Int64 // whole, right answers
	refused    atomic.Int64 // after the signal: connection refused
	unanswered atomic.Int64 // after the signal: closed before any answer byte

	mu       sync.Mutex
	problems []string
}

func (l *load) fail(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.problems) < 20 {
		l.problems = append(l.problems, fmt.Sprintf(format, args...))
	}
}

func (l *load) failures() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.problems...)
}

// run sends requests until stop, or until the server refuses a connection
// after the signal. keepAlive clients reuse their connection until the server
// closes it; the others open one per request.
func (l *load) run(id int, keepAlive bool, stop <-chan struct{}) {
	c := &rawClient{addr: l.addr}
	defer c.close()
	values := map[string]string{}
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		default:
		}
		key := fmt.Sprintf("c%d-%d", id, n%50)
		var req, want string
		switch n % 5 {
		case 0, 1:
			value := fmt.Sprintf("value-%d-%d-%s", id, n, strings.Repeat("x", n%200))
			body := `{"key":"` + key + `","value":"` + value + `"}`
			req = "POST /put HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " + fmt.Sprint(len(body)) + "\r\n"
			req += connectionHeader(keepAlive) + "\r\n" + body
			want = okPutBody
			values[key] = value
		case 2, 3:
			req = "GET /get?key=" + key + " HTTP/1.1\r\nHost: x\r\n" + connectionHeader(keepAlive) + "\r\n"
			if v, ok := values[key]; ok {
				want = `{"status":"OK","key":"` + key + `","value":"` + v + `"}`
			} else {
				want = `{"status":"ERROR","message":"Key not found."}`
			}
		default:
			req = "GET /home HTTP/1.1\r\nHost: x\r\n" + connectionHeader(keepAlive) + "\r\n"
			want = l.homePage
		}
		after := l.signalled.Load()
		r := c.do(req)
		switch {
		case r.err == nil && string(r.body) == want:
			l.answered.Add(1)
		case r.err == nil:
			l.fail("client %d: %q: status %d, body %.200q, want %.200q", id, firstLine(req), r.status, r.body, want)
			return
		case r.got > 0:
			l.fail("client %d: %q: failed after %d bytes of the answer: %v", id, firstLine(req), r.got, r.err)
			return
		case !after && !l.signalled.Load():
			l.fail("client %d: %q failed before the signal: %v", id, firstLine(req), r.err)
			return
		case r.refused:
			l.refused.Add(1)
			return // the listener is closed: what the client should see from now on
		case isTimeout(r.err):
			l.fail("client %d: %q hung: no answer and no close within %v", id, firstLine(req), requestTimeout)
			return
		default:
			// Closed (or reset) before a single byte of the answer: the server
			// never started this request, and the client may retry it.
			l.unanswered.Add(1)
			if strings.HasPrefix(req, "POST") {
				delete(values, key) // it may or may not have been stored
			}
		}
		if r.err != nil || r.close || !keepAlive {
			c.close()
		}
	}
}

func connectionHeader(keepAlive bool) string {
	if keepAlive {
		return ""
	}
	return "Connection: close\r\n"
}

func firstLine(req string) string { return req[:strings.Index(req, "\r\n")] }

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// rawClient speaks HTTP/1.1 over one TCP connection it (re)opens on demand,
// and counts the bytes of each answer, which net/http's client does not tell:
// a failure after the first byte is a broken answer, before it a refusal.
type rawClient struct {
	addr string
	conn net.Conn
	br   *bufio.Reader
	got  countingReader
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

type rawAnswer struct {
	status  int
	body    []byte
	close   bool  // the server said Connection: close
	got     int64 // bytes of the answer received
	refused bool  // the connection was refused
	err     error
}

func (c *rawClient) do(req string) rawAnswer {
	if err := c.send(req); err != nil {
		return rawAnswer{err: err, refused: errors.Is(err, syscall.ECONNREFUSED)}
	}
	return c.finish("")
}

// send writes (part of) a request, connecting first if need be.
func (c *rawClient) send(part string) error {
	if c.conn == nil {
		conn, err := net.DialTimeout("tcp", c.addr, requestTimeout)
		if err != nil {
			return err
		}
		c.conn = conn
		c.got = countingReader{r: conn}
		c.br = bufio.NewReader(&c.got)
	}
	if err := c.conn.SetDeadline(time.Now().Add(requestTimeout)); err != nil {
		return err
	}
	_, err := io.WriteString(c.conn, part)
	return err
}

// finish writes the rest of a request and reads the whole answer.
func (c *rawClient) finish(rest string) rawAnswer {
	if rest != "" {
		if err := c.send(rest); err != nil {
			return rawAnswer{err: err}
		}
	}
	c.got.n = 0
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return rawAnswer{got: c.got.n, err: err}
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	a := rawAnswer{status: resp.StatusCode, body: body, close: resp.Close, got: c.got.n, err: err}
	if err == nil && resp.ContentLength >= 0 && int64(len(body)) != resp.ContentLength {
		a.err = fmt.Errorf("body of %d bytes, Content-Length %d", len(body), resp.ContentLength)
	}
	return a
}

func (c *rawClient) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// TestSIGTERMIsNotHeldBySilentConnections: connections that never sent a byte
// (a browser's speculative preconnect, a TCP health check) have no request in
// flight, so they must not hold the drain until READ_HEADER_TIMEOUT cuts them.
func TestSIGTERMIsNotHeldBySilentConnections(t *testing.T) {
	const grace = 5 * time.Second
	s := start(t, "SHUTDOWN_TIMEOUT=5s", "READ_HEADER_TIMEOUT=60s")
	addr := fmt.Sprintf("127.0.0.1:%d", s.port)
	for range 3 {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
	}
	// The server accepts in order: once a later connection is answered, the
	// silent ones are in its hands, not in the kernel's backlog.
	c := &rawClient{addr: addr}
	if r := c.do("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); r.err != nil || r.status != 200 {
		t.Fatalf("healthz: %d %v", r.status, r.err)
	}
	c.close()

	sentAt := time.Now()
	s.signal(t, syscall.SIGTERM)
	if err := s.waitExit(t, grace+5*time.Second); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
	t.Logf("exited %v after SIGTERM", time.Since(sentAt).Round(time.Millisecond))
	if log := s.log.String(); strings.Contains(log, "did not finish") {
		t.Errorf("silent connections held the drain past its grace period:\n%s", log)
	}
}
