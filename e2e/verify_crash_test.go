package e2e

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestVerifySnapshotCrashLoop kills the server with SIGKILL at random
// moments of its snapshot writes, while 16 clients write and snapshots are
// taken back to back, and restarts it each time. Each restart must load the
// last complete snapshot: every key as it was at some moment of the last
// acknowledged snapshot's write or of a later one that completed before the
// kill (or the previous file, if none of this round's did), never a mixture
// of two files and never a damaged one.
func TestVerifySnapshotCrashLoop(t *testing.T) {
	needVerify(t)
	iterations := sized(5, 100)
	filler := sized(20_000, 100_000)
	dir := t.TempDir()
	path := filepath.Join(dir, "warmkv.snap")
	seq := newSeqKeys(512)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 16))

	s := startServer(t, serverSpec{resp: true, env: snapshotServerEnv(path)})
	preload(t, s.respAddr, "filler:", filler, 60)
	hc := &http.Client{Timeout: time.Minute}
	// The filler is in every file from the first on, so every restart must
	// bring it back.
	if !s.takeSnapshot(hc).ok {
		t.Fatal("the first snapshot failed")
	}
	writeTook := 30 * time.Millisecond // a snapshot write's duration, learnt as the loop goes
	var midWrite, fromPrevious, snapshotsTaken, distinct int
	for it := range iterations {
		targets := s.clients(t, 8, 0)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() { seq.write(targets, stop) })
		var mu sync.Mutex
		var snaps []snapshotWindow
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				w := s.takeSnapshot(hc)
				mu.Lock()
				snaps = append(snaps, w)
				mu.Unlock()
				if !w.ok {
					return
				}
			}
		})
		// Let a random number of this round's snapshots complete, then kill
		// once the next write is under way, at a random moment of it.
		for want := rng.IntN(4); ; time.Sleep(time.Millisecond) {
			mu.Lock()
			n := len(snaps)
			mu.Unlock()
			if n >= want {
				break
			}
		}
		waitForTemp(t, path)
		time.Sleep(time.Duration(rng.Int64N(int64(writeTook))))
		s.kill()
		killedAt := time.Now().UnixNano()
		if temps, _ := filepath.Glob(path + ".tmp-*"); len(temps) > 0 {
			midWrite++
		}
		close(stop)
		wg.Wait()

		s = startServer(t, serverSpec{resp: true, env: snapshotServerEnv(path)})
		log := s.log.String()
		if strings.Contains(log, "unusable") {
			t.Fatalf("iteration %d: the restart found a damaged snapshot after kill -9:\n%s", it, log)
		}
		if temps, _ := filepath.Glob(path + ".tmp-*"); len(temps) > 0 {
			t.Fatalf("iteration %d: the restart left the killed writer's temporary files: %v", it, temps)
		}
		state := seq.read(t, s)

		// The windows the loaded state may come from: the last snapshot
		// acknowledged before the kill and any later one begun before it.
		last := -1
		for j, w := range snaps {
			if w.ok && w.ret < killedAt {
				last = j
				writeTook = max(time.Duration(w.ret-w.call), time.Millisecond)
			}
		}
		snapshotsTaken += last + 1
		matched := false
		for j := max(last, 0); j < len(snaps) && !matched; j++ {
			end := snaps[j].ret
			if !snaps[j].ok || end > killedAt {
				end = killedAt
			}
			_, matched = seq.fits(state, snaps[j].call, end)
		}
		// The check tells snapshots apart: the state fits no window of the
		// acknowledged snapshot before the last one.
		if last >= 1 {
			if _, older := seq.fits(state, snaps[last-1].call, snaps[last-1].ret); !older {
				distinct++
			}
		}
		if last < 0 {
			fromPrevious++ // the previous file is the last complete one unless the one in flight completed
			matched = matched || slices.Equal(state, seq.restored)
		}
		if !matched {
			k, _ := seq.fits(state, snaps[max(last, 0)].call, killedAt)
			t.Fatalf("iteration %d: the restart loaded a state no complete snapshot held (%s = %d; %d snapshots, the last acknowledged #%d)",
				it, seqKey(k), state[k], len(snaps), last)
		}
		if n := s.stats(t).KeyCount; n < int64(filler) {
			t.Fatalf("iteration %d: %d keys came back; the filler alone is %d", it, n, filler)
		}
		seq.newRound(state)
	}
	corrupt, _ := filepath.Glob(path + ".corrupt-*")
	report(t, "%d kill -9 during snapshot writes under 16 writing clients (%d inside a write, by its temporary file; %d snapshots acknowledged); "+
		"every restart loaded the last complete snapshot (in %d rounds none of the round's had been acknowledged; in %d the state would not fit the one before the last); "+
		"damaged loads: 0, files set aside: %d",
		iterations, midWrite, snapshotsTaken, fromPrevious, distinct, len(corrupt))
	if len(corrupt) > 0 {
		t.Fatalf("kill -9 left files that were set aside as damaged: %v", corrupt)
	}
}

// waitForTemp waits until a snapshot of path is being written.
func waitForTemp(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if temps, _ := filepath.Glob(path + ".tmp-*"); len(temps) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no snapshot write began within 30s")
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// TestVerifyDamagedSnapshotsAreSetAside truncates a snapshot file and flips
// bits in it, which kill -9 never does, and starts the server on each: it
// must move the file aside untouched and start empty, never load any of it.
func TestVerifyDamagedSnapshotsAreSetAside(t *testing.T) {
	needVerify(t)
	each := sized(3, 25)
	dir := t.TempDir()
	path := filepath.Join(dir, "warmkv.snap")
	s := startServer(t, serverSpec{resp: true, env: snapshotServerEnv(path)})
	preload(t, s.respAddr, "k:", 2000, 50)
	if code, body := s.do(t, "POST", "/snapshot", ""); code != 200 {
		t.Fatalf("POST /snapshot: %d %s", code, body)
	}
	s.kill()
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 17))
	type damage struct {
		name string
		data []byte
	}
	var damages []damage
	for range each {
		n := rng.IntN(len(good))
		damages = append(damages, damage{fmt.Sprintf("truncated to %d of %d bytes", n, len(good)), good[:n]})
	}
	for range each {
		bad := slices.Clone(good)
		flips := 1 + rng.IntN(3)
		var at []int
		for range flips {
			i := rng.IntN(len(bad) * 8)
			bad[i/8] ^= 1 << (i % 8)
			at = append(at, i)
		}
		damages = append(damages, damage{fmt.Sprintf("bits %v flipped", at), bad})
	}
	for _, d := range damages {
		removeAll(t, path+".corrupt-*")
		if err := os.WriteFile(path, d.data, 0o600); err != nil {
			t.Fatal(err)
		}
		s := startServer(t, serverSpec{resp: true, env: snapshotServerEnv(path)})
		if !strings.Contains(s.log.String(), "snapshot unusable; moved it aside and starting empty") {
			t.Fatalf("%s: the server did not set the file aside:\n%s", d.name, s.log)
		}
		if n := s.stats(t).KeyCount; n != 0 {
			t.Fatalf("%s: %d keys loaded from a damaged file", d.name, n)
		}
		moved, _ := filepath.Glob(path + ".corrupt-*")
		if len(moved) != 1 {
			t.Fatalf("%s: files set aside: %v", d.name, moved)
		}
		if kept, _ := os.ReadFile(moved[0]); !slices.Equal(kept, d.data) {
			t.Fatalf("%s: the file set aside was changed", d.name)
		}
		s.kill()
	}
	report(t, "%d truncated and %d bit-flipped snapshots (of %d bytes): each set aside untouched, the server started empty; damaged loads: 0",
		each, each, len(good))
}
