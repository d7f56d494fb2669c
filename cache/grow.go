package cache

import "iter"

// Shards grow with what they hold.
//
// freelru allocates an LRU's arrays for its whole capacity when it is built, and
// they hold pointers (the key and value strings), so the GC marks all of them. A
// shard sized for its share of the entry bound up front made every new instance
// allocate, zero and mark memory for entries it might never hold: at a 1 GiB
// budget, hundreds of megabytes before the first request. So a shard starts at
// initialShardCapacity and, when a new key finds it full, is rebuilt with larger
// arrays before freelru would evict. Rebuilding moves the entries oldest first, so
// LRU order is kept, and each entry carries its own expiry.
//
// While a shard is rebuilt its old and new arrays are both alive, and both are
// counted against its budget. Doubling alone would then stop a shard of small
// entries at about 70% of its budget: near the end the two sets of arrays no
// longer fit beside the entries. So the growth steps aim at the capacity that
// entries of the mean size so far fill together with their slots ("fit"): a
// shard doubles while the step after the doubling could still reach fit, and
// otherwise goes to fit at once, while the old arrays are still small enough to
// sit beside the new ones.

// initialShardCapacity is the capacity a shard starts with and returns to when
// flushed: about 24 KiB of arrays, so a cache of 64 shards starts with 1.5 MiB.
// Small budgets start smaller (New).
const initialShardCapacity = 256

// minGrowthFraction: a rebuild must add at least 1/minGrowthFraction of the
// capacity. A rebuild copies every entry, so small steps near the byte budget
// would cost a copy of the shard for a handful of entries; this bounds the copying
// at minGrowthFraction entry moves per entry gained, and forgoes at most that part
// of a shard's capacity.
const minGrowthFraction = 16

// growFor grows the shard, if its budget allows, so that one more entry of cost
// bytes fits without evicting. The caller holds s.mu and found the shard full.
func (s *shard) growFor(cost int64) {
	if target := s.growTarget(cost); target > 0 {
		s.resize(target)
	}
}

// growTarget is the capacity to rebuild the shard with before it takes one more
// entry of cost bytes, or 0 to stay as it is and evict.
func (s *shard) growTarget(cost int64) int {
	if s.capacity >= s.maxCapacity {
		return 0
	}
	n := int64(s.lru.Len())
	mean := (s.entryBytes + cost) / (n + 1)
	held := s.used() - s.arrays + cost // entries, expiry index, the new entry
	// fits reports whether a rebuild from capacity from to capacity to, made
	// when the shard holds held bytes, keeps both sets of arrays in the budget.
	fits := func(from, to int, held int64) bool {
		return arrayBytes(from)+arrayBytes(to)+held <= s.budget
	}
	fit := int(min(int64(s.maxCapacity), (s.budget-s.expiries.bytes())/(mean+slotBytesPerEntry)))
	target := min(2*s.capacity, fit)
	if next := 2 * s.capacity; next < fit && !fits(next, fit, held+int64(next)*mean-n*mean) {
		target = fit // the last step would not fit later: take it now
	}
	for target > s.capacity && !fits(s.capacity, target, held) {
		// arrayBytes is close to linear in the capacity: step down by the overshoot.
		over := arrayBytes(s.capacity) + arrayBytes(target) + held - s.budget
		target -= max(1, int(over/slotBytesPerEntry))
	}
	if target < s.capacity+max(1, s.capacity/minGrowthFraction) {
		return 0
	}
	return target
}

// shrinkIfSparse rebuilds a shard that holds less than an eighth of its capacity
// at twice what it holds, so that memory held for entries since deleted or
// expired goes back, as Redis shrinks a hash table below a tenth full. The gap
// between the two fractions keeps a shard from shrinking and growing back and
// forth: it shrinks again only after losing three quarters of its entries, and
// grows only after doubling them. The caller holds s.mu.
func (s *shard) shrinkIfSparse() {
	if s.capacity <= s.initialCapacity || s.lru.Len() >= s.capacity/8 {
		return
	}
	target := max(s.initialCapacity, 2*s.lru.Len())
	if s.used()+arrayBytes(target) > s.budget {
		return
	}
	s.resize(target)
}

// resize rebuilds the shard's LRU with the given capacity, at least its length,
// moving the entries in LRU order, oldest first, so that recency is what it was.
func (s *shard) resize(capacity int) {
	old := s.lru
	next := s.newLRU(capacity)
	if s.observeResize != nil {
		s.observeResize(arrayBytes(capacity))
	}
	old.SetOnEvict(nil) // the entries move; their bytes stay charged
	for {
		key, e, ok := old.RemoveOldest()
		if !ok {
			break
		}
		s.hash = uint32(hashKey(key))
		next.Add(key, e)
	}
	s.lru = next
	s.capacity = capacity
	s.arrays = arrayBytes(capacity)
}

// Reserve readies the cache for a bulk load of entries, a snapshot restore:
// it counts what each shard will receive and rebuilds each shard once, large
// enough for its share, instead of through the rebuilds of a growing fill, each
// of which moves every entry the shard holds. It is only a hint: the entries
// still go in with Set, in the caller's order. A shard whose budget cannot hold
// its share is rebuilt for what its budget holds, and evicts as before.
func (c *Cache) Reserve(entries iter.Seq2[string, string]) {
	counts := make([]int, len(c.shards))
	costs := make([]int64, len(c.shards))
	for key, value := range entries {
		i := c.shardIndex(hashKey(key))
		counts[i]++
		costs[i] += entryCost(key, value)
	}
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		s.reserve(counts[i], costs[i])
		s.mu.Unlock()
	}
}

// reserve rebuilds the shard, if it is worth it and its budget allows, to hold
// n more entries that cost bytes together. The caller holds s.mu.
func (s *shard) reserve(n int, bytes int64) {
	if n == 0 {
		return
	}
	total := s.lru.Len() + n
	mean := (s.entryBytes + bytes) / int64(total)
	fit := int(min(int64(s.maxCapacity), (s.budget-s.expiries.bytes())/(mean+slotBytesPerEntry)))
	target := min(total, fit)
	held := s.used() - s.arrays
	if target < s.capacity+max(1, s.capacity/minGrowthFraction) ||
		arrayBytes(s.capacity)+arrayBytes(target)+held > s.budget {
		return // a small step, or no room for both arrays: growing as it fills will do
	}
	s.resize(target)
}
