package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/warmkv/warmkv/internal/kvcheck"
)

// TestVerifyLinearizable runs 16 clients, 8 over HTTP and 8 over the Redis
// port, against one server, and checks the whole history against the model:
// one instance must be linearizable, expiry included.
func TestVerifyLinearizable(t *testing.T) {
	needVerify(t)
	ops := sized[int64](30_000, 1_000_000)
	s := startServer(t, serverSpec{resp: true, env: []string{"MAX_VALUE_LENGTH=64", "RESP_MAX_VALUE_BYTES=64", "MAX_MEMORY=256MiB"}})
	w := &kvcheck.Workload{Prefix: "lin:", Counters: sized(16, 32), Strings: sized(16, 32), MaxRunes: 64}
	began := time.Now()
	history, err := kvcheck.RunLoad(context.Background(), s.clients(t, 8, 0), kvcheck.LoadOptions{Workload: w, Seed: uint64(began.UnixNano()), MaxOps: ops})
	took := time.Since(began)
	if err != nil {
		t.Fatal(err)
	}
	var unknown int
	for _, op := range history {
		if op.Out.Status == kvcheck.Unknown {
			unknown++
		}
	}
	if unknown > 0 {
		t.Fatalf("%d ops got no answer from a healthy server", unknown)
	}
	s.requireNoEvictions(t)

	res := kvcheck.Check(history, checkOptions())
	report(t, "%d ops from 16 clients (8 HTTP, 8 RESP) on %d keys in %v (%.0f ops/s), checked in %v; by kind %v",
		res.Ops, res.Keys, took.Round(time.Millisecond), float64(len(history))/took.Seconds(), res.Took.Round(time.Millisecond), countKinds(history))
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	report(t, "violations: 0; clock tolerance for expiry %v", kvcheck.DefaultTolerance)
	requireCaught(t, history, 0, func(h []kvcheck.Op) error { return kvcheck.Check(h, kvcheck.Options{}).Err() })
}
