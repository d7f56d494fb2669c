package kvcheck

import (
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
