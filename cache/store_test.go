package cache_test

import (
	"testing"

	"github.com/warmkv/warmkv/cache"
	"github.com/warmkv/warmkv/internal/storetest"
)

// The in-process cache passes the suite every Store passes.
func TestStoreSuite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) cache.Store {
		c, err := cache.New(cache.Options{MaxBytes: 16 << 20})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	})
}

// A transaction's operations are the cache's: a transaction over every key
// passes the same suite, run while the transaction lasts.
func TestTxStoreSuite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) cache.Store {
		c, err := cache.New(cache.Options{MaxBytes: 16 << 20})
		if err != nil {
			t.Fatal(err)
		}
		txs, done, ended := make(chan cache.Tx), make(chan struct{}), make(chan error)
		go func() {
			ended <- c.Atomically(cache.Scope{All: true}, func(tx cache.Tx) error {
				txs <- tx
				<-done
				return nil
			})
		}()
		t.Cleanup(func() {
			close(done)
			if err := <-ended; err != nil {
				t.Error(err)
			}
			c.Close()
		})
		return <-txs
	})
}
