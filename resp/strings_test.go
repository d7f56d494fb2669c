package resp

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/warmkv/warmkv/cache"
)

// step is one command of a script and its exact reply.
type step struct {
	args []string
	want string
}

func cmd(args ...string) []string { return args }

// runScript sends each step on one connection and compares the raw replies.
func runScript(t *testing.T, r *raw, steps []step) {
	t.Helper()
	for _, s := range steps {
		if got := r.do(s.args...); got != s.want {
			t.Errorf("%q: got %q, want %q", s.args, got, s.want)
		}
	}
}

// defaultDriver is the driver command tests run on: what production uses here.
func defaultDriver() driver {
	d := drivers()
	return d[len(d)-1]
}

func TestStringCommands(t *testing.T) {
	clk := newClock()
	ts := startServer(t, defaultDriver(), withClock(clk))
	r := ts.raw(t)
	in := func(d time.Duration) string { return strconv.FormatInt(clk.Now().Add(d).Unix(), 10) }
	inMs := func(d time.Duration) string { return strconv.FormatInt(clk.Now().Add(d).UnixMilli(), 10) }
	runScript(t, r, []step{
		{cmd("GET", "name"), "$-1\r\n"},
		{cmd("SET", "name", "vimla"), "+OK\r\n"},
		{cmd("GET", "name"), "$5\r\nvimla\r\n"},
		{cmd("get", "name"), "$5\r\nvimla\r\n"},
		{cmd("SET", "name", ""), "+OK\r\n"},
		{cmd("GET", "name"), "$0\r\n\r\n"},
		{cmd("SET", "name", "Vimlä ✓"), "+OK\r\n"},
		{cmd("GET", "name"), "$10\r\nVimlä ✓\r\n"},
		{cmd("STRLEN", "name"), ":10\r\n"}, // bytes, as in Redis
		{cmd("STRLEN", "nokey"), ":0\r\n"},

		// NX, XX, GET.
		{cmd("SET", "name", "x", "NX"), "$-1\r\n"},
		{cmd("SET", "new", "x", "XX"), "$-1\r\n"},
		{cmd("GET", "new"), "$-1\r\n"},
		{cmd("SET", "new", "1", "nx"), "+OK\r\n"},
		{cmd("SET", "new", "2", "XX"), "+OK\r\n"},
		{cmd("SET", "new", "3", "GET"), "$1\r\n2\r\n"},
		{cmd("SET", "fresh", "1", "GET"), "$-1\r\n"},
		{cmd("SET", "new", "4", "NX", "GET"), "$1\r\n3\r\n"}, // not set, old value answered
		{cmd("GET", "new"), "$1\r\n3\r\n"},
		{cmd("SET", "absent", "4", "XX", "GET"), "$-1\r\n"},
		{cmd("GET", "absent"), "$-1\r\n"},

		// Expiry options; SET without one clears the TTL, KEEPTTL keeps it.
		{cmd("SET", "t", "v", "EX", "100"), "+OK\r\n"},
		{cmd("TTL", "t"), ":100\r\n"},
		{cmd("SET", "t", "v", "PX", "1500"), "+OK\r\n"},
		{cmd("PTTL", "t"), ":1500\r\n"},
		{cmd("TTL", "t"), ":2\r\n"}, // 1.5 s rounds to 2, as Redis rounds
		{cmd("SET", "t", "v", "EXAT", in(time.Hour)), "+OK\r\n"},
		{cmd("TTL", "t"), ":3600\r\n"},
		{cmd("SET", "t", "v", "PXAT", inMs(time.Minute)), "+OK\r\n"},
		{cmd("PTTL", "t"), ":60000\r\n"},
		{cmd("SET", "t", "w", "KEEPTTL"), "+OK\r\n"},
		{cmd("PTTL", "t"), ":60000\r\n"},
		{cmd("SET", "t", "x"), "+OK\r\n"},
		{cmd("TTL", "t"), ":-1\r\n"},
		{cmd("SET", "t", "x", "EX", "10", "EX", "20"), "+OK\r\n"}, // the last one wins, as in Redis
		{cmd("TTL", "t"), ":20\r\n"},
		{cmd("SET", "t", "y", "EXAT", in(-time.Second)), "+OK\r\n"}, // in the past: deleted
		{cmd("GET", "t"), "$-1\r\n"},

		// SET's syntax and expiry errors, as Redis words them.
		{cmd("SET", "k", "v", "NX", "XX"), "-ERR syntax error\r\n"},
		{cmd("SET", "k", "v", "EX"), "-ERR syntax error\r\n"},
		{cmd("SET", "k", "v", "EX", "10", "PX", "100"), "-ERR syntax error\r\n"},
		{cmd("SET", "k", "v", "EX", "10", "KEEPTTL"), "-ERR syntax error\r\n"},
		{cmd("SET", "k", "v", "KEEPTTL", "EX", "10"), "-ERR syntax error\r\n"},
		{cmd("SET", "k", "v", "FOO"), "-ERR syntax error\r\n"},
		{cmd("SET", "k", "v", "EX", "0"), "-ERR invalid expire time in 'set' command\r\n"},
		{cmd("SET", "k", "v", "PX", "-5"), "-ERR invalid expire time in 'set' command\r\n"},
		{cmd("SET", "k", "v", "EX", "99999999999999999"), "-ERR invalid expire time in 'set' command\r\n"},
		{cmd("SET", "k", "v", "EX", "ten"), "-ERR value is not an integer or out of range\r\n"},
		{cmd("SET", "k"), "-ERR wrong number of arguments for 'set' command\r\n"},
		{cmd("GET", "k"), "$-1\r\n"}, // none of the refused SETs stored anything

		// SETNX, SETEX, GETSET, GETDEL.
		{cmd("SETNX", "nx", "1"), ":1\r\n"},
		{cmd("SETNX", "nx", "2"), ":0\r\n"},
		{cmd("GET", "nx"), "$1\r\n1\r\n"},
		{cmd("SETEX", "ex", "30", "v"), "+OK\r\n"},
		{cmd("TTL", "ex"), ":30\r\n"},
		{cmd("SETEX", "ex", "0", "v"), "-ERR invalid expire time in 'setex' command\r\n"},
		{cmd("SETEX", "ex", "x", "v"), "-ERR value is not an integer or out of range\r\n"},
		{cmd("GETSET", "ex", "w"), "$1\r\nv\r\n"},
		{cmd("TTL", "ex"), ":-1\r\n"}, // GETSET clears the TTL, as in Redis
		{cmd("GETSET", "gs", "1"), "$-1\r\n"},
		{cmd("GETDEL", "gs"), "$1\r\n1\r\n"},
		{cmd("GETDEL", "gs"), "$-1\r\n"},

		// MGET, MSET.
		{cmd("MSET", "a", "1", "b", "2"), "+OK\r\n"},
		{cmd("MGET", "a", "nokey", "b"), "*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n2\r\n"},
		{cmd("MSET", "a", "1", "b"), "-ERR wrong number of arguments for 'mset' command\r\n"},

		// INCR and friends: integers as Redis parses them; INCR keeps the TTL.
		{cmd("INCR", "n"), ":1\r\n"},
		{cmd("INCRBY", "n", "41"), ":42\r\n"},
		{cmd("DECR", "n"), ":41\r\n"},
		{cmd("DECRBY", "n", "-9"), ":50\r\n"},
		{cmd("INCRBY", "n", "x"), "-ERR value is not an integer or out of range\r\n"},
		{cmd("INCRBY", "n", "05"), "-ERR value is not an integer or out of range\r\n"},
		{cmd("DECRBY", "n", "-9223372036854775808"), "-ERR decrement would overflow\r\n"},
		{cmd("SET", "big", "9223372036854775807"), "+OK\r\n"},
		{cmd("INCR", "big"), "-ERR increment or decrement would overflow\r\n"},
		{cmd("INCR", "name"), "-ERR value is not an integer or out of range\r\n"},
		{cmd("SET", "ttl", "1", "EX", "100"), "+OK\r\n"},
		{cmd("INCR", "ttl"), ":2\r\n"},
		{cmd("TTL", "ttl"), ":100\r\n"},

		// APPEND answers the new length in bytes and keeps the TTL.
		{cmd("APPEND", "ttl", "é"), ":3\r\n"},
		{cmd("GET", "ttl"), "$3\r\n2é\r\n"},
		{cmd("TTL", "ttl"), ":100\r\n"},
		{cmd("APPEND", "app", "abc"), ":3\r\n"},
	})
}

// TestStringCommandsGoRedis drives the same commands through a client library,
// in both protocols.
func TestStringCommandsGoRedis(t *testing.T) {
	ts := startServer(t, defaultDriver())
	forEachProtocol(t, ts, func(t *testing.T, c *redis.Client) {
		if err := c.FlushAll(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		if err := c.Set(ctx, "name", "vimla", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if v, err := c.Get(ctx, "name").Result(); v != "vimla" || err != nil {
			t.Errorf("GET = %q, %v", v, err)
		}
		if err := c.Get(ctx, "missing").Err(); !errors.Is(err, redis.Nil) {
			t.Errorf("GET missing: %v, want redis.Nil", err)
		}
		if ok, err := c.SetNX(ctx, "name", "x", 0).Result(); ok || err != nil {
			t.Errorf("SETNX existing = %v, %v", ok, err)
		}
		if ok, err := c.SetXX(ctx, "name", "y", time.Minute).Result(); !ok || err != nil {
			t.Errorf("SET XX = %v, %v", ok, err)
		}
		if d, err := c.TTL(ctx, "name").Result(); err != nil || d <= 0 || d > time.Minute {
			t.Errorf("TTL = %v, %v", d, err)
		}
		if old, err := c.SetArgs(ctx, "name", "z", redis.SetArgs{Get: true, KeepTTL: true}).Result(); old != "y" || err != nil {
			t.Errorf("SET GET KEEPTTL = %q, %v", old, err)
		}
		// SETEX and GETSET through Do: go-redis deprecates its wrappers for
		// them, and clients that still send the commands are what is tested.
		if err := c.Do(ctx, "SETEX", "ex", 3600, "v").Err(); err != nil {
			t.Error(err)
		}
		if old, err := c.Do(ctx, "GETSET", "ex", "w").Text(); old != "v" || err != nil {
			t.Errorf("GETSET = %q, %v", old, err)
		}
		if v, err := c.GetDel(ctx, "ex").Result(); v != "w" || err != nil {
			t.Errorf("GETDEL = %q, %v", v, err)
		}
		if err := c.MSet(ctx, "a", "1", "b", "2").Err(); err != nil {
			t.Error(err)
		}
		vals, err := c.MGet(ctx, "a", "none", "b").Result()
		if err != nil || len(vals) != 3 || vals[0] != "1" || vals[1] != nil || vals[2] != "2" {
			t.Errorf("MGET = %#v, %v", vals, err)
		}
		if n, err := c.Incr(ctx, "n").Result(); n != 1 || err != nil {
			t.Errorf("INCR = %d, %v", n, err)
		}
		if n, err := c.IncrBy(ctx, "n", 10).Result(); n != 11 || err != nil {
			t.Errorf("INCRBY = %d, %v", n, err)
		}
		if n, err := c.DecrBy(ctx, "n", 20).Result(); n != -9 || err != nil {
			t.Errorf("DECRBY = %d, %v", n, err)
		}
		if n, err := c.Decr(ctx, "n").Result(); n != -10 || err != nil {
			t.Errorf("DECR = %d, %v", n, err)
		}
		if err := c.Incr(ctx, "name").Err(); err == nil || err.Error() != "ERR value is not an integer or out of range" {
			t.Errorf("INCR on text: %v", err)
		}
		if n, err := c.Append(ctx, "log", "ab").Result(); n != 2 || err != nil {
			t.Errorf("APPEND = %d, %v", n, err)
		}
		if n, err := c.StrLen(ctx, "log").Result(); n != 2 || err != nil {
			t.Errorf("STRLEN = %d, %v", n, err)
		}
	})
}

// TestKeyAndValueLimits: keys have the HTTP API's limits (here 16
// characters, valid UTF-8 only); values are any bytes up to MaxValueBytes
// (here 128), refused past it with Redis's -OOM. Each refusal is a clear
// error, and nothing is stored.
func TestKeyAndValueLimits(t *testing.T) {
	ts := startServer(t, defaultDriver())
	r := ts.raw(t)
	key16 := strings.Repeat("ключ", 4) // 16 characters, 32 bytes
	longKey := key16 + "x"
	binary := "\x00\xff\xfe\r\n" + strings.Repeat("\x80", 123) // 128 bytes, not UTF-8
	tooLong := binary + "x"
	const (
		errEmpty    = "-ERR key must not be empty\r\n"
		errKeyLong  = "-ERR key must be at most 16 characters\r\n"
		errKeyUTF8  = "-ERR key is not valid UTF-8\r\n"
		errOOM      = "-OOM command not allowed when used memory > 'maxmemory'.\r\n"
		errTooLarge = "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n"
	)
	runScript(t, r, []step{
		{cmd("SET", key16, binary), "+OK\r\n"},
		{cmd("GET", key16), "$128\r\n" + binary + "\r\n"},
		{cmd("STRLEN", key16), ":128\r\n"},
		{cmd("SET", "", "v"), errEmpty},
		{cmd("SET", longKey, "v"), errKeyLong},
		{cmd("SET", "k\xff", "v"), errKeyUTF8},
		{cmd("SET", "k\xed\xa0\x80", "v"), errKeyUTF8}, // a UTF-16 surrogate
		{cmd("SET", "k", tooLong), errOOM},
		{cmd("SETNX", "k", tooLong), errOOM},
		{cmd("SETEX", "k", "10", tooLong), errOOM},
		{cmd("GETSET", longKey, "v"), errKeyLong},
		{cmd("MSET", "a", "1", "k", tooLong), errOOM},
		{cmd("GET", "a"), "$-1\r\n"}, // MSET checks every pair before storing any
		{cmd("APPEND", "k", tooLong), errTooLarge},
		{cmd("INCR", longKey), errKeyLong},
		{cmd("GET", longKey), errKeyLong},
		{cmd("MGET", "a", ""), errEmpty},
		{cmd("DEL", longKey), errKeyLong},
		{cmd("EXISTS", "\xff"), errKeyUTF8},
		{cmd("EXPIRE", longKey, "10"), errKeyLong},
		{cmd("TTL", ""), errEmpty},
		{cmd("GET", "k"), "$-1\r\n"},
		// APPEND may not grow a value past the limit either; it counts bytes.
		{cmd("SET", "k", binary[:127]), "+OK\r\n"},
		{cmd("APPEND", "k", "ab"), errTooLarge},
		{cmd("APPEND", "k", "\x00"), ":128\r\n"},
		{cmd("GET", "k"), "$128\r\n" + binary[:127] + "\x00\r\n"},
		{cmd("DBSIZE"), ":2\r\n"},
	})
}

// TestValueTheCacheCannotHold: a value within MaxValueBytes but larger than
// the cache can hold is refused with -OOM, and the connection stays open.
func TestValueTheCacheCannotHold(t *testing.T) {
	ts := startServer(t, defaultDriver(), func(o *Options) { o.MaxValueBytes = 8 << 20 })
	r := ts.raw(t)
	huge := strings.Repeat("v", 2<<20) // the test cache has 64 shards of 1 MiB
	runScript(t, r, []step{
		{cmd("SET", "k", huge), "-OOM command not allowed when used memory > 'maxmemory'.\r\n"},
		{cmd("APPEND", "k", huge), "-OOM command not allowed when used memory > 'maxmemory'.\r\n"},
		{cmd("PING"), "+PONG\r\n"},
		{cmd("EXISTS", "k"), ":0\r\n"},
	})
}

// staleStore is a store as a shared tier is one to the Redis port: no
// Update, and a Lookup that answers from a copy that may be behind (here,
// always: it finds nothing).
type staleStore struct{ cache.Store }

func (staleStore) Lookup(string) (string, int64, bool, error) { return "", 0, false, nil }

// TestAppendWithoutUpdate: on a store that cannot run a function in its
// change, APPEND leaves the bound to the store's own step, where no other
// write gets in between the check and the change, rather than checking a
// copy that may be behind.
func TestAppendWithoutUpdate(t *testing.T) {
	ts := startServer(t, defaultDriver(), func(o *Options) {
		o.MaxValueBytes = 8
		if o.Store != nil { // the second pass, over the test's cache
			o.Store = staleStore{o.Store}
		}
	})
	r := ts.raw(t)
	runScript(t, r, []step{
		{cmd("APPEND", "k", "12345"), ":5\r\n"},
		{cmd("APPEND", "k", "678"), ":8\r\n"},
		{cmd("APPEND", "k", "9"), "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n"},
		{cmd("GET", "k"), "$8\r\n12345678\r\n"},
	})
}
