package tier

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/warmkv/warmkv/cache"
	"github.com/warmkv/warmkv/internal/redistest"
	"github.com/warmkv/warmkv/internal/storetest"
)

// A transaction's operations are the cache's, run on a copy: the storetest
// suite passes on a Tx of the tier too, run while the transaction lasts.
func TestTxStoreSuite(t *testing.T) {
	srv := redistest.Start(t)
	storetest.Run(t, func(t *testing.T) cache.Store {
		s := newStore(t, srv.URL(), freshPrefix(t), time.Second)
		return &txStore{s: s}
	})
}

// txStore runs each operation as a transaction of its own over its key.
type txStore struct{ s *Store }

func (ts *txStore) do(key string, op func(cache.Tx) error) error {
	return ts.s.Atomically(cache.Scope{Keys: []string{key}}, op)
}

func (ts *txStore) Get(key string) (v string, ok bool, err error) {
	err = ts.do(key, func(tx cache.Tx) (e error) { v, ok, e = tx.Get(key); return })
	return
}
func (ts *txStore) Lookup(key string) (v string, at int64, ok bool, err error) {
	err = ts.do(key, func(tx cache.Tx) (e error) { v, at, ok, e = tx.Lookup(key); return })
	return
}
func (ts *txStore) Set(key, value string, at int64) error {
	return ts.do(key, func(tx cache.Tx) error { return tx.Set(key, value, at) })
}
func (ts *txStore) SetIf(key, value string, at int64, c cache.Condition) (old string, existed, stored bool, err error) {
	err = ts.do(key, func(tx cache.Tx) (e error) { old, existed, stored, e = tx.SetIf(key, value, at, c); return })
	return
}
func (ts *txStore) GetDelete(key string) (v string, ok bool, err error) {
	err = ts.do(key, func(tx cache.Tx) (e error) { v, ok, e = tx.GetDelete(key); return })
	return
}
func (ts *txStore) Expire(key string, at int64) (ok bool, err error) {
	err = ts.do(key, func(tx cache.Tx) (e error) { ok, e = tx.Expire(key, at); return })
	return
}
func (ts *txStore) ExpireIf(key string, at int64, c cache.ExpireCondition) (existed, changed bool, err error) {
	err = ts.do(key, func(tx cache.Tx) (e error) { existed, changed, e = tx.ExpireIf(key, at, c); return })
	return
}
func (ts *txStore) Delete(key string) (ok bool, err error) {
	err = ts.do(key, func(tx cache.Tx) (e error) { ok, e = tx.Delete(key); return })
	return
}
func (ts *txStore) CompareAndSet(key, cmp, value string, at int64) (ok bool, err error) {
	err = ts.do(key, func(tx cache.Tx) (e error) { ok, e = tx.CompareAndSet(key, cmp, value, at); return })
	return
}
func (ts *txStore) IncrementBy(key string, d, at int64) (n int64, err error) {
	err = ts.do(key, func(tx cache.Tx) (e error) { n, e = tx.IncrementBy(key, d, at); return })
	return
}
func (ts *txStore) Append(key, f string, prepend bool, maxRunes int, at int64) (v string, err error) {
	err = ts.do(key, func(tx cache.Tx) (e error) { v, e = tx.Append(key, f, prepend, maxRunes, at); return })
	return
}
func (ts *txStore) Flush() error       { return ts.s.Flush() }
func (ts *txStore) Stats() cache.Stats { return ts.s.Stats() }

// TestTransactionsAcrossInstances: read-modify-write transactions over two
// keys, from two instances at once, lose no update and never leave the two
// keys apart; the instances' local copies follow.
func TestTransactionsAcrossInstances(t *testing.T) {
	for name, start := range sharedServers {
		t.Run(name, func(t *testing.T) {
			url := start(t)
			a := newStore(t, url, "warmkv:", time.Minute)
			b := newStore(t, url, "warmkv:", time.Minute)
			// One hash slot for both keys, as a Cluster requires.
			x, y := "{acct}x", "{acct}y"
			storetest.MustOK(t, a.Set(x, "0", 0))
			storetest.MustOK(t, a.Set(y, "1000", 0))
			storetest.WantValue(t, b, x, "0") // B holds copies, trusted for a minute

			const goroutines, each = 6, 40
			var wg sync.WaitGroup
			for g := range goroutines {
				s := []*Store{a, b}[g%2]
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range each {
						err := s.Atomically(cache.Scope{Keys: []string{x, y}}, func(tx cache.Tx) error {
							xv, _, _ := tx.Get(x)
							yv, _, _ := tx.Get(y)
							xn, _ := strconv.Atoi(xv)
							yn, _ := strconv.Atoi(yv)
							if xn+yn != 1000 {
								return fmt.Errorf("a transaction read %d + %d", xn, yn)
							}
							if err := tx.Set(x, strconv.Itoa(xn+1), 0); err != nil {
								return err
							}
							return tx.Set(y, strconv.Itoa(yn-1), 0)
						})
						if err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			want := strconv.Itoa(goroutines * each)
			for _, s := range []*Store{a, b} {
				waitFor(t, "both instances to see the total", func() bool { v, _, _ := s.Get(x); return v == want })
			}

			if name == "cluster" {
				err := a.Atomically(cache.Scope{Keys: []string{"apart1", "apart2", "apart3"}}, func(cache.Tx) error { return nil })
				if !errors.Is(err, cache.ErrKeysApart) {
					t.Errorf("keys of several slots: %v, want ErrKeysApart", err)
				}
			}
			if err := a.Atomically(cache.Scope{All: true}, func(cache.Tx) error { return nil }); !errors.Is(err, cache.ErrWholeStore) {
				t.Errorf("a transaction over every key: %v, want ErrWholeStore", err)
			}
		})
	}
}

// TestWatchAcrossInstances: a watch on A is broken by B's write, by a write
// behind the tier's back and by expiry in Redis, and holds otherwise.
func TestWatchAcrossInstances(t *testing.T) {
	srv := redistest.Start(t)
	a := newStore(t, srv.URL(), "warmkv:", time.Minute)
	b := newStore(t, srv.URL(), "warmkv:", time.Minute)
	noop := func(cache.Tx) error { return nil }
	for _, tt := range []struct {
		name    string
		change  func()
		changed bool
	}{
		{"nothing", func() {}, false},
		{"a read on B", func() { _, _, _ = b.Get("w") }, false},
		{"a write on B", func() { storetest.MustOK(t, b.Set("w", "2", 0)) }, true},
		{"a write to Redis itself", func() { srv.CLI("SET", "warmkv:w", "3") }, true},
		{"an expiry in Redis", func() {
			srv.CLI("PEXPIRE", "warmkv:w", "20")
			time.Sleep(50 * time.Millisecond)
			srv.CLI("EXISTS", "warmkv:w") // Redis expires it on access
		}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			storetest.MustOK(t, a.Set("w", "1", 0))
			ss := a.NewSession()
			defer ss.Close()
			if err := ss.Watch("w"); err != nil {
				t.Fatal(err)
			}
			tt.change()
			err := ss.Atomically(cache.Scope{Keys: []string{"other"}, Watched: true}, noop)
			if changed := errors.Is(err, cache.ErrWatchChanged); changed != tt.changed || (err != nil && !changed) {
				t.Errorf("transaction after %s: %v; want changed=%v", tt.name, err, tt.changed)
			}
		})
	}
}
