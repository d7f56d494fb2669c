package tier

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/redis/rueidis"

	"github.com/warmkv/warmkv/cache"
)

// Transactions over the shared tier: atomic across instances, not just
// within one, by optimistic concurrency in the shared store. On a connection
// of its own (rueidis's dedicated clients) a transaction WATCHes its keys,
// reads their values and expiries, runs its operations on a scratch cache
// holding that copy, and writes back the keys they changed, with one
// invalidation each, in a MULTI/EXEC: Redis runs the EXEC only if no watched
// key changed since the WATCH, through any instance or Redis itself. When one
// did, the transaction runs again on fresh values, up to maxAttempts times.
// Operations therefore run against values no other writer can change under
// them, and their writes land all at once or not at all.
//
// On a Redis Cluster a transaction's keys must share a hash slot (with the
// prefix: {tags} pick the slot), as Redis Cluster asks of MULTI and scripts;
// otherwise it fails with cache.ErrKeysApart. A transaction over every key
// (Scope.All: FLUSHALL or KEYS inside MULTI) fails with cache.ErrWholeStore:
// it would have to watch the whole shared store.
//
// A Session's WATCH is Redis's own: the session holds a dedicated connection
// with the keys watched from WATCH to its transaction, so any change counts,
// by any instance, by expiry or eviction in Redis; and it drops the local
// copies of the keys, so that what the client reads after WATCH is no older
// than the watch. Such a transaction runs
// once: a conflict on its other keys also makes it fail with
// cache.ErrWatchChanged, which clients of WATCH retry anyway.

// maxAttempts bounds how often a transaction without watches runs again
// after losing a race to another writer; between attempts it waits a random
// time up to twice as long each time (from 1ms to at most maxBackoff), so
// that writers of the same keys spread out instead of colliding again.
const (
	maxAttempts = 32
	maxBackoff  = 50 * time.Millisecond
)

var (
	_ cache.Transactional = (*Store)(nil)

	errConflict = errors.New("a watched key changed")
	// errTooContended is what a transaction that lost every race answers.
	errTooContended = fmt.Errorf("%w: the transaction lost %d races in a row to other writers of its keys", cache.ErrUnavailable, maxAttempts)
)

// Atomically runs fn over scope's keys as one operation of the shared store.
func (s *Store) Atomically(scope cache.Scope, fn func(cache.Tx) error) error {
	return s.atomically(nil, scope, fn)
}

// atomically runs a transaction on the dedicated connection dc, whose WATCH
// is in place (a session's), or on one of its own, attempt after attempt.
func (s *Store) atomically(dc rueidis.DedicatedClient, scope cache.Scope, fn func(cache.Tx) error) error {
	if scope.All {
		return cache.ErrWholeStore
	}
	keys := dedupe(scope.Keys)
	if err := s.sameSlot(keys); err != nil {
		return err
	}
	if len(keys) == 0 && dc == nil {
		// Nothing to read or write in the shared store: fn can only run
		// keyless commands.
		return s.runScratch(nil, nil, fn, func([]string, *cache.Cache) error { return nil })
	}
	if dc != nil {
		err := s.attempt(dc, keys, fn)
		if errors.Is(err, errConflict) {
			return cache.ErrWatchChanged
		}
		return err
	}
	c := s.client()
	if c == nil || !s.healthy.Load() {
		s.unavailable.Add(1)
		return cache.ErrUnavailable
	}
	backoff := time.Millisecond
	for range maxAttempts {
		var err error
		_ = c.Dedicated(func(dc rueidis.DedicatedClient) error {
			err = s.attempt(dc, keys, fn)
			return nil
		})
		if !errors.Is(err, errConflict) {
			return err
		}
		time.Sleep(rand.N(backoff)) //nolint:gosec // G404: jitter, not a secret
		backoff = min(2*backoff, maxBackoff)
	}
	return errTooContended
}

// attempt is one run: watch, read, run fn on the copy, write back.
func (s *Store) attempt(dc rueidis.DedicatedClient, keys []string, fn func(cache.Tx) error) error {
	tickets := make([]ticket, len(keys))
	for i, k := range keys {
		tickets[i] = s.begin(k)
	}
	values := make([]rueidis.RedisResult, 0, 2*len(keys))
	err := s.roundTrip(s.timeout, func(ctx context.Context) error {
		watch := dc.B().Watch().Key(s.prefixed(keys)...).Build()
		reads := rueidis.Commands{watch}
		for _, k := range keys {
			reads = append(reads, dc.B().Get().Key(s.key(k)).Build(), dc.B().Pexpiretime().Key(s.key(k)).Build())
		}
		replies := dc.DoMulti(ctx, reads...)
		for _, r := range replies {
			if err := r.Error(); err != nil && !rueidis.IsRedisNil(err) {
				return err
			}
		}
		values = append(values, replies[1:]...)
		return nil
	})
	if err != nil {
		s.unwatch(dc)
		return err
	}
	err = s.runScratch(keys, values, fn, func(changed []string, scratch *cache.Cache) error {
		return s.writeBack(dc, keys, tickets, changed, scratch)
	})
	if err != nil && !errors.Is(err, errConflict) {
		s.unwatch(dc) // stopped before its EXEC, which would have ended the watch
	}
	return err
}

// runScratch loads the values read into a scratch cache, runs fn on it and
// hands what fn changed to commit.
func (s *Store) runScratch(keys []string, values []rueidis.RedisResult, fn func(cache.Tx) error,
	commit func(changed []string, scratch *cache.Cache) error) error {
	scratch := s.scratch()
	defer s.scratches.Put(scratch)
	for i, k := range keys {
		v, err := values[2*i].ToString()
		ms, _ := values[2*i+1].AsInt64()
		if err != nil || ms == -2 {
			continue // absent
		}
		if err := scratch.Set(k, v, expiryFromRedis(ms)); err != nil {
			return err
		}
	}
	changed, err := scratch.AtomicallyChanged(cache.Scope{Keys: keys}, func(tx cache.Tx) error {
		return fn(scratchTx{tx, s})
	})
	if err != nil {
		return err
	}
	return commit(changed, scratch)
}

// writeBack runs the changes in a MULTI/EXEC under the watch, with an
// invalidation per key, and then updates the local copies. With no change
// the empty MULTI/EXEC still checks that what was read was one state.
func (s *Store) writeBack(dc rueidis.DedicatedClient, keys []string, tickets []ticket, changed []string, scratch *cache.Cache) error {
	cmds := rueidis.Commands{dc.B().Multi().Build()}
	type after struct {
		value    string
		expireAt int64
		found    bool
	}
	final := make([]after, len(changed))
	for i, k := range changed {
		v, expireAt, found, _ := scratch.Lookup(k)
		final[i] = after{v, expireAt, found}
		switch {
		case !found:
			cmds = append(cmds, dc.B().Del().Key(s.key(k)).Build())
		case expireAt == 0:
			cmds = append(cmds, dc.B().Set().Key(s.key(k)).Value(v).Build())
		default:
			cmds = append(cmds, dc.B().Set().Key(s.key(k)).Value(v).Pxat(time.UnixMilli(max(expireAt/1e6, 1))).Build())
		}
		cmds = append(cmds, dc.B().Publish().Channel(s.channel).Message(s.message(k)).Build())
	}
	cmds = append(cmds, dc.B().Exec().Build())
	var exec rueidis.RedisResult
	err := s.roundTrip(s.timeout, func(ctx context.Context) error {
		replies := dc.DoMulti(ctx, cmds...)
		exec = replies[len(replies)-1]
		if err := exec.Error(); err != nil && !rueidis.IsRedisNil(err) {
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	if rueidis.IsRedisNil(exec.Error()) {
		return errConflict
	}
	for i, k := range changed {
		f := final[i]
		s.remember(k, tickets[indexOf(keys, k)], f.value, f.found, f.expireAt, true)
	}
	return nil
}

func indexOf(keys []string, k string) int {
	for i, key := range keys {
		if key == k {
			return i
		}
	}
	return -1
}

// unwatch ends a watch that will not be followed by EXEC.
func (s *Store) unwatch(dc rueidis.DedicatedClient) {
	_ = s.roundTrip(s.timeout, func(ctx context.Context) error {
		return dc.Do(ctx, dc.B().Unwatch().Build()).Error()
	})
}

// sameSlot checks, on a Redis Cluster, that keys share one hash slot.
func (s *Store) sameSlot(keys []string) error {
	c := s.client()
	if c == nil || c.Mode() != rueidis.ClientModeCluster || len(keys) < 2 {
		return nil
	}
	first := c.B().Get().Key(s.key(keys[0])).Build()
	for _, k := range keys[1:] {
		cmd := c.B().Get().Key(s.key(k)).Build()
		if cmd.Slot() != first.Slot() {
			return cache.ErrKeysApart
		}
	}
	return nil
}

func (s *Store) prefixed(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = s.key(k)
	}
	return out
}

func dedupe(keys []string) []string {
	out := make([]string, 0, len(keys))
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// scratch takes an empty cache for one transaction's copy of its keys. Its
// budget is nominal: it holds what the transaction reads and writes, which
// the commands bound, and must never evict.
func (s *Store) scratch() *cache.Cache {
	if c, ok := s.scratches.Get().(*cache.Cache); ok {
		_ = c.Flush()
		return c
	}
	c, err := cache.New(cache.Options{
		MaxBytes:     1 << 40,
		Shards:       1,
		ReapInterval: -1,
		Clock:        func() int64 { return s.now().UnixNano() },
	})
	if err != nil {
		panic(err) // constant options
	}
	return c
}

// scratchTx is a transaction on a scratch copy whose counters are the
// Store's: DBSIZE inside a transaction counts the shared keys.
type scratchTx struct {
	cache.Tx
	s *Store
}

func (t scratchTx) Stats() cache.Stats { return t.s.Stats() }

// session is a client's transactions over the shared tier: its WATCH holds a
// dedicated connection with the keys watched in the shared store.
type session struct {
	s       *Store
	mu      sync.Mutex
	dc      rueidis.DedicatedClient
	release func()
	watched []string
}

// NewSession starts a client's transaction state.
func (s *Store) NewSession() cache.Session { return &session{s: s} }

func (ss *session) Watch(keys ...string) error {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	all := dedupe(append(append([]string(nil), ss.watched...), keys...))
	if err := ss.s.sameSlot(all); err != nil {
		return err
	}
	if ss.dc == nil {
		c := ss.s.client()
		if c == nil || !ss.s.healthy.Load() {
			ss.s.unavailable.Add(1)
			return cache.ErrUnavailable
		}
		ss.dc, ss.release = c.Dedicate()
	}
	err := ss.s.roundTrip(ss.s.timeout, func(ctx context.Context) error {
		return ss.dc.Do(ctx, ss.dc.B().Watch().Key(ss.s.prefixed(keys)...).Build()).Error()
	})
	if err != nil {
		ss.drop()
		return err
	}
	// What the client reads next must be at least as new as the watch:
	// a change before it would escape it. Dropping the local copies makes
	// those reads ask the shared store (and the generations keep a read
	// begun before from bringing an older copy back).
	for _, k := range keys {
		ss.s.forget(k)
	}
	ss.watched = all
	return nil
}

func (ss *session) Unwatch() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.dc != nil {
		ss.s.unwatch(ss.dc)
		ss.drop()
	}
}

// drop gives the dedicated connection back.
func (ss *session) drop() {
	ss.release()
	ss.dc, ss.release, ss.watched = nil, nil, nil
}

func (ss *session) Close() { ss.Unwatch() }

// Atomically runs a transaction; with scope.Watched, on the session's
// connection, where the WATCH is, and its watch ends with it.
func (ss *session) Atomically(scope cache.Scope, fn func(cache.Tx) error) error {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if !scope.Watched || ss.dc == nil {
		scope.Watched = false
		return ss.s.atomically(nil, scope, fn)
	}
	scope.Keys = append(append([]string(nil), scope.Keys...), ss.watched...)
	err := ss.s.atomically(ss.dc, scope, fn)
	if errors.Is(err, cache.ErrKeysApart) || errors.Is(err, cache.ErrWholeStore) {
		ss.s.unwatch(ss.dc) // refused before it watched or read anything
	}
	ss.drop()
	return err
}
