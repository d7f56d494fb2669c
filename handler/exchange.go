package handler

import (
	"net/http"
	"sync"

	"github.com/valyala/fasthttp"
)

// request is one HTTP request as the core sees it, whichever engine received it.
// Its byte slices and strings are only valid during serve.
type request struct {
	Method      string // upper-case, as sent
	Path        string // decoded, e.g. "/get"
	RawQuery    string // undecoded, without '?'
	ContentType string // the Content-Type header, for choosing JSON body or query
	Body        []byte
	// Header returns the request header with the given canonical name ("" if
	// absent; nil means no headers). Headers are read lazily because most
	// requests need none: looking each one up costs an engine a key normalisation.
	Header func(name string) string
}

func (r *request) header(name string) string {
	if r.Header == nil {
		return ""
	}
	return r.Header(name)
}

// response is what the core answers. The faces copy it to their engine. Body may
// alias read-only data (a static file) and must not be modified by a face.
type response struct {
	Status  int
	Headers []responseHeader // beyond Content-Type, which is in ContentType
	// ContentType is set by every route; the faces always send it.
	ContentType string
	Body        []byte

	buf []byte // reused for JSON bodies
}

// responseHeader is one response header.
type responseHeader struct{ Name, Value string }

func (r *response) addHeader(name, value string) {
	r.Headers = append(r.Headers, responseHeader{name, value})
}

func (r *response) reset() {
	r.Status = 0
	r.Headers = r.Headers[:0]
	r.ContentType = ""
	r.Body = nil
	r.buf = r.buf[:0]
}

var exchangePool = sync.Pool{New: func() any {
	x := new(exchange)
	// Bound once per pooled exchange, so that setting request.Header allocates
	// nothing per request.
	x.fastHeader = x.peekFast
	x.netHeader = x.peekNet
	return x
}}

// exchange bundles a request and its response so that one pooled object serves a
// whole request without allocating.
type exchange struct {
	req  request
	resp response

	fast       *fasthttp.RequestCtx
	net        *http.Request
	fastHeader func(string) string
	netHeader  func(string) string
}

func (x *exchange) peekFast(name string) string {
	return unsafeString(x.fast.Request.Header.Peek(name))
}

func (x *exchange) peekNet(name string) string {
	return x.net.Header.Get(name)
}

func getExchange() *exchange {
	return exchangePool.Get().(*exchange)
}

func putExchange(x *exchange) {
	// Do not keep a huge body buffer alive in the pool.
	if cap(x.resp.buf) > 64<<10 {
		x.resp.buf = nil
	}
	x.req = request{}
	x.fast, x.net = nil, nil
	x.resp.reset()
	exchangePool.Put(x)
}
