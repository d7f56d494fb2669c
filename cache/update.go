package cache

// Update reads the live entry of key and replaces it with what fn decides, as
// one step under the key's shard lock, so that no other write gets in between:
// the general form of Append and IncrementBy, for the read-modify-write
// commands that have no method of their own (Redis's SETRANGE, SETBIT,
// INCRBYFLOAT, GETEX). fn sees the entry (Key, Value, ExpireAt) and whether it
// exists; it returns the entry to store (next.Key is ignored; ExpireAt 0 means
// none, a time in the past deletes the key) and write, false to change
// nothing. fn runs with the shard locked, so it must be quick and must not
// call the cache; it should check the size of what it would build before
// building it. An error from fn is returned as it is, with nothing changed;
// a value too large for the cache fails with ErrTooLarge.
//
// Update does not count as a use of the key for the hit and miss counters.
// key is kept when written: it must not view a buffer that is reused.
func (c *Cache) Update(key string, fn func(old Item, found bool) (next Item, write bool, err error)) error {
	h := hashKey(key)
	s := c.shardFor(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, found := s.lookup(uint32(h), key)
	next, write, err := fn(Item{Key: key, Value: e.value, ExpireAt: e.expireAt}, found)
	if err != nil || !write {
		return err
	}
	if next.ExpireAt != 0 && next.ExpireAt <= s.now() {
		if found {
			s.remove(uint32(h), key)
			s.deletes++
		}
		return nil
	}
	return s.store(uint32(h), key, next.Value, next.ExpireAt)
}
