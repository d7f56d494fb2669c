package handler

import (
	"io/fs"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/warmkv/warmkv/cache"
)

// route is one path: the methods it answers and what it does.
type route struct {
	label   string // the route label in metrics
	public  bool   // served without the access token
	methods []string
	allow   string // the Allow header for 405 answers
	serve   func(req *request, resp *response)
}

func (rt *route) allows(method string) bool {
	for _, m := range rt.methods {
		if m == method {
			return true
		}
	}
	return false
}

var (
	readOnly  = []string{"GET", "HEAD"}
	writeOnly = []string{"POST"}
)

func (h *Handler) add(path string, methods []string, serve func(*request, *response)) {
	h.addLabelled(path, path, methods, serve)
}

func (h *Handler) addLabelled(path, label string, methods []string, serve func(*request, *response)) {
	h.routes[path] = &route{label: label, methods: methods, allow: strings.Join(methods, ", "), serve: serve}
}

// addPublic adds a route that needs no access token: the landing page and its
// files, the redirect to it, and the health check a load balancer polls.
func (h *Handler) addPublic(path, label string, serve func(*request, *response)) {
	h.addLabelled(path, label, readOnly, serve)
	h.routes[path].public = true
}

func (h *Handler) buildRoutes(public fs.FS) error {
	h.routes = make(map[string]*route)
	h.add("/put", writeOnly, h.put)
	h.add("/get", readOnly, h.get)
	h.addPublic("/healthz", "/healthz", h.healthz)
	h.add("/stats", readOnly, h.stats)
	h.add("/metrics", readOnly, h.serveMetrics)
	h.addPublic("/", "/", redirectHome)
	h.addOperations()
	return h.addStatic(public)
}

// The messages of the HTTP contract, byte for byte.
const (
	msgPutOK       = "Key inserted/updated successfully."
	msgKeyNotFound = "Key not found."
	msgNotFound    = "No such endpoint."
	// msgValueNotText answers, with 422, a read of a value that is not valid
	// UTF-8: the Redis protocol stores any bytes, and a JSON string cannot
	// carry them (encoding/json would replace them with U+FFFD, handing back
	// a different value). Nothing is lost: RESP reads it as it is.
	msgValueNotText = "The value is not valid UTF-8 text, which JSON cannot carry; read it over the Redis protocol."
)

// put is POST /put with a JSON body {"key":"…","value":"…"} and, optionally,
// "expire" or "ttl".
func (h *Handler) put(req *request, resp *response) {
	var p params
	if err := readJSONBody(req.Body, &p); err != nil {
		resp.fail(400, err.Error())
		return
	}
	h.store(&p, resp)
}

// get is GET /get?key=K.
func (h *Handler) get(req *request, resp *response) {
	var p params
	if err := parseQuery(unsafeBytes(req.RawQuery), &p); err != nil {
		resp.fail(400, err.Error())
		return
	}
	key, ok := h.key(&p, resp)
	if !ok {
		return
	}
	value, found, err := h.kv.Get(key)
	if resp.readFailed(err) {
		return
	}
	if !found {
		resp.fail(404, msgKeyNotFound)
		return
	}
	if !utf8.ValidString(value) {
		resp.fail(422, msgValueNotText)
		return
	}
	resp.keyValue(key, value)
}

func (h *Handler) healthz(_ *request, resp *response) {
	resp.json(200, bodyHealthy)
}

var bodyHealthy = []byte(`{"status":"OK"}`)

func (h *Handler) stats(_ *request, resp *response) {
	st := h.kv.Stats()
	b := append(resp.buf[:0], `{"status":"OK","keyCount":`...)
	b = strconv.AppendInt(b, st.Entries, 10)
	b = appendField(b, "maxSize", st.MaxEntries)
	b = appendField(b, "memoryUsed", st.Bytes)
	b = appendField(b, "memoryBudget", st.MaxBytes)
	b = appendUint(b, "hits", st.Hits)
	b = appendUint(b, "misses", st.Misses)
	b = appendUint(b, "inserts", st.Inserts)
	b = appendUint(b, "updates", st.Updates)
	b = appendUint(b, "deletes", st.Deletes)
	b = appendUint(b, "evictions", st.Evictions)
	b = appendUint(b, "expirations", st.Expirations)
	if sh := st.Shared; sh != nil {
		b = appendShared(b, sh)
	}
	b = appendUint(b, "requests", h.requests.Load())
	b = appendField(b, "uptimeSeconds", int64(h.now().Sub(h.started).Seconds()))
	b = append(b, `,"version":`...)
	b = appendJSONString(b, h.version)
	b = append(b, `,"deployment":`...)
	b = appendJSONString(b, h.deployment)
	b = append(b, '}')
	resp.buf = b
	resp.json(200, b)
}

func appendField(b []byte, name string, n int64) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return strconv.AppendInt(b, n, 10)
}

func appendUint(b []byte, name string, n uint64) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return strconv.AppendUint(b, n, 10)
}

// redirectHome sends "/" to the landing page. The Location is relative so that it
// stays under whatever prefix a gateway put in front (an API Gateway stage, say).
func redirectHome(_ *request, resp *response) {
	resp.addHeader("Location", "home")
	resp.addHeader("Cache-Control", "no-store")
	resp.ContentType = "text/plain; charset=utf-8"
	resp.Status = 302
	resp.Body = bodyRedirect
}

var bodyRedirect = []byte("Found: see home\n")

// key validates the key parameter: present, a string, 1 to maxKey characters.
func (h *Handler) key(p *params, resp *response) (string, bool) {
	return h.text(&p.key, "key", 1, h.maxKey, resp)
}

// value validates the value parameter: present, a string, 0 to maxValue characters.
func (h *Handler) value(p *params, resp *response) (string, bool) {
	return h.text(&p.value, "value", 0, h.maxValue, resp)
}

// text checks a string parameter. The parsers have already refused invalid UTF-8,
// so counting runes counts code points.
func (h *Handler) text(f *param, name string, minRunes, maxRunes int, resp *response) (string, bool) {
	switch {
	case !f.set:
		resp.fail(400, `Missing "`+name+`".`)
	case f.kind != paramString:
		resp.fail(400, `"`+name+`" must be a string.`)
	case minRunes > 0 && f.text == "":
		resp.fail(400, `"`+name+`" must not be empty.`)
	case len(f.text) > maxRunes && utf8.RuneCountInString(f.text) > maxRunes:
		resp.fail(400, `"`+name+`" must be at most `+strconv.Itoa(maxRunes)+` characters.`)
	default:
		return f.text, true
	}
	return "", false
}

// appendShared writes the shared tier's fields of /stats: keyCount beside them
// stays this instance's local count.
func appendShared(b []byte, sh *cache.SharedStats) []byte {
	b = append(b, `,"shared":{"connected":`...)
	b = strconv.AppendBool(b, sh.Connected)
	b = appendField(b, "keyCount", sh.Keys)
	b = appendUint(b, "localHits", sh.LocalHits)
	b = appendUint(b, "sharedHits", sh.SharedHits)
	b = appendUint(b, "sharedMisses", sh.SharedMisses)
	b = appendUint(b, "staleReads", sh.StaleReads)
	b = appendUint(b, "unavailable", sh.Unavailable)
	b = appendUint(b, "invalidations", sh.Invalidations)
	b = appendUint(b, "resyncs", sh.Resyncs)
	return append(b, '}')
}
