package kvcheck

import (
	"fmt"
	"strconv"
	"time"
)

// Kind is what a command does to its one key.
type Kind uint8

const (
	// Get reads the value: GET, HTTP /get.
	Get Kind = iota + 1
	// TTL reads the time left: PTTL (Input.Seconds: TTL).
	TTL
	// Set writes a value under Input.Cond: SET and its options, GETSET,
	// SETNX, HTTP /set.
	Set
	// Delete removes the key and says whether it was there: DEL, HTTP /delete.
	Delete
	// GetDelete removes the key and returns its value: GETDEL.
	GetDelete
	// Increment adds Input.Delta to an integer value: INCRBY, DECRBY,
	// HTTP /increment, /decrement.
	Increment
	// Append adds Input.Value after (Input.Prepend: before) the value:
	// APPEND (which answers the new length), HTTP /append, /prepend.
	Append
	// CompareAndSet writes Input.Value if the key is absent or holds
	// Input.Compare: HTTP /checkandset.
	CompareAndSet
	// Expire changes the expiry of an existing key under Input.ExpireIf:
	// PEXPIRE, EXPIRE and their NX, XX, GT, LT; PERSIST (Input.Expiry ExpNone).
	Expire
	// Restore is a key read back after a restart from a snapshot: it
	// observes the key at some moment of the snapshot's write (the op's
	// window), as of the restart (Input.LoadFrom, Input.LoadTo), with the
	// time left read at Output.TTLCall..TTLReturn.
	Restore
	// Transaction is MULTI, Input.Commands, EXEC over the Redis port: one op
	// on several keys, answered by Output.Answers. Its first Input.Watch
	// commands are GETs sent after WATCH on their keys and before MULTI.
	Transaction
)

var kindNames = [...]string{Get: "get", TTL: "ttl", Set: "set", Delete: "delete", GetDelete: "getdel",
	Increment: "incr", Append: "append", CompareAndSet: "cas", Expire: "expire", Restore: "restore", Transaction: "multi"}

func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "kind" + strconv.Itoa(int(k))
}

// Reads report whether the kind only observes the key. Reads whose outcome is
// unknown are dropped from a history: they constrain nothing.
func (k Kind) Reads() bool { return k == Get || k == TTL || k == Restore }

// SetCond is Set's condition.
type SetCond uint8

// The conditions, as cache.Condition has them.
const (
	Always    SetCond = iota // no condition
	IfAbsent                 // NX, SETNX
	IfPresent                // XX
)

// ExpiryMode says what a write does to the key's expiry.
type ExpiryMode uint8

const (
	// ExpNone removes it (SET without options, HTTP /set without ttl;
	// PERSIST for Expire).
	ExpNone ExpiryMode = iota
	// ExpKeep keeps the current one, none for a new key (KEEPTTL, INCRBY,
	// APPEND, HTTP /increment, /append, /checkandset without ttl).
	ExpKeep
	// ExpTTL sets it to Input.TTL after the moment of the write (PX, EX,
	// PEXPIRE, HTTP ttl).
	ExpTTL
)

// ExpireCond is EXPIRE's options, combined as in cache.ExpireCondition.
type ExpireCond uint8

// The options, as cache.ExpireCondition has them.
const (
	ExpireIfNone    ExpireCond = 1 << iota // NX
	ExpireIfSet                            // XX
	ExpireIfLater                          // GT
	ExpireIfEarlier                        // LT
)

// Input is one single-key command as a client sent it.
type Input struct {
	Kind Kind
	// Verb is the command a door sends when several express the kind
	// ("getset", "setnx", "decrby", "expire"...); "" is the plain one.
	Verb    string
	Key     string
	Value   string // Set, CompareAndSet: the new value; Append: the fragment
	Compare string // CompareAndSet
	Delta   int64  // Increment

	Cond      SetCond
	ReturnOld bool // Set answers the old value (SET ... GET, GETSET)
	Stored    bool // Set answers whether it stored (SETNX, SET NX/XX without GET)
	Prepend   bool // Append
	Length    bool // Append answers the new length in bytes (RESP), not the value
	MaxRunes  int  // Append: the server's MAX_VALUE_LENGTH (and RESP_MAX_VALUE_BYTES, the same)
	Seconds   bool // TTL answers seconds (TTL), not milliseconds (PTTL)

	Expiry   ExpiryMode
	ExpireIf ExpireCond
	TTL      time.Duration // ExpTTL: from the moment the server runs the command

	// The real-time window in which the command ran (Unix ns), for expiry:
	// the model's linearization order may place a read earlier (a bounded-
	// staleness check widens Op.Call), never these.
	Call, Return int64
	// Restore: the restarted server loaded the snapshot within this window.
	LoadFrom, LoadTo int64

	// Transaction: the commands, in order, and how many of them are the
	// reads of watched keys that come before MULTI.
	Commands []Input
	Watch    int
}

// Status is how a command ended.
type Status uint8

// The statuses. NotInteger, Overflow and TooLong are refusals that changed
// nothing.
const (
	OK         Status = iota // answered, whatever it answered
	NotInteger               // an increment of a value that is not an integer
	Overflow                 // an increment past 64 bits
	TooLong                  // an append past MAX_VALUE_LENGTH
	// Unknown means the answer never came or said the store could not
	// confirm the command (503, -UNAVAILABLE): it may have taken effect,
	// once, at any moment after it was sent, or never.
	Unknown
)

var statusNames = [...]string{OK: "ok", NotInteger: "notint", Overflow: "overflow", TooLong: "toolong", Unknown: "unknown"}

func (s Status) String() string { return statusNames[s] }

// Output is what the server answered.
type Output struct {
	Status Status
	// Found and Value: Get, GetDelete, Restore (the value); Set with
	// ReturnOld (the old value); Append without Length and CompareAndSet
	// (the new value).
	Found bool
	Value string
	// Int: Increment (the new value), Append with Length, TTL (-2 no key,
	// -1 no expiry), Restore (PTTL after the restart).
	Int int64
	// Flag: Set with Stored (stored), Delete (found), CompareAndSet
	// (swapped), Expire (changed).
	Flag bool
	// Stale marks a read the server said came from an old local copy
	// (HTTP's Warmkv-Stale header).
	Stale bool
	// TTLCall and TTLReturn: Restore's PTTL read window (Unix ns).
	TTLCall, TTLReturn int64
	// Answers: Transaction's, one per command; Aborted: its EXEC answered
	// a null array (a watched key changed) and ran nothing.
	Answers []Output
	Aborted bool
}

// Op is one command of a history: who sent it, what it was, what came back
// and when.
type Op struct {
	Client   int    // the client (one connection, one command at a time)
	Instance int    // which server it went to
	Door     string // "http" or "resp"
	In       Input
	Out      Output
	// Call and Return order the op in the history (Unix ns); Return is
	// Infinity for an op whose outcome is unknown.
	Call, Return int64
	// Took is how long the client waited for the answer, or for giving up.
	Took time.Duration
}

// Infinity is the Return of an op whose outcome is unknown: it may take
// effect at any moment after its call.
const Infinity = int64(1<<63 - 1)

func (in Input) String() string {
	if in.Kind == Transaction {
		return in.transactionString()
	}
	s := in.Kind.String() + " " + strconv.Quote(in.Key)
	switch in.Kind {
	case Set:
		s += " " + strconv.Quote(in.Value) + [...]string{"", " nx", " xx"}[in.Cond]
		if in.ReturnOld {
			s += " get"
		}
	case Append:
		if in.Prepend {
			s = "prepend" + s[len("append"):]
		}
		s += " " + strconv.Quote(in.Value)
	case CompareAndSet:
		s += " " + strconv.Quote(in.Compare) + "→" + strconv.Quote(in.Value)
	case Increment:
		s += " " + strconv.FormatInt(in.Delta, 10)
	case Expire:
		for _, c := range []struct {
			f ExpireCond
			n string
		}{{ExpireIfNone, " nx"}, {ExpireIfSet, " xx"}, {ExpireIfLater, " gt"}, {ExpireIfEarlier, " lt"}} {
			if in.ExpireIf&c.f != 0 {
				s += c.n
			}
		}
	}
	switch in.Expiry {
	case ExpKeep:
		if in.Kind != Expire && in.Kind.writes() {
			s += " keepttl"
		}
	case ExpTTL:
		s += " ttl=" + in.TTL.String()
	case ExpNone:
		if in.Kind == Expire {
			s += " persist"
		}
	}
	return s
}

// writes reports whether the kind can change the key.
func (k Kind) writes() bool { return !k.Reads() }

func (out Output) describe(in Input) string {
	if out.Status != OK {
		return out.Status.String()
	}
	if in.Kind == Transaction {
		return out.describeTransaction(in)
	}
	value := func() string {
		if !out.Found {
			return "nil"
		}
		return strconv.Quote(out.Value)
	}
	switch in.Kind {
	case Get, GetDelete:
		if out.Stale {
			return value() + " (stale)"
		}
		return value()
	case Restore:
		return fmt.Sprintf("%s pttl=%d", value(), out.Int)
	case TTL, Increment:
		return strconv.FormatInt(out.Int, 10)
	case Append:
		if in.Length {
			return "len " + strconv.FormatInt(out.Int, 10)
		}
		return value()
	case Set:
		switch {
		case in.ReturnOld:
			return "old " + value()
		case in.Stored:
			return "stored " + strconv.FormatBool(out.Flag)
		}
		return "ok"
	case CompareAndSet:
		return "swapped " + strconv.FormatBool(out.Flag)
	}
	return strconv.FormatBool(out.Flag)
}
