package snapshot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/warmkv/warmkv/cache"
)

// Info describes a snapshot written or loaded.
type Info struct {
	Path string
	// Found is false when Load found no file at Path: a fresh start.
	Found bool
	// Keys is how many entries were written, or how many Load added to the
	// cache (fewer than the file holds if the budget is smaller now).
	Keys int
	// Expired is, for Load, how many entries were skipped because they expired
	// while the server was down.
	Expired int
	// Dropped is, for Load, how many unexpired entries the cache did not keep:
	// evicted to stay within its budget, or larger than it allows.
	Dropped int
	// Bytes is the size of the file.
	Bytes int64
	// TakenAt is when the snapshot was taken: when its writer started.
	TakenAt time.Time
	// Duration is how long writing or loading took.
	Duration time.Duration
}

// tempInfix marks Write's temporary files: "<name>.tmp-<random>" next to the
// snapshot. Load removes leftovers of a writer that crashed.
const tempInfix = ".tmp-"

// Write takes a snapshot of c into path, replacing the previous one atomically.
// It holds each shard's lock only while it copies that shard's entries, so the
// cache keeps serving; entries written meanwhile to shards already copied are
// in the next snapshot. Write must not run concurrently for the same path
// (Saver sees to that).
func Write(path string, c *cache.Cache) (Info, error) {
	return write(path, c, nil)
}

// write is Write with a hook called after each shard, which the crash test uses
// to stop a writer part way.
func write(path string, c *cache.Cache, afterShard func(shard int)) (info Info, err error) {
	start := time.Now()
	info = Info{Path: path, TakenAt: start}
	dir, name := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	// The temporary file lives in the snapshot's directory, because rename is
	// atomic only within one file system. CreateTemp makes it 0600: the cache
	// may hold secrets.
	f, err := os.CreateTemp(dir, name+tempInfix+"*")
	if err != nil {
		return info, fmt.Errorf("snapshot: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
			err = fmt.Errorf("snapshot: writing %s: %w", path, err)
		}
	}()

	e := newEncoder(f)
	e.header(start)
	shards := c.ShardCount()
	e.uvarint(uint64(shards))
	var items []cache.Item
	for shard := range shards {
		items = c.Dump(shard, items[:0])
		e.uvarint(uint64(len(items)))
		for _, it := range items {
			e.record(it)
		}
		info.Keys += len(items)
		// Keep no reference to values the cache may drop before the next shard.
		clear(items)
		if e.err != nil {
			return info, e.err
		}
		if afterShard != nil {
			afterShard(shard)
		}
	}
	if err := e.finish(); err != nil {
		return info, err
	}
	info.Bytes = e.written
	// Sync before rename: otherwise a crash soon after could leave the new name
	// pointing at a file whose blocks never reached the disk.
	if err := f.Sync(); err != nil {
		return info, err
	}
	if err := f.Close(); err != nil {
		return info, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return info, err
	}
	// The rename is durable only once the directory is.
	if err := syncDir(dir); err != nil {
		return info, err
	}
	info.Duration = time.Since(start)
	return info, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// CheckWritable reports whether snapshots can be written to path: its directory
// exists and accepts new files. A server calls it at start, so that a wrong
// SNAPSHOT_PATH stops it at once instead of failing every snapshot later.
func CheckWritable(path string) error {
	dir, name := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("snapshot: %s is a directory, not a file", path)
	}
	f, err := os.CreateTemp(dir, name+tempInfix+"*")
	if err != nil {
		return fmt.Errorf("snapshot: cannot create files next to %s: %w", path, err)
	}
	name = f.Name()
	return errors.Join(f.Close(), os.Remove(name))
}

// removeTemporaries deletes what writers that died left next to path. They are
// never complete snapshots: a complete one is renamed to path before its writer
// returns.
func removeTemporaries(path string) {
	dir, name := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), name+tempInfix) && e.Type().IsRegular() {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
