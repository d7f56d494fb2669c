package resp

import (
	"math/rand/v2"

	"github.com/warmkv/warmkv/cache"
)

// More keyspace commands: TOUCH, EXPIRETIME, PEXPIRETIME, RANDOMKEY.

func keyspaceExtraCommands() []*command {
	return []*command{
		{name: "touch", arity: -2, run: cmdTouch, flags: []string{"readonly", "fast"}, firstKey: 1, lastKey: -1, step: 1, acl: []string{"@keyspace", "@read", "@fast"},
			tips:  []string{"request_policy:multi_shard", "response_policy:agg_sum"},
			group: "generic", summary: "Alters the last access time of a key(s). Returns the number of existing keys specified.", since: "3.2.1",
			complexity: "O(N) where N is the number of keys that will be touched.",
			docArgs:    []argDoc{multiple(keyArg("key"))}},
		{name: "expiretime", arity: 2, run: cmdExpireTime(false), flags: []string{"readonly", "fast"}, firstKey: 1, lastKey: 1, step: 1, acl: []string{"@keyspace", "@read", "@fast"},
			group: "generic", summary: "Get the expiration Unix timestamp for a key", since: "7.0.0", complexity: "O(1)",
			docArgs: []argDoc{keyArg("key")}},
		{name: "pexpiretime", arity: 2, run: cmdExpireTime(true), flags: []string{"readonly", "fast"}, firstKey: 1, lastKey: 1, step: 1, acl: []string{"@keyspace", "@read", "@fast"},
			group: "generic", summary: "Get the expiration Unix timestamp for a key in milliseconds", since: "7.0.0", complexity: "O(1)",
			docArgs: []argDoc{keyArg("key")}},
		{name: "randomkey", arity: 1, run: cmdRandomKey, flags: []string{"readonly"}, acl: []string{"@keyspace", "@read", "@slow"},
			tips:  []string{"request_policy:all_shards", "nondeterministic_output"},
			group: "generic", summary: "Return a random key from the keyspace", since: "1.0.0", complexity: "O(N) where N is the number of keys in a shard of the cache"},
	}
}

// cmdTouch counts the keys that exist and marks them recently used, as a
// read does (it counts as a hit or a miss, as in Redis).
func cmdTouch(c *conn, args [][]byte) {
	if !c.validKeys(args[1:]) {
		return
	}
	var n int64
	for _, k := range args[1:] {
		_, ok, err := c.kv.Get(unsafeString(k))
		if c.readFailed(err) {
			return
		}
		if ok {
			n++
		}
	}
	c.out.int(n)
}

// cmdExpireTime serves EXPIRETIME and PEXPIRETIME: -2 for no key, -1 for no
// expiry, else the Unix time it expires, in seconds rounded as Redis rounds
// them or in milliseconds.
func cmdExpireTime(ms bool) func(c *conn, args [][]byte) {
	return func(c *conn, args [][]byte) {
		expireAt, ok := c.lookupExpiry(args[1])
		switch {
		case !ok:
		case ms:
			c.out.int(expireAt / 1e6)
		default:
			c.out.int((expireAt/1e6 + 500) / 1000)
		}
	}
}

// cmdRandomKey answers a key picked at random, or a null when there is none:
// from a shard picked at random, or the next one that holds a key. Listing a
// shard costs as much as its keys, which a cache spreads over up to 64.
func cmdRandomKey(c *conn, _ [][]byte) {
	if c.keys == nil {
		c.out.err(msgNoKeyListing)
		return
	}
	shards := c.keys.ShardCount()
	start := rand.IntN(shards) //nolint:gosec // G404: which key to show needs no secrecy
	var items []cache.Item
	for i := range shards {
		var err error
		if items, err = c.dump((start+i)%shards, items[:0]); err != nil {
			c.storeFailed(err)
			return
		}
		if len(items) > 0 {
			c.out.bulk(items[rand.IntN(len(items))].Key) //nolint:gosec // G404: as above
			return
		}
	}
	c.out.null()
}
