package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/warmkv/warmkv/internal/testsupport"
)

// The standalone server as users run it: the plain build, over TCP.

func TestMain(m *testing.M) {
	code := m.Run()
	removeBuilds()
	os.Exit(code)
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
	spec, err := os.ReadFile(repoFile("openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if resp, body := s.request(t, "GET", "/openapi.yaml", ""); resp.StatusCode != 200 || body != string(spec) ||
		resp.Header.Get("Content-Type") != "application/yaml" {
		t.Fatalf("openapi.yaml: %d %q, %d bytes; want openapi.yaml's %d", resp.StatusCode, resp.Header.Get("Content-Type"), len(body), len(spec))
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
	if !strings.Contains(s.log.String(), "memory_budget_source=MAX_MEMORY") {
		t.Fatalf("startup log does not say where the budget came from:\n%s", s.log)
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
			p := launch(t, []string{binary(t, plainBuild)}, append(os.Environ(), "PORT=0", "MAX_MEMORY=64MiB", tt.env))
			if err := p.waitExit(t, 10*time.Second); err == nil {
				t.Fatal("exited 0 on invalid configuration")
			}
			if !strings.Contains(p.log.String(), tt.mention) {
				t.Fatalf("error does not name %s:\n%s", tt.mention, p.log)
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
	s.signal(t, syscall.SIGTERM)
	time.Sleep(100 * time.Millisecond)
	// ...and its rest after: it must still be answered in full.
	fmt.Fprint(conn, body[10:])
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request failed during shutdown: %v", err)
	}
	got, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(got), "successfully") {
		t.Fatalf("in-flight request: %d %s", resp.StatusCode, got)
	}
	if err := s.waitExit(t, 10*time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
}

func TestHealthcheckFlag(t *testing.T) {
	s := start(t)
	probe := func() error {
		cmd := exec.Command(binary(t, plainBuild), "-healthcheck")
		cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(s.port))
		return cmd.Run()
	}
	if err := probe(); err != nil {
		t.Fatalf("healthcheck against a healthy server: %v", err)
	}
	s.kill()
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

// TestBinaryServesRESPBesideHTTP: both doors serve one cache, and SIGTERM
// with a Redis-protocol client connected still ends in a clean exit.
func TestBinaryServesRESPBesideHTTP(t *testing.T) {
	s := startServer(t, serverSpec{resp: true})
	if code, body := s.do(t, "POST", "/put", `{"key":"name","value":"Andrew"}`); code != 200 {
		t.Fatalf("put: %d %s", code, body)
	}
	conn := testsupport.Dial(t, s.respAddr)
	_ = conn.SetDeadline(time.Now().Add(requestTimeout))
	rd := bufio.NewReader(conn)
	_, _ = fmt.Fprint(conn, "GET name\r\nSET from-resp 1\r\n")
	for _, want := range []string{"$6\r\n", "Andrew\r\n", "+OK\r\n"} {
		if line, err := rd.ReadString('\n'); line != want {
			t.Fatalf("over RESP: got %q (%v), want %q", line, err, want)
		}
	}
	if code, body := s.do(t, "GET", "/get?key=from-resp", ""); code != 200 || body != `{"status":"OK","key":"from-resp","value":"1"}` {
		t.Fatalf("a RESP write read over HTTP: %d %s", code, body)
	}
	s.signal(t, syscall.SIGTERM)
	if err := s.waitExit(t, 15*time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	if log := s.log.String(); !strings.Contains(log, "msg=stopped") || strings.Contains(log, "did not finish") {
		t.Errorf("the shutdown did not drain both doors cleanly:\n%s", log)
	}
}
