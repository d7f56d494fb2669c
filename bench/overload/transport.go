package main

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
)

// fastTransport is the http.RoundTripper vegeta's attacker sends through. The
// attacker (pacing, worker spawning, timing) is vegeta's; only the HTTP/1.1
// exchange goes through fasthttp's client, because net/http's client costs
// about 60µs of CPU per request here, four times what the server spends
// answering it: on a 2-core box the generator would run out of CPU long before
// the server, and the "overload" measured would be the generator's.
//
// It forwards what warmkv reads (method, URI, Content-Type, body) and returns
// what the report checks (status, Retry-After, Content-Type, body); vegeta's
// own X-Vegeta-* headers are not sent.
type fastTransport struct {
	client  *fasthttp.HostClient
	timeout time.Duration
}

func newFastTransport(addr string, maxConns int, timeout time.Duration) *fastTransport {
	if maxConns <= 0 {
		maxConns = 1 << 30
	}
	return &fastTransport{
		client: &fasthttp.HostClient{
			Addr:     addr,
			MaxConns: maxConns,
			// Open loop: a request that finds every connection busy opens a new
			// one (up to MaxConns) rather than waiting for one, like vegeta's
			// own transport does.
			MaxIdleConnDuration: 10 * time.Second,
			// A 503 answer is a complete exchange, not an error to retry.
			RetryIfErr: func(*fasthttp.Request, int, error) (bool, bool) { return false, false },
		},
		timeout: timeout,
	}
}

func (t *fastTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(r.Method)
	req.SetRequestURI(r.URL.RequestURI())
	req.Header.SetHost(r.URL.Host)
	if ct := r.Header.Get("Content-Type"); ct != "" {
		req.Header.SetContentType(ct)
	}
	if r.Body != nil {
		body, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		req.SetBodyRaw(body)
	}
	if err := t.client.DoTimeout(req, resp, t.timeout); err != nil {
		return nil, err
	}
	header := make(http.Header, 2)
	if v := resp.Header.Peek("Retry-After"); len(v) > 0 {
		header["Retry-After"] = []string{string(v)}
	}
	if v := resp.Header.ContentType(); len(v) > 0 {
		header["Content-Type"] = []string{string(v)}
	}
	body := bytes.Clone(resp.Body())
	return &http.Response{
		Status:        strconv.Itoa(resp.StatusCode()) + " " + fasthttp.StatusMessage(resp.StatusCode()),
		StatusCode:    resp.StatusCode(),
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        header,
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       r,
	}, nil
}
