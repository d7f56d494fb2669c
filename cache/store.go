package cache

import "strconv"

// Store is warmkv's operation set. The in-process Cache implements it; a store that
// shares entries between instances implements it too, so every door (HTTP, RESP)
// runs the same operations whatever sits behind them.
//
// Expiry times are Unix nanoseconds: 0 means never, KeepTTL keeps the current one,
// and a time in the past deletes the key.
//
// Errors: the in-process Cache fails only writes that cannot fit (ErrTooLarge) or
// that the value forbids (ErrNotInteger, ErrOverflow, ErrValueTooLong). A shared
// store can also fail any operation with ErrUnavailable, and may answer a read from
// its local copy alone with ErrStale beside a valid value.
//
// Write methods may keep the key and value strings they are given (the entry
// and the expiry index hold them), so callers must not pass strings that view
// reused buffers; lookups (Get, Lookup, Delete, GetDelete) keep nothing.
type Store interface {
	Get(key string) (value string, found bool, err error)
	Lookup(key string) (value string, expireAt int64, found bool, err error)
	Set(key, value string, expireAt int64) error
	SetIf(key, value string, expireAt int64, cond Condition) (old string, existed, stored bool, err error)
	GetDelete(key string) (value string, found bool, err error)
	Expire(key string, expireAt int64) (found bool, err error)
	ExpireIf(key string, expireAt int64, cond ExpireCondition) (existed, changed bool, err error)
	Delete(key string) (found bool, err error)
	CompareAndSet(key, compare, value string, expireAt int64) (bool, error)
	IncrementBy(key string, delta int64, expireAt int64) (int64, error)
	Append(key, fragment string, prepend bool, maxRunes int, expireAt int64) (string, error)
	Flush() error
	Stats() Stats
}

// Stats are the cache's counters. Hits and misses count Get only.
type Stats struct {
	Entries     int64  // live entries (expired ones not yet reaped included)
	MaxEntries  int64  // the entry bound
	Bytes       int64  // memory charged now: LRU arrays, keys, values, expiry index
	MaxBytes    int64  // the byte budget
	SlotBytes   int64  // part of Bytes held by the LRU arrays, which grow with the entries
	Hits        uint64 // Get found the key
	Misses      uint64 // Get did not
	Inserts     uint64 // a write created a key
	Updates     uint64 // a write replaced a key's value
	Deletes     uint64 // Delete removed a key
	Evictions   uint64 // entries dropped to stay within the entry or byte bound
	Expirations uint64 // entries removed because their expiry passed

	// Shared describes the shared tier; nil for a store without one.
	Shared *SharedStats
}

// SharedStats are the counters of a store that keeps a local cache in front of a
// tier shared between instances. The other Stats fields describe the local cache.
type SharedStats struct {
	Connected     bool   // the shared tier answers
	Keys          int64  // keys under this deployment's prefix in the shared tier; -1 until counted
	LocalHits     uint64 // reads answered by a fresh local copy
	SharedHits    uint64 // reads the shared tier answered with a value (the local copy was missing or old)
	SharedMisses  uint64 // reads the shared tier answered with "no such key"
	StaleReads    uint64 // reads answered from an old local copy because the shared tier was unavailable
	Unavailable   uint64 // operations refused because the shared tier was unavailable
	Invalidations uint64 // local copies dropped because another instance changed the key
	Resyncs       uint64 // times the whole local cache was dropped (subscription (re)started, flush)
}

func formatInt(n int64) string { return strconv.FormatInt(n, 10) }
