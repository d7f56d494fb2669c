package resp

import (
	"runtime"
	"sync/atomic"
)

// The per-command counts that warmkv's metrics export: how many times each
// command ran, and how many of those answered an error, as Redis's INFO
// commandstats counts calls and failed calls.
//
// Counting must cost the hot path next to nothing (a pipelined GET takes
// about 100 ns here). A connection counts a run of the same command in plain
// fields (pendingCounts) and adds the run to the shared counts with one
// atomic add when the command changes or the batch of commands it received
// ends: once per 16 commands for redis-benchmark -P 16, once per command
// without pipelining, where the syscalls cost microseconds. The shared counts
// are striped to keep cores from contending for one cache line: each event
// loop counts in a stripe of its own, and connections served by goroutines
// share the stripes by connection id. Reading sums the stripes, so a scrape
// sees every batch that has finished.

// commandStripe is one stripe of counts, indexed by command slot. Each slice
// is its own allocation of at least 8 cache lines, so stripes never share one.
type commandStripe struct {
	calls, failed []atomic.Uint64
}

// pendingCounts is a connection's run of one command not yet counted in its
// stripe; only the connection's driver touches it.
type pendingCounts struct {
	slot          int // -1: none
	calls, failed uint64
}

// add counts one command, flushing the run when the command changes.
func (p *pendingCounts) add(to *commandStripe, slot int, failed bool) {
	if slot != p.slot {
		p.flush(to)
		p.slot = slot
	}
	p.calls++
	if failed {
		p.failed++
	}
}

// flush adds the run to the stripe.
func (p *pendingCounts) flush(to *commandStripe) {
	if p.calls == 0 {
		return
	}
	to.calls[p.slot].Add(p.calls)
	if p.failed > 0 {
		to.failed[p.slot].Add(p.failed)
	}
	p.calls, p.failed = 0, 0
}

// commandStats are a server's stripes.
type commandStats struct {
	stripes []*commandStripe
}

// newCommandStats makes 4 stripes per GOMAXPROCS, a power of two: enough that
// connections served by goroutines rarely share one at the same moment, and
// at least one per event loop.
func newCommandStats() commandStats {
	n := 4
	for n < 4*runtime.GOMAXPROCS(0) {
		n *= 2
	}
	st := commandStats{stripes: make([]*commandStripe, n)}
	for i := range st.stripes {
		st.stripes[i] = &commandStripe{
			calls:  make([]atomic.Uint64, len(slotNames)),
			failed: make([]atomic.Uint64, len(slotNames)),
		}
	}
	return st
}

// forConn is the stripe of the connection with the given id.
func (st commandStats) forConn(id int64) *commandStripe {
	return st.stripes[int(id)&(len(st.stripes)-1)]
}

// CommandCount is how many times a command ran, and how many of those
// answered an error (unknown command, wrong arguments, refused before AUTH,
// or a failure of its own). Subcommands count apart, as "client|id";
// commands the server does not know count as "unknown".
type CommandCount struct {
	Command       string
	Calls, Failed uint64
}

// CommandCounts appends to dst the counts of every command that has run
// since the server started, in the command table's order.
func (s *Server) CommandCounts(dst []CommandCount) []CommandCount {
	for slot, name := range slotNames {
		var c CommandCount
		for _, stripe := range s.stats.stripes {
			c.Calls += stripe.calls[slot].Load()
			c.Failed += stripe.failed[slot].Load()
		}
		if c.Calls > 0 {
			c.Command = name
			dst = append(dst, c)
		}
	}
	return dst
}

// Clients reports the connections open now and those refused since start
// because RESP_MAX_CLIENTS were open.
func (s *Server) Clients() (open int, refused int64) {
	s.mu.Lock()
	open = len(s.conns)
	s.mu.Unlock()
	return open, s.rejectedConns.Load()
}
