package resp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/warmkv/warmkv/cache"
)

func TestNewRejectsBadOptions(t *testing.T) {
	kv, err := cache.New(cache.Options{MaxBytes: 1 << 20, ReapInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer kv.Close()
	for name, o := range map[string]Options{
		"no store":              {MaxKeyLength: 1},
		"no key length":         {Store: kv},
		"negative value length": {Store: kv, MaxKeyLength: 1, MaxValueBytes: -1},
		"negative buffer bound": {Store: kv, MaxKeyLength: 1, MaxBufferBytes: -1},
		"buffers too small":     {Store: kv, MaxKeyLength: 1, MaxValueBytes: 1000, MaxBufferBytes: 1000},
		"negative limit":        {Store: kv, MaxKeyLength: 1, MaxClients: -1},
		"too few arguments":     {Store: kv, MaxKeyLength: 1, MaxArgs: 2},
		"command too small":     {Store: kv, MaxKeyLength: 256, MaxValueBytes: 256, MaxCommandBytes: 1000},
		"negative timeout":      {Store: kv, MaxKeyLength: 1, ReadTimeout: -time.Second},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("%s: New accepted %+v", name, o)
		}
	}
}

// TestPipelines: many commands in one write come back in order, with either
// client protocol and every driver.
func TestPipelines(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d driver) {
		ts := startServer(t, d)
		forEachProtocol(t, ts, func(t *testing.T, c *redis.Client) {
			pipe := c.Pipeline()
			const n = 2000
			for i := range n {
				pipe.Set(ctx, fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i), 0)
				pipe.Get(ctx, fmt.Sprintf("k%d", i))
				pipe.Incr(ctx, "counter")
			}
			cmds, err := pipe.Exec(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(cmds) != 3*n {
				t.Fatalf("%d replies, want %d", len(cmds), 3*n)
			}
			for i := range n {
				if v := cmds[3*i+1].(*redis.StringCmd).Val(); v != fmt.Sprintf("v%d", i) {
					t.Fatalf("GET k%d = %q", i, v)
				}
				if got := cmds[3*i+2].(*redis.IntCmd).Val(); got != int64(i+1) {
					t.Fatalf("INCR %d = %d", i, got)
				}
			}
			c.Del(ctx, "counter")
		})
	})
}

// TestCommandsSplitAcrossReads sends a pipeline in pieces of 1 to 7 bytes, so
// that commands, headers and bulk strings end up cut at every place.
func TestCommandsSplitAcrossReads(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d driver) {
		ts := startServer(t, d)
		r := ts.raw(t)
		var in, want strings.Builder
		for i := range 100 {
			in.WriteString(encode("SET", fmt.Sprintf("key%d", i), strings.Repeat("v", i%30)))
			want.WriteString("+OK\r\n")
			fmt.Fprintf(&in, "GET key%d\r\n", i)
			fmt.Fprintf(&want, "$%d\r\n%s\r\n", i%30, strings.Repeat("v", i%30))
		}
		go func() {
			b := in.String()
			for i, size := 0, 1; i < len(b); i, size = i+size, size%7+1 {
				if _, err := io.WriteString(r.conn, b[i:min(i+size, len(b))]); err != nil {
					return
				}
			}
		}()
		var got strings.Builder
		for range 200 {
			got.WriteString(r.reply())
		}
		if got.String() != want.String() {
			t.Errorf("replies differ from the expected ones")
		}
	})
}

// TestInlineCommands: commands typed into nc or telnet, mixed with RESP ones.
func TestInlineCommands(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d driver) {
		ts := startServer(t, d)
		r := ts.raw(t)
		r.send("SET name \"vimla\"\r\nGET name\n" + encode("ECHO", "x") + "\r\n   \r\nset 'a b' \"c\\td\"\r\nget \"a b\"\r\nPING\r\n")
		for _, want := range []string{"+OK\r\n", "$5\r\nvimla\r\n", "$1\r\nx\r\n", "+OK\r\n", "$3\r\nc\td\r\n", "+PONG\r\n"} {
			if got := r.reply(); got != want {
				t.Errorf("got %q, want %q", got, want)
			}
		}
		// A typo gets an error, not a closed connection.
		r.send("GTE name\r\n")
		if got := r.reply(); got != "-ERR unknown command 'GTE', with args beginning with: 'name' \r\n" {
			t.Errorf("typo: %q", got)
		}
		r.send("PING\r\n")
		if got := r.reply(); got != "+PONG\r\n" {
			t.Errorf("after a typo: %q", got)
		}
	})
}

// TestGarbageClosesOnlyThatConnection: a client sending garbage gets a
// protocol error and is disconnected; another client, busy meanwhile, does
// not notice.
func TestGarbageClosesOnlyThatConnection(t *testing.T) {
	garbage := []struct{ name, in, reply string }{
		{"bad multibulk length", "*x\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
		{"bad bulk length", "*1\r\n$-5\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
		{"not a bulk", "*2\r\n$3\r\nGET\r\n+k\r\n", "-ERR Protocol error: expected '$', got '+'\r\n"},
		{"binary", "\x00\x01\x02\xff\xfe\n", "-ERR Protocol error: inline request contains control characters or invalid UTF-8\r\n"},
		{"unbalanced quotes", "SET a \"b\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n"},
		{"endless line", strings.Repeat("A", inlineMaxBytes+1), "-ERR Protocol error: too big inline request\r\n"},
		{"unterminated bulk", "*1\r\n$4\r\nPINGPONG\r\n", "-ERR Protocol error: expected CRLF after a bulk string\r\n"},
	}
	forEachDriver(t, func(t *testing.T, d driver) {
		ts := startServer(t, d)
		busy := ts.client(t, 3, "")
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var busyErr error
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := busy.Set(ctx, "busy", i, 0).Err(); err != nil {
					busyErr = err
					return
				}
				v, err := busy.Get(ctx, "busy").Int()
				if err != nil {
					busyErr = fmt.Errorf("GET busy: %w", err)
					return
				}
				if v != i {
					busyErr = fmt.Errorf("GET busy = %d; want %d", v, i)
					return
				}
			}
		}()
		for _, g := range garbage {
			r := ts.raw(t)
			r.send("PING\r\n" + g.in)
			if got := r.reply(); got != "+PONG\r\n" {
				t.Errorf("%s: the command before the garbage got %q", g.name, got)
			}
			if got := r.reply(); got != g.reply {
				t.Errorf("%s: %q, want %q", g.name, got, g.reply)
			}
			r.expectClosed()
		}
		close(stop)
		wg.Wait()
		if busyErr != nil {
			t.Errorf("the other client noticed: %v", busyErr)
		}
	})
}

// TestHTTPRequestIsDropped: an HTTP request on the Redis port, as a browser
// tricked by a hostile page would send, is dropped without a reply, as Redis
// does.
func TestHTTPRequestIsDropped(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d driver) {
		ts := startServer(t, d)
		r := ts.raw(t)
		r.send("POST / HTTP/1.1\r\nHost: localhost:6380\r\n\r\nSET pwned 1\r\n")
		r.expectClosed()
		if _, ok, _ := ts.kv.Get("pwned"); ok {
			t.Error("the command in the HTTP body ran")
		}
	})
}

func TestLimits(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d driver) {
		ts := startServer(t, d, func(o *Options) { o.MaxArgs = 5; o.MaxCommandBytes = 512 })
		r := ts.raw(t)
		if got := r.do("MGET", "a", "b", "c", "d"); got != "*4\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n" {
			t.Errorf("5 arguments: %q", got)
		}
		r.send(encode("MGET", "a", "b", "c", "d", "e"))
		if got := r.reply(); got != "-ERR Protocol error: invalid multibulk length\r\n" {
			t.Errorf("6 arguments: %q", got)
		}
		r.expectClosed()

		r = ts.raw(t)
		// The declared size is refused before the bytes are sent.
		r.send("*2\r\n$4\r\nECHO\r\n$1000\r\n")
		if got := r.reply(); got != "-ERR Protocol error: invalid bulk length\r\n" {
			t.Errorf("oversized bulk: %q", got)
		}
		r.expectClosed()

		r = ts.raw(t)
		r.send(encode("ECHO", strings.Repeat("x", 493))) // 515 bytes
		if got := r.reply(); got != "-ERR Protocol error: command larger than 512 bytes\r\n" {
			t.Errorf("oversized command: %q", got)
		}
		r.expectClosed()
	})
}

// TestUnauthenticatedLimits: before AUTH only small commands are read, as in
// Redis 7, so an anonymous client cannot make the server buffer much.
func TestUnauthenticatedLimits(t *testing.T) {
	ts := startServer(t, defaultDriver(), withAuth("token"))
	r := ts.raw(t)
	args := []string{"MGET"}
	for i := range 10 {
		args = append(args, fmt.Sprint(i))
	}
	r.send(encode(args...))
	if got := r.reply(); got != "-ERR Protocol error: unauthenticated multibulk length\r\n" {
		t.Errorf("11 arguments before AUTH: %q", got)
	}
	r.expectClosed()

	r = ts.raw(t)
	r.send("*2\r\n$4\r\nAUTH\r\n$20000\r\n")
	if got := r.reply(); got != "-ERR Protocol error: unauthenticated bulk length\r\n" {
		t.Errorf("a 20000-byte argument before AUTH: %q", got)
	}
	r.expectClosed()

	r = ts.raw(t)
	r.do("AUTH", "token")
	if got := r.do(args...); !strings.HasPrefix(got, "*10\r\n") {
		t.Errorf("11 arguments after AUTH: %q", got)
	}
}

func TestMaxClients(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d driver) {
		ts := startServer(t, d, func(o *Options) { o.MaxClients = 2 })
		a, b := ts.raw(t), ts.raw(t)
		a.do("PING")
		b.do("PING")
		c := ts.raw(t)
		if got := c.reply(); got != "-ERR max number of clients reached\r\n" {
			t.Errorf("third client: %q", got)
		}
		c.expectClosed()
		if got := a.do("PING"); got != "+PONG\r\n" {
			t.Errorf("first client: %q", got)
		}
		// Once a client leaves there is room again; its departure is noticed
		// asynchronously, so try until a connection is admitted.
		a.conn.Close()
		deadline := time.Now().Add(5 * time.Second)
		for {
			conn, err := net.Dial("tcp", ts.addr)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprint(conn, "PING\r\n")
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			line, _ := bufio.NewReader(conn).ReadString('\n')
			conn.Close()
			if line == "+PONG\r\n" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no room after a client left: %q", line)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if st := ts.srv.counters(); st.rejected < 1 {
			t.Errorf("rejected connections = %d", st.rejected)
		}
	})
}

// TestReadTimeout: a client that starts a command and stalls is cut off; one
// that is idle between commands is not.
func TestReadTimeout(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d driver) {
		ts := startServer(t, d, func(o *Options) { o.ReadTimeout = 100 * time.Millisecond })
		idle, stalled := ts.raw(t), ts.raw(t)
		idle.do("PING")
		stalled.send("*2\r\n$4\r\nECHO\r\n$10\r\nabc")
		stalled.expectClosed()
		time.Sleep(300 * time.Millisecond) // three timeouts' worth, idle
		if got := idle.do("PING"); got != "+PONG\r\n" {
			t.Errorf("idle client: %q", got)
		}
	})
}

func TestIdleTimeout(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d driver) {
		ts := startServer(t, d, func(o *Options) { o.IdleTimeout = 100 * time.Millisecond })
		r := ts.raw(t)
		r.do("PING")
		r.expectClosed()
	})
}

// TestSlowReader: a client that sends many commands without reading the
// replies stops being read from (the server does not buffer without bound),
// and reads everything in order once it starts reading. Others are served
// meanwhile.
func TestSlowReader(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d driver) {
		ts := startServer(t, d)
		value := strings.Repeat("v", 32)
		if err := ts.kv.Set("big", value, 0); err != nil {
			t.Fatal(err)
		}
		const n = 200000 // about 8 MB of replies, more than socket buffers hold
		r := ts.raw(t)
		sent := make(chan error, 1)
		go func() {
			w := bufio.NewWriterSize(r.conn, 64<<10)
			for range n {
				if _, err := w.WriteString("*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n"); err != nil {
					sent <- err
					return
				}
			}
			sent <- w.Flush()
		}()
		// While the slow reader's replies pile up, another client is served.
		other := ts.client(t, 2, "")
		if err := other.Set(ctx, "other", "1", 0).Err(); err != nil {
			t.Errorf("other client: %v", err)
		}
		want := "$32\r\n" + value + "\r\n"
		for i := range n {
			if got := r.reply(); got != want {
				t.Fatalf("reply %d = %q", i, got)
			}
		}
		if err := <-sent; err != nil {
			t.Fatal(err)
		}
	})
}

// TestWriteTimeout: a client that never reads its replies is disconnected
// after WriteTimeout.
func TestWriteTimeout(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d driver) {
		ts := startServer(t, d, func(o *Options) { o.WriteTimeout = 100 * time.Millisecond })
		if err := ts.kv.Set("big", strings.Repeat("v", 32), 0); err != nil {
			t.Fatal(err)
		}
		conn, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		// Write until the server stops reading (its replies are stuck); the
		// write fails once it closes the connection.
		_ = conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		chunk := []byte(strings.Repeat("*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n", 1000))
		for {
			if _, err := conn.Write(chunk); err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Fatal("the server kept a client that does not read")
				}
				break
			}
		}
	})
}

// TestConcurrentIncrements: read-modify-write commands stay atomic through
// the door.
func TestConcurrentIncrements(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d driver) {
		ts := startServer(t, d)
		const clients, each = 8, 300
		var wg sync.WaitGroup
		for range clients {
			c := ts.client(t, 2, "")
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range each {
					if err := c.Incr(ctx, "n").Err(); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if v, _, _ := ts.kv.Get("n"); v != fmt.Sprint(clients*each) {
			t.Errorf("n = %s, want %d", v, clients*each)
		}
	})
}

// TestShutdownLetsRunningCommandsFinish: Shutdown stops accepting, lets a
// command that is running finish and its reply go out, closes idle
// connections, and returns once they are all closed.
func TestShutdownLetsRunningCommandsFinish(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d driver) {
		started, release := make(chan struct{}), make(chan struct{})
		ts := startServerWith(t, d, func(s *Server) {
			s.beforeCommand = func(args [][]byte) {
				if string(args[0]) == "SET" && string(args[1]) == "slow" {
					close(started)
					<-release
				}
			}
		})
		idle, busy := ts.raw(t), ts.raw(t)
		idle.do("PING")
		busy.send(encode("SET", "slow", "1") + encode("GET", "slow"))
		<-started

		shutdown := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			shutdown <- ts.srv.Shutdown(ctx)
		}()
		// New connections are refused once Shutdown has begun.
		for deadline := time.Now().Add(5 * time.Second); ; {
			conn, err := net.Dial("tcp", ts.addr)
			if err != nil {
				break
			}
			conn.Close()
			if time.Now().After(deadline) {
				t.Fatal("still accepting after Shutdown")
			}
			time.Sleep(5 * time.Millisecond)
		}
		select {
		case err := <-shutdown:
			t.Fatalf("Shutdown returned %v while a command was running", err)
		default:
		}
		close(release)
		if got := busy.reply(); got != "+OK\r\n" {
			t.Errorf("running command: %q", got)
		}
		if got := busy.reply(); got != "$1\r\n1\r\n" {
			t.Errorf("command received with it: %q", got)
		}
		busy.expectClosed()
		idle.expectClosed()
		if err := <-shutdown; err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		ts.waitServeReturned(t)
	})
}

// TestShutdownDeadline: when ctx ends first, Shutdown closes what remains and
// says so.
func TestShutdownDeadline(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d driver) {
		started, release := make(chan struct{}), make(chan struct{})
		ts := startServerWith(t, d, func(s *Server) {
			s.beforeCommand = func(args [][]byte) {
				if string(args[0]) == "SET" && string(args[1]) == "slow" {
					close(started)
					<-release
				}
			}
		})
		busy := ts.raw(t)
		busy.send(encode("SET", "slow", "1"))
		<-started
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		err := ts.srv.Shutdown(ctx)
		close(release)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Shutdown = %v, want the deadline", err)
		}
		// The connection is closed, whether or not the command's reply made
		// it out first (the epoll loop writes it before it gets to closing).
		_ = busy.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		rest, err := io.ReadAll(busy.rd)
		if err != nil || (len(rest) > 0 && string(rest) != "+OK\r\n") {
			t.Errorf("after the deadline: read %q, %v; want at most the reply, then EOF", rest, err)
		}
	})
}

func TestClose(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d driver) {
		ts := startServer(t, d)
		r := ts.raw(t)
		r.do("PING")
		if err := ts.srv.Close(); err != nil {
			t.Fatal(err)
		}
		r.expectClosed()
		ts.waitServeReturned(t)
		if _, err := net.Dial("tcp", ts.addr); err == nil {
			t.Error("still accepting after Close")
		}
	})
}

// TestServeAfterShutdown: a stopped server does not start again.
func TestServeAfterShutdown(t *testing.T) {
	ts := startServer(t, defaultDriver())
	if err := ts.srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.srv.Serve(ln); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve = %v", err)
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("Serve left the listener open")
	}
}

// TestCountersAddUp: INFO's connection and command counters.
func TestCountersAddUp(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d driver) {
		ts := startServer(t, d)
		for range 3 {
			r := ts.raw(t)
			r.do("PING")
			r.do("PING")
			r.do("QUIT")
			r.expectClosed()
		}
		r := ts.raw(t)
		r.do("PING")
		n := ts.srv.counters()
		if n.total != 4 || n.connected != 1 || n.commands != 10 {
			t.Errorf("counters %+v, want 4 connections, 1 open, 10 commands", n)
		}
	})
}
