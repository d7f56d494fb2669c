package snapshot

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/warmkv/warmkv/cache"
)

// Saver owns one snapshot file of a running server: it restores the cache from
// it at start, writes it on a schedule and on demand, and remembers the last
// success. Only one snapshot is written at a time. It is safe for concurrent use.
type Saver struct {
	path   string
	cache  *cache.Cache
	logger *slog.Logger
	write  func() (Info, error) // Write(path, cache); tests substitute it

	mu       sync.Mutex
	running  bool    // a goroutine is writing snapshots
	pending  *flight // the snapshot to write after the running one; everyone who asks meanwhile shares it
	lastSave time.Time
	saved    changes // the cache's write counters when the last snapshot started
}

// flight is one snapshot write, shared by every caller waiting for it.
type flight struct {
	done    chan struct{}
	waiters int // callers sharing it, counted under Saver.mu
	info    Info
	err     error
}

// changes are the counters that move whenever the cache's contents change. If
// they have not moved, the file on disk already holds what the cache holds.
// The zero value stands for an empty cache that was never written to, which
// needs no snapshot either.
type changes struct {
	entries                                           int64
	inserts, updates, deletes, evictions, expirations uint64
}

func changesOf(c *cache.Cache) changes {
	st := c.Stats()
	return changes{
		entries: st.Entries, inserts: st.Inserts, updates: st.Updates, deletes: st.Deletes,
		evictions: st.Evictions, expirations: st.Expirations,
	}
}

// NewSaver returns a Saver for the snapshot at path of c. A nil logger logs nothing.
func NewSaver(path string, c *cache.Cache, logger *slog.Logger) *Saver {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Saver{path: path, cache: c, logger: logger}
	s.write = func() (Info, error) { return Write(s.path, s.cache) }
	return s
}

// Path is the snapshot file.
func (s *Saver) Path() string { return s.path }

// Restore loads the snapshot into the cache, as Load does. A restored snapshot
// counts as the last save, and until the cache changes the schedule does not
// write it again.
func (s *Saver) Restore(now time.Time) (Info, error) {
	info, err := Load(s.path, s.cache, now)
	if err == nil && info.Found {
		s.mu.Lock()
		s.lastSave = info.TakenAt
		s.saved = changesOf(s.cache)
		s.mu.Unlock()
	}
	return info, err
}

// Save writes a snapshot now and returns when it is on disk. If one is being
// written already, Save waits for it to finish and then writes another, so the
// result always holds every write that completed before Save was called; callers
// that arrive during the same snapshot share the next one rather than queueing
// one each. It is what POST /snapshot and Redis's SAVE call; BGSAVE calls it in
// a goroutine.
func (s *Saver) Save() (Info, error) {
	s.mu.Lock()
	if s.pending == nil {
		s.pending = &flight{done: make(chan struct{})}
	}
	f := s.pending
	f.waiters++
	if !s.running {
		s.running = true
		go s.drain()
	}
	s.mu.Unlock()
	<-f.done
	return f.info, f.err
}

// drain writes pending snapshots one after another until none is left.
func (s *Saver) drain() {
	for {
		s.mu.Lock()
		f := s.pending
		s.pending = nil
		if f == nil {
			s.running = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()

		// Counted before the copy starts: a write during the copy may or may not
		// be in the file, so it must make the next scheduled snapshot run.
		before := changesOf(s.cache)
		f.info, f.err = s.write()
		if f.err != nil {
			s.logger.Error("snapshot failed; the previous one is intact", "path", s.path, "err", f.err)
		} else {
			s.mu.Lock()
			s.lastSave = f.info.TakenAt
			s.saved = before
			s.mu.Unlock()
			s.logger.Info("snapshot written", "path", s.path, "keys", f.info.Keys, "bytes", f.info.Bytes,
				"duration", f.info.Duration)
		}
		close(f.done)
	}
}

// LastSave is when the last successful snapshot (written or restored) was
// taken, as Redis's LASTSAVE reports; zero if there is none.
func (s *Saver) LastSave() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastSave
}

// InProgress reports whether a snapshot is being written, for Redis's BGSAVE,
// which refuses to start a second one.
func (s *Saver) InProgress() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running
}

// Run writes a snapshot every interval until ctx is done, skipping the ones
// that would hold nothing new. It does not write a last one when ctx ends: the
// server calls Save once it has stopped taking writes.
func (s *Saver) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	s.run(ctx, t.C)
}

func (s *Saver) run(ctx context.Context, ticks <-chan time.Time) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticks:
			now := changesOf(s.cache)
			s.mu.Lock()
			unchanged := s.saved == now
			s.mu.Unlock()
			if !unchanged {
				_, _ = s.Save() // Save logs the outcome
			}
		}
	}
}
