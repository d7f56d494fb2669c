package cache

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestUpdate(t *testing.T) {
	c, clk := newTestCache(t, Options{})
	errRefused := errors.New("refused")
	double := func(old Item, found bool) (Item, bool, error) {
		if !found {
			return Item{Value: "x", ExpireAt: clk.in(time.Minute)}, true, nil
		}
		return Item{Value: old.Value + old.Value, ExpireAt: old.ExpireAt}, true, nil
	}
	tests := []struct {
		name      string
		fn        func(old Item, found bool) (Item, bool, error)
		wantErr   error
		wantValue string
		wantFound bool
		wantTTL   time.Duration
	}{
		{"absent: fn stores", double, nil, "x", true, time.Minute},
		{"present: fn sees the value and expiry", double, nil, "xx", true, time.Minute},
		{"no write changes nothing", func(Item, bool) (Item, bool, error) { return Item{Value: "ignored"}, false, nil }, nil, "xx", true, time.Minute},
		{"an error changes nothing", func(Item, bool) (Item, bool, error) { return Item{Value: "ignored"}, true, errRefused }, errRefused, "xx", true, time.Minute},
		{"expiry 0 removes the TTL", func(old Item, _ bool) (Item, bool, error) { return Item{Value: old.Value}, true, nil }, nil, "xx", true, 0},
		{"a past expiry deletes", func(old Item, _ bool) (Item, bool, error) { return Item{Value: old.Value, ExpireAt: 1}, true, nil }, nil, "", false, 0},
		{"too large for the budget", func(Item, bool) (Item, bool, error) {
			return Item{Value: strings.Repeat("v", 65<<20)}, true, nil
		}, ErrTooLarge, "", false, 0},
	}
	for _, tt := range tests {
		err := c.Update("k", tt.fn)
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.wantErr)
		}
		v, at, found, _ := c.Lookup("k")
		var ttl time.Duration
		if at != 0 {
			ttl = time.Duration(at - clk.now())
		}
		if v != tt.wantValue || found != tt.wantFound || ttl != tt.wantTTL {
			t.Errorf("%s: k = %q, found %v, ttl %v; want %q, %v, %v", tt.name, v, found, ttl, tt.wantValue, tt.wantFound, tt.wantTTL)
		}
	}
	if st := c.Stats(); st.Hits != 0 || st.Misses != 0 || st.Deletes != 1 {
		t.Errorf("stats %+v: want no hits or misses and one delete", st)
	}
}

// TestUpdateIsAtomic increments through Update from many goroutines: no
// increment is lost.
func TestUpdateIsAtomic(t *testing.T) {
	c, _ := newTestCache(t, Options{})
	const workers, each = 8, 500
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				_ = c.Update("n", func(old Item, _ bool) (Item, bool, error) {
					return Item{Value: old.Value + "."}, true, nil
				})
			}
		}()
	}
	wg.Wait()
	if v, _, _ := c.Get("n"); len(v) != workers*each {
		t.Errorf("len = %d, want %d", len(v), workers*each)
	}
}

func TestMaxValueBytes(t *testing.T) {
	for _, o := range []Options{
		{MaxBytes: 1 << 20},
		{MaxBytes: 64 << 20},
		{MaxBytes: 1 << 30, MaxEntries: 1000},
		{MaxBytes: 3 << 30},
	} {
		n, err := MaxValueBytes(o, 256)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := newTestCache(t, o)
		if m := c.MaxValueBytes(256); m != n {
			t.Errorf("%+v: method %d, function %d", o, m, n)
		}
		// The largest value fits, with an expiry, in a shard that already
		// holds entries, which it evicts; a page more does not.
		for i := range 1000 {
			_ = c.Set(key(i, 20), "small", 0)
		}
		k := strings.Repeat("k", 256)
		if err := c.Set(k, strings.Repeat("v", int(n)), time.Now().Add(time.Hour).UnixNano()); err != nil {
			t.Errorf("%+v: the largest value (%d bytes) was refused: %v", o, n, err)
		}
		if _, ok, _ := c.Get(k); !ok {
			t.Errorf("%+v: the largest value was not kept", o)
		}
		if n < int64(o.MaxBytes)/int64(len(c.shards))*9/10 {
			t.Errorf("%+v: the largest value %d is far below a shard's budget %d", o, n, o.MaxBytes/int64(len(c.shards)))
		}
		if err := c.Set(k, strings.Repeat("v", int(o.MaxBytes)/len(c.shards)+1), 0); !errors.Is(err, ErrTooLarge) {
			t.Errorf("%+v: a value larger than a shard: err = %v, want ErrTooLarge", o, err)
		}
	}
	if _, err := MaxValueBytes(Options{}, 1); err == nil {
		t.Error("MaxValueBytes accepted a zero budget")
	}
}

func TestEntryBytes(t *testing.T) {
	plain, withTTL := EntryBytes("key", "value", false), EntryBytes("key", "value", true)
	if plain <= int64(len("key")+len("value")) || withTTL <= plain {
		t.Errorf("EntryBytes = %d, with an expiry %d", plain, withTTL)
	}
	if big := EntryBytes("key", strings.Repeat("v", 1<<20), false); big < 1<<20 {
		t.Errorf("a 1 MiB value costs %d", big)
	}
}
