package resp

import "unicode/utf8"

// globMatch reports whether s matches the glob-style pattern of Redis's KEYS
// and SCAN MATCH:
//
//   - any run of characters, even none
//     ?        one character
//     [abc]    one of a, b, c; [^abc] one character but those; [a-z] a range
//     \x       x itself
//
// Unlike Redis, which works on bytes, ? and classes match one character (a
// Unicode code point), since warmkv keys are text measured in characters.
// Edge cases follow Redis: an unterminated class runs to the end of the
// pattern, "[]" matches nothing, a trailing backslash matches a backslash.
//
// It runs in O(len(pattern) * len(s)) whatever the pattern: after a mismatch
// it only ever restarts from the last star, which is enough because every
// other element matches exactly one character. Redis's recursive matcher is
// exponential on patterns like "*a*a*a*a*b", a way to stall it with one KEYS.
func globMatch(pattern, s string) bool {
	p, i := 0, 0
	starP, starI := -1, 0 // where to resume after the last star
	for {
		if p < len(pattern) && pattern[p] == '*' {
			for p < len(pattern) && pattern[p] == '*' {
				p++
			}
			if p == len(pattern) {
				return true
			}
			starP, starI = p, i
			continue
		}
		if i == len(s) {
			return p == len(pattern)
		}
		if p < len(pattern) {
			r, size := utf8.DecodeRuneInString(s[i:])
			if ok, width := matchOne(pattern[p:], r); ok {
				p += width
				i += size
				continue
			}
		}
		if starP < 0 {
			return false
		}
		// Let the last star take one more character and try again.
		_, size := utf8.DecodeRuneInString(s[starI:])
		starI += size
		p, i = starP, starI
	}
}

// matchOne matches the pattern element at the start of pattern (not a star)
// against r, and returns the element's width in bytes.
func matchOne(pattern string, r rune) (bool, int) {
	switch pattern[0] {
	case '?':
		return true, 1
	case '[':
		return matchClass(pattern, r)
	case '\\':
		if len(pattern) >= 2 {
			want, size := decodePatternRune(pattern[1:])
			return want == r, 1 + size
		}
		return r == '\\', 1
	}
	want, size := decodePatternRune(pattern)
	return want == r, size
}

// decodePatternRune decodes one character of the pattern; an invalid byte
// becomes a rune no key can hold, so it matches nothing.
func decodePatternRune(s string) (rune, int) {
	r, size := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError && size <= 1 {
		return -1, max(size, 1)
	}
	return r, size
}

// matchClass matches a [...] class at the start of pattern.
func matchClass(pattern string, r rune) (bool, int) {
	p := 1
	negate := p < len(pattern) && pattern[p] == '^'
	if negate {
		p++
	}
	matched := false
	for p < len(pattern) && pattern[p] != ']' {
		if pattern[p] == '\\' && p+1 < len(pattern) {
			c, size := decodePatternRune(pattern[p+1:])
			matched = matched || c == r
			p += 1 + size
			continue
		}
		lo, size := decodePatternRune(pattern[p:])
		if p+size+1 < len(pattern) && pattern[p+size] == '-' {
			hi, hiSize := decodePatternRune(pattern[p+size+1:])
			if lo > hi {
				lo, hi = hi, lo
			}
			matched = matched || lo <= r && r <= hi && lo >= 0
			p += size + 1 + hiSize
			continue
		}
		matched = matched || lo == r
		p += size
	}
	if p < len(pattern) {
		p++ // the closing ]
	}
	return matched != negate, p
}
