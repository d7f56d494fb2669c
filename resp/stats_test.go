package resp

import (
	"slices"
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
		got := ts.srv.CommandCounts(nil)
		for _, w := range want {
			if !slices.Contains(got, w) {
				t.Errorf("no %+v in %+v", w, got)
			}
		}
		if len(got) != len(want) {
			t.Errorf("%d commands counted, want %d: %+v", len(got), len(want), got)
		}
		if open, refused := ts.srv.Clients(); open != 2 || refused != 0 {
			t.Errorf("Clients() = %d open, %d refused; want 2 and 0", open, refused)
		}
	})
}
