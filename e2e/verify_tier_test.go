package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"

	"github.com/warmkv/warmkv/internal/kvcheck"
	"github.com/warmkv/warmkv/internal/redistest"
)

// The shared tier under faults: three instances on one Redis (or a Redis
// Cluster), each reaching it through toxiproxy, with 18 clients spread over
// them and both doors, while faults come and go. What is checked is the
// tier's guarantee (kvcheck.Bound, docs/verification.md): writes
// linearizable; a read no staler than LOCAL_TTL and never older than its
// instance's own last write, except reads answered from an old local copy
// while the tier was down, which HTTP marks (Warmkv-Stale) and RESP cannot;
// no acknowledged write lost.

const (
	tierRedisTimeout = 500 * time.Millisecond
	tierLocalTTL     = time.Second
)

// tierEnv is an instance's environment on the shared tier at url.
func tierEnv(url string) []string {
	return []string{"REDIS_URL=" + url, "REDIS_TIMEOUT=" + tierRedisTimeout.String(), "LOCAL_TTL=" + tierLocalTTL.String(),
		"MAX_VALUE_LENGTH=64", "RESP_MAX_VALUE_BYTES=64", "MAX_MEMORY=256MiB"}
}

// tierSetup is three instances and the proxies between them and the tier.
type tierSetup struct {
	instances []*server
	proxies   []*toxiproxy.Proxy // every proxy
	own       [][]*toxiproxy.Proxy
}

// fault is one fault: inject starts it, heal ends it.
type fault struct {
	name         string
	inject, heal func(t *testing.T)
}

// onAll puts toxics on every proxy; removing them heals.
func (ts *tierSetup) onAll(name string, toxics []toxic) fault {
	return fault{name: name,
		inject: func(t *testing.T) {
			for _, p := range ts.proxies {
				addToxics(t, p, toxics)
			}
		},
		heal: func(t *testing.T) {
			for _, p := range ts.proxies {
				removeToxics(t, p, toxics)
			}
		}}
}

// networkFaults are the faults toxiproxy makes, on every proxy.
func (ts *tierSetup) networkFaults() []fault {
	return []fault{
		ts.onAll("latency 50-500ms", []toxic{{Name: "latency", Type: "latency", Stream: "downstream", Toxicity: 1,
			Attributes: map[string]any{"latency": 275, "jitter": 225}}}),
		ts.onAll("bandwidth 8KB/s", both("bandwidth", map[string]any{"rate": 8})),
		ts.onAll("reset_peer after 100ms", []toxic{{Name: "reset", Type: "reset_peer", Stream: "downstream", Toxicity: 1,
			Attributes: map[string]any{"timeout": 100}}}),
		ts.onAll("timeout 400ms", both("timeout", map[string]any{"timeout": 400})),
		ts.onAll("slicer 1-7 bytes", both("slicer", map[string]any{"average_size": 4, "size_variation": 3, "delay": 100})),
	}
}

// TestVerifyTierUnderFaults runs every fault on three instances sharing one
// Redis, which writes every change to its append-only file before answering
// (appendfsync always), so that even its restart may lose nothing.
func TestVerifyTierUnderFaults(t *testing.T) {
	needVerify(t)
	redis := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
	x := newToxiServer()
	ts := &tierSetup{}
	for i := range 3 {
		p := x.proxy(t, fmt.Sprintf("instance%d", i), "127.0.0.1:0", redis.Addr)
		ts.proxies = append(ts.proxies, p)
		ts.own = append(ts.own, []*toxiproxy.Proxy{p})
		ts.instances = append(ts.instances, startServer(t, serverSpec{resp: true, env: tierEnv("redis://" + p.Listen)}))
	}
	partition := both("timeout", map[string]any{"timeout": 0}) // black hole: nothing passes, nothing closes
	faults := append(ts.networkFaults(),
		fault{name: "partition of one instance",
			inject: func(t *testing.T) { addToxics(t, ts.own[0][0], partition) },
			heal:   func(t *testing.T) { removeToxics(t, ts.own[0][0], partition) }},
		fault{name: "Redis restart (appendfsync always)",
			inject: func(*testing.T) { redis.Kill() },
			heal:   func(*testing.T) { redis.Restart() }},
	)
	for i, f := range faults {
		t.Run(f.name, func(t *testing.T) { ts.run(t, f, i, i == 0) })
	}
}

// TestVerifyClusterUnderFaults runs the network faults and a coordinated
// primary failover on three instances sharing a Redis Cluster of three
// primaries with a replica each. Each node announces its proxy
// (cluster-announce-ip and -port), so that redirections pass through the
// proxies too. Long version only: a cluster takes seconds to form.
func TestVerifyClusterUnderFaults(t *testing.T) {
	needVerify(t)
	if !verifyLong() {
		t.Skip("the Redis Cluster runs in the long version only (WARMKV_VERIFY=long, make verify)")
	}
	x := newToxiServer()
	ts := &tierSetup{}
	cluster := redistest.StartClusterWith(t, redistest.ClusterOptions{Primaries: 3, Replicas: 1,
		Args: []string{"--appendonly", "yes", "--appendfsync", "always"},
		Announce: func(node int, addr string) string {
			listen, err := redistest.FreeAddr()
			if err != nil {
				t.Fatal(err)
			}
			ts.proxies = append(ts.proxies, x.proxy(t, fmt.Sprintf("node%d", node), listen, addr))
			return listen
		}})
	var seeds []string
	for _, p := range ts.proxies {
		seeds = append(seeds, p.Listen)
	}
	url := "redis://" + strings.Join(seeds, ",")
	for range 3 {
		ts.instances = append(ts.instances, startServer(t, serverSpec{resp: true, env: tierEnv(url)}))
		ts.own = append(ts.own, ts.proxies)
	}
	var promoted *redistest.Server
	faults := append(ts.networkFaults(), fault{name: "primary failover (CLUSTER FAILOVER)",
		inject: func(*testing.T) {
			for _, node := range cluster.Nodes {
				if node.Role() == "slave" {
					promoted = node
					break
				}
			}
			promoted.CLI("cluster", "failover")
		},
		heal: func(t *testing.T) {
			for deadline := time.Now().Add(30 * time.Second); promoted.Role() != "master"; time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the replica was not promoted within 30s")
				}
			}
			cluster.WaitReady(30 * time.Second)
		}})
	for i, f := range faults {
		t.Run(f.name, func(t *testing.T) { ts.run(t, f, i, false) })
	}
}

// run puts load on the instances, injects the fault, heals it, and checks
// the history.
func (ts *tierSetup) run(t *testing.T, f fault, index int, showCaught bool) {
	pre, during, post := sized(300*time.Millisecond, 2*time.Second), sized(1500*time.Millisecond, 10*time.Second), sized(1200*time.Millisecond, 5*time.Second)
	prefix := fmt.Sprintf("f%d:", index)
	// 64 keys, not 24: a read's window is widened back by LOCAL_TTL, and with
	// writes of unknown outcome the search of a key's history grows
	// exponentially with how many of its ops overlap. With 24 keys a check
	// took 17 ms to over the 2-minute limit; with 64, at most 160 ms in 18 runs.
	w := &kvcheck.Workload{Prefix: prefix, Counters: 32, Strings: 32, MaxRunes: 64}
	var targets []kvcheck.Target
	for i, s := range ts.instances {
		targets = append(targets, s.clients(t, 3, i)...)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var history []kvcheck.Op
	var loadErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		history, loadErr = kvcheck.RunLoad(ctx, targets, kvcheck.LoadOptions{Workload: w, Seed: uint64(time.Now().UnixNano()),
			Backoff: time.Second, Pace: 20 * time.Millisecond})
	})
	once := newOnceWriters(ts.instances, prefix)
	wg.Go(func() { once.run(ctx) })

	time.Sleep(pre)
	memBefore := ts.memory(t)
	injected := time.Now()
	f.inject(t)
	time.Sleep(during)
	healStart := time.Now()
	f.heal(t)
	healed := time.Now()
	time.Sleep(post)
	cancel()
	wg.Wait()
	if loadErr != nil {
		t.Fatal(loadErr)
	}

	// Every instance's view of every key once writes have stopped for
	// LOCAL_TTL: these reads fall under the bound like all others.
	time.Sleep(tierLocalTTL + 100*time.Millisecond)
	for i, s := range ts.instances {
		c := kvcheck.NewHTTPClient(s.base, verifyTimeout)
		for _, key := range w.Keys() {
			op, err := kvcheck.Do(c, -1-i, i, kvcheck.Input{Kind: kvcheck.Get, Key: key})
			if err != nil || op.Out.Status != kvcheck.OK {
				t.Fatalf("instance %d, final read of %s: %v %v", i, key, op.Out.Status, err)
			}
			history = append(history, op)
		}
		c.Close()
	}
	memAfter := ts.memory(t)
	lost, onceAcked, onceUnknown := once.lost(t, ts.instances[0])

	// Recovery: until the last answer on any instance that left an op open.
	recovered := make([]int64, len(ts.instances))
	var longest time.Duration
	var slowest kvcheck.Op
	var unknown int
	for _, op := range append(history, once.history...) {
		if op.Took > longest {
			longest, slowest = op.Took, op
		}
		if op.Out.Status != kvcheck.Unknown {
			continue
		}
		unknown++
		if end := op.Call + int64(op.Took); end > healed.UnixNano() {
			recovered[op.Instance] = max(recovered[op.Instance], end)
		}
	}
	var recovery time.Duration
	for i := range recovered {
		recovered[i] = max(recovered[i], healed.UnixNano())
		recovery = max(recovery, time.Duration(recovered[i]-healed.UnixNano()))
	}
	// RESP cannot mark a read answered from an old local copy: the bound
	// does not cover its reads from the fault until its instance is back on
	// the tier. An instance that marked the tier down learns that it answers
	// again only from its probe, up to 250 ms after the heal, and until then
	// it still answers from its old copies; its log says when.
	backOnTier := make([]int64, len(ts.instances))
	var backAfter time.Duration
	for i, s := range ts.instances {
		backOnTier[i] = max(recovered[i], s.tierBackAt(t, injected))
		backAfter = max(backAfter, time.Duration(backOnTier[i]-healed.UnixNano()))
	}
	var exempt, marked int
	bound := kvcheck.Bound{Staleness: tierLocalTTL, Exempt: func(op kvcheck.Op) bool {
		return op.Door == "resp" && op.Return >= injected.UnixNano() && op.Call <= backOnTier[op.Instance]
	}}
	for _, op := range history {
		if !op.In.Kind.Reads() || op.Out.Status != kvcheck.OK {
			continue
		}
		if op.Out.Stale {
			marked++
		} else if bound.Exempt(op) {
			exempt++
		}
	}
	stale := kvcheck.CertainlyStale(history, tierLocalTTL)
	var staleMax time.Duration
	for _, s := range stale {
		staleMax = max(staleMax, s.By)
	}
	opts := checkOptions()
	opts.Timeout = 2 * time.Minute
	res := kvcheck.CheckBound(history, bound, opts)
	report(t, "%d ops (%d left open), checked in %v: violations %d; acknowledged writes lost: %d of %d (write-once keys; %d unconfirmed); "+
		"reads the bound does not cover: %d (marked stale over HTTP %d, RESP during the fault %d), of them certainly staler than LOCAL_TTL %d (by up to %v); "+
		"longest request %v (bound %v); recovery %v after the heal, every instance back on the tier after %v (heal took %v); before → after: %v → %v",
		res.Ops, unknown, res.Took.Round(time.Millisecond), res.Violations(), lost, onceAcked, onceUnknown,
		res.Loose, marked, exempt, len(stale), staleMax.Round(time.Millisecond),
		longest.Round(time.Millisecond), tierRedisTimeout+500*time.Millisecond, recovery.Round(time.Millisecond), backAfter.Round(time.Millisecond),
		healed.Sub(healStart).Round(time.Millisecond), memBefore, memAfter)
	if err := res.Err(); err != nil {
		t.Error(err)
	}
	if lost > 0 {
		t.Errorf("%d acknowledged writes lost", lost)
	}
	if limit := tierRedisTimeout + 500*time.Millisecond; longest >= limit {
		t.Errorf("a request took %v, beyond REDIS_TIMEOUT + 500ms = %v: %s %s on instance %d, sent %v after the fault began, answered %s",
			longest, limit, slowest.Door, slowest.In, slowest.Instance, time.Duration(slowest.Call-injected.UnixNano()).Round(time.Millisecond), slowest.Out.Status)
	}
	for _, s := range ts.instances {
		s.failIfExited(t, "under the fault")
	}
	if showCaught {
		requireCaught(t, history, tierLocalTTL, func(h []kvcheck.Op) error { return kvcheck.CheckBound(h, bound, kvcheck.Options{}).Err() })
	}
}

// tierBackAt is when the instance last logged, after since, that the
// shared tier answers again (Unix ns, rounded up to the log's millisecond:
// it logs once it trusts the tier again), or 0.
func (s *server) tierBackAt(t *testing.T, since time.Time) int64 {
	t.Helper()
	var at int64
	for line := range strings.Lines(s.log.String()) {
		if !strings.Contains(line, `msg="shared tier answers again"`) {
			continue
		}
		stamp, _, _ := strings.Cut(strings.TrimPrefix(line, "time="), " ")
		logged, err := time.Parse(time.RFC3339Nano, stamp)
		if err != nil {
			t.Fatalf("a log line without its time: %q", line)
		}
		if !logged.Before(since.Truncate(time.Millisecond)) {
			at = max(at, logged.Add(time.Millisecond).UnixNano())
		}
	}
	return at
}

// memory is the largest resident set (MiB), Go heap in use (MiB) and
// goroutine count among the instances: RSS alone cannot tell a leak from a
// heap the runtime has not given back yet.
type memory struct{ rss, heap, goroutines int64 }

func (m memory) String() string {
	return fmt.Sprintf("RSS %d MiB, heap %d MiB, %d goroutines", m.rss, m.heap, m.goroutines)
}

func (ts *tierSetup) memory(t *testing.T) memory {
	t.Helper()
	var m memory
	for _, s := range ts.instances {
		m.rss = max(m.rss, s.rssKiB()/1024)
		_, metrics := s.do(t, "GET", "/metrics", "")
		m.heap = max(m.heap, metricValue(metrics, "go_memstats_heap_inuse_bytes")>>20)
		m.goroutines = max(m.goroutines, metricValue(metrics, "go_goroutines"))
	}
	return m
}

// metricValue reads one unlabelled metric from a Prometheus text page.
func metricValue(page, name string) int64 {
	for _, line := range strings.Split(page, "\n") {
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return int64(f)
		}
	}
	return -1
}

// onceWriters write keys that are written once each, one writer per
// instance over HTTP: afterwards every acknowledged one must be in the tier.
type onceWriters struct {
	instances []*server
	prefix    string
	mu        sync.Mutex
	history   []kvcheck.Op
}

func newOnceWriters(instances []*server, prefix string) *onceWriters {
	return &onceWriters{instances: instances, prefix: prefix + "once:"}
}

func (o *onceWriters) run(ctx context.Context) {
	var wg sync.WaitGroup
	for i, s := range o.instances {
		wg.Go(func() {
			c := kvcheck.NewHTTPClient(s.base, verifyTimeout)
			defer c.Close()
			for n := 0; ctx.Err() == nil; n++ {
				key := fmt.Sprintf("%s%d:%d", o.prefix, i, n)
				op, err := kvcheck.Do(c, 1000+i, i, kvcheck.Input{Kind: kvcheck.Set, Key: key, Value: "x"})
				if err != nil {
					return
				}
				o.mu.Lock()
				o.history = append(o.history, op)
				o.mu.Unlock()
				if op.Out.Status == kvcheck.Unknown {
					time.Sleep(time.Second) // Retry-After: 1
				}
			}
		})
	}
	wg.Wait()
}

// lost reads every key back through s: the acknowledged ones it does not
// find are lost.
func (o *onceWriters) lost(t *testing.T, s *server) (lost, acked, unknown int) {
	t.Helper()
	c := kvcheck.NewRESPClient(s.respAddr, verifyTimeout)
	defer c.Close()
	for _, op := range o.history {
		if op.Out.Status == kvcheck.Unknown {
			unknown++
			continue
		}
		acked++
		out, err := c.Do(kvcheck.Input{Kind: kvcheck.Get, Key: op.In.Key})
		if err != nil || out.Status != kvcheck.OK {
			t.Fatalf("reading back %s: %v %v", op.In.Key, out.Status, err)
		}
		if !out.Found {
			lost++
		}
	}
	return lost, acked, unknown
}
