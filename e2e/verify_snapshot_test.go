package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/warmkv/warmkv/internal/kvcheck"
	"github.com/warmkv/warmkv/internal/testsupport"
)

// Snapshots are written shard by shard (snapshot.Write, cache.Dump), not as
// one point-in-time cut: each key restores to the value it held at some
// moment while the snapshot was being written, or is absent if it was
// absent at some such moment (or its expiry passed before the restart).

// snapshotServerEnv runs a server on a snapshot file with no scheduled
// snapshots, so that only the test's take place.
func snapshotServerEnv(path string) []string {
	return []string{"SNAPSHOT_PATH=" + path, "SNAPSHOT_INTERVAL=1h", "MAX_MEMORY=512MiB", "MAX_VALUE_LENGTH=64", "RESP_MAX_VALUE_BYTES=64"}
}

// preload writes n keys of size-byte values under prefix with pipelined
// MSETs, so that a snapshot has enough to write to take a while.
func preload(t *testing.T, addr, prefix string, n, size int) {
	t.Helper()
	conn := testsupport.Dial(t, addr)
	_ = conn.SetDeadline(time.Now().Add(time.Minute))
	wr, rd := bufio.NewWriter(conn), bufio.NewReader(conn)
	value := strings.Repeat("f", size)
	const batch = 500
	sent := 0
	for i := 0; i < n; i += batch {
		m := min(batch, n-i)
		fmt.Fprintf(wr, "*%d\r\n$4\r\nMSET\r\n", 1+2*m)
		for j := i; j < i+m; j++ {
			k := fmt.Sprintf("%s%d", prefix, j)
			fmt.Fprintf(wr, "$%d\r\n%s\r\n$%d\r\n%s\r\n", len(k), k, len(value), value)
		}
		sent++
	}
	if err := wr.Flush(); err != nil {
		t.Fatal(err)
	}
	for range sent {
		if line, err := rd.ReadString('\n'); err != nil || line != "+OK\r\n" {
			t.Fatalf("MSET: %q %v", line, err)
		}
	}
}

// snapshotWindow is one POST /snapshot: when it was sent and answered.
type snapshotWindow struct {
	call, ret int64 // Unix ns; ret is 0 if no answer came
	ok        bool
}

// takeSnapshot asks the server for a snapshot and records its window.
func (s *server) takeSnapshot(hc *http.Client) snapshotWindow {
	w := snapshotWindow{call: time.Now().UnixNano()}
	resp, err := hc.Post(s.base+"/snapshot", "", nil)
	if err != nil {
		return w
	}
	_ = resp.Body.Close()
	w.ret = time.Now().UnixNano()
	w.ok = resp.StatusCode == 200
	return w
}

// TestVerifySnapshotRestoresAMomentOfTheWrite takes a snapshot while 16
// clients write, kills the server at once (so that the restart loads exactly
// that snapshot), restarts it and reads every key back: each must be a value
// the key held at some moment of the snapshot's window, with the expiry it
// had then. The model checks that as a read placed in the window.
func TestVerifySnapshotRestoresAMomentOfTheWrite(t *testing.T) {
	needVerify(t)
	path := filepath.Join(t.TempDir(), "warmkv.snap")
	rounds := sized(2, 10)
	s := startServer(t, serverSpec{resp: true, env: snapshotServerEnv(path)})
	preload(t, s.respAddr, "filler:", sized(20_000, 100_000), 60)
	hc := &http.Client{Timeout: time.Minute}
	var checked, restored int
	for round := range rounds {
		w := &kvcheck.Workload{Prefix: fmt.Sprintf("snap%d:", round), MaxRunes: 64}
		ctx, cancel := context.WithCancel(context.Background())
		var history []kvcheck.Op
		var loadErr error
		done := make(chan struct{})
		targets := s.clients(t, 8, 0)
		go func() {
			defer close(done)
			history, loadErr = kvcheck.RunLoad(ctx, targets, kvcheck.LoadOptions{Workload: w, Seed: uint64(round)})
		}()
		time.Sleep(300 * time.Millisecond)
		snap := s.takeSnapshot(hc)
		s.kill()
		cancel()
		<-done
		if loadErr != nil {
			t.Fatal(loadErr)
		}
		if !snap.ok {
			t.Fatalf("round %d: POST /snapshot failed", round)
		}

		launched := time.Now().UnixNano()
		s = startServer(t, serverSpec{resp: true, env: snapshotServerEnv(path)})
		ready := time.Now().UnixNano()
		if !strings.Contains(s.log.String(), "snapshot restored") {
			t.Fatalf("round %d: the restart did not restore the snapshot:\n%s", round, s.log)
		}
		reader := kvcheck.NewRESPClient(s.respAddr, verifyTimeout)
		for _, key := range w.Keys() {
			got, err := reader.Do(kvcheck.Input{Kind: kvcheck.Get, Key: key})
			if err != nil {
				t.Fatal(err)
			}
			ttlCall := time.Now().UnixNano()
			pttl, err := reader.Do(kvcheck.Input{Kind: kvcheck.TTL, Key: key})
			if err != nil {
				t.Fatal(err)
			}
			got.Int, got.TTLCall, got.TTLReturn = pttl.Int, ttlCall, time.Now().UnixNano()
			in := kvcheck.Input{Kind: kvcheck.Restore, Key: key, Call: snap.call, Return: snap.ret, LoadFrom: launched, LoadTo: ready}
			history = append(history, kvcheck.Op{Client: -1, In: in, Out: got, Call: snap.call, Return: snap.ret})
			if got.Found {
				restored++
			}
		}
		reader.Close()
		res := kvcheck.Check(history, checkOptions())
		if err := res.Err(); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		checked += res.Ops
		if n := s.stats(t).KeyCount; n < int64(sized(20_000, 100_000)) {
			t.Fatalf("round %d: only %d keys came back; the filler alone is more", round, n)
		}
	}
	report(t, "%d snapshots taken under 16 writing clients and restored: %d ops and %d restored keys checked, violations: 0",
		rounds, checked, restored)
}

// TestVerifySIGTERMKeepsEveryAcknowledgedWrite sends SIGTERM in the middle of
// a burst of writes: the server drains both doors, then writes its last
// snapshot, which must hold every write it acknowledged.
func TestVerifySIGTERMKeepsEveryAcknowledgedWrite(t *testing.T) {
	needVerify(t)
	path := filepath.Join(t.TempDir(), "warmkv.snap")
	rounds := sized(2, 10)
	seq := newSeqKeys(256)
	s := startServer(t, serverSpec{resp: true, env: snapshotServerEnv(path)})
	state := seq.read(t, s)
	var acked, lost int
	for round := range rounds {
		seq.newRound(state)
		targets := s.clients(t, 8, 0)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() { seq.write(targets, stop) })
		time.Sleep(300 * time.Millisecond)
		s.signal(t, syscall.SIGTERM)
		if err := s.waitExit(t, 30*time.Second); err != nil {
			t.Fatalf("round %d: exit after SIGTERM: %v\n%s", round, err, s.log)
		}
		close(stop)
		wg.Wait()

		s = startServer(t, serverSpec{resp: true, env: snapshotServerEnv(path)})
		state = seq.read(t, s)
		acked += seq.acked()
		lost += seq.lostAcknowledged(state)
		if lost > 0 {
			t.Fatalf("round %d: %d acknowledged writes are not in the final snapshot", round, lost)
		}
		if k, ok := seq.fits(state, kvcheck.Infinity, kvcheck.Infinity); !ok {
			t.Fatalf("round %d: %s came back as %d, which was never written", round, seqKey(k), state[k])
		}
	}
	report(t, "%d SIGTERMs during bursts of 16 writing clients: %d acknowledged writes, %d lost", rounds, acked, lost)
}

// removeAll removes files matching pattern.
func removeAll(t *testing.T, pattern string) {
	t.Helper()
	names, _ := filepath.Glob(pattern)
	for _, n := range names {
		_ = os.Remove(n)
	}
}
