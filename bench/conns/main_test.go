package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunRoundCountsWhatHappensToEachConnection(t *testing.T) {
	const n = 20
	ok := func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"status":"OK"}`)) }
	tests := []struct {
		name    string
		handler http.HandlerFunc
		tune    func(*httptest.Server, *options)
		// until is polled after the round opened; the round ends once it holds.
		until func(*counters, *atomic.Int64) bool
		want  map[string]int64
	}{
		{
			name:    "all open and idle",
			handler: ok,
			want:    map[string]int64{"opened": n, "requests": n, "peak": n},
		},
		{
			name:    "error status",
			handler: func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "busy", http.StatusServiceUnavailable) },
			want:    map[string]int64{"non2xx": n, "requests": n},
		},
		{
			name: "server refuses keep-alive",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Connection", "close")
				ok(w, r)
			},
			want: map[string]int64{"dropped": n, "requests": n},
		},
		{
			name: "server closes idle connections",
			// A keep-alive answer, then the close an idle timeout would do.
			handler: func(w http.ResponseWriter, _ *http.Request) {
				nc, buf, err := http.NewResponseController(w).Hijack()
				if err != nil {
					panic(err)
				}
				_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				buf.Flush()
				nc.Close()
			},
			until: func(c *counters, _ *atomic.Int64) bool { return c.dropped.Load() == n },
			want:  map[string]int64{"opened": n, "dropped": n, "requests": n},
		},
		{
			name:    "nobody listens",
			handler: ok,
			tune: func(s *httptest.Server, o *options) {
				s.Close()
				o.retries = 2
			},
			want: map[string]int64{"dialFailed": n},
		},
		{
			name:    "periodic requests",
			handler: ok,
			tune:    func(_ *httptest.Server, o *options) { o.every = time.Millisecond },
			until:   func(_ *counters, served *atomic.Int64) bool { return served.Load() >= 3*n },
			want:    map[string]int64{"opened": n, "peak": n},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var served atomic.Int64
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				served.Add(1)
				tt.handler(w, r)
			}))
			srv.Start()
			defer srv.Close()
			addr := srv.Listener.Addr().String()
			opt := options{addr: addr, host: addr, path: "/healthz", n: n, dialers: 4, retries: 6, timeout: 5 * time.Second}
			if tt.tune != nil {
				tt.tune(srv, &opt)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var c counters
			c.errorsShown.Store(1 << 30) // keep the test log quiet
			openedCalls := 0
			dropped := runRound(ctx, opt, &c, func() {
				openedCalls++
				go func() {
					// The bound only keeps a broken build from hanging the
					// test; the counts below then say what went wrong.
					for give := time.Now().Add(10 * time.Second); tt.until != nil && !tt.until(&c, &served) && time.Now().Before(give); {
						time.Sleep(time.Millisecond)
					}
					cancel()
				}()
			})
			if openedCalls != 1 {
				t.Errorf("opened called %d times, want once", openedCalls)
			}
			got := map[string]int64{
				"opened": c.opened.Load(), "dialFailed": c.dialFailed.Load(), "requestFailed": c.requestFailed.Load(),
				"non2xx": c.non2xx.Load(), "dropped": c.dropped.Load(),
			}
			// These depend on timing in some cases, so they are checked only
			// where a case pins them.
			if _, pinned := tt.want["requests"]; pinned {
				got["requests"] = c.requests.Load()
			}
			if _, pinned := tt.want["peak"]; pinned {
				got["peak"] = c.peakOpen.Load()
			}
			for k := range got {
				if got[k] != tt.want[k] {
					t.Errorf("%s = %d, want %d (all: %v)", k, got[k], tt.want[k], got)
				}
			}
			if dropped != c.dropped.Load() {
				t.Errorf("runRound returned %d dropped, counters say %d", dropped, c.dropped.Load())
			}
			if open := c.open.Load(); open != 0 {
				t.Errorf("%d connections still counted open after the round", open)
			}
		})
	}
}

// TestRunRoundClosesEveryConnection checks the server sees every connection
// go away when the round ends, so rounds do not leak into each other.
func TestRunRoundClosesEveryConnection(t *testing.T) {
	const n = 10
	var active atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			active.Add(1)
		case http.StateClosed, http.StateHijacked:
			active.Add(-1)
		}
	}
	srv.Start()
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	ctx, cancel := context.WithCancel(context.Background())
	var c counters
	runRound(ctx, options{addr: addr, host: addr, path: "/", n: n, dialers: 2, retries: 3, timeout: 5 * time.Second}, &c, func() {
		if got := active.Load(); got != n {
			t.Errorf("server sees %d connections once the round opened, want %d", got, n)
		}
		cancel()
	})
	for active.Load() != 0 {
		time.Sleep(time.Millisecond) // the server notices the close asynchronously
	}
}
