package cache

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// usedNow sums what every shard is charged. Only for tests that run on one
// goroutine: it reads the shards without their locks, because it runs inside a
// rebuild, while one of them is held.
func usedNow(c *Cache) int64 {
	var used int64
	for i := range c.shards {
		used += c.shards[i].used()
	}
	return used
}

// rebuildWatch counts the shards' rebuilds and the most the cache was charged
// during one, while the old and the new arrays were both alive.
type rebuildWatch struct {
	rebuilds int
	peak     int64
}

func watchRebuilds(c *Cache) *rebuildWatch {
	w := &rebuildWatch{}
	for i := range c.shards {
		c.shards[i].observeResize = func(newArrays int64) {
			w.rebuilds++
			w.peak = max(w.peak, usedNow(c)+newArrays)
		}
	}
	return w
}

// key makes distinct keys of exactly n bytes.
func key(i, n int) string {
	k := fmt.Sprintf("k%d-", i)
	return k + strings.Repeat("x", n-len(k))
}

func TestNewCacheCostsLittleAtAnyBudget(t *testing.T) {
	for _, budget := range []int64{64 << 20, 1 << 30, 3 << 30, 64 << 30} {
		c, _ := newTestCache(t, Options{MaxBytes: budget})
		_ = c.Set("one", "key", 0)
		if st := c.Stats(); st.Bytes > 2<<20 {
			t.Errorf("budget %d: a cache holding one key is charged %d bytes", budget, st.Bytes)
		}
	}
}

// TestFillReachesTheBudgetBeforeEvicting writes distinct keys until the first
// eviction, checking at every rebuild that the old and the new arrays together stay
// within the budget.
func TestFillReachesTheBudgetBeforeEvicting(t *testing.T) {
	budgets := []int64{16 << 20, 64 << 20}
	if testing.Short() {
		budgets = budgets[:1]
	}
	for _, shape := range []struct{ key, value int }{{20, 100}, {256, 256}} {
		for _, budget := range budgets {
			t.Run(fmt.Sprintf("%d/%d in %d MiB", shape.key, shape.value, budget>>20), func(t *testing.T) {
				c, _ := newTestCache(t, Options{MaxBytes: budget})
				w := watchRebuilds(c)
				value := strings.Repeat("v", shape.value)
				var atFirstEviction int64
				for i := 0; ; i++ {
					_ = c.Set(key(i, shape.key), value, 0)
					if st := c.Stats(); st.Evictions > 0 {
						atFirstEviction = st.Bytes
						break
					}
					if i%4096 == 0 {
						checkInvariants(t, c)
					}
				}
				if w.rebuilds == 0 {
					t.Fatal("the shards never grew")
				}
				if w.peak > budget {
					t.Errorf("during a rebuild the cache held %d bytes, over its budget of %d", w.peak, budget)
				}
				fill := float64(atFirstEviction) / float64(budget)
				t.Logf("first eviction at %.1f%% of the budget, after %d rebuilds", 100*fill, w.rebuilds)
				if fill < 0.9 {
					t.Errorf("first eviction at %.1f%% of the budget; want at least 90%%", 100*fill)
				}
				// Keep going well past full: the bounds hold while evicting.
				for i := range int(c.Stats().Entries) {
					_ = c.Set(key(-i-1, shape.key), value, 0)
				}
				checkInvariants(t, c)
				if w.peak > budget {
					t.Errorf("during a rebuild the cache held %d bytes, over its budget of %d", w.peak, budget)
				}
			})
		}
	}
}

func TestGrowingKeepsRecencyAndExpiry(t *testing.T) {
	c, clock := newTestCache(t, Options{MaxEntries: 10_000, Shards: 1})
	s := &c.shards[0]
	start := s.capacity
	for i := range start {
		var expireAt int64
		if i%3 == 0 {
			expireAt = clock.in(time.Duration(i+1) * time.Minute)
		}
		_ = c.Set(fmt.Sprint(i), fmt.Sprint("v", i), expireAt)
	}
	for i := 0; i < start; i += 7 {
		_, _, _ = c.Get(fmt.Sprint(i)) // change the recency order
	}
	before := c.Dump(0, nil)
	_ = c.Set("new", "v", 0) // the shard is full: this grows it
	if s.capacity <= start {
		t.Fatalf("capacity %d after an insert into a full shard of %d", s.capacity, start)
	}
	after := c.Dump(0, nil)
	if len(after) != len(before)+1 || after[len(after)-1].Key != "new" {
		t.Fatalf("after growing: %d entries, want %d ending with the new key", len(after), len(before)+1)
	}
	for i, it := range before {
		if after[i] != it {
			t.Fatalf("entry %d was %+v before growing and %+v after", i, it, after[i])
		}
	}
	if st := c.Stats(); st.Evictions != 0 {
		t.Errorf("growing evicted %d entries", st.Evictions)
	}
	checkInvariants(t, c)
}

func TestShardsShrinkWhenEmptied(t *testing.T) {
	c, clock := newTestCache(t, Options{MaxBytes: 64 << 20})
	empty := c.Stats().SlotBytes
	for i := range 100_000 {
		_ = c.Set(key(i, 20), "value", clock.in(time.Second))
	}
	full := c.Stats().SlotBytes
	if full < 4*empty {
		t.Fatalf("100k entries hold %d bytes of arrays, a new cache %d: the shards did not grow", full, empty)
	}
	for i := range 50_000 {
		_, _ = c.Delete(key(i, 20))
	}
	clock.advance(2 * time.Second)
	c.ReapExpired()
	if got := c.Stats().SlotBytes; got > 2*empty {
		t.Errorf("an emptied cache still holds %d bytes of arrays; new it held %d", got, empty)
	}
	checkInvariants(t, c)

	for i := range 100_000 {
		_ = c.Set(key(i, 20), "value", 0)
	}
	_ = c.Flush()
	if got := c.Stats().SlotBytes; got != empty {
		t.Errorf("a flushed cache holds %d bytes of arrays; new it held %d", got, empty)
	}
	checkInvariants(t, c)
}

func TestEntryBoundHoldsWhileGrowing(t *testing.T) {
	// A budget far larger than the entries need: the entry bound decides.
	c, _ := newTestCache(t, Options{MaxBytes: 1 << 30, MaxEntries: 50_000})
	for i := range 120_000 {
		_ = c.Set(key(i, 20), "value", 0)
	}
	st := c.Stats()
	if st.Entries != 50_000 || st.MaxEntries != 50_000 {
		t.Fatalf("entries %d, bound %d; want both 50000", st.Entries, st.MaxEntries)
	}
	for i := range c.shards {
		if s := &c.shards[i]; s.capacity != s.maxCapacity {
			t.Errorf("shard %d grew to %d, its share of the entry bound is %d", i, s.capacity, s.maxCapacity)
		}
	}
	checkInvariants(t, c)
}

// TestReserveSparesTheRebuilds loads entries as a snapshot restore does, after
// Reserve: no shard is rebuilt while they go in, every one is held, and the
// budget holds. Past what the budget holds, Reserve grows shards only as far as
// it allows, and the load evicts as before.
func TestReserveSparesTheRebuilds(t *testing.T) {
	const budget = 16 << 20
	value := strings.Repeat("v", 100)
	for _, tt := range []struct {
		name    string
		entries int
		evicts  bool
	}{
		{"fits", 40_000, false},
		{"twice the budget", 2 * budget / 232, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newTestCache(t, Options{MaxBytes: budget})
			entries := func(yield func(string, string) bool) {
				for i := range tt.entries {
					if !yield(key(i, 20), value) {
						return
					}
				}
			}
			c.Reserve(entries)
			w := watchRebuilds(c)
			for k, v := range entries {
				_ = c.Set(k, v, 0)
			}
			checkInvariants(t, c)
			st := c.Stats()
			if st.Bytes > budget || w.peak > budget {
				t.Errorf("charged %d bytes (%d during a rebuild), over the budget of %d", st.Bytes, w.peak, budget)
			}
			if !tt.evicts {
				if w.rebuilds != 0 {
					t.Errorf("%d rebuilds during the load; Reserve should have made room once", w.rebuilds)
				}
				if st.Entries != int64(tt.entries) || st.Evictions != 0 {
					t.Errorf("holds %d of %d entries, %d evicted", st.Entries, tt.entries, st.Evictions)
				}
				return
			}
			if st.Evictions == 0 {
				t.Fatalf("twice the budget went in without an eviction")
			}
			// Reserve or not, the newest entries are what stays.
			for i := tt.entries - 100; i < tt.entries; i++ {
				if _, ok, _ := c.Get(key(i, 20)); !ok {
					t.Fatalf("entry %d of %d, among the newest, is gone", i, tt.entries)
				}
			}
			if fill := float64(st.Bytes) / budget; fill < 0.9 {
				t.Errorf("a full load fills %.1f%% of the budget; want at least 90%%", 100*fill)
			}
		})
	}
}
