package redisclient

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"

	"github.com/warmkv/warmkv/internal/redistest"
)

const (
	// benchKeys keys of benchValueSize bytes are preloaded; GET reads them
	// and SET overwrites them with a value of the same size, so the data
	// set and the reply sizes stay the same whichever benchmark runs first.
	// 100 bytes is the value size bench/http.sh uses.
	benchKeys      = 10000
	benchValueSize = 100
	// benchCounters is the number of keys the Lua benchmark increments.
	benchCounters = 1000
)

var (
	benchKeyNames  = keyNames("bench:key:", benchKeys)
	benchCounterKS = func() [][]string {
		// One []string per counter, built once: the tier would build the
		// KEYS slice per call, but that allocation is the caller's, the
		// same for both clients, and would blur their difference.
		out := make([][]string, benchCounters)
		for i, k := range keyNames("bench:counter:", benchCounters) {
			out[i] = []string{k}
		}
		return out
	}()
	benchValue = strings.Repeat("v", benchValueSize)
)

func keyNames(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%05d", prefix, i)
	}
	return out
}

// benchRedis is the one redis-server all benchmarks share, started on first
// use and stopped by TestMain: starting one per benchmark and -count would
// only add noise.
var benchRedis struct {
	once   sync.Once
	server *redistest.Server
	err    error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if benchRedis.server != nil {
		benchRedis.server.Close()
	}
	os.Exit(code)
}

// benchServer returns the address of the shared redis-server, with the
// benchmark keys preloaded and the Lua script loaded, so that every measured
// EVALSHA hits the script cache.
func benchServer(b *testing.B) string {
	b.Helper()
	path := redistest.Need(b, "redis-server")
	benchRedis.once.Do(func() {
		benchRedis.server, benchRedis.err = redistest.Launch(path)
		if benchRedis.err != nil {
			return
		}
		benchRedis.err = preload(benchRedis.server.Addr)
	})
	if benchRedis.err != nil {
		b.Fatal(benchRedis.err)
	}
	return benchRedis.server.Addr
}

func preload(addr string) error {
	ctx := context.Background()
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	defer c.Close()
	if _, err := c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, k := range benchKeyNames {
			p.Set(ctx, k, benchValue, 0)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("preload keys: %w", err)
	}
	if err := goredisIncr.Load(ctx, c).Err(); err != nil {
		return fmt.Errorf("SCRIPT LOAD: %w", err)
	}
	return nil
}

// benchClients are the configurations compared. rueidis runs with its
// client-side cache off (Upstash and other hosted tiers lack RESP3 client
// tracking, and warmkv has its own in-process cache in front) and its
// default auto-pipelining. go-redis runs with its default pool
// (10×GOMAXPROCS connections) and with a pool as large as the 32×GOMAXPROCS
// callers of the busy case on this 2-core box (64).
var benchClients = []struct {
	name string
	open func(addr string) (*kvClient, error)
}{
	{"rueidis", func(addr string) (*kvClient, error) {
		c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
		if err != nil {
			return nil, err
		}
		return rueidisKV(c), nil
	}},
	{"goredis-pooldefault", func(addr string) (*kvClient, error) {
		return goredisKV(goredis.NewClient(&goredis.Options{Addr: addr})), nil
	}},
	{"goredis-pool64", func(addr string) (*kvClient, error) {
		return goredisKV(goredis.NewClient(&goredis.Options{Addr: addr, PoolSize: 64})), nil
	}},
}

// benchCallers are the concurrency levels: one caller per P, and 32 per P,
// which is what an HTTP server with many requests in flight does to the
// tier.
var benchCallers = []struct {
	name        string
	parallelism int
}{
	{"gomaxprocs", 1},
	{"callers32x", 32},
}

// benchEach runs op for every client and concurrency level. op gets a
// per-goroutine running index so that callers spread over the keys.
func benchEach(b *testing.B, op func(ctx context.Context, kv *kvClient, i int) error) {
	addr := benchServer(b)
	ctx := context.Background()
	for _, bc := range benchClients {
		b.Run(bc.name, func(b *testing.B) {
			kv, err := bc.open(addr)
			if err != nil {
				b.Fatal(err)
			}
			defer kv.close()
			for _, callers := range benchCallers {
				b.Run(callers.name, func(b *testing.B) {
					b.ReportAllocs()
					b.SetParallelism(callers.parallelism)
					var start atomic.Int64
					b.RunParallel(func(pb *testing.PB) {
						i := int(start.Add(7919)) // a prime: goroutines start far apart
						for pb.Next() {
							if err := op(ctx, kv, i); err != nil {
								b.Error(err)
								return
							}
							i++
						}
					})
				})
			}
		})
	}
}

func BenchmarkGet(b *testing.B) {
	benchEach(b, func(ctx context.Context, kv *kvClient, i int) error {
		v, err := kv.get(ctx, benchKeyNames[i%benchKeys])
		if err != nil {
			return err
		}
		if len(v) != benchValueSize {
			return fmt.Errorf("GET returned %d bytes, want %d", len(v), benchValueSize)
		}
		return nil
	})
}

func BenchmarkSet(b *testing.B) {
	benchEach(b, func(ctx context.Context, kv *kvClient, i int) error {
		return kv.set(ctx, benchKeyNames[i%benchKeys], benchValue)
	})
}

func BenchmarkEvalsha(b *testing.B) {
	benchEach(b, func(ctx context.Context, kv *kvClient, i int) error {
		n, err := kv.incr(ctx, benchCounterKS[i%benchCounters])
		if err != nil {
			return err
		}
		if n < 1 {
			return fmt.Errorf("INCRBY script returned %d, want a count ≥ 1", n)
		}
		return nil
	})
}
