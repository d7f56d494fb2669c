package snapshot

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warmkv/warmkv/cache"
	"github.com/warmkv/warmkv/internal/testsupport"
)

// fakeWriter stands in for Write: each call reports that it started and then
// waits for the test to let it finish with the next result.
type fakeWriter struct {
	started chan struct{}
	finish  chan Info

	mu        sync.Mutex
	calls     int
	inFlight  int
	maxFlight int
}

func newFakeWriter() *fakeWriter {
	return &fakeWriter{started: make(chan struct{}, 100), finish: make(chan Info)}
}

func (f *fakeWriter) write() (Info, error) {
	f.mu.Lock()
	f.calls++
	f.inFlight++
	f.maxFlight = max(f.maxFlight, f.inFlight)
	f.mu.Unlock()
	f.started <- struct{}{}
	info := <-f.finish
	f.mu.Lock()
	f.inFlight--
	f.mu.Unlock()
	if info.Keys < 0 {
		return info, errors.New("disk full")
	}
	return info, nil
}

func TestSaverWritesOneSnapshotAtATimeAndSharesTheNext(t *testing.T) {
	s := NewSaver("unused", newCache(t, cache.Options{MaxEntries: 100}), nil)
	fake := newFakeWriter()
	s.write = fake.write

	first := make(chan Info, 1)
	go func() { info, _ := s.Save(); first <- info }()
	<-fake.started // the first snapshot is being written
	if !s.InProgress() {
		t.Error("InProgress = false during a snapshot")
	}

	// Three more requests arrive meanwhile: they must not start a write of
	// their own, and must not take the running one's result either (it may miss
	// their writes), but share one snapshot started after it.
	var wg sync.WaitGroup
	later := make(chan Info, 3)
	for range 3 {
		wg.Go(func() { info, _ := s.Save(); later <- info })
	}
	waitFor(t, func() bool { s.mu.Lock(); defer s.mu.Unlock(); return s.pending != nil && s.pending.waiters == 3 })
	fake.finish <- Info{Keys: 1}
	if got := <-first; got.Keys != 1 {
		t.Errorf("first Save = %+v, want the first snapshot", got)
	}
	<-fake.started // the shared second snapshot
	fake.finish <- Info{Keys: 2}
	wg.Wait()
	close(later)
	for got := range later {
		if got.Keys != 2 {
			t.Errorf("a Save during the first snapshot got %+v, want the second", got)
		}
	}
	if fake.calls != 2 || fake.maxFlight != 1 {
		t.Errorf("%d writes, at most %d at once; want 2, one at a time", fake.calls, fake.maxFlight)
	}
	waitFor(t, func() bool { return !s.InProgress() })
}

// waitFor waits until cond holds, which the goroutines under test make true
// soon; the deadline only stops a broken test from hanging.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	testsupport.WaitFor(t, "the condition", 30*time.Second, cond)
}

func TestSaverLastSaveAndErrors(t *testing.T) {
	dir := t.TempDir()
	var log bytes.Buffer
	c := newCache(t, cache.Options{MaxEntries: 100})
	s := NewSaver(filepath.Join(dir, "warmkv.snap"), c, slog.New(slog.NewTextHandler(&log, nil)))
	if !s.LastSave().IsZero() {
		t.Errorf("LastSave before any snapshot = %v, want zero", s.LastSave())
	}
	mustSet(t, c, "a", "1", 0)
	info, err := s.Save()
	if err != nil || info.Keys != 1 {
		t.Fatalf("Save = %+v, %v", info, err)
	}
	if !s.LastSave().Equal(info.TakenAt) {
		t.Errorf("LastSave = %v, want %v", s.LastSave(), info.TakenAt)
	}
	if !strings.Contains(log.String(), "snapshot written") || !strings.Contains(log.String(), "keys=1") {
		t.Errorf("no log line for the snapshot: %s", log.String())
	}

	// A save that fails leaves LastSave alone and says why in the log.
	s.path = filepath.Join(dir, "gone", "warmkv.snap")
	if _, err := s.Save(); err == nil {
		t.Fatal("Save into a missing directory succeeded")
	}
	if !s.LastSave().Equal(info.TakenAt) {
		t.Errorf("a failed save moved LastSave to %v", s.LastSave())
	}
	if !strings.Contains(log.String(), "level=ERROR msg=\"snapshot failed") {
		t.Errorf("no error log line for the failed snapshot: %s", log.String())
	}
}

func TestSaverRestore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "warmkv.snap")
	c := newCache(t, cache.Options{MaxEntries: 100})
	mustSet(t, c, "a", "1", 0)
	wrote, err := Write(path, c)
	if err != nil {
		t.Fatal(err)
	}
	fresh := newCache(t, cache.Options{MaxEntries: 100})
	s := NewSaver(path, fresh, nil)
	info, err := s.Restore(time.Now())
	if err != nil || info.Keys != 1 {
		t.Fatalf("Restore = %+v, %v", info, err)
	}
	if !s.LastSave().Equal(wrote.TakenAt) {
		t.Errorf("LastSave after Restore = %v, want when the snapshot was taken, %v", s.LastSave(), wrote.TakenAt)
	}
}

func TestSaverRunSkipsSnapshotsThatWouldHoldNothingNew(t *testing.T) {
	c := newCache(t, cache.Options{MaxEntries: 100})
	s := NewSaver("unused", c, nil)
	var mu sync.Mutex
	writes := 0
	s.write = func() (Info, error) {
		mu.Lock()
		writes++
		mu.Unlock()
		return Info{}, nil
	}
	writesSoFar := func() int { mu.Lock(); defer mu.Unlock(); return writes }

	ticks := make(chan time.Time)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { s.run(ctx, ticks); close(stopped) }()
	// run handles one tick at a time, so a tick is taken only once the previous
	// one's snapshot has returned.
	tick := func() { ticks <- time.Now() }

	tick() // an empty cache that was never written to: nothing to save
	tick()
	if n := writesSoFar(); n != 0 {
		t.Errorf("%d snapshots of an untouched empty cache, want 0", n)
	}
	mustSet(t, c, "a", "1", 0)
	tick()
	tick() // nothing changed since
	if n := writesSoFar(); n != 1 {
		t.Errorf("%d snapshots after one change, want 1", n)
	}
	_, _ = c.Delete("a")
	tick()
	c.Flush() // changes nothing: the cache is empty already
	tick()
	tick()
	if n := writesSoFar(); n != 2 {
		t.Errorf("%d snapshots after a delete, want 2", n)
	}
	cancel()
	<-stopped
}
