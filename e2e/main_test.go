package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// These tests build the real binary and talk to it over TCP, as users do.

var binary string

func TestMain(m *testing.M) {
	// The tests build and read the repository: work from its root.
	if err := os.Chdir(".."); err != nil {
		panic(err)
	}
	dir, err := os.MkdirTemp("", "warmkv-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "warmkv")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building warmkv:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

type server struct {
	cmd    *exec.Cmd
	base   string
	port   int
	stderr *syncBuffer
	done   chan error
}

// syncBuffer collects the server's log while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// start runs the binary with env on a free loopback port and waits for /healthz.
func start(t *testing.T, env ...string) *server {
	t.Helper()
	return startCommand(t, []string{binary}, env...)
}

// startCommand is start with the command line that runs the binary, for a
// wrapper that changes its limits.
func startCommand(t *testing.T, argv []string, env ...string) *server {
	t.Helper()
	port := freePort(t)
	s := &server{port: port, base: fmt.Sprintf("http://127.0.0.1:%d", port), stderr: new(syncBuffer), done: make(chan error, 1)}
	s.cmd = exec.Command(argv[0], argv[1:]...)
	// RESP_PORT=0: tests run in parallel and must not all claim Redis-protocol port 6380.
	s.cmd.Env = append(os.Environ(), append([]string{"PORT=" + strconv.Itoa(port), "BIND=127.0.0.1", "MAX_MEMORY=64MiB", "RESP_PORT=0"}, env...)...)
	s.cmd.Stderr = s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		<-s.done
		if t.Failed() {
			t.Logf("server log:\n%s", s.stderr)
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(s.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s
			}
		}
		select {
		case err := <-s.done:
			s.done <- err
			t.Fatalf("server exited during start: %v\n%s", err, s.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not become healthy\n%s", s.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *server) do(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, s.base+path, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestBinaryServesTheContract(t *testing.T) {
	s := start(t)
	if code, body := s.do(t, "POST", "/put", `{"key":"name","value":"Andrew"}`); code != 200 ||
		body != `{"status":"OK","message":"Key inserted/updated successfully."}` {
		t.Fatalf("put: %d %s", code, body)
	}
	if code, body := s.do(t, "GET", "/get?key=name", ""); code != 200 || body != `{"status":"OK","key":"name","value":"Andrew"}` {
		t.Fatalf("get: %d %s", code, body)
	}
	if code, body := s.do(t, "GET", "/get?key=nobody", ""); code != 404 || body != `{"status":"ERROR","message":"Key not found."}` {
		t.Fatalf("get missing: %d %s", code, body)
	}
	if code, body := s.do(t, "GET", "/home", ""); code != 200 || !strings.Contains(body, "warmkv") {
		t.Fatalf("home: %d, %d bytes", code, len(body))
	}
	if code, body := s.do(t, "POST", "/put", `{"key":"k","value":"`+strings.Repeat("x", 20000)+`"}`); code != 413 {
		t.Fatalf("oversized body: %d %s", code, body)
	}
	if code, body := s.do(t, "GET", "/get?key=name", ""); code != 200 || !strings.Contains(body, "Andrew") {
		t.Fatalf("after bad input the stored key is gone: %d %s", code, body)
	}
	_, stats := s.do(t, "GET", "/stats", "")
	if !strings.Contains(stats, `"memoryBudget":67108864`) || !strings.Contains(stats, `"deployment":"standalone"`) {
		t.Fatalf("stats do not reflect MAX_MEMORY=64MiB: %s", stats)
	}
	if !strings.Contains(s.stderr.String(), "memory_budget_source=MAX_MEMORY") {
		t.Fatalf("startup log does not say where the budget came from:\n%s", s.stderr)
	}
}

func TestBinaryRefusesBadConfiguration(t *testing.T) {
	tests := []struct{ env, mention string }{
		{"MAX_MEMORY=lots", "MAX_MEMORY"},
		{"PORT=abc", "PORT"},
		{"SHUTDOWN_TIMEOUT=10", "SHUTDOWN_TIMEOUT"},
		{"SIZE=-1", "SIZE"},
		{"MAX_KEY_LENGTH=0", "MAX_KEY_LENGTH"},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			cmd := exec.Command(binary)
			cmd.Env = append(os.Environ(), "PORT=0", "MAX_MEMORY=64MiB", tt.env)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			done := make(chan error, 1)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("exited 0 on invalid configuration")
				}
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatal("did not exit at once on invalid configuration")
			}
			if !strings.Contains(stderr.String(), tt.mention) {
				t.Fatalf("error does not name %s:\n%s", tt.mention, stderr.String())
			}
		})
	}
}

func TestBinaryDrainsInFlightRequestsOnSIGTERM(t *testing.T) {
	s := start(t, "SHUTDOWN_TIMEOUT=5s")
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"key":"late","value":"still answered"}`
	// Half a request is in flight when the signal arrives...
	fmt.Fprintf(conn, "POST /put HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body[:10])
	time.Sleep(100 * time.Millisecond)
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	// ...and its rest after: it must still be answered in full.
	fmt.Fprint(conn, body[10:])
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request failed during shutdown: %v", err)
	}
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(got), "successfully") {
		t.Fatalf("in-flight request: %d %s", resp.StatusCode, got)
	}
	select {
	case err := <-s.done:
		s.done <- err
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server did not exit within its grace period")
	}
}

func TestHealthcheckFlag(t *testing.T) {
	s := start(t)
	probe := func() error {
		cmd := exec.Command(binary, "-healthcheck")
		cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(s.port))
		return cmd.Run()
	}
	if err := probe(); err != nil {
		t.Fatalf("healthcheck against a healthy server: %v", err)
	}
	_ = s.cmd.Process.Kill()
	err := <-s.done
	s.done <- err
	if err := probe(); err == nil {
		t.Fatal("healthcheck passed with the server down")
	}
}

func TestBinaryEnforcesAuthToken(t *testing.T) {
	s := start(t, "AUTH_TOKEN=let-me-in", "CORS_ORIGINS=https://app.example")
	if code, _ := s.do(t, "GET", "/get?key=k", ""); code != 401 {
		t.Fatalf("without the token: %d, want 401", code)
	}
	req, _ := http.NewRequest("GET", s.base+"/get?key=k", nil)
	req.Header.Set("Authorization", "Bearer let-me-in")
	req.Header.Set("Origin", "https://app.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Fatalf("with the token from an allowed origin: %d, ACAO %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}
	if code, _ := s.do(t, "GET", "/healthz", ""); code != 200 {
		t.Fatalf("healthz must stay public: %d", code)
	}
}
