package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// growthMain answers whether a cache that grows as it fills stalls its
// readers. Against a fresh server it runs two open-loop streams at once:
// GETs of a small set of preloaded keys, and PUTs of new keys that fill the
// cache from empty. Once the server reports its first eviction the cache is
// full; the same streams then go on for as long as the fill took (at least
// -min-full). GET latencies are split at that moment: p99.9 while filling
// (shards rebuilding as they grow) against p99.9 of the same load on a cache
// already full. Target: at most 2x.
func growthMain(args []string) error {
	fs := flag.NewFlagSet("growth", flag.ExitOnError)
	base := fs.String("url", "http://127.0.0.1:7171", "server base URL")
	getRate := fs.Int("get-rate", 4000, "GETs per second")
	putRate := fs.Int("put-rate", 8000, "PUTs of new keys per second")
	hotKeys := fs.Int("hot-keys", 10000, "preloaded keys the GETs read")
	keyLen := fs.Int("key-len", 20, "key length")
	valueLen := fs.Int("value-len", 100, "value length")
	warmup := fs.Duration("warmup", time.Second, "results of the first part of the fill left out (connections opening)")
	maxFill := fs.Duration("max-fill", 15*time.Minute, "give up if the cache is not full by then")
	minFull := fs.Duration("min-full", 20*time.Second, "least time measured on the full cache")
	timeout := fs.Duration("timeout", 10*time.Second, "per-request timeout")
	_ = fs.Parse(args)

	u, err := url.Parse(*base)
	if err != nil {
		return err
	}
	transport := newFastTransport(u.Host, 0, *timeout)
	defer transport.client.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: *timeout}

	hot := make([]string, *hotKeys)
	value := strings.Repeat("v", *valueLen)
	for i := range hot {
		hot[i] = fmt.Sprintf("h%0*d", *keyLen-1, i)
		if err := put(client, *base, hot[i], value); err != nil {
			return fmt.Errorf("preloading: %w", err)
		}
	}

	gets := vegeta.NewAttacker(vegeta.Client(client), vegeta.MaxBody(4096))
	puts := vegeta.NewAttacker(vegeta.Client(client), vegeta.MaxBody(4096))
	getURLs := make([]string, len(hot))
	for i, k := range hot {
		getURLs[i] = *base + "/get?key=" + k
	}
	var next atomic.Uint64
	getTargets := func(t *vegeta.Target) error {
		t.Method, t.URL = http.MethodGet, getURLs[int(next.Add(1)*2654435761)%len(getURLs)]
		return nil
	}
	var written atomic.Int64
	putHeader := http.Header{"Content-Type": []string{"application/json"}}
	putTargets := func(t *vegeta.Target) error {
		n := written.Add(1)
		t.Method, t.URL, t.Header = http.MethodPost, *base+"/put", putHeader
		t.Body = fmt.Appendf(nil, `{"key":"f%0*d","value":"%s"}`, *keyLen-1, n, value)
		return nil
	}

	began := time.Now()
	var getRes, putRes []*vegeta.Result
	var wg sync.WaitGroup
	collect := func(dst *[]*vegeta.Result, ch <-chan *vegeta.Result) {
		defer wg.Done()
		for r := range ch {
			*dst = append(*dst, r)
		}
	}
	wg.Add(2)
	go collect(&getRes, gets.Attack(getTargets, vegeta.ConstantPacer{Freq: *getRate, Per: time.Second}, 0, "get"))
	go collect(&putRes, puts.Attack(putTargets, vegeta.ConstantPacer{Freq: *putRate, Per: time.Second}, 0, "put"))

	full, st, err := waitFull(client, *base, began.Add(*maxFill))
	if err == nil {
		fmt.Printf("full after %v: %d keys written, %d held, %.0f of %.0f MB charged\n",
			full.Sub(began).Round(time.Millisecond), written.Load(), st.KeyCount, float64(st.MemoryUsed)/1e6, float64(st.MemoryBudget)/1e6)
		time.Sleep(max(full.Sub(began), *minFull))
	}
	gets.Stop()
	puts.Stop()
	wg.Wait()
	if err != nil {
		return err
	}

	fill := began.Add(*warmup)
	fmt.Printf("%-5s %-8s %9s %9s %9s %9s %9s %9s %7s\n", "op", "phase", "requests", "non-2xx", "p50 ms", "p99 ms", "p99.9 ms", "max ms", "req/s")
	var p999 [2]float64
	for _, op := range []struct {
		name string
		res  []*vegeta.Result
	}{{"GET", getRes}, {"PUT", putRes}} {
		for i, phase := range []struct {
			name     string
			from, to time.Time
		}{{"filling", fill, full}, {"full", full, time.Now()}} {
			lat, bad := latencies(op.res, phase.from, phase.to)
			if len(lat) == 0 {
				return fmt.Errorf("no %s answers while %s", op.name, phase.name)
			}
			q := func(p float64) float64 { return millis(lat[min(len(lat)-1, int(p*float64(len(lat))))]) }
			fmt.Printf("%-5s %-8s %9d %9d %9.2f %9.2f %9.2f %9.2f %7.0f\n", op.name, phase.name, len(lat)+bad, bad,
				q(0.5), q(0.99), q(0.999), millis(lat[len(lat)-1]), float64(len(lat)+bad)/phase.to.Sub(phase.from).Seconds())
			if op.name == "GET" {
				p999[i] = q(0.999)
			}
		}
	}
	ratio := p999[0] / p999[1]
	fmt.Printf("GET p99.9 filling / full = %.2f: %s (target <= 2)\n", ratio, map[bool]string{true: "PASS", false: "FAIL"}[ratio <= 2])
	return nil
}

// latencies returns, sorted, the latencies of the 2xx answers to requests sent
// in [from, to), and how many other answers there were.
func latencies(res []*vegeta.Result, from, to time.Time) (lat []time.Duration, other int) {
	for _, r := range res {
		if r.Timestamp.Before(from) || !r.Timestamp.Before(to) {
			continue
		}
		if r.Code >= 200 && r.Code < 300 || r.Code == http.StatusNotFound {
			lat = append(lat, r.Latency)
		} else {
			other++
		}
	}
	slices.Sort(lat)
	return lat, other
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

type growthStats struct {
	KeyCount     int64 `json:"keyCount"`
	MemoryUsed   int64 `json:"memoryUsed"`
	MemoryBudget int64 `json:"memoryBudget"`
	Evictions    int64 `json:"evictions"`
}

// waitFull polls /stats until the server reports an eviction and returns
// when it saw it.
func waitFull(client *http.Client, base string, deadline time.Time) (time.Time, growthStats, error) {
	for time.Now().Before(deadline) {
		resp, err := client.Get(base + "/stats")
		if err == nil {
			var st growthStats
			err = json.NewDecoder(resp.Body).Decode(&st)
			_ = resp.Body.Close()
			if err == nil && st.Evictions > 0 {
				return time.Now(), st, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Time{}, growthStats{}, errors.New("the cache did not fill before -max-fill")
}

func put(client *http.Client, base, key, value string) error {
	resp, err := client.Post(base+"/put", "application/json", strings.NewReader(fmt.Sprintf(`{"key":%q,"value":%q}`, key, value)))
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("PUT %s: %d", key, resp.StatusCode)
	}
	return nil
}
