package handler

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// knownParamNames lists the names params.field recognises.
var knownParamNames = []string{"key", "value", "compare", "expire", "ttl"}

// surrogateEscape matches a \u escape of a UTF-16 surrogate (it may also
// match an escaped backslash followed by "ud800"; it is only used as a
// necessary condition).
var surrogateEscape = regexp.MustCompile(`\\u[dD][89abcdefABCDEF]`)

// FuzzParseJSONBody checks parseJSONBody against encoding/json: whatever it
// accepts encoding/json accepts as an object with the same known fields and
// values, and whatever it calls malformed encoding/json rejects too. The
// jsontext parser it is measured against must give the very same answer.
func FuzzParseJSONBody(f *testing.F) {
	for _, seed := range []string{
		`{"key":"a","value":"b"}`,
		`{"key":"a","value":5,"ttl":"60","expire":1.5e9,"compare":null}`,
		`{"key":"a","value":"b","extra":{"x":[1,2,{"y":null}]}}`,
		`{"k\u0065y":"\ud83d\ude00","Value":"x","value":"\"\\\/\b\f\n\r\t\u00e9"}`,
		`{"key":"ключ","value":"😀"}`,
		` { "key" : "a" } `,
		`{"key":"a","key":"b"}`,
		`{"key":"\ud800"}`,
		"{\"key\":\"\xff\"}",
		`{"key":"a"} x`,
		`[1]`,
		`{"value":-0.0E+1,"x":[true,false,null,"",{}]}`,
		`{"value":01}`,
		`{"x":[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var p params
		err := parseJSONBody(body, &p)
		checkSameAsJSONText(t, body, p, err)
		if err != nil {
			checkJSONBodyError(t, body, err)
			return
		}
		var m map[string]json.RawMessage
		if jerr := json.Unmarshal(body, &m); jerr != nil || m == nil {
			t.Fatalf("parseJSONBody accepted %q; encoding/json: %v (map %v)", body, jerr, m)
		}
		for _, name := range knownParamNames {
			got, _ := p.field([]byte(name))
			raw, ok := m[name]
			if got.set != ok {
				t.Fatalf("body %q: field %q set=%v, encoding/json found it: %v", body, name, got.set, ok)
			}
			if !ok {
				continue
			}
			raw = bytes.TrimSpace(raw)
			switch got.kind {
			case paramString:
				var s string
				if err := json.Unmarshal(raw, &s); err != nil {
					t.Fatalf("body %q: field %q is a string to us, encoding/json: %v", body, name, err)
				}
				if s != got.text {
					t.Fatalf("body %q: field %q = %q, encoding/json says %q", body, name, got.text, s)
				}
				if !utf8.ValidString(got.text) {
					t.Fatalf("body %q: field %q = %q is not valid UTF-8", body, name, got.text)
				}
			case paramNumber:
				var n json.Number
				if err := json.Unmarshal(raw, &n); err != nil || string(raw) != got.text {
					t.Fatalf("body %q: field %q number %q, encoding/json has %q (%v)", body, name, got.text, raw, err)
				}
			case paramOther:
				if got.text != "" || len(raw) == 0 || !strings.ContainsRune("tfn{[", rune(raw[0])) {
					t.Fatalf("body %q: field %q other (text %q), encoding/json has %q", body, name, got.text, raw)
				}
			default:
				t.Fatalf("body %q: field %q has kind %d", body, name, got.kind)
			}
		}
	})
}

// checkSameAsJSONText checks that parseJSONBodyJSONText gives body the
// params p and error err that parseJSONBody gave it.
func checkSameAsJSONText(t *testing.T, body []byte, p params, err error) {
	t.Helper()
	var q params
	qerr := parseJSONBodyJSONText(body, &q)
	if errorText(qerr) != errorText(err) || (err == nil && q != p) {
		t.Fatalf("body %q: parseJSONBody gives %+v, %q; the jsontext parser %+v, %q", body, p, errorText(err), q, errorText(qerr))
	}
}

func errorText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// checkJSONBodyError checks that err, returned by parseJSONBody for body, is
// plausible: a user-facing sentence, and a condition that really holds.
func checkJSONBodyError(t *testing.T, body []byte, err error) {
	t.Helper()
	msg := err.Error()
	if msg == "" || !strings.HasSuffix(msg, ".") || msg[0] < 'A' || msg[0] > 'Z' {
		t.Fatalf("body %q: error %q is not a sentence", body, msg)
	}
	var syntaxErr *jsonSyntaxError
	switch {
	case errors.As(err, &syntaxErr), errors.Is(err, errBodyTrailingData):
		if json.Valid(body) {
			t.Fatalf("body %q: we say %q but encoding/json finds it valid", body, msg)
		}
		if syntaxErr != nil && (syntaxErr.offset < 0 || syntaxErr.offset > len(body)) {
			t.Fatalf("body %q: offset %d out of range in %q", body, syntaxErr.offset, msg)
		}
	case errors.Is(err, errBodyNotObject):
		var m map[string]json.RawMessage
		if json.Unmarshal(body, &m) == nil && m != nil {
			t.Fatalf("body %q: we say %q but encoding/json decodes an object", body, msg)
		}
	case errors.Is(err, errBodyInvalidUTF8):
		if utf8.Valid(body) && !surrogateEscape.Match(body) {
			t.Fatalf("body %q: we say %q but it is valid UTF-8 without surrogate escapes", body, msg)
		}
	case errors.Is(err, errBodyTooDeep):
		if n := bytes.Count(body, []byte("{")) + bytes.Count(body, []byte("[")); n <= maxJSONDepth {
			t.Fatalf("body %q: we say %q with only %d brackets", body, msg, n)
		}
	case strings.HasPrefix(msg, "Duplicate field "):
	default:
		t.Fatalf("body %q: unexpected error %q", body, msg)
	}
}

// FuzzParseQuery checks parseQuery against net/url.ParseQuery on the queries
// both consider well-formed.
func FuzzParseQuery(f *testing.F) {
	for _, seed := range []string{
		`key=a%20b&value=x+y&expire=10`,
		`key=a;b&ttl=60&compare=`,
		`%6Bey=%D0%BA&&v%61lue&Key=x`,
		`key=a&key=b`,
		`key=%zz`,
		`key=%ff`,
		`x=%zz&key=ok`,
		`=&==&key==`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, query string) {
		var p params
		err := parseQuery([]byte(query), &p)
		if err != nil {
			if msg := err.Error(); !strings.HasSuffix(msg, ".") || !strings.Contains(msg, `"`) {
				t.Fatalf("query %q: error %q is not a sentence naming the parameter", query, msg)
			}
		}
		values, uerr := url.ParseQuery(query)
		if uerr != nil {
			return // ours is deliberately more lenient (unknown parameters)
		}
		wellFormed := true
		for _, name := range knownParamNames {
			if vs := values[name]; len(vs) > 1 || (len(vs) == 1 && !utf8.ValidString(vs[0])) {
				wellFormed = false
			}
		}
		if !wellFormed {
			if err == nil {
				t.Fatalf("query %q: accepted, but net/url finds a known parameter repeated or not UTF-8: %q", query, values)
			}
			return
		}
		if err != nil {
			t.Fatalf("query %q: %v; net/url parses it as %q", query, err, values)
		}
		for _, name := range knownParamNames {
			got, _ := p.field([]byte(name))
			vs := values[name]
			if got.set != (len(vs) == 1) || got.kind != paramString || (got.set && got.text != vs[0]) {
				t.Fatalf("query %q: %s = %+v, net/url says %q", query, name, *got, vs)
			}
		}
	})
}

// FuzzAppendJSONString checks that appendJSONString writes exactly what
// encoding/json.Marshal does.
func FuzzAppendJSONString(f *testing.F) {
	for _, seed := range []string{
		"", "plain", `"\/`, "<a href='x'>&amp;</a>", "\x00\x1f\b\f\n\r\t\x7f",
		"ключ😀", "\u2028\u2029", "\xff\xe2\x82", "\xed\xa0\x80", "\ufffd",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		got := appendJSONString([]byte("prefix"), s)
		if string(got) != "prefix"+string(want) {
			t.Fatalf("appendJSONString(%q) = %s, json.Marshal gives %s", s, got[len("prefix"):], want)
		}
	})
}
