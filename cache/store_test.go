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
