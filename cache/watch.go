package cache

import (
	"slices"
	"strings"
	"sync/atomic"
)

// Watches, as Redis's WATCH has them: a session watches keys, and any change
// to one of them before its next transaction (a write, even of the same value,
// a delete, an expiry, an eviction, a flush of a key that was there) makes
// that transaction fail with ErrWatchChanged. A change that changes nothing
// (deleting a missing key, a refused conditional write) does not count.
//
// Each shard keeps the watchers of its watched keys in a map, guarded by its
// mutex. Every way an entry changes runs through store or freelru's OnEvict
// (flush aside, which marks the keys it drops itself), and both look at the
// map only when it is not empty: a cache nobody watches pays a length check
// per write.

// watcher is the watches of one session.
type watcher struct {
	changed atomic.Bool // set under the lock of any of its keys' shards
	keys    []watchedKey
}

type watchedKey struct {
	key   string
	shard int
}

// touch marks the watchers of key changed. The caller holds s.mu.
func (s *shard) touch(key string) {
	for _, w := range s.watched[key] {
		w.changed.Store(true)
	}
}

// touchLive marks the watchers of the watched keys that are in the shard and
// unexpired: those a flush changes.
func (s *shard) touchLive() {
	now := s.now()
	for key, ws := range s.watched {
		s.hash = uint32(hashKey(key))
		if e, ok := s.lru.Peek(key); ok && (e.expireAt == 0 || e.expireAt > now) {
			for _, w := range ws {
				w.changed.Store(true)
			}
		}
	}
}

// session is a Cache's Session.
type session struct {
	c *Cache
	w *watcher // nil while nothing is watched
}

// NewSession starts a client's transaction state.
func (c *Cache) NewSession() Session { return &session{c: c} }

// Watch watches keys. A key that has expired but is still stored goes first,
// so that its expiry, which happened before the watch, does not count.
func (ss *session) Watch(keys ...string) error {
	if ss.w == nil {
		ss.w = &watcher{}
	}
	for _, key := range keys {
		if slices.ContainsFunc(ss.w.keys, func(wk watchedKey) bool { return wk.key == key }) {
			continue
		}
		key = strings.Clone(key) // the shard's map keeps it
		h := hashKey(key)
		n := ss.c.shardIndex(h)
		s := &ss.c.shards[n]
		if err := s.lock(); err != nil {
			return err
		}
		s.lookup(uint32(h), key)
		if s.watched == nil {
			s.watched = make(map[string][]*watcher)
		}
		s.watched[key] = append(s.watched[key], ss.w)
		s.mu.Unlock()
		ss.w.keys = append(ss.w.keys, watchedKey{key: key, shard: n})
	}
	return nil
}

// Unwatch removes the session's watcher from every shard it is in.
func (ss *session) Unwatch() {
	if ss.w == nil {
		return
	}
	for _, wk := range ss.w.keys {
		s := &ss.c.shards[wk.shard]
		s.mu.Lock()
		ws := slices.DeleteFunc(s.watched[wk.key], func(w *watcher) bool { return w == ss.w })
		if len(ws) == 0 {
			delete(s.watched, wk.key)
		} else {
			s.watched[wk.key] = ws
		}
		if len(s.watched) == 0 {
			s.watched = nil // the hot path checks the length; nil also frees the map
		}
		s.mu.Unlock()
	}
	ss.w = nil
}

func (ss *session) Close() { ss.Unwatch() }

// Atomically runs fn as Cache.Atomically does; with scope.Watched it owns the
// watched keys' shards too, so that no change slips in between the check and
// fn, and expires the watched keys whose time has come before checking.
func (ss *session) Atomically(scope Scope, fn func(Tx) error) error {
	if !scope.Watched {
		return ss.c.Atomically(scope, fn)
	}
	defer ss.Unwatch()
	scope.Watched = false
	if ss.w == nil {
		return ss.c.Atomically(scope, fn)
	}
	if !scope.All {
		keys := make([]string, 0, len(scope.Keys)+len(ss.w.keys))
		keys = append(keys, scope.Keys...)
		for _, wk := range ss.w.keys {
			keys = append(keys, wk.key)
		}
		scope.Keys = keys
	}
	t, err := ss.c.begin(scope)
	if err != nil {
		return err
	}
	defer t.end()
	for _, wk := range ss.w.keys {
		s := &ss.c.shards[wk.shard]
		s.mu.Lock()
		s.lookup(uint32(hashKey(wk.key)), wk.key)
		s.mu.Unlock()
	}
	if ss.w.changed.Load() {
		return ErrWatchChanged
	}
	return fn(t)
}
