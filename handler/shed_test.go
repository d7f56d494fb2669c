package handler

import (
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/warmkv/warmkv/cache"
)

func TestMaxInFlightOption(t *testing.T) {
	for _, tc := range []struct {
		option int
		want   int64
	}{
		{-1, 0}, // disabled
		{0, int64(inFlightPerProc * runtime.GOMAXPROCS(0))},
		{1, 1},
		{500, 500},
	} {
		if got := maxInFlight(tc.option); got != tc.want {
			t.Errorf("maxInFlight(%d) = %d, want %d", tc.option, got, tc.want)
		}
	}
}

// blockedHandler builds a handler whose POST /snapshot stays inside the core
// until release is closed, so a test can hold places in flight at will.
func blockedHandler(t *testing.T, maxInFlight int) (h *Handler, entered chan struct{}, release chan struct{}) {
	t.Helper()
	store, err := cache.New(cache.Options{MaxBytes: 32 << 20, ReapInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	entered, release = make(chan struct{}, 8), make(chan struct{})
	h, err = New(Options{
		Store: store, MaxKeyLength: 256, MaxValueLength: 256, MaxBodyBytes: 16 << 10,
		Public: testPublic, Deployment: "standalone", Version: "test",
		CORSOrigins: []string{"*"},
		MaxInFlight: maxInFlight,
		Snapshot: func() (int, error) {
			entered <- struct{}{}
			<-release
			return 0, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return h, entered, release
}

func fastFace(t *testing.T, h *Handler) face {
	for _, f := range faces(t, h) {
		if f.name == "fasthttp" {
			return f
		}
	}
	t.Fatal("no fasthttp face")
	return face{}
}

// holdInFlight starts n POST /snapshot requests and returns once all are inside
// the core; their responses arrive on the returned channel after release.
func holdInFlight(t *testing.T, f face, entered chan struct{}, n int) chan int {
	t.Helper()
	done := make(chan int, n)
	for range n {
		go func() {
			resp := f.do(t, httpRequest("POST", "/snapshot", ""))
			resp.Body.Close()
			done <- resp.StatusCode
		}()
	}
	for range n {
		<-entered
	}
	return done
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestShedsPastMaxInFlight(t *testing.T) {
	const limit = 2
	h, entered, release := blockedHandler(t, limit)
	f := fastFace(t, h)
	done := holdInFlight(t, f, entered, limit)

	// Every limited route is refused while the places are taken, whatever it
	// would have answered: a hit, a miss, a write, an unknown path.
	for _, tc := range []struct{ method, target, body string }{
		{"GET", "/get?key=absent", ""},
		{"POST", "/put", putBody("k", "v")},
		{"GET", "/stats", ""},
		{"GET", "/home", ""},
		{"GET", "/no-such-path", ""},
	} {
		req := httpRequest(tc.method, tc.target, tc.body)
		req.Header.Set("Origin", "https://app.example")
		resp := f.do(t, req)
		body := readBody(t, resp)
		if resp.StatusCode != 503 {
			t.Errorf("%s %s with %d in flight: status %d, want 503 (%s)", tc.method, tc.target, limit, resp.StatusCode, body)
			continue
		}
		if got := resp.Header.Get("Retry-After"); got != "1" {
			t.Errorf("%s %s: Retry-After %q, want \"1\"", tc.method, tc.target, got)
		}
		if want := `{"status":"ERROR","message":"` + msgOverloaded + `"}`; body != want {
			t.Errorf("%s %s: body %s, want %s", tc.method, tc.target, body, want)
		}
		if ct := resp.Header.Get("Content-Type"); ct != contentTypeJSON {
			t.Errorf("%s %s: Content-Type %q", tc.method, tc.target, ct)
		}
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got == "" {
			t.Errorf("%s %s: the 503 lost its CORS header, so a browser page could not read it", tc.method, tc.target)
		}
		if resp.Close {
			t.Errorf("%s %s: the 503 closed the connection; reconnecting costs more than the refusal saves", tc.method, tc.target)
		}
	}

	// The health check and the metrics are exempt: an overloaded instance is
	// alive, and overload is when its numbers matter.
	for _, path := range []string{"/healthz", "/metrics"} {
		if resp := f.do(t, httpRequest("GET", path, "")); resp.StatusCode != 200 {
			t.Errorf("%s while overloaded: status %d, want 200", path, resp.StatusCode)
		} else {
			resp.Body.Close()
		}
	}

	close(release)
	for range limit {
		if status := <-done; status != 200 {
			t.Errorf("a request admitted before the limit was reached answered %d, want 200", status)
		}
	}
	// The places are given back: requests are served again.
	resp := f.do(t, httpRequest("GET", "/get?key=absent", ""))
	if body := readBody(t, resp); resp.StatusCode != 404 {
		t.Errorf("after the in-flight requests finished: status %d, want 404 (%s)", resp.StatusCode, body)
	}
	if n := h.admission.inFlight.Load(); n != 0 {
		t.Errorf("in flight after every request finished: %d, want 0", n)
	}

	// Refusals are counted in the metrics like any other answer.
	metrics := readBody(t, f.do(t, httpRequest("GET", "/metrics", ""))) //nolint:bodyclose // readBody closes it
	if !strings.Contains(metrics, `warmkv_http_requests_total{route="/get",status="503"} 1`) {
		t.Errorf("metrics do not count the refused GET:\n%s", grepLines(metrics, "warmkv_http_requests_total"))
	}
	// And apart, so that a dashboard tells shedding from a shared tier's 503s.
	if !strings.Contains(metrics, "\nwarmkv_http_requests_shed_total 5\n") {
		t.Errorf("metrics do not count the 5 shed requests apart:\n%s", grepLines(metrics, "shed"))
	}
}

func TestNotShed(t *testing.T) {
	for _, tc := range []struct {
		name        string
		maxInFlight int
		held        int
	}{
		{"below the bound", 2, 1},
		{"a negative bound disables shedding", -1, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, entered, release := blockedHandler(t, tc.maxInFlight)
			f := fastFace(t, h)
			done := holdInFlight(t, f, entered, tc.held)
			resp := f.do(t, httpRequest("GET", "/get?key=absent", ""))
			if body := readBody(t, resp); resp.StatusCode != 404 {
				t.Errorf("MAX_IN_FLIGHT %d with %d in flight: status %d, want 404 (%s)", tc.maxInFlight, tc.held, resp.StatusCode, body)
			}
			close(release)
			for range tc.held {
				<-done
			}
		})
	}
}

func grepLines(s, substr string) string {
	var out []string
	for line := range strings.SplitSeq(s, "\n") {
		if strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
