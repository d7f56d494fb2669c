package handler

import "sync"

// Request is one HTTP request as the core sees it, whichever engine received it.
// Its byte slices and strings are only valid during Serve.
type Request struct {
	Method      string // upper-case, as sent
	Path        string // decoded, e.g. "/get"
	RawQuery    string // undecoded, without '?'
	ContentType string // the Content-Type header, for choosing JSON body or query
	Body        []byte
	IfNoneMatch string // for static files
	// Authorization and Origin are the headers of the same names, for the access
	// token and CORS.
	Authorization string
	Origin        string
}

// Response is what the core answers. The faces copy it to their engine. Body may
// alias read-only data (a static file) and must not be modified by a face.
type Response struct {
	Status  int
	Headers []Header // beyond Content-Type, which is in ContentType
	// ContentType is set by every route; the faces always send it.
	ContentType string
	Body        []byte

	buf []byte // reused for JSON bodies
}

// Header is one response header.
type Header struct{ Name, Value string }

func (r *Response) addHeader(name, value string) {
	r.Headers = append(r.Headers, Header{name, value})
}

func (r *Response) reset() {
	r.Status = 0
	r.Headers = r.Headers[:0]
	r.ContentType = ""
	r.Body = nil
	r.buf = r.buf[:0]
}

var exchangePool = sync.Pool{New: func() any { return new(exchange) }}

// exchange bundles a Request and its Response so that one pooled object serves a
// whole request without allocating.
type exchange struct {
	req  Request
	resp Response
}

func getExchange() *exchange {
	return exchangePool.Get().(*exchange)
}

func putExchange(x *exchange) {
	// Do not keep a huge body buffer alive in the pool.
	if cap(x.resp.buf) > 64<<10 {
		x.resp.buf = nil
	}
	x.req = Request{}
	x.resp.reset()
	exchangePool.Put(x)
}
