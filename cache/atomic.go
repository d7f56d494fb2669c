package cache

import "errors"

// Transactions: several operations that run as one. No other operation sees
// them half done, whatever door it comes through, because every operation on
// a shard waits while a transaction owns that shard (txn.go). A transaction
// declares its keys up front and owns their shards, taken in shard order so
// that two transactions never wait for each other in a circle; it never owns
// the whole cache unless it asks to (Scope.All).

var (
	// ErrBusy means a transaction has owned the key's shard past its busy
	// time (SetBusy): rather than wait for it, the operation is refused, and
	// may be retried.
	ErrBusy = errors.New("a script has held this key's shard past its busy time")
	// ErrWatchChanged means a key watched with Session.Watch changed before
	// the transaction: it did not run.
	ErrWatchChanged = errors.New("a watched key changed")
	// ErrUndeclared means a transaction touched a key outside its Scope.
	ErrUndeclared = errors.New("the transaction did not declare this key")
	// ErrKeysApart means a store that spreads keys over nodes (a shared
	// tier on a Redis Cluster) cannot change these keys in one transaction.
	ErrKeysApart = errors.New("the keys are kept apart and cannot change in one transaction")
	// ErrWholeStore means a store cannot run a transaction over every key.
	ErrWholeStore = errors.New("this store cannot run a transaction over every key")
)

// Scope says what a transaction may touch.
type Scope struct {
	// Keys are the keys it reads or writes; a key given twice counts once.
	Keys []string
	// All gives it the whole cache, for operations on every key (flush,
	// listing): it then waits for every other transaction, and every
	// operation waits for it.
	All bool
	// Watched, for a Session only, first checks the keys the session
	// watches: if any changed since Watch, the transaction does not run and
	// Atomically returns ErrWatchChanged. The session stops watching either
	// way, as Redis's EXEC does.
	Watched bool
}

// Tx is what a transaction runs its operations on: the Store operations,
// limited to the keys of its Scope (others fail with ErrUndeclared), and the
// listing of the keys, when its Scope is All.
type Tx interface {
	Store
	ShardCount() int
	Dump(shard int, dst []Item) []Item
	// SetBusy says the transaction has run too long: operations that would
	// wait for it fail with ErrBusy instead, until it ends. It may be called
	// from any goroutine.
	SetBusy()
}

// Transactional is a Store that runs transactions.
type Transactional interface {
	Store
	// Atomically runs fn as one operation over scope (whose Watched must be
	// false). fn's own error is returned; the operations it made stand.
	Atomically(scope Scope, fn func(Tx) error) error
	// NewSession starts the transaction state of one client, whose watches
	// last across calls. Close it when the client leaves.
	NewSession() Session
}

// Session is one client's transactions and the keys it watches, as a Redis
// connection has them.
type Session interface {
	// Watch watches keys: a transaction with Scope.Watched fails if any of
	// them changes (is written, deleted, expires, is evicted or flushed)
	// before it.
	Watch(keys ...string) error
	// Unwatch forgets every watched key.
	Unwatch()
	// Atomically is Transactional.Atomically, with Scope.Watched allowed.
	Atomically(scope Scope, fn func(Tx) error) error
	// Close forgets the watches and releases what the session holds.
	Close()
}
