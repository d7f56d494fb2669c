package server

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// flakyListener fails its first accepts with err, then hands out one end of a
// pipe per call.
type flakyListener struct {
	mu       sync.Mutex
	failures int
	err      error
	closed   chan struct{}
}

func (l *flakyListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if l.failures > 0 {
		l.failures--
		l.mu.Unlock()
		return nil, l.err
	}
	l.mu.Unlock()
	select {
	case <-l.closed:
		return nil, net.ErrClosed
	default:
	}
	server, client := net.Pipe()
	client.Close()
	return server, nil
}

func (l *flakyListener) Close() error {
	select {
	case <-l.closed:
	default:
		close(l.closed)
	}
	return nil
}

func (l *flakyListener) Addr() net.Addr { return &net.TCPAddr{} }

func TestDrainListenerRidesOutAcceptErrors(t *testing.T) {
	for _, tc := range []struct {
		err       error
		wantRetry bool
	}{
		{&net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}, true},
		{&net.OpError{Op: "accept", Net: "tcp", Err: syscall.ENFILE}, true},
		{syscall.ENOBUFS, true},
		{errors.New("something else"), false},
	} {
		t.Run(tc.err.Error(), func(t *testing.T) {
			var log bytes.Buffer
			ln := newDrainListener(&flakyListener{failures: 3, err: tc.err, closed: make(chan struct{})},
				slog.New(slog.NewTextHandler(&log, nil)))
			c, err := ln.Accept()
			if !tc.wantRetry {
				if !errors.Is(err, tc.err) {
					t.Fatalf("Accept() = %v, %v; want the error %v passed on", c, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Accept() failed with %v; want it to wait and retry", err)
			}
			c.Close()
			if got := strings.Count(log.String(), "cannot accept connections"); got != 1 {
				t.Errorf("logged the failure %d times, want once:\n%s", got, &log)
			}
			if !strings.Contains(log.String(), "failed_accepts=3") {
				t.Errorf("recovery not logged with the count:\n%s", &log)
			}
		})
	}
}

func TestDrainListenerCloseEndsTheBackoff(t *testing.T) {
	emfile := &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}
	ln := newDrainListener(&flakyListener{failures: 1 << 30, err: emfile, closed: make(chan struct{})},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	accepted := make(chan error, 1)
	go func() {
		_, err := ln.Accept()
		accepted <- err
	}()
	time.Sleep(1500 * time.Millisecond) // long enough to reach the 1 s back-off
	began := time.Now()
	ln.Close()
	select {
	case err := <-accepted:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Accept() after Close = %v, want net.ErrClosed (fasthttp reads it as a clean stop)", err)
		}
		if waited := time.Since(began); waited > 500*time.Millisecond {
			t.Errorf("Accept returned %v after Close; the back-off should end at once", waited)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Accept did not return after Close")
	}
}
