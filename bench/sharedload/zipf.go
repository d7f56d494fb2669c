package main

import (
	"bytes"
	"flag"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/warmkv/warmkv/bench/internal/keyspace"
)

// zipf reads keys chosen by a Zipf distribution (key 0 the most popular) from
// -c connections for -warmup, then measures for -d: throughput and p99 seen
// by this client, and the local cache's hit ratio from the growth of the
// server's /stats counters over the measured part.
func zipf(args []string) error {
	fs := flag.NewFlagSet("zipf", flag.ContinueOnError)
	base := fs.String("url", "http://127.0.0.1:7171", "server base URL")
	var ks keySet
	ks.register(fs, 1000000, "key space: keys 0..keys-1, all present in the shared tier")
	s := fs.Float64("s", 1.1, "Zipf exponent (> 1): P(key k) is proportional to (k+1)^-s")
	conns := fs.Int("c", 64, "concurrent connections")
	warmup := fs.Duration("warmup", 2*time.Second, "unmeasured load first, so that the local cache is not measured cold")
	duration := fs.Duration("d", 10*time.Second, "measured load")
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	if err := ks.check(1); err != nil {
		return err
	}
	if *s <= 1 || *conns < 1 || *duration <= 0 || *warmup < 0 {
		return usageError("need -s > 1, -c >= 1, -d > 0, -warmup >= 0")
	}
	c, err := newClient(*base, *conns)
	if err != nil {
		return err
	}
	statsClient, _ := newClient(*base, 1)
	initial, err := fetchShared(statsClient, *base)
	if err != nil {
		return err
	}

	var measuring, stop atomic.Bool
	var wrong, failed atomic.Int64
	report := firstProblem()
	latencies := make([][]time.Duration, *conns)
	// seen has a bit per key, set when the key is first requested: reads of
	// keys never read before are misses no local cache could avoid, which
	// tells them apart from the refreshes LOCAL_TTL causes.
	seen := make([]atomic.Uint64, (ks.keys+63)/64)
	var firstReads atomic.Int64
	var wg sync.WaitGroup
	for w := range *conns {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(w)))
			pick := rand.NewZipf(r, *s, 1, uint64(ks.keys-1))
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			own := make([]time.Duration, 0, 1<<16)
			for !stop.Load() {
				i := pick.Uint64()
				key := keyspace.Key(int(i), ks.keyLen)
				req.SetRequestURI(*base + "/get?key=" + key)
				t0 := time.Now()
				err := c.DoTimeout(req, resp, 10*time.Second)
				elapsed := time.Since(t0)
				if err != nil {
					failed.Add(1)
					report("GET %s: %v", key, err)
					continue
				}
				if want := getBody(key, keyspace.AppendValue(nil, i, ks.valueLen)); resp.StatusCode() != fasthttp.StatusOK || !bytes.Equal(resp.Body(), want) {
					wrong.Add(1)
					report("GET %s: %d %.200s, want 200 %.200s", key, resp.StatusCode(), resp.Body(), want)
				}
				if measuring.Load() {
					own = append(own, elapsed)
					if bit := uint64(1) << (i % 64); seen[i/64].Or(bit)&bit == 0 {
						firstReads.Add(1)
					}
				} else {
					seen[i/64].Or(uint64(1) << (i % 64))
				}
			}
			latencies[w] = own
		})
	}
	time.Sleep(*warmup)
	before, err := fetchShared(statsClient, *base)
	if err != nil {
		stop.Store(true)
		wg.Wait()
		return err
	}
	start := time.Now()
	measuring.Store(true)
	time.Sleep(*duration)
	measuring.Store(false)
	elapsed := time.Since(start)
	after, err := fetchShared(statsClient, *base)
	stop.Store(true)
	wg.Wait()
	if err != nil {
		return err
	}

	var all []time.Duration
	for _, l := range latencies {
		all = append(all, l...)
	}
	sortDurations(all)
	d := after.Shared.sub(*before.Shared)
	if after.Shared.Resyncs != initial.Shared.Resyncs {
		fmt.Printf("!!! the local cache was dropped %d times during the run (resyncs): the ratio is not steady-state\n",
			after.Shared.Resyncs-initial.Shared.Resyncs)
	}
	distinct := 0
	for i := range seen {
		distinct += bits.OnesCount64(seen[i].Load())
	}
	fmt.Printf("result rps=%.0f p50ms=%s p99ms=%s requests=%d hitRatio=%.4f idealRatio=%.4f firstReads=%d distinctKeys=%d localKeys=%d maxSize=%d wrong=%d failed=%d %s\n",
		float64(len(all))/elapsed.Seconds(), ms(percentile(all, 50)), ms(percentile(all, 99)), len(all),
		d.localRatio(), idealHitRatio(ks.keys, after.MaxSize, *s), firstReads.Load(), distinct,
		after.KeyCount, after.MaxSize, wrong.Load(), failed.Load(), d.fields())
	if wrong.Load() > 0 || failed.Load() > 0 {
		return fmt.Errorf("%d wrong answers, %d failed requests", wrong.Load(), failed.Load())
	}
	return nil
}

// idealHitRatio is the hit ratio of a cache that always held exactly the
// capacity most popular of n keys, and whose copies never expired: the
// probability mass of keys 0..capacity-1 under the distribution zipf draws from.
func idealHitRatio(n int, capacity int64, s float64) float64 {
	if capacity <= 0 {
		return 0
	}
	var top, all float64
	for k := range n {
		p := math.Pow(float64(k+1), -s)
		all += p
		if int64(k) < capacity {
			top += p
		}
	}
	return top / all
}
