package handler

import (
	"strings"
	"testing"
)

func TestParseJSONBody(t *testing.T) {
	long := strings.Repeat("ж", 300) // 600 bytes: beyond the stack unescape buffer
	tests := []struct {
		name string
		body string
		want params
	}{
		{"key and value", `{"key":"a","value":"b"}`, params{key: strParam("a"), value: strParam("b")}},
		{"all fields", `{"key":"k","value":"v","compare":"c","expire":"10","ttl":"20"}`,
			params{key: strParam("k"), value: strParam("v"), compare: strParam("c"), expire: strParam("10"), ttl: strParam("20")}},
		{"whitespace everywhere", " \t\r\n{ \"key\" :\n\"a\" ,\t\"value\"\r:\"b\" } \n",
			params{key: strParam("a"), value: strParam("b")}},
		{"empty object", `{}`, params{}},
		{"empty object with space", `{ }`, params{}},
		{"empty string", `{"key":""}`, params{key: strParam("")}},
		{"cyrillic", `{"key":"ключ","value":"значение"}`, params{key: strParam("ключ"), value: strParam("значение")}},
		{"raw emoji", `{"key":"😀🎉"}`, params{key: strParam("😀🎉")}},
		{"escaped surrogate pair", `{"key":"\ud83d\ude00"}`, params{key: strParam("😀")}},
		{"escaped surrogate pair upper case", `{"key":"a\uD83D\uDE00b"}`, params{key: strParam("a😀b")}},
		{"simple escapes", `{"value":"\"\\\/\b\f\n\r\t"}`, params{value: strParam("\"\\/\b\f\n\r\t")}},
		{"unicode escapes", `{"value":"\u00e9\u20AC\u0000\u0041"}`, params{value: strParam("é€\x00A")}},
		{"escapes amid text", `{"value":"{\"a\":1}\n"}`, params{value: strParam("{\"a\":1}\n")}},
		{"long escaped value", `{"value":"` + long + `\n` + long + `"}`, params{value: strParam(long + "\n" + long)}},
		{"nested unknown field", `{"key":"a","value":"b","extra":{"x":[1,2,{"y":null}]}}`,
			params{key: strParam("a"), value: strParam("b")}},
		{"unknown fields of every type",
			`{"a":1,"b":-0.5e+10,"c":true,"d":false,"e":null,"f":[],"g":{},"h":"s\n\u00e9","i":[[],{}],"j":0,"k":1E-2,"key":"k"}`,
			params{key: strParam("k")}},
		{"number value", `{"key":"a","value":5}`, params{key: strParam("a"), value: numParam("5")}},
		{"numbers kept as written", `{"expire":1700000000,"ttl":-1.5E3,"value":0.0e00}`,
			params{expire: numParam("1700000000"), ttl: numParam("-1.5E3"), value: numParam("0.0e00")}},
		{"null value", `{"key":"a","value":null}`, params{key: strParam("a"), value: otherParam()}},
		{"other values", `{"key":true,"value":false,"compare":{"a":[1]},"ttl":[1,"x"]}`,
			params{key: otherParam(), value: otherParam(), compare: otherParam(), ttl: otherParam()}},
		{"names are case-sensitive", `{"Key":"a","KEY":"b","key":"c","Value":"d"}`, params{key: strParam("c")}},
		{"escaped name", `{"k\u0065y":"a"}`, params{key: strParam("a")}},
		{"fully escaped name", `{"\u0063\u006F\u006d\u0070\u0061\u0072\u0065":"a"}`, params{compare: strParam("a")}},
		{"escaped unknown name", `{"k\u0065ys":"a","\u006b\u0065\u0079\u006b\u0065\u0079\u006b\u0065":"b"}`, params{}},
		{"long unknown name with escape", `{"` + strings.Repeat("x", 100) + `\n":1}`, params{}},
		{"duplicate unknown fields", `{"x":1,"x":2,"key":"a"}`, params{key: strParam("a")}},
		{"nesting at limit", `{"x":` + strings.Repeat("[", maxJSONDepth-1) + strings.Repeat("]", maxJSONDepth-1) + `}`, params{}},
	}
	forEachBodyParser(t, func(t *testing.T, parse bodyParser) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var got params
				if err := parse([]byte(tt.body), &got); err != nil {
					t.Fatalf("parse(%q) error: %v", tt.body, err)
				}
				if got != tt.want {
					t.Errorf("parse(%q)\n got %+v\nwant %+v", tt.body, got, tt.want)
				}
			})
		}
	})
}

func TestParseJSONBodyErrors(t *testing.T) {
	const (
		notObject = "Request body must be a JSON object."
		trailing  = "Unexpected data after the JSON object."
		badUTF8   = "Request body is not valid UTF-8."
		tooDeep   = "JSON nested too deeply."
	)
	tests := []struct {
		name string
		body string
		want string
	}{
		{"empty body", ``, notObject},
		{"only whitespace", " \n\t", notObject},
		{"array", `[1]`, notObject},
		{"string", `"key"`, notObject},
		{"number", `5`, notObject},
		{"negative number", ` -1`, notObject},
		{"true", `true`, notObject},
		{"null", `null`, notObject},

		{"trailing garbage", `{"key":"a"} x`, trailing},
		{"second object", `{"key":"a"}{}`, trailing},
		{"trailing comma", `{"key":"a"},`, trailing},

		{"duplicate key", `{"key":"a","key":"b"}`, `Duplicate field "key".`},
		{"duplicate number", `{"ttl":1,"ttl":"2"}`, `Duplicate field "ttl".`},
		{"duplicate other", `{"compare":null,"compare":null}`, `Duplicate field "compare".`},
		{"duplicate via escaped name", `{"value":"a","v\u0061lue":"b"}`, `Duplicate field "value".`},

		{"lone high surrogate", `{"key":"\ud800"}`, badUTF8},
		{"lone low surrogate", `{"key":"\udc00"}`, badUTF8},
		{"high surrogate then BMP escape", `{"key":"\ud800\u0041"}`, badUTF8},
		{"high surrogate then high surrogate", `{"key":"\ud800\ud800"}`, badUTF8},
		{"high surrogate then text", `{"key":"\ud800x"}`, badUTF8},
		{"high surrogate then other escape", `{"key":"\ud800\n"}`, badUTF8},
		{"lone surrogate in unknown field", `{"x":["\udfff"]}`, badUTF8},
		{"lone surrogate in name", `{"\ud800":1}`, badUTF8},
		{"raw invalid byte", "{\"key\":\"\xff\"}", badUTF8},
		{"raw invalid byte in unknown field", "{\"x\":{\"y\":\"a\xfe\"}}", badUTF8},
		{"raw invalid byte in name", "{\"\xff\":1}", badUTF8},
		{"raw encoded surrogate", "{\"key\":\"\xed\xa0\x80\"}", badUTF8},
		{"overlong encoding", "{\"key\":\"\xc0\xaf\"}", badUTF8},
		{"truncated sequence", "{\"key\":\"\xe2\x82\"}", badUTF8},

		{"unclosed object", `{`, "Malformed JSON at byte 1: unexpected end of input."},
		{"missing close brace", `{"key":"a"`, "Malformed JSON at byte 10: unexpected end of input."},
		{"unterminated string", `{"key":"a`, "Malformed JSON at byte 9: unexpected end of input."},
		{"missing colon at end", `{"key"`, "Malformed JSON at byte 6: unexpected end of input."},
		{"missing value at end", `{"key": `, "Malformed JSON at byte 8: unexpected end of input."},
		{"unterminated escape", `{"key":"\`, "Malformed JSON at byte 9: unexpected end of input."},
		{"unterminated unicode escape", `{"key":"\u12`, "Malformed JSON at byte 12: unexpected end of input."},
		{"unterminated surrogate pair", `{"key":"\ud83d`, "Malformed JSON at byte 14: unexpected end of input."},
		{"unterminated surrogate pair escape", `{"key":"\ud83d\`, "Malformed JSON at byte 15: unexpected end of input."},
		{"unterminated nested array", `{"x":[1,`, "Malformed JSON at byte 8: unexpected end of input."},
		{"missing colon", `{"key" "a"}`, `Malformed JSON at byte 7: invalid character '"' after object key.`},
		{"missing comma", `{"key":"a" "value":"b"}`, `Malformed JSON at byte 11: invalid character '"' after object key:value pair.`},
		{"unquoted name", `{key:"a"}`, `Malformed JSON at byte 1: invalid character 'k' looking for beginning of object key string.`},
		{"comma before brace", `{"key":"a",}`, `Malformed JSON at byte 11: invalid character '}' looking for beginning of object key string.`},
		{"bare word value", `{"key":x}`, `Malformed JSON at byte 7: invalid character 'x' looking for beginning of value.`},
		{"leading garbage", `x{}`, `Malformed JSON at byte 0: invalid character 'x' looking for beginning of value.`},
		{"byte order mark", "\xef\xbb\xbf{}", `Malformed JSON at byte 0: invalid character '\ufeff' looking for beginning of value.`},
		{"raw tab in string", "{\"key\":\"a\tb\"}", `Malformed JSON at byte 9: invalid character '\t' in string literal.`},
		{"raw newline in string", "{\"key\":\"\n\"}", `Malformed JSON at byte 8: invalid character '\n' in string literal.`},
		{"bad escape", `{"key":"\x"}`, `Malformed JSON at byte 9: invalid character 'x' in string escape code.`},
		{"bad unicode escape", `{"key":"\u12G4"}`, `Malformed JSON at byte 12: invalid character 'G' in \u hexadecimal character escape.`},
		{"bad escape after high surrogate", `{"key":"\ud83d\uZ"}`, `Malformed JSON at byte 16: invalid character 'Z' in \u hexadecimal character escape.`},
		{"leading zero", `{"value":01}`, `Malformed JSON at byte 10: invalid character '1' after object key:value pair.`},
		{"plus sign", `{"value":+1}`, `Malformed JSON at byte 9: invalid character '+' looking for beginning of value.`},
		{"lone minus", `{"value":-}`, `Malformed JSON at byte 10: invalid character '}' in numeric literal.`},
		{"minus at end", `{"value":-`, `Malformed JSON at byte 10: unexpected end of input.`},
		{"empty fraction", `{"value":1.}`, `Malformed JSON at byte 11: invalid character '}' after decimal point in numeric literal.`},
		{"empty exponent", `{"value":1e}`, `Malformed JSON at byte 11: invalid character '}' in exponent of numeric literal.`},
		{"signed empty exponent", `{"value":1E+}`, `Malformed JSON at byte 12: invalid character '}' in exponent of numeric literal.`},
		{"leading dot", `{"value":.5}`, `Malformed JSON at byte 9: invalid character '.' looking for beginning of value.`},
		{"NaN", `{"value":NaN}`, `Malformed JSON at byte 9: invalid character 'N' looking for beginning of value.`},
		{"truncated literal", `{"value":tru}`, `Malformed JSON at byte 12: invalid character '}' in literal true (expecting 'e').`},
		{"misspelled literal", `{"x":nul1}`, `Malformed JSON at byte 8: invalid character '1' in literal null (expecting 'l').`},
		{"literal at end", `{"value":nul`, `Malformed JSON at byte 12: unexpected end of input.`},
		{"bad array separator", `{"x":[1,2}`, `Malformed JSON at byte 9: invalid character '}' after array element.`},
		{"comma before bracket", `{"x":[1,]}`, `Malformed JSON at byte 8: invalid character ']' looking for beginning of value.`},
		{"invalid byte outside string", "{\"a\":\xff}", `Malformed JSON at byte 5: invalid byte 0xff looking for beginning of value.`},
		{"non-ASCII outside string", `{"a":é}`, `Malformed JSON at byte 5: invalid character 'é' looking for beginning of value.`},
		{"single quotes", `{'key':'a'}`, `Malformed JSON at byte 1: invalid character '\'' looking for beginning of object key string.`},

		{"nesting over limit", `{"x":` + strings.Repeat("[", maxJSONDepth) + strings.Repeat("]", maxJSONDepth) + `}`, tooDeep},
		{"deep objects", strings.Repeat(`{"x":`, maxJSONDepth+1) + `1` + strings.Repeat(`}`, maxJSONDepth+1), tooDeep},
		{"deep value of known field", `{"value":` + strings.Repeat("[", maxJSONDepth) + strings.Repeat("]", maxJSONDepth) + `}`, tooDeep},
		{"very deep unterminated", strings.Repeat("[", 1e6), notObject},
		{"very deep unterminated in object", `{"x":` + strings.Repeat("[", 1e6), tooDeep},
	}
	forEachBodyParser(t, func(t *testing.T, parse bodyParser) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var p params
				err := parse([]byte(tt.body), &p)
				if err == nil {
					t.Fatalf("parse(%.80q) = nil error, want %q; params %+v", tt.body, tt.want, p)
				}
				if err.Error() != tt.want {
					t.Errorf("parse(%.80q) error\n got %q\nwant %q", tt.body, err.Error(), tt.want)
				}
			})
		}
	})
}

// The parser fills in p without resetting it, so a field set before (for
// example by the query string) is a duplicate.
func TestParseJSONBodyDoesNotReset(t *testing.T) {
	forEachBodyParser(t, func(t *testing.T, parse bodyParser) {
		p := params{key: strParam("from query")}
		err := parse([]byte(`{"key":"a"}`), &p)
		if err == nil || err.Error() != `Duplicate field "key".` {
			t.Fatalf("error = %v, want duplicate field", err)
		}
		p = params{ttl: strParam("5")}
		if err := parse([]byte(`{"key":"a"}`), &p); err != nil {
			t.Fatal(err)
		}
		if want := (params{key: strParam("a"), ttl: strParam("5")}); p != want {
			t.Errorf("got %+v, want %+v", p, want)
		}
	})
}

// Known fields are stored in the cache, so they must not alias the request
// body, which the server reuses for the next request.
func TestParseJSONBodyCopiesStrings(t *testing.T) {
	forEachBodyParser(t, func(t *testing.T, parse bodyParser) {
		body := []byte(`{"key":"abc","value":"x\ny","ttl":12}`)
		var p params
		if err := parse(body, &p); err != nil {
			t.Fatal(err)
		}
		for i := range body {
			body[i] = '#'
		}
		if want := (params{key: strParam("abc"), value: strParam("x\ny"), ttl: numParam("12")}); p != want {
			t.Errorf("after overwriting the body: got %+v, want %+v", p, want)
		}
	})
}

func TestParseJSONBodyAllocations(t *testing.T) {
	tests := []struct {
		body string
		want float64
	}{
		{`{"key":"` + strings.Repeat("k", 20) + `","value":"` + strings.Repeat("v", 100) + `"}`, 2},
		{`{"key":"a\"b","value":"` + strings.Repeat("v\\n", 100) + `"}`, 2},
		{`{"k\u0065y":"ab","ttl":60}`, 2}, // (one-byte strings would not allocate)
		{`{"x":{"y":[1,2,"a\u00e9",null,true]},"z":"ab\ud83d\ude00"}`, 0},
	}
	// Only the parser in use: the jsontext one keeps its decoders in a
	// sync.Pool, which the race detector empties at random (its allocations
	// show in BenchmarkParseJSONBody).
	for _, tt := range tests {
		body := []byte(tt.body)
		got := testing.AllocsPerRun(100, func() {
			var p params
			if err := parseJSONBody(body, &p); err != nil {
				t.Fatal(err)
			}
		})
		if got != tt.want {
			t.Errorf("parseJSONBody(%q): %v allocations, want %v", tt.body, got, tt.want)
		}
	}
}

// bodyParser is parseJSONBody's signature.
type bodyParser = func(body []byte, p *params) error

// bodyParsers are the parser in use and the one it is measured against
// (jsonbody_jsontext_test.go), which the tests hold to the same answers.
var bodyParsers = []struct {
	name  string
	parse bodyParser
}{
	{"hand", parseJSONBody},
	{"jsontext", parseJSONBodyJSONText},
}

func forEachBodyParser(t *testing.T, test func(t *testing.T, parse bodyParser)) {
	for _, bp := range bodyParsers {
		t.Run(bp.name, func(t *testing.T) { test(t, bp.parse) })
	}
}

// bodyShapes are the JSON bodies the API takes, as clients send them, and
// some it refuses.
var bodyShapes = []struct {
	name, path, body string
}{
	{"put", "/put", `{"key":"key-0000000000000042","value":"` + strings.Repeat("v", 100) + `"}`},
	{"set-ttl", "/set", `{"key":"key-0000000000000042","value":"v","ttl":60}`},
	{"checkandset", "/checkandset", `{"key":"key-0000000000000042","compare":"` + strings.Repeat("v", 100) + `","value":"w"}`},
	{"increment", "/increment", `{"key":"counter","value":3}`},
	{"append", "/append", `{"key":"app","value":"x"}`},
	{"escaped", "/put", `{"key":"` + strings.Repeat("k", 20) + `","value":"` + strings.Repeat(`{\"a\":1}`, 10) + `"}`},
	{"cyrillic", "/put", `{"key":"` + strings.Repeat("к", 10) + `","value":"` + strings.Repeat("з", 50) + `"}`},
	{"value-4KiB", "/put", `{"key":"` + strings.Repeat("k", 20) + `","value":"` + strings.Repeat("v", 4096) + `"}`},
	{"bad-malformed", "/put", `{"key":"key-0000000000000042" "value":"v"}`},
	{"bad-duplicate", "/put", `{"key":"a","value":"v","key":"b"}`},
	{"bad-utf8", "/put", "{\"key\":\"a\",\"value\":\"\xff\"}"},
}

// BenchmarkParseJSONBody compares the parsers alone on each body shape:
// benchstat -col /parser shows the difference.
func BenchmarkParseJSONBody(b *testing.B) {
	for _, shape := range bodyShapes {
		for _, bp := range bodyParsers {
			b.Run("shape="+shape.name+"/parser="+bp.name, func(b *testing.B) {
				body := []byte(shape.body)
				wantErr := strings.HasPrefix(shape.name, "bad-")
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				var p params
				for b.Loop() {
					p.reset()
					if err := bp.parse(body, &p); (err != nil) != wantErr {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
