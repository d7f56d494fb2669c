package kvcheck

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// Injections show that a check can fail: each adds one anomaly to a real
// history, where no other op can explain it away, and Check must then find
// the key not linearizable.

// InjectStaleRead adds a read that, staleness after a GETSET or SET ... GET
// replaced a value, returns the value it replaced. The replaced value is one
// only its own write produced (not a number, which increments can produce
// again), so no order makes the read legal unless it may be staler than
// staleness. It returns the new history and the injected op, or ok false if
// the history has no such write.
func InjectStaleRead(history []Op, staleness time.Duration) (out []Op, injected Op, ok bool) {
	for _, w := range history {
		if w.In.Kind != Set || !w.In.ReturnOld || w.In.Cond != Always || w.Out.Status != OK ||
			!w.Out.Found || !producedOnce(w.Out.Value) || w.Out.Value == w.In.Value {
			continue
		}
		at := w.Return + int64(staleness) + 1
		r := Op{Client: nextClient(history), Instance: w.Instance, Door: w.Door,
			In:  Input{Kind: Get, Key: w.In.Key, Call: at, Return: at + 1},
			Out: Output{Found: true, Value: w.Out.Value}, Call: at, Return: at + 1}
		return append(append([]Op(nil), history...), r), r, true
	}
	return history, Op{}, false
}

// InjectLostUpdate adds, just after an acknowledged append, a GETSET whose
// answer says the append never happened: the value it returns as the old one
// is the appended value without the fragment. That value is one only its own
// write produced, so no order makes it legal. It returns the new history and
// the injected op, or ok false if the history has no such append.
func InjectLostUpdate(history []Op) (out []Op, injected Op, ok bool) {
	for _, a := range history {
		if a.In.Kind != Append || a.In.Prepend || a.In.Length || a.Out.Status != OK || !strings.HasSuffix(a.Out.Value, a.In.Value) {
			continue
		}
		before := strings.TrimSuffix(a.Out.Value, a.In.Value)
		if !producedOnce(before) {
			continue
		}
		at := a.Return + 1
		x := Op{Client: nextClient(history), Instance: a.Instance, Door: a.Door,
			In:   Input{Kind: Set, Key: a.In.Key, Value: "lost-update", ReturnOld: true, Call: at, Return: at + 1},
			Out:  Output{Found: true, Value: before},
			Call: at, Return: at + 1}
		return append(append([]Op(nil), history...), x), x, true
	}
	return history, Op{}, false
}

// producedOnce reports whether a value of the workload comes from one write
// only: unique values and appended fragments, not numbers.
func producedOnce(v string) bool { return strings.HasPrefix(v, "v") || strings.HasPrefix(v, ".") }

func nextClient(history []Op) int {
	n := 0
	for _, op := range history {
		n = max(n, op.Client+1)
	}
	return n
}

// InjectHalfApplied adds, just after the earliest acknowledged transaction
// that allows it, a transaction that reads two of its keys and sees only one
// of its writes: the value the transaction left on one key, and the value it
// replaced on another (which the transaction's GETSET, SET ... GET or GETDEL
// returned). Both values come from one write only, so no order makes the
// read legal, unless the transaction was half applied. It returns the new
// history and the injected op, or ok false if the history has no such
// transaction. (The earliest, because proving a whole history illegal
// searches every order of what comes before the anomaly.)
func InjectHalfApplied(history []Op) (out []Op, injected Op, ok bool) {
	byCall := slices.Clone(history)
	slices.SortFunc(byCall, func(a, b Op) int { return cmp.Compare(a.Call, b.Call) })
	for _, t := range byCall {
		if t.In.Kind != Transaction || t.Out.Status != OK || t.Out.Aborted {
			continue
		}
		after, before, found := halfApplied(t)
		if !found {
			continue
		}
		at := t.Return + 1
		r := Op{Client: nextClient(history), Instance: t.Instance, Door: t.Door,
			In: Input{Kind: Transaction, Call: at, Return: at + 1, Commands: []Input{
				{Kind: Get, Key: after.Key}, {Kind: Get, Key: before.Key}}},
			Out: Output{Answers: []Output{
				{Found: true, Value: after.Value}, {Found: true, Value: before.Value}}},
			Call: at, Return: at + 1}
		return append(append([]Op(nil), history...), r), r, true
	}
	return history, Op{}, false
}

// halfApplied finds in an acknowledged transaction a key it set last to a
// unique value (after), and another key whose unique value before the
// transaction its first command on it returned and which the transaction
// then changed (before).
func halfApplied(t Op) (after, before Input, found bool) {
	last := map[string]int{}
	first := map[string]int{}
	for i, c := range t.In.Commands {
		last[c.Key] = i
		if _, ok := first[c.Key]; !ok {
			first[c.Key] = i
		}
	}
	for i, a := range t.In.Commands {
		if a.Kind != Set || a.Cond != Always || last[a.Key] != i || !producedOnce(a.Value) {
			continue
		}
		for j, b := range t.In.Commands {
			ans := t.Out.Answers[j]
			reads := b.Kind == Get || b.Kind == GetDelete || b.Kind == Set && b.ReturnOld
			if b.Key == a.Key || first[b.Key] != j || !reads || ans.Status != OK || !ans.Found || !producedOnce(ans.Value) {
				continue
			}
			if changes(t, j) {
				return Input{Key: a.Key, Value: a.Value}, Input{Key: b.Key, Value: ans.Value}, true
			}
		}
	}
	return Input{}, Input{}, false
}

// changes reports whether the transaction surely left the key of its j-th
// command, whose old value that command read, with another value: that
// command or a later one on the key removed it or wrote a unique value or
// appended to it.
func changes(t Op, j int) bool {
	key := t.In.Commands[j].Key
	for k := j; k < len(t.In.Commands); k++ {
		c, ans := t.In.Commands[k], t.Out.Answers[k]
		if c.Key != key || ans.Status != OK {
			continue
		}
		switch {
		case c.Kind == GetDelete, c.Kind == Delete && ans.Flag, c.Kind == Append,
			c.Kind == Set && c.Cond == Always && producedOnce(c.Value):
			return true
		}
	}
	return false
}
