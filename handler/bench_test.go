package handler

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/valyala/fasthttp"
)

func preloadedHandler(b *testing.B, n int) (*Handler, []string) {
	h := newTestHandler(b)
	keys := make([]string, n)
	value := strings.Repeat("v", 100)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%016d", i)
		_ = h.kv.Set(keys[i], value, 0)
	}
	return h, keys
}

func BenchmarkFastHTTPGet(b *testing.B) {
	h, keys := preloadedHandler(b, 100_000)
	b.ReportAllocs()
	var seq atomic.Uint64
	b.RunParallel(func(pb *testing.PB) {
		var ctx fasthttp.RequestCtx
		i := seq.Add(1) << 20
		for pb.Next() {
			ctx.Request.Reset()
			ctx.Response.Reset()
			ctx.Request.Header.SetMethod("GET")
			ctx.Request.SetRequestURI("/get?key=" + keys[i%uint64(len(keys))])
			h.ServeFastHTTP(&ctx)
			if ctx.Response.StatusCode() != 200 {
				b.Fatal(ctx.Response.StatusCode())
			}
			i++
		}
	})
}

func BenchmarkFastHTTPPut(b *testing.B) {
	h := newTestHandler(b)
	value := strings.Repeat("v", 100)
	b.ReportAllocs()
	var seq atomic.Uint64
	b.RunParallel(func(pb *testing.PB) {
		var ctx fasthttp.RequestCtx
		i := seq.Add(1) << 32
		for pb.Next() {
			ctx.Request.Reset()
			ctx.Response.Reset()
			ctx.Request.Header.SetMethod("POST")
			ctx.Request.SetRequestURI("/put")
			ctx.Request.SetBodyString(`{"key":"` + fmt.Sprintf("key-%016d", i%100_000) + `","value":"` + value + `"}`)
			h.ServeFastHTTP(&ctx)
			if ctx.Response.StatusCode() != 200 {
				b.Fatal(ctx.Response.StatusCode())
			}
			i++
		}
	})
}

func BenchmarkNetHTTPGet(b *testing.B) {
	h, keys := preloadedHandler(b, 100_000)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/get?key="+keys[i%len(keys)], nil))
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}

// BenchmarkOperations measures each route through the request core alone (no
// HTTP engine), on a preloaded cache.
func BenchmarkOperations(b *testing.B) {
	ops := []struct {
		name, method, path, query, body string
	}{
		{"get", "GET", "/get", "key=key-0000000000000042", ""},
		{"put", "POST", "/put", "", `{"key":"key-0000000000000042","value":"` + strings.Repeat("v", 100) + `"}`},
		{"set-query", "GET", "/set", "key=key-0000000000000042&value=" + strings.Repeat("v", 100), ""},
		{"set-ttl", "POST", "/set", "", `{"key":"key-0000000000000042","value":"v","ttl":60}`},
		{"delete", "GET", "/delete", "key=key-0000000000000042", ""},
		{"checkandset", "GET", "/checkandset", "key=key-0000000000000042&compare=x&value=y", ""},
		{"increment", "GET", "/increment", "key=counter&value=3", ""},
		{"decrement", "GET", "/decrement", "key=counter", ""},
		{"append", "POST", "/append", "", `{"key":"app","value":"x"}`},
		{"stats", "GET", "/stats", "", ""},
	}
	for _, op := range ops {
		b.Run(op.name, func(b *testing.B) {
			h, _ := preloadedHandler(b, 100_000)
			contentType := ""
			if op.body != "" {
				contentType = "application/json"
			}
			req := request{Method: op.method, Path: op.path, RawQuery: op.query, ContentType: contentType, Body: []byte(op.body)}
			var resp response // reused, as the faces' pool reuses it
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if op.name == "append" && i%200 == 0 {
					_ = h.kv.Set("app", "", 0) // stay under the value limit
				}
				resp.reset()
				h.serve(&req, &resp)
				if resp.Status != 200 && !(op.name == "delete" && resp.Status == 404) && !(op.name == "checkandset" && resp.Status == 409) {
					b.Fatalf("%s: %d %s", op.name, resp.Status, resp.Body)
				}
			}
		})
	}
}
