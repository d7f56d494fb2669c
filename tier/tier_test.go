package tier

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/warmkv/warmkv/cache"
	"github.com/warmkv/warmkv/internal/redistest"
	"github.com/warmkv/warmkv/internal/storetest"
	"github.com/warmkv/warmkv/internal/testsupport"
)

// newStore is one instance: its own local cache in front of the shared store
// at url.
func newStore(t *testing.T, url, prefix string, localTTL time.Duration) *Store {
	t.Helper()
	local, err := cache.New(cache.Options{MaxBytes: 16 << 20})
	if err != nil {
		t.Fatal(err)
	}
	dial, err := Dialer(url, 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Local: local, Dial: dial, Prefix: prefix, LocalTTL: localTTL, Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		local.Close()
	})
	waitFor(t, "the invalidation subscription", s.subscribed.Load)
	return s
}

// waitFor polls cond for up to ten seconds.
func waitFor(t *testing.T, what string, cond func() bool) time.Duration {
	t.Helper()
	return testsupport.WaitFor(t, what, 10*time.Second, cond)
}

var prefixes sync.Map

// freshPrefix gives each store of the suite keys nobody else uses.
func freshPrefix(t *testing.T) string {
	n, _ := prefixes.LoadOrStore(t.Name(), len(t.Name()))
	return fmt.Sprintf("test:%s:%d:", strings.ReplaceAll(t.Name(), "/", "."), n)
}

func TestStoreSuite(t *testing.T) {
	srv := redistest.Start(t)
	storetest.Run(t, func(t *testing.T) cache.Store { return newStore(t, srv.URL(), freshPrefix(t), time.Second) })
}

func TestStoreSuiteOnCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("a Redis Cluster takes seconds to form")
	}
	cluster := redistest.StartCluster(t, 3)
	storetest.Run(t, func(t *testing.T) cache.Store { return newStore(t, cluster.URL(), freshPrefix(t), time.Second) })
}

// sharedServers start the shared stores the tests run on, by name: one
// Redis, and a three-primary Redis Cluster; each returns its URL.
var sharedServers = map[string]func(t *testing.T) string{
	"redis": func(t *testing.T) string { return redistest.Start(t).URL() },
	"cluster": func(t *testing.T) string {
		if testing.Short() {
			t.Skip("a Redis Cluster takes seconds to form")
		}
		return redistest.StartCluster(t, 3).URL()
	},
}

// TestTwoInstances is the tier's reason to exist, on one Redis and on a
// three-primary Redis Cluster.
func TestTwoInstances(t *testing.T) {
	for name, start := range sharedServers {
		t.Run(name, func(t *testing.T) {
			url := start(t)
			a := newStore(t, url, "warmkv:", time.Minute) // a long LOCAL_TTL: only invalidations can make A see B's changes
			b := newStore(t, url, "warmkv:", time.Minute)

			t.Run("write on A is read on B", func(t *testing.T) {
				storetest.MustOK(t, a.Set("greeting", "hello", 0))
				storetest.WantValue(t, b, "greeting", "hello")
			})

			t.Run("B's overwrite and delete reach A's warm copy", func(t *testing.T) {
				storetest.MustOK(t, a.Set("k", "1", 0))
				storetest.WantValue(t, a, "k", "1") // A's copy is warm and fresh for a minute
				storetest.MustOK(t, b.Set("k", "2", 0))
				took := waitFor(t, "A to see B's write", func() bool { v, _, _ := a.Get("k"); return v == "2" })
				t.Logf("A saw B's write after %v", took)
				if _, err := b.Delete("k"); err != nil {
					t.Fatal(err)
				}
				took = waitFor(t, "A to see B's delete", func() bool { _, ok, _ := a.Get("k"); return !ok })
				t.Logf("A saw B's delete after %v", took)
				if a.invalidations.Load() < 2 {
					t.Fatalf("A counted %d invalidations; want at least 2", a.invalidations.Load())
				}
			})

			t.Run("increments on both end at the exact total", func(t *testing.T) {
				const goroutines, each = 8, 250
				var wg sync.WaitGroup
				errs := make(chan error, goroutines)
				for g := range goroutines {
					s := a
					if g%2 == 1 {
						s = b
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						for range each {
							if _, err := s.IncrementBy("counter", 1, cache.KeepTTL); err != nil {
								errs <- err
								return
							}
						}
					}()
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					t.Fatal(err)
				}
				want := fmt.Sprint(goroutines * each)
				for _, s := range []*Store{a, b} {
					waitFor(t, "the exact total", func() bool { v, _, _ := s.Get("counter"); return v == want })
				}
			})

			t.Run("check-and-set and append are atomic across instances", func(t *testing.T) {
				var wg sync.WaitGroup
				var swaps sync.Map
				for i, s := range []*Store{a, b, a, b} {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if ok, err := s.CompareAndSet("lock", "free", fmt.Sprint("owner", i), 0); err == nil && ok {
							swaps.Store(i, true)
						}
						for range 50 {
							if _, err := s.Append("log", "x", false, 0, cache.KeepTTL); err != nil {
								t.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				n := 0
				swaps.Range(func(any, any) bool { n++; return true })
				if n != 1 {
					t.Fatalf("%d instances won check-and-set on an absent key; want exactly 1", n)
				}
				// Every append landed; B's copy converges once the last
				// invalidation arrives (pub/sub is asynchronous).
				want := strings.Repeat("x", 200)
				waitFor(t, "B to see all 200 appends", func() bool { v, _, _ := b.Get("log"); return v == want })
			})

			t.Run("flush removes only the prefix, on every primary", func(t *testing.T) {
				other := newStore(t, url, "other:", time.Second)
				storetest.MustOK(t, other.Set("keep", "me", 0))
				for i := range 50 {
					storetest.MustOK(t, a.Set(fmt.Sprint("bulk", i), "v", 0))
				}
				storetest.WantValue(t, b, "bulk7", "v") // B holds a copy
				storetest.MustOK(t, a.Flush())
				waitFor(t, "B to drop its copies", func() bool { _, ok, _ := b.Get("bulk7"); return !ok })
				storetest.WantValue(t, other, "keep", "me")
				a.keysCountedAt.Store(0)
				a.Stats()
				waitFor(t, "A to count the shared keys", func() bool { return a.sharedKeys.Load() == 0 })
			})
		})
	}
}

func TestLocalCopiesServeWhileFresh(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv.URL(), "warmkv:", time.Minute)
	storetest.MustOK(t, s.Set("k", "v", 0))
	for range 10 {
		storetest.WantValue(t, s, "k", "v")
	}
	if st := s.Stats().Shared; st.LocalHits != 10 || st.SharedHits != 0 {
		t.Fatalf("local hits %d, shared hits %d; want 10 and 0", st.LocalHits, st.SharedHits)
	}
	// A change behind the tier's back, not announced: the local copy is trusted
	// until LOCAL_TTL passes, then the shared store is asked again.
	srv.CLI("SET", "warmkv:k", "changed")
	storetest.WantValue(t, s, "k", "v")
	s.now = func() time.Time { return time.Now().Add(time.Minute) }
	storetest.WantValue(t, s, "k", "changed")
	if st := s.Stats().Shared; st.SharedHits != 1 {
		t.Fatalf("shared hits %d; want 1", st.SharedHits)
	}
}

func TestSharedStoreDown(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv.URL(), "warmkv:", 0) // LOCAL_TTL 0: every read asks the shared store
	storetest.MustOK(t, s.Set("warm", "v", 0))
	srv.Kill()

	// Whichever call notices first waits for at most the timeout; then the
	// store is marked down and everything answers at once.
	start := time.Now()
	v, ok, err := s.Get("warm")
	if !ok || v != "v" || !errors.Is(err, cache.ErrStale) {
		t.Fatalf("Get of a warm key with the store down = %q, %v, %v; want the local copy with ErrStale", v, ok, err)
	}
	if _, _, err := s.Get("cold"); !errors.Is(err, cache.ErrUnavailable) {
		t.Fatalf("Get of a key never read here: %v; want ErrUnavailable", err)
	}
	for name, op := range map[string]func() error{
		"Set":         func() error { return s.Set("k", "v", 0) },
		"Delete":      func() error { _, err := s.Delete("warm"); return err },
		"IncrementBy": func() error { _, err := s.IncrementBy("n", 1, cache.KeepTTL); return err },
		"Flush":       s.Flush,
	} {
		if err := op(); !errors.Is(err, cache.ErrUnavailable) {
			t.Fatalf("%s with the store down: %v; want ErrUnavailable", name, err)
		}
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("calls against a dead store took %v in all; the timeout is 500ms", took)
	}
	if st := s.Stats().Shared; st.Connected || st.StaleReads == 0 || st.Unavailable == 0 {
		t.Fatalf("stats while down: %+v", *st)
	}
	storetest.WantValueErr(t, s, "warm", "v", cache.ErrStale) // the local copy survived the failures

	srv.Restart() // empty: what was written before is gone, and the local copy must go too
	waitFor(t, "the store to come back", s.Connected)
	storetest.MustOK(t, s.Set("after", "restart", 0))
	storetest.WantValue(t, s, "after", "restart")
	if _, ok, err := s.Get("warm"); ok || err != nil {
		t.Fatalf("after the restart the old local copy is still served: %v, %v", ok, err)
	}
}

// TestErrorsKeepTheirCause: an error that the tier maps to one of the cache's
// is still the error it was, so that callers can tell what went wrong beyond
// "unavailable" or "too large".
func TestErrorsKeepTheirCause(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv.URL(), "warmkv:", time.Second)

	t.Run("a failed call", func(t *testing.T) {
		cause := errors.New("connection reset by a test")
		err := s.call(func(context.Context, rueidis.Client) error { return cause })
		if !errors.Is(err, cache.ErrUnavailable) || !errors.Is(err, cause) {
			t.Fatalf("call failing with %v returned %v; want both ErrUnavailable and the cause", cause, err)
		}
		waitFor(t, "the probe to bring the store back", s.Connected)
	})

	t.Run("an error reply about the store's state", func(t *testing.T) {
		srv.CLI("CONFIG", "SET", "maxmemory", "1")
		t.Cleanup(func() { srv.CLI("CONFIG", "SET", "maxmemory", "0") })
		err := s.Set("k", "v", 0)
		var reply *rueidis.RedisError
		if !errors.Is(err, cache.ErrTooLarge) || !errors.As(err, &reply) || !strings.HasPrefix(reply.Error(), "OOM") {
			t.Fatalf("Set over maxmemory returned %v; want ErrTooLarge and the OOM reply", err)
		}
	})
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		url     string
		addrs   []string
		tls     bool
		user    string
		wantErr string
	}{
		{url: "redis://localhost:6379", addrs: []string{"localhost:6379"}},
		{url: "rediss://default:pw@eu1-x.upstash.io:6379", addrs: []string{"eu1-x.upstash.io:6379"}, tls: true, user: "default"},
		{url: "redis://n1:7000,n2:7001, n3:7002", addrs: []string{"n1:7000", "n2:7001", "n3:7002"}},
		{url: "redis://n1:7000,redis://n2:7001", addrs: []string{"n1:7000", "n2:7001"}},
		{url: "redis://n1:7000?addr=n2:7001&addr=n3:7002", addrs: []string{"n1:7000", "n2:7001", "n3:7002"}},
		{url: "redis://n1:7000,n2", wantErr: `seed "n2" is not host:port`},
		{url: "http://x", wantErr: "invalid URL scheme"},
		{url: "redis://user:s3cret@host:6379/%zz", wantErr: "not a valid URL"},
	}
	for _, tt := range tests {
		opt, err := ParseURL(tt.url)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "s3cret") {
				t.Errorf("ParseURL(%q) error %v; want one containing %q and no password", tt.url, err, tt.wantErr)
			}
			continue
		}
		if err != nil || strings.Join(opt.InitAddress, " ") != strings.Join(tt.addrs, " ") || (opt.TLSConfig != nil) != tt.tls || opt.Username != tt.user {
			t.Errorf("ParseURL(%q) = %v tls %v user %q, %v", tt.url, opt.InitAddress, opt.TLSConfig != nil, opt.Username, err)
		}
	}
}

func TestEscapeGlob(t *testing.T) {
	for in, want := range map[string]string{"warmkv:": "warmkv:", "a*b?[c]\\": `a\*b\?\[c\]\\`} {
		if got := escapeGlob(in); got != want {
			t.Errorf("escapeGlob(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestStamp(t *testing.T) {
	for _, v := range []string{"", "v", strings.Repeat("ä", 300)} {
		at, got := unstamp(stamp(-123456789, v))
		if at != -123456789 || got != v {
			t.Errorf("unstamp(stamp(%q)) = %d, %q", v, at, got)
		}
	}
}

// A reply that left the shared store before a change must not become the local
// copy after it: the ticket's generation catches it.
func TestSlowReplyDoesNotOverwriteANewerCopy(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv.URL(), "warmkv:", time.Minute)
	tests := []struct {
		name   string
		change func()
	}{
		{"another instance's invalidation", func() { s.forget("k") }},
		{"this instance's own write", func() { storetest.MustOK(t, s.Set("k", "new", 0)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			slow := s.begin("k")                         // a read starts...
			tt.change()                                  // ...the key changes...
			s.remember("k", slow, "old", true, 0, false) // ...and the read's old answer arrives
			if v, _, ok := s.local.GetWithExpiry("k"); ok && strings.HasSuffix(v, "old") {
				t.Fatal("the slow reply overwrote the local copy")
			}
		})
	}
}

func TestWrongPasswordIsAConfigurationError(t *testing.T) {
	srv := redistest.Start(t, "--requirepass", "right")
	local, err := cache.New(cache.Options{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	dial, err := Dialer("redis://default:wrong@"+srv.Addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{Local: local, Dial: dial, Prefix: "warmkv:"}); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Fatalf("New with a wrong password: %v; want the server's WRONGPASS", err)
	}
}

func TestStartsWhileTheStoreIsDown(t *testing.T) {
	srv := redistest.Start(t)
	srv.Kill()
	local, err := cache.New(cache.Options{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	dial, err := Dialer(srv.URL(), 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Local: local, Dial: dial, Prefix: "warmkv:", LocalTTL: time.Second, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatalf("New with the store down: %v; want a Store that waits for it", err)
	}
	defer s.Close()
	if err := s.Set("k", "v", 0); !errors.Is(err, cache.ErrUnavailable) {
		t.Fatalf("Set with the store down: %v", err)
	}
	srv.Restart()
	waitFor(t, "the store to be dialled", s.Connected)
	waitFor(t, "the subscription", s.subscribed.Load)
	storetest.MustOK(t, s.Set("k", "v", 0))
	storetest.WantValue(t, s, "k", "v")
}
