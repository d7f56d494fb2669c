package kvcheck

import (
	"math/rand/v2"
	"strconv"
	"time"
)

// Workload is the mix of commands clients send: every single-key command
// each door has, on a small set of keys so that clients collide. Half the
// keys hold counters (increments, numeric check-and-sets), half strings
// (appends, unique values); either now and then gets the other's commands,
// so refusals (not an integer, too long) happen too.
type Workload struct {
	// Prefix starts every key, so that runs on one server do not share keys.
	Prefix string
	// Counters and Strings are how many keys of each class; 8 each if zero.
	Counters, Strings int
	// MaxRunes is the server's MAX_VALUE_LENGTH, which appends run into.
	MaxRunes int
	// NoExpiry leaves expiries out: no TTLs, PEXPIRE, PERSIST or TTL reads.
	NoExpiry bool
	// Transactions is the percentage of RESP commands that are MULTI/EXEC
	// transactions instead (CheckTransactions checks such histories), and
	// Watched the percentage of those guarded by WATCH.
	Transactions, Watched int
}

// Keys are the workload's keys.
func (w *Workload) Keys() []string {
	var keys []string
	for i := range w.counters() {
		keys = append(keys, w.Prefix+"n"+strconv.Itoa(i))
	}
	for i := range w.strings() {
		keys = append(keys, w.Prefix+"s"+strconv.Itoa(i))
	}
	return keys
}

func (w *Workload) counters() int { return cmp0(w.Counters, 8) }
func (w *Workload) strings() int  { return cmp0(w.Strings, 8) }

func cmp0(n, def int) int {
	if n == 0 {
		return def
	}
	return n
}

// Generator draws one client's commands. It remembers the last value the
// client saw of each key, which its check-and-sets compare against.
type Generator struct {
	w      *Workload
	rng    *rand.Rand
	client int
	seq    int64
	seen   map[string]string
}

// Generator returns client's generator; seed makes the run reproducible.
func (w *Workload) Generator(client int, seed uint64) *Generator {
	// A seeded sequence on purpose: a run can be repeated.
	rng := rand.New(rand.NewPCG(seed, uint64(client))) //nolint:gosec // G404: reproducible, not unpredictable
	return &Generator{w: w, rng: rng, client: client, seen: map[string]string{}}
}

// Next is the client's next command for a door ("http" or "resp").
func (g *Generator) Next(door string) Input {
	g.seq++
	if door == "resp" && g.w.Transactions > 0 && g.chance(g.w.Transactions) {
		return g.transaction()
	}
	counter := g.rng.IntN(2) == 0
	var in Input
	if counter {
		in.Key = g.w.Prefix + "n" + strconv.Itoa(g.rng.IntN(g.w.counters()))
	} else {
		in.Key = g.w.Prefix + "s" + strconv.Itoa(g.rng.IntN(g.w.strings()))
	}
	g.fill(&in, door, counter)
	return in
}

// fill draws a command for the key in.Key.
func (g *Generator) fill(in *Input, door string, counter bool) {
	in.MaxRunes = g.w.MaxRunes
	mix := respMix
	if door == "http" {
		mix = httpMix
	}
	pick := g.rng.IntN(mixTotal(mix))
	for _, m := range mix {
		if pick < m.weight {
			m.make(g, in, counter)
			break
		}
		pick -= m.weight
	}
	if g.w.NoExpiry {
		g.dropExpiry(in)
	}
}

// dropExpiry turns an expiry command into a plain one.
func (g *Generator) dropExpiry(in *Input) {
	if in.Expiry == ExpTTL {
		in.Expiry = ExpNone
		if in.Kind != Set {
			in.Expiry = ExpKeep
		}
	}
	switch in.Kind {
	case Expire:
		*in = Input{Kind: Get, Key: in.Key, MaxRunes: in.MaxRunes}
	case TTL:
		in.Kind = Get
	}
}

// Observe records what the client learnt about the key from an answer.
func (g *Generator) Observe(in Input, out Output) {
	if out.Status != OK {
		return
	}
	switch in.Kind {
	case Transaction:
		if !out.Aborted {
			for i, c := range in.Commands {
				g.Observe(c, out.Answers[i])
			}
		}
	case Get:
		if out.Found {
			g.seen[in.Key] = out.Value
		} else {
			delete(g.seen, in.Key)
		}
	case Set:
		if !in.Stored || out.Flag {
			g.seen[in.Key] = in.Value
		}
	case Increment:
		g.seen[in.Key] = strconv.FormatInt(out.Int, 10)
	case Append:
		if !in.Length {
			g.seen[in.Key] = out.Value
		}
	case CompareAndSet:
		if out.Flag {
			g.seen[in.Key] = in.Value
		}
	case Delete, GetDelete:
		delete(g.seen, in.Key)
	}
}

// unique is a value no other command of the run writes.
func (g *Generator) unique() string {
	return "v" + strconv.FormatInt(int64(g.client), 36) + "." + strconv.FormatInt(g.seq, 36)
}

// fragment is a short piece to append, unique in the run.
func (g *Generator) fragment() string {
	return "." + strconv.FormatInt(int64(g.client)<<32|g.seq, 36)
}

func (g *Generator) number() string { return strconv.Itoa(g.rng.IntN(100)) }

// value is a fresh value for the key's class.
func (g *Generator) value(counter bool) string {
	if counter {
		return g.number()
	}
	return g.unique()
}

// chance is true with probability p percent.
func (g *Generator) chance(p int) bool { return g.rng.IntN(100) < p }

// shortTTL is an expiry long enough for reads to see the key and short
// enough for it to pass during the run.
func (g *Generator) shortTTL() time.Duration {
	return time.Duration(30+g.rng.IntN(770)) * time.Millisecond
}

type mixEntry struct {
	weight int
	make   func(g *Generator, in *Input, counter bool)
}

func mixTotal(m []mixEntry) int {
	n := 0
	for _, e := range m {
		n += e.weight
	}
	return n
}

// withTTL gives a write an expiry with probability p percent, in whole
// seconds for HTTP, else mode.
func (g *Generator) withTTL(in *Input, p int, seconds bool, mode ExpiryMode) {
	in.Expiry = mode
	if !g.chance(p) {
		return
	}
	in.Expiry = ExpTTL
	if seconds {
		in.TTL = time.Duration(1+g.rng.IntN(2)) * time.Second
	} else {
		in.TTL = g.shortTTL()
	}
}

func mkGet(_ *Generator, in *Input, _ bool) { in.Kind = Get }

func mkDelete(_ *Generator, in *Input, _ bool) { in.Kind = Delete }

func mkIncrement(seconds bool) func(*Generator, *Input, bool) {
	return func(g *Generator, in *Input, _ bool) {
		in.Kind = Increment
		in.Delta = int64(g.rng.IntN(12) - 2)
		switch {
		case seconds && in.Delta < 0 && g.chance(50):
			in.Verb = "decrement"
		case !seconds && in.Delta == 1 && g.chance(50):
			in.Verb = "incr"
		case !seconds && in.Delta == -1 && g.chance(50):
			in.Verb = "decr"
		case !seconds && in.Delta < 0:
			in.Verb = "decrby"
		}
		if seconds {
			g.withTTL(in, 10, true, ExpKeep)
		} else {
			in.Expiry = ExpKeep
		}
	}
}

func mkAppend(seconds bool) func(*Generator, *Input, bool) {
	return func(g *Generator, in *Input, _ bool) {
		in.Kind = Append
		in.Value = g.fragment()
		if seconds {
			in.Prepend = g.chance(30)
			g.withTTL(in, 10, true, ExpKeep)
		} else {
			in.Length = true
			in.Expiry = ExpKeep
		}
	}
}

func mkCAS(g *Generator, in *Input, counter bool) {
	in.Kind = CompareAndSet
	in.Value = g.value(counter)
	in.Compare = g.value(counter)
	if v, ok := g.seen[in.Key]; ok && g.chance(80) {
		in.Compare = v
	}
	g.withTTL(in, 10, true, ExpKeep)
}

func mkHTTPSet(g *Generator, in *Input, counter bool) {
	in.Kind = Set
	in.Value = g.value(counter)
	g.withTTL(in, 25, true, ExpNone)
}

// mkRESPSet draws among SET's forms and its relatives.
func mkRESPSet(g *Generator, in *Input, counter bool) {
	in.Kind = Set
	in.Value = g.value(counter)
	switch r := g.rng.IntN(10); {
	case r == 0:
		in.Verb, in.ReturnOld = "getset", true
		return
	case r == 1:
		in.Verb, in.Cond, in.Stored = "setnx", IfAbsent, true
		return
	case r < 4:
		in.Cond, in.Stored = SetCond(1+g.rng.IntN(2)), true
	case r < 6:
		in.ReturnOld = true
		in.Cond = SetCond(g.rng.IntN(3))
	}
	mode := ExpNone
	if g.chance(20) {
		mode = ExpKeep
	}
	g.withTTL(in, 30, false, mode)
}

func mkGetDelete(_ *Generator, in *Input, _ bool) { in.Kind = GetDelete }

func mkExpire(g *Generator, in *Input, _ bool) {
	in.Kind = Expire
	in.Expiry = ExpTTL
	in.TTL = g.shortTTL()
	if g.chance(15) {
		in.Verb = "expire"
		in.TTL = time.Second
	}
	in.ExpireIf = [...]ExpireCond{0, 0, ExpireIfNone, ExpireIfSet, ExpireIfLater, ExpireIfEarlier,
		ExpireIfSet | ExpireIfLater, ExpireIfSet | ExpireIfEarlier}[g.rng.IntN(8)]
}

func mkPersist(_ *Generator, in *Input, _ bool) { in.Kind, in.Expiry = Expire, ExpNone }

func mkTTL(g *Generator, in *Input, _ bool) {
	in.Kind = TTL
	in.Seconds = g.chance(15)
}

// classed runs counter for counter keys and str for string keys, but the
// other one pct percent of the time.
func classed(pct int, counter, str func(*Generator, *Input, bool)) func(*Generator, *Input, bool) {
	return func(g *Generator, in *Input, isCounter bool) {
		if isCounter != g.chance(pct) {
			counter(g, in, isCounter)
		} else {
			str(g, in, isCounter)
		}
	}
}

var (
	httpMix = []mixEntry{
		{30, mkGet},
		{30, classed(5, mkIncrement(true), mkAppend(true))},
		{15, mkHTTPSet},
		{12, mkCAS},
		{6, mkDelete},
		{7, classed(5, mkGet, mkAppend(true))},
	}
	respMix = []mixEntry{
		{24, mkGet},
		{20, classed(5, mkIncrement(false), mkAppend(false))},
		{16, mkRESPSet},
		{4, mkGetDelete},
		{4, mkDelete},
		{10, mkExpire},
		{4, mkPersist},
		{14, mkTTL},
		{4, classed(5, mkGet, mkAppend(false))},
	}
)
