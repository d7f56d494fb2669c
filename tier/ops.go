package tier

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/redis/rueidis"

	"github.com/warmkv/warmkv/cache"
)

// Get returns the value of key: from a fresh local copy, else from the shared
// store; when that is unavailable, from the local copy however old, with
// cache.ErrStale.
func (s *Store) Get(key string) (string, bool, error) {
	v, _, ok, err := s.read(key)
	return v, ok, err
}

// Lookup is Get with the key's expiry.
func (s *Store) Lookup(key string) (string, int64, bool, error) { return s.read(key) }

func (s *Store) read(key string) (string, int64, bool, error) {
	local, expireAt, inLocal := s.local.GetWithExpiry(key)
	fetchedAt, value := unstamp(local)
	if inLocal && s.subscribed.Load() && s.now().UnixNano()-fetchedAt < s.localTTL {
		s.localHits.Add(1)
		return value, expireAt, true, nil
	}
	tk := s.begin(key)
	var reply []rueidis.RedisResult
	err := s.call(func(ctx context.Context, c rueidis.Client) error {
		k := s.key(key)
		reply = c.DoMulti(ctx, c.B().Get().Key(k).Build(), c.B().Pexpiretime().Key(k).Build())
		if err := reply[0].Error(); err != nil {
			return err
		}
		return reply[1].Error()
	})
	switch {
	case rueidis.IsRedisNil(err):
		s.sharedMisses.Add(1)
		s.remember(key, tk, "", false, 0, false)
		return "", 0, false, nil
	case errors.Is(err, cache.ErrUnavailable) && inLocal:
		s.staleReads.Add(1)
		return value, expireAt, true, cache.ErrStale
	case err != nil:
		return "", 0, false, err
	}
	value, _ = reply[0].ToString()
	ms, _ := reply[1].AsInt64()
	if ms == -2 { // deleted between the two commands
		s.sharedMisses.Add(1)
		s.remember(key, tk, "", false, 0, false)
		return "", 0, false, nil
	}
	expireAt = expiryFromRedis(ms)
	s.sharedHits.Add(1)
	s.remember(key, tk, value, true, expireAt, false)
	return value, expireAt, true, nil
}

// message is the invalidation this instance publishes for key.
func (s *Store) message(key string) string { return s.id + opKey + key }

// run executes a write script on key and returns its reply array.
func (s *Store) run(key string, script *rueidis.Lua, args ...string) ([]rueidis.RedisMessage, error) {
	var reply []rueidis.RedisMessage
	err := s.call(func(ctx context.Context, c rueidis.Client) error {
		var err error
		reply, err = script.Exec(ctx, c, []string{s.key(key)}, append(args, s.channel, s.message(key))).ToArray()
		return err
	})
	return reply, err
}

// settle updates the local copy from a script's value and PEXPIRETIME.
func (s *Store) settle(key string, tk ticket, value, expiry rueidis.RedisMessage) {
	v, err := value.ToString()
	ms, _ := expiry.AsInt64()
	s.remember(key, tk, v, err == nil && ms != -2, expiryFromRedis(ms), true)
}

// Set stores key=value in the shared store, then locally.
func (s *Store) Set(key, value string, expireAt int64) error {
	_, _, _, err := s.SetIf(key, value, expireAt, cache.Always)
	return err
}

// SetIf is Set under a condition, returning the previous value.
func (s *Store) SetIf(key, value string, expireAt int64, cond cache.Condition) (old string, existed, stored bool, err error) {
	tk := s.begin(key)
	reply, err := s.run(key, setScript, value, expiryMode(expireAt), conditionArg(cond))
	if err != nil {
		return "", false, false, err
	}
	old, oldErr := reply[0].ToString()
	storedN, _ := reply[1].AsInt64()
	s.settle(key, tk, reply[2], reply[3])
	return old, oldErr == nil, storedN == 1, nil
}

func conditionArg(c cache.Condition) string {
	switch c {
	case cache.IfAbsent:
		return "nx"
	case cache.IfPresent:
		return "xx"
	}
	return "always"
}

// CompareAndSet stores value if key is absent or holds exactly compare.
func (s *Store) CompareAndSet(key, compare, value string, expireAt int64) (bool, error) {
	tk := s.begin(key)
	reply, err := s.run(key, casScript, compare, value, expiryMode(expireAt))
	if err != nil {
		return false, err
	}
	swapped, _ := reply[0].AsInt64()
	s.settle(key, tk, reply[1], reply[2])
	return swapped == 1, nil
}

// IncrementBy adds delta to the integer value of key (absent counts as 0).
func (s *Store) IncrementBy(key string, delta, expireAt int64) (int64, error) {
	tk := s.begin(key)
	reply, err := s.run(key, incrScript, strconv.FormatInt(delta, 10), expiryMode(expireAt))
	switch {
	case isReply(err, "NOTINT"):
		return 0, cache.ErrNotInteger
	case isReply(err, "OVERFLOW"):
		return 0, cache.ErrOverflow
	case err != nil:
		return 0, err
	}
	s.settle(key, tk, reply[0], reply[1])
	sum, _ := reply[0].ToString()
	return strconv.ParseInt(sum, 10, 64)
}

// Append adds fragment after (prepend: before) the value of key.
func (s *Store) Append(key, fragment string, prepend bool, maxRunes int, expireAt int64) (string, error) {
	tk := s.begin(key)
	flag := "0"
	if prepend {
		flag = "1"
	}
	reply, err := s.run(key, appendScript, fragment, flag, strconv.Itoa(maxRunes), expiryMode(expireAt))
	switch {
	case isReply(err, "TOOLONG"):
		return "", cache.ErrValueTooLong
	case err != nil:
		return "", err
	}
	s.settle(key, tk, reply[0], reply[1])
	return reply[0].ToString()
}

// isReply reports whether err is the script's error reply code.
func isReply(err error, code string) bool {
	re, ok := rueidis.IsRedisErr(err)
	return ok && strings.HasPrefix(re.Error(), code)
}

// Delete removes key everywhere and reports whether it was there.
func (s *Store) Delete(key string) (bool, error) {
	_, found, err := s.del(key, false)
	return found, err
}

// GetDelete removes key and returns the value it had.
func (s *Store) GetDelete(key string) (string, bool, error) { return s.del(key, true) }

func (s *Store) del(key string, returnValue bool) (string, bool, error) {
	tk := s.begin(key)
	flag := "0"
	if returnValue {
		flag = "1"
	}
	reply, err := s.run(key, deleteScript, flag)
	if err != nil {
		return "", false, err
	}
	s.remember(key, tk, "", false, 0, true)
	existed, _ := reply[0].AsInt64()
	old, _ := reply[1].ToString()
	return old, existed == 1, nil
}

// Expire changes the expiry of an existing key; see cache.Cache.Expire.
func (s *Store) Expire(key string, expireAt int64) (bool, error) {
	_, changed, err := s.ExpireIf(key, expireAt, cache.ExpireAlways)
	return changed, err
}

// ExpireIf is Expire when cond allows it for the key's current expiry. The
// shared store checks cond and changes the expiry in one script, so no other
// writer gets in between, as in Redis itself. It compares whole milliseconds,
// the shared store's precision.
func (s *Store) ExpireIf(key string, expireAt int64, cond cache.ExpireCondition) (existed, changed bool, err error) {
	tk := s.begin(key)
	reply, err := s.run(key, expireScript, expireConditionArg(cond), expiryMode(expireAt))
	if err != nil {
		return false, false, err
	}
	e, _ := reply[0].AsInt64()
	c, _ := reply[1].AsInt64()
	if c == 1 {
		s.remember(key, tk, "", false, 0, true) // the next read fetches the new expiry
	}
	return e == 1, c == 1, nil
}

// expireConditionArg is expireScript's condition argument: the EXPIRE options
// cond stands for, as one word ("xxgt"), or "always".
func expireConditionArg(cond cache.ExpireCondition) string {
	arg := ""
	for _, opt := range []struct {
		flag cache.ExpireCondition
		name string
	}{{cache.ExpireIfNone, "nx"}, {cache.ExpireIfSet, "xx"}, {cache.ExpireIfLater, "gt"}, {cache.ExpireIfEarlier, "lt"}} {
		if cond&opt.flag != 0 {
			arg += opt.name
		}
	}
	if arg == "" {
		return "always"
	}
	return arg
}

// Flush removes every key under the prefix from the shared store (never
// FLUSHALL: other deployments may share it), then every local copy here and,
// through the invalidation, on the other instances.
func (s *Store) Flush() error {
	err := s.callWithin(bulkTimeout(s.timeout), func(ctx context.Context, c rueidis.Client) error {
		if err := eachPrimary(ctx, c, func(node rueidis.Client) error { return s.unlinkPrefix(ctx, c, node) }); err != nil {
			return err
		}
		return c.Do(ctx, c.B().Publish().Channel(s.channel).Message(s.id+opFlush).Build()).Error()
	})
	if err != nil {
		return err // keep the local copies: they are all reads can fall back to
	}
	s.forgetAll()
	s.resyncs.Add(1)
	return nil
}

// Stats are the local cache's counters with the shared tier's beside them.
func (s *Store) Stats() cache.Stats {
	st := s.local.Stats()
	s.refreshKeyCount()
	st.Shared = &cache.SharedStats{
		Connected:     s.healthy.Load(),
		Keys:          s.sharedKeys.Load(),
		LocalHits:     s.localHits.Load(),
		SharedHits:    s.sharedHits.Load(),
		SharedMisses:  s.sharedMisses.Load(),
		StaleReads:    s.staleReads.Load(),
		Unavailable:   s.unavailable.Load(),
		Invalidations: s.invalidations.Load(),
		Resyncs:       s.resyncs.Load(),
	}
	return st
}

func formatInt(n int64) string { return strconv.FormatInt(n, 10) }
