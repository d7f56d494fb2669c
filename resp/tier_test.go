package resp

import (
	"testing"
	"time"

	"github.com/warmkv/warmkv/cache"
)

// troubledTier is a shared tier that cannot be reached: "warm" is answered
// from a local copy (stale), everything else is unavailable.
type troubledTier struct{ *cache.Cache }

func (troubledTier) Get(key string) (string, bool, error) {
	if key == "warm" {
		return "old", true, cache.ErrStale
	}
	return "", false, cache.ErrUnavailable
}
func (troubledTier) Set(string, string, int64) error { return cache.ErrUnavailable }
func (troubledTier) Delete(string) (bool, error)     { return false, cache.ErrUnavailable }
func (troubledTier) Flush() error                    { return cache.ErrUnavailable }

func TestSharedTierFaults(t *testing.T) {
	overTier := func(o *Options) {
		if c, ok := o.Store.(*cache.Cache); ok {
			o.Store, o.Keys = troubledTier{c}, nil
		}
	}
	forEachDriver(t, func(t *testing.T, d driver) {
		r := startServer(t, d, overTier).raw(t)
		const unavailable = "-UNAVAILABLE the shared tier did not answer; nothing was confirmed, retry later\r\n"
		tests := []struct {
			args []string
			want string
		}{
			{[]string{"GET", "warm"}, "$3\r\nold\r\n"}, // RESP cannot mark it stale: docs/shared-tier.md says so
			{[]string{"GET", "cold"}, unavailable},
			{[]string{"MGET", "warm", "cold"}, unavailable}, // one failure fails the whole array
			{[]string{"SET", "k", "v"}, unavailable},
			{[]string{"DEL", "k"}, unavailable},
			{[]string{"FLUSHALL"}, unavailable},
			{[]string{"PING"}, "+PONG\r\n"}, // the connection keeps serving
		}
		for _, tt := range tests {
			if got := r.do(tt.args...); got != tt.want {
				t.Errorf("%v = %q; want %q", tt.args, got, tt.want)
			}
		}
	})
}

// staleCopies is a shared tier whose reads answer from local copies that
// another instance's writes have not reached yet (the tier allows that for
// LOCAL_TTL): every read says the key is absent, while the tier itself, where
// writes run, holds what the cache holds.
type staleCopies struct{ *cache.Cache }

func (staleCopies) Lookup(string) (string, int64, bool, error) { return "", 0, false, nil }
func (staleCopies) Get(string) (string, bool, error)           { return "", false, nil }

// TestPersistDecidesInTheStore: PERSIST is a write, and writes are
// linearizable at the tier; it must not decide from a read, which may be
// a stale local copy. (Found by e2e TestVerifyTierUnderFaults: PERSIST
// answered 0 and left an expiry in place, or answered 1 for a key without
// one.)
func TestPersistDecidesInTheStore(t *testing.T) {
	clk := newClock()
	overStale := func(o *Options) {
		if c, ok := o.Store.(*cache.Cache); ok {
			o.Store = staleCopies{c}
		}
	}
	ts := startServer(t, defaultDriver(), withClock(clk), overStale)
	if err := ts.kv.Set("k", "v", clk.Now().Add(time.Minute).UnixNano()); err != nil {
		t.Fatal(err)
	}
	if err := ts.kv.Set("plain", "v", 0); err != nil {
		t.Fatal(err)
	}
	runScript(t, ts.raw(t), []step{
		{cmd("PERSIST", "k"), ":1\r\n"},
		{cmd("PERSIST", "plain"), ":0\r\n"},
		{cmd("PERSIST", "nokey"), ":0\r\n"},
	})
	if _, expireAt, ok, _ := ts.kv.Lookup("k"); !ok || expireAt != 0 {
		t.Errorf("after PERSIST k: found %v, expiry %d; want the key without expiry", ok, expireAt)
	}
}
