package resp

import (
	"math/big"
	"unsafe"

	"github.com/warmkv/warmkv/cache"
)

// More string commands: GETEX, PSETEX, INCRBYFLOAT, GETRANGE and SUBSTR,
// SETRANGE. Those that change a value in a way no Store method does (GETEX
// with an expiry, INCRBYFLOAT, SETRANGE) run through update: atomically in
// the in-process cache, refused with a shared tier. Each checks the size of
// its result before building it.

func stringExtraCommands() []*command {
	return []*command{
		{name: "getex", arity: -2, run: cmdGetEx, flags: []string{"write", "fast"}, firstKey: 1, lastKey: 1, step: 1, acl: []string{"@write", "@string", "@fast"},
			group: "string", summary: "Get the value of a key and optionally set its expiration", since: "6.2.0", complexity: "O(1)",
			docArgs: []argDoc{keyArg("key"), optional(oneOf("expiration", withToken("EX", intArg("seconds")), withToken("PX", intArg("milliseconds")),
				withToken("EXAT", unixArg("unix-time-seconds")), withToken("PXAT", unixArg("unix-time-milliseconds")), tokenArg("PERSIST")))}},
		{name: "psetex", arity: 4, run: cmdPSetEx, flags: []string{"write", "denyoom"}, firstKey: 1, lastKey: 1, step: 1, acl: []string{"@write", "@string", "@slow"},
			group: "string", summary: "Set the value and expiration in milliseconds of a key", since: "2.6.0", complexity: "O(1)",
			docArgs: []argDoc{keyArg("key"), intArg("milliseconds"), strArg("value")}},
		{name: "incrbyfloat", arity: 3, run: cmdIncrByFloat, flags: []string{"write", "denyoom", "fast"}, firstKey: 1, lastKey: 1, step: 1, acl: []string{"@write", "@string", "@fast"},
			group: "string", summary: "Increment the float value of a key by the given amount", since: "2.6.0", complexity: "O(1)",
			docArgs: []argDoc{keyArg("key"), {name: "increment", typ: "double"}}},
		{name: "getrange", arity: 4, run: cmdGetRange, flags: []string{"readonly"}, firstKey: 1, lastKey: 1, step: 1, acl: []string{"@read", "@string", "@slow"},
			group: "string", summary: "Get a substring of the string stored at a key", since: "2.4.0", complexity: "O(N) where N is the length of the returned string.",
			docArgs: []argDoc{keyArg("key"), intArg("start"), intArg("end")}},
		{name: "substr", arity: 4, run: cmdGetRange, flags: []string{"readonly"}, firstKey: 1, lastKey: 1, step: 1, acl: []string{"@read", "@string", "@slow"},
			group: "string", summary: "Get a substring of the string stored at a key", since: "1.0.0", complexity: "O(N) where N is the length of the returned string.",
			docArgs: []argDoc{keyArg("key"), intArg("start"), intArg("end")}},
		{name: "setrange", arity: 4, run: cmdSetRange, flags: []string{"write", "denyoom"}, firstKey: 1, lastKey: 1, step: 1, acl: []string{"@write", "@string", "@slow"},
			group: "string", summary: "Overwrite part of a string at key starting at the specified offset", since: "2.2.0",
			complexity: "O(1), not counting the time taken to copy the new string in place. Otherwise, complexity is O(M) with M being the length of the value argument.",
			docArgs:    []argDoc{keyArg("key"), intArg("offset"), strArg("value")}},
	}
}

// ownedString views b, which nothing else refers to and nothing will change,
// as a string, so that a value built in a buffer is not copied again.
func ownedString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b)) //nolint:gosec // G103: audited: b is fresh and never written again
}

// cmdGetEx answers the value and, with an option, changes the expiry with
// it: a time in the past deletes the key after reading it, as in Redis.
func cmdGetEx(c *conn, args [][]byte) {
	o, ok := c.parseStringOptions(args, 2, "getex")
	if !ok || !c.validKey(args[1]) {
		return
	}
	if !o.persist && o.expireAt == 0 {
		cmdGet(c, args)
		return
	}
	var value string
	var found bool
	if !c.update(string(args[1]), func(old cache.Item, exists bool) (cache.Item, bool, error) {
		value, found = old.Value, exists
		next := cache.Item{Value: old.Value, ExpireAt: o.expireAt}
		return next, exists && next.ExpireAt != old.ExpireAt, nil
	}) {
		return
	}
	if !found {
		c.out.null()
		return
	}
	c.out.bulk(value)
}

func cmdPSetEx(c *conn, args [][]byte) { c.setWithExpiry(args, 1e6, "psetex") }

// cmdIncrByFloat adds in long double precision, as Redis does (float.go),
// keeping the TTL, and answers the new value as text.
func cmdIncrByFloat(c *conn, args [][]byte) {
	if !c.validKey(args[1]) {
		return
	}
	incr, incrOK := parseLongDouble(unsafeString(args[2]))
	var result string
	if !c.update(string(args[1]), func(old cache.Item, found bool) (cache.Item, bool, error) {
		current := new(big.Float)
		if found {
			var ok bool
			if current, ok = parseLongDouble(old.Value); !ok {
				return old, false, errNotFloat
			}
		}
		if !incrOK {
			return old, false, errNotFloat
		}
		sum, err := addLongDouble(current, incr)
		if err != nil {
			return old, false, err
		}
		// Under 5,000 characters whatever the operands: no size to check
		// but the value limit, which may be set that low.
		result = formatLongDouble(sum)
		if len(result) > c.srv.maxValue {
			return old, false, errStringTooLong
		}
		return cache.Item{Value: result, ExpireAt: old.ExpireAt}, true, nil
	}) {
		return
	}
	c.out.bulk(result)
}

// cmdGetRange serves GETRANGE and SUBSTR: a missing key reads as "".
func cmdGetRange(c *conn, args [][]byte) {
	start, ok1 := parseInt(args[2])
	end, ok2 := parseInt(args[3])
	if !ok1 || !ok2 {
		c.out.err(msgNotInteger)
		return
	}
	v, _, ok := c.readKey(args[1])
	if !ok {
		return
	}
	if start < 0 && end < 0 && start > end {
		c.out.bulk("")
		return
	}
	lo, hi, ok := redisRange(start, end, int64(len(v)))
	if !ok {
		c.out.bulk("")
		return
	}
	c.out.bulk(v[lo : hi+1])
}

// redisRange turns start and end, inclusive and counted from the end when
// negative, into positions in a sequence of n, as Redis's GETRANGE and
// BITCOUNT do; ok is false when the range holds nothing.
func redisRange(start, end, n int64) (lo, hi int64, ok bool) {
	if start < 0 {
		start += n
	}
	if end < 0 {
		end += n
	}
	start, end = max(start, 0), max(end, 0)
	if end >= n {
		end = n - 1
	}
	return start, end, start <= end && n > 0
}

const msgOffsetOutOfRange = "ERR offset is out of range"

// cmdSetRange writes value at offset, padding with zero bytes, and answers
// the new length; the TTL is kept. An empty value changes nothing (and
// creates no key).
func cmdSetRange(c *conn, args [][]byte) {
	offset, ok := parseInt(args[2])
	switch {
	case !ok:
		c.out.err(msgNotInteger)
		return
	case offset < 0:
		c.out.err(msgOffsetOutOfRange)
		return
	}
	if !c.validKey(args[1]) {
		return
	}
	value := args[3]
	var length int
	if !c.update(string(args[1]), func(old cache.Item, _ bool) (cache.Item, bool, error) {
		if len(value) == 0 {
			length = len(old.Value)
			return old, false, nil
		}
		if offset > int64(c.srv.maxValue-len(value)) {
			return old, false, errStringTooLong
		}
		end := int(offset) + len(value)
		b := make([]byte, max(len(old.Value), end))
		copy(b, old.Value)
		copy(b[offset:], value)
		length = len(b)
		return cache.Item{Value: ownedString(b), ExpireAt: old.ExpireAt}, true, nil
	}) {
		return
	}
	c.out.int(int64(length))
}
