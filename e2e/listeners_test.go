package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/warmkv/warmkv/internal/testsupport"
)

// TestBinaryKeepsServingOutOfFileDescriptors runs the server with 64 open
// files and opens far more connections than that: fasthttp alone stops
// serving for good at the first EMFILE.
func TestBinaryKeepsServingOutOfFileDescriptors(t *testing.T) {
	const limit, conns = 64, 200
	s := startServer(t, serverSpec{argv: []string{"sh", "-c", fmt.Sprintf(`ulimit -n %d && exec "$0"`, limit), binary(t, plainBuild)}})
	if code, _ := s.do(t, "POST", "/put", `{"key":"k","value":"kept"}`); code != 200 {
		t.Fatalf("put: %d", code)
	}
	keep := make([]net.Conn, 0, conns)
	for range conns {
		c, err := net.Dial("tcp", s.base[len("http://"):])
		if err != nil {
			break // the backlog is full; enough are waiting
		}
		keep = append(keep, c)
	}
	s.waitForLog(t, "cannot accept connections", 10*time.Second)
	for _, c := range keep {
		c.Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body, err := tryGet(s.base + "/get?key=k")
		if err == nil && code == 200 && strings.Contains(body, `"value":"kept"`) {
			break
		}
		s.failIfExited(t, "when out of file descriptors")
		if time.Now().After(deadline) {
			t.Fatalf("server does not serve after the connections closed: %d %s %v", code, body, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.waitForLog(t, "accepting connections again", 10*time.Second)
}

// TestBinaryRunsAtTheHardFileLimit starts the server with a soft open-file
// limit of 256, as a shell or a container may give it, and checks that it
// runs with the hard limit all the same: the Go runtime raises the soft limit
// to the hard one minus one as it starts (go.dev/issue/46279), which is why
// warmkv only reads and logs it.
func TestBinaryRunsAtTheHardFileLimit(t *testing.T) {
	s := startServer(t, serverSpec{argv: []string{"sh", "-c", `ulimit -Sn 256 && exec "$0"`, binary(t, plainBuild)}})
	m := regexp.MustCompile(`nofile\.soft=(\d+) nofile\.hard=(\d+)`).FindStringSubmatch(s.log.String())
	if m == nil {
		t.Fatalf("no open file limit in the startup log:\n%s", s.log)
	}
	soft, _ := strconv.ParseUint(m[1], 10, 64)
	hard, _ := strconv.ParseUint(m[2], 10, 64)
	if hard > 257 && soft < hard-1 {
		t.Errorf("started with a soft limit of 256, runs with soft %d, hard %d: want the hard limit (minus one)", soft, hard)
	}
}

// tryGet is one GET on a fresh connection, with its error returned rather than
// fatal, for polling.
func tryGet(url string) (int, string, error) {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// TestBinaryBoundsConnections checks MAX_CONNS end to end: idle keep-alive
// connections take the places, the next client gets a 503 it can read, and
// is served once a place is free.
func TestBinaryBoundsConnections(t *testing.T) {
	s := start(t, "MAX_CONNS=3")
	addr := s.base[len("http://"):]
	var idle []net.Conn
	for range 3 {
		idle = append(idle, testsupport.Dial(t, addr))
	}
	// start's health checks may still hold a keep-alive connection; wait for the
	// bound to be full, then check the answer.
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, body := testsupport.GetOnNewConn(t, addr, "/get?key=k")
		if resp.StatusCode == 503 {
			if resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "too many connections") {
				t.Errorf("503 without Retry-After or the envelope: %v %s", resp.Header, body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("with MAX_CONNS=3 and 3 idle connections, a fourth was served: %d %s", resp.StatusCode, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, c := range idle {
		c.Close()
	}
	deadline = time.Now().Add(5 * time.Second)
	for {
		resp, _ := testsupport.GetOnNewConn(t, addr, "/get?key=k")
		if resp.StatusCode == 404 { // served: key k was never written
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the idle connections closed: status %d, want 404", resp.StatusCode)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
