package kvcheck

import (
	"sort"
	"time"
)

// Bound is the guarantee of instances that share a tier (package tier),
// which is weaker than linearizability for reads only:
//
//   - Every write is linearizable: it takes effect once, atomically, at a
//     moment between its call and its answer (or, if the answer leaves it
//     open, at any moment after its call, or never).
//   - A read returns the key as it was at some moment no earlier than
//     Staleness before the read began (a local copy is trusted for
//     LOCAL_TTL after it was fetched), and no earlier than the answer to the
//     last write the same instance acknowledged on that key (an instance
//     reads its own writes).
//   - Reads the guarantee does not cover (Exempt: the tier was unavailable,
//     and the door could not say so) still return the key as it was at some
//     moment, no earlier than the instance's own last write.
//
// Widen expresses that as a history Check can check: each read may take
// effect anywhere from the earliest moment it may reflect to its answer.
type Bound struct {
	Staleness time.Duration
	// Exempt reports the reads the staleness bound does not cover.
	Exempt func(op Op) bool
}

// Widen returns the history with each read's Call moved back to the
// earliest moment it may reflect. Input.Call and Input.Return, from which
// expiry is judged, stay the real window.
func (b Bound) Widen(history []Op) []Op {
	type instanceKey struct {
		instance int
		key      string
	}
	// The acknowledged writes of each instance and key, by answer time.
	writes := map[instanceKey][]int64{}
	earliest := Infinity
	for _, op := range history {
		earliest = min(earliest, op.Call)
		if ownWrite(op) {
			k := instanceKey{op.Instance, op.In.Key}
			writes[k] = append(writes[k], op.Return)
		}
	}
	for _, w := range writes {
		sort.Slice(w, func(i, j int) bool { return w[i] < w[j] })
	}
	out := make([]Op, len(history))
	copy(out, history)
	for i := range out {
		op := &out[i]
		if !op.In.Kind.Reads() || op.In.Kind == Restore {
			continue
		}
		from := op.Call - int64(b.Staleness)
		if op.Out.Stale || (b.Exempt != nil && b.Exempt(*op)) {
			from = earliest
		}
		// After the instance's last acknowledged write that answered before
		// this read began: strictly after, since porcupine's windows are
		// closed intervals.
		w := writes[instanceKey{op.Instance, op.In.Key}]
		if j := sort.Search(len(w), func(j int) bool { return w[j] >= op.Call }); j > 0 {
			from = max(from, w[j-1]+1)
		}
		op.Call = min(max(from, earliest), op.Call)
	}
	return out
}

// ownWrite reports whether an op leaves its instance's local copy of the key
// no older than its answer: an acknowledged write that reached the shared
// store and updated or dropped the local copy with what the store answered.
// A refused increment or append, and an expiry change that changed nothing,
// leave the local copy as it was.
func ownWrite(op Op) bool {
	return op.In.Kind.writes() && op.Out.Status == OK && (op.In.Kind != Expire || op.Out.Flag)
}

// StaleRead is a read certainly older than the bound allows.
type StaleRead struct {
	Op Op
	// By is how long before the read began its value had certainly been
	// replaced.
	By time.Duration
}

// CertainlyStale finds the reads in history that returned a value certainly
// replaced more than bound before they began. It recognises only values one
// acknowledged write produced (see InjectStaleRead), and a replacement only
// when an acknowledged write that changed the key began after that write
// answered: a lower bound on the reads beyond the bound, which Check finds
// exactly but does not count.
func CertainlyStale(history []Op, bound time.Duration) []StaleRead {
	type producer struct {
		op    Op
		count int
	}
	byKey := map[string][]Op{}
	producers := map[string]*producer{} // key + "\x00" + value
	for _, op := range history {
		byKey[op.In.Key] = append(byKey[op.In.Key], op)
		if v, ok := produced(op); ok && producedOnce(v) {
			id := op.In.Key + "\x00" + v
			if p := producers[id]; p != nil {
				p.count++
			} else {
				producers[id] = &producer{op: op, count: 1}
			}
		}
	}
	var stale []StaleRead
	for _, op := range history {
		if op.In.Kind != Get || op.Out.Status != OK || !op.Out.Found {
			continue
		}
		p := producers[op.In.Key+"\x00"+op.Out.Value]
		if p == nil || p.count != 1 || p.op.Out.Status != OK {
			continue
		}
		// The earliest answer of a change that certainly came after the
		// producer.
		replaced := Infinity
		for _, w := range byKey[op.In.Key] {
			if w.Call > p.op.Return && changed(w) {
				replaced = min(replaced, w.Return)
			}
		}
		if by := op.Call - int64(bound) - replaced; replaced != Infinity && by > 0 {
			stale = append(stale, StaleRead{Op: op, By: time.Duration(op.Call - replaced)})
		}
	}
	return stale
}

// produced is the value an acknowledged or unknown write leaves, if it
// certainly leaves one.
func produced(op Op) (string, bool) {
	switch op.In.Kind {
	case Set:
		if op.In.Cond == Always {
			return op.In.Value, true
		}
	case CompareAndSet:
		if op.Out.Status == Unknown || op.Out.Flag {
			return op.In.Value, true
		}
	case Append:
		if op.Out.Status == OK && !op.In.Length {
			return op.Out.Value, true
		}
	}
	return "", false
}

// changed reports whether an acknowledged write certainly changed the key's
// value (to one produced once, or away from any).
func changed(op Op) bool {
	if op.Out.Status != OK {
		return false
	}
	switch op.In.Kind {
	case Set:
		return op.In.Cond == Always || op.In.Stored && op.Out.Flag
	case Delete:
		return op.Out.Flag
	case GetDelete:
		return op.Out.Found
	case Append:
		return op.In.Value != ""
	case Increment:
		return op.In.Delta != 0
	case CompareAndSet:
		return op.Out.Flag
	}
	return false
}
