// Command soak runs a bounded soak against a warmkv server for bench/soak.sh:
// workers mix every operation (GET, PUT with and without TTL, delete,
// check-and-set, increment, append) with random key and value sizes up to the
// limits, and check every answer against a model of what was written.
//
// The model is exact under concurrency because every key has one owner: each
// worker has its own key space (its keys carry its number), so its model is
// sequential. A wrong value is always a failure. A missing key is allowed only
// when its expiry may have passed (the model keeps the interval in which the
// server's clock put it) or, with -evictions, when the cache may have evicted it
// (the LRU is over budget) — and then only if /stats counts evictions.
//
// It also samples the server's RSS (/proc/PID/status VmRSS): the peak over the
// last seconds of the warm-up against the peak over the last seconds of the run.
//
// Exit status: 0 PASS, 1 FAIL, 2 the soak could not run.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// Options are the soak's knobs; main sets them from its flags.
type Options struct {
	URL           string        // server base URL
	PID           int           // server process for RSS sampling; 0 = none
	Phase         string        // label in the report
	Duration      time.Duration // mixed operations, warm-up included
	Warmup        time.Duration // 0 = 10% of Duration, between 15s and 60s, at most half of it
	Workers       int
	KeysPerWorker int
	MaxKey        int     // the server's MAX_KEY_LENGTH
	MaxValue      int     // the server's MAX_VALUE_LENGTH
	Evictions     bool    // the cache is over budget: surely-live keys may be missing
	RSSTolerance  float64 // end RSS may exceed warm-up RSS by this fraction
	RSSWindow     time.Duration
	ExpirySlack   time.Duration
	Seed          uint64
	Timeout       time.Duration
	Progress      time.Duration
	ShowFailures  int
}

func defaults() Options {
	return Options{
		URL:           "http://127.0.0.1:7171",
		Phase:         "soak",
		Duration:      10 * time.Minute,
		Workers:       32,
		KeysPerWorker: 2000,
		MaxKey:        256,
		MaxValue:      256,
		RSSTolerance:  0.10,
		RSSWindow:     10 * time.Second,
		ExpirySlack:   25 * time.Millisecond,
		Timeout:       10 * time.Second,
		Progress:      10 * time.Second,
		ShowFailures:  20,
	}
}

func main() {
	o := defaults()
	flag.StringVar(&o.URL, "url", o.URL, "server base URL")
	flag.IntVar(&o.PID, "pid", 0, "server PID to sample RSS from (0 = no RSS check)")
	flag.StringVar(&o.Phase, "phase", o.Phase, "phase label for the report")
	flag.DurationVar(&o.Duration, "duration", o.Duration, "time of mixed operations, warm-up included")
	flag.DurationVar(&o.Warmup, "warmup", 0, "warm-up before the RSS baseline (0 = 10% of -duration, 15s to 60s, at most half)")
	flag.IntVar(&o.Workers, "workers", o.Workers, "concurrent workers (one keep-alive connection each)")
	flag.IntVar(&o.KeysPerWorker, "keys", o.KeysPerWorker, "keys owned by each worker")
	flag.IntVar(&o.MaxKey, "max-key", o.MaxKey, "the server's MAX_KEY_LENGTH (characters)")
	flag.IntVar(&o.MaxValue, "max-value", o.MaxValue, "the server's MAX_VALUE_LENGTH (characters)")
	flag.BoolVar(&o.Evictions, "evictions", false, "the cache is over budget: a live key may be missing, counted as an eviction")
	flag.Float64Var(&o.RSSTolerance, "rss-tolerance", o.RSSTolerance, "allowed RSS growth from warm-up to end, as a fraction")
	flag.DurationVar(&o.RSSWindow, "rss-window", o.RSSWindow, "RSS is the peak over this long at the end of warm-up and of the run (at most half the warm-up)")
	flag.DurationVar(&o.ExpirySlack, "expiry-slack", o.ExpirySlack, "tolerance on both ends of an expiry")
	flag.Uint64Var(&o.Seed, "seed", 0, "random seed (0 = from the clock; printed)")
	flag.DurationVar(&o.Timeout, "timeout", o.Timeout, "per-request timeout")
	flag.DurationVar(&o.Progress, "progress", o.Progress, "progress line interval (0 = none)")
	flag.IntVar(&o.ShowFailures, "show-failures", o.ShowFailures, "print this many failures in full")
	wait := flag.Duration("wait", 15*time.Second, "wait this long for /healthz before starting")
	flag.Parse()
	if err := o.check(); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	if o.Seed == 0 {
		o.Seed = uint64(time.Now().UnixNano())
	}
	s, err := newSoak(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	if err := s.waitHealthy(*wait); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	if !s.run() {
		os.Exit(1)
	}
}

func (o *Options) check() error {
	u, err := url.Parse(o.URL)
	switch {
	case err != nil || u.Scheme != "http" || u.Host == "":
		return errors.New("-url must be http://host:port")
	case o.Workers < 1 || o.KeysPerWorker < 1:
		return errors.New("-workers and -keys must be at least 1")
	case o.MaxKey < 16 || o.MaxValue < 1:
		return errors.New("-max-key must be at least 16 (keys carry their owner) and -max-value at least 1")
	case o.Duration <= 0:
		return errors.New("-duration must be positive")
	}
	if o.Warmup <= 0 {
		// The server's RSS settles within about 15s of the fill (the heap grows
		// to its collection target, values grow by appends); a baseline taken
		// earlier would count that settling as growth.
		o.Warmup = min(max(o.Duration/10, 15*time.Second), 60*time.Second, o.Duration/2)
	}
	if o.Warmup >= o.Duration {
		return fmt.Errorf("-warmup %v must be shorter than -duration %v", o.Warmup, o.Duration)
	}
	o.RSSWindow = min(o.RSSWindow, o.Warmup/2)
	return nil
}

// soak is one run.
type soak struct {
	o       Options
	base    string
	client  *fasthttp.HostClient
	workers []*worker
	rss     *rssSampler

	failMu    sync.Mutex
	failShown int
}

func newSoak(o Options) (*soak, error) {
	u, _ := url.Parse(o.URL)
	s := &soak{o: o, base: strings.TrimSuffix(o.URL, "/")}
	s.client = &fasthttp.HostClient{
		Addr:         u.Host,
		MaxConns:     o.Workers + 1,
		ReadTimeout:  o.Timeout,
		WriteTimeout: o.Timeout,
		// Every transport error must be seen, not hidden by a silent retry.
		MaxIdemponentCallAttempts: 1,
	}
	if o.PID > 0 {
		if _, err := readRSS(o.PID); err != nil {
			return nil, fmt.Errorf("cannot read the RSS of PID %d: %w", o.PID, err)
		}
		s.rss = &rssSampler{pid: o.PID}
	}
	return s, nil
}

func (s *soak) waitHealthy(wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		status, _, err := s.client.GetTimeout(nil, s.base+"/healthz", time.Second)
		if err == nil && status == 200 {
			return nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("%s/healthz not healthy after %v: %w", s.base, wait, err)
			}
			return fmt.Errorf("%s/healthz not healthy after %v: status %d", s.base, wait, status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// run soaks the server and reports whether it passed.
func (s *soak) run() bool {
	o := s.o
	fmt.Printf("soak: phase %s: %d workers x %d keys, keys <= %d and values <= %d characters, %v of mixed operations (warm-up %v), evictions %s, seed %d\n",
		o.Phase, o.Workers, o.KeysPerWorker, o.MaxKey, o.MaxValue, o.Duration, o.Warmup,
		map[bool]string{true: "allowed (as misses only)", false: "NOT allowed"}[o.Evictions], o.Seed)

	checker := &checker{maxValue: o.MaxValue, slack: o.ExpirySlack.Nanoseconds(), evictionsOK: o.Evictions}
	for i := range o.Workers {
		g := &generator{r: rand.New(rand.NewPCG(o.Seed, uint64(i))), maxKey: o.MaxKey, maxValue: o.MaxValue}
		w := &worker{id: i, soak: s, gen: g, check: checker, keys: make([]string, o.KeysPerWorker), states: make([]state, o.KeysPerWorker)}
		for k := range w.keys {
			w.keys[k] = g.key(i, k)
		}
		s.workers = append(s.workers, w)
	}
	if s.rss != nil {
		s.rss.start(500 * time.Millisecond)
		defer s.rss.stop()
	}

	// Fill: every key written once, so the warm-up starts from a full key space.
	start := time.Now()
	s.parallel(func(w *worker) { w.fill() })
	fmt.Printf("soak: filled %d keys in %.1fs\n", o.Workers*o.KeysPerWorker, time.Since(start).Seconds())

	mixStart := time.Now()
	warmEnd := mixStart.Add(o.Warmup)
	end := mixStart.Add(o.Duration)
	stopProgress := s.progress(mixStart, warmEnd)
	s.parallel(func(w *worker) { w.mix(end) })
	mixElapsed := time.Since(mixStart)
	stopProgress()
	mixOps := s.total(func(c *counters) int64 { return c.ops.Load() })

	// Final sweep: every key read once more, after the load stopped.
	s.parallel(func(w *worker) { w.sweep() })
	var rssWarm, rssEnd, rssPeak int64
	if s.rss != nil {
		rssWarm = s.rss.peak(warmEnd.Add(-o.RSSWindow), warmEnd)
		rssEnd = s.rss.peak(mixStart.Add(mixElapsed-o.RSSWindow), mixStart.Add(mixElapsed))
		rssPeak = s.rss.peak(time.Time{}, time.Now())
	}
	stats, statsErr := s.stats()
	return s.summarize(mixOps, mixElapsed, rssWarm, rssEnd, rssPeak, stats, statsErr)
}

func (s *soak) parallel(f func(*worker)) {
	var wg sync.WaitGroup
	for _, w := range s.workers {
		wg.Go(func() { f(w) })
	}
	wg.Wait()
}

func (s *soak) total(f func(*counters) int64) int64 {
	var n int64
	for _, w := range s.workers {
		n += f(&w.c)
	}
	return n
}

// progress prints a line every Options.Progress until the returned stop is called.
func (s *soak) progress(start, warmEnd time.Time) (stop func()) {
	if s.o.Progress <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(s.o.Progress)
		defer tick.Stop()
		var lastOps int64
		last := start
		for {
			select {
			case <-done:
				return
			case now := <-tick.C:
				ops := s.total(func(c *counters) int64 { return c.ops.Load() })
				rss := ""
				if s.rss != nil {
					if r, err := readRSS(s.o.PID); err == nil {
						rss = fmt.Sprintf(", server RSS %.1f MB", float64(r)/1e6)
					}
				}
				if st, err := s.stats(); err == nil {
					rss += fmt.Sprintf(", cache %d keys %.1f MB", st.KeyCount, float64(st.MemoryUsed)/1e6)
				}
				phase := ""
				if now.Before(warmEnd) {
					phase = " (warm-up)"
				}
				fmt.Printf("[t=%4.0fs] %d ops (%.0f/s now), %d failures, misses: %d expired, %d evicted%s%s\n",
					now.Sub(start).Seconds(), ops, float64(ops-lastOps)/now.Sub(last).Seconds(),
					s.total(func(c *counters) int64 { return c.failures.Load() }),
					s.total(func(c *counters) int64 { return c.expiredMisses.Load() }),
					s.total(func(c *counters) int64 { return c.evictedMisses.Load() }), rss, phase)
				lastOps, last = ops, now
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// failed prints the first failures in full; the rest are only counted.
func (s *soak) failed(w *worker, o *op, key, what string) {
	s.failMu.Lock()
	defer s.failMu.Unlock()
	if s.failShown >= s.o.ShowFailures {
		return
	}
	s.failShown++
	fmt.Fprintf(os.Stderr, "soak: FAILURE (worker %d, %s %s, key %s): %s\n", w.id, o.method, clip(o.uri), clip(jsonString(key)), what)
	if o.body != nil {
		fmt.Fprintf(os.Stderr, "      request body: %s\n", clip(string(o.body)))
	}
}

// serverStats is the part of /stats the verdict reads.
type serverStats struct {
	KeyCount     int64  `json:"keyCount"`
	MemoryUsed   int64  `json:"memoryUsed"`
	MemoryBudget int64  `json:"memoryBudget"`
	Hits         uint64 `json:"hits"`
	Misses       uint64 `json:"misses"`
	Evictions    uint64 `json:"evictions"`
	Expirations  uint64 `json:"expirations"`
	Requests     uint64 `json:"requests"`
}

func (s *soak) stats() (serverStats, error) {
	var st serverStats
	status, body, err := s.client.GetTimeout(nil, s.base+"/stats", s.o.Timeout)
	if err != nil {
		return st, err
	}
	if status != 200 {
		return st, fmt.Errorf("/stats: status %d", status)
	}
	return st, json.Unmarshal(body, &st)
}

// summarize prints the report and the verdict, and returns whether it passed.
func (s *soak) summarize(mixOps int64, mixElapsed time.Duration, rssWarm, rssEnd, rssPeak int64, st serverStats, statsErr error) bool {
	o := s.o
	sum := func(f func(*counters) int64) int64 { return s.total(f) }
	checks := sum(func(c *counters) int64 { return c.checks.Load() })
	failures := sum(func(c *counters) int64 { return c.failures.Load() })
	transport := sum(func(c *counters) int64 { return c.transport.Load() })
	expired := sum(func(c *counters) int64 { return c.expiredMisses.Load() })
	evicted := sum(func(c *counters) int64 { return c.evictedMisses.Load() })
	getHits := sum(func(c *counters) int64 { return c.getHits.Load() })
	gets := sum(func(c *counters) int64 { return c.perOp[opGet].Load() })

	fmt.Printf("soak: %d mixed operations in %.1fs = %.0f ops/s (with the fill and the final sweep: ", mixOps, mixElapsed.Seconds(), float64(mixOps)/mixElapsed.Seconds())
	for k := range opKinds {
		if k > 0 {
			fmt.Print(", ")
		}
		fmt.Printf("%s %d", opNames[k], sum(func(c *counters) int64 { return c.perOp[k].Load() }))
	}
	fmt.Println(")")
	fmt.Printf("soak: %d answers checked, %d GETs of which %d hits with the right value\n", checks, gets, getHits)
	fmt.Printf("soak: misses explained by expiry: %d; by eviction: %d\n", expired, evicted)
	fmt.Printf("soak: failures: %d (wrong or lost values, unexplained answers; transport errors: %d)\n", failures, transport)

	var why []string
	if failures > 0 {
		why = append(why, fmt.Sprintf("%d failed checks", failures))
	}
	if statsErr != nil {
		why = append(why, "no /stats: "+statsErr.Error())
	} else {
		fmt.Printf("soak: /stats: keyCount %d, memoryUsed %.1f MB of %.1f MB, hits %d, misses %d, evictions %d, expirations %d\n",
			st.KeyCount, float64(st.MemoryUsed)/1e6, float64(st.MemoryBudget)/1e6, st.Hits, st.Misses, st.Evictions, st.Expirations)
		if evicted > 0 && st.Evictions == 0 {
			why = append(why, fmt.Sprintf("%d misses blamed on eviction but the server evicted nothing", evicted))
		}
		if !o.Evictions && st.Evictions > 0 {
			// Not a wrong answer in itself (a lost live key would have failed a
			// check), but the phase meant to be exact was not.
			why = append(why, fmt.Sprintf("the server evicted %d entries in a phase sized to evict none", st.Evictions))
		}
		if o.Evictions && st.Evictions == 0 {
			fmt.Println("soak: note: evictions were allowed but none happened; the budget is not small enough to test them")
		}
	}

	rssChange := 0.0
	if s.rss != nil {
		rssChange = float64(rssEnd-rssWarm) / float64(rssWarm)
		fmt.Printf("soak: server RSS after warm-up %.1f MB, at end %.1f MB (%+.1f%%, limit +%.0f%%; each the peak of the last %v), peak %.1f MB, %d samples\n",
			float64(rssWarm)/1e6, float64(rssEnd)/1e6, rssChange*100, o.RSSTolerance*100, o.RSSWindow, float64(rssPeak)/1e6, s.rss.count())
		if rssWarm == 0 || rssEnd == 0 {
			why = append(why, "no RSS samples")
		} else if rssChange > o.RSSTolerance {
			why = append(why, fmt.Sprintf("RSS grew %.1f%% after warm-up (limit %.0f%%)", rssChange*100, o.RSSTolerance*100))
		}
	}
	verdict := "PASS"
	if len(why) > 0 {
		verdict = "FAIL (" + strings.Join(why, "; ") + ")"
	}
	fmt.Printf("soak: => %s\n", verdict)
	fmt.Printf("SOAK phase=%s ops=%d seconds=%.1f ops_per_s=%.0f checks=%d gets=%d get_hits=%d failures=%d transport=%d expired_misses=%d evicted_misses=%d rss_warm=%d rss_end=%d rss_peak=%d rss_change_pct=%.1f evictions=%d expirations=%d verdict=%s\n",
		o.Phase, mixOps, mixElapsed.Seconds(), float64(mixOps)/mixElapsed.Seconds(), checks, gets, getHits, failures, transport,
		expired, evicted, rssWarm, rssEnd, rssPeak, rssChange*100, st.Evictions, st.Expirations, strings.Fields(verdict)[0])
	return len(why) == 0
}
