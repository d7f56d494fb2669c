package handler

import (
	"strings"
	"testing"
)

func TestParseQuery(t *testing.T) {
	long := strings.Repeat("ж", 300) // 600 bytes decoded: beyond the stack buffer
	tests := []struct {
		name  string
		query string
		want  params
	}{
		{"typical", `key=a%20b&value=x+y&expire=10`, params{key: strParam("a b"), value: strParam("x y"), expire: strParam("10")}},
		{"all parameters", `key=k&value=v&compare=c&expire=1&ttl=2`,
			params{key: strParam("k"), value: strParam("v"), compare: strParam("c"), expire: strParam("1"), ttl: strParam("2")}},
		{"empty query", ``, params{}},
		{"name without equals", `key`, params{key: strParam("")}},
		{"empty value", `key=&value=`, params{key: strParam(""), value: strParam("")}},
		{"empty pairs", `&&key=a&&&value=b&`, params{key: strParam("a"), value: strParam("b")}},
		{"semicolon is data", `key=a;value=b`, params{key: strParam("a;value=b")}},
		{"equals in value", `key==a=b`, params{key: strParam("=a=b")}},
		{"escaped name", `%6Bey=a&v%61lue=b&%74%74%6c=3`, params{key: strParam("a"), value: strParam("b"), ttl: strParam("3")}},
		{"escaped name lower case hex", `%6bey=a`, params{key: strParam("a")}},
		{"names are case-sensitive", `Key=a&KEY=b&kEy=c`, params{}},
		{"plus in name", `ke+y=a&key+=b`, params{}},
		{"unknown parameters ignored", `foo=bar&_=123&key=a&keys=b`, params{key: strParam("a")}},
		{"malformed unknown value ignored", `x=%zz&key=a&y=%`, params{key: strParam("a")}},
		{"malformed unknown name ignored", `%zz=1&x%=2&%=3&key=a`, params{key: strParam("a")}},
		{"invalid UTF-8 in unknown ignored", `x=%ff&key=a`, params{key: strParam("a")}},
		{"empty name ignored", `=x&key=a`, params{key: strParam("a")}},
		{"percent-encoded cyrillic", `key=%D0%BA%D0%BB%D1%8E%D1%87`, params{key: strParam("ключ")}},
		{"raw cyrillic", `key=ключ&value=😀`, params{key: strParam("ключ"), value: strParam("😀")}},
		{"lower case hex", `value=%e2%82%ac`, params{value: strParam("€")}},
		{"escaped separators", `value=%2B%26%3D%25%3B`, params{value: strParam("+&=%;")}},
		{"plus and escaped plus", `key=a+%2B+b`, params{key: strParam("a + b")}},
		{"escaped NUL", `key=a%00b`, params{key: strParam("a\x00b")}},
		{"long escaped value", `value=` + long + `%0A` + long, params{value: strParam(long + "\n" + long)}},
		{"numbers stay strings", `expire=-5&ttl=1.5e3`, params{expire: strParam("-5"), ttl: strParam("1.5e3")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got params
			if err := parseQuery([]byte(tt.query), &got); err != nil {
				t.Fatalf("parseQuery(%q) error: %v", tt.query, err)
			}
			if got != tt.want {
				t.Errorf("parseQuery(%q)\n got %+v\nwant %+v", tt.query, got, tt.want)
			}
		})
	}
}

func TestParseQueryErrors(t *testing.T) {
	tests := []struct {
		name  string
		query string
		want  string
	}{
		{"bad hex", `key=%zz`, `Invalid percent-encoding in query parameter "key".`},
		{"one hex digit", `value=a%4`, `Invalid percent-encoding in query parameter "value".`},
		{"lone percent", `ttl=%`, `Invalid percent-encoding in query parameter "ttl".`},
		{"percent before separator", `expire=1%&key=a`, `Invalid percent-encoding in query parameter "expire".`},
		{"bad hex under escaped name", `%63ompare=%g0`, `Invalid percent-encoding in query parameter "compare".`},
		{"duplicate", `key=a&key=b`, `Query parameter "key" given more than once.`},
		{"duplicate without values", `ttl&ttl`, `Query parameter "ttl" given more than once.`},
		{"duplicate via escaped name", `value=a&v%61lue=b`, `Query parameter "value" given more than once.`},
		{"duplicate reported before bad escape", `key=a&key=%zz`, `Query parameter "key" given more than once.`},
		{"bad escape reported first", `key=%zz&key=a`, `Invalid percent-encoding in query parameter "key".`},
		{"escaped invalid byte", `key=%ff`, `Query parameter "key" is not valid UTF-8.`},
		{"raw invalid byte", "value=a\xffb", `Query parameter "value" is not valid UTF-8.`},
		{"escaped surrogate", `compare=%ED%A0%80`, `Query parameter "compare" is not valid UTF-8.`},
		{"truncated sequence", `key=%E2%82`, `Query parameter "key" is not valid UTF-8.`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p params
			err := parseQuery([]byte(tt.query), &p)
			if err == nil {
				t.Fatalf("parseQuery(%q) = nil error, want %q; params %+v", tt.query, tt.want, p)
			}
			if err.Error() != tt.want {
				t.Errorf("parseQuery(%q) error\n got %q\nwant %q", tt.query, err.Error(), tt.want)
			}
		})
	}
}

// Values are stored in the cache, so they must not alias the request buffer.
func TestParseQueryCopiesStrings(t *testing.T) {
	raw := []byte(`key=abc&value=x+y`)
	var p params
	if err := parseQuery(raw, &p); err != nil {
		t.Fatal(err)
	}
	for i := range raw {
		raw[i] = '#'
	}
	if want := (params{key: strParam("abc"), value: strParam("x y")}); p != want {
		t.Errorf("after overwriting the query: got %+v, want %+v", p, want)
	}
}

func TestParseQueryAllocations(t *testing.T) {
	tests := []struct {
		query string
		want  float64
	}{
		{`key=` + strings.Repeat("k", 20), 1},
		{`key=some%20key&value=x+y&_=1`, 2},
		{`%6Bey=ab&foo=%zz`, 1},
		{`foo=bar&baz`, 0},
	}
	for _, tt := range tests {
		raw := []byte(tt.query)
		got := testing.AllocsPerRun(100, func() {
			var p params
			if err := parseQuery(raw, &p); err != nil {
				t.Fatal(err)
			}
		})
		if got != tt.want {
			t.Errorf("parseQuery(%q): %v allocations, want %v", tt.query, got, tt.want)
		}
	}
}

func BenchmarkParseQuery(b *testing.B) {
	queries := []struct {
		name  string
		query string
	}{
		{"key", `key=` + strings.Repeat("k", 20)},
		{"key escaped", `key=` + strings.Repeat("k%20", 7)},
		{"put", `key=` + strings.Repeat("k", 20) + `&value=` + strings.Repeat("v", 100) + `&ttl=60`},
	}
	for _, bq := range queries {
		b.Run(bq.name, func(b *testing.B) {
			raw := []byte(bq.query)
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			var p params
			for b.Loop() {
				p.reset()
				if err := parseQuery(raw, &p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
