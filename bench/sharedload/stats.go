package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/valyala/fasthttp"
)

// stats are the /stats fields the benchmark reads.
type stats struct {
	KeyCount int64         `json:"keyCount"` // this instance's local copies
	MaxSize  int64         `json:"maxSize"`
	Shared   *sharedCounts `json:"shared"` // nil without a shared tier
}

type sharedCounts struct {
	Connected     bool   `json:"connected"`
	KeyCount      int64  `json:"keyCount"` // keys in Redis, -1 until counted
	LocalHits     uint64 `json:"localHits"`
	SharedHits    uint64 `json:"sharedHits"`
	SharedMisses  uint64 `json:"sharedMisses"`
	StaleReads    uint64 `json:"staleReads"`
	Unavailable   uint64 `json:"unavailable"`
	Invalidations uint64 `json:"invalidations"`
	Resyncs       uint64 `json:"resyncs"`
}

// sub is the counters' growth from before to s.
func (s sharedCounts) sub(before sharedCounts) sharedCounts {
	s.LocalHits -= before.LocalHits
	s.SharedHits -= before.SharedHits
	s.SharedMisses -= before.SharedMisses
	s.StaleReads -= before.StaleReads
	s.Unavailable -= before.Unavailable
	s.Invalidations -= before.Invalidations
	s.Resyncs -= before.Resyncs
	return s
}

// reads is every read the tier answered.
func (s sharedCounts) reads() uint64 {
	return s.LocalHits + s.SharedHits + s.SharedMisses + s.StaleReads
}

// localRatio is the share of reads answered by a fresh local copy.
func (s sharedCounts) localRatio() float64 {
	if s.reads() == 0 {
		return 0
	}
	return float64(s.LocalHits) / float64(s.reads())
}

// fields is s as name=value pairs for a result line.
func (s sharedCounts) fields() string {
	return fmt.Sprintf("localHits=%d sharedHits=%d sharedMisses=%d staleReads=%d unavailable=%d invalidations=%d resyncs=%d",
		s.LocalHits, s.SharedHits, s.SharedMisses, s.StaleReads, s.Unavailable, s.Invalidations, s.Resyncs)
}

func parseStats(body []byte) (stats, error) {
	var st stats
	if err := json.Unmarshal(body, &st); err != nil {
		return st, fmt.Errorf("/stats is not the expected JSON: %w: %.200s", err, body)
	}
	return st, nil
}

func fetchStats(c *fasthttp.HostClient, base string) (stats, error) {
	status, body, err := get(c, base, "/stats")
	if err != nil {
		return stats{}, err
	}
	if status != fasthttp.StatusOK {
		return stats{}, fmt.Errorf("/stats answered %d: %.200s", status, body)
	}
	return parseStats(body)
}

// fetchShared is fetchStats of a server that must have a shared tier.
func fetchShared(c *fasthttp.HostClient, base string) (stats, error) {
	st, err := fetchStats(c, base)
	if err == nil && st.Shared == nil {
		err = errors.New(`/stats has no "shared" object: is REDIS_URL set?`)
	}
	return st, err
}

// ready waits until the server answers /healthz and, with -shared, until its
// invalidation subscription is confirmed (resyncs >= 1: local copies are
// trusted only from then on, and its confirmation drops them) and its first
// count of the shared keys has finished (that SCAN of the whole prefix runs in
// the background when /stats is first asked for, and would otherwise load
// Redis during the measurement that follows).
func ready(args []string) error {
	fs := flag.NewFlagSet("ready", flag.ContinueOnError)
	base := fs.String("url", "http://127.0.0.1:7171", "server base URL")
	wait := fs.Duration("wait", 20*time.Second, "how long to wait")
	shared := fs.Bool("shared", false, "also wait for the shared tier (subscribed, keys counted)")
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	c, err := newClient(*base, 1)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(*wait)
	var last error
	for time.Now().Before(deadline) {
		last = readyOnce(c, *base, *shared)
		if last == nil {
			st, _ := fetchStats(c, *base)
			if st.Shared != nil {
				fmt.Printf("result ready=1 sharedKeys=%d localKeys=%d maxSize=%d\n", st.Shared.KeyCount, st.KeyCount, st.MaxSize)
			} else {
				fmt.Printf("result ready=1 localKeys=%d maxSize=%d\n", st.KeyCount, st.MaxSize)
			}
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready within %s: %w", *base, *wait, last)
}

func readyOnce(c *fasthttp.HostClient, base string, shared bool) error {
	status, _, err := get(c, base, "/healthz")
	switch {
	case err != nil:
		return err
	case status != fasthttp.StatusOK:
		return fmt.Errorf("/healthz answered %d", status)
	case !shared:
		return nil
	}
	st, err := fetchShared(c, base)
	switch {
	case err != nil:
		return err
	case !st.Shared.Connected:
		return errors.New("shared tier not connected")
	case st.Shared.Resyncs == 0:
		return errors.New("invalidation subscription not confirmed yet")
	case st.Shared.KeyCount < 0:
		return errors.New("shared keys not counted yet")
	}
	return nil
}

// printStats prints the shared counters and the local key count on one line.
func printStats(args []string) error {
	fs := flag.NewFlagSet("stats", flag.ContinueOnError)
	base := fs.String("url", "http://127.0.0.1:7171", "server base URL")
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	c, err := newClient(*base, 1)
	if err != nil {
		return err
	}
	st, err := fetchShared(c, *base)
	if err != nil {
		return err
	}
	fmt.Printf("result %s localKeys=%d sharedKeys=%d\n", st.Shared.fields(), st.KeyCount, st.Shared.KeyCount)
	return nil
}
