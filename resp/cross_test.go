package resp

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/warmkv/warmkv/handler"
)

// TestHTTPAndRESPShareTheCache: what one door stores, the other reads back
// identically, text outside ASCII included, and each door sees the other's
// expiry and deletions.
func TestHTTPAndRESPShareTheCache(t *testing.T) {
	ts := startServer(t, defaultDriver())
	h, err := handler.New(handler.Options{
		Store:          ts.kv,
		MaxKeyLength:   16,
		MaxValueLength: 32,
		MaxBodyBytes:   16 << 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	do := func(method, target, body string) (int, map[string]any) {
		t.Helper()
		req := httptest.NewRequest(method, target, strings.NewReader(body))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		var answer map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &answer); err != nil {
			t.Fatalf("%s %s: %v in %q", method, target, err, w.Body.String())
		}
		return w.Code, answer
	}
	c := ts.client(t, 3, "")

	// HTTP writes, RESP reads.
	if code, _ := do(http.MethodPost, "/put", `{"key":"naïve","value":"Vimlä ✓ 🚀"}`); code != 200 {
		t.Fatalf("PUT: %d", code)
	}
	if v, err := c.Get(ctx, "naïve").Result(); v != "Vimlä ✓ 🚀" || err != nil {
		t.Errorf("RESP GET of an HTTP PUT = %q, %v", v, err)
	}
	if code, _ := do(http.MethodPost, "/set?key=ttl&value=1&ttl=100", ""); code != 200 {
		t.Fatalf("/set with ttl: %d", code)
	}
	if d, err := c.TTL(ctx, "ttl").Result(); err != nil || d.Seconds() < 99 || d.Seconds() > 100 {
		t.Errorf("RESP TTL of an HTTP ttl = %v, %v", d, err)
	}

	// RESP writes, HTTP reads.
	if err := c.Set(ctx, "ключ", "значение", 0).Err(); err != nil {
		t.Fatal(err)
	}
	code, answer := do(http.MethodGet, "/get?key="+url.QueryEscape("ключ"), "")
	if code != 200 || answer["value"] != "значение" {
		t.Errorf("HTTP GET of a RESP SET = %d %v", code, answer)
	}
	if err := c.IncrBy(ctx, "visits", 41).Err(); err != nil {
		t.Fatal(err)
	}
	code, answer = do(http.MethodGet, "/increment?key=visits", "")
	if code != 200 || answer["value"] != "42" {
		t.Errorf("HTTP increment after RESP INCRBY = %d %v", code, answer)
	}
	if v, _ := c.Get(ctx, "visits").Result(); v != "42" {
		t.Errorf("RESP GET after HTTP increment = %q", v)
	}

	// A deletion through either door is seen by the other.
	c.Del(ctx, "naïve")
	if code, _ := do(http.MethodGet, "/get?key="+url.QueryEscape("naïve"), ""); code != 404 {
		t.Errorf("HTTP GET after RESP DEL = %d", code)
	}
	do(http.MethodGet, "/delete?key="+url.QueryEscape("ключ"), "")
	if n, _ := c.Exists(ctx, "ключ").Result(); n != 0 {
		t.Error("RESP EXISTS after HTTP delete = 1")
	}
}
