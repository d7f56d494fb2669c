package kvcheck

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// Transactions span keys, so their histories cannot be checked key by key:
// the model's state is every key of the history at once (keyStates), and
// porcupine searches the whole history, which is why such histories are
// kept to MaxTransactionOps. Single-key ops share the history and the
// state: a command over HTTP that saw a transaction half done has no place
// in any order.

// MaxTransactionOps is the longest history CheckTransactions is meant for:
// with 16 clients on a handful of keys its search takes seconds, and it grows
// faster than the history.
const MaxTransactionOps = 10_000

// keyStates is the state of every key of a transaction history, by the key's
// index. Steps copy it: a state the search keeps is never changed.
type keyStates []state

func (ks keyStates) with(i int, s state) keyStates {
	if ks[i] == s {
		return ks
	}
	n := slices.Clone(ks)
	n[i] = s
	return n
}

// txnStep returns every state the keys can be in after in answered out.
func txnStep(ks keyStates, index map[string]int, in Input, out Output, tol int64) []keyStates {
	if in.Kind != Transaction {
		i := index[in.Key]
		var next []keyStates
		for _, s := range step(ks[i], in, out, tol) {
			next = append(next, ks.with(i, s))
		}
		return next
	}
	unknown := out.Status == Unknown
	if out.Aborted {
		// A null EXEC ran nothing, and only a watch can cause one.
		if in.Watch > 0 && !unknown {
			return []keyStates{ks}
		}
		return nil
	}
	if !unknown && (out.Status != OK || len(out.Answers) != len(in.Commands)) {
		return nil
	}
	// Each key may be alive or gone at the transaction's moment if its
	// expiry is near the window: one choice per key, judged once, since the
	// commands run at one moment.
	starts := []keyStates{ks}
	for j, c := range in.Commands {
		i := index[c.Key]
		if slices.ContainsFunc(in.Commands[:j], func(e Input) bool { return e.Key == c.Key }) {
			continue
		}
		var more []keyStates
		for _, st := range starts {
			for _, p := range st[i].candidates(in.Call, in.Return, tol) {
				more = append(more, st.with(i, p))
			}
		}
		starts = more
	}
	var next []keyStates
	for _, st := range starts {
		next = append(next, runCommands(st, index, in, out, tol)...)
	}
	if unknown {
		next = append(next, ks) // it may never have run
	}
	return next
}

// runCommands runs a transaction's commands in order from ks, whose keys are
// already alive or gone as the transaction finds them.
func runCommands(ks keyStates, index map[string]int, in Input, out Output, tol int64) []keyStates {
	states := []keyStates{ks}
	for j, c := range in.Commands {
		c.Call, c.Return = in.Call, in.Return
		answer := Output{Status: Unknown}
		if out.Status != Unknown {
			answer = out.Answers[j]
		} else if c.Kind.Reads() {
			continue // an unknown read constrains nothing
		}
		i := index[c.Key]
		var next []keyStates
		for _, st := range states {
			for _, s := range apply(st[i], c, answer, tol) {
				next = append(next, st.with(i, s))
			}
		}
		states = next
	}
	return states
}

// TransactionModel is the porcupine model of a history of transactions and
// single-key commands on keys, unpartitioned.
func TransactionModel(keys []string, tolerance time.Duration) porcupine.Model {
	tol := int64(tolerance)
	index := make(map[string]int, len(keys))
	for i, k := range keys {
		index[k] = i
	}
	nm := porcupine.NondeterministicModel{
		Init: func() []any { return []any{make(keyStates, len(keys))} },
		Step: func(s, in, out any) []any {
			next := txnStep(s.(keyStates), index, in.(Input), out.(Output), tol)
			states := make([]any, len(next))
			for i, n := range next {
				states[i] = n
			}
			return states
		},
		Equal: func(a, b any) bool { return slices.Equal(a.(keyStates), b.(keyStates)) },
		Hash: func(s any) uint64 {
			var h uint64
			for _, k := range s.(keyStates) {
				h = h*0x100000001b3 ^ hashState(k)
			}
			return h
		},
		DescribeOperation: func(in, out any) string { return in.(Input).String() + " → " + out.(Output).describe(in.(Input)) },
		DescribeState: func(s any) string {
			var b strings.Builder
			for i, k := range s.(keyStates) {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(keys[i] + "=" + k.String())
			}
			return b.String()
		},
	}
	return nm.ToModel()
}

// CheckTransactions checks a history that has transactions in it, as one
// whole: keep it to MaxTransactionOps. A violation is reported under the key
// "all keys".
func CheckTransactions(history []Op, o Options) Result {
	start := time.Now()
	o = o.withDefaults()
	var keys []string
	for _, op := range history {
		keys = append(keys, op.In.Key)
		for _, c := range op.In.Commands {
			keys = append(keys, c.Key)
		}
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	keys = slices.DeleteFunc(keys, func(k string) bool { return k == "" })
	model := TransactionModel(keys, o.Tolerance)
	ops := Operations(history)
	res := Result{Ops: len(ops), Keys: len(keys)}
	const name = "all keys"
	// One search, verbose: proving a whole history illegal is the long part,
	// and the explanation needs its record.
	switch result, info := porcupine.CheckOperationsVerbose(model, ops, o.Timeout); result {
	case porcupine.Illegal:
		res.Illegal = append(res.Illegal, explainInfo(model, name, ops, info, o))
	case porcupine.Unknown:
		saveKeyHistory(o.VisualizeDir, name, ops)
		res.TimedOut = append(res.TimedOut, name)
	}
	res.Took = time.Since(start)
	return res
}

func (in Input) transactionString() string {
	var b strings.Builder
	b.WriteString("multi[")
	for i, c := range in.Commands {
		if i > 0 {
			b.WriteString("; ")
		}
		if i < in.Watch {
			b.WriteString("watched ")
		}
		b.WriteString(c.String())
	}
	b.WriteString("]")
	return b.String()
}

func (out Output) describeTransaction(in Input) string {
	if out.Aborted {
		return "nil"
	}
	parts := make([]string, len(out.Answers))
	for i, a := range out.Answers {
		if i < len(in.Commands) {
			parts[i] = a.describe(in.Commands[i])
		} else {
			parts[i] = "extra answer " + strconv.Itoa(i)
		}
	}
	return "[" + strings.Join(parts, "; ") + "]"
}
