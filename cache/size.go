package cache

import (
	"unsafe"

	"github.com/elastic/go-freelru"
)

// sizeClasses are the Go runtime's small-object size classes (runtime/sizeclasses.go),
// which have not changed since Go 1.12. A string of n bytes occupies the smallest class
// that holds it, so a 113-byte value really costs 128 bytes of heap: counting len(s)
// alone would under-count by up to 12% and let the process outgrow its limit.
var sizeClasses = [...]uint32{
	8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256,
	288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280,
	1408, 1536, 1792, 2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528,
	6784, 6912, 8192, 9472, 9728, 10240, 10880, 12288, 13568, 14336, 16384, 18432, 19072,
	20480, 21760, 24576, 27264, 28672, 32768,
}

// pageSize is the runtime's page size: objects above 32 KiB are rounded up to pages.
const pageSize = 8192

// smallSizeLimit bounds the strings whose size class smallAllocSizes looks up
// directly, as the runtime's own size_to_class8 does: every write charges two
// of them, and most keys and values are this short.
const smallSizeLimit = 1024

// smallAllocSizes[(n+7)/8] is allocSize(n) for 0 < n <= smallSizeLimit.
var smallAllocSizes = func() (t [smallSizeLimit/8 + 1]uint16) {
	class := 0
	for i := 1; i < len(t); i++ {
		for int(sizeClasses[class]) < 8*i {
			class++
		}
		t[i] = uint16(sizeClasses[class])
	}
	return t
}()

// allocSize is the heap a string of n bytes occupies. Strings below 16 bytes share
// tiny blocks in the runtime; rounding them up to their class over-counts slightly,
// which errs on the safe side.
func allocSize(n int) int64 {
	if n <= 0 {
		return 0
	}
	if n <= smallSizeLimit {
		return int64(smallAllocSizes[(n+7)/8])
	}
	return classSize(n)
}

// classSize is allocSize by search of sizeClasses, for any n > 0.
func classSize(n int) int64 {
	if n > int(sizeClasses[len(sizeClasses)-1]) {
		return int64((n + pageSize - 1) / pageSize * pageSize)
	}
	// Binary search: the classes are sorted.
	lo, hi := 0, len(sizeClasses)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if int(sizeClasses[mid]) < n {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return int64(sizeClasses[lo])
}

// entryCost is what one stored entry costs beyond its slot: the key and the value
// are separate heap strings.
func entryCost(key, value string) int64 {
	return allocSize(len(key)) + allocSize(len(value))
}

// elementBytes is the size of one element of freelru v0.16.0's LRU[string, entry]:
// the key, the value, five uint32 list and bucket links and an int64 expiry of its
// own, padded to the 8-byte alignment of its fields. freelru's element type is
// unexported, so its size is worked out here; TestSlotBytesMatchesHeap checks it
// against what freelru really allocates.
const elementBytes = (int64(unsafe.Sizeof("")) + int64(unsafe.Sizeof(entry{})) + 5*4 + 8 + 7) / 8 * 8

// slotBytes is one slot of a freelru LRU: an element plus its bucket index.
const slotBytes = elementBytes + 4

// lruHeaderBytes is freelru's LRU struct itself, allocated once per array size.
var lruHeaderBytes = allocSize(int(unsafe.Sizeof(freelru.LRU[string, entry]{})))

// slotsFor over-provisions freelru's arrays (size = capacity * 5/4) so that hash
// buckets stay short, as freelru's own ShardedLRU does.
func slotsFor(capacity int) int {
	return capacity + capacity/4 + 1
}

// arrayBytes is the heap an LRU of this capacity holds whatever is stored in it:
// its struct and its element and bucket arrays, each rounded up as the allocator
// rounds it.
func arrayBytes(capacity int) int64 {
	slots := slotsFor(capacity)
	return lruHeaderBytes + allocSize(slots*int(elementBytes)) + allocSize(slots*4)
}

// slotBytesPerEntry is what a slot array costs per entry of capacity, rounding aside.
const slotBytesPerEntry = slotBytes * 5 / 4

// heapItemBytes is one expiry-index item ({at, key} = 8 + 16 bytes).
const heapItemBytes = int64(unsafe.Sizeof(expiryItem{}))
