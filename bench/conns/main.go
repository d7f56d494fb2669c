// Command conns holds many keep-alive HTTP/1.1 connections to a server from
// one process, for bench/conns.sh (idle connections next to active clients)
// and bench/memflood.sh (a connection storm next to a PUT flood).
//
// Each connection sends one GET (and another every -every, if set), reads the
// answer, then stays open and idle. A round opens -n connections, holds them
// for -hold (or until SIGINT/SIGTERM) and closes them; -rounds repeats that.
//
// Output on stdout, one line each, for scripts to parse:
//
//	OPEN round=R open=X dial_failed=D request_failed=F non2xx=N seconds=S   once every connection of round R was tried
//	CLOSED round=R dropped=P                                                  when round R's connections are closed
//	CONNS rounds=R opened=O dial_failed=D request_failed=F non2xx=N dropped=P requests=Q peak_open=K
//
// dial_failed counts connections that could not be opened after -retries
// attempts; request_failed requests that got no HTTP answer (reset, timeout,
// garbage); non2xx answers other than 2xx; dropped connections the server
// closed while they were meant to stay open (an idle timeout, or a
// "Connection: close" answer). The exit status is 1 if any of them is not 0.
//
// It uses raw net.Conn and net/http's response parser rather than an HTTP
// client: a client pool would hide exactly what is measured here, which
// connection is open and which one the server closed.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type options struct {
	addr    string // host:port to dial
	host    string // Host header
	path    string
	n       int
	every   time.Duration // 0: one request per connection
	hold    time.Duration // 0: until the context ends
	rounds  int           // 0: until the context ends
	dialers int
	retries int
	timeout time.Duration
}

// counters are totals over every round.
type counters struct {
	opened, dialFailed, requestFailed, non2xx, dropped, requests atomic.Int64
	open, peakOpen                                               atomic.Int64
	errorsShown                                                  atomic.Int32
}

// report prints only the first few errors: they say what is wrong, ten
// thousand more say nothing new.
func (c *counters) report(format string, args ...any) {
	if c.errorsShown.Add(1) <= 5 {
		fmt.Fprintf(os.Stderr, "conns: "+format+"\n", args...)
	}
}

func (c *counters) failures() int64 {
	return c.dialFailed.Load() + c.requestFailed.Load() + c.non2xx.Load() + c.dropped.Load()
}

func main() {
	var opt options
	baseURL := flag.String("url", "http://127.0.0.1:7171", "server base URL")
	flag.StringVar(&opt.path, "path", "/healthz", "path of the GET each connection sends")
	flag.IntVar(&opt.n, "n", 10000, "connections per round")
	flag.DurationVar(&opt.every, "every", 0, "send another GET on each connection this often (0: only one, right after connecting)")
	flag.DurationVar(&opt.hold, "hold", 0, "how long a round keeps its connections open (0: until SIGINT/SIGTERM)")
	flag.IntVar(&opt.rounds, "rounds", 1, "rounds of open, hold, close (0: until SIGINT/SIGTERM)")
	flag.IntVar(&opt.dialers, "dialers", 64, "connections being dialled at once (a burst larger than the listen backlog only makes SYNs retry)")
	flag.IntVar(&opt.retries, "retries", 6, "dial attempts per connection, with exponential backoff from 10ms")
	flag.DurationVar(&opt.timeout, "timeout", 10*time.Second, "timeout of each dial and each request")
	flag.Parse()
	u, err := url.Parse(*baseURL)
	if err != nil || u.Scheme != "http" || u.Host == "" || opt.n < 1 || opt.dialers < 1 || opt.retries < 1 || opt.rounds < 0 {
		fmt.Fprintln(os.Stderr, "conns: need -url http://host:port, -n >= 1, -dialers >= 1, -retries >= 1, -rounds >= 0")
		os.Exit(2)
	}
	opt.addr, opt.host = u.Host, u.Host
	if err := ensureFileLimit(opt.n); err != nil {
		fmt.Fprintln(os.Stderr, "conns:", err)
		os.Exit(1)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var c counters
	rounds := 0
	for opt.rounds == 0 || rounds < opt.rounds {
		if ctx.Err() != nil {
			break
		}
		rounds++
		roundCtx, cancel := ctx, context.CancelFunc(func() {})
		if opt.hold > 0 {
			roundCtx, cancel = context.WithTimeout(ctx, opt.hold)
		}
		start := time.Now()
		before := roundSnapshot(&c)
		dropped := runRound(roundCtx, opt, &c, func() {
			d := roundSnapshot(&c).minus(before)
			fmt.Printf("OPEN round=%d open=%d dial_failed=%d request_failed=%d non2xx=%d seconds=%.2f\n",
				rounds, c.open.Load(), d.dialFailed, d.requestFailed, d.non2xx, time.Since(start).Seconds())
		})
		cancel()
		fmt.Printf("CLOSED round=%d dropped=%d\n", rounds, dropped)
	}
	fmt.Printf("CONNS rounds=%d opened=%d dial_failed=%d request_failed=%d non2xx=%d dropped=%d requests=%d peak_open=%d\n",
		rounds, c.opened.Load(), c.dialFailed.Load(), c.requestFailed.Load(), c.non2xx.Load(), c.dropped.Load(),
		c.requests.Load(), c.peakOpen.Load())
	if c.failures() > 0 {
		os.Exit(1)
	}
}

// ensureFileLimit raises this process's soft open-file limit to the hard one
// and checks n connections fit, so a low limit fails loudly here instead of
// as thousands of EMFILE dial errors.
func ensureFileLimit(n int) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("reading the open-file limit: %w", err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return fmt.Errorf("raising the open-file limit to %d: %w", lim.Max, err)
		}
	}
	const spare = 32 // stdio, the netpoller, and the odd file
	if uint64(n)+spare > lim.Cur {
		return fmt.Errorf("%d connections need %d file descriptors, the limit is %d (ulimit -Hn)", n, n+spare, lim.Cur)
	}
	return nil
}

type snapshot struct{ dialFailed, requestFailed, non2xx int64 }

func roundSnapshot(c *counters) snapshot {
	return snapshot{c.dialFailed.Load(), c.requestFailed.Load(), c.non2xx.Load()}
}

func (s snapshot) minus(o snapshot) snapshot {
	return snapshot{s.dialFailed - o.dialFailed, s.requestFailed - o.requestFailed, s.non2xx - o.non2xx}
}

// runRound opens opt.n connections, calls opened once every one was tried,
// keeps them until ctx ends, closes them and returns how many the server
// dropped before that.
func runRound(ctx context.Context, opt options, c *counters, opened func()) int64 {
	var tried, done sync.WaitGroup
	droppedBefore := c.dropped.Load()
	dialSlots := make(chan struct{}, opt.dialers)
	request := []byte("GET " + opt.path + " HTTP/1.1\r\nHost: " + opt.host + "\r\nUser-Agent: warmkv-bench-conns\r\n\r\n")
	tried.Add(opt.n)
	done.Add(opt.n)
	for range opt.n {
		dialSlots <- struct{}{}
		go func() {
			defer done.Done()
			conn := open(ctx, opt, c, request, dialSlots)
			tried.Done()
			if conn == nil {
				return
			}
			if !conn.idleUntil(ctx, opt, c, request) {
				c.dropped.Add(1)
			}
			c.open.Add(-1)
		}()
	}
	tried.Wait()
	opened()
	<-ctx.Done()
	done.Wait()
	return c.dropped.Load() - droppedBefore
}

// open dials one connection and sends its first request; it returns nil
// (having counted why) if either fails. It frees its dial slot once done, so
// at most opt.dialers handshakes are in flight.
func open(ctx context.Context, opt options, c *counters, request []byte, dialSlots <-chan struct{}) *conn {
	defer func() { <-dialSlots }()
	nc, err := dial(ctx, opt)
	if err != nil {
		if ctx.Err() == nil {
			c.dialFailed.Add(1)
			c.report("dial %s: %v", opt.addr, err)
		}
		return nil
	}
	cn := &conn{Conn: nc, r: bufio.NewReaderSize(nc, 1024)}
	if !cn.roundTrip(ctx, opt, c, request) {
		nc.Close()
		return nil
	}
	c.opened.Add(1)
	peak := c.open.Add(1)
	for {
		p := c.peakOpen.Load()
		if peak <= p || c.peakOpen.CompareAndSwap(p, peak) {
			break
		}
	}
	return cn
}

// dial connects with exponential backoff: under a connection storm a full
// listen backlog or a momentary lack of ports is expected, and a client that
// retries is what a real one does.
func dial(ctx context.Context, opt options) (net.Conn, error) {
	d := net.Dialer{Timeout: opt.timeout}
	backoff := 10 * time.Millisecond
	var err error
	for attempt := 1; ; attempt++ {
		var nc net.Conn
		if nc, err = d.DialContext(ctx, "tcp", opt.addr); err == nil {
			return nc, nil
		}
		if attempt == opt.retries || ctx.Err() != nil {
			return nil, fmt.Errorf("%d attempts, last: %w", attempt, err)
		}
		// Jitter, so connections refused together do not come back together.
		sleep := backoff/2 + rand.N(backoff)
		select {
		case <-time.After(sleep):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		backoff = min(2*backoff, time.Second)
	}
}

type conn struct {
	net.Conn
	r *bufio.Reader
}

// roundTrip sends one GET and reads its answer. It reports whether the
// connection is still usable, counting the failure if it is not. A request
// cut off because the round ended (ctx) is not a failure.
func (cn *conn) roundTrip(ctx context.Context, opt options, c *counters, request []byte) bool {
	c.requests.Add(1)
	_ = cn.SetDeadline(time.Now().Add(opt.timeout))
	defer func() { _ = cn.SetDeadline(time.Time{}) }()
	failed := func(what string, err error) bool {
		if ctx.Err() == nil {
			c.requestFailed.Add(1)
			c.report("%s: %v", what, err)
		}
		return false
	}
	if _, err := cn.Write(request); err != nil {
		return failed("write", err)
	}
	resp, err := http.ReadResponse(cn.r, nil)
	if err != nil {
		return failed("reading the answer", err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return failed("reading the body", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		c.non2xx.Add(1)
		c.report("GET %s: status %d", opt.path, resp.StatusCode)
		return false
	}
	if resp.Close {
		c.dropped.Add(1)
		c.report("GET %s: the server closes the connection after the answer (Connection: close)", opt.path)
		return false
	}
	return true
}

// idleUntil keeps the connection open until ctx ends, sending a GET every
// opt.every if set, then closes it. It returns false if the server closed
// the connection (or a periodic request failed) before that.
func (cn *conn) idleUntil(ctx context.Context, opt options, c *counters, request []byte) bool {
	// Closing the connection is what wakes the blocked read below.
	stopWatching := context.AfterFunc(ctx, func() { cn.Close() })
	defer stopWatching()
	defer cn.Close()
	for {
		if opt.every > 0 {
			_ = cn.SetReadDeadline(time.Now().Add(opt.every))
		}
		// Nothing may arrive on an idle keep-alive connection: a byte, or
		// an EOF, means the server did something it should not have.
		_, err := cn.r.Peek(1)
		if ctx.Err() != nil {
			return true
		}
		var netErr net.Error
		if opt.every > 0 && errors.As(err, &netErr) && netErr.Timeout() {
			if !cn.roundTrip(ctx, opt, c, request) {
				// roundTrip counted it; do not count a drop as well.
				return true
			}
			continue
		}
		if err == nil {
			c.report("the server sent data on an idle connection")
		} else {
			c.report("idle connection closed by the server: %v", err)
		}
		return false
	}
}
