// Package cache is warmkv's in-process store: string keys and values in
// least-recently-used order, bounded both in entries and in bytes, with absolute
// expiry times and atomic read-modify-write operations.
//
// It is built on freelru's single-threaded LRU, split into shards that each have their
// own lock and byte budget. freelru counts entries only and allocates its arrays for a
// fixed capacity, so the byte accounting is ours: each shard's arrays are charged as
// they are allocated, each entry's key and value by the heap they really occupy, and a
// shard evicts its least-recently-used entries while it is over budget. Shards start
// small and are rebuilt larger as they fill (grow.go), so what the cache costs follows
// what it holds.
//
// The package knows nothing of HTTP, JSON or Redis.
package cache

import (
	"errors"
	"hash/maphash"
	"math/bits"
	"runtime"
	"strings"
	"sync"
	"time"
)

// KeepTTL as an expiry keeps the entry's current expiry (none if the key is new), as
// Redis's INCR, APPEND and SET ... KEEPTTL do.
const KeepTTL int64 = -1

var (
	// ErrTooLarge means the entry alone is larger than a shard's byte budget.
	ErrTooLarge = errors.New("entry larger than the cache's memory budget allows")
	// ErrNotInteger means increment on a value that is not a base-10 signed 64-bit integer.
	ErrNotInteger = errors.New("value is not an integer or out of range")
	// ErrOverflow means increment would overflow a signed 64-bit integer.
	ErrOverflow = errors.New("increment or decrement would overflow")
	// ErrValueTooLong means append or prepend would make the value longer than allowed.
	ErrValueTooLong = errors.New("value would exceed the maximum length")
	// ErrUnavailable means a shared tier did not answer in time; a write may or may
	// not have taken effect there. The in-process cache never returns it.
	ErrUnavailable = errors.New("the shared tier is unavailable")
	// ErrStale comes with a valid value read from an instance's local copy while
	// the shared tier was unavailable: another instance may have changed it since.
	ErrStale = errors.New("answered from the local copy; the shared tier is unavailable")
)

// Options configure a Cache. MaxBytes is required.
type Options struct {
	// MaxBytes bounds everything the cache holds: the LRU arrays, keys, values and
	// the expiry index, including a second set of arrays while a shard grows.
	MaxBytes int64
	// MaxEntries bounds the number of entries; 0 derives it from MaxBytes as the
	// most entries of the smallest size that fit, so that the byte bound is the
	// one that binds.
	MaxEntries int
	// Shards is the number of independently locked shards, a power of two; 0 picks
	// up to 64, fewer for small caches so that LRU order stays close to global.
	Shards int
	// Clock returns the current time in Unix nanoseconds; nil means the wall clock.
	Clock func() int64
	// ReapInterval is how often the background reaper removes expired entries;
	// 0 means 100ms, negative disables it (ReapExpired can be called instead).
	ReapInterval time.Duration
}

// Cache is safe for concurrent use. Its zero value is not usable: call New.
type Cache struct {
	shards    []shard
	shardBits uint
	maxBytes  int64
	capacity  int
	stop      chan struct{}
	stopOnce  sync.Once
	reaperWG  sync.WaitGroup
}

var _ Store = (*Cache)(nil)

// seed randomises key hashing per process, so that nobody can choose keys that all
// land in one shard or one freelru bucket.
var seed = maphash.MakeSeed()

func hashKey(key string) uint64 { return maphash.String(seed, key) }

// minEntryBytes is the smallest entry: a one-byte key and an empty value. A derived
// entry bound counts entries of this size with their slots, so it binds only for
// caches of tiny entries and the byte budget decides how many real ones fit.
const minEntryBytes = 16

// minShardBytes is the smallest budget New gives a shard unless told otherwise.
// Each shard evicts when it is full, and keys spread over the shards by chance,
// so the fullest shard runs ahead of the mean by about three times the square
// root of its entries: a shard must hold a thousand or so of the largest entries
// (256-byte keys and values) for the cache to be 90% full before it evicts.
var minShardBytes int64 = 1 << 20

// maxCapacity is the largest entry bound: freelru counts in uint32 per shard.
const maxCapacity = 1 << 31

// New builds a cache and, unless disabled, starts its reaper.
func New(o Options) (*Cache, error) {
	l, err := layoutOf(o)
	if err != nil {
		return nil, err
	}
	c := &Cache{
		shards:    make([]shard, l.shards),
		shardBits: uint(bits.TrailingZeros(uint(l.shards))),
		maxBytes:  o.MaxBytes,
		capacity:  l.capacity,
		stop:      make(chan struct{}),
	}
	now := o.Clock
	if now == nil {
		now = func() int64 { return time.Now().UnixNano() }
	}
	for i := range c.shards {
		most := shardCapacity(l.capacity, l.shards, i)
		c.shards[i].init(min(most, l.start), most, l.shardBudget(o), now)
	}

	interval := o.ReapInterval
	if interval == 0 {
		interval = 100 * time.Millisecond
	}
	if interval > 0 {
		c.reaperWG.Add(1)
		go c.reapEvery(interval)
	}
	return c, nil
}

// shardCapacity splits capacity so that the shards add up to exactly capacity.
func shardCapacity(capacity, n, i int) int {
	c := capacity / n
	if i < capacity%n {
		c++
	}
	return c
}

// Close stops the reaper. The cache stays usable; expired entries are then removed
// only when touched or by ReapExpired.
func (c *Cache) Close() {
	c.stopOnce.Do(func() { close(c.stop) })
	c.reaperWG.Wait()
}

// shardFor picks a shard from the high bits of the hash; freelru uses the low 32.
func (c *Cache) shardFor(h uint64) *shard { return &c.shards[c.shardIndex(h)] }

func (c *Cache) shardIndex(h uint64) int {
	if c.shardBits == 0 {
		return 0
	}
	return int(h >> (64 - c.shardBits))
}

// Get returns the value of key and marks it most recently used.
func (c *Cache) Get(key string) (string, bool, error) {
	h := hashKey(key)
	s := c.shardFor(h)
	s.mu.Lock() // s.lock(), by hand: it is too large to inline, and this is the hot path
	if s.owner != nil {
		if err := s.awaitOwner(); err != nil {
			return "", false, err
		}
	}
	e, ok := s.get(uint32(h), key)
	s.mu.Unlock()
	return e.value, ok, nil
}

// GetWithExpiry is Get that also returns the expiry (Unix nanoseconds, 0 = never):
// a read that counts as a use, for a store that keeps this cache as its local copy.
// It waits for a transaction on the key's shard however long it runs: a store
// that keeps a local copy here runs none.
func (c *Cache) GetWithExpiry(key string) (value string, expireAt int64, ok bool) {
	h := hashKey(key)
	s := c.shardFor(h)
	s.lockWaiting()
	e, ok := s.get(uint32(h), key)
	s.mu.Unlock()
	return e.value, e.expireAt, ok
}

// Lookup returns the value and expiry (Unix nanoseconds, 0 = never) of key without
// changing its recency or the hit and miss counters.
func (c *Cache) Lookup(key string) (value string, expireAt int64, ok bool, err error) {
	h := hashKey(key)
	s := c.shardFor(h)
	if err := s.lock(); err != nil {
		return "", 0, false, err
	}
	e, ok := s.lookup(uint32(h), key)
	s.mu.Unlock()
	return e.value, e.expireAt, ok, nil
}

// Set stores key=value. expireAt is in Unix nanoseconds: 0 means never (clearing any
// previous expiry, as Redis's SET does), KeepTTL keeps the current one, and a time in
// the past deletes the key.
func (c *Cache) Set(key, value string, expireAt int64) error {
	return c.set(key, value, expireAt, false)
}

// SetBorrowed is Set for a caller whose key aliases memory that it reuses once
// SetBorrowed returns, such as a connection's read buffer. The cache copies the
// key only where it keeps it: a new key, or one given an expiry. Overwriting a
// key without one, what a cache's writes mostly are, then allocates nothing
// for the key, and freelru keeps the key it already holds.
func (c *Cache) SetBorrowed(key, value string, expireAt int64) error {
	return c.set(key, value, expireAt, true)
}

func (c *Cache) set(key, value string, expireAt int64, borrowed bool) error {
	h := hashKey(key)
	s := c.shardFor(h)
	s.mu.Lock() // s.lock(), by hand, as in Get
	if s.owner != nil {
		if err := s.awaitOwner(); err != nil {
			return err
		}
	}
	var err error
	if expireAt == KeepTTL {
		if borrowed {
			key = strings.Clone(key) // the rarer path: a copy, always
		}
		err = s.setKeepTTL(uint32(h), key, value)
	} else {
		err = s.storeBorrowed(uint32(h), key, value, expireAt, borrowed)
	}
	s.mu.Unlock()
	return err
}

// Delete removes key and reports whether it was there (and unexpired).
func (c *Cache) Delete(key string) (bool, error) {
	h := hashKey(key)
	s := c.shardFor(h)
	if err := s.lock(); err != nil {
		return false, err
	}
	_, ok := s.getDelete(uint32(h), key)
	s.mu.Unlock()
	return ok, nil
}

// CompareAndSet stores value if key is absent or its value equals compare, and
// reports whether it stored.
func (c *Cache) CompareAndSet(key, compare, value string, expireAt int64) (bool, error) {
	h := hashKey(key)
	s := c.shardFor(h)
	if err := s.lock(); err != nil {
		return false, err
	}
	defer s.mu.Unlock()
	return s.compareAndSet(uint32(h), key, compare, value, expireAt)
}

// IncrementBy adds delta to the integer value of key (an absent key counts as 0) and
// returns the new value.
func (c *Cache) IncrementBy(key string, delta int64, expireAt int64) (int64, error) {
	h := hashKey(key)
	s := c.shardFor(h)
	if err := s.lock(); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	return s.incrementBy(uint32(h), key, delta, expireAt)
}

// Append adds fragment after (or, with prepend, before) the value of key, storing
// fragment alone if key is absent, and returns the new value. maxRunes > 0 refuses a
// result longer than that many code points with ErrValueTooLong.
func (c *Cache) Append(key, fragment string, prepend bool, maxRunes int, expireAt int64) (string, error) {
	h := hashKey(key)
	s := c.shardFor(h)
	if err := s.lock(); err != nil {
		return "", err
	}
	defer s.mu.Unlock()
	return s.append(uint32(h), key, fragment, prepend, maxRunes, expireAt)
}

// Flush removes every entry, all at once: it waits for the transactions
// running, and none starts until it is done. Counters other than entries and
// bytes are kept.
func (c *Cache) Flush() error {
	return c.Atomically(Scope{All: true}, func(tx Tx) error { return tx.Flush() })
}

// reapBatch bounds how long the reaper holds one shard's lock.
const reapBatch = 64

// ReapExpired removes every entry whose expiry has passed, one shard and one batch
// at a time, so that no request waits behind more than a batch, and yields the
// processor between batches, so that on a busy machine requests are not queued
// behind a reaper that would otherwise run for its whole time slice.
func (c *Cache) ReapExpired() {
	for i := range c.shards {
		s := &c.shards[i]
		for more := true; more; {
			s.mu.Lock()
			// A shard a transaction owns is left for the next round: its
			// keys do not change under it.
			more = s.owner == nil && s.reap(reapBatch)
			s.mu.Unlock()
			if more {
				runtime.Gosched()
			}
		}
	}
}

func (c *Cache) reapEvery(interval time.Duration) {
	defer c.reaperWG.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.ReapExpired()
		}
	}
}

// Stats returns a consistent-per-shard snapshot of the counters.
func (c *Cache) Stats() Stats {
	st := Stats{MaxBytes: c.maxBytes, MaxEntries: int64(c.capacity)}
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		st.Entries += int64(s.lru.Len())
		st.Bytes += s.used()
		st.SlotBytes += s.arrays
		st.Hits += s.hits
		st.Misses += s.misses
		st.Inserts += s.inserts
		st.Updates += s.updates
		st.Deletes += s.deletes
		st.Evictions += s.evictions
		st.Expirations += s.expirations
		s.mu.Unlock()
	}
	return st
}

// SetIf is the full form of Set: it stores only when cond holds and returns the
// previous value (for SET ... GET and GETSET) and whether it stored.
func (c *Cache) SetIf(key, value string, expireAt int64, cond Condition) (old string, existed, stored bool, err error) {
	h := hashKey(key)
	s := c.shardFor(h)
	if err := s.lock(); err != nil {
		return "", false, false, err
	}
	defer s.mu.Unlock()
	return s.setIf(uint32(h), key, value, expireAt, cond)
}

// GetDelete removes key and returns the value it had, as Redis's GETDEL does.
func (c *Cache) GetDelete(key string) (string, bool, error) {
	h := hashKey(key)
	s := c.shardFor(h)
	if err := s.lock(); err != nil {
		return "", false, err
	}
	defer s.mu.Unlock()
	e, ok := s.getDelete(uint32(h), key)
	return e.value, ok, nil
}

// Expire changes the expiry of an existing key without touching its value: 0
// removes the expiry (PERSIST), a time in the past deletes the key. It counts as a
// use of the key and as an update. It reports whether the key existed.
func (c *Cache) Expire(key string, expireAt int64) (bool, error) {
	_, changed, err := c.ExpireIf(key, expireAt, ExpireAlways)
	return changed, err
}

// ExpireIf is Expire when cond allows it for the key's current expiry, checked
// and applied under one lock so that no write slips in between.
func (c *Cache) ExpireIf(key string, expireAt int64, cond ExpireCondition) (existed, changed bool, err error) {
	h := hashKey(key)
	s := c.shardFor(h)
	if err := s.lock(); err != nil {
		return false, false, err
	}
	defer s.mu.Unlock()
	existed, changed = s.expireIf(uint32(h), key, expireAt, cond)
	return existed, changed, nil
}

// Item is one entry as Dump returns it.
type Item struct {
	Key      string
	Value    string
	ExpireAt int64 // Unix nanoseconds; 0 = never
}

// ShardCount is how many shards Dump can be asked for.
func (c *Cache) ShardCount() int { return len(c.shards) }

// Dump appends the live entries of one shard to dst, least recently used first,
// so that replaying them in order rebuilds the same recency. It takes the shard's
// lock once to copy the key order, then again per batch of keys to read their
// values, so a snapshot of a large shard never holds up that shard's requests for
// more than a batch. Entries written meanwhile may or may not be included; each
// entry included is as it was at one instant.
func (c *Cache) Dump(shard int, dst []Item) []Item {
	dst, _ = c.dump(shard, dst, nil, false)
	return dst
}

// DumpOrBusy is Dump for a listing that must not wait for a script past its
// busy time (Redis's KEYS and SCAN): it fails with ErrBusy instead, having
// listed what it appended to dst so far.
func (c *Cache) DumpOrBusy(shard int, dst []Item) ([]Item, error) {
	return c.dump(shard, dst, nil, true)
}

// dump lists a shard for the transaction self, or for none, waiting for any
// other transaction that owns the shard: however long it runs, or, with
// orBusy, until it is busy.
func (c *Cache) dump(shard int, dst []Item, self *txn, orBusy bool) ([]Item, error) {
	s := &c.shards[shard]
	lock := func() error {
		s.mu.Lock()
		for s.owner != nil && s.owner != self {
			if orBusy && s.owner.busy.Load() {
				s.mu.Unlock()
				return ErrBusy
			}
			s.ownerFree.Wait()
		}
		return nil
	}
	if err := lock(); err != nil {
		return dst, err
	}
	keys := s.lru.Keys()
	s.mu.Unlock()
	for start := 0; start < len(keys); start += dumpBatch {
		if err := lock(); err != nil {
			return dst, err
		}
		now := s.now()
		for _, k := range keys[start:min(start+dumpBatch, len(keys))] {
			s.hash = uint32(hashKey(k))
			e, ok := s.lru.Peek(k)
			if ok && (e.expireAt == 0 || e.expireAt > now) {
				dst = append(dst, Item{Key: k, Value: e.value, ExpireAt: e.expireAt})
			}
		}
		s.mu.Unlock()
	}
	return dst, nil
}

// dumpBatch bounds how long Dump holds a shard's lock at a time.
const dumpBatch = 256
