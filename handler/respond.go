package handler

import (
	"errors"

	"github.com/warmkv/warmkv/cache"
)

const contentTypeJSON = "application/json"

// json answers with a JSON body. API answers are never cached: they are live data.
func (r *Response) json(status int, body []byte) {
	r.Status = status
	r.ContentType = contentTypeJSON
	r.addHeader("Cache-Control", "no-store")
	r.Body = body
}

// ok answers {"status":"OK","message":msg}.
func (r *Response) ok(msg string) {
	b := append(r.buf[:0], `{"status":"OK","message":`...)
	b = appendJSONString(b, msg)
	b = append(b, '}')
	r.buf = b
	r.json(200, b)
}

// fail answers {"status":"ERROR","message":msg} with the given status.
func (r *Response) fail(status int, msg string) {
	b := append(r.buf[:0], `{"status":"ERROR","message":`...)
	b = appendJSONString(b, msg)
	b = append(b, '}')
	r.buf = b
	r.json(status, b)
}

// keyValue answers {"status":"OK","key":key,"value":value}.
func (r *Response) keyValue(key, value string) {
	b := append(r.buf[:0], `{"status":"OK","key":`...)
	b = appendJSONString(b, key)
	b = append(b, `,"value":`...)
	b = appendJSONString(b, value)
	b = append(b, '}')
	r.buf = b
	r.json(200, b)
}

// storeFailed maps a store error to an answer. Only a key and value larger than
// the whole budget can fail a plain write.
func (r *Response) storeFailed(err error) {
	switch {
	case errors.Is(err, cache.ErrTooLarge):
		r.fail(507, "The entry is larger than this cache's memory budget.")
	default:
		r.fail(500, "Internal error: "+err.Error())
	}
}

// MsgBodyTooLarge is what faces answer, with 413, when a body exceeds MaxBodyBytes.
const msgBodyTooLarge = "Request body too large."

// BodyTooLarge fills resp with the 413 answer; faces call it when the engine
// refuses a body before the core sees it.
func (h *Handler) BodyTooLarge(resp *Response) {
	resp.fail(413, msgBodyTooLarge)
}
