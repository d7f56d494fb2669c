package redisclient

import (
	"context"
	"errors"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
)

// kvClient is the part of a Redis client the shared tier would use, with
// the same shape for both libraries, so that one benchmark body and one test
// body measure and check either of them.
type kvClient struct {
	get func(ctx context.Context, key string) (string, error) // errNoValue for a missing key
	set func(ctx context.Context, key, value string) error
	// incr runs incrScript on keys[0] with an increment of 1 and returns the
	// new value: the shape of an atomic read-modify-write the tier would do
	// in Lua (a CAS, a counter with a TTL) rather than in two round trips.
	incr  func(ctx context.Context, keys []string) (int64, error)
	close func()
}

// incrScript is INCRBY in Lua, so that the benchmark measures the EVALSHA
// path of each client rather than the command itself.
const incrScript = `return redis.call('INCRBY', KEYS[1], ARGV[1])`

var (
	// Both libraries compute the script's SHA1 locally and send EVALSHA,
	// falling back to EVAL (which also loads the script) on NOSCRIPT, so in
	// a cluster each node learns the script on first use.
	rueidisIncr = rueidis.NewLuaScript(incrScript)
	goredisIncr = goredis.NewScript(incrScript)

	// incrByOne is allocated once: rueidis takes script arguments as
	// strings, and a fresh slice per call would be the benchmark's cost,
	// not the client's.
	incrByOne = []string{"1"}
)

// rueidisKV wraps a rueidis client (single-node or cluster: rueidis.Client
// is the same interface for both).
func rueidisKV(c rueidis.Client) *kvClient {
	return &kvClient{
		get: func(ctx context.Context, key string) (string, error) {
			v, err := c.Do(ctx, c.B().Get().Key(key).Build()).ToString()
			if rueidis.IsRedisNil(err) {
				return "", errNoValue
			}
			return v, err
		},
		set: func(ctx context.Context, key, value string) error {
			return c.Do(ctx, c.B().Set().Key(key).Value(value).Build()).Error()
		},
		incr: func(ctx context.Context, keys []string) (int64, error) {
			return rueidisIncr.Exec(ctx, c, keys, incrByOne).AsInt64()
		},
		close: c.Close,
	}
}

// goredisKV wraps a go-redis client; UniversalClient covers both
// *goredis.Client and *goredis.ClusterClient.
func goredisKV(c goredis.UniversalClient) *kvClient {
	return &kvClient{
		get: func(ctx context.Context, key string) (string, error) {
			v, err := c.Get(ctx, key).Result()
			if errors.Is(err, goredis.Nil) {
				return "", errNoValue
			}
			return v, err
		},
		set: func(ctx context.Context, key, value string) error {
			return c.Set(ctx, key, value, 0).Err()
		},
		incr: func(ctx context.Context, keys []string) (int64, error) {
			// Run is EVALSHA with the EVAL fallback, like rueidis' Exec. A
			// small int boxed in an interface does not allocate.
			return goredisIncr.Run(ctx, c, keys, 1).Int64()
		},
		close: func() { _ = c.Close() },
	}
}
