package handler

import (
	"errors"
	"math"
	"mime"
	"strconv"
	"unicode/utf8"

	"github.com/warmkv/warmkv/cache"
)

// The operations beyond /put and /get, memcached-over-HTTP style: parameters come
// from the query string (GET or POST) or, for a POST with Content-Type
// application/json, from a JSON body, which is then the only source.

var readWrite = []string{"GET", "POST"}

func (h *Handler) addOperations() {
	h.add("/set", readWrite, h.set)
	h.add("/delete", readWrite, h.delete)
	h.add("/checkandset", readWrite, h.checkAndSet)
	h.add("/increment", readWrite, h.increment(+1))
	h.add("/decrement", readWrite, h.increment(-1))
	h.add("/append", readWrite, h.appendValue(false))
	h.add("/prepend", readWrite, h.appendValue(true))
	h.add("/flush", readWrite, h.flush)
	h.add("/snapshot", writeOnly, h.saveSnapshot)
}

const (
	msgDeleted       = "Key deleted."
	msgFlushed       = "Cache flushed."
	msgCompareFailed = "Current value does not match \"compare\"; nothing changed."
	msgNotInteger    = "The stored value is not a 64-bit integer; nothing changed."
	msgOverflow      = "The result would overflow a signed 64-bit integer; nothing changed."
	// msgChangedNotText: see msgValueNotText.
	msgChangedNotText = "The value was changed, but it is not valid UTF-8 text, which JSON cannot carry; read it over the Redis protocol."
)

// readParams fills p from a JSON body or from the query string.
func readParams(req *request, p *params) error {
	if req.Method == "POST" && isJSON(req.ContentType) {
		return readJSONBody(req.Body, p)
	}
	return parseQuery(unsafeBytes(req.RawQuery), p)
}

// readKey reads the parameters and validates the key, answering 400 itself when
// either fails.
func (h *Handler) readKey(req *request, p *params, resp *response) (string, bool) {
	if err := readParams(req, p); err != nil {
		resp.fail(400, err.Error())
		return "", false
	}
	return h.key(p, resp)
}

func isJSON(contentType string) bool {
	if contentType == contentTypeJSON {
		return true
	}
	if contentType == "" {
		return false
	}
	media, _, err := mime.ParseMediaType(contentType)
	return err == nil && media == contentTypeJSON
}

// set is /set: like /put, from either parameter source.
func (h *Handler) set(req *request, resp *response) {
	var p params
	if err := readParams(req, &p); err != nil {
		resp.fail(400, err.Error())
		return
	}
	h.store(&p, resp)
}

// store validates key, value and expiry and writes them. A write without an expiry
// clears the old one, as Redis's SET does.
func (h *Handler) store(p *params, resp *response) {
	key, ok := h.key(p, resp)
	if !ok {
		return
	}
	value, ok := h.value(p, resp)
	if !ok {
		return
	}
	expireAt, ok := h.expiry(p, resp, 0)
	if !ok {
		return
	}
	if err := h.kv.Set(key, value, expireAt); err != nil {
		resp.storeFailed(err)
		return
	}
	resp.ok(msgPutOK)
}

func (h *Handler) delete(req *request, resp *response) {
	var p params
	key, ok := h.readKey(req, &p, resp)
	if !ok {
		return
	}
	found, err := h.kv.Delete(key)
	switch {
	case err != nil:
		resp.storeFailed(err)
		return
	case !found:
		resp.fail(404, msgKeyNotFound)
		return
	}
	resp.ok(msgDeleted)
}

// checkAndSet stores value if the key is absent or holds exactly compare.
func (h *Handler) checkAndSet(req *request, resp *response) {
	var p params
	key, ok := h.readKey(req, &p, resp)
	if !ok {
		return
	}
	value, ok := h.value(&p, resp)
	if !ok {
		return
	}
	compare, ok := h.text(&p.compare, "compare", 0, h.maxValue, resp)
	if !ok {
		return
	}
	expireAt, ok := h.expiry(&p, resp, cache.KeepTTL)
	if !ok {
		return
	}
	swapped, err := h.kv.CompareAndSet(key, compare, value, expireAt)
	switch {
	case err != nil:
		resp.storeFailed(err)
	case !swapped:
		resp.fail(409, msgCompareFailed)
	default:
		resp.keyValue(key, value)
	}
}

// increment returns the handler of /increment (sign +1) or /decrement (sign -1).
// The amount is "value", 1 when absent; a missing key counts as 0.
func (h *Handler) increment(sign int64) func(*request, *response) {
	return func(req *request, resp *response) {
		var p params
		key, ok := h.readKey(req, &p, resp)
		if !ok {
			return
		}
		amount := int64(1)
		if p.value.set {
			if amount, ok = integerParam(&p.value, "value", resp); !ok {
				return
			}
		}
		if sign < 0 {
			if amount == math.MinInt64 {
				resp.fail(400, msgOverflow)
				return
			}
			amount = -amount
		}
		expireAt, ok := h.expiry(&p, resp, cache.KeepTTL)
		if !ok {
			return
		}
		n, err := h.kv.IncrementBy(key, amount, expireAt)
		switch {
		case errors.Is(err, cache.ErrNotInteger):
			resp.fail(400, msgNotInteger)
		case errors.Is(err, cache.ErrOverflow):
			resp.fail(400, msgOverflow)
		case err != nil:
			resp.storeFailed(err)
		default:
			var digits [20]byte
			resp.keyValue(key, unsafeString(strconv.AppendInt(digits[:0], n, 10)))
		}
	}
}

// appendValue returns the handler of /append or /prepend.
func (h *Handler) appendValue(prepend bool) func(*request, *response) {
	return func(req *request, resp *response) {
		var p params
		key, ok := h.readKey(req, &p, resp)
		if !ok {
			return
		}
		fragment, ok := h.value(&p, resp)
		if !ok {
			return
		}
		expireAt, ok := h.expiry(&p, resp, cache.KeepTTL)
		if !ok {
			return
		}
		// A value stored over RESP may be bytes that are not text: the
		// answer could not carry the result, so nothing is changed.
		if current, _, _, err := h.kv.Lookup(key); err == nil && !utf8.ValidString(current) {
			resp.fail(422, msgValueNotText)
			return
		}
		value, err := h.kv.Append(key, fragment, prepend, h.maxValue, expireAt)
		switch {
		case errors.Is(err, cache.ErrValueTooLong):
			resp.fail(400, "The result would be longer than "+strconv.Itoa(h.maxValue)+" characters; nothing changed.")
		case err != nil:
			resp.storeFailed(err)
		case !utf8.ValidString(value):
			// The value became bytes that are not text between the check
			// and the change, over RESP: the change is made.
			resp.fail(422, msgChangedNotText)
		default:
			resp.keyValue(key, value)
		}
	}
}

func (h *Handler) flush(_ *request, resp *response) {
	if err := h.kv.Flush(); err != nil {
		resp.storeFailed(err)
		return
	}
	resp.ok(msgFlushed)
}

// maxExpireSeconds keeps expiry times representable in Unix nanoseconds.
const maxExpireSeconds = int64(math.MaxInt64/1_000_000_000 - 1)

// expiry reads "expire" (absolute Unix seconds, 0 = never) or "ttl" (relative
// seconds, positive) and returns the expiry in Unix nanoseconds; absent returns
// whenAbsent (0 to clear the expiry, cache.KeepTTL to keep it).
func (h *Handler) expiry(p *params, resp *response, whenAbsent int64) (int64, bool) {
	switch {
	case p.expire.set && p.ttl.set:
		resp.fail(400, `Give either "expire" or "ttl", not both.`)
		return 0, false
	case p.expire.set:
		at, ok := integerParam(&p.expire, "expire", resp)
		if !ok {
			return 0, false
		}
		if at < 0 || at > maxExpireSeconds {
			resp.fail(400, `"expire" must be a Unix time in seconds between 0 and `+strconv.FormatInt(maxExpireSeconds, 10)+`.`)
			return 0, false
		}
		if at == 0 {
			return 0, true
		}
		return at * 1e9, true
	case p.ttl.set:
		ttl, ok := integerParam(&p.ttl, "ttl", resp)
		if !ok {
			return 0, false
		}
		now := h.now().UnixNano()
		if ttl <= 0 || ttl > (math.MaxInt64-now)/1e9 {
			resp.fail(400, `"ttl" must be a positive number of seconds.`)
			return 0, false
		}
		return now + ttl*1e9, true
	}
	return whenAbsent, true
}

// integerParam reads a signed 64-bit integer given as a JSON number or a decimal
// string.
func integerParam(f *param, name string, resp *response) (int64, bool) {
	if f.kind != paramString && f.kind != paramNumber {
		resp.fail(400, `"`+name+`" must be an integer.`)
		return 0, false
	}
	n, err := strconv.ParseInt(f.text, 10, 64)
	if err != nil {
		resp.fail(400, `"`+name+`" must be an integer between -9223372036854775808 and 9223372036854775807.`)
		return 0, false
	}
	return n, true
}

// saveSnapshot is POST /snapshot: write the whole cache to the snapshot file now.
func (h *Handler) saveSnapshot(_ *request, resp *response) {
	if h.snapshot == nil {
		resp.fail(409, "Snapshots are off; set SNAPSHOT_PATH to turn them on.")
		return
	}
	keys, err := h.snapshot()
	if err != nil {
		resp.fail(500, "Snapshot failed: "+err.Error())
		return
	}
	resp.ok("Snapshot saved: " + strconv.Itoa(keys) + " keys.")
}
