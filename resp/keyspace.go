package resp

import (
	"math"

	"github.com/warmkv/warmkv/cache"
)

// The keyspace commands: DEL, EXISTS, TYPE, the EXPIRE family, TTL, PERSIST,
// KEYS, SCAN, DBSIZE, FLUSHALL.

// cmdDel serves DEL, UNLINK and DELETE: all three delete at once, since the
// store frees nothing that would be worth doing in the background.
func cmdDel(c *conn, args [][]byte) {
	if !c.validKeys(args[1:]) {
		return
	}
	var n int64
	for _, k := range args[1:] {
		found, err := c.kv.Delete(unsafeString(k))
		if err != nil {
			c.storeFailed(err)
			return
		}
		if found {
			n++
		}
	}
	c.out.int(n)
}

// cmdExists counts a key given twice twice, as Redis does.
func cmdExists(c *conn, args [][]byte) {
	if !c.validKeys(args[1:]) {
		return
	}
	var n int64
	for _, k := range args[1:] {
		_, _, ok, err := c.kv.Lookup(unsafeString(k))
		if c.readFailed(err) {
			return
		}
		if ok {
			n++
		}
	}
	c.out.int(n)
}

func cmdType(c *conn, args [][]byte) {
	if !c.validKey(args[1]) {
		return
	}
	_, _, ok, err := c.kv.Lookup(unsafeString(args[1]))
	if c.readFailed(err) {
		return
	}
	if ok {
		c.out.simple("string")
	} else {
		c.out.simple("none")
	}
}

// cmdExpire serves EXPIRE (unit 1e9), PEXPIRE (1e6), EXPIREAT and PEXPIREAT
// (absolute). As in Redis, a time zero, negative or in the past deletes the
// key, and the answer is 1 when the key existed. NX, XX, GT and LT become a
// cache.ExpireCondition, which the store checks with the change, atomically,
// as single-threaded Redis does.
func cmdExpire(unit int64, absolute bool) func(c *conn, args [][]byte) {
	name := map[[2]bool]string{
		{false, false}: "pexpire", {true, false}: "expire",
		{false, true}: "pexpireat", {true, true}: "expireat",
	}[[2]bool{unit == 1e9, absolute}]
	return func(c *conn, args [][]byte) {
		cond, msg := parseExpireOptions(args[3:])
		if msg != "" {
			c.out.err(msg)
			return
		}
		when, ok := parseInt(args[2])
		if !ok {
			c.out.err(msgNotInteger)
			return
		}
		nowNs := c.srv.now().UnixNano()
		expireAt, ok := expireTime(when, unit, absolute, nowNs)
		if !ok {
			c.out.err("ERR invalid expire time in '" + name + "' command")
			return
		}
		if !c.validKey(args[1]) {
			return
		}
		// A copy, not a view of the read buffer: the cache's expiry index keeps
		// the key it is given, and the buffer is reused for the next command.
		_, changed, err := c.kv.ExpireIf(string(args[1]), expireAt, cond)
		if err != nil {
			c.storeFailed(err)
			return
		}
		c.out.int(boolInt(changed))
	}
}

// parseExpireOptions reads EXPIRE's NX, XX, GT and LT (any case), refusing
// what Redis refuses with Redis's error.
func parseExpireOptions(opts [][]byte) (cond cache.ExpireCondition, errMsg string) {
	for _, opt := range opts {
		switch {
		case equalFold(opt, "nx"):
			cond |= cache.ExpireIfNone
		case equalFold(opt, "xx"):
			cond |= cache.ExpireIfSet
		case equalFold(opt, "gt"):
			cond |= cache.ExpireIfLater
		case equalFold(opt, "lt"):
			cond |= cache.ExpireIfEarlier
		default:
			return 0, "ERR Unsupported option " + string(opt)
		}
	}
	if cond&cache.ExpireIfNone != 0 && cond&(cache.ExpireIfSet|cache.ExpireIfLater|cache.ExpireIfEarlier) != 0 {
		return 0, "ERR NX and XX, GT or LT options at the same time are not compatible"
	}
	if cond&cache.ExpireIfLater != 0 && cond&cache.ExpireIfEarlier != 0 {
		return 0, "ERR GT and LT options at the same time are not compatible"
	}
	return cond, ""
}

// expireTime turns EXPIRE's time argument (in unit nanoseconds, from now or
// absolute) into a cache expiry at nowNs: 1, a time long past, for anything
// not after now (0 would mean "never"). It fails where Redis fails with
// "invalid expire time", because when is kept in milliseconds, as Redis keeps
// it, so that overflow is refused where Redis refuses it.
func expireTime(when, unit int64, absolute bool, nowNs int64) (int64, bool) {
	msPerUnit := unit / 1e6
	if when > math.MaxInt64/msPerUnit || when < math.MinInt64/msPerUnit {
		return 0, false
	}
	when *= msPerUnit
	if !absolute {
		base := nowNs / 1e6
		if when > math.MaxInt64-base {
			return 0, false
		}
		when += base
	}
	if when > math.MaxInt64/1_000_000 {
		return 0, false
	}
	if when <= 0 || when*1e6 <= nowNs {
		return 1, true
	}
	return when * 1e6, true
}

// cmdTTL serves TTL and PTTL: -2 for no key, -1 for no expiry, else the time
// left, rounded as Redis rounds it.
func cmdTTL(ms bool) func(c *conn, args [][]byte) {
	return func(c *conn, args [][]byte) {
		expireAt, ok := c.lookupExpiry(args[1])
		if !ok {
			return
		}
		// Redis counts whole milliseconds, from the current one.
		leftMs := max(expireAt/1e6-c.srv.now().UnixMilli(), 0)
		if ms {
			c.out.int(leftMs)
		} else {
			c.out.int((leftMs + 500) / 1000)
		}
	}
}

// cmdPersist removes the expiry of a key that has one, in one step of the
// store (ExpireIf with ExpireIfSet, as EXPIRE XX): deciding from a Lookup
// first would not be atomic, and a shared tier's Lookup may answer from a
// local copy that is LOCAL_TTL old.
func cmdPersist(c *conn, args [][]byte) {
	if !c.validKey(args[1]) {
		return
	}
	// A copy, not a view of the read buffer: a write may keep its key.
	_, changed, err := c.kv.ExpireIf(string(args[1]), 0, cache.ExpireIfSet)
	if err != nil {
		c.storeFailed(err)
		return
	}
	c.out.int(boolInt(changed))
}

// cmdKeys lists the matching keys of every shard. Like Redis's KEYS it is
// O(number of keys); SCAN spreads the work over calls.
func cmdKeys(c *conn, args [][]byte) {
	if c.keys == nil {
		c.out.err(msgNoKeyListing)
		return
	}
	pattern := string(args[1])
	var matched []string
	var items []cache.Item
	for shard := range c.keys.ShardCount() {
		var err error
		if items, err = c.dump(shard, items[:0]); err != nil {
			c.storeFailed(err)
			return
		}
		for _, it := range items {
			if globMatch(pattern, it.Key) {
				matched = append(matched, it.Key)
			}
		}
	}
	c.out.bulks(matched)
}

// cmdScan iterates shard by shard: the cursor is the next shard to list, and
// each call lists whole shards until it has COUNT keys (a hint, as in Redis).
// A key present from the first call to the last is returned exactly once; a
// key added or removed meanwhile may or may not be, which is Redis's guarantee.
func cmdScan(c *conn, args [][]byte) {
	cursor, ok := parseCursor(args[1])
	if !ok {
		c.out.err("ERR invalid cursor")
		return
	}
	count := int64(10)
	pattern, typeName := "", ""
	matchAll, wantType := true, false
	for i := 2; i < len(args); i += 2 {
		opt := args[i]
		if i+1 >= len(args) {
			c.out.err(msgSyntax)
			return
		}
		switch {
		case equalFold(opt, "count"):
			n, ok := parseInt(args[i+1])
			if !ok {
				c.out.err(msgNotInteger)
				return
			}
			if n < 1 {
				c.out.err(msgSyntax)
				return
			}
			count = n
		case equalFold(opt, "match"):
			pattern = string(args[i+1])
			matchAll = pattern == "*"
		case equalFold(opt, "type"):
			typeName = string(args[i+1])
			wantType = true
		default:
			c.out.err(msgSyntax)
			return
		}
	}
	if c.keys == nil {
		c.out.err(msgNoKeyListing)
		return
	}
	// Every value is a string: TYPE string changes nothing, any other type
	// matches nothing (the cursor still advances, as in Redis).
	typeMatches := !wantType || equalFold([]byte(typeName), "string")

	shards := uint64(c.keys.ShardCount())
	var found []string
	var items []cache.Item
	for cursor < shards && int64(len(found)) < count {
		var err error
		if items, err = c.dump(int(cursor), items[:0]); err != nil {
			c.storeFailed(err)
			return
		}
		cursor++
		if !typeMatches {
			continue
		}
		for _, it := range items {
			if matchAll || globMatch(pattern, it.Key) {
				found = append(found, it.Key)
			}
		}
	}
	if cursor >= shards {
		cursor = 0
	}
	c.out.array(2)
	c.out.bulk(formatInt(int64(cursor)))
	c.out.bulks(found)
}

// parseCursor reads an unsigned decimal cursor.
func parseCursor(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if n > (math.MaxUint64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// cmdDBSize counts entries whose expiry has passed but that are not yet
// reaped, as Redis's DBSIZE counts keys not yet expired by its own reaper.
func cmdDBSize(c *conn, _ [][]byte) {
	c.out.int(c.kv.Stats().Entries)
}

// cmdFlush serves FLUSHALL and FLUSHDB, with or without ASYNC or SYNC.
func cmdFlush(c *conn, args [][]byte) {
	if len(args) > 2 || len(args) == 2 && !equalFold(args[1], "async") && !equalFold(args[1], "sync") {
		c.out.err(msgSyntax)
		return
	}
	if err := c.kv.Flush(); err != nil {
		c.storeFailed(err)
		return
	}
	c.out.ok()
}
