// Package storetest is the behaviour every cache.Store must show, as one test
// suite that each implementation runs against itself: the in-process cache and
// the shared tier answer every operation alike.
package storetest

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/warmkv/warmkv/cache"
)

// Run runs the suite; newStore returns an empty store for each subtest.
func Run(t *testing.T, newStore func(t *testing.T) cache.Store) {
	at := newTimes()
	for _, group := range []struct {
		name string
		test func(t *testing.T, newStore storeMaker, at times)
	}{
		{"GetSetDelete", testGetSetDelete},
		{"Expiry", testExpiry},
		{"ExpireAndPersist", testExpireAndPersist},
		{"ExpireIf", testExpireIf},
		{"SetIf", testSetIf},
		{"GetDelete", testGetDelete},
		{"CompareAndSet", testCompareAndSet},
		{"IncrementBy", testIncrementBy},
		{"Append", testAppend},
		{"Flush", testFlush},
	} {
		t.Run(group.name, func(t *testing.T) { group.test(t, newStore, at) })
	}
}

// storeMaker returns an empty store for a test.
type storeMaker func(t *testing.T) cache.Store

// times are the expiry times the suite uses, in whole milliseconds, the
// shared tier's precision.
type times struct {
	hour, twoHours int64 // from now
	past           int64 // an hour ago
}

func newTimes() times {
	hour := time.Now().Add(time.Hour).Truncate(time.Millisecond).UnixNano()
	return times{hour: hour, twoHours: hour + int64(time.Hour), past: time.Now().Add(-time.Hour).UnixNano()}
}

// testGetSetDelete writes, reads back and deletes, text outside ASCII included.
func testGetSetDelete(t *testing.T, newStore storeMaker, _ times) {
	s := newStore(t)
	if _, ok, err := s.Get("a"); ok || err != nil {
		t.Fatalf("Get of a missing key: found %v, err %v", ok, err)
	}
	for _, kv := range [][2]string{{"a", "1"}, {"a", "2"}, {"empty", ""}, {"ключ 🔑", strings.Repeat("ü", 256)}} {
		MustOK(t, s.Set(kv[0], kv[1], 0))
		WantValue(t, s, kv[0], kv[1])
	}
	found, err := s.Delete("a")
	if !found || err != nil {
		t.Fatalf("Delete of a present key: %v, %v", found, err)
	}
	if found, _ := s.Delete("a"); found {
		t.Fatal("second Delete found the key")
	}
	WantAbsent(t, s, "a")
}

// testExpiry stores expiry times with values: kept, cleared by a plain write, or past.
func testExpiry(t *testing.T, newStore storeMaker, at times) {
	s := newStore(t)
	MustOK(t, s.Set("k", "v", at.hour))
	WantExpiry(t, s, "k", at.hour)
	MustOK(t, s.Set("k", "w", cache.KeepTTL))
	WantValue(t, s, "k", "w")
	WantExpiry(t, s, "k", at.hour)
	MustOK(t, s.Set("k", "x", 0)) // a plain write clears the expiry, as SET does
	WantExpiry(t, s, "k", 0)
	MustOK(t, s.Set("gone", "v", at.past))
	WantAbsent(t, s, "gone")
}

// testExpireAndPersist changes the expiry of a key that exists, without its value.
func testExpireAndPersist(t *testing.T, newStore storeMaker, at times) {
	s := newStore(t)
	if found, err := s.Expire("absent", at.hour); found || err != nil {
		t.Fatalf("Expire of a missing key: %v, %v", found, err)
	}
	MustOK(t, s.Set("k", "v", 0))
	if found, err := s.Expire("k", at.hour); !found || err != nil {
		t.Fatalf("Expire: %v, %v", found, err)
	}
	WantExpiry(t, s, "k", at.hour)
	WantValue(t, s, "k", "v")
	existed, changed, err := s.ExpireIf("k", at.twoHours, cache.ExpireIfNone)
	if !existed || changed || err != nil {
		t.Fatalf("ExpireIf refused by its condition: existed %v changed %v err %v", existed, changed, err)
	}
	WantExpiry(t, s, "k", at.hour)
	existed, changed, err = s.ExpireIf("k", at.twoHours, cache.ExpireIfLater)
	if !existed || !changed || err != nil {
		t.Fatalf("ExpireIf allowed by its condition: existed %v changed %v err %v", existed, changed, err)
	}
	WantExpiry(t, s, "k", at.twoHours)
	if found, _ := s.Expire("k", 0); !found {
		t.Fatal("persist reported a missing key")
	}
	WantExpiry(t, s, "k", 0)
	if found, _ := s.Expire("k", at.past); !found {
		t.Fatal("Expire in the past reported a missing key")
	}
	WantAbsent(t, s, "k")
}

// testExpireIf is EXPIRE with NX, XX, GT and LT, judged as Redis judges them.
func testExpireIf(t *testing.T, newStore storeMaker, at times) {
	earlier := at.hour - int64(30*time.Minute)
	tests := []struct {
		name          string
		current, next int64 // current 0: no expiry; -1: no key
		cond          cache.ExpireCondition
		changed       bool
	}{
		{"absent key", -1, at.hour, cache.ExpireAlways, false},
		{"always", at.hour, earlier, cache.ExpireAlways, true},
		{"NX without expiry", 0, at.hour, cache.ExpireIfNone, true},
		{"NX with expiry", at.hour, at.twoHours, cache.ExpireIfNone, false},
		{"XX without expiry", 0, at.hour, cache.ExpireIfSet, false},
		{"XX with expiry", at.hour, at.twoHours, cache.ExpireIfSet, true},
		{"GT later", at.hour, at.twoHours, cache.ExpireIfLater, true},
		{"GT same", at.hour, at.hour, cache.ExpireIfLater, false},
		{"GT earlier", at.hour, earlier, cache.ExpireIfLater, false},
		{"GT without expiry, which is infinite", 0, at.twoHours, cache.ExpireIfLater, false},
		{"LT earlier", at.hour, earlier, cache.ExpireIfEarlier, true},
		{"LT same", at.hour, at.hour, cache.ExpireIfEarlier, false},
		{"LT later", at.hour, at.twoHours, cache.ExpireIfEarlier, false},
		{"LT without expiry, which is infinite", 0, at.hour, cache.ExpireIfEarlier, true},
		{"XX GT", at.hour, at.twoHours, cache.ExpireIfSet | cache.ExpireIfLater, true},
		{"XX LT without expiry", 0, at.hour, cache.ExpireIfSet | cache.ExpireIfEarlier, false},
		{"XX LT with expiry", at.hour, earlier, cache.ExpireIfSet | cache.ExpireIfEarlier, true},
		{"LT to the past deletes", at.hour, at.past, cache.ExpireIfEarlier, true},
		{"GT to the past is refused", at.hour, at.past, cache.ExpireIfLater, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			if tt.current >= 0 {
				MustOK(t, s.Set("k", "v", tt.current))
			}
			existed, changed, err := s.ExpireIf("k", tt.next, tt.cond)
			if err != nil || existed != (tt.current >= 0) || changed != tt.changed {
				t.Fatalf("ExpireIf: existed %v changed %v err %v; want %v %v", existed, changed, err, tt.current >= 0, tt.changed)
			}
			switch {
			case tt.current < 0 || (tt.changed && tt.next == at.past):
				WantAbsent(t, s, "k")
			case tt.changed:
				WantExpiry(t, s, "k", tt.next)
			default:
				WantExpiry(t, s, "k", tt.current)
			}
		})
	}
}

// testSetIf is SET with NX and XX, returning the old value.
func testSetIf(t *testing.T, newStore storeMaker, _ times) {
	s := newStore(t)
	tests := []struct {
		name            string
		cond            cache.Condition
		value           string
		old             string
		existed, stored bool
		after           string
	}{
		{"present-only on absent", cache.IfPresent, "x", "", false, false, ""},
		{"absent-only on absent", cache.IfAbsent, "1", "", false, true, "1"},
		{"absent-only on present", cache.IfAbsent, "2", "1", true, false, "1"},
		{"present-only on present", cache.IfPresent, "3", "1", true, true, "3"},
		{"always", cache.Always, "4", "3", true, true, "4"},
	}
	for _, tt := range tests {
		old, existed, stored, err := s.SetIf("k", tt.value, 0, tt.cond)
		if err != nil || old != tt.old || existed != tt.existed || stored != tt.stored {
			t.Fatalf("%s: old %q existed %v stored %v err %v; want %q %v %v", tt.name, old, existed, stored, err, tt.old, tt.existed, tt.stored)
		}
		if tt.after == "" {
			WantAbsent(t, s, "k")
		} else {
			WantValue(t, s, "k", tt.after)
		}
	}
}

// testGetDelete removes a key and returns its value.
func testGetDelete(t *testing.T, newStore storeMaker, _ times) {
	s := newStore(t)
	MustOK(t, s.Set("k", "v", 0))
	if v, ok, err := s.GetDelete("k"); v != "v" || !ok || err != nil {
		t.Fatalf("GetDelete = %q, %v, %v", v, ok, err)
	}
	if _, ok, _ := s.GetDelete("k"); ok {
		t.Fatal("second GetDelete found the key")
	}
	WantAbsent(t, s, "k")
}

// testCompareAndSet stores when the key is absent or holds the expected value.
func testCompareAndSet(t *testing.T, newStore storeMaker, at times) {
	s := newStore(t)
	steps := []struct {
		compare, value string
		swapped        bool
		after          string
	}{
		{"anything", "1", true, "1"}, // absent: stored
		{"2", "3", false, "1"},
		{"1", "3", true, "3"},
	}
	for _, st := range steps {
		swapped, err := s.CompareAndSet("k", st.compare, st.value, cache.KeepTTL)
		if err != nil || swapped != st.swapped {
			t.Fatalf("CompareAndSet(%q, %q) = %v, %v", st.compare, st.value, swapped, err)
		}
		WantValue(t, s, "k", st.after)
	}
	if _, err := s.CompareAndSet("k", "3", "4", at.hour); err != nil {
		t.Fatal(err)
	}
	WantExpiry(t, s, "k", at.hour)
}

// testIncrementBy adds to an integer value, refusing overflow and non-integers.
func testIncrementBy(t *testing.T, newStore storeMaker, at times) {
	s := newStore(t)
	for _, st := range []struct {
		delta, want int64
	}{{5, 5}, {-7, -2}, {1 << 62, 1<<62 - 2}} {
		n, err := s.IncrementBy("n", st.delta, cache.KeepTTL)
		if err != nil || n != st.want {
			t.Fatalf("IncrementBy(%d) = %d, %v; want %d", st.delta, n, err, st.want)
		}
	}
	if _, err := s.IncrementBy("n", math.MaxInt64, cache.KeepTTL); !errors.Is(err, cache.ErrOverflow) {
		t.Fatalf("overflow: err %v", err)
	}
	WantValue(t, s, "n", "4611686018427387902") // unchanged
	MustOK(t, s.Set("text", "abc", 0))
	if _, err := s.IncrementBy("text", 1, cache.KeepTTL); !errors.Is(err, cache.ErrNotInteger) {
		t.Fatalf("not an integer: err %v", err)
	}
	if _, err := s.IncrementBy("n", 1, at.hour); err != nil {
		t.Fatal(err)
	}
	WantExpiry(t, s, "n", at.hour)
	if _, err := s.IncrementBy("n", 1, cache.KeepTTL); err != nil {
		t.Fatal(err)
	}
	WantExpiry(t, s, "n", at.hour)
}

// testAppend appends and prepends within a limit of code points.
func testAppend(t *testing.T, newStore storeMaker, _ times) {
	s := newStore(t)
	steps := []struct {
		fragment string
		prepend  bool
		want     string
		err      error
	}{
		{"bc", false, "bc", nil}, // absent: the fragment alone
		{"a", true, "abc", nil},
		{"ää", false, "abcää", nil}, // 5 code points, 7 bytes: within 5
		{"d", false, "abcää", cache.ErrValueTooLong},
	}
	for _, st := range steps {
		v, err := s.Append("k", st.fragment, st.prepend, 5, cache.KeepTTL)
		if !errors.Is(err, st.err) || (err == nil && v != st.want) {
			t.Fatalf("Append(%q, prepend %v) = %q, %v; want %q, %v", st.fragment, st.prepend, v, err, st.want, st.err)
		}
		WantValue(t, s, "k", st.want)
	}
}

// testFlush removes every key, glob characters in names included.
func testFlush(t *testing.T, newStore storeMaker, _ times) {
	s := newStore(t)
	for _, k := range []string{"a", "b", "c*", "[d]"} {
		MustOK(t, s.Set(k, "v", 0))
	}
	MustOK(t, s.Flush())
	for _, k := range []string{"a", "b", "c*", "[d]"} {
		WantAbsent(t, s, k)
	}
}

// MustOK fails the test on an error.
func MustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// WantValue fails the test unless Get(key) finds want without an error.
func WantValue(t *testing.T, s cache.Store, key, want string) {
	t.Helper()
	WantValueErr(t, s, key, want, nil)
}

// WantValueErr fails the test unless Get(key) finds want with wantErr beside it.
func WantValueErr(t *testing.T, s cache.Store, key, want string, wantErr error) {
	t.Helper()
	if v, ok, err := s.Get(key); !ok || v != want || !errors.Is(err, wantErr) {
		t.Fatalf("Get(%q) = %q, %v, %v; want %q, %v", key, v, ok, err, want, wantErr)
	}
}

// WantAbsent fails the test unless Get(key) finds nothing, without an error.
func WantAbsent(t *testing.T, s cache.Store, key string) {
	t.Helper()
	if v, ok, err := s.Get(key); ok || err != nil {
		t.Fatalf("Get(%q) = %q, %v, %v; want absent", key, v, ok, err)
	}
}

// WantExpiry fails the test unless Lookup(key) finds the key expiring at want.
func WantExpiry(t *testing.T, s cache.Store, key string, want int64) {
	t.Helper()
	if _, exp, ok, err := s.Lookup(key); !ok || exp != want || err != nil {
		t.Fatalf("Lookup(%q): expiry %d, found %v, err %v; want %d", key, exp, ok, err, want)
	}
}
