package resp

import (
	"github.com/warmkv/warmkv/cache"
)

// updater is a store that changes one key atomically in whatever way a
// function decides (*cache.Cache's Update). The commands that read a value
// and write back another one that no Store method computes (SETRANGE,
// SETBIT, INCRBYFLOAT, GETEX with an expiry) need it, and so does APPEND to
// check the length of its result before building it. A shared tier has no
// such method: it changes keys in the shared store with a script per
// operation, so those commands are refused there (update), APPEND excepted.
type updater interface {
	Update(key string, fn func(old cache.Item, found bool) (next cache.Item, write bool, err error)) error
}

// commandError is a refusal that an update function returns from under the
// store's lock; storeFailed answers it as it is.
type commandError string

func (e commandError) Error() string { return string(e) }

var errStringTooLong error = commandError(msgStringTooLong)

// update changes key through the updater of the connection's store (the
// cache, or the transaction it runs in: the cache's own Update would wait
// for that transaction), answering any error; it reports whether the change
// went through (fn may still have written nothing). key must not view the
// read buffer: the store keeps it.
func (c *conn) update(key string, fn func(old cache.Item, found bool) (cache.Item, bool, error)) bool {
	u, ok := c.kv.(updater)
	if !ok {
		c.out.err("ERR " + upperName(c.last) + " is not supported with a shared tier (REDIS_URL): " +
			"the shared store cannot run it as one atomic change")
		return false
	}
	if err := u.Update(key, fn); err != nil {
		c.storeFailed(err)
		return false
	}
	return true
}
