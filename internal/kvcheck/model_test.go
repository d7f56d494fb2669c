package kvcheck

import (
	"strings"
	"testing"
	"time"
)

// at builds an op on key "k" that ran from call to ret milliseconds.
func at(call, ret int64, in Input, out Output) Op {
	if in.Key == "" {
		in.Key = "k"
	}
	c, r := call*ms, ret*ms
	if ret < 0 {
		r = Infinity
	}
	in.Call, in.Return = c, r
	return Op{In: in, Out: out, Call: c, Return: r}
}

var (
	ok      = Output{}
	missing = Output{Found: false}
)

func val(v string) Output    { return Output{Found: true, Value: v} }
func num(n int64) Output     { return Output{Int: n} }
func flag(b bool) Output     { return Output{Flag: b} }
func status(s Status) Output { return Output{Status: s} }

func set(v string) Input { return Input{Kind: Set, Value: v} }
func setTTL(v string, ttl time.Duration) Input {
	return Input{Kind: Set, Value: v, Expiry: ExpTTL, TTL: ttl}
}

var get = Input{Kind: Get}

func TestModel(t *testing.T) {
	tests := []struct {
		name  string
		ops   []Op
		legal bool
	}{
		{"read your write", []Op{at(0, 1, set("a"), ok), at(2, 3, get, val("a"))}, true},
		{"stale read", []Op{at(0, 1, set("a"), ok), at(2, 3, set("b"), ok), at(4, 5, get, val("a"))}, false},
		{"concurrent write may be seen or not", []Op{at(0, 10, set("a"), ok), at(2, 3, get, missing), at(4, 5, get, val("a"))}, true},
		{"no going back", []Op{at(0, 10, set("a"), ok), at(2, 3, get, val("a")), at(4, 5, get, missing)}, false},
		{"lost increment", []Op{
			at(0, 1, Input{Kind: Increment, Delta: 1}, num(1)),
			at(2, 3, Input{Kind: Increment, Delta: 1}, num(1)),
		}, false},
		{"concurrent increments", []Op{
			at(0, 5, Input{Kind: Increment, Delta: 1}, num(2)),
			at(1, 4, Input{Kind: Increment, Delta: 1}, num(1)),
			at(6, 7, get, val("2")),
		}, true},
		{"increment of a string", []Op{at(0, 1, set("x"), ok), at(2, 3, Input{Kind: Increment, Delta: 1}, status(NotInteger))}, true},
		{"increment of a non-canonical integer", []Op{at(0, 1, set("007"), ok), at(2, 3, Input{Kind: Increment, Delta: 1}, num(8))}, false},
		{"overflow", []Op{at(0, 1, set("9223372036854775807"), ok), at(2, 3, Input{Kind: Increment, Delta: 1}, status(Overflow))}, true},
		{"append and prepend", []Op{
			at(0, 1, Input{Kind: Append, Value: "b"}, val("b")),
			at(2, 3, Input{Kind: Append, Value: "a", Prepend: true}, val("ab")),
			at(4, 5, Input{Kind: Append, Value: "cd", Length: true}, num(4)),
			at(6, 7, get, val("abcd")),
		}, true},
		{"append too long", []Op{
			at(0, 1, set("abc"), ok),
			at(2, 3, Input{Kind: Append, Value: "d", MaxRunes: 3}, status(TooLong)),
			at(4, 5, get, val("abc")),
		}, true},
		{"check-and-set", []Op{
			at(0, 1, Input{Kind: CompareAndSet, Compare: "x", Value: "a"}, flag(true)),
			at(2, 3, Input{Kind: CompareAndSet, Compare: "x", Value: "b"}, flag(false)),
			at(4, 5, Input{Kind: CompareAndSet, Compare: "a", Value: "c"}, flag(true)),
			at(6, 7, get, val("c")),
		}, true},
		{"check-and-set that should have failed", []Op{
			at(0, 1, set("a"), ok),
			at(2, 3, Input{Kind: CompareAndSet, Compare: "x", Value: "b"}, flag(true)),
		}, false},
		{"set nx get", []Op{
			at(0, 1, Input{Kind: Set, Value: "a", Cond: IfAbsent, Stored: true}, flag(true)),
			at(2, 3, Input{Kind: Set, Value: "b", Cond: IfAbsent, ReturnOld: true}, val("a")),
			at(4, 5, Input{Kind: Set, Value: "c", Cond: IfPresent, Stored: true}, flag(true)),
			at(6, 7, get, val("c")),
		}, true},
		{"getdel and delete", []Op{
			at(0, 1, set("a"), ok),
			at(2, 3, Input{Kind: GetDelete}, val("a")),
			at(4, 5, Input{Kind: Delete}, flag(false)),
			at(6, 7, get, missing),
		}, true},
		{"expiry passes", []Op{at(0, 1, setTTL("a", 100*time.Millisecond), ok), at(50, 51, get, val("a")), at(200, 201, get, missing)}, true},
		{"expired key read", []Op{at(0, 1, setTTL("a", 100*time.Millisecond), ok), at(200, 201, get, val("a"))}, false},
		{"expired too early", []Op{at(0, 1, setTTL("a", 100*time.Millisecond), ok), at(50, 51, get, missing)}, false},
		{"either side of the instant", []Op{at(0, 1, setTTL("a", 100*time.Millisecond), ok), at(99, 101, get, val("a"))}, true},
		{"either side, the other way", []Op{at(0, 1, setTTL("a", 100*time.Millisecond), ok), at(99, 101, get, missing)}, true},
		{"within the tolerance", []Op{at(0, 1, setTTL("a", 100*time.Millisecond), ok), at(102, 103, get, val("a"))}, true},
		{"beyond the tolerance", []Op{at(0, 1, setTTL("a", 100*time.Millisecond), ok), at(104, 105, get, val("a"))}, false},
		{"gone for good once seen gone", []Op{
			at(0, 1, setTTL("a", 100*time.Millisecond), ok), at(99, 101, get, missing), at(99, 101, get, val("a")), at(102, 102, get, missing),
		}, true},
		{"keepttl keeps it", []Op{
			at(0, 1, setTTL("1", 100*time.Millisecond), ok),
			at(10, 11, Input{Kind: Increment, Delta: 1, Expiry: ExpKeep}, num(2)),
			at(200, 201, get, missing),
		}, true},
		{"keepttl must keep it", []Op{
			at(0, 1, setTTL("1", 100*time.Millisecond), ok),
			at(10, 11, Input{Kind: Increment, Delta: 1, Expiry: ExpKeep}, num(2)),
			at(200, 201, get, val("2")),
		}, false},
		{"increment of an expired key starts at zero", []Op{
			at(0, 1, setTTL("5", 100*time.Millisecond), ok),
			at(200, 201, Input{Kind: Increment, Delta: 1, Expiry: ExpKeep}, num(1)),
			at(400, 401, get, val("1")),
		}, true},
		{"pttl", []Op{at(0, 1, setTTL("a", 100*time.Millisecond), ok), at(50, 50, Input{Kind: TTL}, num(50))}, true},
		{"pttl wrong", []Op{at(0, 1, setTTL("a", 100*time.Millisecond), ok), at(50, 50, Input{Kind: TTL}, num(80))}, false},
		{"ttl in seconds", []Op{at(0, 1, setTTL("a", 2*time.Second), ok), at(50, 50, Input{Kind: TTL, Seconds: true}, num(2))}, true},
		{"pttl of a key without expiry", []Op{at(0, 1, set("a"), ok), at(2, 3, Input{Kind: TTL}, num(-1)), at(4, 5, Input{Kind: Delete}, flag(true)), at(6, 7, Input{Kind: TTL}, num(-2))}, true},
		{"pexpire gt", []Op{
			at(0, 1, setTTL("a", 100*time.Millisecond), ok),
			at(10, 11, Input{Kind: Expire, Expiry: ExpTTL, TTL: 50 * time.Millisecond, ExpireIf: ExpireIfLater}, flag(false)),
			at(20, 21, Input{Kind: Expire, Expiry: ExpTTL, TTL: 500 * time.Millisecond, ExpireIf: ExpireIfLater}, flag(true)),
			at(200, 201, get, val("a")),
		}, true},
		{"pexpire gt that should have failed", []Op{
			at(0, 1, setTTL("a", 100*time.Millisecond), ok),
			at(10, 11, Input{Kind: Expire, Expiry: ExpTTL, TTL: 50 * time.Millisecond, ExpireIf: ExpireIfLater}, flag(true)),
		}, false},
		{"pexpire nx on a key without expiry, then persist", []Op{
			at(0, 1, set("a"), ok),
			at(2, 3, Input{Kind: Expire, Expiry: ExpTTL, TTL: 50 * time.Millisecond, ExpireIf: ExpireIfNone}, flag(true)),
			at(4, 5, Input{Kind: Expire, Expiry: ExpNone}, flag(true)),
			at(6, 7, Input{Kind: Expire, Expiry: ExpNone}, flag(false)),
			at(200, 201, get, val("a")),
		}, true},
		{"unknown write may have happened", []Op{at(0, -1, set("a"), status(Unknown)), at(5, 6, get, val("a"))}, true},
		{"unknown write may not have happened", []Op{at(0, -1, set("a"), status(Unknown)), at(5, 6, get, missing)}, true},
		{"unknown write happens at most once", []Op{
			at(0, 1, Input{Kind: Increment, Delta: 1}, num(1)),
			at(2, -1, Input{Kind: Increment, Delta: 1}, status(Unknown)),
			at(5, 6, get, val("3")),
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Check(tt.ops, Options{})
			if err := res.Err(); (err == nil) != tt.legal {
				t.Fatalf("legal = %v, want %v: %v", err == nil, tt.legal, err)
			}
		})
	}
}

func TestViolationExplainsItself(t *testing.T) {
	dir := t.TempDir()
	res := Check([]Op{at(0, 1, set("a"), ok), at(2, 3, set("b"), ok), at(4, 5, get, val("a"))}, Options{VisualizeDir: dir})
	if len(res.Illegal) != 1 {
		t.Fatalf("violations: %+v", res)
	}
	v := res.Illegal[0]
	if !strings.Contains(v.Explanation, `cannot follow:`) || !strings.Contains(v.Explanation, `get "k" → "a"`) {
		t.Errorf("explanation does not name the read:\n%s", v.Explanation)
	}
	if v.Visual == "" {
		t.Error("no visualization written")
	}
}

func TestRestore(t *testing.T) {
	restore := func(from, to int64, out Output) Op {
		o := at(from, to, Input{Kind: Restore, LoadFrom: 1000 * ms, LoadTo: 1001 * ms}, out)
		o.Out.TTLCall, o.Out.TTLReturn = 1002*ms, 1003*ms
		return o
	}
	tests := []struct {
		name  string
		ops   []Op
		legal bool
	}{
		{"a value held during the write", []Op{at(0, 1, set("a"), ok), at(10, 11, set("b"), ok), restore(5, 15, Output{Found: true, Value: "a", Int: -1})}, true},
		{"the other one", []Op{at(0, 1, set("a"), ok), at(10, 11, set("b"), ok), restore(5, 15, Output{Found: true, Value: "b", Int: -1})}, true},
		{"a value from before the write", []Op{at(0, 1, set("a"), ok), at(2, 3, set("b"), ok), restore(5, 15, Output{Found: true, Value: "a", Int: -1})}, false},
		{"expired while down", []Op{at(0, 1, setTTL("a", 500*time.Millisecond), ok), restore(5, 15, missing)}, true},
		{"came back though expired", []Op{at(0, 1, setTTL("a", 500*time.Millisecond), ok), restore(5, 15, Output{Found: true, Value: "a", Int: 1})}, false},
		{"expiry kept", []Op{at(0, 1, setTTL("a", 5*time.Second), ok), restore(5, 15, Output{Found: true, Value: "a", Int: 3999})}, true},
		{"expiry lost", []Op{at(0, 1, setTTL("a", 5*time.Second), ok), restore(5, 15, Output{Found: true, Value: "a", Int: -1})}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Check(tt.ops, Options{}).Err(); (err == nil) != tt.legal {
				t.Fatalf("legal = %v, want %v: %v", err == nil, tt.legal, err)
			}
		})
	}
}
