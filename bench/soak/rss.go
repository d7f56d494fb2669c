package main

import (
	"bufio"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// readRSS returns VmRSS of pid in bytes.
func readRSS(pid int) (int64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, errors.New("no VmRSS line")
}

type rssSample struct {
	at    time.Time
	bytes int64
}

// rssSampler records the RSS of a process at a fixed interval.
type rssSampler struct {
	pid     int
	mu      sync.Mutex
	samples []rssSample
	done    chan struct{}
	wg      sync.WaitGroup
}

func (r *rssSampler) start(every time.Duration) {
	r.done = make(chan struct{})
	r.wg.Go(func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			if b, err := readRSS(r.pid); err == nil {
				r.mu.Lock()
				r.samples = append(r.samples, rssSample{time.Now(), b})
				r.mu.Unlock()
			}
			select {
			case <-r.done:
				return
			case <-tick.C:
			}
		}
	})
}

func (r *rssSampler) stop() {
	close(r.done)
	r.wg.Wait()
}

// peak is the largest sample taken in [from, to]. Comparing peaks over equal
// windows compares like with like: a garbage-collected heap's RSS saws up and
// down between collections, and a single sample may land anywhere on the saw.
func (r *rssSampler) peak(from, to time.Time) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var p int64
	for _, s := range r.samples {
		if !s.at.Before(from) && !s.at.After(to) && s.bytes > p {
			p = s.bytes
		}
	}
	return p
}

func (r *rssSampler) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.samples)
}
