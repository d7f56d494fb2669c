// Command snapshot measures how fast warmkv writes and restores snapshots, and
// leaves a snapshot for bench/snapshot.sh to start the real server from.
//
// It fills a cache in process (no HTTP: a million PUTs would take longer than
// the measurement), then writes it -runs times and restores it -runs times into
// fresh caches, and prints the medians: keys/s, MB/s and bytes per key. It also
// times cache.Dump per shard, which is how long a snapshot holds each shard's
// lock, the only moment it can delay a request.
//
// Key i is "k" followed by i zero-padded to -key-len characters, as in
// bench/preload and get.lua.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/warmkv/warmkv/cache"
	"github.com/warmkv/warmkv/snapshot"
)

func main() {
	keys := flag.Int("keys", 1000000, "number of keys")
	keyLen := flag.Int("key-len", 20, "length of every key (>= 8)")
	valueLen := flag.Int("value-len", 100, "length of every value")
	runs := flag.Int("runs", 3, "writes and restores to take the median of")
	out := flag.String("out", "", "where to leave the snapshot (default: a temporary directory, removed)")
	flag.Parse()
	if *keyLen < 8 || *keys < 1 || *runs < 1 || *valueLen < 0 {
		fmt.Fprintln(os.Stderr, "snapshot: need -keys >= 1, -key-len >= 8, -runs >= 1, -value-len >= 0")
		os.Exit(2)
	}
	path := *out
	if path == "" {
		dir, err := os.MkdirTemp("", "warmkv-snapshot-bench")
		if err != nil {
			fail(err)
		}
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, "warmkv.snap")
	}

	// Room for twice the keys: shards fill unevenly, and no key may be evicted.
	opts := cache.Options{MaxBytes: 4 << 30, MaxEntries: 2 * *keys, ReapInterval: -1}
	c, err := cache.New(opts)
	if err != nil {
		fail(err)
	}
	start := time.Now()
	value := strings.Repeat("v", *valueLen)
	for i := range *keys {
		if err := c.Set(fmt.Sprintf("k%0*d", *keyLen-1, i), value, 0); err != nil {
			fail(err)
		}
	}
	fmt.Printf("filled %d keys (%d-char keys, %d-char values) in %v\n", *keys, *keyLen, *valueLen, time.Since(start).Round(time.Millisecond))

	var dumps []time.Duration
	var buf []cache.Item
	for shard := range c.ShardCount() {
		t := time.Now()
		buf = c.Dump(shard, buf[:0])
		dumps = append(dumps, time.Since(t))
	}
	slices.Sort(dumps)
	fmt.Printf("shard lock held per snapshot: %d shards, median %v, max %v\n",
		len(dumps), dumps[len(dumps)/2].Round(time.Microsecond), dumps[len(dumps)-1].Round(time.Microsecond))

	var writes, loads []snapshot.Info
	for range *runs {
		info, err := snapshot.Write(path, c)
		if err != nil {
			fail(err)
		}
		writes = append(writes, info)
	}
	c.Close()
	c = nil
	for range *runs {
		fresh, err := cache.New(opts)
		if err != nil {
			fail(err)
		}
		info, err := snapshot.Load(path, fresh, time.Now())
		if err != nil {
			fail(err)
		}
		if info.Keys != *keys {
			fail(fmt.Errorf("restored %d keys, want %d", info.Keys, *keys))
		}
		loads = append(loads, info)
		fresh.Close()
	}
	w, l := median(writes), median(loads)
	fmt.Printf("file: %d bytes, %.1f bytes per key\n", w.Bytes, float64(w.Bytes)/float64(w.Keys))
	report("snapshot", w)
	report("restore ", l)
}

func median(infos []snapshot.Info) snapshot.Info {
	slices.SortFunc(infos, func(a, b snapshot.Info) int { return int(a.Duration - b.Duration) })
	return infos[len(infos)/2]
}

func report(what string, info snapshot.Info) {
	s := info.Duration.Seconds()
	fmt.Printf("%s: %v  %.0f keys/s  %.0f MB/s\n", what, info.Duration.Round(time.Millisecond),
		float64(info.Keys)/s, float64(info.Bytes)/1e6/s)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "snapshot:", err)
	os.Exit(1)
}
