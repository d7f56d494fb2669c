package e2e

import (
	"strconv"
	"sync"
	"testing"

	"github.com/warmkv/warmkv/internal/kvcheck"
)

// seqKeys are keys that only ever get larger numbers: one writer owns each
// key and sets it to the next number, so that what a key held during any
// window is bounded by the writes acknowledged before the window opened and
// those sent before it closed. A restart's state is then checked cheaply,
// every key at once, against a snapshot's window.
type seqKeys struct {
	mu       sync.Mutex
	next     []int64      // the next number to write, per key
	restored []int64      // what each key held when the round began (0: absent)
	writes   [][]seqWrite // this round's writes, per key
}

type seqWrite struct {
	n         int64
	call, ret int64 // Unix ns; ret is Infinity if unanswered
	acked     bool
}

func newSeqKeys(n int) *seqKeys {
	q := &seqKeys{next: make([]int64, n), restored: make([]int64, n), writes: make([][]seqWrite, n)}
	for k := range q.next {
		q.next[k] = 1
	}
	return q
}

func seqKey(k int) string { return "seq:" + strconv.Itoa(k) }

// newRound starts a round from the state a restart brought back.
func (q *seqKeys) newRound(state []int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	copy(q.restored, state)
	for k := range q.writes {
		q.writes[k] = nil
		q.next[k] = max(q.next[k], state[k]+1)
	}
}

// write runs one writer per target, each owning every len(targets)-th key,
// until stop is closed; a write whose answer never comes leaves its key
// unwritten for the rest of the round (the number may still land).
func (q *seqKeys) write(targets []kvcheck.Target, stop <-chan struct{}) {
	var wg sync.WaitGroup
	for i, tg := range targets {
		wg.Go(func() {
			for k := i; ; k += len(targets) {
				if k >= len(q.next) {
					k = i
				}
				select {
				case <-stop:
					return
				default:
				}
				q.mu.Lock()
				n := q.next[k]
				q.next[k]++
				q.mu.Unlock()
				op, err := kvcheck.Do(tg.Client, i, tg.Instance, kvcheck.Input{Kind: kvcheck.Set, Key: seqKey(k), Value: strconv.FormatInt(n, 10)})
				w := seqWrite{n: n, call: op.Call, ret: op.Return, acked: err == nil && op.Out.Status == kvcheck.OK}
				if err != nil {
					w.ret = kvcheck.Infinity
				}
				q.mu.Lock()
				q.writes[k] = append(q.writes[k], w)
				q.mu.Unlock()
				if !w.acked {
					return // the server is gone
				}
			}
		})
	}
	wg.Wait()
}

// bounds are the least and greatest numbers key k may have held at some
// moment of [from, to].
func (q *seqKeys) bounds(k int, from, to int64) (lo, hi int64) {
	lo, hi = q.restored[k], q.restored[k]
	for _, w := range q.writes[k] {
		if w.acked && w.ret < from {
			lo = max(lo, w.n)
		}
		if w.call <= to {
			hi = max(hi, w.n)
		}
	}
	return lo, hi
}

// fits reports whether state is what every key held at some moment of
// [from, to], and if not, the first key that says otherwise.
func (q *seqKeys) fits(state []int64, from, to int64) (bad int, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for k, v := range state {
		if lo, hi := q.bounds(k, from, to); v < lo || v > hi {
			return k, false
		}
	}
	return -1, true
}

// acked counts this round's acknowledged writes.
func (q *seqKeys) acked() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, ws := range q.writes {
		for _, w := range ws {
			if w.acked {
				n++
			}
		}
	}
	return n
}

// lostAcknowledged counts the acknowledged writes of this round that state
// does not hold: numbers above what the key came back with.
func (q *seqKeys) lostAcknowledged(state []int64) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	lost := 0
	for k, ws := range q.writes {
		for _, w := range ws {
			if w.acked && w.n > state[k] {
				lost++
			}
		}
	}
	return lost
}

// read reads every key from the server (0: absent).
func (q *seqKeys) read(t *testing.T, s *server) []int64 {
	t.Helper()
	c := kvcheck.NewRESPClient(s.respAddr, verifyTimeout)
	defer c.Close()
	state := make([]int64, len(q.next))
	for k := range state {
		out, err := c.Do(kvcheck.Input{Kind: kvcheck.Get, Key: seqKey(k)})
		if err != nil || out.Status != kvcheck.OK {
			t.Fatalf("reading %s: %v %v", seqKey(k), out.Status, err)
		}
		if out.Found {
			n, err := strconv.ParseInt(out.Value, 10, 64)
			if err != nil {
				t.Fatalf("%s = %q", seqKey(k), out.Value)
			}
			state[k] = n
		}
	}
	return state
}
