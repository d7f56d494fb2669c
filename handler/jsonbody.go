//lint:file-ignore ST1005 the errors of parseJSONBody are the API's answers, byte for byte (see their comment)

package handler

import (
	"bytes"
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// This file is a small, strict JSON reader specialised for request bodies.
// encoding/json is not used because it allocates per field (reflection or a
// map), silently replaces invalid UTF-8 and lone surrogates with U+FFFD
// (warmkv must refuse them: it stores only valid UTF-8), and matches struct
// fields case-insensitively. This reader validates the whole body but
// allocates only the strings of the fields warmkv reads.

// maxJSONDepth bounds object/array nesting (the body object itself is level
// 1). warmkv reads only flat fields, so deep nesting is never legitimate, and
// the bound keeps the recursive skipper's stack use small.
const maxJSONDepth = 64

// Errors of parseJSONBody. Their text is shown to users verbatim inside the
// JSON error response, which is why they are capitalised sentences ending
// with a period, unlike usual Go error strings.
//
//nolint:revive,staticcheck // error-strings, ST1005: these are the API's answers, byte for byte
var (
	errBodyNotObject    = errors.New("Request body must be a JSON object.")
	errBodyTrailingData = errors.New("Unexpected data after the JSON object.")
	errBodyInvalidUTF8  = errors.New("Request body is not valid UTF-8.")
	errBodyTooDeep      = errors.New("JSON nested too deeply.")
)

// jsonSyntaxError reports malformed JSON. offset is the zero-based index of
// the offending byte in the body (len(body) when the input ended early).
type jsonSyntaxError struct {
	offset int
	what   string
}

func (e *jsonSyntaxError) Error() string {
	return "Malformed JSON at byte " + strconv.Itoa(e.offset) + ": " + e.what + "."
}

// readJSONBody is the body parser the routes call: parseJSONBody. It is a
// variable only so that BenchmarkFastHTTPBodyParsers can run whole requests
// with the jsontext-based parser this one is measured against
// (jsonbody_jsontext_test.go).
var readJSONBody = parseJSONBody

// parseJSONBody parses a request body that must be exactly one JSON object
// and records the fields warmkv reads (see params.field) in p. Other fields
// are validated and ignored. p must have been reset: a known field that is
// already set counts as a duplicate.
//
// Known string fields are unescaped into newly allocated strings (safe to
// store); nothing else is allocated on success. Every returned error is the
// client's fault and its Error() is a user-facing sentence.
func parseJSONBody(body []byte, p *params) error {
	i := skipJSONSpace(body, 0)
	if i == len(body) {
		return errBodyNotObject
	}
	if c := body[i]; c != '{' {
		if c == '[' || c == '"' || c == '-' || isDigit(c) || c == 't' || c == 'f' || c == 'n' {
			// Looks like some other JSON value: the client sent valid-ish
			// JSON of the wrong shape, so say what shape we want.
			return errBodyNotObject
		}
		return invalidJSONChar(body, i, "looking for beginning of value")
	}
	i, err := parseJSONObject(body, i, 1, p)
	if err != nil {
		return err
	}
	if skipJSONSpace(body, i) != len(body) {
		return errBodyTrailingData
	}
	return nil
}

// parseJSONObject reads the object starting at body[i] == '{' and returns the
// index just past its '}'. If p is non-nil, known fields are recorded in p;
// nested objects are skipped with p == nil.
func parseJSONObject(body []byte, i, depth int, p *params) (int, error) {
	if depth > maxJSONDepth {
		return 0, errBodyTooDeep
	}
	i = skipJSONSpace(body, i+1)
	if i < len(body) && body[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(body) {
			return 0, unexpectedJSONEnd(body)
		}
		if body[i] != '"' {
			return 0, invalidJSONChar(body, i, "looking for beginning of object key string")
		}
		end, escaped, err := scanJSONString(body, i)
		if err != nil {
			return 0, err
		}
		var field *param
		if p != nil {
			var name string
			var nameBuf [maxEscapedNameLen]byte
			field, name = p.field(jsonFieldName(body[i+1:end-1], escaped, &nameBuf))
			if field != nil && field.set {
				return 0, errors.New(`Duplicate field "` + name + `".`)
			}
		}
		i = skipJSONSpace(body, end)
		if i >= len(body) {
			return 0, unexpectedJSONEnd(body)
		}
		if body[i] != ':' {
			return 0, invalidJSONChar(body, i, "after object key")
		}
		i = skipJSONSpace(body, i+1)
		if field != nil {
			i, err = parseJSONParam(body, i, depth, field)
		} else {
			i, err = skipJSONValue(body, i, depth)
		}
		if err != nil {
			return 0, err
		}
		i = skipJSONSpace(body, i)
		if i >= len(body) {
			return 0, unexpectedJSONEnd(body)
		}
		switch body[i] {
		case ',':
			i = skipJSONSpace(body, i+1)
		case '}':
			return i + 1, nil
		default:
			return 0, invalidJSONChar(body, i, "after object key:value pair")
		}
	}
}

// maxEscapedNameLen is the longest raw (still escaped) field name that can
// decode to a known name: every decoded byte takes at most 6 raw bytes
// (\u0041 -> "A"), so longer raw names decode to more than maxParamNameLen
// bytes.
const maxEscapedNameLen = 6 * maxParamNameLen

// jsonFieldName returns the decoded form of a field name good enough for
// matching against the known names. Names without escapes (practically all)
// are returned as is; escaped ones are decoded into buf, which the caller
// keeps on its stack.
func jsonFieldName(raw []byte, escaped bool, buf *[maxEscapedNameLen]byte) []byte {
	if !escaped {
		return raw
	}
	if len(raw) > maxEscapedNameLen {
		return nil // cannot be a known name
	}
	// Unescaping never lengthens, so this cannot outgrow buf.
	return appendJSONUnescaped(buf[:0], raw)
}

// parseJSONParam reads the value at body[i] into the known field f.
func parseJSONParam(body []byte, i, depth int, f *param) (int, error) {
	if i >= len(body) {
		return 0, unexpectedJSONEnd(body)
	}
	var end int
	var err error
	switch c := body[i]; {
	case c == '"':
		var escaped bool
		end, escaped, err = scanJSONString(body, i)
		if err != nil {
			return 0, err
		}
		f.kind = paramString
		f.text = unescapeJSONString(body[i+1:end-1], escaped)
	case c == '-' || isDigit(c):
		end, err = scanJSONNumber(body, i)
		if err != nil {
			return 0, err
		}
		f.kind = paramNumber
		f.text = string(body[i:end])
	default:
		end, err = skipJSONValue(body, i, depth)
		if err != nil {
			return 0, err
		}
		f.kind = paramOther
		f.text = ""
	}
	f.set = true
	return end, nil
}

// skipJSONValue validates the value starting at body[i] and returns the index
// just past it. depth is the nesting level of the container holding it.
func skipJSONValue(body []byte, i, depth int) (int, error) {
	if i >= len(body) {
		return 0, unexpectedJSONEnd(body)
	}
	switch c := body[i]; c {
	case '"':
		end, _, err := scanJSONString(body, i)
		return end, err
	case '{':
		return parseJSONObject(body, i, depth+1, nil)
	case '[':
		return skipJSONArray(body, i, depth+1)
	case 't':
		return scanJSONLiteral(body, i, "true")
	case 'f':
		return scanJSONLiteral(body, i, "false")
	case 'n':
		return scanJSONLiteral(body, i, "null")
	default:
		if c == '-' || isDigit(c) {
			return scanJSONNumber(body, i)
		}
		return 0, invalidJSONChar(body, i, "looking for beginning of value")
	}
}

// skipJSONArray validates the array starting at body[i] == '[' and returns
// the index just past its ']'.
func skipJSONArray(body []byte, i, depth int) (int, error) {
	if depth > maxJSONDepth {
		return 0, errBodyTooDeep
	}
	i = skipJSONSpace(body, i+1)
	if i < len(body) && body[i] == ']' {
		return i + 1, nil
	}
	for {
		var err error
		i, err = skipJSONValue(body, i, depth)
		if err != nil {
			return 0, err
		}
		i = skipJSONSpace(body, i)
		if i >= len(body) {
			return 0, unexpectedJSONEnd(body)
		}
		switch body[i] {
		case ',':
			i = skipJSONSpace(body, i+1)
		case ']':
			return i + 1, nil
		default:
			return 0, invalidJSONChar(body, i, "after array element")
		}
	}
}

// jsonStringPlain[c] is true for the bytes that stand for themselves inside a
// JSON string and need no further check: ASCII from 0x20 up, except '"' and
// '\\'. Bytes >= 0x80 go through UTF-8 validation instead.
var jsonStringPlain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// skipJSONPlainWords returns the index of the first 8-byte word at or after
// body[i] that contains a byte not in jsonStringPlain, or of the final
// partial word.
func skipJSONPlainWords(body []byte, i int) int {
	for ; i+8 <= len(body); i += 8 {
		x := loadUint64(body[i : i+8])
		if (x|swarBytesBelow(x, 0x20)|swarBytesEqual(x, '"')|swarBytesEqual(x, '\\'))&swarHigh != 0 {
			break
		}
	}
	return i
}

// scanJSONString validates the string starting at body[i] == '"' and returns
// the index just past its closing quote and whether it contains escapes.
// It rejects control characters, malformed escapes, invalid UTF-8 and \u
// escapes that do not form a Unicode scalar value (lone surrogates).
func scanJSONString(body []byte, i int) (end int, escaped bool, err error) {
	i++
	for {
		if i < len(body) && jsonStringPlain[body[i]] {
			// A run of plain ASCII (most strings are one): skip it 8 bytes
			// at a time, then byte by byte up to what needs a closer look.
			i = skipJSONPlainWords(body, i)
			for i < len(body) && jsonStringPlain[body[i]] {
				i++
			}
		}
		if i >= len(body) {
			return 0, false, unexpectedJSONEnd(body)
		}
		switch c := body[i]; {
		case c == '"':
			return i + 1, escaped, nil
		case c == '\\':
			n, err := scanJSONEscape(body, i)
			if err != nil {
				return 0, false, err
			}
			escaped = true
			i += n
		case c < 0x20:
			return 0, false, invalidJSONChar(body, i, "in string literal")
		default:
			if is2ByteUTF8(body, i) { // fast path for Cyrillic, Greek, accents
				i += 2
				continue
			}
			r, size := utf8.DecodeRune(body[i:])
			if r == utf8.RuneError && size == 1 {
				return 0, false, errBodyInvalidUTF8
			}
			i += size
		}
	}
}

// scanJSONEscape validates the escape sequence starting at body[i] == '\\'
// and returns its length in bytes (a surrogate pair counts as one sequence).
func scanJSONEscape(body []byte, i int) (int, error) {
	if i+1 >= len(body) {
		return 0, unexpectedJSONEnd(body)
	}
	switch body[i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2, nil
	case 'u':
	default:
		return 0, invalidJSONChar(body, i+1, "in string escape code")
	}
	r, err := scanJSONHex4(body, i+2)
	if err != nil {
		return 0, err
	}
	if !utf16.IsSurrogate(r) {
		return 6, nil
	}
	if r >= 0xDC00 {
		return 0, errBodyInvalidUTF8 // low surrogate without a high one
	}
	// A high surrogate must be followed by an escaped low surrogate.
	if i+6 >= len(body) || (body[i+6] == '\\' && i+7 >= len(body)) {
		return 0, unexpectedJSONEnd(body)
	}
	if body[i+6] != '\\' || body[i+7] != 'u' {
		return 0, errBodyInvalidUTF8
	}
	r2, err := scanJSONHex4(body, i+8)
	if err != nil {
		return 0, err
	}
	if r2 < 0xDC00 || r2 > 0xDFFF {
		return 0, errBodyInvalidUTF8
	}
	return 12, nil
}

// scanJSONHex4 decodes the four hex digits of a \u escape at body[i:].
func scanJSONHex4(body []byte, i int) (rune, error) {
	var r rune
	for k := i; k < i+4; k++ {
		if k >= len(body) {
			return 0, unexpectedJSONEnd(body)
		}
		v := hexDigitValue[body[k]]
		if v < 0 {
			return 0, invalidJSONChar(body, k, "in \\u hexadecimal character escape")
		}
		r = r<<4 | rune(v)
	}
	return r, nil
}

// hexDigitValue maps a byte to its hexadecimal digit value, or -1.
var hexDigitValue = func() (t [256]int8) {
	for c := range t {
		switch {
		case '0' <= c && c <= '9':
			t[c] = int8(c - '0')
		case 'a' <= c && c <= 'f':
			t[c] = int8(c - 'a' + 10)
		case 'A' <= c && c <= 'F':
			t[c] = int8(c - 'A' + 10)
		default:
			t[c] = -1
		}
	}
	return t
}()

// maxStackUnescape is the longest escaped string value unescaped via a stack
// buffer, so that it costs exactly one allocation (the returned string);
// longer ones cost two, which is negligible next to reading them.
const maxStackUnescape = 512

// unescapeJSONString returns the string content raw (between the quotes,
// already validated by scanJSONString) as a newly allocated string.
func unescapeJSONString(raw []byte, escaped bool) string {
	if !escaped {
		return string(raw)
	}
	if len(raw) <= maxStackUnescape {
		var buf [maxStackUnescape]byte
		return string(appendJSONUnescaped(buf[:0], raw))
	}
	return string(appendJSONUnescaped(make([]byte, 0, len(raw)), raw))
}

// appendJSONUnescaped appends the decoded form of raw, a string content
// already validated by scanJSONString, to dst. The result is never longer
// than raw.
func appendJSONUnescaped(dst, raw []byte) []byte {
	for len(raw) > 0 {
		j := bytes.IndexByte(raw, '\\')
		if j < 0 {
			return append(dst, raw...)
		}
		dst = append(dst, raw[:j]...)
		raw = raw[j:]
		switch c := raw[1]; c {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hex4Value(raw[2:6])
			raw = raw[6:]
			if utf16.IsSurrogate(r) {
				// Validated: a low-surrogate escape follows.
				r = utf16.DecodeRune(r, hex4Value(raw[2:6]))
				raw = raw[6:]
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default: // '"', '\\', '/'
			dst = append(dst, c)
		}
		raw = raw[2:]
	}
	return dst
}

// hex4Value decodes four already validated hex digits.
func hex4Value(h []byte) rune {
	return rune(hexDigitValue[h[0]])<<12 | rune(hexDigitValue[h[1]])<<8 |
		rune(hexDigitValue[h[2]])<<4 | rune(hexDigitValue[h[3]])
}

// scanJSONNumber validates the number starting at body[i] (a '-' or digit)
// per RFC 8259 and returns the index just past it.
func scanJSONNumber(body []byte, i int) (int, error) {
	if body[i] == '-' {
		i++
		if i >= len(body) {
			return 0, unexpectedJSONEnd(body)
		}
	}
	switch c := body[i]; {
	case c == '0':
		i++ // no leading zeros: a following digit is a syntax error for the caller
	case isDigit(c):
		i = skipDigits(body, i+1)
	default:
		return 0, invalidJSONChar(body, i, "in numeric literal")
	}
	if i < len(body) && body[i] == '.' {
		i++
		if i >= len(body) {
			return 0, unexpectedJSONEnd(body)
		}
		if !isDigit(body[i]) {
			return 0, invalidJSONChar(body, i, "after decimal point in numeric literal")
		}
		i = skipDigits(body, i+1)
	}
	if i < len(body) && (body[i] == 'e' || body[i] == 'E') {
		i++
		if i < len(body) && (body[i] == '+' || body[i] == '-') {
			i++
		}
		if i >= len(body) {
			return 0, unexpectedJSONEnd(body)
		}
		if !isDigit(body[i]) {
			return 0, invalidJSONChar(body, i, "in exponent of numeric literal")
		}
		i = skipDigits(body, i+1)
	}
	return i, nil
}

func skipDigits(body []byte, i int) int {
	for i < len(body) && isDigit(body[i]) {
		i++
	}
	return i
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// scanJSONLiteral validates that the literal lit (true, false or null)
// starts at body[i] and returns the index just past it.
func scanJSONLiteral(body []byte, i int, lit string) (int, error) {
	for k := 1; k < len(lit); k++ {
		if i+k >= len(body) {
			return 0, unexpectedJSONEnd(body)
		}
		if body[i+k] != lit[k] {
			return 0, invalidJSONChar(body, i+k, "in literal "+lit+" (expecting "+strconv.QuoteRune(rune(lit[k]))+")")
		}
	}
	return i + len(lit), nil
}

func skipJSONSpace(body []byte, i int) int {
	for i < len(body) {
		switch body[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

func unexpectedJSONEnd(body []byte) error {
	return &jsonSyntaxError{offset: len(body), what: "unexpected end of input"}
}

// invalidJSONChar reports the byte at body[i] as unexpected; context says
// what the parser was doing, as in encoding/json's messages.
func invalidJSONChar(body []byte, i int, context string) error {
	var what string
	if r, size := utf8.DecodeRune(body[i:]); r == utf8.RuneError && size == 1 {
		what = "invalid byte 0x" + strconv.FormatUint(uint64(body[i]), 16)
	} else {
		what = "invalid character " + strconv.QuoteRune(r)
	}
	return &jsonSyntaxError{offset: i, what: what + " " + context}
}
