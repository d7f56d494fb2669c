package handler

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warmkv/warmkv/cache"
)

// testClock drives both the handler (ttl arithmetic) and the cache (expiry) so
// that expiry tests never sleep.
type testClock struct{ ns atomic.Int64 }

func (c *testClock) time() time.Time         { return time.Unix(0, c.ns.Load()) }
func (c *testClock) unixNano() int64         { return c.ns.Load() }
func (c *testClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func newClockedHandler(t testing.TB) (*Handler, *testClock) {
	t.Helper()
	clock := &testClock{}
	clock.ns.Store(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	store, err := cache.New(cache.Options{MaxBytes: 32 << 20, ReapInterval: -1, Clock: clock.unixNano})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	h, err := New(Options{Store: store, MaxKeyLength: 256, MaxValueLength: 256, MaxBodyBytes: 16 << 10,
		Deployment: "standalone", Version: "test", Now: clock.time})
	if err != nil {
		t.Fatal(err)
	}
	return h, clock
}

// call runs one request through the net/http face and returns status and body;
// the exchange is checked against openapi.yaml (checkExchange).
func call(t testing.TB, h http.Handler, method, target, jsonBody string) (int, string) {
	t.Helper()
	var body io.Reader
	if jsonBody != "" {
		body = strings.NewReader(jsonBody)
	}
	req := httptest.NewRequest(method, target, body)
	if jsonBody != "" {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	sent := req.Clone(context.Background())
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	checkExchange(t, sent, []byte(jsonBody), rec.Code, rec.Result().Header, rec.Body.Bytes())
	return rec.Code, rec.Body.String()
}

func kv(key, value string) string {
	k, _ := json.Marshal(key)
	v, _ := json.Marshal(value)
	return `{"status":"OK","key":` + string(k) + `,"value":` + string(v) + `}`
}

const (
	okSet     = `{"status":"OK","message":"Key inserted/updated successfully."}`
	okDeleted = `{"status":"OK","message":"Key deleted."}`
	okFlushed = `{"status":"OK","message":"Cache flushed."}`
)

// step is one request in a scenario and what must come back. A wantBody starting
// with "~" only needs to be contained in the body.
type step struct {
	method, target, json string
	wantStatus           int
	wantBody             string
}

func runSteps(t *testing.T, h http.Handler, steps []step) {
	t.Helper()
	for i, s := range steps {
		code, body := call(t, h, s.method, s.target, s.json)
		match := body == s.wantBody
		if strings.HasPrefix(s.wantBody, "~") {
			var env struct{ Message string }
			_ = json.Unmarshal([]byte(body), &env)
			match = strings.Contains(env.Message, s.wantBody[1:])
		}
		if code != s.wantStatus || !match {
			t.Fatalf("step %d %s %s %s:\n got %d %s\nwant %d %s", i, s.method, s.target, s.json, code, body, s.wantStatus, s.wantBody)
		}
	}
}

func TestOperations(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{
		{"set by query, get", []step{
			{"GET", "/set?key=name&value=Andrew", "", 200, okSet},
			{"GET", "/get?key=name", "", 200, kv("name", "Andrew")},
		}},
		{"set by POST query", []step{
			{"POST", "/set?key=name&value=Andrew", "", 200, okSet},
			{"GET", "/get?key=name", "", 200, kv("name", "Andrew")},
		}},
		{"set by JSON body", []step{
			{"POST", "/set", `{"key":"name","value":"Vimla"}`, 200, okSet},
			{"GET", "/get?key=name", "", 200, kv("name", "Vimla")},
		}},
		{"JSON body is the only source", []step{
			{"POST", "/set?key=fromquery&value=x", `{"key":"fromjson","value":"y"}`, 200, okSet},
			{"GET", "/get?key=fromquery", "", 404, bodyKeyNotFound},
			{"GET", "/get?key=fromjson", "", 200, kv("fromjson", "y")},
		}},
		{"repeated query parameter", []step{
			{"GET", "/set?key=a&value=1&value=2", "", 400, `~given more than once`},
		}},
		{"set validates like put", []step{
			{"GET", "/set?key=&value=x", "", 400, `~must not be empty`},
			{"GET", "/set?key=k", "", 400, `~Missing "value"`},
			{"GET", "/set?key=k&value=" + strings.Repeat("x", 257), "", 400, `~at most 256`},
		}},
		{"delete", []step{
			{"GET", "/set?key=d&value=1", "", 200, okSet},
			{"POST", "/delete", `{"key":"d"}`, 200, okDeleted},
			{"GET", "/delete?key=d", "", 404, bodyKeyNotFound},
			{"GET", "/get?key=d", "", 404, bodyKeyNotFound},
		}},
		{"checkandset", []step{
			{"GET", "/checkandset?key=c&value=1&compare=x", "", 200, kv("c", "1")}, // absent: sets
			{"GET", "/checkandset?key=c&value=2&compare=wrong", "", 409, `~does not match`},
			{"GET", "/get?key=c", "", 200, kv("c", "1")},
			{"POST", "/checkandset", `{"key":"c","value":"2","compare":"1"}`, 200, kv("c", "2")},
			{"GET", "/checkandset?key=c&value=3", "", 400, `~Missing "compare"`},
			{"POST", "/checkandset", `{"key":"c","value":"3","compare":5}`, 400, `~"compare" must be a string`},
		}},
		{"increment and decrement", []step{
			{"GET", "/increment?key=n&value=5", "", 200, kv("n", "5")},
			{"GET", "/increment?key=n", "", 200, kv("n", "6")},
			{"POST", "/increment", `{"key":"n","value":10}`, 200, kv("n", "16")},
			{"POST", "/increment", `{"key":"n","value":"-20"}`, 200, kv("n", "-4")},
			{"GET", "/decrement?key=m&value=5", "", 200, kv("m", "-5")},
			{"GET", "/decrement?key=n&value=-4", "", 200, kv("n", "0")},
		}},
		{"increment errors change nothing", []step{
			{"GET", "/set?key=s&value=abc", "", 200, okSet},
			{"GET", "/increment?key=s", "", 400, `~not a 64-bit integer`},
			{"GET", "/get?key=s", "", 200, kv("s", "abc")},
			{"GET", "/increment?key=n&value=1.5", "", 400, `~must be an integer`},
			{"POST", "/increment", `{"key":"n","value":1.5}`, 400, `~must be an integer`},
			{"POST", "/increment", `{"key":"n","value":true}`, 400, `~must be an integer`},
			{"GET", "/get?key=n", "", 404, bodyKeyNotFound},
			{"GET", "/set?key=big&value=9223372036854775807", "", 200, okSet},
			{"GET", "/increment?key=big", "", 400, `~overflow`},
			{"GET", "/decrement?key=big&value=-9223372036854775808", "", 400, `~overflow`},
			{"GET", "/get?key=big", "", 200, kv("big", "9223372036854775807")},
			{"GET", "/increment?key=n&value=99999999999999999999", "", 400, `~must be an integer`},
		}},
		{"append and prepend", []step{
			{"GET", "/append?key=a&value=mid", "", 200, kv("a", "mid")},
			{"GET", "/append?key=a&value=-end", "", 200, kv("a", "mid-end")},
			{"POST", "/prepend", `{"key":"a","value":"start-"}`, 200, kv("a", "start-mid-end")},
			{"GET", "/append?key=a&value=" + strings.Repeat("x", 250), "", 400, `~longer than 256 characters`},
			{"GET", "/get?key=a", "", 200, kv("a", "start-mid-end")},
			{"GET", "/append?key=a", "", 400, `~Missing "value"`},
		}},
		{"append counts code points", []step{
			{"POST", "/set", `{"key":"e","value":"` + strings.Repeat("é", 255) + `"}`, 200, okSet},
			{"POST", "/append", `{"key":"e","value":"😀"}`, 200, kv("e", strings.Repeat("é", 255)+"😀")},
			{"POST", "/append", `{"key":"e","value":"😀"}`, 400, `~longer than 256`},
		}},
		{"flush", []step{
			{"GET", "/set?key=a&value=1", "", 200, okSet},
			{"POST", "/flush", "", 200, okFlushed},
			{"GET", "/get?key=a", "", 404, bodyKeyNotFound},
		}},
		{"methods", []step{
			{"DELETE", "/delete?key=a", "", 405, `~use GET, POST`},
			{"PUT", "/set?key=a&value=b", "", 405, `~not allowed`},
		}},
		{"expire and ttl together", []step{
			{"GET", "/set?key=a&value=1&expire=1893456000&ttl=5", "", 400, `~either "expire" or "ttl"`},
		}},
		{"bad expiry values", []step{
			{"GET", "/set?key=a&value=1&ttl=0", "", 400, `~"ttl" must be a positive`},
			{"GET", "/set?key=a&value=1&ttl=-5", "", 400, `~"ttl" must be a positive`},
			{"GET", "/set?key=a&value=1&expire=-1", "", 400, `~"expire" must be a Unix time`},
			{"GET", "/set?key=a&value=1&expire=soon", "", 400, `~"expire" must be an integer`},
			{"GET", "/set?key=a&value=1&expire=99999999999999", "", 400, `~"expire" must be a Unix time`},
			{"GET", "/get?key=a", "", 404, bodyKeyNotFound},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := newClockedHandler(t)
			runSteps(t, h, tt.steps)
		})
	}
}

func TestExpiryOverHTTP(t *testing.T) {
	h, clock := newClockedHandler(t)
	now := clock.time().Unix()
	runSteps(t, h, []step{
		{"GET", "/set?key=ttl&value=v&ttl=10", "", 200, okSet},
		{"GET", fmt.Sprintf("/set?key=abs&value=v&expire=%d", now+10), "", 200, okSet},
		{"POST", "/put", `{"key":"put","value":"v","ttl":"10"}`, 200, okSet},
		{"POST", "/set", `{"key":"never","value":"v","expire":0}`, 200, okSet},
	})
	clock.advance(10*time.Second - 1)
	runSteps(t, h, []step{
		{"GET", "/get?key=ttl", "", 200, kv("ttl", "v")},
		{"GET", "/get?key=abs", "", 200, kv("abs", "v")},
		{"GET", "/get?key=put", "", 200, kv("put", "v")},
	})
	clock.advance(1)
	runSteps(t, h, []step{
		{"GET", "/get?key=ttl", "", 404, bodyKeyNotFound},
		{"GET", "/get?key=abs", "", 404, bodyKeyNotFound},
		{"GET", "/get?key=put", "", 404, bodyKeyNotFound},
		{"GET", "/increment?key=ttl", "", 200, kv("ttl", "1")}, // expired counts as absent
		{"GET", "/get?key=never", "", 200, kv("never", "v")},
	})
}

func TestExpireInThePastDeletes(t *testing.T) {
	h, clock := newClockedHandler(t)
	runSteps(t, h, []step{
		{"GET", "/set?key=k&value=v", "", 200, okSet},
		{"GET", fmt.Sprintf("/set?key=k&value=w&expire=%d", clock.time().Unix()-1), "", 200, okSet},
		{"GET", "/get?key=k", "", 404, bodyKeyNotFound},
	})
}

func TestWhichOperationsKeepExpiry(t *testing.T) {
	tests := []struct {
		name      string
		op        step
		keepsTTL  bool
		wantValue string
	}{
		{"set clears", step{"GET", "/set?key=k&value=5", "", 200, okSet}, false, "5"},
		{"put clears", step{"POST", "/put", `{"key":"k","value":"5"}`, 200, okSet}, false, "5"},
		{"increment keeps", step{"GET", "/increment?key=k", "", 200, kv("k", "2")}, true, "2"},
		{"decrement keeps", step{"GET", "/decrement?key=k", "", 200, kv("k", "0")}, true, "0"},
		{"append keeps", step{"GET", "/append?key=k&value=x", "", 200, kv("k", "1x")}, true, "1x"},
		{"prepend keeps", step{"GET", "/prepend?key=k&value=x", "", 200, kv("k", "x1")}, true, "x1"},
		{"checkandset keeps", step{"GET", "/checkandset?key=k&value=9&compare=1", "", 200, kv("k", "9")}, true, "9"},
		{"increment with ttl sets it", step{"GET", "/increment?key=k&ttl=100", "", 200, kv("k", "2")}, false, "2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, clock := newClockedHandler(t)
			runSteps(t, h, []step{{"GET", "/set?key=k&value=1&ttl=10", "", 200, okSet}, tt.op})
			clock.advance(11 * time.Second)
			code, _ := call(t, h, "GET", "/get?key=k", "")
			if gone := code == 404; gone != tt.keepsTTL {
				t.Fatalf("11s after a 10s TTL, key gone = %v; want %v", gone, tt.keepsTTL)
			}
		})
	}
}

func TestConcurrentIncrementsOverHTTP(t *testing.T) {
	h, _ := newClockedHandler(t)
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			for range 1000 {
				if code, body := call(t, h, "GET", "/increment?key=hits", ""); code != 200 {
					t.Errorf("increment: %d %s", code, body)
					return
				}
			}
		})
	}
	wg.Wait()
	runSteps(t, h, []step{{"GET", "/get?key=hits", "", 200, kv("hits", "100000")}})
}

func TestConcurrentCheckAndSetHasOneWinner(t *testing.T) {
	h, _ := newClockedHandler(t)
	runSteps(t, h, []step{{"GET", "/set?key=lock&value=free", "", 200, okSet}})
	var winners, losers atomic.Int32
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			switch code, _ := call(t, h, "GET", fmt.Sprintf("/checkandset?key=lock&compare=free&value=owner%d", i), ""); code {
			case 200:
				winners.Add(1)
			case 409:
				losers.Add(1)
			}
		})
	}
	wg.Wait()
	if winners.Load() != 1 || losers.Load() != 49 {
		t.Fatalf("%d winners and %d losers, want 1 and 49", winners.Load(), losers.Load())
	}
}

func TestMetrics(t *testing.T) {
	h, _ := newClockedHandler(t)
	call(t, h, "GET", "/set?key=a&value=1", "")
	call(t, h, "GET", "/get?key=a", "")
	call(t, h, "GET", "/get?key=b", "")
	call(t, h, "GET", "/nope/1", "")
	call(t, h, "GET", "/nope/2", "")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("metrics: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	body := rec.Body.String()
	for _, want := range []string{
		`warmkv_http_requests_total{route="/get",status="200"} 1`,
		`warmkv_http_requests_total{route="/get",status="404"} 1`,
		`warmkv_http_requests_total{route="/set",status="200"} 1`,
		`warmkv_http_requests_total{route="unmatched",status="404"} 2`,
		`warmkv_http_request_duration_seconds_bucket{route="/get",status="200",le="+Inf"} 1`,
		`warmkv_cache_entries 1`,
		`warmkv_cache_operations_total{event="hit"} 1`,
		`warmkv_cache_operations_total{event="miss"} 1`,
		`warmkv_build_info{deployment="standalone",version="test"} 1`,
		"warmkv_http_requests_shed_total 0",
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestSnapshotRoute(t *testing.T) {
	h, _ := newClockedHandler(t)
	runSteps(t, h, []step{
		{"POST", "/snapshot", "", 409, `~set SNAPSHOT_PATH`},
		{"GET", "/snapshot", "", 405, `~use POST`},
	})
	calls := 0
	h.snapshot = func() (int, error) { calls++; return 42, nil }
	runSteps(t, h, []step{{"POST", "/snapshot", "", 200, `{"status":"OK","message":"Snapshot saved: 42 keys."}`}})
	h.snapshot = func() (int, error) { return 0, fmt.Errorf("disk full") }
	runSteps(t, h, []step{{"POST", "/snapshot", "", 500, `~disk full`}})
	if calls != 1 {
		t.Fatalf("snapshot called %d times, want 1", calls)
	}
}
