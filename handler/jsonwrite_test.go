package handler

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAppendJSONString(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"", `""`},
		{"plain ascii 123", `"plain ascii 123"`},
		{`quote " backslash \ slash /`, `"quote \" backslash \\ slash /"`},
		{"<script>&</script>", `"\u003cscript\u003e\u0026\u003c/script\u003e"`},
		{"\b\f\n\r\t", `"\b\f\n\r\t"`},
		{"\x00\x01\x1f\x7f", `"\u0000\u0001\u001f` + "\x7f" + `"`},
		{"ключ 😀 €", `"ключ 😀 €"`},
		{"a\u2028b\u2029c", `"a\u2028b\u2029c"`},
		{"\xff", `"\ufffd"`},
		{"a\xffb\xfe", `"a\ufffdb\ufffd"`},
		{"\xe2\x82", `"\ufffd\ufffd"`},           // truncated sequence: one per byte
		{"\xed\xa0\x80", `"\ufffd\ufffd\ufffd"`}, // encoded surrogate
		{"\ufffd", "\"\ufffd\""},                 // a real U+FFFD is kept as is
	}
	for _, tt := range tests {
		got := string(appendJSONString(nil, tt.in))
		if got != tt.want {
			t.Errorf("appendJSONString(%q) = %s, want %s", tt.in, got, tt.want)
		}
		// The cases double as a check of the claim that output matches
		// encoding/json byte for byte.
		if m, _ := json.Marshal(tt.in); string(m) != got {
			t.Errorf("appendJSONString(%q) = %s, json.Marshal gives %s", tt.in, got, m)
		}
	}
}

func TestAppendJSONStringAppends(t *testing.T) {
	got := appendJSONString([]byte(`{"message":`), "hi")
	if want := `{"message":"hi"`; string(got) != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestAppendJSONStringAllocations(t *testing.T) {
	buf := make([]byte, 0, 1024)
	s := strings.Repeat("text <&> ключ\n", 20)
	got := testing.AllocsPerRun(100, func() {
		buf = appendJSONString(buf[:0], s)
	})
	if got != 0 {
		t.Errorf("appendJSONString into a large enough buffer: %v allocations, want 0", got)
	}
}

func BenchmarkAppendJSONString(b *testing.B) {
	inputs := []struct {
		name string
		s    string
	}{
		{"ascii 20", strings.Repeat("k", 20)},
		{"ascii 100", strings.Repeat("v", 100)},
		{"ascii 4KiB", strings.Repeat("v", 4096)},
		{"escapes 100", strings.Repeat(`{"a":1}`+"\n", 12)},
		{"cyrillic 100", strings.Repeat("з", 50)},
	}
	for _, in := range inputs {
		b.Run(in.name, func(b *testing.B) {
			buf := make([]byte, 0, 2*len(in.s)+16)
			b.SetBytes(int64(len(in.s)))
			b.ReportAllocs()
			for b.Loop() {
				buf = appendJSONString(buf[:0], in.s)
			}
		})
	}
}

// The word-at-a-time skippers must stop at exactly the words the byte tables
// flag: a missed byte would be copied unescaped (or unvalidated).
func TestSWARSkippersMatchTables(t *testing.T) {
	check := func(word []byte) {
		t.Helper()
		needsEscape, needsCheck := false, false
		for _, c := range word {
			needsEscape = needsEscape || !jsonSafeASCII[c]
			needsCheck = needsCheck || !jsonStringPlain[c]
		}
		if got := skipJSONSafeWords(string(word), 0) == 0; got != needsEscape {
			t.Fatalf("skipJSONSafeWords(%q) stops: %v, want %v", word, got, needsEscape)
		}
		if got := skipJSONPlainWords(word, 0) == 0; got != needsCheck {
			t.Fatalf("skipJSONPlainWords(%q) stops: %v, want %v", word, got, needsCheck)
		}
	}
	// Every byte value at every position, among fillers that themselves
	// pass or sit next to the borrow boundaries of the arithmetic.
	for _, filler := range []byte{'a', ' ', '!', '#', '=', '?', ']', 0x7f, 0x21, 0x01, 0x00} {
		for pos := range 8 {
			for c := range 256 {
				word := bytes.Repeat([]byte{filler}, 8)
				word[pos] = byte(c)
				check(word)
			}
		}
	}
	// Every pair of adjacent ASCII bytes, where a borrow from the lower one
	// could hide the upper one.
	for pos := range 7 {
		for c1 := range 128 {
			for c2 := range 128 {
				word := []byte("abcdefgh")
				word[pos], word[pos+1] = byte(c1), byte(c2)
				check(word)
			}
		}
	}
}

func TestIs2ByteUTF8(t *testing.T) {
	for b0 := range 256 {
		for b1 := range 256 {
			s := string([]byte{byte(b0), byte(b1)})
			r, size := utf8.DecodeRuneInString(s)
			want := size == 2 && r != utf8.RuneError
			if got := is2ByteUTF8(s, 0); got != want {
				t.Fatalf("is2ByteUTF8(%q) = %v, want %v", s, got, want)
			}
			if got := is2ByteUTF8([]byte(s), 0); got != want {
				t.Fatalf("is2ByteUTF8([]byte(%q)) = %v, want %v", s, got, want)
			}
		}
		if is2ByteUTF8(string([]byte{byte(b0)}), 0) {
			t.Fatalf("is2ByteUTF8 accepts the single byte %#x", b0)
		}
	}
}
