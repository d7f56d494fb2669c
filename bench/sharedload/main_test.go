package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// warm and zipf compare whole answers with what warmkv sends for a key it
// holds. (That the keys and values match bench/preload's is
// internal/keyspace's test.)
func TestGetBody(t *testing.T) {
	if got, want := string(getBody("k1", []byte("v"))), `{"status":"OK","key":"k1","value":"v"}`; got != want {
		t.Errorf("getBody = %s, want %s", got, want)
	}
}

func TestPercentile(t *testing.T) {
	ten := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, tc := range []struct {
		values []time.Duration
		p      float64
		want   time.Duration
	}{
		{nil, 50, 0},
		{[]time.Duration{7}, 99, 7},
		{ten, 50, 5},
		{ten, 90, 9},
		{ten, 99, 10},
		{ten, 100, 10},
		{ten, 1, 1},
	} {
		if got := percentile(tc.values, tc.p); got != tc.want {
			t.Errorf("percentile(%v, %v) = %v, want %v", tc.values, tc.p, got, tc.want)
		}
	}
}

func TestIdealHitRatio(t *testing.T) {
	for _, tc := range []struct {
		n        int
		capacity int64
		s        float64
		want     float64
	}{
		{10, 0, 1.1, 0},
		{10, 10, 1.1, 1},
		{10, 20, 1.1, 1},
		{2, 1, 2, 0.8}, // 1 / (1 + 1/4)
	} {
		if got := idealHitRatio(tc.n, tc.capacity, tc.s); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("idealHitRatio(%d, %d, %v) = %v, want %v", tc.n, tc.capacity, tc.s, got, tc.want)
		}
	}
}

func TestStatsDelta(t *testing.T) {
	before, err := parseStats([]byte(`{"status":"OK","keyCount":5,"maxSize":10,"shared":{"connected":true,"keyCount":-1,
		"localHits":10,"sharedHits":5,"sharedMisses":1,"staleReads":0,"unavailable":0,"invalidations":3,"resyncs":1}}`))
	if err != nil {
		t.Fatal(err)
	}
	after, err := parseStats([]byte(`{"status":"OK","keyCount":7,"maxSize":10,"shared":{"connected":true,"keyCount":100,
		"localHits":40,"sharedHits":13,"sharedMisses":3,"staleReads":0,"unavailable":2,"invalidations":3,"resyncs":1}}`))
	if err != nil {
		t.Fatal(err)
	}
	d := after.Shared.sub(*before.Shared)
	if d.LocalHits != 30 || d.SharedHits != 8 || d.SharedMisses != 2 || d.Unavailable != 2 || d.Invalidations != 0 {
		t.Errorf("delta = %+v", d)
	}
	if got := d.localRatio(); math.Abs(got-0.75) > 1e-9 {
		t.Errorf("localRatio = %v, want 0.75 (30 of 40 reads)", got)
	}
	if _, err := parseStats([]byte(`not json`)); err == nil {
		t.Error("parseStats accepted a body that is not JSON")
	}
}

// fakePair is two instances of a shared store: B's writes reach the store at
// once, and A answers the old value for staleFor more reads after each change
// (as if the invalidation were late), or a wrong value when wrong is set.
type fakePair struct {
	mu            sync.Mutex
	values        map[string]string
	old           map[string]string // A's outdated copy, while staleLeft > 0
	staleLeft     map[string]int
	invalidations int
	staleFor      int  // -1: A never learns of a change
	wrong         bool // A answers a value nobody wrote
}

func newFakePair(staleFor int, wrong bool) *fakePair {
	return &fakePair{values: map[string]string{}, old: map[string]string{}, staleLeft: map[string]int{}, staleFor: staleFor, wrong: wrong}
}

func (f *fakePair) servers(t *testing.T) (a, b *httptest.Server) {
	a = httptest.NewServer(http.HandlerFunc(f.serveA))
	b = httptest.NewServer(http.HandlerFunc(f.serveB))
	t.Cleanup(a.Close)
	t.Cleanup(b.Close)
	return a, b
}

func (f *fakePair) serveA(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.URL.Path {
	case "/stats":
		fmt.Fprintf(w, `{"status":"OK","keyCount":0,"maxSize":10,"shared":{"connected":true,"keyCount":0,"invalidations":%d}}`, f.invalidations)
	case "/get":
		key := r.URL.Query().Get("key")
		value, ok := f.values[key]
		if left := f.staleLeft[key]; left != 0 {
			value, ok = f.old[key], true
			if left > 0 {
				f.staleLeft[key]--
			}
		}
		if f.wrong && strings.HasPrefix(value, "new-") {
			value = "garbage"
		}
		if !ok {
			http.Error(w, `{"status":"ERROR","message":"Key not found."}`, http.StatusNotFound)
			return
		}
		fmt.Fprintf(w, `{"status":"OK","key":"%s","value":"%s"}`, key, value)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakePair) serveB(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var key string
	old, existed := "", false
	switch r.URL.Path {
	case "/put":
		var body struct{ Key, Value string }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		key = body.Key
		old, existed = f.values[key]
		f.values[key] = body.Value
	case "/delete":
		key = r.URL.Query().Get("key")
		old, existed = f.values[key]
		delete(f.values, key)
	default:
		http.NotFound(w, r)
		return
	}
	f.invalidations++
	if existed {
		f.old[key], f.staleLeft[key] = old, f.staleFor
	}
	fmt.Fprint(w, `{"status":"OK"}`)
}

func TestCoherenceCountsStaleAndWrongReads(t *testing.T) {
	for _, tc := range []struct {
		name     string
		staleFor int
		wrong    bool
		ops      string
		localTTL string
		want     []string // fields of every result line
		wantFail bool
	}{
		{name: "fresh at once", staleFor: 0, ops: "update,delete", localTTL: "1h",
			want: []string{"staleKeys=0", "staleReads=0", "beyondTTL=0", "wrong=0"}},
		{name: "three stale reads", staleFor: 3, ops: "update,delete", localTTL: "1h",
			want: []string{"staleKeys=5", "staleReads=15", "beyondTTL=0", "wrong=0"}},
		{name: "never fresh", staleFor: -1, ops: "update", localTTL: "10ms",
			want: []string{"staleKeys=5", "beyondTTL=5", "wrong=0"}},
		{name: "wrong value", staleFor: 0, wrong: true, ops: "update", localTTL: "1h",
			want: []string{"wrong=5"}, wantFail: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := newFakePair(tc.staleFor, tc.wrong).servers(t)
			out, err := captureStdout(t, func() error {
				return coherence([]string{"-a", a.URL, "-b", b.URL, "-n", "5", "-ops", tc.ops, "-local-ttl", tc.localTTL, "-grace", "10ms"})
			})
			if (err != nil) != tc.wantFail {
				t.Fatalf("err = %v, want failure %v; output:\n%s", err, tc.wantFail, out)
			}
			results := 0
			for line := range strings.Lines(out) {
				if !strings.HasPrefix(line, "result ") {
					continue
				}
				results++
				for _, want := range tc.want {
					if !strings.Contains(line, " "+want+" ") {
						t.Errorf("want %s in %s", want, line)
					}
				}
			}
			if want := len(strings.Split(tc.ops, ",")); results != want {
				t.Errorf("%d result lines, want %d:\n%s", results, want, out)
			}
		})
	}
}

// captureStdout runs fn with os.Stdout sent to a pipe and returns what it wrote.
func captureStdout(t *testing.T, fn func() error) (string, error) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	saved := os.Stdout
	os.Stdout = w
	runErr := fn()
	os.Stdout = saved
	w.Close()
	return <-done, runErr
}
