package snapshot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warmkv/warmkv/cache"
)

// newCache builds a cache without a reaper goroutine, closed with the test.
func newCache(t testing.TB, o cache.Options) *cache.Cache {
	t.Helper()
	if o.MaxBytes == 0 {
		o.MaxBytes = 64 << 20
	}
	o.ReapInterval = -1
	c, err := cache.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// dumpAll returns every live entry of c, shard by shard, oldest first.
func dumpAll(c *cache.Cache) []cache.Item {
	var all []cache.Item
	for i := range c.ShardCount() {
		all = c.Dump(i, all)
	}
	return all
}

func mustSet(t testing.TB, c *cache.Cache, key, value string, expireAt int64) {
	t.Helper()
	if err := c.Set(key, value, expireAt); err != nil {
		t.Fatalf("Set(%q): %v", key, err)
	}
}

func TestRoundTripKeepsValuesExpiriesAndUnicode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "warmkv.snap")
	now := time.Now()
	in := newCache(t, cache.Options{MaxEntries: 1000})
	want := map[string]cache.Item{}
	put := func(key, value string, expireAt int64) {
		mustSet(t, in, key, value, expireAt)
		want[key] = cache.Item{Key: key, Value: value, ExpireAt: expireAt}
	}
	put("ключ", "значение", 0)
	put("🔑", "😀🎉👍🏽", now.Add(time.Hour).UnixNano())
	put("键", "值", now.Add(24*time.Hour).UnixNano()+123) // nanoseconds survive
	put("empty value", "", 0)
	put("", "an empty key", 0)
	put("bytes", "\x00\xff\x80 not UTF-8", 0)
	put(strings.Repeat("k", 300), "a long key", 0)
	put("big", strings.Repeat("v", readBuffer+1000), 0) // larger than the loader's buffer
	for i := range 200 {
		put(fmt.Sprintf("key-%03d", i), fmt.Sprintf("value-%d", i*i), 0)
	}

	wrote, err := Write(path, in)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if wrote.Keys != len(want) || wrote.Bytes != fi.Size() || wrote.TakenAt.Before(now) {
		t.Errorf("Write info = %+v, want %d keys and %d bytes", wrote, len(want), fi.Size())
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("snapshot mode %v, want 0600: the cache may hold secrets", fi.Mode().Perm())
	}

	out := newCache(t, cache.Options{MaxEntries: 1000})
	loaded, err := Load(path, out, now)
	if err != nil {
		t.Fatal(err)
	}
	if !loaded.Found || loaded.Keys != len(want) || loaded.Expired != 0 || loaded.Dropped != 0 ||
		loaded.Bytes != fi.Size() || !loaded.TakenAt.Equal(wrote.TakenAt) {
		t.Errorf("Load info = %+v, want %d keys taken at %v", loaded, len(want), wrote.TakenAt)
	}
	if n := out.Stats().Entries; n != int64(len(want)) {
		t.Errorf("cache holds %d entries, want %d", n, len(want))
	}
	for key, w := range want {
		value, expireAt, ok, _ := out.Lookup(key)
		if !ok || value != w.Value || expireAt != w.ExpireAt {
			t.Errorf("%q: got %q (expires %d, found %v), want %q (expires %d)", key, value, expireAt, ok, w.Value, w.ExpireAt)
		}
	}
}

func TestRoundTripKeepsRecency(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	in := newCache(t, cache.Options{MaxEntries: 100, Shards: 1})
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		mustSet(t, in, k, k, 0)
	}
	_, _, _ = in.Get("b")
	_, _, _ = in.Get("a")
	if _, err := Write(path, in); err != nil {
		t.Fatal(err)
	}
	out := newCache(t, cache.Options{MaxEntries: 100, Shards: 1})
	if _, err := Load(path, out, time.Now()); err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, it := range dumpAll(out) {
		order = append(order, it.Key)
	}
	if got, want := strings.Join(order, ""), "cdeba"; got != want {
		t.Errorf("least recently used first: %s, want %s", got, want)
	}
}

func TestKeysThatExpiredWhileDownAreNotRestored(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	start := time.Now()
	in := newCache(t, cache.Options{MaxEntries: 100})
	mustSet(t, in, "gone", "1", start.Add(time.Minute).UnixNano())
	mustSet(t, in, "gone at the instant", "2", start.Add(time.Hour).UnixNano())
	mustSet(t, in, "still valid", "3", start.Add(2*time.Hour).UnixNano())
	mustSet(t, in, "never expires", "4", 0)
	if _, err := Write(path, in); err != nil {
		t.Fatal(err)
	}

	restart := start.Add(time.Hour) // the server was down for an hour
	out := newCache(t, cache.Options{MaxEntries: 100})
	info, err := Load(path, out, restart)
	if err != nil {
		t.Fatal(err)
	}
	if info.Keys != 2 || info.Expired != 2 {
		t.Errorf("info = %+v, want 2 keys restored and 2 expired", info)
	}
	for key, want := range map[string]bool{"gone": false, "gone at the instant": false, "still valid": true, "never expires": true} {
		if _, _, ok, _ := out.Lookup(key); ok != want {
			t.Errorf("%q restored = %v, want %v", key, ok, want)
		}
	}
}

func TestRestoreIntoSmallerBudgetKeepsRecentlyUsedKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	const total, recent, room = 20000, 5000, 8000
	in := newCache(t, cache.Options{MaxEntries: 2 * total}) // 64 shards
	for i := range total {
		mustSet(t, in, fmt.Sprintf("key-%05d", i), "v", 0)
	}
	// The oldest-written keys are used again, so they are the most recent.
	for i := range recent {
		_, _, _ = in.Get(fmt.Sprintf("key-%05d", i))
	}
	if _, err := Write(path, in); err != nil {
		t.Fatal(err)
	}

	out := newCache(t, cache.Options{MaxEntries: room}) // 16 shards, hashed afresh
	info, err := Load(path, out, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if info.Keys != room || info.Dropped != total-room {
		t.Errorf("info = %+v, want %d keys kept and %d dropped", info, room, total-room)
	}
	kept := 0
	for i := range recent {
		if _, _, ok, _ := out.Lookup(fmt.Sprintf("key-%05d", i)); ok {
			kept++
		}
	}
	// Each new shard holds room/16 = 500 entries and receives about 312 recent
	// keys, last: all of them fit. Replaying the old shards one after another
	// would instead keep the recent keys of the last old shards only, about
	// half of them.
	if kept < recent*99/100 {
		t.Errorf("kept %d of the %d most recently used keys, want nearly all", kept, recent)
	}
}

// A restore fills a fresh cache through its ordinary writes, so its shards grow
// as the entries arrive: a large budget costs nothing until it is used.
func TestRestoreGrowsAFreshCache(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	const total = 100_000
	in := newCache(t, cache.Options{MaxBytes: 256 << 20})
	for i := range total {
		mustSet(t, in, fmt.Sprintf("key-%06d", i), strings.Repeat("v", 100), 0)
	}
	if _, err := Write(path, in); err != nil {
		t.Fatal(err)
	}
	out := newCache(t, cache.Options{MaxBytes: 4 << 30})
	fresh := out.Stats()
	info, err := Load(path, out, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	st, src := out.Stats(), in.Stats()
	if info.Keys != total || st.Entries != total || st.Evictions != 0 {
		t.Fatalf("restored %d keys, cache holds %d, %d evicted; want all %d", info.Keys, st.Entries, st.Evictions, total)
	}
	if st.SlotBytes <= fresh.SlotBytes {
		t.Errorf("restoring %d entries left the arrays at %d bytes, as new", total, st.SlotBytes)
	}
	// Shards size themselves from the mean entry and their budget, so a larger
	// budget may hold a little more room; never arrays for the whole 4 GiB.
	t.Logf("restored: %d bytes (%d in arrays); source: %d bytes (%d in arrays)", st.Bytes, st.SlotBytes, src.Bytes, src.SlotBytes)
	if st.Bytes > 2*src.Bytes {
		t.Errorf("the restored cache is charged %d bytes, the one it came from %d", st.Bytes, src.Bytes)
	}
}

func TestMissingFileIsAFreshStart(t *testing.T) {
	c := newCache(t, cache.Options{MaxEntries: 100})
	info, err := Load(filepath.Join(t.TempDir(), "none"), c, time.Now())
	if err != nil || info.Found || info.Keys != 0 {
		t.Fatalf("Load of a missing file = %+v, %v; want not found, no error", info, err)
	}
}

// validSnapshot returns the bytes of a snapshot of a few entries.
func validSnapshot(t testing.TB) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "valid")
	// One shard, so the records are in the order set: the last value is known.
	c := newCache(t, cache.Options{MaxEntries: 100, Shards: 1})
	mustSet(t, c, "ключ", "значение", 0)
	mustSet(t, c, "🔑", "😀", time.Now().Add(time.Hour).UnixNano())
	mustSet(t, c, "k", "", 0)
	mustSet(t, c, "last", "0123456789", 0)
	if _, err := Write(path, c); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withChecksum completes body (a header and sections) with its checksum, so
// that the decoder, not the checksum, has to find what is wrong with it.
func withChecksum(body []byte) []byte {
	return binary.LittleEndian.AppendUint32(bytes.Clone(body), crc32.Checksum(body, castagnoli))
}

func header(v uint32) []byte {
	b := []byte(magic)
	b = binary.LittleEndian.AppendUint32(b, v)
	return binary.LittleEndian.AppendUint64(b, uint64(time.Now().UnixNano()))
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// loadBad writes data to a snapshot file, loads it, and checks what must hold
// for any unusable file: a *CorruptError naming the problem, the cache
// untouched, the file moved aside intact. It returns the problem.
func loadBad(t *testing.T, data []byte) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "warmkv.snap")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	c := newCache(t, cache.Options{MaxEntries: 100})
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	info, err := Load(path, c, now)
	var corrupt *CorruptError
	if !errors.As(err, &corrupt) {
		t.Fatalf("Load = %+v, %v; want a *CorruptError", info, err)
	}
	if st := c.Stats(); st.Entries != 0 || st.Inserts != 0 {
		t.Errorf("a bad file changed the cache: %+v", st)
	}
	wantMoved := path + ".corrupt-20300102T030405Z"
	if corrupt.MovedTo != wantMoved {
		t.Errorf("moved to %q, want %q (err %v)", corrupt.MovedTo, wantMoved, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the bad file is still at %s", path)
	}
	if kept, err := os.ReadFile(wantMoved); err != nil || !bytes.Equal(kept, data) {
		t.Errorf("the file moved aside differs from the bad file (%v)", err)
	}
	if !strings.Contains(err.Error(), corrupt.Problem) || !strings.Contains(err.Error(), wantMoved) {
		t.Errorf("error %q does not say the problem and where the file went", err)
	}
	return corrupt.Problem
}

func TestUnusableFilesAreMovedAsideAndNothingIsLoaded(t *testing.T) {
	valid := validSnapshot(t)
	body := valid[:len(valid)-checksumSize]
	oneRecord := func(rec ...byte) []byte { return cat(header(version), []byte{1, 1}, rec) }
	tests := []struct {
		name    string
		data    []byte
		problem string
	}{
		{"empty", nil, "empty file (0 bytes)"},
		{"text", []byte("hello, this is not a snapshot at all"), "not a warmkv snapshot: it starts with 68 65 6c 6c 6f 2c 20 74"},
		{"short text", []byte("hi"), "not a warmkv snapshot: it starts with 68 69"},
		{"magic only", []byte(magic), "truncated: 8 bytes, the smallest snapshot is 25"},
		{"text-mode transfer", bytes.Replace(valid, []byte("\r\n"), []byte("\n"), 1), "not a warmkv snapshot"},
		{"unknown version", withChecksum(cat(header(2), []byte{0})), "unknown format version 2 (this build reads version 1) (at byte 8)"},
		{"version 0", withChecksum(cat(header(0), []byte{0})), "unknown format version 0"},
		{"cut in the last record", valid[:len(valid)-6], "truncated or corrupt"},
		{"checksum missing", body, "truncated or corrupt"},
		{"flipped bit in a value", flipBit(valid, len(valid)-8, 0), "checksum mismatch"},
		{"flipped bit in the checksum", flipBit(valid, len(valid)-1, 7), "checksum mismatch"},
		{"byte appended", cat(valid, []byte{0}), "corrupt: 1 bytes after the last record"},
		{"bytes after the last record", withChecksum(cat(body, []byte{7})), "corrupt: 1 bytes after the last record"},
		{"key longer than the file", withChecksum(oneRecord(0, 100, 'k')), "the key of record 0 in section 0 is 100 bytes but only 1 bytes are left (at byte 23)"},
		{"value longer than the file", withChecksum(oneRecord(0, 1, 'k', 9)), "the value of record 0 in section 0 is 9 bytes but only 0 bytes are left"},
		{"more records than bytes", withChecksum(cat(header(version), []byte{1, 0xff, 0x7f})), "section 0 claims 16383 records but only 0 bytes are left"},
		{"more sections than bytes", withChecksum(cat(header(version), []byte{0x80, 0x01})), "128 sections claimed but only 0 bytes are left"},
		{"padded varint", withChecksum(oneRecord(0x80, 0x00, 1, 'k', 0)), "the expiry of record 0 in section 0: varint is not minimally encoded (at byte 22)"},
		{"varint over 64 bits", withChecksum(oneRecord(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 1, 'k', 0)), "varint overflows 64 bits"},
		{"expiry beyond int64", withChecksum(oneRecord(binary.AppendUvarint(nil, 1<<63)...)), "beyond any time the cache can hold"},
		{"no sections count", withChecksum(header(version)), "truncated: 24 bytes, the smallest snapshot is 25"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if problem := loadBad(t, tc.data); !strings.Contains(problem, tc.problem) {
				t.Errorf("problem = %q, want it to contain %q", problem, tc.problem)
			}
		})
	}
}

func flipBit(b []byte, i int, bit uint) []byte {
	b = bytes.Clone(b)
	b[i] ^= 1 << bit
	return b
}

// Every way to cut a snapshot short, and every single-bit error, must be caught:
// CRC-32C detects all single-bit errors, and the decoder bounds every length by
// what is left of the file.
func TestEveryTruncationAndBitFlipIsCaught(t *testing.T) {
	valid := validSnapshot(t)
	for n := range len(valid) {
		loadBad(t, valid[:n])
	}
	for i := range valid {
		for bit := range uint(8) {
			loadBad(t, flipBit(valid, i, bit))
		}
	}
}

func TestBadFilesNeverReplaceEarlierOnesSetAside(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "warmkv.snap")
	c := newCache(t, cache.Options{MaxEntries: 100})
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	var moved []string
	for i := range 3 {
		content := fmt.Sprintf("garbage %d", i)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path, c, now) // the same second every time
		var corrupt *CorruptError
		if !errors.As(err, &corrupt) {
			t.Fatalf("Load: %v", err)
		}
		moved = append(moved, corrupt.MovedTo)
		if got, _ := os.ReadFile(corrupt.MovedTo); string(got) != content {
			t.Errorf("%s holds %q, want %q", corrupt.MovedTo, got, content)
		}
	}
	base := path + ".corrupt-20300102T030405Z"
	if want := []string{base, base + "-2", base + "-3"}; strings.Join(moved, " ") != strings.Join(want, " ") {
		t.Errorf("moved to %v, want %v", moved, want)
	}
	for i, p := range moved {
		if got, _ := os.ReadFile(p); string(got) != fmt.Sprintf("garbage %d", i) {
			t.Errorf("%s was overwritten: %q", p, got)
		}
	}
}

func TestUnreadableFileIsLeftInPlace(t *testing.T) {
	// A directory where the snapshot should be cannot be read; it is not a bad
	// snapshot, and moving it would hide the mistake.
	path := filepath.Join(t.TempDir(), "warmkv.snap")
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	c := newCache(t, cache.Options{MaxEntries: 100})
	_, err := Load(path, c, time.Now())
	var corrupt *CorruptError
	if err == nil || errors.As(err, &corrupt) {
		t.Fatalf("Load of a directory: %v; want a plain error", err)
	}
	if fi, err := os.Stat(path); err != nil || !fi.IsDir() {
		t.Errorf("the directory was moved: %v", err)
	}
}

func TestLoadRemovesTemporariesOfCrashedWriters(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "warmkv.snap")
	leftover := path + tempInfix + "123456"
	unrelated := filepath.Join(dir, "other.snap"+tempInfix+"1")
	for _, p := range []string{leftover, unrelated} {
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Load(path, newCache(t, cache.Options{MaxEntries: 100}), time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(leftover); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the crashed writer's temporary file is still there: %v", err)
	}
	if _, err := os.Stat(unrelated); err != nil {
		t.Errorf("another snapshot's temporary file was removed: %v", err)
	}
}
