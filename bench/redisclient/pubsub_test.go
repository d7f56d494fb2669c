package redisclient

import (
	"context"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"

	"github.com/warmkv/warmkv/internal/redistest"
)

// subscriber runs a long-lived subscription to channel until ctx ends,
// calling onMessage for each payload, written the way the tier would write
// it (say, for cross-instance invalidations). It counts how many times it
// had to (re)enter the client's subscribe call: what the caller has to do
// about reconnects is the API difference this test shows.
type subscriber func(ctx context.Context, addr, channel string, onMessage func(string), entries *atomic.Int32)

// rueidisSubscriber: Receive blocks for the life of the subscription and
// returns when the connection is lost for good, so the caller loops.
func rueidisSubscriber(ctx context.Context, addr, channel string, onMessage func(string), entries *atomic.Int32) {
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	if err != nil {
		panic(err) // the server was just started; the test sees no message and fails
	}
	defer c.Close()
	for ctx.Err() == nil {
		entries.Add(1)
		_ = c.Receive(ctx, c.B().Subscribe().Channel(channel).Build(), func(m rueidis.PubSubMessage) {
			onMessage(m.Message)
		})
		select { // do not spin while the server is away
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// goredisSubscriber: a PubSub reconnects and resubscribes by itself, and
// Channel delivers across reconnects.
func goredisSubscriber(ctx context.Context, addr, channel string, onMessage func(string), entries *atomic.Int32) {
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	defer c.Close()
	entries.Add(1)
	ps := c.Subscribe(ctx, channel)
	defer ps.Close()
	msgs := ps.Channel()
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-msgs:
			onMessage(m.Payload)
		}
	}
}

func TestPubSubSurvivesDroppedConnection(t *testing.T) {
	skipShort(t, "a redis-server per client")
	for _, tc := range []struct {
		name      string
		subscribe subscriber
	}{
		{"rueidis", rueidisSubscriber},
		{"go-redis", goredisSubscriber},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := startRedis(t)
			host, port, _ := net.SplitHostPort(addr)
			cli := func(args ...string) string {
				return strings.TrimSpace(redistest.CLI(t, append([]string{"-h", host, "-p", port}, args...)...))
			}

			var (
				mu   sync.Mutex
				seen = map[string]bool{}
			)
			onMessage := func(payload string) {
				mu.Lock()
				seen[payload] = true
				mu.Unlock()
			}
			received := func(payload string) bool {
				mu.Lock()
				defer mu.Unlock()
				return seen[payload]
			}
			// publishUntilSeen publishes numbered payloads until one
			// arrives: a subscription being (re)established is invisible
			// from outside otherwise. The deadline only bounds a failure.
			publishUntilSeen := func(stage string) bool {
				for i, deadline := 0, time.Now().Add(15*time.Second); time.Now().Before(deadline); i++ {
					payload := stage + "-" + strconv.Itoa(i)
					cli("PUBLISH", "invalidate", payload)
					for wait := time.Now().Add(100 * time.Millisecond); time.Now().Before(wait); time.Sleep(5 * time.Millisecond) {
						if received(payload) {
							return true
						}
					}
				}
				return false
			}

			ctx, cancel := context.WithCancel(context.Background())
			var entries atomic.Int32
			done := make(chan struct{})
			go func() {
				defer close(done)
				tc.subscribe(ctx, addr, "invalidate", onMessage, &entries)
			}()
			defer func() { cancel(); <-done }()

			if !publishUntilSeen("before") {
				t.Fatal("no message arrived on a fresh subscription")
			}
			// Drop every connection, as a restart, failover or idle
			// timeout of the hosted tier would. With RESP3 (both clients'
			// default) a subscribed connection is of type normal.
			killed := 0
			for _, clientType := range []string{"normal", "pubsub"} {
				n, err := strconv.Atoi(cli("CLIENT", "KILL", "TYPE", clientType))
				if err != nil {
					t.Fatalf("CLIENT KILL TYPE %s: %v", clientType, err)
				}
				killed += n
			}
			if killed == 0 {
				t.Fatal("CLIENT KILL found no subscriber connection to drop")
			}
			if !publishUntilSeen("after") {
				t.Fatal("no message arrived after the server dropped the connection")
			}
			t.Logf("%s: the subscribe call was entered %d time(s)", tc.name, entries.Load())
		})
	}
}
