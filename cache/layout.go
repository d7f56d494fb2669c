package cache

import "fmt"

// layout is how New splits a cache: its entry bound, its shards and the
// capacity each shard starts with.
type layout struct {
	capacity, shards, start int
}

// layoutOf works out the layout of a cache built with o, or why it cannot be built.
func layoutOf(o Options) (layout, error) {
	if o.MaxBytes <= 0 {
		return layout{}, fmt.Errorf("cache: MaxBytes must be positive, got %d", o.MaxBytes)
	}
	if o.MaxEntries < 0 || o.MaxEntries > maxCapacity {
		return layout{}, fmt.Errorf("cache: MaxEntries must be between 0 and %d, got %d", maxCapacity, o.MaxEntries)
	}
	capacity := o.MaxEntries
	if capacity == 0 {
		capacity = int(min(o.MaxBytes/(slotBytesPerEntry+minEntryBytes), maxCapacity))
		if capacity < 1 {
			return layout{}, fmt.Errorf("cache: a budget of %d bytes cannot hold a single entry", o.MaxBytes)
		}
	}
	n := o.Shards
	if n == 0 {
		n = 64
		for n > 1 && (capacity/n < 256 || o.MaxBytes/int64(n) < minShardBytes) {
			n /= 2
		}
	}
	if n < 1 || n&(n-1) != 0 || n > capacity {
		return layout{}, fmt.Errorf("cache: Shards must be a power of two no larger than the capacity %d, got %d", capacity, n)
	}
	// Shards start small: together at most a sixteenth of the budget.
	start := initialShardCapacity
	for start > 1 && int64(n)*arrayBytes(start) > o.MaxBytes/16 {
		start = start * 3 / 4
	}
	if first := int64(n) * arrayBytes(min(start, capacity/n)); first > o.MaxBytes/2 {
		return layout{}, fmt.Errorf("cache: a budget of %d bytes is too small for %d shards (their first arrays take %d bytes)",
			o.MaxBytes, n, first)
	}
	return layout{capacity: capacity, shards: n, start: start}, nil
}

func (l layout) shardBudget(o Options) int64 { return o.MaxBytes / int64(l.shards) }

// MaxValueBytes is the longest value, in bytes, that a cache built with o
// stores beside a key of keyBytes bytes and an expiry: what one shard's byte
// budget holds once that shard's first arrays are paid for. Storing it evicts
// everything else in its shard; a longer value may be refused with
// ErrTooLarge. A door that takes large values uses it as its default limit,
// so that a value it accepts is one the cache can keep.
func MaxValueBytes(o Options, keyBytes int) (int64, error) {
	l, err := layoutOf(o)
	if err != nil {
		return 0, err
	}
	first := min(l.start, shardCapacity(l.capacity, l.shards, 0))
	room := l.shardBudget(o) - arrayBytes(first) - allocSize(keyBytes) - expiryItemBytes(keyBytes)
	return largestString(room), nil
}

// MaxValueBytes is the package function for this cache.
func (c *Cache) MaxValueBytes(keyBytes int) int64 {
	s := &c.shards[0]
	room := s.budget - arrayBytes(s.initialCapacity) - allocSize(keyBytes) - expiryItemBytes(keyBytes)
	return largestString(room)
}

// expiryItemBytes is what the expiry index charges for one item of a key of keyBytes.
func expiryItemBytes(keyBytes int) int64 { return heapItemBytes + allocSize(keyBytes) }

// largestString is the length of the longest string whose heap allocation
// (allocSize) is at most room bytes; 0 if none is.
func largestString(room int64) int64 {
	switch {
	case room <= 0:
		return 0
	case room > int64(sizeClasses[len(sizeClasses)-1]):
		return room / pageSize * pageSize
	}
	var best int64
	for _, class := range sizeClasses {
		if int64(class) <= room {
			best = int64(class)
		}
	}
	return best
}

// EntryBytes is what one entry costs the cache: its key and value as the heap
// holds them, its share of the LRU arrays and, with an expiry, its item in
// the expiry index. Redis's MEMORY USAGE answers it.
func EntryBytes(key, value string, withExpiry bool) int64 {
	n := entryCost(key, value) + slotBytesPerEntry
	if withExpiry {
		n += expiryItemBytes(len(key))
	}
	return n
}
