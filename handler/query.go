package handler

import (
	"bytes"
	"errors"
	"unicode/utf8"
)

// parseQuery parses an undecoded URL query string (without the '?'), such as
// "key=a%20b&value=x+y&expire=10", and records the parameters warmkv reads
// (see params.field) in p, all with kind paramString: numeric parameters are
// parsed later by the route, as for JSON strings. p must have been reset: a
// known parameter that is already set counts as a duplicate.
//
// The syntax follows net/url.ParseQuery: '&' separates pairs (';' is data,
// as in net/url since Go 1.17), '+' means space, %XX is a hex escape (either
// case), a pair without '=' has an empty value and empty pairs are skipped.
// Names are matched after decoding, exactly and case-sensitively.
//
// Unlike net/url, parameters warmkv does not read are ignored entirely, even
// if their percent-encoding is malformed (and so is a pair whose name cannot
// be decoded, as it cannot be a known name): only what the request is about
// can make it fail, clients and proxies may add parameters of their own (for
// example cache busters), and skipping them without decoding is cheaper.
//
// Values of known parameters are returned as newly allocated strings; nothing
// else is allocated on success. Every returned error is the client's fault
// and its Error() is a user-facing sentence.
func parseQuery(rawQuery []byte, p *params) error {
	for len(rawQuery) > 0 {
		pair := rawQuery
		if j := bytes.IndexByte(rawQuery, '&'); j >= 0 {
			pair, rawQuery = rawQuery[:j], rawQuery[j+1:]
		} else {
			rawQuery = nil
		}
		if len(pair) == 0 {
			continue
		}
		rawName, rawValue := pair, []byte(nil)
		if j := bytes.IndexByte(pair, '='); j >= 0 {
			rawName, rawValue = pair[:j], pair[j+1:]
		}
		var nameBuf [maxEscapedQueryNameLen]byte
		field, name := p.field(queryParamName(rawName, &nameBuf))
		if field == nil {
			continue
		}
		if field.set {
			return errors.New(`Query parameter "` + name + `" given more than once.`)
		}
		value, err := unescapeQueryValue(rawValue, name)
		if err != nil {
			return err
		}
		*field = param{set: true, kind: paramString, text: value}
	}
	return nil
}

// maxEscapedQueryNameLen is the longest raw parameter name that can decode to
// a known name: every decoded byte takes at most 3 raw bytes (%6B -> "k").
const maxEscapedQueryNameLen = 3 * maxParamNameLen

// queryParamName returns the decoded form of a parameter name good enough
// for matching against the known names, or nil if it cannot be one. Escaped
// names are decoded into buf, which the caller keeps on its stack.
func queryParamName(raw []byte, buf *[maxEscapedQueryNameLen]byte) []byte {
	if !needsQueryUnescape(raw) {
		return raw
	}
	if len(raw) > maxEscapedQueryNameLen {
		return nil
	}
	// Unescaping never lengthens, so this cannot outgrow buf.
	name, ok := appendQueryUnescaped(buf[:0], raw)
	if !ok {
		return nil
	}
	return name
}

// maxStackQueryUnescape is the longest escaped value decoded via a stack
// buffer, so that it costs exactly one allocation (the returned string).
const maxStackQueryUnescape = 512

// unescapeQueryValue decodes the value of the known parameter name into a
// newly allocated string, refusing malformed escapes and invalid UTF-8.
func unescapeQueryValue(raw []byte, name string) (string, error) {
	if !needsQueryUnescape(raw) {
		if !utf8.Valid(raw) {
			return "", errQueryInvalidUTF8(name)
		}
		return string(raw), nil
	}
	var stack [maxStackQueryUnescape]byte
	buf := stack[:0]
	if len(raw) > len(stack) {
		buf = make([]byte, 0, len(raw))
	}
	value, ok := appendQueryUnescaped(buf, raw)
	if !ok {
		return "", errors.New(`Invalid percent-encoding in query parameter "` + name + `".`)
	}
	if !utf8.Valid(value) {
		return "", errQueryInvalidUTF8(name)
	}
	return string(value), nil
}

func errQueryInvalidUTF8(name string) error {
	return errors.New(`Query parameter "` + name + `" is not valid UTF-8.`)
}

// needsQueryUnescape reports whether raw contains '%' or '+'.
func needsQueryUnescape(raw []byte) bool {
	for _, c := range raw {
		if c == '%' || c == '+' {
			return true
		}
	}
	return false
}

// appendQueryUnescaped appends the decoded form of the query component raw
// to dst ('+' is a space, %XX a byte). ok is false if a '%' is not followed
// by two hex digits. The result is never longer than raw.
func appendQueryUnescaped(dst, raw []byte) (_ []byte, ok bool) {
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; c {
		case '+':
			dst = append(dst, ' ')
		case '%':
			if i+2 >= len(raw) {
				return nil, false
			}
			hi, lo := hexDigitValue[raw[i+1]], hexDigitValue[raw[i+2]]
			if hi < 0 || lo < 0 {
				return nil, false
			}
			dst = append(dst, byte(hi)<<4|byte(lo))
			i += 2
		default:
			dst = append(dst, c)
		}
	}
	return dst, true
}
