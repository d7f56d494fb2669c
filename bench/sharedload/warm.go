package main

import (
	"bytes"
	"flag"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/warmkv/warmkv/bench/internal/keyspace"
)

// warm GETs every key once, so that each has a local copy before a run that
// measures local hits, and checks that every answer is the key's value.
func warm(args []string) error {
	fs := flag.NewFlagSet("warm", flag.ContinueOnError)
	base := fs.String("url", "http://127.0.0.1:7171", "server base URL")
	var ks keySet
	ks.register(fs, 100000, "keys 0..keys-1 to read")
	conns := fs.Int("c", 16, "concurrent connections")
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	if err := ks.check(0); err != nil {
		return err
	}
	if *conns < 1 {
		return usageError("need -c >= 1")
	}
	c, err := newClient(*base, *conns)
	if err != nil {
		return err
	}
	before, err := fetchShared(c, *base)
	if err != nil {
		return err
	}
	start := time.Now()
	var next, wrong, failed atomic.Int64
	report := firstProblem()
	var wg sync.WaitGroup
	for range *conns {
		wg.Go(func() {
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			for {
				i := int(next.Add(1) - 1)
				if i >= ks.keys {
					return
				}
				key := keyspace.Key(i, ks.keyLen)
				req.SetRequestURI(*base + "/get?key=" + key)
				if err := c.DoTimeout(req, resp, 10*time.Second); err != nil {
					failed.Add(1)
					report("GET %s: %v", key, err)
					continue
				}
				if want := getBody(key, keyspace.AppendValue(nil, uint64(i), ks.valueLen)); resp.StatusCode() != fasthttp.StatusOK || !bytes.Equal(resp.Body(), want) {
					wrong.Add(1)
					report("GET %s: %d %.200s, want 200 %.200s", key, resp.StatusCode(), resp.Body(), want)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	after, err := fetchShared(c, *base)
	if err != nil {
		return err
	}
	d := after.Shared.sub(*before.Shared)
	fmt.Printf("result keys=%d seconds=%.2f wrong=%d failed=%d localKeys=%d %s\n",
		ks.keys, elapsed.Seconds(), wrong.Load(), failed.Load(), after.KeyCount, d.fields())
	if wrong.Load() > 0 || failed.Load() > 0 {
		return fmt.Errorf("%d wrong answers, %d failed requests", wrong.Load(), failed.Load())
	}
	return nil
}
