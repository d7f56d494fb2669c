package handler

import (
	"errors"

	"github.com/warmkv/warmkv/cache"
)

const contentTypeJSON = "application/json"

// json answers with a JSON body. API answers are never cached: they are live data.
func (r *response) json(status int, body []byte) {
	r.Status = status
	r.ContentType = contentTypeJSON
	r.addHeader("Cache-Control", "no-store")
	r.Body = body
}

// ok answers {"status":"OK","message":msg}.
func (r *response) ok(msg string) {
	b := append(r.buf[:0], `{"status":"OK","message":`...)
	b = appendJSONString(b, msg)
	b = append(b, '}')
	r.buf = b
	r.json(200, b)
}

// fail answers {"status":"ERROR","message":msg} with the given status.
func (r *response) fail(status int, msg string) {
	b := append(r.buf[:0], `{"status":"ERROR","message":`...)
	b = appendJSONString(b, msg)
	b = append(b, '}')
	r.buf = b
	r.json(status, b)
}

// keyValue answers {"status":"OK","key":key,"value":value}.
func (r *response) keyValue(key, value string) {
	b := append(r.buf[:0], `{"status":"OK","key":`...)
	b = appendJSONString(b, key)
	b = append(b, `,"value":`...)
	b = appendJSONString(b, value)
	b = append(b, '}')
	r.buf = b
	r.json(200, b)
}

// storeFailed maps a store error to an answer. In the process alone, only a key
// and value larger than the whole budget can fail a plain write; a shared tier
// that does not answer fails anything with 503, and the client should retry.
func (r *response) storeFailed(err error) {
	switch {
	case errors.Is(err, cache.ErrUnavailable):
		r.addHeader("Retry-After", retryAfterSeconds)
		r.fail(503, msgSharedUnavailable)
	case errors.Is(err, cache.ErrBusy):
		r.addHeader("Retry-After", retryAfterSeconds)
		r.fail(503, msgScriptBusy)
	case errors.Is(err, cache.ErrTooLarge):
		r.fail(507, "The entry is larger than this cache's memory budget.")
	default:
		r.fail(500, "Internal error: "+err.Error())
	}
}

// retryAfterSeconds is the Retry-After of a 503 for a shared tier that does not
// answer: recovery is automatic, and probing it more often than this gains little.
const retryAfterSeconds = "1"

// msgScriptBusy: a Lua script on the Redis-protocol port has held the key
// past RESP_SCRIPT_BUSY_TIME; it ends, or SCRIPT KILL stops it.
const msgScriptBusy = "A script has held this key past its busy time; this operation was not run. Retry later."

const msgSharedUnavailable = "The shared cache tier is unavailable; this operation was not confirmed. Retry later."

// staleHeader marks an answer read from this instance's local copy while the
// shared tier was unavailable: another instance may have changed the key since.
const staleHeader = "Warmkv-Stale"

// readFailed answers a read's error and reports whether it did; a stale value
// is no failure: the header says what it is and the caller answers the value.
func (r *response) readFailed(err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, cache.ErrStale):
		r.addHeader(staleHeader, "shared tier unavailable")
		return false
	}
	r.storeFailed(err)
	return true
}

// msgBodyTooLarge is what faces answer, with 413, when a body exceeds MaxBodyBytes.
const msgBodyTooLarge = "Request body too large."

// bodyTooLarge fills resp with the 413 answer; faces call it when the engine
// refuses a body before the core sees it.
func (h *Handler) bodyTooLarge(resp *response) {
	resp.fail(413, msgBodyTooLarge)
}
