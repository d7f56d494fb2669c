package cache

import (
	"runtime"
	"testing"
)

var sinkStrings []string

// heapGrowth reports the heap bytes per object that build leaves live.
func heapGrowth(n int, build func(i int) string) float64 {
	sinkStrings = make([]string, n)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range sinkStrings {
		sinkStrings[i] = build(i)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	defer func() { sinkStrings = nil }()
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
}

func TestAllocSizeMatchesRuntime(t *testing.T) {
	for _, n := range []int{9, 16, 17, 20, 100, 113, 256, 257, 512, 1000, 1024, 1025, 2048} {
		buf := make([]byte, n)
		got := heapGrowth(20_000, func(i int) string {
			buf[0], buf[1] = byte(i), byte(i>>8)
			return string(buf)
		})
		want := float64(allocSize(n))
		// Never under-count; strings below 16 bytes may share tiny blocks, so
		// allocSize over-counts those a little, on purpose.
		if got > want*1.02+1 || (n >= 16 && got < want*0.9) {
			t.Errorf("a %d-byte string takes %.1f bytes of heap; allocSize says %.0f", n, got, want)
		}
	}
}

func TestSlotBytesMatchesHeap(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c, err := New(Options{MaxBytes: 1 << 30, MaxEntries: 1_000_000, ReapInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	got := float64(after.HeapAlloc - before.HeapAlloc)
	want := float64(c.Stats().SlotBytes)
	if got > want*1.05 || got < want*0.9 {
		t.Fatalf("freelru allocated %.0f bytes for 1M slots; the cache charges %.0f", got, want)
	}
	runtime.KeepAlive(c)
}
