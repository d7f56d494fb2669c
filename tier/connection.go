package tier

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/redis/rueidis"
)

// Invalidation messages are the publishing instance's id, an operation and,
// for opKey, the key (unprefixed).
const (
	channelSuffix = "__invalidate"
	opKey         = "k" // one key changed
	opFlush       = "f" // every key under the prefix went
	idLen         = 16  // hex characters of an instance id
)

// probeInterval is how often a Store that lost the shared store asks again.
const probeInterval = 250 * time.Millisecond

// markDown records that the shared store did not answer and starts the probe
// that brings it back.
func (s *Store) markDown(err error) {
	if s.healthy.Swap(false) {
		s.log.Warn("shared tier unavailable: reads fall back to local copies, writes are refused until it answers", "err", err)
	}
	s.probeMu.Lock()
	start := !s.probing
	s.probing = true
	s.probeMu.Unlock()
	if start && !s.goBackground(s.probe) {
		s.probeMu.Lock()
		s.probing = false // closed: nothing to bring back
		s.probeMu.Unlock()
	}
}

// probe PINGs until the shared store answers, then drops every local copy
// (other instances' invalidations may have been lost meanwhile) and lets
// calls through again.
func (s *Store) probe() {
	defer func() {
		s.probeMu.Lock()
		s.probing = false
		s.probeMu.Unlock()
	}()
	t := time.NewTicker(probeInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		if err := s.ping(); err != nil {
			continue
		}
		s.forgetAll()
		s.resyncs.Add(1)
		s.healthy.Store(true)
		s.log.Info("shared tier answers again")
		return
	}
}

// subscribe keeps the invalidation subscription up for the Store's lifetime.
// Each confirmation, the first and every one after a reconnect, drops the local
// copies: messages sent while it was down are lost, and old copies with them.
func (s *Store) subscribe() {
	c := s.client()
	onSubscribed := func(sub rueidis.PubSubSubscription) {
		if sub.Kind != "subscribe" {
			return
		}
		s.forgetAll()
		s.resyncs.Add(1)
		s.subscribed.Store(true)
		s.log.Debug("subscribed to invalidations", "channel", sub.Channel)
	}
	for s.ctx.Err() == nil {
		ctx := rueidis.WithOnSubscriptionHook(s.ctx, onSubscribed)
		err := c.Receive(ctx, c.B().Subscribe().Channel(s.channel).Build(), s.onMessage)
		s.subscribed.Store(false)
		if s.ctx.Err() != nil || errors.Is(err, rueidis.ErrClosing) {
			return
		}
		s.log.Warn("invalidation subscription lost; local copies are not trusted until it is back", "err", err)
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(probeInterval):
		}
	}
}

// onMessage drops what another instance's message says changed.
func (s *Store) onMessage(m rueidis.PubSubMessage) {
	msg := m.Message
	if len(msg) < idLen+1 || msg[:idLen] == s.id {
		return // malformed, or our own: our local copy is already up to date
	}
	switch msg[idLen : idLen+1] {
	case opKey:
		s.forget(msg[idLen+1:])
		s.invalidations.Add(1)
	case opFlush:
		s.forgetAll()
		s.resyncs.Add(1)
	}
}

// bulkTimeout bounds the calls that walk the whole keyspace (flush, counting).
func bulkTimeout(t time.Duration) time.Duration { return max(30*time.Second, 10*t) }

// eachPrimary runs fn on every primary of a Redis Cluster, or on the one
// server otherwise: SCAN sees only the keys of the node it runs on.
func eachPrimary(ctx context.Context, c rueidis.Client, fn func(node rueidis.Client) error) error {
	nodes := c.Nodes()
	for _, node := range nodes {
		if len(nodes) > 1 {
			role, err := node.Do(ctx, node.B().Role().Build()).ToArray()
			if err != nil {
				return err
			}
			if len(role) == 0 {
				continue
			}
			if r, _ := role[0].ToString(); r != "master" {
				continue // a replica holds its primary's keys again
			}
		}
		if err := fn(node); err != nil {
			return err
		}
	}
	return nil
}

// scanPrefix calls fn with each batch of keys under the prefix on node.
func (s *Store) scanPrefix(ctx context.Context, node rueidis.Client, fn func(keys []string) error) error {
	pattern := escapeGlob(s.prefix) + "*"
	var cursor uint64
	for {
		page, err := node.Do(ctx, node.B().Scan().Cursor(cursor).Match(pattern).Count(1000).Build()).AsScanEntry()
		if err != nil {
			return err
		}
		if len(page.Elements) > 0 {
			if err := fn(page.Elements); err != nil {
				return err
			}
		}
		if cursor = page.Cursor; cursor == 0 {
			return nil
		}
	}
}

// unlinkPrefix deletes the keys under the prefix that node holds. Each key is
// its own UNLINK through the cluster-aware client, since one UNLINK may name
// keys of one hash slot only.
func (s *Store) unlinkPrefix(ctx context.Context, c, node rueidis.Client) error {
	return s.scanPrefix(ctx, node, func(keys []string) error {
		cmds := make(rueidis.Commands, 0, len(keys))
		for _, k := range keys {
			cmds = append(cmds, c.B().Unlink().Key(k).Build())
		}
		for _, r := range c.DoMulti(ctx, cmds...) {
			if err := r.Error(); err != nil {
				return err
			}
		}
		return nil
	})
}

// Counting the shared keys walks the whole keyspace with SCAN, which costs
// Redis about 1 ms of CPU per thousand keys: Stats counts at most every
// keyCountEvery, and never more often than keyCountCost times the last count
// took, so that scrapes of a big keyspace cost Redis at most about 1%.
const (
	keyCountEvery = 10 * time.Second
	keyCountCost  = 100
)

// refreshKeyCount counts the keys under the prefix in the background when the
// last count is old; Stats reports the last count meanwhile.
func (s *Store) refreshKeyCount() {
	now := s.now().UnixNano()
	wait := max(int64(keyCountEvery), keyCountCost*s.keysCountTook.Load())
	if now-s.keysCountedAt.Load() < wait || !s.counting.CompareAndSwap(false, true) {
		return
	}
	s.keysCountedAt.Store(now)
	if !s.goBackground(s.countKeys) {
		s.counting.Store(false)
	}
}

func (s *Store) countKeys() {
	defer s.counting.Store(false)
	began := time.Now()
	defer func() { s.keysCountTook.Store(int64(time.Since(began))) }()
	var n int64
	err := s.callWithin(bulkTimeout(s.timeout), func(ctx context.Context, c rueidis.Client) error {
		return eachPrimary(ctx, c, func(node rueidis.Client) error {
			return s.scanPrefix(ctx, node, func(keys []string) error {
				n += int64(len(keys))
				return nil
			})
		})
	})
	if err == nil {
		s.sharedKeys.Store(n)
	}
}

// escapeGlob makes s match itself in a SCAN MATCH pattern.
func escapeGlob(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Dialer returns the Dial of Options for a REDIS_URL: a redis:// or rediss://
// URL (rueidis's form, including its ?addr=host:port for more seeds), or a
// comma-separated list whose first item is such a URL and whose others are
// more seed addresses (host:port or URLs) of the same Redis Cluster. A client
// given several seeds, or a seed that is a cluster node, talks Redis Cluster.
func Dialer(redisURL string, timeout time.Duration) (func() (rueidis.Client, error), error) {
	opt, err := ParseURL(redisURL)
	if err != nil {
		return nil, err
	}
	if timeout <= 0 {
		timeout = time.Second
	}
	opt.DisableCache = true // no RESP3 client-side caching: Upstash lacks it, and the local cache does that job
	opt.Dialer.Timeout = timeout
	opt.ConnWriteTimeout = timeout
	opt.ClientName = "warmkv"
	return func() (rueidis.Client, error) { return rueidis.NewClient(opt) }, nil
}

// ParseURL is Dialer's parsing, exported so that configuration can check a URL
// at start without connecting.
func ParseURL(redisURL string) (opt rueidis.ClientOption, err error) {
	defer func() {
		// net/url's errors quote the URL, and with it any password.
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			err = fmt.Errorf("not a valid URL: %w", ue.Err)
		}
	}()
	items := strings.Split(redisURL, ",")
	opt, err = rueidis.ParseURL(strings.TrimSpace(items[0]))
	if err != nil {
		return opt, err
	}
	for _, item := range items[1:] {
		item = strings.TrimSpace(item)
		if strings.Contains(item, "://") {
			more, err := rueidis.ParseURL(item)
			if err != nil {
				return opt, err
			}
			opt.InitAddress = append(opt.InitAddress, more.InitAddress...)
			continue
		}
		if item == "" || !strings.Contains(item, ":") {
			return opt, fmt.Errorf("seed %q is not host:port", item)
		}
		opt.InitAddress = append(opt.InitAddress, item)
	}
	return opt, nil
}
