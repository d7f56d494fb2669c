package resp

import (
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Per-command statistics: how many times each command ran, how many of
// those answered an error, how many were refused before running, and how
// long they took; and the error replies by code. One set of counters feeds
// both INFO commandstats and errorstats (CommandStats, ErrorStats) and
// warmkv's metrics (CommandCounts).
//
// Counting must cost the hot path next to nothing (a pipelined GET takes
// about 100 ns here). A connection counts a run of the same command in plain
// fields (pendingCounts) and adds the run to the shared counts with one
// atomic add when the command changes, before replies are flushed and when
// the batch of commands it received ends: once per 16 commands for
// redis-benchmark -P 16, once per command without pipelining, where the
// syscalls cost microseconds. An atomic add per command (a locked
// instruction, which also waits for every store before it) made the fastest
// of 10 pipelined-GET runs 4-8% slower than without statistics, counting runs
// 2%. The shared counts are striped to keep cores from contending for one
// cache line: each event loop counts in a stripe of its own, and connections
// served by goroutines share the stripes by connection id. Reading sums the
// stripes, so a scrape or another connection's INFO sees every batch that has
// finished, and a connection's own INFO all its earlier calls.
//
// Refusals (wrong arity, NOAUTH, unknown commands and subcommands) are rare
// and added at once. Time is measured on the first timingExact calls of each
// command per stripe, then on one call in timingSample, and extrapolated:
// reading the clock twice costs about 73 ns here, most of a pipelined GET, so
// timing one GET in 32 cost it 2-3%, and one in 256 costs it 0.3%. Commands
// called rarely, the slow ones that commandstats is read to find, are timed
// at every call.

// timingExact calls of each command are all timed; after them, one in
// timingSample (a power of two).
const (
	timingExact  = 64
	timingSample = 256
)

// commandStripe is one stripe of counts, indexed by command slot. Each slice
// is its own allocation of at least 8 cache lines, so stripes never share one.
type commandStripe struct {
	calls, failed, rejected []atomic.Uint64
	timed, timedNs          []atomic.Uint64 // calls timed, and their time
}

// pendingCounts is a connection's run of one command not yet counted in its
// stripe; only the connection's driver touches it.
type pendingCounts struct {
	slot          int // -1: none
	calls, failed uint64
	// untimed calls of slot come before the next one to time (timeNext).
	untimed int
}

// add counts one call that ran, flushing the run when the command changes.
func (p *pendingCounts) add(to *commandStripe, slot int, failed bool) {
	if slot != p.slot {
		p.flush(to)
		p.slot = slot
		p.untimed = 0 // worked out again for this command
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

// timeNext reports whether the next call of slot is one to time. Within a run
// of one command it counts down to the next call to time in a plain field,
// instead of reading the stripe's count at every call.
func (p *pendingCounts) timeNext(to *commandStripe, slot int) bool {
	if slot == p.slot && p.untimed > 0 {
		p.untimed--
		return false
	}
	n := to.calls[slot].Load()
	if slot == p.slot {
		n += p.calls
	}
	if n < timingExact {
		return true
	}
	p.untimed = int(timingSample - 1 - n&(timingSample-1))
	return n&(timingSample-1) == 0
}

// commandStats are a server's stripes and its error replies by code.
type commandStats struct {
	stripes []*commandStripe

	mu           sync.Mutex
	errorReplies int64
	errorCodes   map[string]int64
}

// maxErrorCodes bounds the distinct error codes counted, as Redis's 128 does:
// the rest count in total_error_replies only.
const maxErrorCodes = 128

// newCommandStats makes 4 stripes per GOMAXPROCS, a power of two: enough that
// connections served by goroutines rarely share one at the same moment, and
// at least one per event loop.
func newCommandStats() *commandStats {
	n := 4
	for n < 4*runtime.GOMAXPROCS(0) {
		n *= 2
	}
	st := &commandStats{stripes: make([]*commandStripe, n), errorCodes: map[string]int64{}}
	for i := range st.stripes {
		st.stripes[i] = &commandStripe{
			calls:    make([]atomic.Uint64, len(slotNames)),
			failed:   make([]atomic.Uint64, len(slotNames)),
			rejected: make([]atomic.Uint64, len(slotNames)),
			timed:    make([]atomic.Uint64, len(slotNames)),
			timedNs:  make([]atomic.Uint64, len(slotNames)),
		}
	}
	return st
}

// forConn is the stripe of the connection with the given id.
func (st *commandStats) forConn(id int64) *commandStripe {
	return st.stripes[int(id)&(len(st.stripes)-1)]
}

// countError counts an error reply by its code, the word it starts with.
func (st *commandStats) countError(msg string) {
	code, _, _ := strings.Cut(msg, " ")
	st.mu.Lock()
	st.errorReplies++
	if _, ok := st.errorCodes[code]; ok || len(st.errorCodes) < maxErrorCodes {
		st.errorCodes[code]++
	}
	st.mu.Unlock()
}

// publishCalls adds the connection's pending run of calls to its stripe.
func (c *conn) publishCalls() { c.counted.flush(c.stats) }

// runCounted runs cmd, timing the calls that are sampled, and counts it.
func (c *conn) runCounted(cmd *command, args [][]byte) {
	stripe, errs := c.stats, c.out.errs
	if c.counted.timeNext(stripe, cmd.slot) {
		began := time.Now()
		cmd.run(c, args)
		stripe.timedNs[cmd.slot].Add(uint64(time.Since(began)))
		stripe.timed[cmd.slot].Add(1)
	} else {
		cmd.run(c, args)
	}
	// Counted once it has run, as Redis counts: INFO does not count itself.
	c.counted.add(stripe, cmd.slot, c.out.errs != errs)
}

// laterCount is a call made inside a transaction, counted once the
// transaction's run stands.
type laterCount struct {
	slot   int
	failed bool
}

// countLater counts a call made inside a transaction (EXEC's queue, a
// script's redis.call) when the transaction ends: a store may run its body
// more than once.
func (c *conn) countLater(slot int, failed bool) {
	c.later = append(c.later, laterCount{slot, failed})
}

// countNow counts the calls and error replies of the transaction's run that
// stood, the errors with onError.
func (c *conn) countNow(onError func(string)) {
	for _, l := range c.later {
		c.counted.add(c.stats, l.slot, l.failed)
	}
	if onError != nil {
		for _, msg := range c.laterErrors {
			onError(msg)
		}
	}
}

// countRejected counts a command refused before it ran.
func (c *conn) countRejected(slot int) { c.stats.rejected[slot].Add(1) }

// CommandCount is how many times a command was called, and how many of those
// answered an error (unknown command, wrong arguments, refused before AUTH,
// or a failure of its own). Subcommands count apart, as "client|id";
// commands the server does not know count as "unknown".
type CommandCount struct {
	Command       string
	Calls, Failed uint64
}

// CommandCounts appends to dst the counts of every command that has been
// called since the server started, in the command table's order.
func (s *Server) CommandCounts(dst []CommandCount) []CommandCount {
	for slot, name := range slotNames {
		calls, failed, rejected, _ := s.slotCounts(slot)
		if calls+rejected > 0 {
			dst = append(dst, CommandCount{Command: name, Calls: calls + rejected, Failed: failed + rejected})
		}
	}
	return dst
}

// slotCounts sums one command's counts over the stripes; est is the time
// its calls took, extrapolated from those timed.
func (s *Server) slotCounts(slot int) (calls, failed, rejected uint64, est time.Duration) {
	var timed, timedNs uint64
	for _, stripe := range s.stats.stripes {
		calls += stripe.calls[slot].Load()
		failed += stripe.failed[slot].Load()
		rejected += stripe.rejected[slot].Load()
		timed += stripe.timed[slot].Load()
		timedNs += stripe.timedNs[slot].Load()
	}
	if timed > 0 {
		est = time.Duration(float64(timedNs) / float64(timed) * float64(calls))
	}
	return calls, failed, rejected, est
}

// CommandStat is what INFO commandstats reports of one command.
type CommandStat struct {
	Name  string // as Redis names it: "get", "client|list"
	Calls int64  // times it ran
	// Duration is the time spent running it: measured on a sample of the
	// calls (the first 64, then one in 256) and extrapolated to all of them.
	Duration      time.Duration
	RejectedCalls int64 // refused before running: arity, NOAUTH, ...
	FailedCalls   int64 // ran and answered an error
}

// CommandStats returns the statistics of every command that has been called
// or refused, in the order of the command table. As in Redis, a container
// (CLIENT) and unknown commands are not listed: only what runs is.
func (s *Server) CommandStats() []CommandStat {
	var out []CommandStat
	for _, cmd := range allCommands() {
		if cmd.subs != nil {
			continue
		}
		calls, failed, rejected, est := s.slotCounts(cmd.slot)
		if calls+rejected == 0 {
			continue
		}
		out = append(out, CommandStat{Name: cmd.name, Calls: int64(calls), Duration: est,
			RejectedCalls: int64(rejected), FailedCalls: int64(failed)})
	}
	return out
}

// ErrorStats returns the error replies sent, by error code ("ERR",
// "WRONGPASS", ...), and their total, which also counts the codes past the
// first 128.
func (s *Server) ErrorStats() (byCode map[string]int64, total int64) {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	return maps.Clone(s.stats.errorCodes), s.stats.errorReplies
}

// commandsProcessed is INFO's total_commands_processed: the calls of every
// command, as Redis counts them (refused commands are not processed).
func (s *Server) commandsProcessed() int64 {
	var n uint64
	for _, stripe := range s.stats.stripes {
		for i := range stripe.calls {
			n += stripe.calls[i].Load()
		}
	}
	return int64(n)
}

// allCommands lists the commands and subcommands in table order.
func allCommands() []*command {
	var list []*command
	for _, cmd := range commandList {
		list = append(list, cmd)
		list = append(list, cmd.subOrder...)
	}
	return list
}

// sortedCodes lists error codes in the order INFO errorstats shows them.
func sortedCodes(byCode map[string]int64) []string {
	return slices.Sorted(maps.Keys(byCode))
}

// Clients reports the connections open now and those refused since start
// because RESP_MAX_CLIENTS were open.
func (s *Server) Clients() (open int, refused int64) {
	s.mu.Lock()
	open = len(s.conns)
	s.mu.Unlock()
	return open, s.rejectedConns.Load()
}
