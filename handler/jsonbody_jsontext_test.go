package handler

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// This file is the alternative that parseJSONBody (jsonbody.go) is measured
// against: the same contract built on go-json-experiment/json's jsontext
// tokenizer plus a field matcher, in about a third of the code. It is kept in
// a test so that the comparison can be rerun (BenchmarkParseJSONBody and
// BenchmarkFastHTTPBodyParsers) and so that the tests and FuzzParseJSONBody
// hold both parsers to the same answers, error messages included.
//
// It is not the one in use because it is measurably slower where the
// issue asked to measure: through the fasthttp face (ServeFastHTTP, in
// process), a request with a JSON body costs 16-26% more CPU with it (a PUT:
// about 900 ns instead of 735), over the 3% that would have let the simpler
// parser win. Through a real socket the same ~160 ns are under 1% of the
// server's CPU per request and lost in the noise of a shared machine; see the
// commit that added this file for both sets of figures.

// jsontextReader is a reusable jsontext decoder. Reading from a bytes.Buffer
// lets jsontext parse a body in place instead of copying it. A pooled reader
// keeps a view of the last body it read until its next use, which is harmless:
// nothing reads it.
type jsontextReader struct {
	body bytes.Buffer
	dec  jsontext.Decoder
}

var jsontextReaders = sync.Pool{New: func() any { return new(jsontextReader) }}

// jsontext's own duplicate check is off: warmkv refuses duplicates of the
// fields it reads (params.field) and ignores the others.
var jsontextOptions = jsontext.AllowDuplicateNames(true)

// parseJSONBodyJSONText is parseJSONBody built on jsontext: same results, same
// errors.
func parseJSONBodyJSONText(body []byte, p *params) error {
	i := skipJSONSpace(body, 0)
	if i == len(body) || body[i] != '{' && isJSONValueStart(body[i]) {
		return errBodyNotObject
	}
	r := jsontextReaders.Get().(*jsontextReader)
	r.body = *bytes.NewBuffer(body)
	r.dec.Reset(&r.body, jsontextOptions)
	err := jsontextReadObject(&r.dec, p)
	if err == nil && len(bytes.TrimLeft(r.dec.UnreadBuffer(), " \t\r\n")) != 0 {
		err = errBodyTrailingData
	}
	jsontextReaders.Put(r)
	if err == nil {
		return nil
	}
	var syntaxErr *jsontext.SyntacticError
	if errors.As(err, &syntaxErr) {
		return explainJSONTextError(body, int(syntaxErr.ByteOffset))
	}
	return err // ours: a duplicate or nesting too deep
}

func isJSONValueStart(c byte) bool {
	return c == '[' || c == '"' || c == '-' || isDigit(c) || c == 't' || c == 'f' || c == 'n'
}

// jsontextReadObject reads the body object, whose '{' is next, into p.
func jsontextReadObject(dec *jsontext.Decoder, p *params) error {
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	for dec.PeekKind() != '}' {
		name, err := dec.ReadValue()
		if err != nil {
			return err
		}
		var nameBuf [maxEscapedNameLen]byte
		field, canonical := p.field(jsontextName(name, &nameBuf))
		if field != nil && field.set {
			return errors.New(`Duplicate field "` + canonical + `".`)
		}
		if err := jsontextReadValue(dec, field); err != nil {
			return err
		}
	}
	_, err := dec.ReadToken()
	return err
}

// jsontextName is the decoded field name good enough for params.field: nil
// for a name too long to be a known one.
func jsontextName(quoted []byte, buf *[maxEscapedNameLen]byte) []byte {
	raw := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(raw, '\\') < 0 {
		return raw
	}
	if len(raw) > maxEscapedNameLen {
		return nil
	}
	name, _ := jsontext.AppendUnquote(buf[:0], quoted)
	return name
}

// jsontextReadValue reads the next value, into f if it is a known field.
func jsontextReadValue(dec *jsontext.Decoder, f *param) error {
	if k := dec.PeekKind(); k == '{' || k == '[' {
		if err := jsontextSkipContainer(dec); err != nil {
			return err
		}
		if f != nil {
			*f = param{set: true, kind: paramOther}
		}
		return nil
	}
	v, err := dec.ReadValue()
	if err != nil || f == nil {
		return err
	}
	switch v[0] {
	case '"':
		*f = param{set: true, kind: paramString, text: jsontextUnquote(v)}
	case 't', 'f', 'n':
		*f = param{set: true, kind: paramOther}
	default:
		*f = param{set: true, kind: paramNumber, text: string(v)}
	}
	return nil
}

// jsontextUnquote is the string value quoted as a new string, with one
// allocation for strings up to maxStackUnescape bytes, as unescapeJSONString.
func jsontextUnquote(quoted []byte) string {
	raw := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw)
	}
	var buf [maxStackUnescape]byte
	s, _ := jsontext.AppendUnquote(buf[:0], quoted)
	return string(s)
}

// jsontextSkipContainer reads the object or array that is next token by
// token, so that nesting beyond maxJSONDepth is refused where parseJSONBody
// refuses it, before anything after it is read.
func jsontextSkipContainer(dec *jsontext.Decoder) error {
	depth := dec.StackDepth()
	for {
		tok, err := dec.ReadToken()
		if err != nil {
			return err
		}
		switch tok.Kind() {
		case '{', '[':
			if dec.StackDepth() > maxJSONDepth {
				return errBodyTooDeep
			}
		case '}', ']':
			if dec.StackDepth() == depth {
				return nil
			}
		}
	}
}

// explainJSONTextError turns a jsontext error at byte offset at into
// parseJSONBody's error. jsontext stops at the first problem, as
// parseJSONBody does; what it does not give is parseJSONBody's wording, which
// follows encoding/json's. So: invalid UTF-8 if the problem at is one (in
// a string, since encoding/json, which accepts any byte there, finds nothing
// wrong up to it), else encoding/json's syntax error, reworded.
func explainJSONTextError(body []byte, at int) error {
	syntaxErr := encodingJSONSyntaxError(body)
	if (syntaxErr == nil || syntaxErr.offset > at) && invalidUTF8At(body, at) {
		return errBodyInvalidUTF8
	}
	if syntaxErr == nil {
		return &jsonSyntaxError{offset: at, what: "invalid JSON"} // not seen: both follow RFC 8259
	}
	return syntaxErr
}

// invalidUTF8At reports whether jsontext's error at body[i] is invalid UTF-8
// by parseJSONBody's rules: a raw byte that does not start valid UTF-8, a \u
// escape of a low surrogate, or of a high one not followed by a low one. A
// high surrogate followed by "\u" and anything but four hex digits, or by the
// end of the body, is malformed JSON instead (scanJSONEscape).
func invalidUTF8At(body []byte, i int) bool {
	if i >= len(body) {
		return false
	}
	if body[i] >= utf8.RuneSelf {
		return true
	}
	r, ok := unicodeEscapeAt(body, i)
	if !ok || !utf16.IsSurrogate(r) {
		return false
	}
	if r >= 0xDC00 {
		return true
	}
	i += 6
	if i < len(body) && body[i] != '\\' || i+1 < len(body) && body[i+1] != 'u' {
		return true
	}
	_, ok = unicodeEscapeAt(body, i)
	return ok
}

// unicodeEscapeAt decodes the \uXXXX escape at body[i:], if there is one.
func unicodeEscapeAt(body []byte, i int) (rune, bool) {
	if i+6 > len(body) || body[i] != '\\' || body[i+1] != 'u' {
		return 0, false
	}
	var r rune
	for _, c := range body[i+2 : i+6] {
		v := hexDigitValue[c]
		if v < 0 {
			return 0, false
		}
		r = r<<4 | rune(v)
	}
	return r, true
}

// encodingJSONSyntaxError is encoding/json's first syntax error in body, in
// parseJSONBody's words: the offset of the offending byte rather than the count
// of bytes read, "unexpected end of input", and non-ASCII characters decoded
// as UTF-8 rather than byte by byte. nil if encoding/json finds none.
func encodingJSONSyntaxError(body []byte) *jsonSyntaxError {
	var raw json.RawMessage
	var se *json.SyntaxError
	if !errors.As(json.Unmarshal(body, &raw), &se) {
		return nil
	}
	msg := se.Error()
	// At the end of the input encoding/json feeds its scanner a space: an
	// error about a space that the body does not end with is about the end.
	atEnd := se.Offset == int64(len(body)) && body[len(body)-1] != ' ' && strings.HasPrefix(msg, "invalid character ' '")
	if msg == "unexpected end of JSON input" || atEnd {
		return &jsonSyntaxError{offset: len(body), what: "unexpected end of input"}
	}
	i := int(se.Offset) - 1
	context, ok := strings.CutPrefix(msg, "invalid character "+encodingJSONQuoteChar(body[i])+" ")
	if !ok {
		return &jsonSyntaxError{offset: i, what: msg}
	}
	var syntaxErr *jsonSyntaxError
	errors.As(invalidJSONChar(body, i, context), &syntaxErr)
	return syntaxErr
}

// encodingJSONQuoteChar is how encoding/json quotes the byte c in its errors.
func encodingJSONQuoteChar(c byte) string {
	switch c {
	case '\'':
		return `'\''`
	case '"':
		return `'"'`
	}
	s := strconv.Quote(string(rune(c)))
	return "'" + s[1:len(s)-1] + "'"
}
