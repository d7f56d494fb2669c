// Package tier puts warmkv's in-process cache in front of a Redis-protocol store
// (Redis, Valkey, a Redis Cluster, Upstash) that several instances share, so that
// each sees the others' writes.
//
// Writes run in the shared store first, each as one Lua script that also
// publishes an invalidation, and then update the local cache. Reads are answered
// by the local copy while it is fresh (younger than LocalTTL and while the
// invalidation subscription is up), else by the shared store, which refreshes
// the local copy. An instance drops its local copy of a key when another
// instance's invalidation arrives, and all of them when its subscription
// (re)starts, since it may have missed messages in between.
//
// When the shared store does not answer within Timeout, reads fall back to the
// local copy, however old, with cache.ErrStale, and everything else fails with
// cache.ErrUnavailable; a background probe notices the store's return.
package tier

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/warmkv/warmkv/cache"
)

var _ cache.Store = (*Store)(nil)

// Options configure a Store. Local and Dial are required.
type Options struct {
	// Local is this instance's cache. The Store owns its contents: values are
	// kept with the time they were fetched, so nothing else may write to it.
	Local *cache.Cache
	// Dial connects to the shared store (see Dialer); the Store dials again in
	// the background until it succeeds, so it can start while the store is down.
	Dial func() (rueidis.Client, error)
	// Prefix starts every key written to the shared store and the invalidation
	// channel's name, so that deployments can share one Redis.
	Prefix string
	// LocalTTL bounds how long a local copy is trusted without asking the
	// shared store; 0 asks it on every read (the local copy then serves only
	// when the shared store is unavailable).
	LocalTTL time.Duration
	// Timeout bounds each call to the shared store; 0 means one second.
	Timeout time.Duration
	// Logger reports connection changes; nil logs nothing.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now. Tests move it.
	Now func() time.Time
}

// Store is a cache.Store shared between instances. Build one with New.
type Store struct {
	local    *cache.Cache
	dial     func() (rueidis.Client, error)
	conn     atomic.Pointer[connection] // nil until dialled
	prefix   string
	channel  string
	id       string // this instance, in its invalidation messages
	localTTL int64  // ns
	timeout  time.Duration
	log      *slog.Logger
	now      func() time.Time

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	healthy    atomic.Bool // the last call reached the shared store
	probeMu    sync.Mutex  // guards probing and closed, so no probe starts after Close
	probing    bool
	closed     bool
	subscribed atomic.Bool // the invalidation subscription is confirmed

	stripes [stripeCount]stripe

	scratches sync.Pool // *cache.Cache: transactions' copies of their keys (txn.go)

	keysCountedAt atomic.Int64 // ns; when the shared key count was last refreshed
	keysCountTook atomic.Int64 // ns; how long that took
	counting      atomic.Bool
	sharedKeys    atomic.Int64

	localHits, sharedHits, sharedMisses, staleReads atomic.Uint64
	unavailable, invalidations, resyncs             atomic.Uint64
}

// stripeCount stripes the generations that keep a slow reply from overwriting
// a newer local copy; enough that unrelated keys rarely share one.
const stripeCount = 256

// stripe serialises updates of the local copies of its keys. gen changes each
// time one of them changes (here or, by invalidation, elsewhere): a reply read
// under an older gen may be older than the local copy and is not stored.
type stripe struct {
	mu  sync.Mutex
	gen uint64
	_   [48]byte // one cache line each: stripes are locked from every core
}

// connection is a dialled client; a pointer to it swaps atomically.
type connection struct{ rueidis.Client }

// New builds a Store, dials the shared store, subscribes to invalidations and
// watches the connection. It does not fail when the shared store is down: the
// Store then starts unavailable and recovers when the store answers.
func New(o Options) (*Store, error) {
	if o.Local == nil || o.Dial == nil {
		return nil, errors.New("tier: Options.Local and Options.Dial are required")
	}
	if o.LocalTTL < 0 {
		return nil, fmt.Errorf("tier: LocalTTL %v is negative", o.LocalTTL)
	}
	if o.Timeout <= 0 {
		o.Timeout = time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	ctx, cancel := context.WithCancel(context.Background())
	s := &Store{
		local: o.Local, dial: o.Dial, prefix: o.Prefix, channel: o.Prefix + channelSuffix,
		id: hex.EncodeToString(id[:]), localTTL: int64(o.LocalTTL), timeout: o.Timeout,
		log: o.Logger, now: o.Now, ctx: ctx, cancel: cancel,
	}
	s.sharedKeys.Store(-1)
	if err := s.ping(); err != nil {
		// A store that answers with an error (a wrong password, say) will not
		// get better by waiting: that is a configuration error. Silence might.
		if reply, isReply := rueidis.IsRedisErr(err); isReply {
			s.Close()
			return nil, fmt.Errorf("the shared tier refused the connection: %w", reply)
		}
		s.log.Warn("shared tier unavailable at start; retrying in the background", "err", err)
		s.markDown(err)
	} else {
		s.healthy.Store(true)
	}
	return s, nil
}

// Close stops the Store's background work and closes the client.
func (s *Store) Close() {
	s.probeMu.Lock()
	s.closed = true
	s.probeMu.Unlock()
	s.cancel()
	if c := s.conn.Load(); c != nil {
		c.Close()
	}
	s.wg.Wait()
}

// client is the dialled client, nil before the first successful dial.
func (s *Store) client() rueidis.Client {
	if c := s.conn.Load(); c != nil {
		return c.Client
	}
	return nil
}

// ping dials if need be, then PINGs within the timeout; the first successful
// dial starts the invalidation subscription.
func (s *Store) ping() error {
	c := s.client()
	if c == nil {
		dialled, err := s.dial()
		if err != nil {
			return err
		}
		if !s.conn.CompareAndSwap(nil, &connection{dialled}) {
			dialled.Close()
		} else {
			s.goBackground(s.subscribe)
		}
		c = s.client()
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.timeout)
	defer cancel()
	return c.Do(ctx, c.B().Ping().Build()).Error()
}

// goBackground runs fn in a goroutine that Close waits for, unless closed.
func (s *Store) goBackground(fn func()) bool {
	s.probeMu.Lock()
	defer s.probeMu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn()
	}()
	return true
}

// Local is the local cache, for its own counters and its bounds.
func (s *Store) Local() *cache.Cache { return s.local }

// Connected reports whether the shared store answered the last call.
func (s *Store) Connected() bool { return s.healthy.Load() }

// call runs fn against the shared store within the timeout; a failure that is
// not the store's own error reply marks it down and becomes ErrUnavailable.
// While it is down, calls fail at once: the probe finds out when it is back.
func (s *Store) call(fn func(ctx context.Context, c rueidis.Client) error) error {
	return s.callWithin(s.timeout, fn)
}

func (s *Store) callWithin(timeout time.Duration, fn func(ctx context.Context, c rueidis.Client) error) error {
	c := s.client()
	if c == nil {
		s.unavailable.Add(1)
		return cache.ErrUnavailable
	}
	return s.roundTrip(timeout, func(ctx context.Context) error { return fn(ctx, c) })
}

// roundTrip runs fn within the timeout, failing at once while the shared
// store is marked down, and maps its failure as call does.
func (s *Store) roundTrip(timeout time.Duration, fn func(ctx context.Context) error) error {
	if !s.healthy.Load() {
		s.unavailable.Add(1)
		return cache.ErrUnavailable
	}
	ctx, cancel := context.WithTimeout(s.ctx, timeout)
	err := fn(ctx)
	cancel()
	if err == nil || rueidis.IsRedisNil(err) {
		return err
	}
	if reply, isReply := rueidis.IsRedisErr(err); isReply {
		return replyError(reply)
	}
	s.markDown(err)
	s.unavailable.Add(1)
	return fmt.Errorf("%w: %w", cache.ErrUnavailable, err) // both stay visible to errors.Is and errors.As
}

// key is the shared store's name of key.
func (s *Store) key(key string) string { return s.prefix + key }

// --- local copies ---

// Local values carry the time they were fetched, in front of the value: the
// cache keeps one expiry per entry, and that is the key's real expiry.
const stampLen = 8

func stamp(at int64, value string) string {
	var b strings.Builder
	b.Grow(stampLen + len(value))
	for i := range stampLen {
		b.WriteByte(byte(at >> (8 * i)))
	}
	b.WriteString(value)
	return b.String()
}

func unstamp(local string) (at int64, value string) {
	if len(local) < stampLen {
		return 0, ""
	}
	for i := range stampLen {
		at |= int64(local[i]) << (8 * i)
	}
	return at, local[stampLen:]
}

func (s *Store) stripeOf(key string) *stripe {
	// FNV-1a: cheap, and the stripes need spread, not secrecy.
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h = (h ^ uint32(key[i])) * 16777619
	}
	return &s.stripes[h%stripeCount]
}

// ticket is taken before a call to the shared store: the key's stripe
// generation then, and the time, which stamps what the call brings back.
type ticket struct {
	gen uint64
	at  int64 // ns; the answer is at least this fresh, not fresher
}

func (s *Store) begin(key string) ticket {
	st := s.stripeOf(key)
	st.mu.Lock()
	g := st.gen
	st.mu.Unlock()
	return ticket{gen: g, at: s.now().UnixNano()}
}

// remember stores what the shared store answered as the local copy, unless the
// key changed locally since the ticket was taken, in which case the answer may
// be older than what happened since and the local copy is dropped instead. A
// write (changed) moves the generation on, so that slower replies do not
// overwrite it. The copy is stamped with the ticket's time, from before the
// call: LOCAL_TTL then bounds its age from when the store could have answered.
func (s *Store) remember(key string, tk ticket, value string, found bool, expireAt int64, changed bool) {
	st := s.stripeOf(key)
	st.mu.Lock()
	switch {
	case st.gen != tk.gen || !found:
		_, _ = s.local.Delete(key)
	default:
		// The local cache keeps the key: copy it out of any caller's buffer.
		_ = s.local.Set(strings.Clone(key), stamp(tk.at, value), expireAt)
	}
	if changed {
		st.gen++
	}
	st.mu.Unlock()
}

// forget drops the local copy of key: another instance changed it.
func (s *Store) forget(key string) {
	st := s.stripeOf(key)
	st.mu.Lock()
	_, _ = s.local.Delete(key)
	st.gen++
	st.mu.Unlock()
}

// forgetAll drops every local copy.
func (s *Store) forgetAll() {
	for i := range s.stripes {
		s.stripes[i].mu.Lock()
	}
	_ = s.local.Flush()
	for i := range s.stripes {
		s.stripes[i].gen++
		s.stripes[i].mu.Unlock()
	}
}

// --- expiry conversions: the cache counts Unix ns, Redis ms ---

// expiryMode is a script's expiry argument for a cache expiry.
func expiryMode(expireAt int64) string {
	switch expireAt {
	case cache.KeepTTL:
		return "keep"
	case 0:
		return "none"
	}
	// Redis refuses 0 and wants whole ms; anything in the past deletes anyway.
	return formatInt(max(expireAt/1e6, 1))
}

// expiryFromRedis turns PEXPIRETIME (ms; -1 none) into a cache expiry.
func expiryFromRedis(ms int64) int64 {
	if ms < 0 {
		return 0
	}
	return ms * 1e6
}

// replyError maps the shared store's error replies that describe its state,
// not the request, to the cache's errors: a full store refuses like a full
// cache, and one that is loading, failing over or busy is unavailable for now
// (without probing: it answers, just not yet).
func replyError(reply *rueidis.RedisError) error {
	msg := reply.Error()
	code, _, _ := strings.Cut(msg, " ")
	switch code {
	case "OOM":
		return fmt.Errorf("%w: %w", cache.ErrTooLarge, reply)
	case "LOADING", "BUSY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "READONLY", "NOREPLICAS":
		return fmt.Errorf("%w: %w", cache.ErrUnavailable, reply)
	}
	return reply
}
