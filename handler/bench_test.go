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
