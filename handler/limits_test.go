package handler

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"
)

// rawFastHTTP serves h with fasthttp on an in-memory listener configured as
// main.go does (the read buffer bounds request line plus headers), so that the
// engine's own refusals reach FastHTTPErrorHandler.
func rawFastHTTP(t *testing.T, h *Handler, readBuffer int, readTimeout time.Duration) *fasthttputil.InmemoryListener {
	t.Helper()
	ln := fasthttputil.NewInmemoryListener()
	srv := &fasthttp.Server{
		Handler: h.ServeFastHTTP, ErrorHandler: h.FastHTTPErrorHandler,
		MaxRequestBodySize: h.maxBody, ReadBufferSize: readBuffer, ReadTimeout: readTimeout,
		NoDefaultServerHeader: true, Logger: quietLogger{},
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return ln
}

// exchangeRaw writes request as given (in the background: the server may answer
// and close before reading it all) and reads one response.
// rawAnswer is what exchangeRaw read: the parts of the response the tests look
// at, its body beside it.
type rawAnswer struct {
	StatusCode int
	Header     http.Header
	Close      bool
}

func exchangeRaw(t *testing.T, ln *fasthttputil.InmemoryListener, request string) (rawAnswer, string) {
	t.Helper()
	conn, err := ln.Dial()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	go func() { _, _ = io.WriteString(conn, request) }()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		t.Fatalf("reading the body: %v", err)
	}
	return rawAnswer{resp.StatusCode, resp.Header, resp.Close}, string(body)
}

func assertRefused(t *testing.T, resp rawAnswer, body string, status int, message string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Errorf("status = %d, want %d (body %s)", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var env struct{ Status, Message string }
	if err := json.Unmarshal([]byte(body), &env); err != nil || env.Status != "ERROR" || !strings.Contains(env.Message, message) {
		t.Errorf("body = %s, want an ERROR envelope with %q", body, message)
	}
	if !resp.Close {
		t.Error("connection left open after a refusal")
	}
}

// TestFastHTTPRefusesOversizedRequests: whatever fasthttp refuses for its size
// is answered with the status that names the part to shorten, in the envelope.
func TestFastHTTPRefusesOversizedRequests(t *testing.T) {
	h := newTestHandler(t)
	const readBuffer = 1 << 10
	ln := rawFastHTTP(t, h, readBuffer, 0)
	longLine := "GET /get?key=" + strings.Repeat("a", 400) + " HTTP/1.1\r\nHost: x\r\n"
	var manyHeaders strings.Builder
	for i := range 12 {
		fmt.Fprintf(&manyHeaders, "X-Pad-%02d: %s\r\n", i, strings.Repeat("p", 90))
	}
	cases := []struct {
		name    string
		request string
		status  int
		message string
	}{
		{"query longer than the read buffer",
			"GET /get?key=" + strings.Repeat("a", 3*readBuffer) + " HTTP/1.1\r\nHost: x\r\n\r\n", 414, msgURITooLong},
		{"query longer than the read buffer, no headers yet",
			"GET /get?key=" + strings.Repeat("a", 3*readBuffer), 414, msgURITooLong},
		{"one header larger than the read buffer",
			"GET /get?key=a HTTP/1.1\r\nHost: x\r\nCookie: " + strings.Repeat("c", 3*readBuffer) + "\r\n\r\n", 431, msgHeadersTooLarge},
		{"many headers", "GET /get?key=a HTTP/1.1\r\nHost: x\r\n" + manyHeaders.String() + "\r\n", 431, msgHeadersTooLarge},
		{"long request line that fits, then many headers", longLine + manyHeaders.String() + "\r\n", 431, msgHeadersTooLarge},
		// The body is never sent: the declared length alone is refused.
		{"declared body over the limit",
			"POST /put HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n", 413, msgBodyTooLarge},
		{"chunked body over the limit",
			"POST /put HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
				strings.Repeat(fmt.Sprintf("%x\r\n%s\r\n", 4096, strings.Repeat("v", 4096)), 8) + "0\r\n\r\n", 413, msgBodyTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := exchangeRaw(t, ln, tc.request)
			assertRefused(t, resp, body, tc.status, tc.message)
		})
	}
}

// TestFastHTTPSlowClientsAnswered408: a client that stops part-way through its
// headers or its body gets 408 in the envelope once the read timeout passes.
func TestFastHTTPSlowClientsAnswered408(t *testing.T) {
	h := newTestHandler(t)
	ln := rawFastHTTP(t, h, 8<<10, 100*time.Millisecond)
	for name, partial := range map[string]string{
		"headers": "GET /get?key=a HTTP/1.1\r\nHost: x\r\nX-Slow: ",
		"body":    "POST /put HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"key\":",
	} {
		t.Run(name, func(t *testing.T) {
			resp, body := exchangeRaw(t, ln, partial)
			assertRefused(t, resp, body, 408, "Request timeout.")
		})
	}
}

func TestQueryTooLong(t *testing.T) {
	h := newTestHandler(t) // MaxBodyBytes 16 KiB, key and value up to 256 characters
	// The longest valid query: every parameter at its longest, every character
	// 4 bytes of UTF-8, each percent-encoded.
	emoji := strings.Repeat("😀", 256)
	longestValid := url.Values{"key": {emoji}, "value": {emoji}, "compare": {emoji},
		"expire": {"9223372036854775807"}}.Encode()
	cases := []struct {
		name  string
		query string
		want  bool
	}{
		{"empty", "", false},
		{"longest valid", longestValid, false},
		{"at the limit", strings.Repeat("a", h.maxBody), false},
		{"one byte over", strings.Repeat("a", h.maxBody+1), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := h.queryTooLong(&request{Method: "GET", Path: "/get", RawQuery: tc.query})
			if got != tc.want {
				t.Fatalf("too long = %v, want %v (query of %d bytes, limit %d)", got, tc.want, len(tc.query), h.maxBody)
			}
			if !got {
				return
			}
			var resp response
			h.refuseQueryTooLong(&resp)
			if resp.Status != 414 || resp.ContentType != contentTypeJSON {
				t.Errorf("answer = %d %s", resp.Status, resp.ContentType)
			}
			want := `{"status":"ERROR","message":"Query string too long: at most 16384 bytes; `
			if !strings.HasPrefix(string(resp.Body), want) {
				t.Errorf("body = %s", resp.Body)
			}
		})
	}
}

// TestQuotedBufferHasNoLineEnd pins the reading of fasthttp's error text,
// which is all that is left of a refused request; the cases through a real
// server are in TestFastHTTPRefusesOversizedRequests.
func TestQuotedBufferHasNoLineEnd(t *testing.T) {
	// As fasthttp's bufferSnippet quotes a buffer.
	snippet := func(b string) string {
		if len(b) <= 400 {
			return fmt.Sprintf("%q", b)
		}
		return fmt.Sprintf("%q...%q", b[:200], b[len(b)-200:])
	}
	const prefix = "error when reading request headers: small read buffer. Increase ReadBufferSize: buffer size=1024, contents: "
	longURI := "GET /get?key=" + strings.Repeat("a", 1011)
	cases := []struct {
		name string
		msg  string
		want bool
	}{
		{"request line fills the buffer", prefix + snippet(longURI), true},
		{"small buffer, no line end", prefix + snippet("GET /get?key="+strings.Repeat("a", 100)), true},
		{"short request line", prefix + snippet("GET / HTTP/1.1\r\nCookie: "+strings.Repeat("c", 1000)), false},
		{"line end only near the end", prefix + snippet(longURI[:900]+" HTTP/1.1\r\nHost: x\r\nX-A: 1234567890"), false},
		{"escaped backslash-n is no line end", prefix + snippet(`GET /get?key=\n`+strings.Repeat("a", 1000)), true},
		{"no contents (SecureErrorLogMessage)", "error when reading request headers: small read buffer", false},
		{"empty contents", prefix + `""`, false},
		{"garbled quoting", prefix + `"GET /abc`, false},
		{"garbled tail", prefix + snippet(longURI)[:250], false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := quotedBufferHasNoLineEnd(tc.msg); got != tc.want {
				t.Errorf("quotedBufferHasNoLineEnd(%.100q...) = %v, want %v", tc.msg, got, tc.want)
			}
		})
	}
	if requestLineOverflowed(errors.New(prefix + snippet(longURI))) {
		t.Error("an error other than ErrSmallBuffer counted as an overflow")
	}
}

// Behind net/http (Lambda, Vercel) the engine lets long request lines through;
// the core refuses a query longer than any valid request before decoding it.
func TestCoreRefusesQueryLongerThanAnyRequest(t *testing.T) {
	h := newTestHandler(t)
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/get?key=" + strings.Repeat("a", h.maxBody))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 414 || !strings.Contains(string(body), `"status":"ERROR"`) {
		t.Fatalf("status %d, body %s; want 414 in the envelope", resp.StatusCode, body)
	}
}
