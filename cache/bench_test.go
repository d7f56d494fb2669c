package cache

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
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
			c.Get(keys[order[i&(len(order)-1)]])
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
				c.Get(k)
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
