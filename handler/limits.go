package handler

import (
	"bytes"
	"errors"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"
)

// Size limits on the request line and headers, refused in the JSON envelope
// before any parameter is parsed.
//
// A query string carries the same parameters as a JSON body, escaped at worst
// as many bytes per character (%F0%9F%98%80 and \ud83d\ude00 are both 12), so
// it gets the same limit, MaxBodyBytes, which is never below the largest valid
// request: a longer one cannot be valid, and is refused with 414 rather than
// decoded. The engines bound the request line first: fasthttp's read buffer
// (MAX_HEADER_BYTES) holds the request line and headers together, and the
// serverless platforms have their own URL limits.

const (
	msgHeadersTooLarge = "Request headers too large."
	msgURITooLong      = "Request URI too long; send long keys and values in a JSON body (POST with Content-Type: application/json)."
)

// queryTooLong reports whether req's query string exceeds the limit; the core
// checks it before routing, so that nothing of such a query is decoded, and
// answers with refuseQueryTooLong.
func (h *Handler) queryTooLong(req *request) bool {
	return len(req.RawQuery) > h.maxBody
}

// refuseQueryTooLong fills resp with the 414 answer to a query string over
// the limit.
func (h *Handler) refuseQueryTooLong(resp *response) {
	resp.fail(414, "Query string too long: at most "+strconv.Itoa(h.maxBody)+
		" bytes; send long keys and values in a JSON body (POST with Content-Type: application/json).")
}

// uriTooLong fills resp with the 414 answer for a request line the engine
// refused before the core saw it.
func (h *Handler) uriTooLong(resp *response) {
	resp.fail(414, msgURITooLong)
}

// requestLineOverflowed reports whether err, a fasthttp ErrSmallBuffer, came
// from a request line longer than the whole read buffer, rather than from
// headers that overflowed it after a shorter request line.
//
// fasthttp resets the request header on failure, so the error message is all
// that is left of the request: it quotes the buffer's first and last 200
// bytes ("contents: %q...%q"). When neither holds a line end, the request line
// almost certainly fills the buffer (a URI that long is what an oversized query
// string looks like), and 414 says what to fix. Otherwise, or when the message
// has no contents (Server.SecureErrorLogMessage), it is 431. The one request
// this misjudges as 414 has both a request line over 200 bytes and a header
// line over 200 bytes at the end of the buffer: over both limits in spirit.
func requestLineOverflowed(err error) bool {
	var small *fasthttp.ErrSmallBuffer
	return errors.As(err, &small) && quotedBufferHasNoLineEnd(small.Error())
}

// quotedBufferHasNoLineEnd reports whether the buffer contents quoted at the
// end of fasthttp's error text msg hold no '\n'; false if msg quotes none.
func quotedBufferHasNoLineEnd(msg string) bool {
	const marker = "contents: "
	i := strings.LastIndex(msg, marker)
	if i < 0 {
		return false
	}
	rest := msg[i+len(marker):]
	head, rest, ok := unquotePrefix(rest)
	if !ok || len(head) == 0 || bytes.IndexByte(head, '\n') >= 0 {
		return false
	}
	rest, ok = strings.CutPrefix(rest, "...")
	if !ok {
		// The whole buffer is quoted (it was at most 400 bytes) and holds no
		// line end: the request line alone filled it.
		return true
	}
	tail, _, ok := unquotePrefix(rest)
	return ok && bytes.IndexByte(tail, '\n') < 0
}

// unquotePrefix decodes the Go-quoted string at the start of s and returns it
// and what follows it.
func unquotePrefix(s string) (_ []byte, rest string, ok bool) {
	q, err := strconv.QuotedPrefix(s)
	if err != nil {
		return nil, s, false
	}
	u, err := strconv.Unquote(q)
	if err != nil {
		return nil, s, false
	}
	return []byte(u), s[len(q):], true
}
