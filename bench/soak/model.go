package main

import (
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"
)

// never is the expiry bound of an entry without an expiry.
const never = math.MaxInt64

// state is what the model knows about one key. The server computes a TTL's expiry
// from its own clock at some moment inside the request's round trip, so the model
// keeps an interval: before aliveUntil the entry has surely not expired, after
// deadAfter it surely has, and in between either answer is right.
type state struct {
	present    bool
	value      string
	aliveUntil int64 // Unix ns; never = no expiry
	deadAfter  int64 // Unix ns; never = no expiry
	// unknown is set after an answer the model could not explain (or a transport
	// error): the next request for the key is a GET whose answer is adopted, so
	// one failure is counted once rather than cascading.
	unknown bool
}

// absent is the state of a key that is surely not in the cache.
var absent = state{}

// expiryKind says which expiry parameter a write sends.
type expiryKind uint8

const (
	expiryNone expiryKind = iota // no parameter: /put clears the expiry, the others keep it
	expiryTTL                    // "ttl": seconds from the server's now
	expiryAt                     // "expire": absolute Unix seconds
)

type expiry struct {
	kind    expiryKind
	seconds int64 // the ttl, or the absolute Unix time
}

// bounds is the expiry interval of the entry a write leaves behind. t0 and t1
// bracket the request; keep says whether a write without an expiry parameter
// keeps the old one (every operation but /put, when the key was found).
func (e expiry) bounds(t0, t1 int64, keep bool, old state) (aliveUntil, deadAfter int64) {
	switch e.kind {
	case expiryTTL:
		return t0 + e.seconds*1e9, t1 + e.seconds*1e9
	case expiryAt:
		return e.seconds * 1e9, e.seconds * 1e9
	}
	if keep {
		return old.aliveUntil, old.deadAfter
	}
	return never, never
}

// opKind names the operations the workers mix.
type opKind uint8

const (
	opGet opKind = iota
	opPut
	opDelete
	opCheckAndSet
	opIncrement
	opAppend
	opKinds
)

var opNames = [opKinds]string{"get", "put", "delete", "checkandset", "increment", "append"}

// op is one request and what the model needs to predict its answer.
type op struct {
	kind    opKind
	value   string // put/checkandset: the new value; append: the fragment
	compare string // checkandset
	delta   int64  // increment: the signed amount the server will add
	prepend bool   // append: /prepend
	exp     expiry

	// The request as sent.
	method string
	uri    string // path and query
	body   []byte // JSON, or nil
}

// outcome is one answer the server may rightly give and the state it leaves.
type outcome struct {
	status int
	body   string
	next   state
}

// The answers' messages, byte for byte as the HTTP contract has them.
const (
	msgPutOK         = "Key inserted/updated successfully."
	msgDeleted       = "Key deleted."
	msgKeyNotFound   = "Key not found."
	msgCompareFailed = "Current value does not match \"compare\"; nothing changed."
	msgNotInteger    = "The stored value is not a 64-bit integer; nothing changed."
	msgOverflow      = "The result would overflow a signed 64-bit integer; nothing changed."
)

func okBody(msg string) string  { return `{"status":"OK","message":` + jsonString(msg) + `}` }
func errBody(msg string) string { return `{"status":"ERROR","message":` + jsonString(msg) + `}` }
func kvBody(key, value string) string {
	return `{"status":"OK","key":` + jsonString(key) + `,"value":` + jsonString(value) + `}`
}

// jsonString is s as encoding/json writes it, which is what the server's
// writer promises to match byte for byte.
func jsonString(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}

// outcomes returns the answer if the server finds the key live with the model's
// value (only when old.present) and the answer if it does not.
func (o *op) outcomes(key string, old state, t0, t1 int64, maxValue int) (found *outcome, notFound outcome) {
	present := func(value string, keep bool) state {
		alive, dead := o.exp.bounds(t0, t1, keep, old)
		return state{present: true, value: value, aliveUntil: alive, deadAfter: dead}
	}
	var f outcome
	switch o.kind {
	case opGet:
		f = outcome{200, kvBody(key, old.value), old}
		notFound = outcome{404, errBody(msgKeyNotFound), absent}
	case opPut:
		f = outcome{200, okBody(msgPutOK), present(o.value, false)}
		notFound = f
	case opDelete:
		f = outcome{200, okBody(msgDeleted), absent}
		notFound = outcome{404, errBody(msgKeyNotFound), absent}
	case opCheckAndSet:
		if old.value == o.compare {
			f = outcome{200, kvBody(key, o.value), present(o.value, true)}
		} else {
			f = outcome{409, errBody(msgCompareFailed), old}
		}
		notFound = outcome{200, kvBody(key, o.value), present(o.value, false)}
	case opIncrement:
		f = increment(key, old.value, o.delta, present, old)
		notFound = outcome{200, kvBody(key, strconv.FormatInt(o.delta, 10)), present(strconv.FormatInt(o.delta, 10), false)}
	case opAppend:
		next := old.value + o.value
		if o.prepend {
			next = o.value + old.value
		}
		if utf8.RuneCountInString(next) > maxValue {
			f = outcome{400, errBody("The result would be longer than " + strconv.Itoa(maxValue) + " characters; nothing changed."), old}
		} else {
			f = outcome{200, kvBody(key, next), present(next, true)}
		}
		notFound = outcome{200, kvBody(key, o.value), present(o.value, false)}
	}
	if !old.present {
		return nil, notFound
	}
	return &f, notFound
}

// increment predicts /increment on a live value, refusing what Redis's INCRBY
// refuses: non-canonical integers and overflow.
func increment(key, current string, delta int64, present func(string, bool) state, old state) outcome {
	n, err := strconv.ParseInt(current, 10, 64)
	if err != nil || strconv.FormatInt(n, 10) != current {
		return outcome{400, errBody(msgNotInteger), old}
	}
	sum := n + delta
	if (delta > 0 && sum < n) || (delta < 0 && sum > n) {
		return outcome{400, errBody(msgOverflow), old}
	}
	s := strconv.FormatInt(sum, 10)
	return outcome{200, kvBody(key, s), present(s, true)}
}

// verdict is how one answer compared with the model.
type verdict uint8

const (
	verdictOK          verdict = iota // the answer the model predicted
	verdictExpiredMiss                // the key was gone, and its expiry may have passed
	verdictEvictedMiss                // the key was gone although surely unexpired: an LRU eviction
	verdictFailure                    // an answer no correct server gives
)

// checker compares answers with the model.
type checker struct {
	maxValue    int
	slack       int64 // ns of tolerance on both ends of an expiry interval
	evictionsOK bool  // a surely-live key may be missing (the cache is over budget)
}

// judge compares the answer (status, body) to op on key, sent at t0 and answered
// at t1, with the model's state s, and moves s to the state the answer implies.
// On a failure it returns a description.
func (c *checker) judge(s *state, o *op, key string, t0, t1 int64, status int, body []byte) (verdict, string) {
	if s.unknown {
		return c.adopt(s, o, key, status, body)
	}
	found, notFound := o.outcomes(key, *s, t0, t1, c.maxValue)
	matchFound := found != nil && found.status == status && found.body == string(body)
	matchNotFound := notFound.status == status && notFound.body == string(body)
	surelyAlive := s.present && (s.aliveUntil == never || t1 < s.aliveUntil-c.slack)
	surelyDead := s.present && s.deadAfter != never && t0 > s.deadAfter+c.slack

	switch {
	case matchFound && matchNotFound:
		// Both cases answer alike (a /put, or a check-and-set whose compare was the
		// value): the value is known, the expiry is the wider of the two intervals.
		*s = widen(found.next, notFound.next)
		return verdictOK, ""
	case matchFound:
		if surelyDead {
			late := t0 - s.deadAfter
			*s = state{unknown: true}
			return verdictFailure, "answered as if the key were live " + ms(late) + " after its expiry"
		}
		*s = found.next
		return verdictOK, ""
	case matchNotFound:
		was := *s
		*s = notFound.next
		switch {
		case !was.present:
			return verdictOK, ""
		case !surelyAlive:
			return verdictExpiredMiss, ""
		case c.evictionsOK:
			return verdictEvictedMiss, ""
		}
		*s = state{unknown: true}
		return verdictFailure, "LOST: the key was missing though it was written and unexpired (no evictions allowed); expected " +
			describe(found)
	}
	*s = state{unknown: true}
	want := describe(found)
	if found == nil || notFound.body != found.body || notFound.status != found.status {
		if found != nil {
			want += " or "
		} else {
			want = ""
		}
		want += describe(&notFound)
	}
	return verdictFailure, "WRONG answer: got " + strconv.Itoa(status) + " " + clip(string(body)) + "; expected " + want
}

// adopt takes a GET's answer for a key whose state is unknown.
func (c *checker) adopt(s *state, o *op, key string, status int, body []byte) (verdict, string) {
	if o.kind != opGet {
		return verdictFailure, "internal: a key in unknown state was sent " + opNames[o.kind]
	}
	switch {
	case status == 404 && string(body) == errBody(msgKeyNotFound):
		*s = absent
		return verdictOK, ""
	case status == 200:
		var got struct{ Status, Key, Value string }
		if err := json.Unmarshal(body, &got); err == nil && got.Key == key && string(body) == kvBody(key, got.Value) {
			// Live now, with an expiry the model cannot know.
			*s = state{present: true, value: got.Value, aliveUntil: 0, deadAfter: never}
			return verdictOK, ""
		}
	}
	return verdictFailure, "WRONG answer to a GET: got " + strconv.Itoa(status) + " " + clip(string(body))
}

// widen merges two states that hold the same value: the expiry may be either.
func widen(a, b state) state {
	if a.present != b.present || a.value != b.value {
		return state{unknown: true}
	}
	a.aliveUntil = min(a.aliveUntil, b.aliveUntil)
	a.deadAfter = max(a.deadAfter, b.deadAfter)
	return a
}

func describe(o *outcome) string {
	if o == nil {
		return "(nothing)"
	}
	return strconv.Itoa(o.status) + " " + clip(o.body)
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:300] + "…(" + strconv.Itoa(len(s)) + " bytes)"
	}
	return s
}

func ms(ns int64) string { return strconv.FormatFloat(float64(ns)/1e6, 'f', 1, 64) + "ms" }
