package kvcheck

import (
	"hash/maphash"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/anishathalye/porcupine"
)

// The sequential specification: one key's state and what each command does to
// it. It is nondeterministic in one way only, expiry: a key whose expiry
// instant may or may not have passed during a command's window may be either
// alive or gone, and the command's answer usually says which.

// state is one key. The expiry instant is known only to lie in [dLo, dHi]
// (Unix ns): the server reads its clock somewhere inside the window of the
// command that set it, and counts whole milliseconds. dHi == 0: no expiry.
type state struct {
	present  bool
	value    string
	dLo, dHi int64
}

var absent = state{}

func (s state) expires() bool { return s.dHi != 0 }

// ms is a millisecond in Unix ns.
const ms = int64(time.Millisecond)

// DefaultTolerance is the clock tolerance for expiry: a key whose expiry
// instant lies within this much of a command's window may be alive or gone
// at that command. The client and the servers read one host's clock, so it
// only has to absorb rounding: warmkv and Redis count whole milliseconds,
// Redis expires a key after its instant and warmkv at it.
const DefaultTolerance = 2 * time.Millisecond

// candidates are the states the key may be in when a command with window
// [call, ret] runs: gone if its expiry may have passed, alive if it may not.
func (s state) candidates(call, ret, tol int64) []state {
	if !s.present || !s.expires() {
		return []state{s}
	}
	expiredSure := s.dHi != Infinity && call >= sat(s.dHi, tol)
	aliveSure := ret < s.dLo-tol
	switch {
	case expiredSure:
		return []state{absent}
	case aliveSure:
		return []state{s}
	}
	return []state{s, absent}
}

// sat is a+b saturating at Infinity.
func sat(a, b int64) int64 {
	if a > Infinity-b {
		return Infinity
	}
	return a + b
}

// step returns every state the key can be in after in answered out from s;
// none if the answer is impossible. A write whose outcome is unknown may
// also have had no effect: wherever the search places it, both remain
// possible, so it need not be tried at every later moment to stand for
// "never", which made the search blow up on histories with many of them.
func step(s state, in Input, out Output, tol int64) []state {
	var next []state
	for _, p := range s.candidates(in.Call, in.Return, tol) {
		next = append(next, apply(p, in, out, tol)...)
	}
	if out.Status == Unknown {
		next = append(next, s)
	}
	return next
}

// expiryAfter is the expiry a write with in's mode leaves on the key it
// finds as p.
func expiryAfter(p state, in Input) (lo, hi int64) {
	switch in.Expiry {
	case ExpKeep:
		if p.present {
			return p.dLo, p.dHi
		}
		return 0, 0
	case ExpTTL:
		return in.Call + int64(in.TTL) - ms, sat(in.Return, int64(in.TTL))
	}
	return 0, 0
}

func written(p state, in Input, value string) state {
	lo, hi := expiryAfter(p, in)
	return state{present: true, value: value, dLo: lo, dHi: hi}
}

// apply runs one command on the key as found (p, alive or gone) and returns
// the states consistent with the answer.
func apply(p state, in Input, out Output, tol int64) []state {
	unknown := out.Status == Unknown
	one := func(ok bool, s state) []state {
		if ok {
			return []state{s}
		}
		return nil
	}
	switch in.Kind {
	case Get:
		return one(out.Status == OK && sameValue(p, out), p)
	case TTL:
		return one(out.Status == OK && ttlMatches(p, out.Int, in.Seconds, in.Call, in.Return, tol), p)
	case Restore:
		return one(out.Status == OK && restoreMatches(p, in, out, tol), p)

	case Set:
		stored := in.Cond == Always || (in.Cond == IfAbsent) == !p.present
		next := p
		if stored {
			next = written(p, in, in.Value)
		}
		if unknown {
			return []state{next}
		}
		ok := out.Status == OK &&
			(!in.ReturnOld || sameValue(p, out)) &&
			(!in.Stored || out.Flag == stored)
		return one(ok, next)

	case Delete:
		return one(unknown || out.Status == OK && out.Flag == p.present, absent)
	case GetDelete:
		return one(unknown || out.Status == OK && sameValue(p, out), absent)

	case Increment:
		sum, status := increment(p, in.Delta)
		if status != OK {
			return one(unknown || out.Status == status, p)
		}
		return one(unknown || out.Status == OK && out.Int == sum, written(p, in, strconv.FormatInt(sum, 10)))

	case Append:
		v := in.Value
		if p.present {
			if in.Prepend {
				v = in.Value + p.value
			} else {
				v = p.value + in.Value
			}
		}
		if in.MaxRunes > 0 && utf8.RuneCountInString(v) > in.MaxRunes {
			return one(unknown || out.Status == TooLong, p)
		}
		answered := out.Status == OK &&
			(in.Length && out.Int == int64(len(v)) || !in.Length && out.Found && out.Value == v)
		return one(unknown || answered, written(p, in, v))

	case CompareAndSet:
		swapped := !p.present || p.value == in.Compare
		next := p
		if swapped {
			next = written(p, in, in.Value)
		}
		return one(unknown || out.Status == OK && out.Flag == swapped, next)

	case Expire:
		if !p.present {
			return one(unknown || out.Status == OK && !out.Flag, p)
		}
		var next []state
		for _, changed := range expireOutcomes(p, in, tol) {
			if !unknown && (out.Status != OK || out.Flag != changed) {
				continue
			}
			s := p
			if changed {
				s.dLo, s.dHi = expiryAfter(p, in)
			}
			next = append(next, s)
		}
		return next
	}
	return nil
}

// sameValue reports whether a read's answer is the key as p holds it.
func sameValue(p state, out Output) bool {
	return out.Found == p.present && (!p.present || out.Value == p.value)
}

// increment is what INCRBY delta does to p: the sum, or why not. An integer
// is what Redis takes for one: canonical decimal, 64-bit.
func increment(p state, delta int64) (int64, Status) {
	n := int64(0)
	if p.present {
		var err error
		n, err = strconv.ParseInt(p.value, 10, 64)
		if err != nil || strconv.FormatInt(n, 10) != p.value {
			return 0, NotInteger
		}
	}
	sum := n + delta
	if (delta > 0 && sum < n) || (delta < 0 && sum > n) {
		return 0, Overflow
	}
	return sum, OK
}

// expireOutcomes are the answers an expiry change may get from p: the
// condition compares expiry instants that are known only to intervals, so
// "later" and "earlier" can go either way when the intervals overlap.
func expireOutcomes(p state, in Input, tol int64) []bool {
	if in.Expiry != ExpTTL { // PERSIST: it removes an expiry there is
		return []bool{p.expires()}
	}
	c := in.ExpireIf
	if c&ExpireIfNone != 0 && p.expires() || c&ExpireIfSet != 0 && !p.expires() {
		return []bool{false}
	}
	nLo, nHi := expiryAfter(p, in)
	// No expiry is infinitely late: never later, always earlier.
	later, earlier := []bool{false}, []bool{true}
	if p.expires() {
		later = either(nLo > sat(p.dHi, tol), nHi <= p.dLo-tol)
		earlier = either(nHi < p.dLo-tol, nLo >= sat(p.dHi, tol))
	}
	switch {
	case c&ExpireIfLater != 0:
		return later
	case c&ExpireIfEarlier != 0:
		return earlier
	}
	return []bool{true}
}

// either is the outcomes of a comparison that is surely true, surely false,
// or undecided.
func either(surelyTrue, surelyFalse bool) []bool {
	switch {
	case surelyTrue:
		return []bool{true}
	case surelyFalse:
		return []bool{false}
	}
	return []bool{true, false}
}

// ttlMatches reports whether a TTL answer (ms, or whole seconds rounded as
// Redis rounds them) read within [call, ret] fits p.
func ttlMatches(p state, left int64, seconds bool, call, ret, tol int64) bool {
	switch {
	case left == -2:
		return !p.present
	case !p.present:
		return false
	case left == -1:
		return !p.expires()
	case left < 0 || !p.expires():
		return false
	}
	lo, hi := (left-1)*ms, (left+1)*ms
	if seconds {
		lo, hi = left*1000*ms-501*ms, left*1000*ms+501*ms
	}
	// The expiry the answer implies lies in [call+lo, ret+hi]; it must meet
	// the interval the model knows, within the tolerance.
	return call+lo <= sat(p.dHi, tol) && sat(ret, hi) >= p.dLo-tol
}

// restoreMatches reports whether a key read back after a restart fits p, the
// key at a moment of the snapshot's write: restored as it was unless it
// expired before the load, and with the same expiry.
func restoreMatches(p state, in Input, out Output, tol int64) bool {
	if !p.present {
		return !out.Found
	}
	expiredAtLoad := p.expires() && p.dHi != Infinity && in.LoadFrom >= sat(p.dHi, tol)
	aliveAtLoad := !p.expires() || in.LoadTo < p.dLo-tol
	if !out.Found {
		return !aliveAtLoad
	}
	return !expiredAtLoad && out.Value == p.value &&
		ttlMatches(p, out.Int, false, out.TTLCall, out.TTLReturn, tol)
}

var hashSeed = maphash.MakeSeed()

func hashState(s state) uint64 {
	h := maphash.String(hashSeed, s.value)
	if s.present {
		h ^= 0x9e3779b97f4a7c15
	}
	return h ^ uint64(s.dLo)*0xbf58476d1ce4e5b9 ^ uint64(s.dHi)*0x94d049bb133111eb
}

func (s state) String() string {
	if !s.present {
		return "absent"
	}
	v := strconv.Quote(s.value)
	if s.expires() {
		v += " expires " + clock(s.dLo) + "…" + clock(s.dHi)
	}
	return v
}

// clock shows a Unix ns instant as the time of day, to the microsecond.
func clock(ns int64) string {
	if ns == Infinity {
		return "∞"
	}
	return time.Unix(0, ns).Format("15:04:05.000000")
}

// Model is the porcupine model of single-key commands, partitioned by key:
// a history is linearizable if and only if each key's history is.
func Model(tolerance time.Duration) porcupine.Model {
	tol := int64(tolerance)
	nm := porcupine.NondeterministicModel{
		Partition: partitionByKey,
		Init:      func() []any { return []any{absent} },
		Step: func(s, in, out any) []any {
			next := step(s.(state), in.(Input), out.(Output), tol)
			states := make([]any, len(next))
			for i, n := range next {
				states[i] = n
			}
			return states
		},
		Equal:             func(a, b any) bool { return a.(state) == b.(state) },
		Hash:              func(s any) uint64 { return hashState(s.(state)) },
		DescribeOperation: func(in, out any) string { return in.(Input).String() + " → " + out.(Output).describe(in.(Input)) },
		DescribeState:     func(s any) string { return s.(state).String() },
	}
	return nm.ToModel()
}

func partitionByKey(history []porcupine.Operation) [][]porcupine.Operation {
	index := map[string]int{}
	var parts [][]porcupine.Operation
	for _, op := range history {
		k := op.Input.(Input).Key
		i, ok := index[k]
		if !ok {
			i = len(parts)
			index[k] = i
			parts = append(parts, nil)
		}
		parts[i] = append(parts[i], op)
	}
	return parts
}
