package kvcheck

import (
	"context"
	"net"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync"
	"testing"

	"github.com/warmkv/warmkv/cache"
	"github.com/warmkv/warmkv/handler"
	"github.com/warmkv/warmkv/resp"
)

// serveInProcess serves store through the real HTTP handler and the real
// Redis-protocol server, and returns 8 clients of each door.
func serveInProcess(t *testing.T, store cache.Store) []Target {
	t.Helper()
	const maxValue = 64
	h, err := handler.New(handler.Options{Store: store, MaxKeyLength: 250, MaxValueLength: maxValue, MaxBodyBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	web := httptest.NewServer(h)
	t.Cleanup(web.Close)
	rs, err := resp.New(resp.Options{Store: store, MaxKeyLength: 250, MaxValueBytes: maxValue})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = rs.Serve(ln) }()
	t.Cleanup(func() { _ = rs.Close() })
	var targets []Target
	for range 8 {
		targets = append(targets, Target{Client: NewHTTPClient(web.URL, requestTimeout)}, Target{Client: NewRESPClient(ln.Addr().String(), requestTimeout)})
	}
	t.Cleanup(func() {
		for _, tg := range targets {
			tg.Client.Close()
		}
	})
	return targets
}

const requestTimeout = 10e9 // 10s: past it a server is hanging

func newCache(t *testing.T) *cache.Cache {
	t.Helper()
	c, err := cache.New(cache.Options{MaxBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func runAndCheck(t *testing.T, store cache.Store, ops int64) (Result, []Op) {
	t.Helper()
	w := &Workload{Prefix: "k:", Counters: 4, Strings: 4, MaxRunes: 64}
	history := loadInProcess(t, store, LoadOptions{Workload: w, Seed: 1, MaxOps: ops})
	return Check(history, Options{}), history
}

// loadInProcess runs a load on store served in process.
func loadInProcess(t *testing.T, store cache.Store, o LoadOptions) []Op {
	t.Helper()
	history, err := RunLoad(context.Background(), serveInProcess(t, store), o)
	if err != nil {
		t.Fatal(err)
	}
	return history
}

// TestTheRealStoreIsLinearizable runs 16 clients, half over each door, on
// warmkv's cache in process: the checker finds nothing to object to.
func TestTheRealStoreIsLinearizable(t *testing.T) {
	res, history := runAndCheck(t, newCache(t), 20000)
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	kinds := map[Kind]int{}
	for _, op := range history {
		kinds[op.In.Kind]++
	}
	for k := Get; k <= Expire; k++ {
		if kinds[k] == 0 {
			t.Errorf("the workload sent no %s", k)
		}
	}
	t.Logf("%d ops on %d keys linearizable, checked in %v; by kind %v", res.Ops, res.Keys, res.Took, kinds)

	// The same history with one anomaly added each is caught.
	staleRead := func(h []Op) ([]Op, Op, bool) { return InjectStaleRead(h, 0) }
	for name, inject := range map[string]func([]Op) ([]Op, Op, bool){"stale read": staleRead, "lost update": InjectLostUpdate} {
		bad, op, ok := inject(history)
		if !ok {
			t.Fatalf("no place in the history to inject a %s", name)
		}
		res := Check(bad, Options{})
		if len(res.Illegal) != 1 || res.Illegal[0].Key != op.In.Key {
			t.Errorf("injected %s %s: checker says %v", name, op.In, res.Err())
		}
	}
}

// TestTheCheckerCatchesABrokenStore puts deliberately broken stores behind
// the same doors and clients: each must be caught.
func TestTheCheckerCatchesABrokenStore(t *testing.T) {
	tests := []struct {
		name  string
		store func(c *cache.Cache) cache.Store
	}{
		{"lost update: increment as get then set", func(c *cache.Cache) cache.Store { return &racyIncrement{Cache: c} }},
		{"stale read: reads answered from the previous value", func(c *cache.Cache) cache.Store { return newLaggingReads(c) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, _ := runAndCheck(t, tt.store(newCache(t)), 20000)
			if len(res.Illegal) == 0 {
				t.Fatalf("the checker passed a broken store: %+v", res)
			}
			t.Logf("%d of %d keys caught; the first:\n%s", len(res.Illegal), res.Keys, res.Illegal[0].Explanation)
		})
	}
}

// racyIncrement reads, yields and writes: concurrent increments overwrite
// each other, as a store without a read-modify-write primitive would.
type racyIncrement struct{ *cache.Cache }

func (r *racyIncrement) IncrementBy(key string, delta, expireAt int64) (int64, error) {
	v, _, found, _ := r.Lookup(key)
	runtime.Gosched()
	n := delta
	if found {
		cur, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return r.Cache.IncrementBy(key, delta, expireAt) // let the real one refuse it
		}
		n += cur
	}
	return n, r.Set(key, strconv.FormatInt(n, 10), cache.KeepTTL)
}

// laggingReads answers every other read of a key from the value it had
// before its last write, like a replica that has not caught up.
type laggingReads struct {
	*cache.Cache
	mu       sync.Mutex
	previous map[string]string
	flip     bool
}

func newLaggingReads(c *cache.Cache) *laggingReads {
	return &laggingReads{Cache: c, previous: map[string]string{}}
}

func (l *laggingReads) Set(key, value string, expireAt int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if old, _, found, _ := l.Lookup(key); found {
		l.previous[key] = old
	}
	return l.Cache.Set(key, value, expireAt)
}

func (l *laggingReads) Get(key string) (string, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flip = !l.flip
	if old, ok := l.previous[key]; ok && l.flip {
		return old, true, nil
	}
	return l.Cache.Get(key)
}
