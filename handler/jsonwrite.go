package handler

import "unicode/utf8"

// jsonSafeASCII[c] is true for the ASCII bytes encoding/json writes into a
// string unchanged (with HTML escaping on): everything from 0x20 up except
// '"', '\\', '<', '>' and '&'. Bytes >= 0x80 are false so that they take the
// UTF-8 path.
var jsonSafeASCII = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

const lowerHex = "0123456789abcdef"

// appendJSONString appends s to dst as a quoted JSON string, byte for byte as
// encoding/json.Marshal(s) writes it: '<', '>' and '&' as \u003c, \u003e and
// \u0026; U+2028 and U+2029 as \u2028 and \u2029; control characters as \b,
// \f, \n, \r, \t or \u00XX; each invalid UTF-8 byte as \ufffd. Matching
// encoding/json keeps responses identical whichever code path wrote them and
// keeps them safe to embed in HTML.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0 // s[start:i] is pending, to be copied unchanged
	for i := 0; i < len(s); {
		c := s[i]
		if jsonSafeASCII[c] {
			// A run of plain ASCII (most strings are one): skip it 8 bytes
			// at a time, then byte by byte up to what needs a closer look.
			i = skipJSONSafeWords(s, i)
			for i < len(s) && jsonSafeASCII[s[i]] {
				i++
			}
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default: // other control characters, '<', '>', '&'
				dst = append(dst, '\\', 'u', '0', '0', lowerHex[c>>4], lowerHex[c&0xF])
			}
			i++
			start = i
			continue
		}
		if is2ByteUTF8(s, i) { // U+0080 to U+07FF: nothing to escape
			i += 2
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			// Valid JSON but line terminators in JavaScript (JSONP).
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', lowerHex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// SWAR ("SIMD within a register") helpers test 8 bytes, packed in a uint64,
// at once; see https://graphics.stanford.edu/~seander/bithacks.html#ZeroInWord.
const (
	swarOnes = 0x0101010101010101
	swarHigh = 0x8080808080808080
)

// is2ByteUTF8 reports whether s[i:] starts with a valid two-byte UTF-8
// sequence (U+0080 to U+07FF), without the cost of a full decode.
func is2ByteUTF8[S string | []byte](s S, i int) bool {
	return i+1 < len(s) && s[i]-0xC2 <= 0xDF-0xC2 && s[i+1]&0xC0 == 0x80
}

// loadUint64 packs the first 8 bytes of s into a uint64 (little-endian);
// the compiler turns this into a single load.
func loadUint64[S string | []byte](s S) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// swarBytesBelow returns a word whose high bits mark (at least the lowest)
// byte of x below n, for n <= 0x80; swarBytesEqual does the same for bytes
// equal to c. Bytes >= 0x80 may give false marks, which does not matter
// here since callers also test for non-ASCII bytes.
func swarBytesBelow(x uint64, n byte) uint64 { return (x - swarOnes*uint64(n)) &^ x }

func swarBytesEqual(x uint64, c byte) uint64 {
	y := x ^ (swarOnes * uint64(c))
	return (y - swarOnes) &^ y
}

// skipJSONSafeWords returns the index of the first 8-byte word at or after
// s[i] that contains a byte not in jsonSafeASCII, or of the final partial
// word. '<' (0x3C) and '>' (0x3E) differ only in bit 1, and '"' (0x22) and
// '&' (0x26) only in bit 2, so one comparison covers each pair.
func skipJSONSafeWords(s string, i int) int {
	for ; i+8 <= len(s); i += 8 {
		x := loadUint64(s[i : i+8])
		if (x|swarBytesBelow(x, 0x20)|swarBytesEqual(x&^(swarOnes*0x02), '<')|
			swarBytesEqual(x&^(swarOnes*0x04), '"')|swarBytesEqual(x, '\\'))&swarHigh != 0 {
			break
		}
	}
	return i
}
