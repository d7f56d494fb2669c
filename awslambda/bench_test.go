package awslambda

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/warmkv/warmkv/cache"
	"github.com/warmkv/warmkv/handler"
)

// The two benchmarks serve the same GET with the real handler and store: once
// as a Lambda payload 2.0 event through Invoke, once straight into ServeHTTP.
// The difference is what the Lambda door costs per invocation (event and
// answer JSON, the adapter's request and response), apart from the Runtime
// API round trip, which Lambda's own machinery pays.

func benchHandler(b *testing.B) http.Handler {
	b.Helper()
	store, err := cache.New(cache.Options{MaxBytes: 64 << 20})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(store.Close)
	if err := store.Set("name", "Andrew", 0); err != nil {
		b.Fatal(err)
	}
	h, err := handler.New(handler.Options{Store: store, MaxKeyLength: 256, MaxValueLength: 256, MaxBodyBytes: 16 << 10})
	if err != nil {
		b.Fatal(err)
	}
	return h
}

// getEvent is an HTTP API GET /get?key=name as API Gateway sends it.
const getEvent = `{"version":"2.0","routeKey":"$default","rawPath":"/get","rawQueryString":"key=name",
"headers":{"accept":"*/*","host":"abcdef1234.execute-api.us-east-1.amazonaws.com","user-agent":"curl/8.5.0",
"x-amzn-trace-id":"Root=1-67f66f3c-0d4c5b1a2e3f4a5b6c7d8e9f","x-forwarded-for":"203.0.113.7",
"x-forwarded-port":"443","x-forwarded-proto":"https"},"queryStringParameters":{"key":"name"},
"requestContext":{"accountId":"123456789012","apiId":"abcdef1234","domainName":"abcdef1234.execute-api.us-east-1.amazonaws.com",
"domainPrefix":"abcdef1234","http":{"method":"GET","path":"/get","protocol":"HTTP/1.1","sourceIp":"203.0.113.7",
"userAgent":"curl/8.5.0"},"requestId":"JKJaXmPLvHcESHA=","routeKey":"$default","stage":"$default",
"time":"09/Apr/2025:12:34:56 +0000","timeEpoch":1744202096000},"isBase64Encoded":false}`

func BenchmarkInvokeV2Get(b *testing.B) {
	lh := Handler(benchHandler(b))
	event := []byte(getEvent)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		out, err := lh.Invoke(ctx, event)
		if err != nil || len(out) == 0 {
			b.Fatal(err)
		}
	}
}

// BenchmarkServeHTTPGet is the baseline: the same request without Lambda.
func BenchmarkServeHTTPGet(b *testing.B) {
	h := benchHandler(b)
	req := httptest.NewRequest("GET", "/get?key=name", nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}
