package resp

import (
	"errors"
	"math"
	"unicode/utf8"

	"github.com/warmkv/warmkv/cache"
)

// The string commands: GET, SET and its variants, MGET, MSET, INCR and friends,
// APPEND, STRLEN. Keys are checked against the same limits as over HTTP, and
// values against MaxValueBytes, before anything is stored.

const (
	// Refusals shared with the HTTP API's rules for keys.
	msgKeyEmpty   = "ERR key must not be empty"
	msgKeyNotUTF8 = "ERR key is not valid UTF-8"

	msgNotInteger = "ERR value is not an integer or out of range"
	msgOverflow   = "ERR increment or decrement would overflow"
	msgSyntax     = "ERR syntax error"
	// msgOOM is Redis's answer to a write it has no memory for; warmkv gives
	// it for a value longer than MaxValueBytes or than the cache can hold.
	msgOOM = "OOM command not allowed when used memory > 'maxmemory'."
	// msgStringTooLong is Redis's answer when APPEND or SETRANGE would make a
	// value longer than proto-max-bulk-len, here MaxValueBytes.
	msgStringTooLong = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
	msgNoKeyListing  = "ERR this store cannot list its keys"
	msgDecrOverflow  = "ERR decrement would overflow"
	msgInternalError = "ERR internal error: "
	// msgUnavailable: warmkv's shared tier did not answer. Like Redis's own
	// LOADING or MASTERDOWN, the code names the state, and clients may retry.
	msgUnavailable = "UNAVAILABLE the shared tier did not answer; nothing was confirmed, retry later"
)

// checkKey returns why key is refused, or "".
func (s *Server) checkKey(key []byte) string {
	switch {
	case len(key) == 0:
		return msgKeyEmpty
	case !utf8.Valid(key):
		return msgKeyNotUTF8
	case len(key) > s.maxKey && utf8.RuneCount(key) > s.maxKey:
		return s.msgKeyTooLong
	}
	return ""
}

// validKey answers the refusal and returns false if key is not a valid key.
func (c *conn) validKey(key []byte) bool {
	if msg := c.srv.checkKey(key); msg != "" {
		c.out.err(msg)
		return false
	}
	return true
}

// validKeys checks every key in keys.
func (c *conn) validKeys(keys [][]byte) bool {
	for _, k := range keys {
		if !c.validKey(k) {
			return false
		}
	}
	return true
}

// validEntry checks a key and a value: any bytes, up to MaxValueBytes.
func (c *conn) validEntry(key, value []byte) bool {
	if !c.validKey(key) {
		return false
	}
	if len(value) > c.srv.maxValue {
		c.out.err(msgOOM)
		return false
	}
	return true
}

// readFailed answers a read's error and reports whether it did. A value read
// from the local copy while the shared tier is unavailable (ErrStale) is
// answered as it is: RESP has no place to mark it, and docs/shared-tier.md says so.
func (c *conn) readFailed(err error) bool {
	if err == nil || errors.Is(err, cache.ErrStale) {
		return false
	}
	c.storeFailed(err)
	return true
}

// storeFailed answers an error from the store, or a commandError that a
// command's update function returned.
func (c *conn) storeFailed(err error) {
	var refusal commandError
	switch {
	case errors.Is(err, cache.ErrUnavailable):
		c.out.err(msgUnavailable)
	case errors.Is(err, cache.ErrTooLarge):
		c.out.err(msgOOM)
	case errors.Is(err, cache.ErrNotInteger):
		c.out.err(msgNotInteger)
	case errors.Is(err, cache.ErrOverflow):
		c.out.err(msgOverflow)
	case errors.Is(err, cache.ErrValueTooLong):
		c.out.err(msgStringTooLong)
	case errors.As(err, &refusal):
		c.out.err(string(refusal))
	case errors.Is(err, cache.ErrBusy):
		c.out.err(msgBusy)
	case errors.Is(err, cache.ErrUndeclared):
		c.out.err(msgUndeclaredKey)
	case errors.Is(err, cache.ErrKeysApart):
		c.out.err(msgCrossSlot)
	case errors.Is(err, cache.ErrWholeStore):
		c.out.err(msgWholeStore)
	default:
		c.out.err(msgInternalError + err.Error())
	}
}

// expiry turns an EX/PX/EXAT/PXAT-style argument into the store's Unix
// nanoseconds. unit is the argument's unit in nanoseconds (1e9 or 1e6);
// absolute means a Unix time rather than a time from now. Like Redis, it
// refuses zero and negative values as "invalid expire time"; unlike Redis,
// it also refuses times after 2262, which Unix nanoseconds cannot hold.
func (c *conn) expiry(arg []byte, unit int64, absolute bool, cmd string) (int64, bool) {
	n, ok := parseInt(arg)
	if !ok {
		c.out.err(msgNotInteger)
		return 0, false
	}
	if n <= 0 || n > math.MaxInt64/unit {
		c.out.err("ERR invalid expire time in '" + cmd + "' command")
		return 0, false
	}
	at := n * unit
	if !absolute {
		// From the current millisecond, as Redis counts, so that TTL and
		// PTTL answer what Redis would.
		now := c.srv.now().UnixMilli() * 1e6
		if at > math.MaxInt64-now {
			c.out.err("ERR invalid expire time in '" + cmd + "' command")
			return 0, false
		}
		at += now
	}
	return at, true
}

func cmdGet(c *conn, args [][]byte) {
	if !c.validKey(args[1]) {
		return
	}
	// The lookup borrows the read buffer: Get keeps no reference to the key.
	v, ok, err := c.kv.Get(unsafeString(args[1]))
	if c.readFailed(err) {
		return
	}
	if !ok {
		c.out.null()
		return
	}
	c.out.bulk(v)
}

// setOptions are SET's options, and GETEX's, as Redis 7 parses them.
type setOptions struct {
	cond     cache.Condition
	get      bool
	keepTTL  bool
	persist  bool  // GETEX only
	expireAt int64 // 0 = none
}

// parseSetOptions reads SET's options from args[3:].
func (c *conn) parseSetOptions(args [][]byte) (setOptions, bool) {
	return c.parseStringOptions(args, 3, "set")
}

// parseStringOptions reads the options of SET (cmd "set") or GETEX
// ("getex") from args[first:], as Redis's parseExtendedStringArgumentsOrReply
// does for both. Like Redis, it accepts an option repeated (the last expiry
// wins) but refuses NX with XX, and an expiry with KEEPTTL, PERSIST or
// another kind of expiry, as a syntax error; then the expiry's value is
// checked. SET takes NX, XX, GET and KEEPTTL, GETEX PERSIST.
func (c *conn) parseStringOptions(args [][]byte, first int, cmd string) (setOptions, bool) {
	forSet := cmd == "set"
	var o setOptions
	var expArg []byte
	var expUnit int64
	var expAbs bool
	expKind := ""
	for j := first; j < len(args); j++ {
		opt := args[j]
		hasNext := j+1 < len(args)
		switch {
		case forSet && equalFold(opt, "nx") && o.cond != cache.IfPresent:
			o.cond = cache.IfAbsent
		case forSet && equalFold(opt, "xx") && o.cond != cache.IfAbsent:
			o.cond = cache.IfPresent
		case forSet && equalFold(opt, "get"):
			o.get = true
		case forSet && equalFold(opt, "keepttl") && expKind == "":
			o.keepTTL = true
		case !forSet && equalFold(opt, "persist") && expKind == "":
			o.persist = true
		case !o.keepTTL && !o.persist && hasNext && (expKind == "" || equalFold(opt, expKind)) && isExpiryOption(opt):
			expKind = lowerASCII(opt)
			expArg = args[j+1]
			expUnit, expAbs = expiryUnit(expKind)
			j++
		default:
			c.out.err(msgSyntax)
			return o, false
		}
	}
	if expArg != nil {
		at, ok := c.expiry(expArg, expUnit, expAbs, cmd)
		if !ok {
			return o, false
		}
		o.expireAt = at
	}
	return o, true
}

func isExpiryOption(opt []byte) bool {
	return equalFold(opt, "ex") || equalFold(opt, "px") || equalFold(opt, "exat") || equalFold(opt, "pxat")
}

func expiryUnit(kind string) (unit int64, absolute bool) {
	switch kind {
	case "ex":
		return 1e9, false
	case "px":
		return 1e6, false
	case "exat":
		return 1e9, true
	}
	return 1e6, true // pxat
}

func cmdSet(c *conn, args [][]byte) {
	o, ok := c.parseSetOptions(args)
	if !ok || !c.validEntry(args[1], args[2]) {
		return
	}
	expireAt := o.expireAt
	if o.keepTTL {
		expireAt = cache.KeepTTL
	}
	if o.cond == cache.Always && !o.get {
		// The common case needs no previous value.
		if err := c.set(args[1], args[2], expireAt); err != nil {
			c.storeFailed(err)
			return
		}
		c.out.ok()
		return
	}
	key, value := string(args[1]), string(args[2])
	old, existed, stored, err := c.kv.SetIf(key, value, expireAt, o.cond)
	switch {
	case err != nil:
		c.storeFailed(err)
	case o.get && existed:
		c.out.bulk(old)
	case o.get || !stored:
		c.out.null()
	default:
		c.out.ok()
	}
}

// set stores key=value in the connection's store. The cache itself borrows
// the key from the read buffer (cache.Cache.SetBorrowed), so that overwriting
// a key allocates only its value. Only the cache itself: a store that wraps it
// (the shared tier, a test's) has a Set of its own, which must run.
func (c *conn) set(key, value []byte, expireAt int64) error {
	if kv, ok := c.kv.(*cache.Cache); ok {
		return kv.SetBorrowed(unsafeString(key), string(value), expireAt)
	}
	return c.kv.Set(string(key), string(value), expireAt)
}

func cmdSetNX(c *conn, args [][]byte) {
	if !c.validEntry(args[1], args[2]) {
		return
	}
	_, _, stored, err := c.kv.SetIf(string(args[1]), string(args[2]), 0, cache.IfAbsent)
	if err != nil {
		c.storeFailed(err)
		return
	}
	c.out.int(boolInt(stored))
}

func cmdSetEx(c *conn, args [][]byte) { c.setWithExpiry(args, 1e9, "setex") }

// setWithExpiry serves SETEX and PSETEX: key, time from now in unit
// nanoseconds, value.
func (c *conn) setWithExpiry(args [][]byte, unit int64, name string) {
	expireAt, ok := c.expiry(args[2], unit, false, name)
	if !ok || !c.validEntry(args[1], args[3]) {
		return
	}
	if err := c.set(args[1], args[3], expireAt); err != nil {
		c.storeFailed(err)
		return
	}
	c.out.ok()
}

func cmdGetSet(c *conn, args [][]byte) {
	if !c.validEntry(args[1], args[2]) {
		return
	}
	old, existed, _, err := c.kv.SetIf(string(args[1]), string(args[2]), 0, cache.Always)
	switch {
	case err != nil:
		c.storeFailed(err)
	case existed:
		c.out.bulk(old)
	default:
		c.out.null()
	}
}

func cmdGetDel(c *conn, args [][]byte) {
	if !c.validKey(args[1]) {
		return
	}
	v, ok, err := c.kv.GetDelete(unsafeString(args[1]))
	if err != nil {
		c.storeFailed(err)
		return
	}
	if !ok {
		c.out.null()
		return
	}
	c.out.bulk(v)
}

func cmdMGet(c *conn, args [][]byte) {
	if !c.validKeys(args[1:]) {
		return
	}
	// Read every key before answering: a store error fails the whole command,
	// and an array once started cannot be turned into an error.
	values := make([]string, len(args)-1)
	found := make([]bool, len(args)-1)
	for i, k := range args[1:] {
		v, ok, err := c.kv.Get(unsafeString(k))
		if c.readFailed(err) {
			return
		}
		values[i], found[i] = v, ok
	}
	c.out.array(len(values))
	for i, v := range values {
		if found[i] {
			c.out.bulk(v)
		} else {
			c.out.null()
		}
	}
}

// cmdMSet sets every pair after checking them all, so a refused pair changes
// nothing, and sets them as one transaction, so that no other client sees
// some set before the others.
func cmdMSet(c *conn, args [][]byte) {
	if !c.validPairs(args) {
		return
	}
	keys := make([]string, 0, len(args)/2)
	for i := 1; i < len(args); i += 2 {
		keys = append(keys, string(args[i]))
	}
	err := c.atomically(keys, func(tx cache.Tx) error {
		for i := 1; i < len(args); i += 2 {
			if err := tx.Set(keys[i/2], string(args[i+1]), 0); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		c.storeFailed(err)
		return
	}
	c.out.ok()
}

func (c *conn) incrBy(key []byte, delta int64) {
	if !c.validKey(key) {
		return
	}
	n, err := c.kv.IncrementBy(string(key), delta, cache.KeepTTL)
	if err != nil {
		c.storeFailed(err)
		return
	}
	c.out.int(n)
}

func cmdIncr(c *conn, args [][]byte) { c.incrBy(args[1], 1) }
func cmdDecr(c *conn, args [][]byte) { c.incrBy(args[1], -1) }

func cmdIncrBy(c *conn, args [][]byte) {
	delta, ok := parseInt(args[2])
	if !ok {
		c.out.err(msgNotInteger)
		return
	}
	c.incrBy(args[1], delta)
}

func cmdDecrBy(c *conn, args [][]byte) {
	delta, ok := parseInt(args[2])
	if !ok {
		c.out.err(msgNotInteger)
		return
	}
	if delta == math.MinInt64 {
		c.out.err(msgDecrOverflow)
		return
	}
	c.incrBy(args[1], -delta)
}

// cmdAppend answers the new length in bytes, as Redis does. The length of
// the result is checked before it is built.
func cmdAppend(c *conn, args [][]byte) {
	if !c.validKey(args[1]) {
		return
	}
	fragment := args[2]
	var n int
	if _, ok := c.kv.(updater); ok {
		ok := c.update(string(args[1]), func(old cache.Item, _ bool) (cache.Item, bool, error) {
			n = len(old.Value) + len(fragment)
			if n > c.srv.maxValue {
				return old, false, errStringTooLong
			}
			return cache.Item{Value: old.Value + string(fragment), ExpireAt: old.ExpireAt}, true, nil
		})
		if ok {
			c.out.int(int64(n))
		}
		return
	}
	// A store that cannot run a function in its change (a shared tier)
	// bounds the result itself, in the same step, counted in characters: a
	// count never above the bytes, so a result within MaxValueBytes always
	// passes, and one of single-byte characters is held to it exactly. A
	// check against this instance's copy first would be no bound: the copy
	// may be LOCAL_TTL old, or older while the tier is cut off.
	v, err := c.kv.Append(string(args[1]), string(fragment), false, c.srv.maxValue, cache.KeepTTL)
	if err != nil {
		c.storeFailed(err)
		return
	}
	c.out.int(int64(len(v)))
}

// cmdStrlen answers the length in bytes, as Redis does, not in characters.
func cmdStrlen(c *conn, args [][]byte) {
	if !c.validKey(args[1]) {
		return
	}
	v, _, _, err := c.kv.Lookup(unsafeString(args[1]))
	if c.readFailed(err) {
		return
	}
	c.out.int(int64(len(v)))
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// equalFold reports whether b equals the lower-case ASCII word lower, in any case.
func equalFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

func lowerASCII(b []byte) string {
	out := make([]byte, len(b))
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return string(out)
}
