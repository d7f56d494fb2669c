package handler

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"
)

// ServeHTTP is the net/http face: the serverless deployments (Lambda's proxy
// adapters, Vercel's Go runtime) and the tests use it.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var began time.Time
	if h.logger != nil {
		began = time.Now()
	}
	x := getExchange()
	defer putExchange(x)
	req, resp := &x.req, &x.resp

	req.Method = r.Method
	req.Path = r.URL.Path
	req.RawQuery = r.URL.RawQuery
	req.ContentType = r.Header.Get("Content-Type")
	x.net = r
	req.Header = x.netHeader

	body := bodyBuffers.Get().(*bytes.Buffer)
	defer putBodyBuffer(body)
	switch err := h.readBody(r, body); {
	case errors.Is(err, errBodyTooLarge):
		h.bodyTooLarge(resp)
	case err != nil:
		resp.fail(400, "Could not read the request body.")
	default:
		req.Body = body.Bytes()
		h.serve(req, resp)
	}
	writeNetHTTP(w, resp)
	if h.logger != nil {
		h.logRequest(req.Method, req.Path, resp.Status, began)
	}
}

var bodyBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func putBodyBuffer(b *bytes.Buffer) {
	if b.Cap() <= 64<<10 {
		b.Reset()
		bodyBuffers.Put(b)
	}
}

type bodyError string

func (e bodyError) Error() string { return string(e) }

const errBodyTooLarge = bodyError("body too large")

// readBody reads at most maxBody bytes into buf. A declared Content-Length over
// the limit is refused before reading anything; a chunked body is cut at the limit.
func (h *Handler) readBody(r *http.Request, buf *bytes.Buffer) error {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	if r.ContentLength > int64(h.maxBody) {
		return errBodyTooLarge
	}
	if _, err := buf.ReadFrom(io.LimitReader(r.Body, int64(h.maxBody)+1)); err != nil {
		return err
	}
	if buf.Len() > h.maxBody {
		return errBodyTooLarge
	}
	return nil
}

func writeNetHTTP(w http.ResponseWriter, resp *response) {
	hdr := w.Header()
	hdr["Content-Type"] = []string{resp.ContentType}
	for _, kv := range resp.Headers {
		hdr.Set(kv.Name, kv.Value)
	}
	w.WriteHeader(resp.Status)
	if len(resp.Body) > 0 {
		_, _ = w.Write(resp.Body)
	}
}
