package kvcheck

import (
	"errors"
	"fmt"
	"sort"
	"strings"
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
//     LOCAL_TTL after it was fetched), and no earlier than the last write
//     its instance acknowledged on that key before the read began (an
//     instance reads its own writes).
//   - Reads the staleness bound does not cover (answered from an old local
//     copy while the tier was down: marked stale, or Exempt because the door
//     cannot mark them) return a value the key held at some moment before
//     they answered, no older than their instance's own last write.
//
// Split expresses that as a history Check can check, and the reads it leaves
// out for Unexplained and OwnWritesMissed.
type Bound struct {
	Staleness time.Duration
	// Exempt reports the reads the staleness bound does not cover.
	Exempt func(op Op) bool
}

// Split returns the history with each read's Call moved back to the earliest
// moment it may reflect, for Check, and apart from it the reads the bound
// does not cover, which constrain no order of the writes. Input.Call and
// Input.Return, from which expiry is judged, stay the real window.
//
// "Its own last write" is placed at that write's call, not its answer: the
// instance keeps what the tier answered to its write as its local copy, and
// later writes by others may have taken effect before that answer arrived,
// so a read after the answer may return exactly the own write's result. The
// check that it is never older than that is OwnWritesMissed.
func (b Bound) Split(history []Op) (bounded, loose []Op) {
	own := ownWriteCalls(history)
	for _, op := range history {
		if !op.In.Kind.Reads() || op.In.Kind == Restore {
			bounded = append(bounded, op)
			continue
		}
		if op.Out.Status == Unknown {
			continue // a read that never answered constrains nothing
		}
		if op.Out.Stale || (b.Exempt != nil && b.Exempt(op)) {
			loose = append(loose, op)
			continue
		}
		from := op.Call - int64(b.Staleness)
		w := own[instanceKey{op.Instance, op.In.Key}]
		if j := sort.Search(len(w), func(j int) bool { return w[j].ret >= op.Call }); j > 0 {
			from = max(from, w[j-1].latestCall)
		}
		op.Call = min(from, op.Call)
		bounded = append(bounded, op)
	}
	return bounded, loose
}

// Widen is Split's history for Check alone.
func (b Bound) Widen(history []Op) []Op {
	bounded, _ := b.Split(history)
	return bounded
}

type instanceKey struct {
	instance int
	key      string
}

// ownWrite is one acknowledged write of an instance, by answer time, with
// the latest call among the instance's writes answered by then.
type ownWriteAt struct {
	ret, latestCall int64
}

func ownWriteCalls(history []Op) map[instanceKey][]ownWriteAt {
	own := map[instanceKey][]ownWriteAt{}
	for _, op := range history {
		if ownWrite(op) {
			k := instanceKey{op.Instance, op.In.Key}
			own[k] = append(own[k], ownWriteAt{ret: op.Return, latestCall: op.Call})
		}
	}
	for _, w := range own {
		sort.Slice(w, func(i, j int) bool { return w[i].ret < w[j].ret })
		for i := 1; i < len(w); i++ {
			w[i].latestCall = max(w[i].latestCall, w[i-1].latestCall)
		}
	}
	return own
}

// ownWrite reports whether an op leaves its instance's local copy of the key
// no older than itself: an acknowledged write that reached the shared store
// and updated or dropped the local copy with what the store answered. A
// refused increment or append, and an expiry change that changed nothing,
// leave the local copy as it was.
func ownWrite(op Op) bool {
	return op.In.Kind.writes() && op.Out.Status == OK && (op.In.Kind != Expire || op.Out.Flag)
}

// Unexplained returns the reads among reads whose value no write in history
// could have produced before the read answered. It recognises values one
// write produces (see InjectStaleRead) and takes numbers and absence as
// explained: the check for reads that no bound covers.
func Unexplained(history, reads []Op) []Op {
	byKey := writesByKey(history)
	var bad []Op
	for _, r := range reads {
		if !readOfProducedOnce(r) {
			continue
		}
		explained := false
		for _, w := range byKey[r.In.Key] {
			if w.Call <= r.Return && mayProduce(w, r.Out.Value) {
				explained = true
				break
			}
		}
		if !explained {
			bad = append(bad, r)
		}
	}
	return bad
}

// OwnWritesMissed returns the reads that returned a value certainly older
// than a write their own instance had acknowledged on the key before they
// began: the value's only producer answered before that write was sent.
func OwnWritesMissed(history []Op) []Op {
	byKey := writesByKey(history)
	var bad []Op
	for _, r := range history {
		if !readOfProducedOnce(r) {
			continue
		}
		// The latest call of an own write that changed the key, answered
		// before the read began.
		ownCall := int64(-1)
		var producers []Op
		for _, w := range byKey[r.In.Key] {
			if w.Instance == r.Instance && ownWrite(w) && changed(w) && w.Return < r.Call {
				ownCall = max(ownCall, w.Call)
			}
			if mayProduce(w, r.Out.Value) {
				producers = append(producers, w)
			}
		}
		if ownCall < 0 || len(producers) != 1 {
			continue
		}
		if p := producers[0]; p.Return < ownCall {
			bad = append(bad, r)
		}
	}
	return bad
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
	byKey := writesByKey(history)
	var stale []StaleRead
	for _, op := range history {
		if !readOfProducedOnce(op) {
			continue
		}
		var producers []Op
		for _, w := range byKey[op.In.Key] {
			if mayProduce(w, op.Out.Value) {
				producers = append(producers, w)
			}
		}
		if len(producers) != 1 || producers[0].Out.Status != OK {
			continue
		}
		p := producers[0]
		// The earliest answer of a change that certainly came after the
		// producer.
		replaced := Infinity
		for _, w := range byKey[op.In.Key] {
			if w.Call > p.Return && changed(w) {
				replaced = min(replaced, w.Return)
			}
		}
		if replaced != Infinity && op.Call-int64(bound) > replaced {
			stale = append(stale, StaleRead{Op: op, By: time.Duration(op.Call - replaced)})
		}
	}
	return stale
}

// mayProduce reports whether a write (acknowledged, or of unknown outcome)
// may have left the key holding v. An append's result is recognised by its
// fragment at the end (or the start, prepending) and, answered, by the value
// or the length it answered.
func mayProduce(op Op, v string) bool {
	unknown := op.Out.Status == Unknown
	switch op.In.Kind {
	case Set:
		return op.In.Value == v && (unknown || op.Out.Status == OK && (!op.In.Stored || op.Out.Flag))
	case CompareAndSet:
		return op.In.Value == v && (unknown || op.Out.Status == OK && op.Out.Flag)
	case Append:
		if op.In.Prepend && !strings.HasPrefix(v, op.In.Value) || !op.In.Prepend && !strings.HasSuffix(v, op.In.Value) {
			return false
		}
		switch {
		case unknown:
			return true
		case op.Out.Status != OK:
			return false
		case op.In.Length:
			return op.Out.Int == int64(len(v))
		}
		return op.Out.Value == v
	}
	return false
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

// BoundResult is the outcome of CheckBound.
type BoundResult struct {
	Result               // Check of the bounded history
	Loose           int  // reads the staleness bound did not cover
	Unexplained     []Op // reads of values no write had produced
	OwnWritesMissed []Op // reads older than their instance's own write
}

// CheckBound checks a history against the bound: Check on what Split bounds,
// Unexplained on the reads it leaves out, OwnWritesMissed on all reads.
func CheckBound(history []Op, b Bound, o Options) BoundResult {
	bounded, loose := b.Split(history)
	return BoundResult{
		Result:          Check(bounded, o),
		Loose:           len(loose),
		Unexplained:     Unexplained(history, loose),
		OwnWritesMissed: OwnWritesMissed(history),
	}
}

// Err describes every violation; nil when the history keeps the bound.
func (r BoundResult) Err() error {
	errs := []error{r.Result.Err()}
	for _, op := range r.Unexplained {
		errs = append(errs, fmt.Errorf("instance %d, client %d: %s → %s: no write produced that value", op.Instance, op.Client, op.In, op.Out.describe(op.In)))
	}
	for _, op := range r.OwnWritesMissed {
		errs = append(errs, fmt.Errorf("instance %d, client %d: %s → %s: older than the instance's own last write", op.Instance, op.Client, op.In, op.Out.describe(op.In)))
	}
	return errors.Join(errs...)
}

// Violations counts the keys and reads at fault.
func (r BoundResult) Violations() int {
	return len(r.Illegal) + len(r.TimedOut) + len(r.Unexplained) + len(r.OwnWritesMissed)
}

// writesByKey groups a history's writes by key.
func writesByKey(history []Op) map[string][]Op {
	byKey := map[string][]Op{}
	for _, op := range history {
		if op.In.Kind.writes() {
			byKey[op.In.Key] = append(byKey[op.In.Key], op)
		}
	}
	return byKey
}

// readOfProducedOnce reports whether op is an answered read of a value one
// write only produces.
func readOfProducedOnce(op Op) bool {
	return op.In.Kind == Get && op.Out.Status == OK && op.Out.Found && producedOnce(op.Out.Value)
}
