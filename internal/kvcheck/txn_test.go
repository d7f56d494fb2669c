package kvcheck

import (
	"runtime"
	"testing"
	"time"

	"github.com/warmkv/warmkv/cache"
)

// multi builds a transaction that ran from call to ret milliseconds; out nil
// is a null EXEC.
func multi(call, ret int64, watch int, cmds []Input, out []Output) Op {
	in := Input{Kind: Transaction, Commands: cmds, Watch: watch, Call: call * ms, Return: ret * ms}
	o := Output{Answers: out, Aborted: out == nil}
	return Op{In: in, Out: o, Call: in.Call, Return: in.Return}
}

func of(key string, in Input) Input { in.Key = key; return in }

func TestTransactionModel(t *testing.T) {
	incr := Input{Kind: Increment, Delta: 1}
	tests := []struct {
		name  string
		ops   []Op
		legal bool
	}{
		{"writes seen together", []Op{
			multi(0, 1, 0, []Input{of("a", set("1")), of("b", set("2"))}, []Output{ok, ok}),
			at(2, 3, of("a", get), val("1")), at(2, 3, of("b", get), val("2")),
		}, true},
		{"half applied, seen by single reads", []Op{
			multi(0, 10, 0, []Input{of("a", set("1")), of("b", set("2"))}, []Output{ok, ok}),
			at(2, 3, of("a", get), val("1")), at(4, 5, of("b", get), missing),
		}, false},
		{"half applied, seen by a transaction", []Op{
			multi(0, 10, 0, []Input{of("a", set("1")), of("b", set("2"))}, []Output{ok, ok}),
			multi(2, 3, 0, []Input{of("a", get), of("b", get)}, []Output{val("1"), missing}),
		}, false},
		{"a transaction reads its own writes", []Op{
			multi(0, 1, 0, []Input{of("a", incr), of("a", incr), of("b", get)}, []Output{num(1), num(2), missing}),
		}, true},
		{"lost update between two transactions", []Op{
			multi(0, 10, 0, []Input{of("a", incr), of("b", incr)}, []Output{num(1), num(1)}),
			multi(1, 9, 0, []Input{of("a", incr), of("b", incr)}, []Output{num(1), num(2)}),
		}, false},
		{"a refusal inside EXEC changes nothing", []Op{
			at(0, 1, of("a", set("x")), ok),
			multi(2, 3, 0, []Input{of("a", incr), of("b", set("y"))}, []Output{status(NotInteger), ok}),
			at(4, 5, of("a", get), val("x")),
		}, true},
		{"null EXEC after a watch runs nothing", []Op{
			multi(0, 1, 1, []Input{of("a", get), of("a", set("1")), of("b", set("2"))}, nil),
			at(2, 3, of("b", get), missing),
		}, true},
		{"null EXEC without a watch", []Op{
			multi(0, 1, 0, []Input{of("a", set("1")), of("b", set("2"))}, nil),
		}, false},
		{"watched read still current at EXEC", []Op{
			at(0, 1, of("a", set("1")), ok),
			multi(2, 5, 1, []Input{of("a", get), of("a", set("2")), of("b", set("3"))}, []Output{val("1"), ok, ok}),
		}, true},
		{"EXEC ran though a watched key changed", []Op{
			at(0, 1, of("a", set("1")), ok),
			// the watched read saw 1, then a write of 9 was acknowledged
			// before the EXEC that should have been refused
			multi(2, 8, 1, []Input{of("a", get), of("b", set("3"))}, []Output{val("1"), ok}),
			at(3, 4, of("a", set("9")), ok),
			at(5, 6, of("b", get), missing),
		}, false},
		{"an unknown transaction may have run", []Op{
			{In: Input{Kind: Transaction, Commands: []Input{of("a", set("1")), of("b", set("2"))}, Call: 0, Return: Infinity},
				Out: Output{Status: Unknown}, Call: 0, Return: Infinity},
			at(2, 3, of("a", get), val("1")), at(4, 5, of("b", get), val("2")),
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := CheckTransactions(tt.ops, Options{})
			if got := res.Err() == nil; got != tt.legal {
				t.Fatalf("legal = %v, want %v: %v", got, tt.legal, res.Err())
			}
		})
	}
}

// transactionPace spaces each client's commands: the search of a whole
// history grows with how many commands are in flight at once.
const transactionPace = 3 * time.Millisecond

func transactionWorkload() *Workload {
	return &Workload{Prefix: "t:", Counters: 3, Strings: 3, MaxRunes: 64, Transactions: 40, Watched: 30, NoExpiry: true}
}

func runTransactions(t *testing.T, store cache.Store, ops int64) (Result, []Op) {
	t.Helper()
	history := loadInProcess(t, store, LoadOptions{Workload: transactionWorkload(), Seed: 1, MaxOps: ops, Pace: transactionPace})
	return CheckTransactions(history, Options{}), history
}

// TestTheRealStoreRunsTransactionsLinearizably runs transactions beside
// single-key commands of both doors on warmkv's cache in process: the
// checker finds nothing to object to, and catches a half-applied one
// injected into the history.
func TestTheRealStoreRunsTransactionsLinearizably(t *testing.T) {
	res, history := runTransactions(t, newCache(t), 1000)
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	var txns, watched, aborted int
	for _, op := range history {
		if op.In.Kind == Transaction {
			txns++
			if op.In.Watch > 0 {
				watched++
			}
			if op.Out.Aborted {
				aborted++
			}
		}
	}
	if txns == 0 || watched == 0 {
		t.Fatalf("the workload sent %d transactions, %d watched", txns, watched)
	}
	t.Logf("%d ops (%d transactions, %d watched, %d null EXECs) on %d keys linearizable, checked in %v", res.Ops, txns, watched, aborted, res.Keys, res.Took)

	bad, op, ok := InjectHalfApplied(history)
	if !ok {
		t.Fatal("no place in the history to inject a half-applied transaction")
	}
	if res := CheckTransactions(bad, Options{}); len(res.Illegal) != 1 {
		t.Errorf("injected %s → %s: checker says %v", op.In, op.Out.describe(op.In), res.Err())
	}
}

// TestTheCheckerCatchesABrokenTransaction puts a store whose transactions
// neither own their keys nor honour watches behind the real doors: the
// checker must catch it.
func TestTheCheckerCatchesABrokenTransaction(t *testing.T) {
	res, _ := runTransactions(t, &looseTransactions{Cache: newCache(t)}, 1000)
	if len(res.Illegal) == 0 {
		t.Fatalf("the checker passed a broken store: %+v", res)
	}
	t.Logf("caught in %v:\n%s", res.Took, res.Illegal[0].Explanation)
}

// looseTransactions runs a transaction's commands one by one on the cache,
// yielding between them, and ignores watches: others see it half done.
type looseTransactions struct{ *cache.Cache }

func (l *looseTransactions) Atomically(_ cache.Scope, fn func(cache.Tx) error) error {
	return fn(looseTx{l.Cache})
}

func (l *looseTransactions) NewSession() cache.Session {
	return looseSession{Session: l.Cache.NewSession(), l: l}
}

type looseSession struct {
	cache.Session
	l *looseTransactions
}

func (s looseSession) Atomically(scope cache.Scope, fn func(cache.Tx) error) error {
	s.Unwatch()
	return s.l.Atomically(scope, fn)
}

// looseTx is the cache itself, with a pause before each write.
type looseTx struct{ *cache.Cache }

func (looseTx) SetBusy() {}

func pause() { runtime.Gosched(); time.Sleep(50 * time.Microsecond) }

func (x looseTx) Set(key, value string, expireAt int64) error {
	pause()
	return x.Cache.Set(key, value, expireAt)
}

func (x looseTx) SetIf(key, value string, expireAt int64, cond cache.Condition) (string, bool, bool, error) {
	pause()
	return x.Cache.SetIf(key, value, expireAt, cond)
}

func (x looseTx) IncrementBy(key string, delta, expireAt int64) (int64, error) {
	pause()
	return x.Cache.IncrementBy(key, delta, expireAt)
}

func (x looseTx) Append(key, fragment string, prepend bool, maxRunes int, expireAt int64) (string, error) {
	pause()
	return x.Cache.Append(key, fragment, prepend, maxRunes, expireAt)
}
