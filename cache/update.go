package cache

// Update reads the live entry of key and replaces it with what fn decides, as
// one step under the key's shard lock, so that no other write gets in between:
// the general form of Append and IncrementBy, for the read-modify-write
// commands that have no method of their own (Redis's SETRANGE, SETBIT,
// INCRBYFLOAT, GETEX). fn sees the entry (Key, Value, ExpireAt) and whether
// it exists; it returns the entry to store (next.Key is ignored; ExpireAt 0
// means none, a time in the past deletes the key) and write, false to change
// nothing. fn runs with the shard locked, so it must be quick and
// must not call the cache; it should check the size of what it would build
// before building it. An error from fn is returned as it is, with nothing
// changed; a value too large for the cache fails with ErrTooLarge. Like every
// operation, Update waits while a transaction owns the key's shard (ErrBusy
// once that transaction is busy).
//
// Update does not count as a use of the key for the hit and miss counters.
// key is kept when written: it must not view a buffer that is reused.
func (c *Cache) Update(key string, fn func(old Item, found bool) (next Item, write bool, err error)) error {
	h := hashKey(key)
	s := c.shardFor(h)
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	_, err := s.updateItem(uint32(h), key, fn)
	return err
}

// Update is Cache.Update inside the transaction, for a key of its Scope.
func (t *txn) Update(key string, fn func(old Item, found bool) (next Item, write bool, err error)) error {
	var opErr error
	err := t.with(key, func(s *shard, h uint32) bool {
		var changed bool
		changed, opErr = s.updateItem(h, key, fn)
		return changed
	})
	return firstError(err, opErr)
}

// updateItem is Update on a locked shard; it reports whether the key changed.
func (s *shard) updateItem(h uint32, key string, fn func(old Item, found bool) (next Item, write bool, err error)) (changed bool, err error) {
	e, found := s.lookup(h, key)
	next, write, err := fn(Item{Key: key, Value: e.value, ExpireAt: e.expireAt}, found)
	if err != nil || !write {
		return false, err
	}
	if next.ExpireAt != 0 && next.ExpireAt <= s.now() {
		if found {
			s.remove(h, key)
			s.deletes++
		}
		return found, nil
	}
	if err := s.store(h, key, next.Value, next.ExpireAt); err != nil {
		return false, err
	}
	return true, nil
}
