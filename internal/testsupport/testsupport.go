// Package testsupport holds the small helpers that the tests of several
// packages share: a free loopback port, a log buffer that processes and
// goroutines can write to while the test reads it, waiting for a condition,
// and raw HTTP/1.1 on a connection of the test's own.
//
// The end-to-end harness that builds and runs the binaries is package e2e;
// redis-server processes are package redistest.
package testsupport

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// FreeAddr is a loopback address, 127.0.0.1:port, that nobody listened on a
// moment ago.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().String(), nil
}

// FreePort is the port of a FreeAddr.
func FreePort(tb testing.TB) int {
	tb.Helper()
	addr, err := FreeAddr()
	if err != nil {
		tb.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(addr)
	n, err := strconv.Atoi(port)
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// LogBuffer collects a log that others write while the test reads it.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Tail returns the last n lines, saying how many it left out: a failed
// test shows its processes' logs, and a busy server's whole log would push
// the failure itself out of what a CI system keeps of the output.
func (b *LogBuffer) Tail(n int) string {
	lines := strings.SplitAfter(b.String(), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if len(lines) <= n {
		return strings.Join(lines, "")
	}
	return fmt.Sprintf("[%d earlier lines left out]\n", len(lines)-n) + strings.Join(lines[len(lines)-n:], "")
}

// WaitFor polls cond every millisecond until it holds, and returns how long
// that took. The limit only stops a broken test from hanging: past it the
// test fails, naming what it waited for.
func WaitFor(tb testing.TB, what string, limit time.Duration, cond func() bool) time.Duration {
	tb.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			tb.Fatalf("waited %v for %s", limit, what)
		}
		time.Sleep(time.Millisecond)
	}
	return time.Since(start)
}

// Dial opens a connection to addr that is closed when the test ends.
func Dial(tb testing.TB, addr string) net.Conn {
	tb.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// Answer is a response read in full: the parts tests look at, its body beside
// it as a string, so no caller holds a body to close.
type Answer struct {
	StatusCode int
	Header     http.Header
	Close      bool // the server said Connection: close
}

// GetOnNewConn sends GET target on a new connection to addr, written by hand
// so that no client library retries or pools it, and reads the answer.
func GetOnNewConn(tb testing.TB, addr, target string) (Answer, string) {
	tb.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "GET "+target+" HTTP/1.1\r\nHost: warmkv\r\n\r\n"); err != nil {
		tb.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		tb.Fatalf("reading the answer: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	return Answer{resp.StatusCode, resp.Header, resp.Close}, string(body)
}
