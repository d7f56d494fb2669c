package resp

import (
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestKeyspaceCommands(t *testing.T) {
	clk := newClock()
	ts := startServer(t, defaultDriver(), withClock(clk))
	r := ts.raw(t)
	at := func(d time.Duration) string { return strconv.FormatInt(clk.Now().Add(d).Unix(), 10) }
	atMs := func(d time.Duration) string { return strconv.FormatInt(clk.Now().Add(d).UnixMilli(), 10) }
	runScript(t, r, []step{
		{cmd("MSET", "a", "1", "b", "2", "c", "3"), "+OK\r\n"},
		{cmd("EXISTS", "a", "a", "nokey", "b"), ":3\r\n"}, // a key named twice counts twice
		{cmd("TYPE", "a"), "+string\r\n"},
		{cmd("TYPE", "nokey"), "+none\r\n"},
		{cmd("DEL", "a", "nokey"), ":1\r\n"},
		{cmd("UNLINK", "b"), ":1\r\n"},
		{cmd("DELETE", "c", "c"), ":1\r\n"},
		{cmd("DBSIZE"), ":0\r\n"},

		// EXPIRE and friends.
		{cmd("EXPIRE", "nokey", "10"), ":0\r\n"},
		{cmd("SET", "k", "v"), "+OK\r\n"},
		{cmd("TTL", "nokey"), ":-2\r\n"},
		{cmd("PTTL", "k"), ":-1\r\n"},
		{cmd("EXPIRE", "k", "100"), ":1\r\n"},
		{cmd("TTL", "k"), ":100\r\n"},
		{cmd("PEXPIRE", "k", "2500"), ":1\r\n"},
		{cmd("PTTL", "k"), ":2500\r\n"},
		{cmd("EXPIREAT", "k", at(time.Hour)), ":1\r\n"},
		{cmd("TTL", "k"), ":3600\r\n"},
		{cmd("PEXPIREAT", "k", atMs(90*time.Second)), ":1\r\n"},
		{cmd("PTTL", "k"), ":90000\r\n"},
		{cmd("PERSIST", "k"), ":1\r\n"},
		{cmd("PERSIST", "k"), ":0\r\n"},
		{cmd("PERSIST", "nokey"), ":0\r\n"},
		{cmd("TTL", "k"), ":-1\r\n"},

		// NX, XX, GT, LT, as Redis 7 applies them.
		{cmd("EXPIRE", "k", "100", "XX"), ":0\r\n"}, // no TTL yet
		{cmd("EXPIRE", "k", "100", "NX"), ":1\r\n"},
		{cmd("EXPIRE", "k", "200", "NX"), ":0\r\n"},
		{cmd("EXPIRE", "k", "50", "GT"), ":0\r\n"},
		{cmd("EXPIRE", "k", "200", "GT"), ":1\r\n"},
		{cmd("EXPIRE", "k", "300", "LT"), ":0\r\n"},
		{cmd("EXPIRE", "k", "150", "lt"), ":1\r\n"},
		{cmd("TTL", "k"), ":150\r\n"},
		{cmd("EXPIRE", "k", "150", "XX", "GT"), ":0\r\n"},
		{cmd("EXPIRE", "k", "10", "NX", "XX"), "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n"},
		{cmd("EXPIRE", "k", "10", "GT", "LT"), "-ERR GT and LT options at the same time are not compatible\r\n"},
		{cmd("EXPIRE", "k", "10", "FOO"), "-ERR Unsupported option FOO\r\n"},
		{cmd("EXPIRE", "k", "ten"), "-ERR value is not an integer or out of range\r\n"},
		{cmd("EXPIRE", "k", "99999999999999999"), "-ERR invalid expire time in 'expire' command\r\n"},
		{cmd("PEXPIREAT", "k", "9223372036854775807"), "-ERR invalid expire time in 'pexpireat' command\r\n"},
		{cmd("TTL", "k"), ":150\r\n"},

		// A time zero, negative or past deletes the key, answering 1.
		{cmd("EXPIRE", "k", "0"), ":1\r\n"},
		{cmd("GET", "k"), "$-1\r\n"},
		{cmd("SET", "k", "v"), "+OK\r\n"},
		{cmd("EXPIRE", "k", "-5"), ":1\r\n"},
		{cmd("EXISTS", "k"), ":0\r\n"},
		{cmd("SET", "k", "v"), "+OK\r\n"},
		{cmd("EXPIREAT", "k", "1"), ":1\r\n"},
		{cmd("EXISTS", "k"), ":0\r\n"},

		// FLUSHALL and FLUSHDB.
		{cmd("MSET", "x", "1", "y", "2"), "+OK\r\n"},
		{cmd("FLUSHALL", "FOO"), "-ERR syntax error\r\n"},
		{cmd("FLUSHALL", "SYNC", "ASYNC"), "-ERR syntax error\r\n"},
		{cmd("DBSIZE"), ":2\r\n"},
		{cmd("FLUSHDB", "async"), "+OK\r\n"},
		{cmd("DBSIZE"), ":0\r\n"},
		{cmd("SET", "x", "1"), "+OK\r\n"},
		{cmd("FLUSHALL"), "+OK\r\n"},
		{cmd("DBSIZE"), ":0\r\n"},
	})

	// Time passes: the TTL counts down, then the key is gone.
	runScript(t, r, []step{
		{cmd("SET", "t", "v", "EX", "10"), "+OK\r\n"},
	})
	clk.Add(3 * time.Second)
	runScript(t, r, []step{{cmd("TTL", "t"), ":7\r\n"}, {cmd("PTTL", "t"), ":7000\r\n"}})
	clk.Add(7 * time.Second)
	runScript(t, r, []step{{cmd("GET", "t"), "$-1\r\n"}, {cmd("TTL", "t"), ":-2\r\n"}})
}

func TestKeysAndScan(t *testing.T) {
	ts := startServer(t, defaultDriver())
	if ts.kv.ShardCount() < 8 {
		t.Fatalf("the test cache has %d shards; SCAN needs several to be tested", ts.kv.ShardCount())
	}
	c := ts.client(t, 3, "")
	var want []string
	for i := range 500 {
		key := fmt.Sprintf("user:%03d", i)
		want = append(want, key)
		if err := c.Set(ctx, key, "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Set(ctx, "other", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}

	keys, err := c.Keys(ctx, "user:*").Result()
	slices.Sort(keys)
	if err != nil || !slices.Equal(keys, want) {
		t.Errorf("KEYS user:* = %d keys, %v; want the 500 user keys", len(keys), err)
	}
	if keys, _ := c.Keys(ctx, "user:01?").Result(); len(keys) != 10 {
		t.Errorf("KEYS user:01? = %q, want 10 keys", keys)
	}

	// A full SCAN returns every key exactly once, over several calls.
	for _, count := range []int64{0, 1, 10, 1000} {
		var got []string
		calls := 0
		cursor := uint64(0)
		for {
			page, next, err := c.Scan(ctx, cursor, "user:*", count).Result()
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, page...)
			calls++
			if cursor = next; cursor == 0 {
				break
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("SCAN COUNT %d: %d keys, want the 500 user keys once each", count, len(got))
		}
		if count == 10 && calls < 2 {
			t.Errorf("SCAN COUNT 10 finished in %d call", calls)
		}
	}

	r := ts.raw(t)
	runScript(t, r, []step{
		{cmd("SCAN", "x"), "-ERR invalid cursor\r\n"},
		{cmd("SCAN", "-1"), "-ERR invalid cursor\r\n"},
		{cmd("SCAN", "0", "COUNT", "0"), "-ERR syntax error\r\n"},
		{cmd("SCAN", "0", "COUNT", "x"), "-ERR value is not an integer or out of range\r\n"},
		{cmd("SCAN", "0", "MATCH"), "-ERR syntax error\r\n"},
		{cmd("SCAN", "0", "FOO", "bar"), "-ERR syntax error\r\n"},
		{cmd("SCAN", "0", "MATCH", "nothing*", "COUNT", "100000"), "*2\r\n$1\r\n0\r\n*0\r\n"},
		{cmd("SCAN", "0", "TYPE", "hash", "COUNT", "100000"), "*2\r\n$1\r\n0\r\n*0\r\n"},
		{cmd("SCAN", "999999", "COUNT", "5"), "*2\r\n$1\r\n0\r\n*0\r\n"},
		{cmd("SCAN", "0", "MATCH", "other", "TYPE", "STRING", "COUNT", "100000"), "*2\r\n$1\r\n0\r\n*1\r\n$5\r\nother\r\n"},
		{cmd("KEYS", "nothing*"), "*0\r\n"},
		{cmd("DBSIZE"), ":501\r\n"},
	})
}

// TestKeysWithoutKeyLister: a store that cannot list its keys answers KEYS
// and SCAN with an error, and the rest still works.
func TestKeysWithoutKeyLister(t *testing.T) {
	ts := startServer(t, defaultDriver(), func(o *Options) { o.Keys = nil })
	r := ts.raw(t)
	runScript(t, r, []step{
		{cmd("SET", "a", "1"), "+OK\r\n"},
		{cmd("KEYS", "*"), "-ERR this store cannot list its keys\r\n"},
		{cmd("SCAN", "0"), "-ERR this store cannot list its keys\r\n"},
		{cmd("DBSIZE"), ":1\r\n"},
	})
	if info := r.do("INFO", "keyspace"); info != "$44\r\n# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n\r\n" {
		t.Errorf("INFO keyspace = %q", info)
	}
}

func TestKeyspaceGoRedis(t *testing.T) {
	ts := startServer(t, defaultDriver())
	forEachProtocol(t, ts, func(t *testing.T, c *redis.Client) {
		c.FlushDB(ctx)
		c.Set(ctx, "k", "v", 0)
		if n, err := c.Exists(ctx, "k", "nokey").Result(); n != 1 || err != nil {
			t.Errorf("EXISTS = %d, %v", n, err)
		}
		if typ, err := c.Type(ctx, "k").Result(); typ != "string" || err != nil {
			t.Errorf("TYPE = %q, %v", typ, err)
		}
		if ok, err := c.Expire(ctx, "k", time.Minute).Result(); !ok || err != nil {
			t.Errorf("EXPIRE = %v, %v", ok, err)
		}
		if ok, err := c.ExpireGT(ctx, "k", time.Second).Result(); ok || err != nil {
			t.Errorf("EXPIRE GT = %v, %v", ok, err)
		}
		if d, err := c.PTTL(ctx, "k").Result(); d <= 59*time.Second || d > time.Minute || err != nil {
			t.Errorf("PTTL = %v, %v", d, err)
		}
		if ok, err := c.Persist(ctx, "k").Result(); !ok || err != nil {
			t.Errorf("PERSIST = %v, %v", ok, err)
		}
		if d, err := c.TTL(ctx, "k").Result(); d != -1 || err != nil {
			t.Errorf("TTL = %v, %v", d, err)
		}
		if d, err := c.TTL(ctx, "nokey").Result(); d != -2 || err != nil {
			t.Errorf("TTL missing = %v, %v", d, err)
		}
		if ok, err := c.ExpireAt(ctx, "k", time.Now().Add(-time.Second)).Result(); !ok || err != nil {
			t.Errorf("EXPIREAT past = %v, %v", ok, err)
		}
		if n, err := c.DBSize(ctx).Result(); n != 0 || err != nil {
			t.Errorf("DBSIZE = %d, %v", n, err)
		}
		c.MSet(ctx, "a", 1, "b", 2)
		if n, err := c.Del(ctx, "a", "b", "c").Result(); n != 2 || err != nil {
			t.Errorf("DEL = %d, %v", n, err)
		}
		c.Set(ctx, "a", 1, 0)
		if n, err := c.Unlink(ctx, "a").Result(); n != 1 || err != nil {
			t.Errorf("UNLINK = %d, %v", n, err)
		}
	})
}

// TestExpireKeyIsNotAViewOfTheReadBuffer: the cache's expiry index keeps the key
// EXPIRE hands it, so that key must not alias the connection's read buffer, which
// the next command overwrites. If it did, the reaper would look for a garbled key
// and the expired entry would only ever be removed lazily.
func TestExpireKeyIsNotAViewOfTheReadBuffer(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d driver) {
		clk := newClock()
		ts := startServer(t, d, withClock(clk))
		r := ts.raw(t)
		if got := r.do("SET", "keyA", "v"); got != "+OK\r\n" {
			t.Fatalf("SET: %q", got)
		}
		if got := r.do("PEXPIRE", "keyA", "1000"); got != ":1\r\n" {
			t.Fatalf("PEXPIRE: %q", got)
		}
		// Same shape, other bytes: overwrites wherever "keyA" sat in the buffer.
		for range 3 {
			r.do("PEXPIRE", "keyB", "9999")
		}
		clk.Add(2 * time.Second)
		ts.kv.ReapExpired()
		if st := ts.kv.Stats(); st.Entries != 0 || st.Expirations != 1 {
			t.Fatalf("after the reaper: %d entries, %d expirations; want 0 and 1", st.Entries, st.Expirations)
		}
	})
}
