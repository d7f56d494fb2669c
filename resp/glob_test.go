package resp

import (
	"strings"
	"testing"
)

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"*", "anything", true},
		{"", "", true},
		{"", "a", false},
		{"user:*", "user:42", true},
		{"user:*", "users:42", false},
		{"*:42", "user:42", true},
		{"h?llo", "hello", true},
		{"h?llo", "hllo", false},
		{"h?llo", "héllo", true}, // ? is one character, not one byte
		{"h??llo", "héllo", false},
		{"h[ae]llo", "hallo", true},
		{"h[ae]llo", "hillo", false},
		{"h[^e]llo", "hallo", true},
		{"h[^e]llo", "hello", false},
		{"h[a-c]llo", "hbllo", true},
		{"h[c-a]llo", "hbllo", true}, // reversed range, as Redis swaps it
		{"h[a-c]llo", "hdllo", false},
		{"caf[é]", "café", true},
		{"[α-ω]", "λ", true},
		{`h\*llo`, "h*llo", true},
		{`h\*llo`, "hello", false},
		{`a\`, `a\`, true}, // a trailing backslash matches itself
		{"[]", "a", false},
		{"[^]", "a", true},
		{"[abc", "b", true}, // an unterminated class runs to the end
		{`[\]]`, "]", true},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{"*a", "aba", true},
		{"**a**", "xa", true},
		{"*.txt", "notes.txt.bak", false},
		{"k\xff*", "k\xff1", false}, // invalid UTF-8 in a pattern matches nothing
	}
	for _, tc := range tests {
		if got := globMatch(tc.pattern, tc.s); got != tc.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

// TestGlobMatchPathologicalPattern is a pattern that takes a backtracking
// matcher exponential time; this one is linear, so the test simply finishes.
func TestGlobMatchPathologicalPattern(t *testing.T) {
	pattern := strings.Repeat("*a", 30) + "*b"
	s := strings.Repeat("a", 1000)
	if globMatch(pattern, s) {
		t.Error("matched a string without b")
	}
	if !globMatch(pattern, s+"b") {
		t.Error("did not match")
	}
}
