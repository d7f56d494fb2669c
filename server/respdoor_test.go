package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"
	"testing/fstest"
	"time"

	"github.com/warmkv/warmkv/app"
	"github.com/warmkv/warmkv/cache"
	"github.com/warmkv/warmkv/config"
	"github.com/warmkv/warmkv/internal/redistest"
	"github.com/warmkv/warmkv/internal/testsupport"
)

// buildApp is the standalone app for env, with a quiet logger.
func buildApp(t *testing.T, env map[string]string) *app.App {
	t.Helper()
	all := map[string]string{"MAX_MEMORY": "64MiB", "PORT": "7171"}
	for k, v := range env {
		all[k] = v
	}
	cfg, err := config.Load(config.Env{Getenv: func(name string) string { return all[name] }})
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Build(cfg, fstest.MapFS{}, "test", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

func TestStartRESPServesTheCache(t *testing.T) {
	port := testsupport.FreePort(t)
	a := buildApp(t, map[string]string{"RESP_PORT": fmt.Sprint(port), "AUTH_TOKEN": "tok"})
	srv, served, err := startRESP(a)
	if err != nil || srv == nil {
		t.Fatalf("startRESP: %v, %v", srv, err)
	}
	if err := a.Cache.Set("k", "from the cache", 0); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	rd := bufio.NewReader(conn)
	fmt.Fprint(conn, "GET k\r\nAUTH tok\r\nGET k\r\n")
	for _, want := range []string{"-NOAUTH Authentication required.\r\n", "+OK\r\n", "$14\r\n", "from the cache\r\n"} {
		if line, _ := rd.ReadString('\n'); line != want {
			t.Errorf("got %q, want %q", line, want)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := <-shutdownRESP(ctx, srv); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	if err := <-served; err == nil {
		t.Error("Serve returned nil")
	}
}

func TestStartRESPOff(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"RESP_PORT=0": {"RESP_PORT": "0"},
		"Vercel":      {"VERCEL": "1"},
	} {
		a := buildApp(t, env)
		srv, served, err := startRESP(a)
		if srv != nil || served != nil || err != nil {
			t.Errorf("%s: startRESP = %v, %v, %v; want nothing started", name, srv, served, err)
		}
		if err := <-shutdownRESP(context.Background(), nil); err != nil {
			t.Errorf("%s: shutdown of no server: %v", name, err)
		}
	}
}

func TestStartRESPPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a := buildApp(t, map[string]string{"RESP_PORT": fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)})
	if _, _, err := startRESP(a); err == nil {
		t.Error("startRESP succeeded on a port in use")
	}
}

// stallingStore holds a Get of one key until released, as a shared tier
// holds a command while the network is slow.
type stallingStore struct {
	cache.Store
	key     string
	entered chan struct{}
	release chan struct{}
}

func (s stallingStore) Get(key string) (string, bool, error) {
	if key == s.key {
		close(s.entered)
		<-s.release
	}
	return s.Store.Get(key)
}

// TestStartRESPDoesNotQueueConnectionsBehindTheTier: with a shared tier a
// command may wait on the network for up to REDIS_TIMEOUT, and another
// connection's command must not wait behind it. (An epoll event loop runs
// its connections' commands one after another: under 50-500 ms of latency
// to Redis, GETs took 1.5 s with REDIS_TIMEOUT=500ms.)
func TestStartRESPDoesNotQueueConnectionsBehindTheTier(t *testing.T) {
	redis := redistest.Start(t)
	port := testsupport.FreePort(t)
	a := buildApp(t, map[string]string{"RESP_PORT": fmt.Sprint(port), "REDIS_URL": redis.URL()})
	stall := stallingStore{Store: a.Store, key: "slow", entered: make(chan struct{}), release: make(chan struct{})}
	a.Store = stall
	srv, served, err := startRESP(a)
	if err != nil || srv == nil {
		t.Fatalf("startRESP: %v, %v", srv, err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	slow := testsupport.Dial(t, addr)
	fmt.Fprint(slow, "GET slow\r\n")
	<-stall.entered

	other := testsupport.Dial(t, addr)
	_ = other.SetDeadline(time.Now().Add(5 * time.Second)) // only a guard against hanging: PONG comes at once or never
	fmt.Fprint(other, "PING\r\n")
	line, err := bufio.NewReader(other).ReadString('\n')
	close(stall.release)
	if line != "+PONG\r\n" {
		t.Fatalf("PING on another connection while a command waited on the tier: %q, %v", line, err)
	}
	_ = slow.SetDeadline(time.Now().Add(5 * time.Second))
	if line, err := bufio.NewReader(slow).ReadString('\n'); line != "$-1\r\n" {
		t.Errorf("the held GET: %q, %v", line, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := <-shutdownRESP(ctx, srv); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	if err := <-served; err == nil {
		t.Error("Serve returned nil")
	}
}
