package main

import (
	"strings"
	"testing"
)

// Times in the tests are in seconds since an arbitrary origin, as Unix ns.
const sec = int64(1e9)

func TestJudge(t *testing.T) {
	live := func(v string) state { return state{present: true, value: v, aliveUntil: never, deadAfter: never} }
	// expiring holds v until 10s, surely gone after 11s.
	expiring := func(v string) state { return state{present: true, value: v, aliveUntil: 10 * sec, deadAfter: 11 * sec} }
	get := &op{kind: opGet}
	tests := []struct {
		name        string
		s           state
		o           *op
		at          int64 // t0 (and t1 = at + 1ms)
		evictionsOK bool
		status      int
		body        string
		want        verdict
		wantFailure string // a substring of the failure
		next        state
	}{
		{"get hit", live("v"), get, 5 * sec, false, 200, kvBody("k", "v"), verdictOK, "", live("v")},
		{"get wrong value", live("v"), get, 5 * sec, false, 200, kvBody("k", "w"), verdictFailure, "WRONG", state{unknown: true}},
		{"get truncated body", live("v"), get, 5 * sec, false, 200, kvBody("k", "v")[:10], verdictFailure, "WRONG", state{unknown: true}},
		{"get other key", live("v"), get, 5 * sec, false, 200, kvBody("x", "v"), verdictFailure, "WRONG", state{unknown: true}},
		{"get lost", live("v"), get, 5 * sec, false, 404, errBody(msgKeyNotFound), verdictFailure, "LOST", state{unknown: true}},
		{"get evicted", live("v"), get, 5 * sec, true, 404, errBody(msgKeyNotFound), verdictEvictedMiss, "", absent},
		{"evicted but wrong", live("v"), get, 5 * sec, true, 200, kvBody("k", "w"), verdictFailure, "WRONG", state{unknown: true}},
		{"get before expiry", expiring("v"), get, 5 * sec, false, 404, errBody(msgKeyNotFound), verdictFailure, "LOST", state{unknown: true}},
		{"get in expiry window, present", expiring("v"), get, 10*sec + sec/2, false, 200, kvBody("k", "v"), verdictOK, "", expiring("v")},
		{"get in expiry window, gone", expiring("v"), get, 10*sec + sec/2, false, 404, errBody(msgKeyNotFound), verdictExpiredMiss, "", absent},
		{"get within slack", expiring("v"), get, 11*sec + 10e6, false, 200, kvBody("k", "v"), verdictOK, "", expiring("v")},
		{"get after expiry", expiring("v"), get, 12 * sec, false, 200, kvBody("k", "v"), verdictFailure, "after its expiry", state{unknown: true}},
		{"get after expiry, gone", expiring("v"), get, 12 * sec, false, 404, errBody(msgKeyNotFound), verdictExpiredMiss, "", absent},
		{"get absent", absent, get, 5 * sec, false, 404, errBody(msgKeyNotFound), verdictOK, "", absent},
		{"get absent resurrected", absent, get, 5 * sec, true, 200, kvBody("k", "v"), verdictFailure, "WRONG", state{unknown: true}},
		{"unknown adopts value", state{unknown: true}, get, 5 * sec, false, 200, kvBody("k", "v"), verdictOK, "",
			state{present: true, value: "v", aliveUntil: 0, deadAfter: never}},
		{"unknown adopts absence", state{unknown: true}, get, 5 * sec, false, 404, errBody(msgKeyNotFound), verdictOK, "", absent},
		{"put with ttl", live("v"), &op{kind: opPut, value: "w", exp: expiry{expiryTTL, 3}}, 5 * sec, false, 200, okBody(msgPutOK), verdictOK, "",
			state{present: true, value: "w", aliveUntil: 8 * sec, deadAfter: 8*sec + 1e6}},
		{"put at", live("v"), &op{kind: opPut, value: "w", exp: expiry{expiryAt, 9}}, 5 * sec, false, 200, okBody(msgPutOK), verdictOK, "",
			state{present: true, value: "w", aliveUntil: 9 * sec, deadAfter: 9 * sec}},
		{"put clears expiry", expiring("v"), &op{kind: opPut, value: "w"}, 5 * sec, false, 200, okBody(msgPutOK), verdictOK, "", live("w")},
		{"delete", live("v"), &op{kind: opDelete}, 5 * sec, false, 200, okBody(msgDeleted), verdictOK, "", absent},
		{"delete absent", absent, &op{kind: opDelete}, 5 * sec, false, 200, okBody(msgDeleted), verdictFailure, "WRONG", state{unknown: true}},
		{"append keeps expiry", expiring("ab"), &op{kind: opAppend, value: "c"}, 5 * sec, false, 200, kvBody("k", "abc"), verdictOK, "",
			state{present: true, value: "abc", aliveUntil: 10 * sec, deadAfter: 11 * sec}},
		{"prepend", live("ab"), &op{kind: opAppend, value: "c", prepend: true}, 5 * sec, false, 200, kvBody("k", "cab"), verdictOK, "", live("cab")},
		{"append to an expired key", expiring("ab"), &op{kind: opAppend, value: "c"}, 10*sec + sec/2, false, 200, kvBody("k", "c"), verdictExpiredMiss, "", live("c")},
		{"append too long", live(strings.Repeat("x", 255)), &op{kind: opAppend, value: "yz"}, 5 * sec, false, 400,
			errBody("The result would be longer than 256 characters; nothing changed."), verdictOK, "", live(strings.Repeat("x", 255))},
		{"append too long accepted", live(strings.Repeat("x", 255)), &op{kind: opAppend, value: "yz"}, 5 * sec, false, 200,
			kvBody("k", strings.Repeat("x", 255)+"yz"), verdictFailure, "WRONG", state{unknown: true}},
		{"increment", live("41"), &op{kind: opIncrement, delta: 1}, 5 * sec, false, 200, kvBody("k", "42"), verdictOK, "", live("42")},
		{"increment absent", absent, &op{kind: opIncrement, delta: -3}, 5 * sec, false, 200, kvBody("k", "-3"), verdictOK, "", live("-3")},
		{"increment non-canonical", live("007"), &op{kind: opIncrement, delta: 1}, 5 * sec, false, 400, errBody(msgNotInteger), verdictOK, "", live("007")},
		{"increment overflow", live("9223372036854775807"), &op{kind: opIncrement, delta: 1}, 5 * sec, false, 400, errBody(msgOverflow), verdictOK, "",
			live("9223372036854775807")},
		{"increment ambiguous widens expiry", expiring("0"), &op{kind: opIncrement, delta: 5}, 10*sec + sec/2, false, 200, kvBody("k", "5"), verdictOK, "",
			state{present: true, value: "5", aliveUntil: 10 * sec, deadAfter: never}},
		{"checkandset match", live("a"), &op{kind: opCheckAndSet, compare: "a", value: "b"}, 5 * sec, false, 200, kvBody("k", "b"), verdictOK, "", live("b")},
		{"checkandset mismatch", live("a"), &op{kind: opCheckAndSet, compare: "x", value: "b"}, 5 * sec, false, 409, errBody(msgCompareFailed), verdictOK, "", live("a")},
		{"checkandset mismatch stored", live("a"), &op{kind: opCheckAndSet, compare: "x", value: "b"}, 5 * sec, false, 200, kvBody("k", "b"), verdictFailure, "LOST",
			state{unknown: true}},
		{"checkandset on expired", expiring("a"), &op{kind: opCheckAndSet, compare: "x", value: "b"}, 12 * sec, false, 200, kvBody("k", "b"), verdictExpiredMiss, "", live("b")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &checker{maxValue: 256, slack: 25e6, evictionsOK: tt.evictionsOK}
			s := tt.s
			got, what := c.judge(&s, tt.o, "k", tt.at, tt.at+1e6, tt.status, []byte(tt.body))
			if got != tt.want {
				t.Fatalf("verdict %d (%s), want %d", got, what, tt.want)
			}
			if !strings.Contains(what, tt.wantFailure) || (tt.wantFailure == "") != (what == "") {
				t.Errorf("failure %q, want it to mention %q", what, tt.wantFailure)
			}
			if s != tt.next {
				t.Errorf("next state %+v, want %+v", s, tt.next)
			}
		})
	}
}
