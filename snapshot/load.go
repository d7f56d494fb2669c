package snapshot

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"strconv"
	"time"

	"github.com/warmkv/warmkv/cache"
)

// CorruptError is Load's error for a file that is not a complete snapshot this
// build can read: truncated, damaged, not a snapshot at all, or of an unknown
// version. Load has moved the file aside to MovedTo, unless that failed too
// (MovedTo is then empty and MoveErr says why).
type CorruptError struct {
	Path    string
	Problem string // exactly what is wrong, with the byte offset when there is one
	MovedTo string
	MoveErr error
}

func (e *CorruptError) Error() string {
	if e.MovedTo == "" {
		return fmt.Sprintf("snapshot %s is unusable: %s; moving it aside failed: %v", e.Path, e.Problem, e.MoveErr)
	}
	return fmt.Sprintf("snapshot %s is unusable: %s; moved it aside to %s", e.Path, e.Problem, e.MovedTo)
}

func (e *CorruptError) Unwrap() error { return e.MoveErr }

// readBuffer is the loader's read size; strings up to this long are copied
// straight out of it.
const readBuffer = 256 << 10

// Load restores the snapshot at path into c. Entries go in least recently used
// first, so the cache ends with the same recency and, if its budget is smaller
// than the one the snapshot came from, keeps the most recently used entries.
// Entries that expire at or before now are skipped. No file at path is a fresh
// start: Info.Found is false and the error nil.
//
// Nothing is inserted until the whole file has been read and its checksum
// verified: if the file is not a valid snapshot, c is untouched, the error is a
// *CorruptError, and the file is renamed to "<path>.corrupt-<now>" so that it
// can be examined and so that the next snapshot cannot overwrite it. Other errors
// (say, permission denied) leave the file where it is.
//
// Load also removes temporary files a crashed Write left next to path, so it
// must not run while a Write to path is under way (a server loads once, before
// it starts writing snapshots).
func Load(path string, c *cache.Cache, now time.Time) (Info, error) {
	start := time.Now()
	info := Info{Path: path}
	removeTemporaries(path)

	got, size, err := read(path, now)
	if errors.Is(err, fs.ErrNotExist) {
		return info, nil
	}
	info.Found = true
	info.Bytes = size
	var bad *formatError
	if errors.As(err, &bad) {
		cerr := &CorruptError{Path: path, Problem: bad.Error()}
		cerr.MovedTo, cerr.MoveErr = moveAside(path, now)
		return info, cerr
	}
	if err != nil {
		return info, fmt.Errorf("snapshot: reading %s: %w", path, err)
	}
	info.TakenAt = got.takenAt
	info.Expired = got.expired

	before := c.Stats().Entries
	// One rebuild per shard, for what it will hold, instead of the rebuilds of
	// a cache growing as it fills (each moves every entry the shard holds).
	c.Reserve(func(yield func(string, string) bool) {
		for _, items := range got.sections {
			for _, it := range items {
				if !yield(it.Key, it.Value) {
					return
				}
			}
		}
	})
	replay(c, got.sections)
	info.Keys = max(0, int(c.Stats().Entries-before))
	info.Dropped = got.records - got.expired - info.Keys
	info.Duration = time.Since(start)
	return info, nil
}

// read opens path and decodes it whole, checksum included.
func read(path string, now time.Time) (contents, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return contents{}, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return contents{}, 0, err
	}
	if !fi.Mode().IsRegular() {
		return contents{}, 0, fmt.Errorf("%s is not a regular file (%s)", path, fi.Mode().Type())
	}
	size := fi.Size()
	if size < int64(minFileSize) {
		return contents{}, size, shortFile(f, size)
	}

	// The body goes through the checksum as the decoder reads it, so the file is
	// read once; the stored checksum is read apart, after the body.
	body := size - checksumSize
	sum := crc32.New(castagnoli)
	d := &decoder{
		r:    bufio.NewReaderSize(io.TeeReader(io.LimitReader(f, body), sum), readBuffer),
		size: body,
	}
	got, err := d.decode(now)
	if err != nil {
		return contents{}, size, err
	}
	var stored [checksumSize]byte
	if _, err := io.ReadFull(f, stored[:]); err != nil {
		// The file shrank while being read.
		return contents{}, size, &formatError{offset: body, msg: "truncated: the checksum is missing"}
	}
	if want, have := binary.LittleEndian.Uint32(stored[:]), sum.Sum32(); want != have {
		return contents{}, size, &formatError{offset: body, msg: fmt.Sprintf(
			"corrupt: checksum mismatch, the file says %08x but its contents sum to %08x", want, have)}
	}
	return got, size, nil
}

// shortFile explains a file too short to hold any snapshot.
func shortFile(f *os.File, size int64) error {
	if size == 0 {
		return &formatError{offset: -1, msg: "empty file (0 bytes)"}
	}
	head := make([]byte, min(size, int64(len(magic))))
	if _, err := io.ReadFull(f, head); err != nil {
		return err
	}
	if string(head) != magic[:len(head)] {
		return &formatError{offset: -1, msg: fmt.Sprintf("not a warmkv snapshot: it starts with % x, a snapshot with % x", head, magic)}
	}
	return &formatError{offset: -1, msg: fmt.Sprintf("truncated: %d bytes, the smallest snapshot is %d", size, minFileSize)}
}

// moveAside renames a bad snapshot to "<path>.corrupt-<now>", adding "-2", "-3"…
// rather than replace an earlier one.
func moveAside(path string, now time.Time) (string, error) {
	base := path + ".corrupt-" + now.UTC().Format("20060102T150405Z")
	to := base
	for n := 2; ; n++ {
		if _, err := os.Lstat(to); errors.Is(err, fs.ErrNotExist) {
			break
		} else if err != nil {
			return "", err
		}
		to = base + "-" + strconv.Itoa(n)
	}
	if err := os.Rename(path, to); err != nil {
		return "", err
	}
	return to, nil
}

// replay inserts the sections' entries into c, oldest first across all of them.
//
// Each section is one shard of the cache that wrote it, in least-recently-used
// order, but shards share no clock: the order between them is unknown. Keys
// reach shards by hash, so each shard's order is an even sample of the global
// one, and an entry's position within its shard (as a fraction of the shard's
// length) estimates its position in the global order. Merging by that fraction
// interleaves the shards the way they were used. Replaying shard after shard
// instead would make the last shard look the most recently used, and a smaller
// cache would keep it rather than the keys that really were recent.
func replay(c *cache.Cache, sections [][]cache.Item) {
	h := make(mergeHeap, 0, len(sections))
	for _, items := range sections {
		if len(items) > 0 {
			h = append(h, cursor{items: items})
		}
	}
	h.init()
	for len(h) > 0 {
		cur := &h[0]
		it := &cur.items[cur.next]
		// Set's one error, ErrTooLarge, drops an entry the budget cannot hold,
		// which Info.Dropped counts.
		_ = c.Set(it.Key, it.Value, it.ExpireAt)
		*it = cache.Item{} // the cache holds the strings now; hold them no longer
		cur.next++
		if cur.next == len(cur.items) {
			h.pop()
		} else {
			h.down(0)
		}
	}
}

// cursor is the next entry to replay from one section.
type cursor struct {
	items []cache.Item
	next  int
}

// before orders cursors by the fraction of their section already replayed,
// (next+1)/len, compared without division; ties go to the longer section.
func (a cursor) before(b cursor) bool {
	l := uint64(a.next+1) * uint64(len(b.items))
	r := uint64(b.next+1) * uint64(len(a.items))
	if l != r {
		return l < r
	}
	return len(a.items) > len(b.items)
}

// mergeHeap is a min-heap of cursors by before. There are at most as many as the
// writer had shards, so it stays tiny; a hand-written heap avoids container/heap's
// interface calls on the million-entry path.
type mergeHeap []cursor

func (h mergeHeap) init() {
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

func (h *mergeHeap) pop() {
	old := *h
	n := len(old) - 1
	old[0] = old[n]
	*h = old[:n]
	h.down(0)
}

func (h mergeHeap) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && h[r].before(h[l]) {
			m = r
		}
		if !h[m].before(h[i]) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}
