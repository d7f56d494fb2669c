package kvcheck

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client runs single-key commands on a server, one at a time, and says what
// came back. An answer the server could not have given according to its
// contract is an error; an answer that leaves the outcome open (no answer,
// 503, -UNAVAILABLE) is Output.Status Unknown.
type Client interface {
	Do(in Input) (Output, error)
	Door() string
	Close()
}

// HTTPClient speaks warmkv's HTTP API over one keep-alive connection at a
// time. net/http never resends a POST, so no write is sent twice.
type HTTPClient struct {
	base string
	hc   *http.Client
}

// NewHTTPClient talks to base (http://host:port); timeout bounds each
// request, past which its outcome is unknown.
func NewHTTPClient(base string, timeout time.Duration) *HTTPClient {
	tr := &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}
	return &HTTPClient{base: base, hc: &http.Client{Timeout: timeout, Transport: tr}}
}

// Door is "http".
func (c *HTTPClient) Door() string { return "http" }

// Close closes the idle connection.
func (c *HTTPClient) Close() { c.hc.CloseIdleConnections() }

// The HTTP API's refusals, byte for byte (handler/ops.go).
const (
	httpNotInteger = "The stored value is not a 64-bit integer; nothing changed."
	httpOverflow   = "The result would overflow a signed 64-bit integer; nothing changed."
	httpTooLong    = "The result would be longer than "
)

// Do sends in as the route that expresses it.
func (c *HTTPClient) Do(in Input) (Output, error) {
	q := url.Values{"key": {in.Key}}
	method, path := "POST", ""
	switch in.Kind {
	case Get:
		method, path = "GET", "/get"
	case Set:
		if in.Cond != Always || in.ReturnOld || in.Stored || in.Expiry == ExpKeep {
			return Output{}, fmt.Errorf("http: no route for %s", in)
		}
		path = "/set"
		q.Set("value", in.Value)
	case Delete:
		path = "/delete"
	case Increment:
		path = "/increment"
		q.Set("value", strconv.FormatInt(in.Delta, 10))
		if in.Verb == "decrement" {
			path = "/decrement"
			q.Set("value", strconv.FormatInt(-in.Delta, 10))
		}
	case Append:
		path = "/append"
		if in.Prepend {
			path = "/prepend"
		}
		q.Set("value", in.Value)
	case CompareAndSet:
		path = "/checkandset"
		q.Set("compare", in.Compare)
		q.Set("value", in.Value)
	default:
		return Output{}, fmt.Errorf("http: no route for %s", in)
	}
	if in.Expiry == ExpTTL {
		if in.TTL%time.Second != 0 {
			return Output{}, fmt.Errorf("http: ttl %v is not whole seconds", in.TTL)
		}
		q.Set("ttl", strconv.FormatInt(int64(in.TTL/time.Second), 10))
	}
	req, err := http.NewRequest(method, c.base+path+"?"+q.Encode(), nil)
	if err != nil {
		return Output{}, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return Output{Status: Unknown}, nil // no answer: it may or may not have run
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return Output{Status: Unknown}, nil
	}
	var answer struct{ Status, Key, Value, Message string }
	if resp.StatusCode == http.StatusServiceUnavailable {
		return Output{Status: Unknown}, nil
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return Output{}, fmt.Errorf("http %s: %d %q: %w", in, resp.StatusCode, body, err)
	}
	out, known := httpOutput(in, resp.StatusCode, answer.Value, answer.Message)
	if !known {
		return Output{}, fmt.Errorf("http %s: unexpected answer %d %s", in, resp.StatusCode, body)
	}
	out.Stale = resp.Header.Get("Warmkv-Stale") != ""
	return out, nil
}

// httpOutput reads an answer; known is false for one the contract does not
// allow for in.
func httpOutput(in Input, code int, value, msg string) (out Output, known bool) {
	switch {
	case code == 200:
		switch in.Kind {
		case Get, Append:
			return Output{Found: true, Value: value}, true
		case Increment:
			n, err := strconv.ParseInt(value, 10, 64)
			return Output{Int: n}, err == nil
		case Delete:
			return Output{Flag: true}, true
		case CompareAndSet:
			return Output{Flag: true, Found: true, Value: value}, value == in.Value
		}
		return Output{}, true
	case code == 404 && (in.Kind == Get || in.Kind == Delete):
		return Output{}, true
	case code == 409 && in.Kind == CompareAndSet:
		return Output{Flag: false}, true
	case code == 400 && in.Kind == Increment && msg == httpNotInteger:
		return Output{Status: NotInteger}, true
	case code == 400 && in.Kind == Increment && msg == httpOverflow:
		return Output{Status: Overflow}, true
	case code == 400 && in.Kind == Append && strings.HasPrefix(msg, httpTooLong):
		return Output{Status: TooLong}, true
	}
	return Output{}, false
}
