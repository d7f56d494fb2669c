package handler

import (
	"errors"
	"time"
	"unsafe"

	"github.com/valyala/fasthttp"
)

// ServeFastHTTP is the fasthttp face, used by the standalone server.
func (h *Handler) ServeFastHTTP(ctx *fasthttp.RequestCtx) {
	var began time.Time
	if h.logger != nil {
		began = time.Now()
	}
	x := getExchange()
	defer putExchange(x)
	req, resp := &x.req, &x.resp

	// The strings alias fasthttp's buffers, which stay valid until this function
	// returns; the core copies whatever it keeps (keys and values are decoded into
	// new strings by the parsers).
	req.Method = methodName(ctx.Method())
	req.Path = unsafeString(ctx.Path())
	req.RawQuery = unsafeString(ctx.URI().QueryString())
	req.ContentType = unsafeString(ctx.Request.Header.ContentType())
	x.fast = ctx
	req.Header = x.fastHeader
	req.Body = ctx.PostBody()

	if limited := h.admission.limits(req.Path); !limited {
		h.serve(req, resp)
	} else if h.admission.enter() {
		h.serve(req, resp)
		h.admission.leave()
	} else {
		h.overloaded(req, resp)
	}
	writeFastHTTP(ctx, resp)
	if h.logger != nil {
		h.logRequest(req.Method, string(ctx.Path()), resp.Status, began)
	}
}

// FastHTTPErrorHandler answers requests fasthttp refused before the handler ran
// (an oversized body, request line or headers, a client too slow to send them, a
// malformed request) in the same JSON envelope. fasthttp closes the connection
// after the answer, and has buffered at most the read buffer or the body limit.
func (h *Handler) FastHTTPErrorHandler(ctx *fasthttp.RequestCtx, err error) {
	x := getExchange()
	defer putExchange(x)
	resp := &x.resp
	var small *fasthttp.ErrSmallBuffer
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		h.bodyTooLarge(resp)
	case requestLineOverflowed(err):
		// fasthttp counts the request line against the header buffer; a
		// query string too long for it is the client's to shorten.
		h.uriTooLong(resp)
	case errors.As(err, &small):
		resp.fail(431, msgHeadersTooLarge)
	case isTimeout(err):
		resp.fail(408, "Request timeout.")
	default:
		resp.fail(400, "Malformed HTTP request.")
	}
	resp.addHeader("Connection", "close")
	writeFastHTTP(ctx, resp)
	ctx.SetConnectionClose()
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

func writeFastHTTP(ctx *fasthttp.RequestCtx, resp *response) {
	ctx.SetStatusCode(resp.Status)
	ctx.Response.Header.SetContentType(resp.ContentType)
	for _, kv := range resp.Headers {
		if kv.Name == "Connection" {
			continue // fasthttp manages it; SetConnectionClose is used instead
		}
		// Our header names are written as they should go on the wire; SetCanonical
		// skips normalising them, which costs more than the rest of the write.
		ctx.Response.Header.SetCanonical(unsafeBytes(kv.Name), unsafeBytes(kv.Value))
	}
	// SetBody copies: resp.Body goes back to the pool (or is a shared static file).
	ctx.Response.SetBody(resp.Body)
}

// methodName maps the common methods to constant strings so that no request
// allocates for its method.
func methodName(m []byte) string {
	switch string(m) {
	case "GET":
		return "GET"
	case "POST":
		return "POST"
	case "HEAD":
		return "HEAD"
	case "PUT":
		return "PUT"
	case "DELETE":
		return "DELETE"
	case "OPTIONS":
		return "OPTIONS"
	}
	return string(m)
}

// unsafeBytes views s as bytes for read-only parsing, without copying.
func unsafeBytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s)) //nolint:gosec // G103: audited: parsing only reads it
}

// unsafeString views b, a buffer of the request fasthttp owns, as a string
// without copying; it is valid until the handler returns, so whatever outlives
// the request (keys and values stored in the cache) is copied first.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b)) //nolint:gosec // G103: audited: valid for the request, as said above
}
