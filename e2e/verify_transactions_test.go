package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/warmkv/warmkv/internal/kvcheck"
)

// TestVerifyTransactionsLinearizable runs MULTI/EXEC transactions, some
// guarded by WATCH, beside single-key commands over HTTP and the Redis port,
// 16 clients on one server, and checks each run's whole history against the
// model of every key at once: a transaction takes effect at one moment, and
// no command of either door sees it half done. The histories cannot be
// checked key by key, so each run stays within kvcheck.MaxTransactionOps.
func TestVerifyTransactionsLinearizable(t *testing.T) {
	needVerify(t)
	runs := sized(3, 10)
	// Each of the 16 clients may finish one command past the count.
	ops := sized[int64](1_000, kvcheck.MaxTransactionOps-16)
	s := startServer(t, serverSpec{resp: true, env: []string{"MAX_VALUE_LENGTH=64", "RESP_MAX_VALUE_BYTES=64", "MAX_MEMORY=256MiB"}})
	seed := uint64(time.Now().UnixNano())
	var total, txns, watched, aborted int
	var loadTook, checkTook time.Duration
	for run := range runs {
		w := &kvcheck.Workload{Prefix: fmt.Sprintf("tx%d:", run), Counters: 3, Strings: 3, MaxRunes: 64,
			NoExpiry: true, Transactions: 40, Watched: 30}
		began := time.Now()
		history, err := kvcheck.RunLoad(context.Background(), s.clients(t, 8, 0),
			kvcheck.LoadOptions{Workload: w, Seed: seed + uint64(run), MaxOps: ops, Pace: transactionPace})
		took := time.Since(began)
		if err != nil {
			t.Fatal(err)
		}
		if len(history) > kvcheck.MaxTransactionOps {
			t.Fatalf("run %d: %d ops, more than a whole-history check is meant for", run, len(history))
		}
		for _, op := range history {
			switch {
			case op.Out.Status == kvcheck.Unknown:
				t.Fatalf("run %d: %s got no answer from a healthy server", run, op.In)
			case op.In.Kind != kvcheck.Transaction:
			case op.Out.Aborted:
				aborted++
				fallthrough
			case op.In.Watch > 0:
				watched++
				txns++
			default:
				txns++
			}
		}
		s.requireNoEvictions(t)

		res := kvcheck.CheckTransactions(history, checkOptions())
		report(t, "run %d: %d ops on %d keys in %v, checked in %v; by kind %v",
			run, res.Ops, res.Keys, took.Round(time.Millisecond), res.Took.Round(time.Millisecond), countKinds(history))
		if err := res.Err(); err != nil {
			t.Fatalf("run %d (seed %d): %v", run, seed+uint64(run), err)
		}
		total += res.Ops
		loadTook += took
		checkTook += res.Took
		if run == 0 && verifyLong() {
			// Proving a whole history illegal searches every order of the
			// ops before the anomaly: tens of seconds under -race, so the
			// short version leaves it to kvcheck's tests.
			requireHalfAppliedCaught(t, history)
		}
	}
	report(t, "%d runs, %d ops from 16 clients (8 HTTP, 8 RESP), %d transactions (%d watched, %d null EXECs), run in %v, checked in %v; violations: 0",
		runs, total, txns, watched, aborted, loadTook.Round(time.Millisecond), checkTook.Round(time.Millisecond))
}

// transactionPace spaces each client's commands: a whole-history search
// grows with how many commands are in flight at once (docs/verification.md).
const transactionPace = 3 * time.Millisecond

// requireHalfAppliedCaught checks that a read seeing one of a transaction's
// writes and not another, injected into a history the check passed, fails it.
func requireHalfAppliedCaught(t *testing.T, history []kvcheck.Op) {
	t.Helper()
	bad, op, ok := kvcheck.InjectHalfApplied(history)
	if !ok {
		t.Error("found no transaction to inject a half-applied read after")
		return
	}
	res := kvcheck.CheckTransactions(bad, kvcheck.Options{})
	if len(res.Illegal) == 0 {
		t.Errorf("a half-applied read injected into the history (%s) was not caught: %v", op.In, res.Err())
		return
	}
	before := 0
	for _, o := range history {
		if o.Call < op.Call {
			before++
		}
	}
	report(t, "an injected half-applied read (%s, after %d ops) is caught in %v", op.In, before, res.Took.Round(time.Millisecond))
}
