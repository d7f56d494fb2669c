package cache

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"
)

func TestAtomicallyRunsOnlyDeclaredKeys(t *testing.T) {
	c, _ := newTestCache(t, Options{Shards: 64})
	a, b := keysInDifferentShards(c)
	err := c.Atomically(Scope{Keys: []string{a}}, func(tx Tx) error {
		if err := tx.Set(a, "1", 0); err != nil {
			return err
		}
		if _, _, err := tx.Get(b); !errors.Is(err, ErrUndeclared) {
			t.Errorf("Get of an undeclared key in another shard: %v, want ErrUndeclared", err)
		}
		if err := tx.Flush(); !errors.Is(err, ErrUndeclared) {
			t.Errorf("Flush without All: %v, want ErrUndeclared", err)
		}
		if items := tx.Dump(0, nil); items != nil {
			t.Errorf("Dump without All listed %v", items)
		}
		return errors.New("fn's own error")
	})
	if err == nil || err.Error() != "fn's own error" {
		t.Errorf("Atomically returned %v, want fn's error", err)
	}
	if v, _, _ := c.Get(a); v != "1" {
		t.Errorf("a write before fn failed was undone: %q", v)
	}
}

// keysInDifferentShards returns two keys of different shards.
func keysInDifferentShards(c *Cache) (string, string) {
	a := "a"
	for i := 0; ; i++ {
		b := "b" + strconv.Itoa(i)
		if c.shardIndex(hashKey(a)) != c.shardIndex(hashKey(b)) {
			return a, b
		}
	}
}

// TestTransactionsAreIsolated: no plain operation sees the value a
// transaction writes and then overwrites, and transactions over overlapping
// keys, taken in any order, neither deadlock nor lose increments.
func TestTransactionsAreIsolated(t *testing.T) {
	c, _ := newTestCache(t, Options{Shards: 16})
	keys := make([]string, 40)
	for i := range keys {
		keys[i] = "k" + strconv.Itoa(i)
	}
	const workers, rounds = 8, 300
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var seen sync.Map
	for range 4 { // plain readers
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, k := range keys {
					if v, _, _ := c.Get(k); v == "partial" {
						seen.Store(k, true)
					}
				}
			}
		}()
	}
	var writers sync.WaitGroup
	for w := range workers {
		writers.Add(1)
		go func() {
			defer writers.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for range rounds {
				picked := []string{keys[rng.IntN(len(keys))], keys[rng.IntN(len(keys))], keys[rng.IntN(len(keys))]}
				err := c.Atomically(Scope{Keys: picked}, func(tx Tx) error {
					for _, k := range picked {
						old, _, _, err := tx.Lookup(k)
						if err != nil {
							return err
						}
						if err := tx.Set(k, "partial", 0); err != nil {
							return err
						}
						count, _ := strconv.Atoi(old)
						if err := tx.Set(k, strconv.Itoa(count+1), 0); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	writers.Wait()
	close(stop)
	wg.Wait()
	seen.Range(func(k, _ any) bool {
		t.Errorf("a plain Get saw %s half written", k)
		return true
	})
	total := 0
	for _, k := range keys {
		v, _, _ := c.Get(k)
		n, _ := strconv.Atoi(v)
		total += n
	}
	if want := workers * rounds * 3; total != want {
		t.Errorf("increments add up to %d, want %d", total, want)
	}
	checkInvariants(t, c)
}

// TestBusyTransaction: operations wait for a transaction until it is marked
// busy, then fail with ErrBusy, those already waiting included, until it ends.
func TestBusyTransaction(t *testing.T) {
	c, _ := newTestCache(t, Options{Shards: 64})
	a, b := keysInDifferentShards(c)
	inside, release := make(chan Tx), make(chan struct{})
	go func() {
		_ = c.Atomically(Scope{Keys: []string{a}}, func(tx Tx) error {
			inside <- tx
			<-release
			return nil
		})
	}()
	tx := <-inside

	waited := make(chan error)
	go func() {
		_, _, err := c.Get(a)
		waited <- err
	}()
	select {
	case err := <-waited:
		t.Fatalf("Get of a key a transaction owns returned at once: %v", err)
	case <-time.After(20 * time.Millisecond): // it waits, as it must
	}
	if _, _, err := c.Get(b); err != nil {
		t.Errorf("Get of a key in another shard: %v", err)
	}
	tx.SetBusy()
	if err := <-waited; !errors.Is(err, ErrBusy) {
		t.Errorf("the waiting Get returned %v once busy, want ErrBusy", err)
	}
	for name, op := range map[string]func() error{
		"Set":   func() error { return c.Set(a, "x", 0) },
		"Watch": func() error { return c.NewSession().Watch(a) },
		"Atomically": func() error {
			return c.Atomically(Scope{Keys: []string{b, a}}, func(Tx) error { return nil })
		},
		"Flush": c.Flush,
		"DumpOrBusy": func() error {
			_, err := c.DumpOrBusy(c.shardIndex(hashKey(a)), nil)
			return err
		},
	} {
		if err := op(); !errors.Is(err, ErrBusy) {
			t.Errorf("%s while busy: %v, want ErrBusy", name, err)
		}
	}
	// The refused transaction over b and a gave b back.
	if err := c.Set(b, "1", 0); err != nil {
		t.Errorf("Set of b after a refused transaction: %v", err)
	}
	close(release)
	for {
		if err := c.Set(a, "after", 0); err == nil {
			break
		} else if !errors.Is(err, ErrBusy) {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond) // the transaction's goroutine ends it
	}
	if v, _, _ := c.Get(a); v != "after" {
		t.Errorf("after the transaction: %q", v)
	}
}

func TestTransactionOverAllKeys(t *testing.T) {
	c, _ := newTestCache(t, Options{Shards: 8})
	for i := range 100 {
		_ = c.Set(fmt.Sprint(i), "v", 0)
	}
	err := c.Atomically(Scope{All: true}, func(tx Tx) error {
		n := 0
		for s := range tx.ShardCount() {
			n += len(tx.Dump(s, nil))
		}
		if n != 100 {
			t.Errorf("Dump inside listed %d entries, want 100", n)
		}
		return tx.Flush()
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := c.Stats().Entries; n != 0 {
		t.Errorf("%d entries after a flush in a transaction", n)
	}
}

// TestReaperLeavesOwnedShards: expiry does not remove a key under a
// transaction that owns its shard.
func TestReaperLeavesOwnedShards(t *testing.T) {
	c, clock := newTestCache(t, Options{Shards: 1})
	_ = c.Set("k", "v", clock.in(time.Second))
	clock.advance(2 * time.Second)
	_ = c.Atomically(Scope{Keys: []string{"other"}}, func(Tx) error {
		c.ReapExpired()
		c.shards[0].mu.Lock()
		n := c.shards[0].lru.Len()
		c.shards[0].mu.Unlock()
		if n != 1 {
			t.Errorf("the reaper removed an entry of an owned shard")
		}
		return nil
	})
	c.ReapExpired()
	if n := c.Stats().Entries; n != 0 {
		t.Errorf("the reaper left %d entries once the shard was free", n)
	}
}

func TestAtomicallyChangedListsWrites(t *testing.T) {
	c, _ := newTestCache(t, Options{})
	_ = c.Set("present", "1", 0)
	changed, err := c.AtomicallyChanged(Scope{Keys: []string{"a", "b", "present", "absent", "n"}}, func(tx Tx) error {
		_ = tx.Set("a", "1", 0)
		_, _, _, _ = tx.SetIf("present", "2", 0, IfAbsent) // refused: no change
		_, _ = tx.Delete("absent")                         // nothing to delete
		_, _ = tx.Delete("present")
		_, _ = tx.IncrementBy("n", 1, KeepTTL)
		_ = tx.Set("a", "2", 0)
		_, _, _ = tx.Get("b")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(changed) != "[a present n]" {
		t.Errorf("changed = %v, want [a present n]", changed)
	}
}

// TestUpdateInTransaction: a transaction changes its keys through Update too,
// which counts as a write of the key, refuses keys outside its Scope, and
// marks a key watched elsewhere changed. Update outside it waits for it like
// every operation, and fails with ErrBusy once it is busy.
func TestUpdateInTransaction(t *testing.T) {
	c, _ := newTestCache(t, Options{Shards: 64})
	a, b := keysInDifferentShards(c)
	watcher := c.NewSession()
	defer watcher.Close()
	if err := watcher.Watch(a); err != nil {
		t.Fatal(err)
	}
	appendX := func(old Item, _ bool) (Item, bool, error) {
		return Item{Value: old.Value + "x", ExpireAt: old.ExpireAt}, true, nil
	}
	inside, release := make(chan Tx), make(chan struct{})
	done := make(chan []string)
	go func() {
		changed, err := c.AtomicallyChanged(Scope{Keys: []string{a}}, func(tx Tx) error {
			u := tx.(interface {
				Update(string, func(Item, bool) (Item, bool, error)) error
			})
			if err := u.Update(a, appendX); err != nil {
				t.Errorf("Update of a declared key: %v", err)
			}
			if err := u.Update(b, appendX); !errors.Is(err, ErrUndeclared) {
				t.Errorf("Update of an undeclared key: %v, want ErrUndeclared", err)
			}
			inside <- tx
			<-release
			return nil
		})
		if err != nil {
			t.Error(err)
		}
		done <- changed
	}()
	tx := <-inside
	tx.SetBusy()
	if err := c.Update(a, appendX); !errors.Is(err, ErrBusy) {
		t.Errorf("Update of a busy transaction's key: %v, want ErrBusy", err)
	}
	close(release)
	if changed := <-done; fmt.Sprint(changed) != "["+a+"]" {
		t.Errorf("changed = %v, want [%s]", changed, a)
	}
	if v, _, _ := c.Get(a); v != "x" {
		t.Errorf("%s = %q after the transaction, want x", a, v)
	}
	err := watcher.Atomically(Scope{Keys: []string{a}, Watched: true}, func(Tx) error { return nil })
	if !errors.Is(err, ErrWatchChanged) {
		t.Errorf("a transaction watching %s after an Update of it: %v, want ErrWatchChanged", a, err)
	}
}
