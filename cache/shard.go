package cache

import (
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/elastic/go-freelru"
)

// entry is what freelru stores per key. Expiry lives here rather than in freelru's own
// lifetime field because freelru reads the wall clock itself, and warmkv needs an
// injectable clock and nanosecond-exact absolute expiry times.
type entry struct {
	value    string
	expireAt int64 // Unix nanoseconds; 0 = never
}

// shard is one freelru.LRU with its own lock, byte budget and counters. Every method
// expects s.mu to be held by the caller.
type shard struct {
	mu  sync.Mutex
	lru *freelru.LRU[string, entry]

	// owner is the transaction that owns the shard, nil if none (txn.go):
	// other operations wait on ownerFree, whose lock is mu, while it is set.
	owner     *txn
	ownerFree sync.Cond
	// watched lists the watchers of each watched key (watch.go); every
	// change to one of those keys marks its watchers changed.
	watched map[string][]*watcher

	// hash is the hash of the key of the freelru call in progress. freelru hashes the
	// key again inside every call; handing it the hash the Cache already computed
	// (outside the lock) halves the hashing work on the hot path. Safe because every
	// freelru call happens under mu, right after hash is set for that call's key.
	hash uint32

	now func() int64

	// capacity is the entry bound of lru now; it grows (grow.go) up to maxCapacity,
	// this shard's share of the cache's entry bound, and falls back to
	// initialCapacity when the shard is flushed.
	capacity, initialCapacity, maxCapacity int
	// arrays is the heap lru's arrays hold, whatever is stored in them.
	arrays int64
	// observeResize, when set (tests), runs during each rebuild while the old and
	// the new arrays are both alive, with the size of the new ones.
	observeResize func(newArrays int64)

	budget     int64 // bytes this shard's arrays, entries and expiry index may use
	entryBytes int64 // heap held by keys and values
	withExpiry int   // live entries with an expiry, to know when the index is mostly stale
	expiries   expiryIndex

	hits, misses, inserts, updates, deletes, evictions, expirations uint64

	_ [64]byte // keep neighbouring shards' locks off this cache line
}

func (s *shard) init(initial, most int, budget int64, now func() int64) {
	s.initialCapacity, s.maxCapacity = initial, most
	s.budget = budget
	s.now = now
	s.ownerFree.L = &s.mu
	s.lru = s.newLRU(initial)
	s.capacity = initial
	s.arrays = arrayBytes(initial)
}

// newLRU builds an empty freelru LRU for this shard. Its hash callback returns the
// hash the caller set in s.hash, and OnEvict, which runs for every way an entry
// leaves freelru (capacity eviction, Remove, RemoveOldest, Purge) with the shard
// lock held, only updates the accounting.
func (s *shard) newLRU(capacity int) *freelru.LRU[string, entry] {
	lru, err := freelru.NewWithSize[string, entry](uint32(capacity), uint32(slotsFor(capacity)),
		func(string) uint32 { return s.hash })
	if err != nil {
		panic(err) // capacities are checked by New
	}
	lru.SetOnEvict(func(key string, e entry) {
		s.entryBytes -= entryCost(key, e.value)
		if e.expireAt != 0 {
			s.withExpiry--
		}
		if len(s.watched) != 0 {
			s.touch(key)
		}
	})
	return lru
}

func (s *shard) used() int64 { return s.arrays + s.entryBytes + s.expiries.bytes() }

func (s *shard) expired(e entry) bool {
	return e.expireAt != 0 && e.expireAt <= s.now()
}

// lookup returns the live entry for key, removing it if it has expired. It does not
// change recency.
func (s *shard) lookup(h uint32, key string) (entry, bool) {
	s.hash = h
	e, ok := s.lru.Peek(key)
	if !ok {
		return entry{}, false
	}
	if s.expired(e) {
		s.hash = h
		s.lru.Remove(key)
		s.expirations++
		return entry{}, false
	}
	return e, true
}

func (s *shard) get(h uint32, key string) (entry, bool) {
	s.hash = h
	e, ok := s.lru.Get(key)
	if ok && s.expired(e) {
		s.hash = h
		s.lru.Remove(key)
		s.expirations++
		ok = false
	}
	if !ok {
		s.misses++
		return entry{}, false
	}
	s.hits++
	return e, true
}

// store writes key=value with the given expiry (never KeepTTL here) and then evicts
// least-recently-used entries until the shard is within its byte budget again.
func (s *shard) store(h uint32, key, value string, expireAt int64) error {
	return s.storeBorrowed(h, key, value, expireAt, false)
}

// storeBorrowed is store for a key that, when borrowed, the caller will reuse:
// it is cloned before anything keeps it (see Cache.SetBorrowed).
func (s *shard) storeBorrowed(h uint32, key, value string, expireAt int64, borrowed bool) error {
	cost := entryCost(key, value)
	if cost > s.budget {
		return ErrTooLarge
	}
	if expireAt != 0 && expireAt <= s.now() {
		// An expiry in the past deletes, as Redis's SET with EXAT in the past does.
		s.remove(h, key)
		return nil
	}

	s.hash = h
	old, exists := s.lru.Peek(key)
	if exists {
		// freelru overwrites without calling OnEvict: settle the old entry here.
		s.entryBytes -= entryCost(key, old.value)
		if old.expireAt != 0 {
			s.withExpiry--
		}
		s.updates++
	} else {
		s.inserts++
		if s.lru.Len() >= s.capacity {
			s.growFor(cost) // room for one more entry, if the budget allows it
		}
	}

	if borrowed && (!exists || expireAt != 0) {
		key = strings.Clone(key) // freelru or the expiry index keeps it
	}
	if len(s.watched) != 0 {
		s.touch(key)
	}
	s.entryBytes += cost
	if expireAt != 0 {
		s.withExpiry++
		s.expiries.push(expireAt, key)
	}
	s.hash = h
	if s.lru.Add(key, entry{value: value, expireAt: expireAt}) {
		s.evictions++ // freelru made room by dropping its oldest entry
	}
	s.enforceBudget()
	return nil
}

func (s *shard) remove(h uint32, key string) bool {
	s.hash = h
	removed := s.lru.Remove(key)
	s.shrinkIfSparse()
	return removed
}

func (s *shard) enforceBudget() {
	if s.expiries.len() > 2*s.withExpiry+64 {
		s.compactExpiries()
	}
	// Len() > 1 keeps the entry just stored: it is the newest, and store already
	// refused anything bigger than the whole budget.
	for s.used() > s.budget && s.lru.Len() > 1 {
		s.lru.RemoveOldest()
		s.evictions++
	}
}

// compactExpiries drops index items whose entry is gone or has another expiry now.
// It runs when stale items outnumber live ones, so its O(n) cost is amortised over at
// least n/2 pushes.
func (s *shard) compactExpiries() {
	s.expiries.filter(func(it expiryItem) bool {
		s.hash = uint32(hashKey(it.key))
		e, ok := s.lru.Peek(it.key)
		return ok && e.expireAt == it.at
	})
}

// reap removes up to limit entries whose expiry has passed, earliest first, and reports
// whether more may be waiting.
func (s *shard) reap(limit int) (more bool) {
	now := s.now()
	for range limit {
		if s.expiries.len() == 0 || s.expiries.peek().at > now {
			return false
		}
		it := s.expiries.pop()
		h := uint32(hashKey(it.key))
		s.hash = h
		if e, ok := s.lru.Peek(it.key); ok && e.expireAt == it.at {
			s.remove(h, it.key)
			s.expirations++
		}
	}
	return true
}

func (s *shard) flush() {
	if len(s.watched) != 0 {
		s.touchLive() // a rebuild below would drop the entries without OnEvict
	}
	if s.capacity > s.initialCapacity {
		// An empty shard goes back to its first size: what a flushed cache costs
		// follows what it holds, as it did when it was new.
		s.lru = s.newLRU(s.initialCapacity)
		s.capacity = s.initialCapacity
		s.arrays = arrayBytes(s.initialCapacity)
	} else {
		s.lru.Purge() // calls OnEvict for every entry
	}
	s.expiries.reset()
	s.withExpiry = 0
	s.entryBytes = 0
}

// update is the one read-modify-write path: fn sees the live entry (if any) and says
// what to store. Running it under the shard lock is what makes increment, append and
// check-and-set atomic.
func (s *shard) update(h uint32, key string, expireAt int64, fn func(old entry, found bool) (string, error)) (string, error) {
	old, found := s.lookup(h, key)
	value, err := fn(old, found)
	if err != nil {
		return "", err
	}
	if expireAt == KeepTTL {
		expireAt = 0
		if found {
			expireAt = old.expireAt
		}
	}
	if err := s.store(h, key, value, expireAt); err != nil {
		return "", err
	}
	return value, nil
}

// addInt adds delta to a decimal integer value, refusing anything Redis's INCRBY
// would refuse: non-canonical numbers and overflow.
func addInt(current string, delta int64) (int64, error) {
	n, err := strconv.ParseInt(current, 10, 64)
	if err != nil || strconv.FormatInt(n, 10) != current {
		return 0, ErrNotInteger
	}
	sum := n + delta
	if (delta > 0 && sum < n) || (delta < 0 && sum > n) {
		return 0, ErrOverflow
	}
	return sum, nil
}

func runeCountOver(s string, maxRunes int) bool {
	return maxRunes > 0 && utf8.RuneCountInString(s) > maxRunes
}
