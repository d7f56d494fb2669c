package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/warmkv/warmkv/internal/kvcheck"
)

// The verification (docs/verification.md): histories checked against a
// model, faults between warmkv and its shared tier, crash loops. The TestVerify
// tests run a short version, about a minute in all, with every `go test`;
// WARMKV_VERIFY=long (`make verify`) runs the long one, whose figures the
// docs quote. Every figure is logged on a line that starts with "verify:".

// verifyLong reports whether the long version runs.
func verifyLong() bool { return os.Getenv("WARMKV_VERIFY") == "long" }

// sized picks the short or the long version's figure.
func sized[T any](short, long T) T {
	if verifyLong() {
		return long
	}
	return short
}

// needVerify skips the verification under -short.
func needVerify(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("the verification runs without -short (WARMKV_VERIFY=long for the long version)")
	}
}

// report logs one figure of the verification.
func report(t *testing.T, format string, args ...any) {
	t.Helper()
	t.Logf("verify: %s: %s", t.Name(), fmt.Sprintf(format, args...))
}

// checkOptions are the checker's options; WARMKV_VERIFY_OUT receives the
// visualization of any violation.
func checkOptions() kvcheck.Options {
	return kvcheck.Options{VisualizeDir: os.Getenv("WARMKV_VERIFY_OUT")}
}

// verifyTimeout bounds each request of a verification client: past it a
// server counts as hanging and the op's outcome as unknown.
const verifyTimeout = 10 * time.Second

// clients returns n HTTP and n RESP clients of the server, as targets of a
// load on instance.
func (s *server) clients(t *testing.T, n, instance int) []kvcheck.Target {
	t.Helper()
	var targets []kvcheck.Target
	for range n {
		targets = append(targets,
			kvcheck.Target{Client: kvcheck.NewHTTPClient(s.base, verifyTimeout), Instance: instance},
			kvcheck.Target{Client: kvcheck.NewRESPClient(s.respAddr, verifyTimeout), Instance: instance})
	}
	t.Cleanup(func() {
		for _, tg := range targets {
			tg.Client.Close()
		}
	})
	return targets
}

// serverStats are the /stats fields the verification reads.
type serverStats struct {
	KeyCount  int64 `json:"keyCount"`
	Evictions int64 `json:"evictions"`
	Shared    *struct {
		Connected  bool  `json:"connected"`
		StaleReads int64 `json:"staleReads"`
	} `json:"shared"`
}

func (s *server) stats(t *testing.T) serverStats {
	t.Helper()
	_, body := s.do(t, "GET", "/stats", "")
	var st serverStats
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("/stats: %v: %s", err, body)
	}
	return st
}

// requireNoEvictions fails the test if the server evicted anything: an
// evicted key is a lost write the model cannot tell from a bug.
func (s *server) requireNoEvictions(t *testing.T) {
	t.Helper()
	if ev := s.stats(t).Evictions; ev != 0 {
		t.Fatalf("%d keys were evicted: the budget must hold the whole key set for the check to mean anything", ev)
	}
}

// rssKiB is the resident set size of the process, from /proc.
func (p *process) rssKiB() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return -1
}

// countKinds counts a history's ops by kind, for the log.
func countKinds(history []kvcheck.Op) map[string]int {
	m := map[string]int{}
	for _, op := range history {
		m[op.Door+" "+op.In.Kind.String()]++
	}
	return m
}

// requireCaught checks that anomalies injected into a history are caught by
// the check that passed it: it can fail. staleness is how stale a read may
// be, which the injected stale read exceeds.
func requireCaught(t *testing.T, history []kvcheck.Op, staleness time.Duration, check func([]kvcheck.Op) error) {
	t.Helper()
	for _, inj := range []struct {
		name   string
		inject func([]kvcheck.Op) ([]kvcheck.Op, kvcheck.Op, bool)
	}{
		{"stale read", func(h []kvcheck.Op) ([]kvcheck.Op, kvcheck.Op, bool) { return kvcheck.InjectStaleRead(h, staleness) }},
		{"lost update", kvcheck.InjectLostUpdate},
	} {
		bad, op, ok := inj.inject(history)
		if !ok {
			t.Errorf("found no place to inject a %s", inj.name)
			continue
		}
		if check(bad) == nil {
			t.Errorf("a %s injected into the history (%s) was not caught", inj.name, op.In)
			continue
		}
		report(t, "an injected %s (%s) is caught", inj.name, op.In)
	}
}
