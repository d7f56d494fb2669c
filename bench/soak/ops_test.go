package main

import (
	"encoding/json"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// The generator must send exactly the parameters the model predicts from, in
// every spelling it uses, or the soak would blame the server for its own bugs.
func TestRequestsCarryTheModelsParameters(t *testing.T) {
	g := &generator{r: rand.New(rand.NewPCG(1, 2)), maxKey: 256, maxValue: 256}
	seen := map[string]bool{}
	for i := range 20000 {
		key := g.key(3, i)
		if n := utf8.RuneCountInString(key); n < 1 || n > g.maxKey {
			t.Fatalf("key of %d characters", n)
		}
		if !strings.HasPrefix(key, "w3."+strconv.Itoa(i)+".") {
			t.Fatalf("key %q does not carry its owner", key)
		}
		s := state{present: i%2 == 0, value: g.value(), aliveUntil: never, deadAfter: never}
		o := g.next(key, s)
		seen[o.method+" "+strings.SplitN(o.uri, "?", 2)[0]] = true
		got := map[string]string{}
		if o.body != nil {
			// Numbers are kept as written: float64 would round large ones.
			var fields map[string]json.RawMessage
			if err := json.Unmarshal(o.body, &fields); err != nil {
				t.Fatalf("body %q: %v", o.body, err)
			}
			for name, raw := range fields {
				got[name] = string(raw)
				if raw[0] == '"' {
					var s string
					if err := json.Unmarshal(raw, &s); err != nil {
						t.Fatal(err)
					}
					got[name] = s
				}
			}
		} else {
			q, err := url.ParseQuery(strings.SplitN(o.uri, "?", 2)[1])
			if err != nil {
				t.Fatal(err)
			}
			for name := range q {
				got[name] = q.Get(name)
			}
		}
		want := map[string]string{}
		for _, p := range params(key, o) {
			want[p.name] = p.text
		}
		if len(got) != len(want) {
			t.Fatalf("%s %s: parameters %v, want %v", o.method, o.uri, got, want)
		}
		for name, v := range want {
			if got[name] != v {
				t.Fatalf("%s %s: %s = %q, want %q", o.method, clip(o.uri), name, got[name], v)
			}
		}
		if len(o.uri) > maxQueryURI && o.body == nil {
			t.Fatalf("query URI of %d bytes", len(o.uri))
		}
	}
	for _, route := range []string{"GET /get", "POST /put", "GET /set", "POST /set", "POST /delete", "GET /delete",
		"POST /checkandset", "GET /checkandset", "POST /increment", "GET /decrement", "POST /append", "GET /prepend"} {
		if !seen[route] {
			t.Errorf("never sent %s", route)
		}
	}
}
