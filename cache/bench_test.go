package cache

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const benchKeys = 100_000

// benchData returns keys of 20 characters and 100-character values, as in the
// HTTP load test, and a zipf-distributed sequence of key indexes (s=1.01: a few hot
// keys, a long tail), the shape of real cache traffic.
func benchData() (keys []string, value string, order []int) {
	keys = make([]string, benchKeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%016d", i)
	}
	z := rand.NewZipf(rand.New(rand.NewPCG(1, 2)), 1.01, 1, benchKeys-1)
	order = make([]int, 1<<20)
	for i := range order {
		order[i] = int(z.Uint64())
	}
	return keys, strings.Repeat("v", 100), order
}

func newBenchCache(b *testing.B) *Cache {
	c, err := New(Options{MaxBytes: 256 << 20})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	return c
}

func BenchmarkGetZipfParallel(b *testing.B) {
	keys, value, order := benchData()
	c := newBenchCache(b)
	for _, k := range keys {
		_ = c.Set(k, value, 0)
	}
	var next atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(1) << 16)
		for pb.Next() {
			_, _, _ = c.Get(keys[order[i&(len(order)-1)]])
			i++
		}
	})
}

func BenchmarkSetZipfParallel(b *testing.B) {
	keys, value, order := benchData()
	c := newBenchCache(b)
	var next atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(1) << 16)
		for pb.Next() {
			_ = c.Set(keys[order[i&(len(order)-1)]], value, 0)
			i++
		}
	})
}

func BenchmarkMixedZipfParallel(b *testing.B) {
	keys, value, order := benchData()
	c := newBenchCache(b)
	for _, k := range keys {
		_ = c.Set(k, value, 0)
	}
	var next atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(1) << 16)
		for pb.Next() {
			k := keys[order[i&(len(order)-1)]]
			if i&1 == 0 {
				_, _, _ = c.Get(k)
			} else {
				_ = c.Set(k, value, 0)
			}
			i++
		}
	})
}

func BenchmarkIncrementByParallel(b *testing.B) {
	c := newBenchCache(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, _ = c.IncrementBy("counter", 1, KeepTTL)
		}
	})
}

// BenchmarkBytesPerEntry fills a cache and reports the real heap per entry next to
// what the cache charges, for the two entry shapes the memory contract names.
func BenchmarkBytesPerEntry(b *testing.B) {
	for _, shape := range []struct{ key, value int }{{20, 100}, {256, 256}} {
		b.Run(fmt.Sprintf("key%d_value%d", shape.key, shape.value), func(b *testing.B) {
			const n = 200_000
			for range b.N {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				c, err := New(Options{MaxBytes: 1 << 30, MaxEntries: n, ReapInterval: -1})
				if err != nil {
					b.Fatal(err)
				}
				pad := strings.Repeat("k", shape.key)
				value := strings.Repeat("v", shape.value)
				for i := range n {
					k := fmt.Sprint(i)
					k += pad[len(k):]
					// Copy the value, as a request decoder would: each entry owns its own.
					_ = c.Set(k, strings.Clone(value), 0)
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				st := c.Stats()
				b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "heap-B/entry")
				b.ReportMetric(float64(st.Bytes)/n, "charged-B/entry")
				runtime.KeepAlive(c)
				c.Close()
			}
		})
	}
}

// BenchmarkExpiryReclaim writes 1M keys with a 1-second TTL, reads none of them,
// and reports how long the background reaper takes to bring the memory held by
// entries below 1% of its peak (the target is 5s), and the p99 latency of Gets on
// other keys while it works against the p99 with nothing expiring. It runs once
// whatever b.N is: the figures are durations, not per-op costs.
func BenchmarkExpiryReclaim(b *testing.B) {
	const expiring = 1_000_000
	keys, value, order := benchData()
	for range b.N {
		c, err := New(Options{MaxBytes: 1 << 30})
		if err != nil {
			b.Fatal(err)
		}
		for _, k := range keys {
			_ = c.Set(k, value, 0)
		}
		quiet := getP99(c, keys, order, 300*time.Millisecond)
		base := c.Stats().Bytes // the persistent keys and the slots

		expireAt := time.Now().Add(time.Second).UnixNano()
		for i := range expiring {
			_ = c.Set(fmt.Sprintf("ttl-%d", i), "some value", expireAt)
		}
		written := time.Now()
		peak := c.Stats().Bytes - base

		var busy [2]time.Duration
		done := make(chan struct{})
		go func() {
			defer close(done)
			time.Sleep(time.Until(time.Unix(0, expireAt)))
			busy = getP99(c, keys, order, 200*time.Millisecond)
		}()
		var reclaimed time.Duration
		for {
			st := c.Stats()
			if (st.Bytes-base)*100 < peak {
				reclaimed = time.Since(written)
				break
			}
			if time.Since(written) > 30*time.Second {
				b.Fatalf("expiring entries still hold %d of %d bytes after 30s", st.Bytes-base, peak)
			}
			time.Sleep(10 * time.Millisecond)
		}
		<-done
		c.Close()
		b.ReportMetric(reclaimed.Seconds(), "s-to-1%")
		b.ReportMetric(float64(quiet[0].Nanoseconds()), "p99-ns-quiet")
		b.ReportMetric(float64(busy[0].Nanoseconds()), "p99-ns-reaping")
		b.ReportMetric(float64(quiet[1].Nanoseconds()), "p99.9-ns-quiet")
		b.ReportMetric(float64(busy[1].Nanoseconds()), "p99.9-ns-reaping")
	}
}

// getP99 runs Gets from two goroutines for d and returns their 99th and 99.9th
// percentiles.
func getP99(c *Cache, keys []string, order []int, d time.Duration) [2]time.Duration {
	var mu sync.Mutex
	var all []time.Duration
	var wg sync.WaitGroup
	for g := range 2 {
		wg.Go(func() {
			var lat []time.Duration
			deadline := time.Now().Add(d)
			for i := g << 16; time.Now().Before(deadline); i++ {
				t := time.Now()
				_, _, _ = c.Get(keys[order[i&(len(order)-1)]])
				lat = append(lat, time.Since(t))
			}
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(all)
	return [2]time.Duration{all[len(all)*99/100], all[len(all)*999/1000]}
}

// BenchmarkNew is what building a cache costs a cold start, by budget: with
// shards that grow, it should not depend on the budget.
func BenchmarkNew(b *testing.B) {
	for _, budget := range []int64{64 << 20, 1 << 30, 3 << 30} {
		b.Run(fmt.Sprintf("budget=%dMiB", budget>>20), func(b *testing.B) {
			for range b.N {
				c, err := New(Options{MaxBytes: budget, ReapInterval: -1})
				if err != nil {
					b.Fatal(err)
				}
				_ = c.Set("one", "key", 0)
				c.Close()
			}
		})
	}
}

// BenchmarkFillFromEmpty writes distinct 20/100 keys into a new 512 MiB cache
// until it holds 1M of them: the cost per write, rebuilds of growing shards
// included.
func BenchmarkFillFromEmpty(b *testing.B) {
	const n = 1 << 20
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%016d", i)
	}
	value := strings.Repeat("v", 100)
	b.ReportAllocs()
	for range b.N {
		b.StopTimer()
		c, err := New(Options{MaxBytes: 512 << 20, ReapInterval: -1})
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		b.StartTimer()
		for _, k := range keys {
			_ = c.Set(k, value, 0)
		}
		b.StopTimer()
		if st := c.Stats(); st.Entries != n || st.Evictions != 0 {
			b.Fatalf("entries %d evictions %d", st.Entries, st.Evictions)
		}
		c.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/set")
}
