package resp

import (
	"strings"
	"testing"
	"time"
)

// Hostile and abandoned clients: every connection that stops making progress
// is closed by one of the timeouts, on every driver, so that it gives its
// slot (MaxClients) and its buffers back.

// TestIdleTimeoutSilentClient: a client that connects and never sends a byte
// is closed.
func TestIdleTimeoutSilentClient(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d driver) {
		ts := startServer(t, d, func(o *Options) { o.IdleTimeout = 100 * time.Millisecond })
		ts.raw(t).expectClosed()
	})
}

// TestIdleTimeoutHalfCommand: without a ReadTimeout, a client that stops in
// the middle of a command is closed after IdleTimeout rather than kept forever.
func TestIdleTimeoutHalfCommand(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d driver) {
		// Long enough that a loaded CI machine answers the PING before the
		// connection counts as idle; expectClosed waits up to 5 s.
		ts := startServer(t, d, func(o *Options) { o.IdleTimeout = time.Second })
		r := ts.raw(t)
		if got := r.do("PING"); got != "+PONG\r\n" {
			t.Fatalf("PING: %q", got)
		}
		r.send("*2\r\n$4\r\nECHO\r\n$10\r\nabc")
		r.expectClosed()
	})
}

// TestReadTimeoutTrickle: bytes trickling in faster than the timeout do not
// extend it: a slowloris client that never completes its command is closed.
// (If each byte restarted the timer, this one would be kept and the test
// would fail after expectClosed's 5 seconds.)
func TestReadTimeoutTrickle(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d driver) {
		ts := startServer(t, d, func(o *Options) { o.ReadTimeout = 100 * time.Millisecond })
		r := ts.raw(t)
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			// A bulk string that would take minutes to arrive, a byte every 20ms.
			command := "*2\r\n$4\r\nECHO\r\n$100000\r\n" + strings.Repeat("a", 100000)
			for i := 0; i < len(command); i++ {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
				if _, err := r.conn.Write([]byte{command[i]}); err != nil {
					return // closed by the server
				}
			}
		}()
		r.expectClosed()
	})
}

// TestSlowSteadyClientKept: a client that is slow but completes command after
// command, each well within the timeouts, is served for as long as it likes:
// each completed command restarts the clock.
func TestSlowSteadyClientKept(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d driver) {
		const timeout = 300 * time.Millisecond
		ts := startServer(t, d, func(o *Options) { o.ReadTimeout, o.IdleTimeout = timeout, timeout })
		r := ts.raw(t)
		ping := encode("ECHO", "hello")
		const pause = 10 * time.Millisecond
		// Several timeouts' worth in all: were the clock started once, this
		// client would be cut off part-way.
		n := int(3*timeout/(2*pause)) + 1
		for i := range n {
			r.send(ping[:7])
			time.Sleep(pause)
			r.send(ping[7:])
			if got := r.reply(); got != "$5\r\nhello\r\n" {
				t.Fatalf("command %d of %d: %q", i+1, n, got)
			}
			time.Sleep(pause)
		}
	})
}

// TestTimeoutsFreeClientSlots: connections that hold every slot without
// completing commands are cut off, after which new clients are served again.
func TestTimeoutsFreeClientSlots(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d driver) {
		ts := startServer(t, d, func(o *Options) {
			o.MaxClients = 2
			o.ReadTimeout = 150 * time.Millisecond
			o.IdleTimeout = 150 * time.Millisecond
		})
		silent, stalled := ts.raw(t), ts.raw(t)
		stalled.send("*1\r\n$4\r\nPI")
		// Both hold their slots until the timeouts: a third client is refused.
		refused := ts.raw(t)
		if got := refused.reply(); !strings.Contains(got, "max number of clients reached") {
			t.Fatalf("third client while two are held: %q", got)
		}
		silent.expectClosed()
		stalled.expectClosed()
		r := ts.raw(t)
		if got := r.do("PING"); got != "+PONG\r\n" {
			t.Errorf("new client after the timeouts: %q", got)
		}
	})
}

// TestAuthTimeout: with a token, a connection that has not authenticated
// within AuthTimeout is closed, even while it keeps sending commands; one
// that has authenticated is kept, idle, as Redis keeps it.
func TestAuthTimeout(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d driver) {
		const timeout = 150 * time.Millisecond
		ts := startServer(t, d, withAuth("pw"), func(o *Options) { o.AuthTimeout = timeout })

		ts.raw(t).expectClosed()

		busy := ts.raw(t)
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				select {
				case <-stop:
					return
				case <-time.After(10 * time.Millisecond):
				}
				if _, err := busy.conn.Write([]byte(encode("PING"))); err != nil {
					return
				}
			}
		}()
		// Replies are NOAUTH errors until the connection is cut.
		for {
			_ = busy.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			reply, err := readReply(busy.rd)
			if err != nil {
				break
			}
			if reply != "-NOAUTH Authentication required.\r\n" {
				t.Fatalf("before AUTH: %q", reply)
			}
		}
		close(stop)
		<-done

		authed := ts.raw(t)
		if got := authed.do("AUTH", "pw"); got != "+OK\r\n" {
			t.Fatalf("AUTH: %q", got)
		}
		time.Sleep(2 * timeout)
		if got := authed.do("PING"); got != "+PONG\r\n" {
			t.Errorf("authenticated, idle past the auth timeout: %q", got)
		}
	})
}

// TestNoAuthTimeoutWithoutToken: without a token there is nothing to wait
// for, and AuthTimeout does nothing.
func TestNoAuthTimeoutWithoutToken(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d driver) {
		ts := startServer(t, d, func(o *Options) { o.AuthTimeout = 50 * time.Millisecond })
		r := ts.raw(t)
		time.Sleep(150 * time.Millisecond)
		if got := r.do("PING"); got != "+PONG\r\n" {
			t.Errorf("idle without a token: %q", got)
		}
	})
}
