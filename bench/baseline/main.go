// Command baseline is the comparison server for warmkv's load benchmarks: a
// minimal fasthttp server backed by a sync.Map that speaks warmkv's HTTP API.
//
// It is deliberately bare (no eviction, no memory bound, no logging) so that
// "warmkv reaches 0.9x of a minimal fasthttp server doing a sync.Map lookup"
// has a concrete, reproducible meaning. Do not add features to it: every
// extra instruction here would flatter warmkv's ratio.
//
// It listens on -addr, or on BIND:PORT from the environment (the same
// variables warmkv reads, so the bench scripts start both the same way).
package main

import (
	"encoding/json"
	"flag"
	"log"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/valyala/fasthttp"
)

// store holds the key/value pairs; keyCount counts distinct keys so /stats
// can report it without ranging over the map.
var (
	store    sync.Map // string -> string
	keyCount atomic.Int64
)

var (
	okHealth    = []byte(`{"status":"OK"}`)
	okPut       = []byte(`{"status":"OK","message":"Key inserted/updated successfully."}`)
	errNotFound = []byte(`{"status":"ERROR","message":"Key not found."}`)
	errBadPut   = []byte(`{"status":"ERROR","message":"Invalid request body: expected {\"key\":\"...\",\"value\":\"...\"} with a non-empty key."}`)
	errNoKey    = []byte(`{"status":"ERROR","message":"Missing key query parameter."}`)
	errNoRoute  = []byte(`{"status":"ERROR","message":"Not found."}`)
	errMethod   = []byte(`{"status":"ERROR","message":"Method not allowed."}`)
)

// bufPool recycles the buffers GET responses are rendered into; SetBody
// copies, so a buffer can go back to the pool as soon as the handler is done.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

type putRequest struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

func main() {
	addr := flag.String("addr", "", "listen address (default BIND:PORT from the environment, else :7171)")
	flag.Parse()
	if *addr == "" {
		port := os.Getenv("PORT")
		if port == "" {
			port = "7171"
		}
		*addr = net.JoinHostPort(os.Getenv("BIND"), port)
	}
	srv := &fasthttp.Server{Handler: handle, Name: "baseline"}
	log.Printf("baseline listening on %s", *addr)
	log.Fatal(srv.ListenAndServe(*addr))
}

func handle(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("application/json")
	switch string(ctx.Path()) {
	case "/get":
		if !ctx.IsGet() {
			reply(ctx, fasthttp.StatusMethodNotAllowed, errMethod)
			return
		}
		get(ctx)
	case "/put":
		if !ctx.IsPost() {
			reply(ctx, fasthttp.StatusMethodNotAllowed, errMethod)
			return
		}
		put(ctx)
	case "/healthz":
		reply(ctx, fasthttp.StatusOK, okHealth)
	case "/stats":
		stats(ctx)
	default:
		reply(ctx, fasthttp.StatusNotFound, errNoRoute)
	}
}

func reply(ctx *fasthttp.RequestCtx, status int, body []byte) {
	ctx.SetStatusCode(status)
	ctx.SetBody(body)
}

func get(ctx *fasthttp.RequestCtx) {
	key := ctx.QueryArgs().Peek("key")
	if len(key) == 0 {
		reply(ctx, fasthttp.StatusBadRequest, errNoKey)
		return
	}
	v, ok := store.Load(string(key))
	if !ok {
		reply(ctx, fasthttp.StatusNotFound, errNotFound)
		return
	}
	bp := bufPool.Get().(*[]byte)
	b := append((*bp)[:0], `{"status":"OK","key":`...)
	b = appendJSONString(b, key)
	b = append(b, `,"value":`...)
	b = appendJSONString(b, v.(string))
	b = append(b, '}')
	reply(ctx, fasthttp.StatusOK, b)
	*bp = b
	bufPool.Put(bp)
}

func put(ctx *fasthttp.RequestCtx) {
	var req putRequest
	if err := json.Unmarshal(ctx.PostBody(), &req); err != nil || req.Key == "" {
		reply(ctx, fasthttp.StatusBadRequest, errBadPut)
		return
	}
	if _, loaded := store.Swap(req.Key, req.Value); !loaded {
		keyCount.Add(1)
	}
	reply(ctx, fasthttp.StatusOK, okPut)
}

// stats exists so the memory-flood script can run its plumbing against the
// baseline; memoryBudget 0 means unbounded.
func stats(ctx *fasthttp.RequestCtx) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	body, _ := json.Marshal(map[string]any{
		"status":       "OK",
		"keyCount":     keyCount.Load(),
		"memoryUsed":   ms.HeapAlloc,
		"memoryBudget": 0,
	})
	reply(ctx, fasthttp.StatusOK, body)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string literal. It escapes what JSON
// requires (quote, backslash, control characters) and replaces invalid UTF-8
// with U+FFFD like encoding/json does, without encoding/json's reflection
// and allocation on the hot path.
func appendJSONString[T string | []byte](b []byte, s T) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(string(s[i:]))
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
