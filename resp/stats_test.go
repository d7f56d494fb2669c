package resp

import (
	"slices"
	"strings"
	"testing"
)

// TestCommandCounts: every command is counted under its name (subcommands
// apart), errors of every kind count as failed, and the counts of every
// connection and driver add up.
func TestCommandCounts(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d driver) {
		ts := startServer(t, d, withAuth("s3cret"))
		first, second := ts.raw(t), ts.raw(t)
		first.do("PING")                // refused before AUTH: failed
		first.do("AUTH", "s3cret")      // ok
		first.do("AUTH", "wrong")       // WRONGPASS: failed
		second.do("AUTH", "s3cret")     // ok
		second.do("SET", "k", "v")      // ok
		second.do("GET", "k")           // ok
		first.do("GET", "k")            // ok
		first.do("GET")                 // wrong number of arguments: failed
		second.do("INCR", "k")          // not an integer: failed
		second.do("CLIENT", "ID")       // ok, as client|id
		second.do("CLIENT", "NOPE")     // unknown subcommand: failed, as client
		second.do("NOSUCHCOMMAND", "x") // unknown: failed
		// A pipelined batch: runs of one command are counted together.
		second.send(encode("GET", "k") + encode("GET", "k") + encode("SET", "k", "v") + encode("GET", "k"))
		for range 4 {
			second.reply()
		}

		want := []CommandCount{
			{"ping", 1, 1},
			{"auth", 3, 1},
			{"client", 1, 1},
			{"client|id", 1, 0},
			{"get", 6, 1},
			{"set", 2, 0},
			{"incr", 1, 1},
			{"unknown", 1, 1},
		}
		checkCounts(t, ts.srv.CommandCounts(nil), want)
		if open, refused := ts.srv.Clients(); open != 2 || refused != 0 {
			t.Errorf("Clients() = %d open, %d refused; want 2 and 0", open, refused)
		}
	})
}

// TestCommandCountsInTransactions: a command queued after MULTI is counted
// when EXEC runs it, with its own failure, and not if EXEC does not run it;
// one the queue refuses is counted as failed at once; EXEC fails only by its
// own error.
func TestCommandCountsInTransactions(t *testing.T) {
	ts := startServer(t, drivers()[0])
	r, other := ts.raw(t), ts.raw(t)
	r.do("SET", "s", "text")
	r.do("MULTI")
	r.do("SET", "k", "1") // queued; runs
	r.do("INCR", "s")     // queued; fails in EXEC
	r.do("EXEC")          // ok, though a queued command failed
	r.do("WATCH", "k")    // ok
	other.do("SET", "k", "2")
	r.do("MULTI")
	r.do("INCR", "k") // queued; never runs: the watched key changed
	r.do("EXEC")      // ok: a null array
	r.do("MULTI")
	r.do("GET")  // refused by the queue: failed
	r.do("EXEC") // EXECABORT: failed
	// A script's redis.call counts as the command it calls, as in Redis.
	r.do("EVAL", "redis.call('get', KEYS[1]) return redis.pcall('incr', KEYS[2])", "2", "k", "s")
	want := []CommandCount{
		{"set", 3, 0},
		{"incr", 2, 2},
		{"get", 2, 1},
		{"multi", 3, 0},
		{"exec", 3, 1},
		{"watch", 1, 0},
		{"eval", 1, 1},
	}
	checkCounts(t, ts.srv.CommandCounts(nil), want)
	// INFO commandstats reads the same counts, refusals apart.
	info := r.do("INFO", "commandstats")
	for _, line := range []string{"cmdstat_get:calls=1,", ",rejected_calls=1,failed_calls=0\r\n",
		"cmdstat_incr:calls=2,", ",rejected_calls=0,failed_calls=2\r\n", "cmdstat_exec:calls=3,"} {
		if !strings.Contains(info, line) {
			t.Errorf("INFO commandstats lacks %q:\n%s", line, info)
		}
	}
}

// checkCounts fails unless got holds exactly the counts of want, in any
// order.
func checkCounts(t *testing.T, got, want []CommandCount) {
	t.Helper()
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("no %+v in %+v", w, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d commands counted, want %d: %+v", len(got), len(want), got)
	}
}

// TestCommandTimingSamples: the first timingExact calls of a command are all
// timed, then one in timingSample, whether the command comes in long runs
// (where the connection counts down to the next call to time) or alternates
// with another.
func TestCommandTimingSamples(t *testing.T) {
	const calls = timingExact + 4*timingSample // timed: timingExact, then 256, 512, 768, 1024
	const want = timingExact + 4
	for _, alternate := range []bool{false, true} {
		c := benchConn(t)
		noop := func(*conn, [][]byte) {}
		first := &command{name: "get", slot: commands["get"].slot, run: noop}
		second := &command{name: "set", slot: commands["set"].slot, run: noop}
		for range calls {
			c.runCounted(first, nil)
			if alternate {
				c.runCounted(second, nil)
			}
		}
		c.publishCalls()
		for _, cmd := range []*command{first, second} {
			wantCalls, wantTimed := uint64(calls), uint64(want)
			if cmd == second && !alternate {
				wantCalls, wantTimed = 0, 0
			}
			if got := c.stats.calls[cmd.slot].Load(); got != wantCalls {
				t.Errorf("alternate=%v: %s counted %d calls; want %d", alternate, cmd.name, got, wantCalls)
			}
			if got := c.stats.timed[cmd.slot].Load(); got != wantTimed {
				t.Errorf("alternate=%v: %s timed %d calls; want %d", alternate, cmd.name, got, wantTimed)
			}
		}
	}
}
