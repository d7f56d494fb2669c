package server

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warmkv/warmkv/cache"
	"github.com/warmkv/warmkv/internal/testsupport"
	"github.com/warmkv/warmkv/snapshot"
)

// TestServeDrainsBothDoorsThenSnapshots runs the server in this process: a
// write over HTTP and one over the Redis protocol are both answered, then
// the shutdown (ctx done, as on SIGTERM) drains both doors, exits 0 and
// leaves a snapshot holding both writes.
func TestServeDrainsBothDoorsThenSnapshots(t *testing.T) {
	httpPort, respPort := testsupport.FreePort(t), testsupport.FreePort(t)
	path := filepath.Join(t.TempDir(), "warmkv.snap")
	a := buildApp(t, map[string]string{
		"PORT": fmt.Sprint(httpPort), "BIND": "127.0.0.1",
		"RESP_PORT": fmt.Sprint(respPort), "SNAPSHOT_PATH": path,
	})
	d, err := open(a)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exited := make(chan int, 1)
	go func() { exited <- d.serve(ctx) }()

	resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/put", httpPort), "application/json",
		strings.NewReader(`{"key":"over-http","value":"1"}`))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("PUT over HTTP: %d", resp.StatusCode)
	}
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", respPort))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = fmt.Fprint(conn, "SET over-resp 2\r\n")
	if line, _ := bufio.NewReader(conn).ReadString('\n'); line != "+OK\r\n" {
		t.Fatalf("SET over RESP: %q", line)
	}

	cancel()
	select {
	case code := <-exited:
		if code != 0 {
			t.Fatalf("exit code %d after a clean shutdown, want 0", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return after its context ended")
	}
	if _, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", httpPort)); err == nil {
		t.Error("the HTTP port is still open after the shutdown")
	}
	restored, err := cache.New(cache.Options{MaxBytes: 1 << 20, ReapInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer restored.Close()
	if _, err := snapshot.Load(path, restored, time.Now()); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{"over-http": "1", "over-resp": "2"} {
		if got, ok, _ := restored.Get(key); !ok || got != want {
			t.Errorf("the last snapshot has %s = %q (found %v), want %q", key, got, ok, want)
		}
	}
}

// TestOpenReleasesTheHTTPPortWhenRESPCannotListen: a failed start leaves no
// port open behind it.
func TestOpenReleasesTheHTTPPortWhenRESPCannotListen(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = taken.Close() }()
	httpPort := testsupport.FreePort(t)
	a := buildApp(t, map[string]string{
		"PORT": fmt.Sprint(httpPort), "BIND": "127.0.0.1",
		"RESP_PORT": fmt.Sprint(taken.Addr().(*net.TCPAddr).Port),
	})
	if _, err := open(a); err == nil {
		t.Fatal("open succeeded with the Redis-protocol port in use")
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", httpPort))
	if err != nil {
		t.Fatalf("the HTTP port stayed open after the failed start: %v", err)
	}
	_ = ln.Close()
}
