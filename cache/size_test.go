package cache

import (
	"runtime"
	"testing"

	"github.com/elastic/go-freelru"
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

func TestAllocSizeTableMatchesSearch(t *testing.T) {
	for n := 1; n <= 2*smallSizeLimit; n++ {
		if got, want := allocSize(n), classSize(n); got != want {
			t.Fatalf("allocSize(%d) = %d, but its size class holds %d", n, got, want)
		}
	}
	if got := allocSize(0); got != 0 {
		t.Fatalf("allocSize(0) = %d, want 0", got)
	}
}

func TestSlotBytesMatchesHeap(t *testing.T) {
	for _, capacity := range []int{256, 100_000, 1_000_000} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		lru, err := freelru.NewWithSize[string, entry](uint32(capacity), uint32(slotsFor(capacity)),
			func(string) uint32 { return 0 })
		if err != nil {
			t.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		got := float64(after.HeapAlloc - before.HeapAlloc)
		want := float64(arrayBytes(capacity))
		if got > want*1.01+64 || got < want*0.95 {
			t.Errorf("freelru allocated %.0f bytes for capacity %d; the cache charges %.0f", got, capacity, want)
		}
		runtime.KeepAlive(lru)
	}
}
