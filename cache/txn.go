package cache

import (
	"slices"
	"sync/atomic"
)

// A transaction owns its shards rather than holding their mutexes: it sets
// shard.owner and lets go of the mutex, then takes the mutex again for each of
// its operations. Every other operation takes the mutex, finds the owner and
// waits on shard.ownerFree until the owner leaves. Holding the mutexes
// instead would have been simpler, but a waiter blocked in Mutex.Lock cannot
// be told to give up, and a script that runs for seconds must be able to tell
// the operations waiting for it to give up (SetBusy, ErrBusy), both at once
// and for every later one. The hot path pays one comparison for this.

// lock takes the shard's mutex for one operation, waiting while a transaction
// owns the shard. It fails with ErrBusy, the mutex released, if that
// transaction is past its busy time.
func (s *shard) lock() error {
	s.mu.Lock()
	if s.owner != nil {
		return s.awaitOwner()
	}
	return nil
}

func (s *shard) awaitOwner() error {
	for s.owner != nil {
		if s.owner.busy.Load() {
			s.mu.Unlock()
			return ErrBusy
		}
		s.ownerFree.Wait()
	}
	return nil
}

// lockWaiting is lock for callers that cannot fail: it waits for the owner
// however long it runs.
func (s *shard) lockWaiting() {
	s.mu.Lock()
	for s.owner != nil {
		s.ownerFree.Wait()
	}
}

// txn is a transaction over some shards of a Cache, or all of them.
type txn struct {
	c      *Cache
	shards []int // owned, ascending
	all    bool
	busy   atomic.Bool

	// written, when tracking, collects the keys the transaction changed, for a
	// store that must copy them elsewhere (tier/).
	tracking bool
	written  []string
}

var (
	_ Tx            = (*txn)(nil)
	_ Transactional = (*Cache)(nil)
)

// Atomically runs fn over the keys of scope, whose shards it owns meanwhile.
func (c *Cache) Atomically(scope Scope, fn func(Tx) error) error {
	t, err := c.begin(scope)
	if err != nil {
		return err
	}
	defer t.end()
	return fn(t)
}

// AtomicallyChanged is Atomically that also returns the keys fn changed, in
// the order it first changed them, for a store that copies them elsewhere.
func (c *Cache) AtomicallyChanged(scope Scope, fn func(Tx) error) (changed []string, err error) {
	t, err := c.begin(scope)
	if err != nil {
		return nil, err
	}
	defer t.end()
	t.tracking = true
	err = fn(t)
	return t.written, err
}

// begin owns the shards of scope, in ascending order: two transactions that
// want the same shards then always meet at the first they share, never each
// owning what the other waits for.
func (c *Cache) begin(scope Scope) (*txn, error) {
	t := &txn{c: c, all: scope.All}
	if scope.All {
		t.shards = make([]int, len(c.shards))
		for i := range t.shards {
			t.shards[i] = i
		}
	} else {
		t.shards = make([]int, 0, len(scope.Keys))
		for _, k := range scope.Keys {
			t.shards = append(t.shards, c.shardIndex(hashKey(k)))
		}
		slices.Sort(t.shards)
		t.shards = slices.Compact(t.shards)
	}
	for i, n := range t.shards {
		if err := c.shards[n].acquire(t); err != nil {
			t.shards = t.shards[:i]
			t.end()
			return nil, err
		}
	}
	return t, nil
}

// acquire makes t the owner once no other transaction is, or fails with
// ErrBusy if the owner is past its busy time.
func (s *shard) acquire(t *txn) error {
	if err := s.lock(); err != nil {
		return err
	}
	s.owner = t
	s.mu.Unlock()
	return nil
}

// end gives the shards back and wakes whoever waits for them.
func (t *txn) end() {
	for _, n := range t.shards {
		s := &t.c.shards[n]
		s.mu.Lock()
		s.owner = nil
		s.ownerFree.Broadcast()
		s.mu.Unlock()
	}
	t.shards = nil
}

// SetBusy wakes the operations waiting for t's shards, which then fail with
// ErrBusy, as later ones will until t ends.
func (t *txn) SetBusy() {
	t.busy.Store(true)
	for _, n := range t.shards {
		s := &t.c.shards[n]
		s.mu.Lock()
		if s.owner == t {
			s.ownerFree.Broadcast()
		}
		s.mu.Unlock()
	}
}

// enter locks the shard of key for one of t's operations.
func (t *txn) enter(key string) (uint32, *shard, error) {
	h := hashKey(key)
	s := t.c.shardFor(h)
	s.mu.Lock()
	if s.owner != t {
		s.mu.Unlock()
		return 0, nil, ErrUndeclared
	}
	return uint32(h), s, nil
}

// with runs op on the shard of key, locked, and records key as written when
// op reports a change.
func (t *txn) with(key string, op func(s *shard, h uint32) (changed bool)) error {
	h, s, err := t.enter(key)
	if err != nil {
		return err
	}
	changed := op(s, h)
	s.mu.Unlock()
	if changed && t.tracking && !slices.Contains(t.written, key) {
		t.written = append(t.written, key)
	}
	return nil
}

// entryOf runs a lookup-like op (get, lookup, getDelete) on key; a removal
// (removes) that found the key changed it.
func (t *txn) entryOf(key string, op func(s *shard, h uint32, key string) (entry, bool), removes bool) (e entry, found bool, err error) {
	err = t.with(key, func(s *shard, h uint32) bool {
		e, found = op(s, h, key)
		return removes && found
	})
	return e, found, err
}

func (t *txn) Get(key string) (string, bool, error) {
	e, found, err := t.entryOf(key, (*shard).get, false)
	return e.value, found, err
}

func (t *txn) Lookup(key string) (string, int64, bool, error) {
	e, found, err := t.entryOf(key, (*shard).lookup, false)
	return e.value, e.expireAt, found, err
}

func (t *txn) Set(key, value string, expireAt int64) error {
	var opErr error
	err := t.with(key, func(s *shard, h uint32) bool {
		if expireAt == KeepTTL {
			opErr = s.setKeepTTL(h, key, value)
		} else {
			opErr = s.store(h, key, value, expireAt)
		}
		return opErr == nil
	})
	return firstError(err, opErr)
}

func (t *txn) SetIf(key, value string, expireAt int64, cond Condition) (old string, existed, stored bool, err error) {
	var opErr error
	err = t.with(key, func(s *shard, h uint32) bool {
		old, existed, stored, opErr = s.setIf(h, key, value, expireAt, cond)
		return stored
	})
	return old, existed, stored, firstError(err, opErr)
}

func (t *txn) GetDelete(key string) (string, bool, error) {
	e, found, err := t.entryOf(key, (*shard).getDelete, true)
	return e.value, found, err
}

func (t *txn) Delete(key string) (bool, error) {
	_, found, err := t.GetDelete(key)
	return found, err
}

func (t *txn) Expire(key string, expireAt int64) (bool, error) {
	_, changed, err := t.ExpireIf(key, expireAt, ExpireAlways)
	return changed, err
}

func (t *txn) ExpireIf(key string, expireAt int64, cond ExpireCondition) (existed, changed bool, err error) {
	err = t.with(key, func(s *shard, h uint32) bool {
		existed, changed = s.expireIf(h, key, expireAt, cond)
		return changed
	})
	return existed, changed, err
}

func (t *txn) CompareAndSet(key, compare, value string, expireAt int64) (swapped bool, err error) {
	var opErr error
	err = t.with(key, func(s *shard, h uint32) bool {
		swapped, opErr = s.compareAndSet(h, key, compare, value, expireAt)
		return swapped
	})
	return swapped, firstError(err, opErr)
}

func (t *txn) IncrementBy(key string, delta, expireAt int64) (n int64, err error) {
	var opErr error
	err = t.with(key, func(s *shard, h uint32) bool {
		n, opErr = s.incrementBy(h, key, delta, expireAt)
		return opErr == nil
	})
	return n, firstError(err, opErr)
}

func (t *txn) Append(key, fragment string, prepend bool, maxRunes int, expireAt int64) (v string, err error) {
	var opErr error
	err = t.with(key, func(s *shard, h uint32) bool {
		v, opErr = s.append(h, key, fragment, prepend, maxRunes, expireAt)
		return opErr == nil
	})
	return v, firstError(err, opErr)
}

// Flush empties every shard; only a transaction over All may.
func (t *txn) Flush() error {
	if !t.all {
		return ErrUndeclared
	}
	for _, n := range t.shards {
		s := &t.c.shards[n]
		s.mu.Lock()
		s.flush()
		s.mu.Unlock()
	}
	return nil
}

// Stats are the cache's: counters, not keys, so any transaction may read them.
func (t *txn) Stats() Stats { return t.c.Stats() }

func (t *txn) ShardCount() int { return len(t.c.shards) }

// Dump lists one shard; only a transaction over All may.
func (t *txn) Dump(shard int, dst []Item) []Item {
	if !t.all {
		return dst
	}
	dst, _ = t.c.dump(shard, dst, t, false)
	return dst
}

func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
