// Command preload fills a warmkv-compatible server with the fixed key set the
// wrk scripts read, so GET and mix runs only ever ask for keys that exist.
//
// Key i (0 <= i < -keys) and its value are those of package keyspace, which
// bench/wrk/kv.lua and bench/sharedload read back.
package main

import (
	"flag"
	"fmt"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/warmkv/warmkv/bench/internal/keyspace"
)

func main() {
	baseURL := flag.String("url", "http://127.0.0.1:7171", "server base URL")
	keys := flag.Int("keys", 100000, "number of keys to store")
	keyLen := flag.Int("key-len", 20, "length of every key (>= 8)")
	valueLen := flag.Int("value-len", 100, "length of every value")
	workers := flag.Int("c", 16, "concurrent connections")
	wait := flag.Duration("wait", 10*time.Second, "how long to wait for GET /healthz to answer 200 before preloading")
	flag.Parse()
	if *keyLen < 8 || *workers < 1 || *keys < 0 || *valueLen < 0 {
		fmt.Fprintln(os.Stderr, "preload: need -key-len >= 8, -c >= 1, -keys >= 0, -value-len >= 0")
		os.Exit(2)
	}

	u, err := url.Parse(*baseURL)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		fmt.Fprintf(os.Stderr, "preload: -url must be http://host:port, got %q\n", *baseURL)
		os.Exit(2)
	}
	// fasthttp's client rather than net/http: on a 2-core box the client
	// competes with the server for CPU, and net/http's client costs about
	// three times as much per request, which made preloading take ~9s.
	client := &fasthttp.HostClient{
		Addr:         u.Host,
		MaxConns:     *workers,
		ReadTimeout:  10 * time.Second,
		WriteTimeout: 10 * time.Second,
	}
	if err := waitHealthy(client, *baseURL+"/healthz", *wait); err != nil {
		fmt.Fprintln(os.Stderr, "preload:", err)
		os.Exit(1)
	}
	if *keys == 0 {
		return
	}

	start := time.Now()
	var next, failed atomic.Int64
	var firstErr sync.Once
	var wg sync.WaitGroup
	for range *workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var body []byte
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			req.SetRequestURI(*baseURL + "/put")
			req.Header.SetMethod(fasthttp.MethodPost)
			req.Header.SetContentType("application/json")
			for {
				i := next.Add(1) - 1
				if i >= int64(*keys) || failed.Load() > 0 {
					return
				}
				body = append(body[:0], `{"key":"`...)
				body = append(body, keyspace.Key(int(i), *keyLen)...)
				body = append(body, `","value":"`...)
				body = keyspace.AppendValue(body, uint64(i), *valueLen)
				body = append(body, `"}`...)
				req.SetBodyRaw(body)
				if err := put(client, req, resp); err != nil {
					failed.Add(1)
					firstErr.Do(func() { fmt.Fprintf(os.Stderr, "preload: key %d: %v\n", i, err) })
					return
				}
			}
		}()
	}
	wg.Wait()
	if failed.Load() > 0 {
		os.Exit(1)
	}
	fmt.Printf("preloaded %d keys (%d+%d chars) in %s\n", *keys, *keyLen, *valueLen, time.Since(start).Round(time.Millisecond))
}

func waitHealthy(client *fasthttp.HostClient, url string, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	req.SetRequestURI(url)
	for {
		err := client.DoTimeout(req, resp, time.Second)
		if err == nil && resp.StatusCode() == fasthttp.StatusOK {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("status %d", resp.StatusCode())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer 200 within %s (last: %w)", url, wait, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func put(client *fasthttp.HostClient, req *fasthttp.Request, resp *fasthttp.Response) error {
	if err := client.Do(req, resp); err != nil {
		return err
	}
	if resp.StatusCode() != fasthttp.StatusOK {
		return fmt.Errorf("status %d: %.200s", resp.StatusCode(), resp.Body())
	}
	return nil
}
