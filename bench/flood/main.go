// Command flood writes N distinct large entries into a warmkv-compatible
// server as fast as C keep-alive connections allow, for bench/memflood.sh:
// the server must stay inside its memory limit and answer every request.
//
// Entry i has a 256-char key (i zero-padded to 20 digits, then pseudo-random
// characters) and a 256-char pseudo-random value, both derived from i so the
// verification pass can recompute them; neither compresses nor deduplicates.
// It uses fasthttp's client because on a 2-core box every cycle the client
// burns is taken from the server under test.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/warmkv/warmkv/bench/internal/keyspace"
)

type config struct {
	baseURL   string
	n         int64
	conns     int
	keyLen    int
	valueLen  int
	progress  time.Duration
	maxErrors int64
	verify    int
	timeout   time.Duration
}

func main() {
	var cfg config
	flag.StringVar(&cfg.baseURL, "url", "http://127.0.0.1:7171", "server base URL")
	flag.Int64Var(&cfg.n, "n", 5_000_000, "number of PUTs, each a distinct key")
	flag.IntVar(&cfg.conns, "c", 64, "concurrent keep-alive connections")
	flag.IntVar(&cfg.keyLen, "key-len", 256, "key length (>= 20)")
	flag.IntVar(&cfg.valueLen, "value-len", 256, "value length")
	flag.DurationVar(&cfg.progress, "progress", 10*time.Second, "progress report interval on stderr (0 = none)")
	flag.Int64Var(&cfg.maxErrors, "max-errors", 1000, "stop after this many failed requests")
	flag.IntVar(&cfg.verify, "verify", 1000, "after the flood, GET this many of the newest, oldest and random keys and report how many are present and correct (0 = skip)")
	flag.DurationVar(&cfg.timeout, "timeout", 10*time.Second, "per-request read/write timeout")
	flag.Parse()
	u, err := url.Parse(cfg.baseURL)
	if err != nil || u.Scheme != "http" || u.Host == "" || cfg.keyLen < 20 || cfg.conns < 1 || cfg.n < 0 {
		fmt.Fprintln(os.Stderr, "flood: need -url http://host:port, -key-len >= 20, -c >= 1, -n >= 0")
		os.Exit(2)
	}
	client := &fasthttp.HostClient{
		Addr:         u.Host,
		MaxConns:     cfg.conns,
		ReadTimeout:  cfg.timeout,
		WriteTimeout: cfg.timeout,
	}
	failures := flood(client, cfg)
	if cfg.verify > 0 && cfg.n > 0 {
		verify(client, cfg)
	}
	if failures > 0 {
		os.Exit(1)
	}
}

// flood sends the PUTs and returns the number of failed requests.
func flood(client *fasthttp.HostClient, cfg config) int64 {
	var next, done, non200, transport atomic.Int64
	var reported atomic.Int32
	report := func(format string, args ...any) {
		// The first few failures say what is wrong; thousands say nothing more.
		if reported.Add(1) <= 5 {
			fmt.Fprintf(os.Stderr, "flood: "+format+"\n", args...)
		}
	}

	start := time.Now()
	stopProgress := make(chan struct{})
	var progressDone sync.WaitGroup
	if cfg.progress > 0 {
		progressDone.Add(1)
		go func() {
			defer progressDone.Done()
			tick := time.NewTicker(cfg.progress)
			defer tick.Stop()
			for {
				select {
				case <-stopProgress:
					return
				case <-tick.C:
					d, el := done.Load(), time.Since(start)
					fmt.Fprintf(os.Stderr, "[t=%3.0fs] flood: %d / %d PUTs (%.0f/s), %d failed\n",
						el.Seconds(), d, cfg.n, float64(d)/el.Seconds(), non200.Load()+transport.Load())
				}
			}
		}()
	}

	var wg sync.WaitGroup
	for range cfg.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.SetRequestURI(cfg.baseURL + "/put")
			req.Header.SetMethod(fasthttp.MethodPost)
			req.Header.SetContentType("application/json")
			body := make([]byte, 0, cfg.keyLen+cfg.valueLen+32)
			for {
				i := next.Add(1) - 1
				if i >= cfg.n || non200.Load()+transport.Load() >= cfg.maxErrors {
					return
				}
				body = append(body[:0], `{"key":"`...)
				body = appendKey(body, i, cfg.keyLen)
				body = append(body, `","value":"`...)
				body = appendValue(body, i, cfg.valueLen)
				body = append(body, `"}`...)
				req.SetBodyRaw(body)
				if err := client.Do(req, resp); err != nil {
					transport.Add(1)
					report("PUT #%d: %v", i, err)
					continue
				}
				if resp.StatusCode() != fasthttp.StatusOK {
					non200.Add(1)
					report("PUT #%d: status %d: %.200s", i, resp.StatusCode(), resp.Body())
					continue
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	close(stopProgress)
	progressDone.Wait()

	el := time.Since(start)
	failed := non200.Load() + transport.Load()
	if failed >= cfg.maxErrors {
		fmt.Fprintf(os.Stderr, "flood: gave up after %d failed requests\n", failed)
	}
	fmt.Printf("flood: %d PUTs OK of %d in %.1fs (%.0f/s) with %d connections; non-200: %d, transport errors: %d\n",
		done.Load(), cfg.n, el.Seconds(), float64(done.Load())/el.Seconds(), cfg.conns, non200.Load(), transport.Load())
	// One machine-readable line for bench/memflood.sh.
	fmt.Printf("FLOOD ok=%d non200=%d transport=%d seconds=%.1f\n", done.Load(), non200.Load(), transport.Load(), el.Seconds())
	return failed
}

// verify GETs samples of the newest, oldest and random entries: with an LRU
// at its budget the newest must all be there (with the right value) and the
// oldest gone; the random sample estimates the fraction retained.
func verify(client *fasthttp.HostClient, cfg config) {
	k := int64(cfg.verify)
	if k > cfg.n {
		k = cfg.n
	}
	newest := make([]int64, 0, k)
	oldest := make([]int64, 0, k)
	random := make([]int64, 0, k)
	for j := int64(0); j < k; j++ {
		newest = append(newest, cfg.n-1-j)
		oldest = append(oldest, j)
		random = append(random, rand.Int64N(cfg.n))
	}
	for _, sample := range []struct {
		name    string
		indexes []int64
	}{{"newest", newest}, {"oldest", oldest}, {"random", random}} {
		present, wrong, failed := 0, 0, 0
		for _, i := range sample.indexes {
			ok, correct, err := get(client, cfg, i)
			switch {
			case err != nil:
				failed++
				if failed == 1 {
					fmt.Fprintf(os.Stderr, "verify: GET #%d: %v\n", i, err)
				}
			case ok && correct:
				present++
			case ok:
				wrong++
			}
		}
		fmt.Printf("verify: %-6s %d keys: %d present, %d with a WRONG value, %d failed GETs\n",
			sample.name, len(sample.indexes), present, wrong, failed)
		fmt.Printf("VERIFY %s=%d/%d wrong=%d failed=%d\n", sample.name, present, len(sample.indexes), wrong, failed)
	}
}

// get reports whether entry i is present and holds its value; 404 is
// "absent", anything else but 200 an error.
func get(client *fasthttp.HostClient, cfg config, i int64) (present, correct bool, err error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	key := string(appendKey(nil, i, cfg.keyLen))
	req.SetRequestURI(cfg.baseURL + "/get?key=" + url.QueryEscape(key))
	if err := client.Do(req, resp); err != nil {
		return false, false, err
	}
	switch resp.StatusCode() {
	case fasthttp.StatusNotFound:
		return false, false, nil
	case fasthttp.StatusOK:
	default:
		return false, false, errors.New("status " + strconv.Itoa(resp.StatusCode()))
	}
	var got struct{ Key, Value string }
	if err := json.Unmarshal(resp.Body(), &got); err != nil {
		return true, false, fmt.Errorf("bad JSON %.100q: %w", resp.Body(), err)
	}
	return true, got.Key == key && got.Value == string(appendValue(nil, i, cfg.valueLen)), nil
}

// appendKey appends entry i's key: the index zero-padded to 20 digits (which
// makes keys distinct), then pseudo-random characters up to n.
func appendKey(b []byte, i int64, n int) []byte {
	b = fmt.Appendf(b, "%020d", i)
	return keyspace.AppendRandom(b, uint64(i)^0x6b65795f6b65795f, n-20)
}

// appendValue appends entry i's n-char value.
func appendValue(b []byte, i int64, n int) []byte {
	return keyspace.AppendRandom(b, uint64(i)^0x76616c75655f5f5f, n)
}
