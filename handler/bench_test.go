package handler

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/warmkv/warmkv/internal/testsupport"
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
				if ok := resp.Status == 200 || (op.name == "delete" && resp.Status == 404) || (op.name == "checkandset" && resp.Status == 409); !ok {
					b.Fatalf("%s: %d %s", op.name, resp.Status, resp.Body)
				}
			}
		})
	}
}

// BenchmarkFastHTTPBodyParsers runs whole requests with a JSON body through
// the fasthttp face, with the body parser in use and with the jsontext one it
// is measured against (jsonbody_jsontext_test.go). One op is one request with
// each. The metrics are each parser's time per request (hand-ns/req,
// jsontext-ns/req), the same in CPU time where the platform gives it
// (hand-cpu-ns/req, jsontext-cpu-ns/req), and how much more a request costs
// with jsontext (jsontext-extra-%, jsontext-extra-cpu-%).
func BenchmarkFastHTTPBodyParsers(b *testing.B) {
	defer func() { readJSONBody = parseJSONBody }()
	for _, shape := range bodyShapes {
		b.Run("shape="+shape.name, func(b *testing.B) {
			h := newTestHandler(b)
			body := []byte(shape.body)
			var ctx fasthttp.RequestCtx
			served := 0
			b.ReportAllocs()
			alternate(b, bodyParsers[0].name, bodyParsers[1].name, func(which int) {
				readJSONBody = bodyParsers[which].parse
				if served++; shape.path == "/append" && served%200 == 0 {
					_ = h.kv.Set("app", "", 0) // stay under the value limit
				}
				ctx.Request.Reset()
				ctx.Response.Reset()
				ctx.Request.Header.SetMethod("POST")
				ctx.Request.SetRequestURI(shape.path)
				ctx.Request.Header.SetContentType("application/json")
				ctx.Request.SetBody(body)
				h.ServeFastHTTP(&ctx)
				if ctx.Response.StatusCode() >= 500 {
					b.Fatalf("%s: %d %s", shape.name, ctx.Response.StatusCode(), ctx.Response.Body())
				}
			})
		})
	}
}

// alternate runs op(0) and op(1) b.N times each, taking turns every block of
// calls so that both meet the same load on a machine shared with other work,
// and reports the time per call of each, named first and second, and how much
// more the second takes, in percent. Wall time swings with that load; the
// process's CPU time (where the platform gives it) much less.
func alternate(b *testing.B, first, second string, op func(which int)) {
	const block = 100
	var wall, cpu [2]time.Duration
	b.ResetTimer()
	for done, turn := 0, 0; done < b.N; done, turn = done+block, turn+1 {
		n := min(block, b.N-done)
		for k := range 2 {
			which := (turn + k) % 2 // who goes first changes every block too
			startWall, startCPU := time.Now(), testsupport.ProcessCPUTime()
			for range n {
				op(which)
			}
			wall[which] += time.Since(startWall)
			cpu[which] += testsupport.ProcessCPUTime() - startCPU
		}
	}
	per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N) }
	b.ReportMetric(per(wall[0]), first+"-ns/req")
	b.ReportMetric(per(wall[1]), second+"-ns/req")
	b.ReportMetric(100*(per(wall[1])/per(wall[0])-1), second+"-extra-%")
	if cpu[0] > 0 {
		b.ReportMetric(per(cpu[0]), first+"-cpu-ns/req")
		b.ReportMetric(per(cpu[1]), second+"-cpu-ns/req")
		b.ReportMetric(100*(per(cpu[1])/per(cpu[0])-1), second+"-extra-cpu-%")
	}
}
