package snapshot

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/warmkv/warmkv/cache"
)

// FuzzLoad feeds Load arbitrary files: it must return an error or a restored
// cache, never panic, and on error leave the cache untouched and the file moved
// aside. With fixChecksum the input gets a correct checksum appended, so that
// the fuzzer reaches the decoder's checks behind the checksum and the insertion
// of what it accepts. Seeds are in testdata/fuzz/FuzzLoad.
func FuzzLoad(f *testing.F) {
	f.Add([]byte{}, false)
	f.Add([]byte(magic), false)
	// One directory for every input (a fuzzing process runs them one at a
	// time), emptied after each: a directory per input costs more than Load.
	dir := f.TempDir()
	path := filepath.Join(dir, "warmkv.snap")
	f.Fuzz(func(t *testing.T, data []byte, fixChecksum bool) {
		if fixChecksum {
			data = withChecksum(data)
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		defer func() {
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				os.Remove(filepath.Join(dir, e.Name()))
			}
		}()
		c, err := cache.New(cache.Options{MaxBytes: 1 << 20, MaxEntries: 1000, ReapInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		info, err := Load(path, c, time.Unix(0, 1<<62))
		if err == nil {
			if !info.Found || int64(info.Keys) != c.Stats().Entries {
				t.Fatalf("Load = %+v but the cache holds %d entries", info, c.Stats().Entries)
			}
			return
		}
		var corrupt *CorruptError
		if !errors.As(err, &corrupt) || corrupt.MovedTo == "" {
			t.Fatalf("Load error %v: want a *CorruptError with the file moved aside", err)
		}
		if st := c.Stats(); st.Inserts != 0 {
			t.Fatalf("a rejected file inserted %d entries", st.Inserts)
		}
		if kept, err := os.ReadFile(corrupt.MovedTo); err != nil || !bytes.Equal(kept, data) {
			t.Fatalf("the file moved aside differs from the input (%v)", err)
		}
	})
}
