package server

import (
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/warmkv/warmkv/internal/testsupport"
)

// acceptAll accepts from ln until it is closed and hands over each connection.
func acceptAll(ln net.Listener) chan net.Conn {
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	return accepted
}

func TestConnLimitRefusesWith503(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	ln := newConnLimitListener(raw, 2, slog.New(slog.NewTextHandler(&log, nil)))
	defer ln.Close()
	accepted := acceptAll(ln)
	addr := raw.Addr().String()

	var held []net.Conn
	for range 2 {
		testsupport.Dial(t, addr)
		held = append(held, <-accepted)
	}

	resp, body := testsupport.GetOnNewConn(t, addr, "/get?key=k")
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" || !resp.Close {
		t.Errorf("past the bound: status %d, Retry-After %q, close %v; want 503, 1, true",
			resp.StatusCode, resp.Header.Get("Retry-After"), resp.Close)
	}
	if want := `{"status":"ERROR","message":"Server overloaded: too many connections. Retry later."}`; body != want {
		t.Errorf("body %s, want %s", body, want)
	}
	if !strings.Contains(log.String(), "connection limit reached") {
		t.Errorf("the refusal was not logged: %q", log.String())
	}
	select {
	case c := <-accepted:
		t.Fatalf("a connection past the bound reached the server: %v", c.RemoteAddr())
	default:
	}

	// Closing a held connection (twice, as servers do) frees exactly one place.
	held[0].Close()
	held[0].Close()
	testsupport.Dial(t, addr)
	select {
	case <-accepted:
	case <-time.After(5 * time.Second):
		t.Fatal("the place a closed connection gave back was not reused")
	}
	if resp, _ := testsupport.GetOnNewConn(t, addr, "/get?key=k"); resp.StatusCode != 503 {
		t.Errorf("bound full again: status %d, want 503", resp.StatusCode)
	}
}

func TestConnLimitOff(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if ln := newConnLimitListener(raw, -1, slog.Default()); ln != raw {
		t.Errorf("MAX_CONNS=-1 wrapped the listener: %T", ln)
	}
}
