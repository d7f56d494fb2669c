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
		found, err := c.srv.kv.Delete(unsafeString(k))
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
		_, _, ok, err := c.srv.kv.Lookup(unsafeString(k))
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
	_, _, ok, err := c.srv.kv.Lookup(unsafeString(args[1]))
	if c.readFailed(err) {
		return
	}
	if ok {
		c.out.simple("string")
	} else {
		c.out.simple("none")
	}
}

// Conditions of EXPIRE's NX, XX, GT and LT options.
const (
	expireNX = 1 << iota
	expireXX
	expireGT
	expireLT
)

// cmdExpire serves EXPIRE (unit 1e9), PEXPIRE (1e6), EXPIREAT and PEXPIREAT
// (absolute). As in Redis, a time zero, negative or in the past deletes the
// key, and the answer is 1 when the key existed. With NX, XX, GT or LT the
// current expiry is read, then changed, in two steps: a write to the same key
// between them can make the condition stale, which Redis, single-threaded,
// does not allow.
func cmdExpire(unit int64, absolute bool) func(c *conn, args [][]byte) {
	name := map[[2]bool]string{
		{false, false}: "pexpire", {true, false}: "expire",
		{false, true}: "pexpireat", {true, true}: "expireat",
	}[[2]bool{unit == 1e9, absolute}]
	return func(c *conn, args [][]byte) {
		var cond int
		for _, opt := range args[3:] {
			switch {
			case equalFold(opt, "nx"):
				cond |= expireNX
			case equalFold(opt, "xx"):
				cond |= expireXX
			case equalFold(opt, "gt"):
				cond |= expireGT
			case equalFold(opt, "lt"):
				cond |= expireLT
			default:
				c.out.err("ERR Unsupported option " + string(opt))
				return
			}
		}
		if cond&expireNX != 0 && cond&(expireXX|expireGT|expireLT) != 0 {
			c.out.err("ERR NX and XX, GT or LT options at the same time are not compatible")
			return
		}
		if cond&expireGT != 0 && cond&expireLT != 0 {
			c.out.err("ERR GT and LT options at the same time are not compatible")
			return
		}
		when, ok := parseInt(args[2])
		if !ok {
			c.out.err(msgNotInteger)
			return
		}
		// when is kept in milliseconds, as Redis keeps it, so that overflow
		// is refused where Redis refuses it.
		msPerUnit := unit / 1e6
		if when > math.MaxInt64/msPerUnit || when < math.MinInt64/msPerUnit {
			c.out.err("ERR invalid expire time in '" + name + "' command")
			return
		}
		when *= msPerUnit
		nowNs := c.srv.now().UnixNano()
		if !absolute {
			base := nowNs / 1e6
			if when > math.MaxInt64-base {
				c.out.err("ERR invalid expire time in '" + name + "' command")
				return
			}
			when += base
		}
		if when > math.MaxInt64/1_000_000 {
			c.out.err("ERR invalid expire time in '" + name + "' command")
			return
		}
		if !c.validKey(args[1]) {
			return
		}
		// A copy, not a view of the read buffer: the cache's expiry index keeps
		// the key it is given, and the buffer is reused for the next command.
		key := string(args[1])
		expireAt := int64(1) // any time in the past deletes; 0 would mean "never"
		if when > 0 {
			expireAt = when * 1e6
		}
		if expireAt <= nowNs {
			expireAt = 1
		}
		var allow func(int64) bool
		if cond != 0 {
			// Checked under the cache's lock, with the write: a concurrent SET
			// cannot change the expiry between the check and the change.
			allow = func(current int64) bool { return expireAllowed(cond, current, expireAt) }
		}
		_, changed, err := c.srv.kv.ExpireIf(key, expireAt, allow)
		if err != nil {
			c.storeFailed(err)
			return
		}
		c.out.int(boolInt(changed))
	}
}

// expireAllowed applies Redis's NX/XX/GT/LT rules; no expiry counts as an
// infinite one.
func expireAllowed(cond int, current, next int64) bool {
	switch {
	case cond&expireNX != 0 && current != 0:
		return false
	case cond&expireXX != 0 && current == 0:
		return false
	case cond&expireGT != 0 && (current == 0 || next <= current):
		return false
	case cond&expireLT != 0 && current != 0 && next >= current:
		return false
	}
	return true
}

// cmdTTL serves TTL and PTTL: -2 for no key, -1 for no expiry, else the time
// left, rounded as Redis rounds it.
func cmdTTL(ms bool) func(c *conn, args [][]byte) {
	return func(c *conn, args [][]byte) {
		if !c.validKey(args[1]) {
			return
		}
		_, expireAt, ok, err := c.srv.kv.Lookup(unsafeString(args[1]))
		if c.readFailed(err) {
			return
		}
		switch {
		case !ok:
			c.out.int(-2)
		case expireAt == 0:
			c.out.int(-1)
		default:
			// Redis counts whole milliseconds, from the current one.
			leftMs := max(expireAt/1e6-c.srv.now().UnixMilli(), 0)
			if ms {
				c.out.int(leftMs)
			} else {
				c.out.int((leftMs + 500) / 1000)
			}
		}
	}
}

func cmdPersist(c *conn, args [][]byte) {
	if !c.validKey(args[1]) {
		return
	}
	key := unsafeString(args[1])
	_, expireAt, ok, err := c.srv.kv.Lookup(key)
	if c.readFailed(err) {
		return
	}
	if !ok || expireAt == 0 {
		c.out.int(0)
		return
	}
	changed, err := c.srv.kv.Expire(key, 0)
	if err != nil {
		c.storeFailed(err)
		return
	}
	c.out.int(boolInt(changed))
}

// cmdKeys lists the matching keys of every shard. Like Redis's KEYS it is
// O(number of keys); SCAN spreads the work over calls.
func cmdKeys(c *conn, args [][]byte) {
	if c.srv.keys == nil {
		c.out.err(msgNoKeyListing)
		return
	}
	pattern := string(args[1])
	var matched []string
	var items []cache.Item
	for shard := range c.srv.keys.ShardCount() {
		items = c.srv.keys.Dump(shard, items[:0])
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
	if c.srv.keys == nil {
		c.out.err(msgNoKeyListing)
		return
	}
	// Every value is a string: TYPE string changes nothing, any other type
	// matches nothing (the cursor still advances, as in Redis).
	typeMatches := !wantType || equalFold([]byte(typeName), "string")

	shards := uint64(c.srv.keys.ShardCount())
	var found []string
	var items []cache.Item
	for cursor < shards && int64(len(found)) < count {
		items = c.srv.keys.Dump(int(cursor), items[:0])
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
	c.out.int(c.srv.kv.Stats().Entries)
}

// cmdFlush serves FLUSHALL and FLUSHDB, with or without ASYNC or SYNC.
func cmdFlush(c *conn, args [][]byte) {
	if len(args) > 2 || len(args) == 2 && !equalFold(args[1], "async") && !equalFold(args[1], "sync") {
		c.out.err(msgSyntax)
		return
	}
	if err := c.srv.kv.Flush(); err != nil {
		c.storeFailed(err)
		return
	}
	c.out.ok()
}
