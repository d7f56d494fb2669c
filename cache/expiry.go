package cache

// expiryItem says that key was given expiry time at. The index never learns of
// overwrites, deletes or evictions (freelru offers no hook cheap enough), so an item
// may be stale: it is acted on only if the entry still has exactly this expiry.
type expiryItem struct {
	at  int64
	key string
}

// expiryIndex is a min-heap of expiry times, one per shard, guarded by the shard lock.
// It lets the reaper find expired entries without scanning the whole shard: freelru
// only expires lazily, and its PurgeExpired stops at the first unexpired entry in LRU
// order, which says nothing about the rest.
type expiryIndex struct {
	items []expiryItem
	// keyBytes is the heap held by the keys of items. Items share the key string with
	// the entry, but an evicted entry's key lives on in its item until it is popped,
	// so items are accounted as if they owned their keys.
	keyBytes int64
}

func (x *expiryIndex) len() int { return len(x.items) }

// bytes is the memory the index holds, counted against the shard's budget.
func (x *expiryIndex) bytes() int64 {
	return int64(cap(x.items))*heapItemBytes + x.keyBytes
}

func (x *expiryIndex) push(at int64, key string) {
	x.items = append(x.items, expiryItem{at: at, key: key})
	x.keyBytes += allocSize(len(key))
	x.up(len(x.items) - 1)
}

// peek returns the earliest item; the index must not be empty.
func (x *expiryIndex) peek() expiryItem { return x.items[0] }

func (x *expiryIndex) pop() expiryItem {
	top := x.items[0]
	last := len(x.items) - 1
	x.items[0] = x.items[last]
	x.items[last] = expiryItem{} // drop the key reference for the GC
	x.items = x.items[:last]
	if last > 0 {
		x.down(0)
	}
	x.keyBytes -= allocSize(len(top.key))
	// Give memory back once the reaper has drained most of a burst of expiries:
	// append only ever grows the array.
	if len(x.items) == 0 {
		x.items = nil
	} else if c := cap(x.items); c > 64 && len(x.items) < c/4 {
		x.items = append(make([]expiryItem, 0, c/2), x.items...)
	}
	return top
}

// filter keeps the items for which keep returns true and shrinks the backing array,
// so that an index full of stale items gives its memory back.
func (x *expiryIndex) filter(keep func(expiryItem) bool) {
	kept := make([]expiryItem, 0, len(x.items)/2+1)
	x.keyBytes = 0
	for _, it := range x.items {
		if keep(it) {
			kept = append(kept, it)
			x.keyBytes += allocSize(len(it.key))
		}
	}
	x.items = kept
	for i := len(kept)/2 - 1; i >= 0; i-- {
		x.down(i)
	}
}

func (x *expiryIndex) reset() {
	x.items = nil
	x.keyBytes = 0
}

func (x *expiryIndex) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if x.items[parent].at <= x.items[i].at {
			return
		}
		x.items[parent], x.items[i] = x.items[i], x.items[parent]
		i = parent
	}
}

func (x *expiryIndex) down(i int) {
	n := len(x.items)
	for {
		smallest := i
		if l := 2*i + 1; l < n && x.items[l].at < x.items[smallest].at {
			smallest = l
		}
		if r := 2*i + 2; r < n && x.items[r].at < x.items[smallest].at {
			smallest = r
		}
		if smallest == i {
			return
		}
		x.items[smallest], x.items[i] = x.items[i], x.items[smallest]
		i = smallest
	}
}
