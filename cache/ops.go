package cache

import "errors"

// The read-modify-write operations, on a shard whose lock the caller holds:
// the Cache's methods run them for one operation, a transaction's for each of
// its operations.

// setKeepTTL is Set with KeepTTL.
func (s *shard) setKeepTTL(h uint32, key, value string) error {
	_, err := s.update(h, key, KeepTTL, func(entry, bool) (string, error) { return value, nil })
	return err
}

// getDelete removes key and returns the entry it had.
func (s *shard) getDelete(h uint32, key string) (entry, bool) {
	e, ok := s.lookup(h, key)
	if ok {
		s.remove(h, key)
		s.deletes++
	}
	return e, ok
}

var errCompareFailed = errors.New("compare failed")

func (s *shard) compareAndSet(h uint32, key, compare, value string, expireAt int64) (bool, error) {
	_, err := s.update(h, key, expireAt, func(old entry, found bool) (string, error) {
		if found && old.value != compare {
			return "", errCompareFailed
		}
		return value, nil
	})
	if errors.Is(err, errCompareFailed) {
		return false, nil
	}
	return err == nil, err
}

func (s *shard) incrementBy(h uint32, key string, delta, expireAt int64) (int64, error) {
	var sum int64
	_, err := s.update(h, key, expireAt, func(old entry, found bool) (string, error) {
		current := "0"
		if found {
			current = old.value
		}
		var err error
		sum, err = addInt(current, delta)
		if err != nil {
			return "", err
		}
		return formatInt(sum), nil
	})
	return sum, err
}

func (s *shard) append(h uint32, key, fragment string, prepend bool, maxRunes int, expireAt int64) (string, error) {
	return s.update(h, key, expireAt, func(old entry, found bool) (string, error) {
		next := fragment
		if found {
			if prepend {
				next = fragment + old.value
			} else {
				next = old.value + fragment
			}
		}
		if runeCountOver(next, maxRunes) {
			return "", ErrValueTooLong
		}
		return next, nil
	})
}

func (s *shard) setIf(h uint32, key, value string, expireAt int64, cond Condition) (old string, existed, stored bool, err error) {
	prev, found := s.lookup(h, key)
	if (cond == IfAbsent && found) || (cond == IfPresent && !found) {
		return prev.value, found, false, nil
	}
	if expireAt == KeepTTL {
		expireAt = 0
		if found {
			expireAt = prev.expireAt
		}
	}
	if err := s.store(h, key, value, expireAt); err != nil {
		return prev.value, found, false, err
	}
	return prev.value, found, true, nil
}

func (s *shard) expireIf(h uint32, key string, expireAt int64, cond ExpireCondition) (existed, changed bool) {
	e, ok := s.lookup(h, key)
	if !ok {
		return false, false
	}
	if !cond.Allows(e.expireAt, expireAt) {
		return true, false
	}
	if expireAt != 0 && expireAt <= s.now() {
		s.remove(h, key)
		s.deletes++
		return true, true
	}
	if e.expireAt != expireAt {
		_ = s.store(h, key, e.value, expireAt) // same value: cannot be too large
	} else if len(s.watched) != 0 {
		s.touch(key) // unchanged, but set: Redis counts it as a change
	}
	return true, true
}
