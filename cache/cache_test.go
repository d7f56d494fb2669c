package cache

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
)

// fakeClock is an injectable clock so expiry tests never sleep.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *fakeClock) now() int64               { return c.ns.Load() }
func (c *fakeClock) advance(d time.Duration)  { c.ns.Add(int64(d)) }
func (c *fakeClock) in(d time.Duration) int64 { return c.ns.Load() + int64(d) }

func newTestCache(t testing.TB, o Options) (*Cache, *fakeClock) {
	t.Helper()
	clock := newFakeClock()
	if o.Clock == nil {
		o.Clock = clock.now
	}
	if o.ReapInterval == 0 {
		o.ReapInterval = -1
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = 64 << 20
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, clock
}

// checkInvariants asserts what must hold after any sequence of operations.
func checkInvariants(t *testing.T, c *Cache) {
	t.Helper()
	st := c.Stats()
	if st.Bytes > st.MaxBytes {
		t.Errorf("bytes %d over budget %d", st.Bytes, st.MaxBytes)
	}
	if st.Entries > st.MaxEntries {
		t.Errorf("entries %d over bound %d", st.Entries, st.MaxEntries)
	}
	var want int64
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for _, k := range s.lru.Keys() {
			s.hash = uint32(hashKey(k))
			e, _ := s.lru.Peek(k)
			want += entryCost(k, e.value)
		}
		if s.entryBytes < 0 || s.withExpiry < 0 {
			t.Errorf("shard accounting went negative: bytes %d withExpiry %d", s.entryBytes, s.withExpiry)
		}
		want -= s.entryBytes
		s.mu.Unlock()
	}
	if want != 0 {
		t.Errorf("entry bytes drifted from the stored entries by %d", want)
	}
}

func TestGetSetDelete(t *testing.T) {
	c, _ := newTestCache(t, Options{})
	if _, ok, _ := c.Get("a"); ok {
		t.Fatal("empty cache returned a value")
	}
	steps := []struct {
		key, value string
	}{
		{"a", "1"}, {"b", ""}, {"a", "2"}, {"ключ", "значение"}, {"🔑", strings.Repeat("😀", 256)},
	}
	for _, s := range steps {
		if err := c.Set(s.key, s.value, 0); err != nil {
			t.Fatalf("Set(%q): %v", s.key, err)
		}
		if got, ok, _ := c.Get(s.key); !ok || got != s.value {
			t.Fatalf("Get(%q) = %q, %v; want %q", s.key, got, ok, s.value)
		}
	}
	if !found(c.Delete("a")) {
		t.Fatal("Delete of a present key reported false")
	}
	if found(c.Delete("a")) {
		t.Fatal("second Delete reported true")
	}
	if _, ok, _ := c.Get("a"); ok {
		t.Fatal("deleted key still readable")
	}
	st := c.Stats()
	if st.Entries != 3 || st.Inserts != 4 || st.Updates != 1 || st.Deletes != 1 {
		t.Fatalf("stats = %+v", st)
	}
	checkInvariants(t, c)
}

// SetBorrowed's key aliases a buffer that the caller overwrites once it returns
// (a connection's read buffer), so whatever the cache keeps of it must be a
// copy: the LRU's key for a new entry, the expiry index's, KEEPTTL's.
func TestSetBorrowedKeepsCopies(t *testing.T) {
	c, clock := newTestCache(t, Options{})
	buf := make([]byte, 0, 64)
	set := func(key, value string, expireAt int64) {
		t.Helper()
		buf = append(buf[:0], key...)
		borrowed := unsafe.String(unsafe.SliceData(buf), len(buf)) //nolint:gosec // G103: the aliasing under test
		if err := c.SetBorrowed(borrowed, value, expireAt); err != nil {
			t.Fatalf("SetBorrowed(%q): %v", key, err)
		}
		copy(buf, strings.Repeat("#", len(buf))) // the next read overwrites the buffer
	}
	set("new", "1", 0)                          // inserted: the LRU keeps the key
	set("new", "2", 0)                          // overwritten: freelru keeps the key it has
	set("expiring", "3", clock.in(time.Second)) // inserted with an expiry
	set("ttl", "x", 0)
	set("ttl", "4", clock.in(time.Minute)) // overwritten with an expiry: the index keeps the key
	set("keep", "y", clock.in(time.Minute))
	set("keep", "5", KeepTTL)
	set("fresh", "6", KeepTTL)

	var keys []string
	for i := range c.ShardCount() {
		for _, it := range c.Dump(i, nil) {
			keys = append(keys, it.Key)
		}
	}
	slices.Sort(keys)
	if want := []string{"expiring", "fresh", "keep", "new", "ttl"}; !slices.Equal(keys, want) {
		t.Fatalf("keys after the buffer was overwritten = %q; want %q", keys, want)
	}
	for key, want := range map[string]string{"new": "2", "expiring": "3", "ttl": "4", "keep": "5", "fresh": "6"} {
		if got, ok, _ := c.Get(key); !ok || got != want {
			t.Errorf("Get(%q) = %q, %v; want %q", key, got, ok, want)
		}
	}
	if _, expireAt, _, _ := c.Lookup("keep"); expireAt != clock.in(time.Minute) {
		t.Errorf("KEEPTTL through a borrowed key lost the expiry: %d", expireAt)
	}
	// The expiry index must name the keys as they were, to reap them.
	clock.advance(2 * time.Minute)
	c.ReapExpired()
	if st := c.Stats(); st.Entries != 2 || st.Expirations != 3 {
		t.Errorf("after reaping: %d entries, %d expirations; want 2 and 3", st.Entries, st.Expirations)
	}
	checkInvariants(t, c)
}

func TestHitMissCounters(t *testing.T) {
	c, _ := newTestCache(t, Options{})
	_ = c.Set("k", "v", 0)
	_, _, _ = c.Get("k")
	_, _, _ = c.Get("k")
	_, _, _ = c.Get("nope")
	_, _, _, _ = c.Lookup("k") // not counted
	if st := c.Stats(); st.Hits != 2 || st.Misses != 1 {
		t.Fatalf("hits %d misses %d, want 2 and 1", st.Hits, st.Misses)
	}
}

func TestEntryBoundIsExactLRU(t *testing.T) {
	c, _ := newTestCache(t, Options{MaxEntries: 10})
	if len(c.shards) != 1 {
		t.Fatalf("a 10-entry cache should use one shard for exact LRU order, got %d", len(c.shards))
	}
	for i := range 10 {
		_ = c.Set(fmt.Sprint(i), "v", 0)
	}
	_, _, _ = c.Get("0") // 0 becomes most recent; 1 is now the oldest
	_ = c.Set("10", "v", 0)
	if _, ok, _ := c.Get("1"); ok {
		t.Error("least recently used key 1 survived")
	}
	if _, ok, _ := c.Get("0"); !ok {
		t.Error("recently read key 0 was evicted")
	}
	st := c.Stats()
	if st.Entries != 10 || st.Evictions != 1 {
		t.Fatalf("entries %d evictions %d, want 10 and 1", st.Entries, st.Evictions)
	}
	checkInvariants(t, c)
}

func TestEntryBoundHoldsExactlyMaxEntries(t *testing.T) {
	for _, n := range []int{1, 7, 255, 1000, 100_003} {
		c, _ := newTestCache(t, Options{MaxEntries: n})
		if got := int(c.Stats().MaxEntries); got != n {
			t.Errorf("MaxEntries %d reported as %d", n, got)
		}
		// Writing many more keys than fit fills every shard to its share, and the
		// shares add up to exactly n: never more.
		for i := range 3*n + 64*20 {
			_ = c.Set(fmt.Sprint(i), "v", 0)
		}
		if got := c.Stats().Entries; got != int64(n) {
			t.Errorf("MaxEntries %d: cache holds %d entries when full", n, got)
		}
	}
}

func TestByteBudgetEvictsLeastRecentlyUsed(t *testing.T) {
	const budget = 1 << 20
	c, _ := newTestCache(t, Options{MaxBytes: budget, MaxEntries: 2000, Shards: 1})
	val := strings.Repeat("v", 1000) // 1024 bytes of heap each
	_ = c.Set("hot", val, 0)
	for i := range 5000 {
		_ = c.Set(fmt.Sprintf("key-%d", i), val, 0)
		_, _, _ = c.Get("hot")
		if i%500 == 0 {
			checkInvariants(t, c)
		}
	}
	st := c.Stats()
	if st.Evictions == 0 {
		t.Fatal("5 MB written into a 1 MiB budget without evictions")
	}
	if st.Bytes > budget {
		t.Fatalf("bytes %d over budget %d", st.Bytes, budget)
	}
	if _, ok, _ := c.Get("hot"); !ok {
		t.Error("the key read after every write was evicted")
	}
	if _, ok, _ := c.Get("key-0"); ok {
		t.Error("the oldest key survived")
	}
	// What remains is the newest keys: the budget is used, not wasted.
	if free := budget - st.Bytes; free > 2*(1024+16) {
		t.Errorf("%d bytes left unused after eviction; expected at most two entries' worth", free)
	}
	checkInvariants(t, c)
}

func TestOverwriteAccountsOldValue(t *testing.T) {
	c, _ := newTestCache(t, Options{})
	before := c.Stats().Bytes
	_ = c.Set("k", strings.Repeat("x", 1000), 0)
	_ = c.Set("k", "y", 0)
	if got, want := c.Stats().Bytes-before, entryCost("k", "y"); got != want {
		t.Fatalf("after overwrite the entry is charged %d bytes, want %d", got, want)
	}
	checkInvariants(t, c)
}

func TestTooLargeEntryIsRefused(t *testing.T) {
	c, _ := newTestCache(t, Options{MaxBytes: 64 << 10, MaxEntries: 16, Shards: 1})
	_ = c.Set("keep", "me", 0)
	if err := c.Set("big", strings.Repeat("x", 128<<10), 0); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	if _, ok, _ := c.Get("keep"); !ok {
		t.Fatal("a refused write evicted an existing key")
	}
}

func TestDerivedEntryBoundLetsTheBytesBind(t *testing.T) {
	for _, budget := range []int64{1 << 20, 64 << 20, 1 << 30} {
		c, _ := newTestCache(t, Options{MaxBytes: budget})
		st := c.Stats()
		// The derived bound counts the smallest entries with their slots: any real
		// entry mix reaches the byte budget first.
		if perEntry := slotBytesPerEntry + minEntryBytes; st.MaxEntries*perEntry > budget || (st.MaxEntries+1)*perEntry <= budget {
			t.Errorf("budget %d: derived entry bound %d; want the most %d-byte entries that fit", budget, st.MaxEntries, perEntry)
		}
		if st.SlotBytes > budget/16 {
			t.Errorf("budget %d: a new cache's arrays take %d bytes, over a sixteenth of the budget", budget, st.SlotBytes)
		}
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		o    Options
	}{
		{"no budget", Options{}},
		{"negative entries", Options{MaxBytes: 1 << 20, MaxEntries: -1}},
		{"first arrays over half the budget", Options{MaxBytes: 2000, Shards: 16}},
		{"shards not a power of two", Options{MaxBytes: 1 << 20, Shards: 3}},
		{"budget below one slot", Options{MaxBytes: 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c, err := New(tt.o); err == nil {
				c.Close()
				t.Fatal("New accepted invalid options")
			}
		})
	}
}

func TestExpiry(t *testing.T) {
	reads := map[string]func(c *Cache) bool{
		"Get":           func(c *Cache) bool { _, ok, _ := c.Get("ttl"); return ok },
		"Lookup":        func(c *Cache) bool { _, _, ok, _ := c.Lookup("ttl"); return ok },
		"Delete":        func(c *Cache) bool { return found(c.Delete("ttl")) },
		"IncrementBy":   func(c *Cache) bool { n, _ := c.IncrementBy("ttl", 1, KeepTTL); return n != 1 },
		"Append":        func(c *Cache) bool { v, _ := c.Append("ttl", "x", false, 0, KeepTTL); return v != "x" },
		"CompareAndSet": func(c *Cache) bool { ok, _ := c.CompareAndSet("ttl", "nope", "x", 0); return !ok },
	}
	for name, sawIt := range reads {
		t.Run(name, func(t *testing.T) {
			c, clock := newTestCache(t, Options{})
			_ = c.Set("ttl", "5", clock.in(time.Second))
			_ = c.Set("forever", "v", 0)
			clock.advance(time.Second - 1)
			if _, _, ok, _ := c.Lookup("ttl"); !ok {
				t.Fatal("key gone before its expiry")
			}
			clock.advance(1) // expiry is inclusive: at that instant the key is gone
			if sawIt(c) {
				t.Fatalf("%s saw a key whose expiry has come", name)
			}
			if _, ok, _ := c.Get("forever"); !ok {
				t.Fatal("key without expiry disappeared")
			}
			checkInvariants(t, c)
		})
	}
}

func TestSetInThePastDeletes(t *testing.T) {
	c, clock := newTestCache(t, Options{})
	_ = c.Set("k", "v", 0)
	_ = c.Set("k", "w", clock.in(-time.Second))
	if _, ok, _ := c.Get("k"); ok {
		t.Fatal("a write with an expiry in the past left the key readable")
	}
	checkInvariants(t, c)
}

func TestExpiryKeptOrCleared(t *testing.T) {
	tests := []struct {
		name      string
		op        func(c *Cache) error
		keepsTTL  bool
		wantValue string
	}{
		{"Set clears", func(c *Cache) error { return c.Set("k", "7", 0) }, false, "7"},
		{"Set KeepTTL keeps", func(c *Cache) error { return c.Set("k", "7", KeepTTL) }, true, "7"},
		{"IncrementBy keeps", func(c *Cache) error { _, err := c.IncrementBy("k", 2, KeepTTL); return err }, true, "7"},
		{"Append keeps", func(c *Cache) error { _, err := c.Append("k", "x", false, 0, KeepTTL); return err }, true, "5x"},
		{"CompareAndSet keeps", func(c *Cache) error { _, err := c.CompareAndSet("k", "5", "6", KeepTTL); return err }, true, "6"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, clock := newTestCache(t, Options{})
			exp := clock.in(time.Minute)
			_ = c.Set("k", "5", exp)
			if err := tt.op(c); err != nil {
				t.Fatal(err)
			}
			v, got, ok, _ := c.Lookup("k")
			if !ok || v != tt.wantValue {
				t.Fatalf("value %q, %v; want %q", v, ok, tt.wantValue)
			}
			if want := map[bool]int64{true: exp, false: 0}[tt.keepsTTL]; got != want {
				t.Fatalf("expiry %d, want %d", got, want)
			}
		})
	}
}

func TestReaperReclaimsExpiredEntries(t *testing.T) {
	c, clock := newTestCache(t, Options{MaxEntries: 50_000})
	empty := c.Stats().Bytes
	for i := range 20_000 {
		_ = c.Set(fmt.Sprintf("k%d", i), "some value", clock.in(time.Second))
	}
	_ = c.Set("stays", "v", clock.in(time.Hour))
	peak := c.Stats().Bytes - empty
	clock.advance(2 * time.Second)
	c.ReapExpired()
	st := c.Stats()
	if st.Entries != 1 || st.Expirations != 20_000 {
		t.Fatalf("after reaping: entries %d expirations %d", st.Entries, st.Expirations)
	}
	if used := st.Bytes - empty; used*100 > peak {
		t.Fatalf("entries still hold %d bytes after reaping, peak was %d", used, peak)
	}
	if _, ok, _ := c.Get("stays"); !ok {
		t.Fatal("the reaper removed an unexpired key")
	}
	checkInvariants(t, c)
}

func TestBackgroundReaperRuns(t *testing.T) {
	c, err := New(Options{MaxBytes: 1 << 20, ReapInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.Set("k", "v", time.Now().Add(time.Millisecond).UnixNano())
	deadline := time.Now().Add(10 * time.Second)
	for c.Stats().Entries != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the background reaper never removed an expired key")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestExpiryIndexStaysBounded(t *testing.T) {
	c, clock := newTestCache(t, Options{Shards: 1})
	for i := range 100_000 {
		_ = c.Set("same", "v", clock.in(time.Hour+time.Duration(i)))
	}
	if n := c.shards[0].expiries.len(); n > 200 {
		t.Fatalf("rewriting one key left %d items in the expiry index", n)
	}
	checkInvariants(t, c)
}

func TestIncrementBy(t *testing.T) {
	tests := []struct {
		name    string
		initial string // "" = absent
		delta   int64
		want    int64
		wantErr error
	}{
		{"absent counts as zero", "", 5, 5, nil},
		{"absent decrement", "", -5, -5, nil},
		{"adds", "40", 2, 42, nil},
		{"negative", "-3", -4, -7, nil},
		{"not a number", "abc", 1, 0, ErrNotInteger},
		{"leading space", " 1", 1, 0, ErrNotInteger},
		{"plus sign", "+1", 1, 0, ErrNotInteger},
		{"float", "1.5", 1, 0, ErrNotInteger},
		{"too big to parse", "9223372036854775808", 1, 0, ErrNotInteger},
		{"overflow", "9223372036854775807", 1, 0, ErrOverflow},
		{"underflow", "-9223372036854775808", -1, 0, ErrOverflow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newTestCache(t, Options{})
			if tt.initial != "" {
				_ = c.Set("n", tt.initial, 0)
			}
			got, err := c.IncrementBy("n", tt.delta, KeepTTL)
			if !errors.Is(err, tt.wantErr) || (err == nil && got != tt.want) {
				t.Fatalf("got %d, %v; want %d, %v", got, err, tt.want, tt.wantErr)
			}
			v, ok, _ := c.Get("n")
			switch {
			case err == nil && v != fmt.Sprint(tt.want):
				t.Fatalf("stored %q, want %d", v, tt.want)
			case err != nil && tt.initial == "" && ok:
				t.Fatal("a failed increment created the key")
			case err != nil && tt.initial != "" && v != tt.initial:
				t.Fatalf("a failed increment changed the value to %q", v)
			}
		})
	}
}

func TestAppendPrepend(t *testing.T) {
	c, _ := newTestCache(t, Options{})
	if v, _ := c.Append("k", "b", false, 0, KeepTTL); v != "b" {
		t.Fatalf("append to absent key = %q", v)
	}
	if v, _ := c.Append("k", "c", false, 0, KeepTTL); v != "bc" {
		t.Fatalf("append = %q", v)
	}
	if v, _ := c.Append("k", "a", true, 0, KeepTTL); v != "abc" {
		t.Fatalf("prepend = %q", v)
	}
	if _, err := c.Append("k", "ééé", false, 5, KeepTTL); !errors.Is(err, ErrValueTooLong) {
		t.Fatalf("append past the limit: err = %v", err)
	}
	if v, _, _ := c.Get("k"); v != "abc" {
		t.Fatalf("a refused append changed the value to %q", v)
	}
	if v, err := c.Append("k", "éé", false, 5, KeepTTL); err != nil || v != "abcéé" {
		t.Fatalf("append up to the limit in code points = %q, %v", v, err)
	}
}

func TestCompareAndSet(t *testing.T) {
	c, _ := newTestCache(t, Options{})
	if ok, _ := c.CompareAndSet("k", "x", "1", 0); !ok {
		t.Fatal("CompareAndSet on an absent key must set it")
	}
	if ok, _ := c.CompareAndSet("k", "wrong", "2", 0); ok {
		t.Fatal("CompareAndSet with a wrong compare value succeeded")
	}
	if v, _, _ := c.Get("k"); v != "1" {
		t.Fatalf("failed CompareAndSet changed the value to %q", v)
	}
	if ok, _ := c.CompareAndSet("k", "1", "2", 0); !ok {
		t.Fatal("CompareAndSet with the right compare value failed")
	}
	if v, _, _ := c.Get("k"); v != "2" {
		t.Fatalf("value = %q, want 2", v)
	}
}

func TestFlush(t *testing.T) {
	c, clock := newTestCache(t, Options{})
	empty := c.Stats().Bytes
	for i := range 1000 {
		_ = c.Set(fmt.Sprint(i), "v", clock.in(time.Hour))
	}
	c.Flush()
	st := c.Stats()
	if st.Entries != 0 || st.Bytes != empty {
		t.Fatalf("after Flush: entries %d bytes %d (empty cache: %d)", st.Entries, st.Bytes, empty)
	}
	_ = c.Set("after", "v", 0)
	if _, ok, _ := c.Get("after"); !ok {
		t.Fatal("cache unusable after Flush")
	}
	checkInvariants(t, c)
}

func TestConcurrentIncrementsAreAtomic(t *testing.T) {
	c, _ := newTestCache(t, Options{})
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			for range 1000 {
				if _, err := c.IncrementBy("counter", 1, KeepTTL); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if v, _, _ := c.Get("counter"); v != "100000" {
		t.Fatalf("counter = %s, want 100000", v)
	}
}

func TestConcurrentCompareAndSetHasOneWinner(t *testing.T) {
	c, _ := newTestCache(t, Options{})
	_ = c.Set("lock", "free", 0)
	var winners atomic.Int32
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			if ok, _ := c.CompareAndSet("lock", "free", fmt.Sprint("owner-", i), 0); ok {
				winners.Add(1)
			}
		})
	}
	wg.Wait()
	if n := winners.Load(); n != 1 {
		t.Fatalf("%d goroutines won the same compare-and-set", n)
	}
}

func TestConcurrentMixedLoadKeepsInvariants(t *testing.T) {
	c, clock := newTestCache(t, Options{MaxBytes: 4 << 20, MaxEntries: 10_000})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 5000 {
				k := fmt.Sprintf("k%d", (g*7919+i)%3000)
				switch i % 6 {
				case 0:
					_ = c.Set(k, strings.Repeat("x", i%300), clock.in(time.Duration(i%3)*time.Second))
				case 1:
					_, _, _ = c.Get(k)
				case 2:
					_, _ = c.Delete(k)
				case 3:
					_, _ = c.Append(k, "y", i%2 == 0, 256, KeepTTL)
				case 4:
					_, _ = c.IncrementBy(fmt.Sprint("n", g), 1, KeepTTL)
				case 5:
					clock.advance(time.Millisecond)
					if i%100 == 5 {
						c.ReapExpired()
					}
				}
			}
		})
	}
	wg.Wait()
	checkInvariants(t, c)
}

func TestSetIf(t *testing.T) {
	c, clock := newTestCache(t, Options{})
	if _, existed, stored, _ := c.SetIf("k", "1", 0, IfPresent); existed || stored {
		t.Fatal("IfPresent stored an absent key")
	}
	if _, existed, stored, _ := c.SetIf("k", "1", clock.in(time.Minute), IfAbsent); existed || !stored {
		t.Fatal("IfAbsent did not store an absent key")
	}
	if old, existed, stored, _ := c.SetIf("k", "2", 0, IfAbsent); !existed || stored || old != "1" {
		t.Fatalf("IfAbsent on a present key: old %q existed %v stored %v", old, existed, stored)
	}
	if old, _, stored, _ := c.SetIf("k", "3", KeepTTL, IfPresent); !stored || old != "1" {
		t.Fatal("IfPresent did not store over a present key")
	}
	if v, exp, _, _ := c.Lookup("k"); v != "3" || exp != clock.in(time.Minute) {
		t.Fatalf("after KeepTTL write: %q expiring %d", v, exp)
	}
	clock.advance(time.Minute)
	if _, _, stored, _ := c.SetIf("k", "4", 0, IfAbsent); !stored {
		t.Fatal("IfAbsent treated an expired key as present")
	}
	checkInvariants(t, c)
}

func TestGetDeleteAndExpire(t *testing.T) {
	c, clock := newTestCache(t, Options{})
	_ = c.Set("k", "v", 0)
	if found(c.Expire("absent", 0)) {
		t.Fatal("Expire reported an absent key as present")
	}
	if !found(c.Expire("k", clock.in(time.Second))) {
		t.Fatal("Expire on a present key reported false")
	}
	if v, exp, _, _ := c.Lookup("k"); v != "v" || exp != clock.in(time.Second) {
		t.Fatalf("after Expire: %q expiring %d", v, exp)
	}
	_, _ = c.Expire("k", 0) // persist
	clock.advance(2 * time.Second)
	if v, ok, _ := c.GetDelete("k"); !ok || v != "v" {
		t.Fatalf("GetDelete = %q, %v after PERSIST", v, ok)
	}
	if _, ok, _ := c.Get("k"); ok {
		t.Fatal("GetDelete left the key")
	}
	_ = c.Set("gone", "v", 0)
	if !found(c.Expire("gone", clock.in(-time.Second))) {
		t.Fatal("Expire in the past reported false")
	}
	if _, ok, _ := c.Get("gone"); ok {
		t.Fatal("Expire in the past did not delete")
	}
	checkInvariants(t, c)
}

func TestDumpReplaysRecency(t *testing.T) {
	c, clock := newTestCache(t, Options{MaxEntries: 100})
	for i := range 5 {
		_ = c.Set(fmt.Sprint(i), fmt.Sprint("v", i), 0)
	}
	_ = c.Set("expiring", "x", clock.in(time.Second))
	_, _, _ = c.Get("0") // 0 becomes the most recent
	clock.advance(time.Second)
	var items []Item
	for i := range c.ShardCount() {
		items = c.Dump(i, items)
	}
	var order []string
	for _, it := range items {
		order = append(order, it.Key)
	}
	if got := strings.Join(order, ","); got != "1,2,3,4,0" {
		t.Fatalf("dump order %s, want 1,2,3,4,0 (oldest first, expired left out)", got)
	}
}

func TestExpireIf(t *testing.T) {
	c, clock := newTestCache(t, Options{})
	if existed, changed, _ := c.ExpireIf("absent", clock.in(time.Second), ExpireAlways); existed || changed {
		t.Fatal("ExpireIf on an absent key reported it")
	}
	_ = c.Set("k", "v", clock.in(time.Minute))
	existed, changed, _ := c.ExpireIf("k", clock.in(time.Hour), ExpireIfNone)
	if !existed || changed {
		t.Fatalf("refused ExpireIf: existed %v changed %v", existed, changed)
	}
	if _, exp, _, _ := c.Lookup("k"); exp != clock.in(time.Minute) {
		t.Fatal("a refused ExpireIf changed the expiry")
	}
	if _, changed, _ := c.ExpireIf("k", clock.in(time.Hour), ExpireIfLater); !changed {
		t.Fatal("an allowed ExpireIf did not change the expiry")
	}
	if v, exp, _, _ := c.Lookup("k"); v != "v" || exp != clock.in(time.Hour) {
		t.Fatalf("after ExpireIf: %q expiring %d", v, exp)
	}
	checkInvariants(t, c)
}

// TestExpireConditionAllows is Redis's EXPIRE NX, XX, GT and LT, where no
// expiry counts as an infinite one.
func TestExpireConditionAllows(t *testing.T) {
	const none, early, late = 0, 100, 200
	tests := []struct {
		cond          ExpireCondition
		current, next int64
		want          bool
	}{
		{ExpireAlways, none, early, true},
		{ExpireAlways, late, early, true},
		{ExpireIfNone, none, early, true},
		{ExpireIfNone, early, late, false},
		{ExpireIfSet, none, early, false},
		{ExpireIfSet, early, late, true},
		{ExpireIfLater, early, late, true},
		{ExpireIfLater, late, early, false},
		{ExpireIfLater, late, late, false}, // strictly later
		{ExpireIfLater, none, late, false}, // nothing is later than never
		{ExpireIfEarlier, late, early, true},
		{ExpireIfEarlier, early, late, false},
		{ExpireIfEarlier, early, early, false}, // strictly earlier
		{ExpireIfEarlier, none, late, true},    // anything is earlier than never
		{ExpireIfSet | ExpireIfLater, early, late, true},
		{ExpireIfSet | ExpireIfLater, none, late, false},
		{ExpireIfSet | ExpireIfEarlier, late, early, true},
		{ExpireIfSet | ExpireIfEarlier, none, early, false}, // XX refuses what LT alone allows
	}
	for _, tt := range tests {
		if got := tt.cond.Allows(tt.current, tt.next); got != tt.want {
			t.Errorf("ExpireCondition(%04b).Allows(%d, %d) = %v; want %v", tt.cond, tt.current, tt.next, got, tt.want)
		}
	}
}

// found unwraps the (found, error) of Delete and Expire: the in-process cache
// never fails them.
func found(ok bool, err error) bool {
	if err != nil {
		panic(err)
	}
	return ok
}

func TestGetWithExpiryCountsAsUse(t *testing.T) {
	c, clock := newTestCache(t, Options{MaxEntries: 2, Shards: 1})
	_ = c.Set("old", "1", clock.in(time.Minute))
	_ = c.Set("new", "2", 0)
	if v, exp, ok := c.GetWithExpiry("old"); !ok || v != "1" || exp != clock.in(time.Minute) {
		t.Fatalf("GetWithExpiry = %q, %d, %v", v, exp, ok)
	}
	_ = c.Set("third", "3", 0) // evicts the least recently used: "new", since "old" was just read
	if _, _, ok := c.GetWithExpiry("old"); !ok {
		t.Fatal("GetWithExpiry did not count as a use: the key it read was evicted")
	}
	if _, _, ok := c.GetWithExpiry("new"); ok {
		t.Fatal("the unread key survived eviction")
	}
	if st := c.Stats(); st.Hits != 2 || st.Misses != 1 {
		t.Fatalf("hits %d misses %d; want 2 and 1", st.Hits, st.Misses)
	}
}
