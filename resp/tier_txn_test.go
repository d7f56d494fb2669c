package resp

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/warmkv/warmkv/cache"
	"github.com/warmkv/warmkv/internal/redistest"
	"github.com/warmkv/warmkv/internal/testsupport"
	"github.com/warmkv/warmkv/tier"
)

// tierServer is a Redis-protocol server over an instance of the shared tier
// at url: KEYS and SCAN off, as the standalone server has them.
func tierServer(t *testing.T, url string) *testServer {
	t.Helper()
	local, err := cache.New(cache.Options{MaxBytes: 16 << 20})
	if err != nil {
		t.Fatal(err)
	}
	dial, err := tier.Dialer(url, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	store, err := tier.New(tier.Options{Local: local, Dial: dial, Prefix: "warmkv:", LocalTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{Store: store, MaxKeyLength: 64, MaxValueBytes: 64, EventLoops: defaultDriver().eventLoops})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{srv: srv, addr: ln.Addr().String(), stopped: make(chan struct{})}
	go func() {
		ts.serveErr = srv.Serve(ln)
		close(ts.stopped)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		ts.waitServeReturned(t)
		store.Close()
		local.Close()
	})
	return ts
}

// TestTransactionsOverTheSharedTier: two instances on one Redis, and on a
// Redis Cluster. WATCH retry loops on both count exactly; MULTI blocks and
// scripts are atomic across them; keys of several slots get CROSSSLOT, and
// commands on every key are refused inside MULTI, naming the shared tier.
func TestTransactionsOverTheSharedTier(t *testing.T) {
	for _, cluster := range []bool{false, true} {
		name := map[bool]string{false: "redis", true: "cluster"}[cluster]
		t.Run(name, func(t *testing.T) {
			var url string
			if cluster {
				if testing.Short() {
					t.Skip("a Redis Cluster takes seconds to form")
				}
				url = redistest.StartCluster(t, 3).URL()
			} else {
				url = redistest.Start(t).URL()
			}
			a, b := tierServer(t, url), tierServer(t, url)

			const clients, each = 6, 25
			script := redis.NewScript(`
				local n = tonumber(redis.call('get', KEYS[1]) or '0')
				redis.call('set', KEYS[1], n + 1)
				redis.call('incr', KEYS[2])
				return n + 1`)
			var wg sync.WaitGroup
			for i := range clients {
				c := []*testServer{a, b}[i%2].client(t, 2, "")
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range each {
						_, err := watchAndIncrement(c, "{n}watched", func(p redis.Pipeliner) { p.Incr(ctx, "{n}multi") })
						if err != nil {
							t.Error(err)
							return
						}
						if err := script.Run(ctx, c, []string{"{s}scripted", "{s}count"}).Err(); err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			// Each instance reads its local copy until the other's
			// invalidation arrives (pub/sub, asynchronous): the counts must
			// come out exact once it has, and a lost update never would.
			want := clients * each
			for _, ts := range []*testServer{a, b} {
				c := ts.client(t, 3, "")
				for _, key := range []string{"{n}watched", "{n}multi", "{s}scripted", "{s}count"} {
					var n int
					var err error
					testsupport.WaitFor(t, key+" to reach the count on every instance", 10*time.Second, func() bool {
						n, err = c.Get(ctx, key).Int()
						return n == want && err == nil || n > want
					})
					if n != want || err != nil {
						t.Errorf("%s = %d, %v; want %d", key, n, err, want)
					}
				}
			}

			r := a.raw(t)
			if cluster {
				runScript(t, r, []step{
					{cmd("MULTI"), "+OK\r\n"}, {cmd("SET", "apart1", "1"), "+QUEUED\r\n"}, {cmd("SET", "apart2", "2"), "+QUEUED\r\n"},
					{cmd("SET", "apart3", "3"), "+QUEUED\r\n"},
					{cmd("EXEC"), "-" + msgCrossSlot + "\r\n"},
					{cmd("MGET", "apart1", "apart2", "apart3"), "*3\r\n$-1\r\n$-1\r\n$-1\r\n"},
				})
			}
			runScript(t, r, []step{
				{cmd("MULTI"), "+OK\r\n"}, {cmd("KEYS", "*"), "+QUEUED\r\n"}, {cmd("EXEC"), "-" + msgWholeStore + "\r\n"},
				{cmd("MULTI"), "+OK\r\n"}, {cmd("ECHO", "x"), "+QUEUED\r\n"}, {cmd("PING"), "+QUEUED\r\n"}, {cmd("EXEC"), "*2\r\n$1\r\nx\r\n+PONG\r\n"},
			})
		})
	}
}
