package resp

// The reads that most commands begin with: the key checked, the store asked,
// a refusal or a store error answered.

// readKey reads key's value as GET does (a use of the key, a hit or a miss).
// ok is false once a refusal or an error is answered.
func (c *conn) readKey(key []byte) (value string, found, ok bool) {
	if !c.validKey(key) {
		return "", false, false
	}
	v, found, err := c.kv.Get(unsafeString(key))
	if c.readFailed(err) {
		return "", false, false
	}
	return v, found, true
}

// lookupKey is readKey without the use, with the expiry (Store.Lookup).
func (c *conn) lookupKey(key []byte) (value string, expireAt int64, found, ok bool) {
	if !c.validKey(key) {
		return "", 0, false, false
	}
	v, expireAt, found, err := c.kv.Lookup(unsafeString(key))
	if c.readFailed(err) {
		return "", 0, false, false
	}
	return v, expireAt, found, true
}

// lookupExpiry serves TTL, PTTL, EXPIRETIME and PEXPIRETIME: it answers -2
// for no key and -1 for no expiry itself, and otherwise returns the expiry
// for the caller to answer.
func (c *conn) lookupExpiry(key []byte) (expireAt int64, ok bool) {
	_, expireAt, found, ok := c.lookupKey(key)
	switch {
	case !ok:
	case !found:
		c.out.int(-2)
	case expireAt == 0:
		c.out.int(-1)
	default:
		return expireAt, true
	}
	return 0, false
}
