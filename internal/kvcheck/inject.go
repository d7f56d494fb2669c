package kvcheck

import (
	"sort"
	"strings"
)

// Injections show that a check can fail: each adds one anomaly to a real
// history, where no other op can explain it away, and Check must then find
// the key not linearizable.

// InjectStaleRead adds a read that, just after a GETSET or SET ... GET
// replaced a value, returns the value it replaced. The replaced value is one
// only its own write produced (not a number, which increments can produce
// again), so no order makes the read legal. It returns the new history and
// the injected op, or ok false if the history has no such write.
func InjectStaleRead(history []Op) (out []Op, injected Op, ok bool) {
	for _, w := range history {
		if w.In.Kind != Set || !w.In.ReturnOld || w.In.Cond != Always || w.Out.Status != OK ||
			!w.Out.Found || !producedOnce(w.Out.Value) || w.Out.Value == w.In.Value {
			continue
		}
		r := Op{Client: nextClient(history), Instance: w.Instance, Door: w.Door,
			In:  Input{Kind: Get, Key: w.In.Key, Call: w.Return + 1, Return: w.Return + 2},
			Out: Output{Found: true, Value: w.Out.Value}, Call: w.Return + 1, Return: w.Return + 2}
		return append(append([]Op(nil), history...), r), r, true
	}
	return history, Op{}, false
}

// InjectLostUpdate adds an acknowledged write of a fresh value just before a
// read that does not see it, in a gap where no other op on the key is in
// flight: the write is lost. It returns the new history and the injected op,
// or ok false if the history has no such gap.
func InjectLostUpdate(history []Op) (out []Op, injected Op, ok bool) {
	byKey := map[string][]Op{}
	for _, op := range history {
		if op.Out.Status == Unknown && op.In.Kind.Reads() {
			continue
		}
		byKey[op.In.Key] = append(byKey[op.In.Key], op)
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ops := byKey[k]
		sort.Slice(ops, func(i, j int) bool { return ops[i].Call < ops[j].Call })
		for i, g := range ops {
			if g.In.Kind != Get || g.Out.Status != OK || i == 0 {
				continue
			}
			// Nothing else on the key may be in flight from the gap to the
			// read's answer; the gap opens when the last op before it returned.
			gapStart, quiet := int64(0), true
			for j, op := range ops {
				if j == i {
					continue
				}
				if op.Return < g.Call {
					gapStart = max(gapStart, op.Return)
				} else if op.Call <= g.Return {
					quiet = false
					break
				}
			}
			if !quiet || g.Call-gapStart < 3 {
				continue
			}
			w := Op{Client: nextClient(history), Instance: g.Instance, Door: g.Door,
				In:   Input{Kind: Set, Key: k, Value: "lost-update", Expiry: ExpNone, Call: gapStart + 1, Return: g.Call - 1},
				Call: gapStart + 1, Return: g.Call - 1}
			return append(append([]Op(nil), history...), w), w, true
		}
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
