// Package resp is warmkv's Redis-protocol door: it speaks RESP2, and RESP3 after
// HELLO 3, so that redis-cli, redis-benchmark and Redis client libraries can use
// the cache directly, on the same cache.Store as the HTTP API.
//
// It implements the string subset of Redis that fits a cache of strings (GET,
// SET with all its options, MGET, MSET, INCR, APPEND, EXPIRE, TTL, SCAN, ...),
// plus what clients and tools ask a server on connecting (HELLO, AUTH, CLIENT,
// COMMAND, CONFIG GET, INFO). Replies and error texts follow Redis 7's, so that
// code written against Redis behaves the same. Values are any bytes, as in
// Redis, up to MaxValueBytes; keys obey the HTTP API's limits (a length in
// characters, valid UTF-8 only), so that every key has an HTTP spelling.
//
// The protocol layer is its own rather than github.com/tidwall/redcon's, for
// three measured or needed reasons. It parses commands in place in each
// connection's read buffer, with no copy or allocation per command: with
// redis-benchmark -P 16 on two cores that took 25-30% less server CPU per SET
// and 10-20% less per GET than redcon v1.6.2. On Linux it serves connections
// from epoll event loops as Redis does (see serve_epoll_linux.go), which one
// request at a time per connection needs to keep up with Redis. And it
// enforces the limits a server facing untrusted clients needs (command size,
// argument count, connections, time to send a command) before buffering
// anything, where redcon's reader grows without bound.
package resp

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/warmkv/warmkv/cache"
)

// Keys lists the entries of a store, shard by shard; *cache.Cache implements it.
// KEYS and SCAN need it (SCAN's cursor is a shard number), and INFO counts the
// keys that have an expiry with it. Without it KEYS and SCAN answer an error.
type Keys interface {
	ShardCount() int
	Dump(shard int, dst []cache.Item) []cache.Item
}

// Snapshots writes the cache to disk for SAVE, BGSAVE and LASTSAVE; the door
// adapts snapshot.Saver to it. Without it those commands answer an error.
type Snapshots interface {
	// Snapshot writes one now and returns once it is on disk.
	Snapshot() error
	// LastSave is when the last successful snapshot was taken; zero if none.
	LastSave() time.Time
	// InProgress reports whether one is being written.
	InProgress() bool
}

// Options configure a Server. Store is required; a zero limit takes its default.
type Options struct {
	Store     cache.Store
	Keys      Keys
	Snapshots Snapshots

	// MaxKeyLength is in characters (Unicode code points), as for the HTTP
	// API: keys are UTF-8 text, so that every key can be named over HTTP.
	MaxKeyLength int
	// MaxValueBytes bounds a value in bytes; values are any bytes, as in
	// Redis. 0 means 512 MiB, Redis's proto-max-bulk-len. A longer value, or
	// one the store cannot hold, is refused with Redis's -OOM error.
	MaxValueBytes int

	// AuthToken, when set, must be given with AUTH or HELLO ... AUTH before any
	// other command.
	AuthToken string

	// MaxClients bounds open connections (default 10000, Redis's maxclients).
	MaxClients int
	// MaxArgs bounds the arguments of one command, its name included (default 65536).
	MaxArgs int
	// MaxCommandBytes bounds one command as sent, framing included (default 1
	// MiB, or what a SET of the longest key and value needs if that is more).
	MaxCommandBytes int
	// MaxBufferBytes bounds the bytes that all connections buffer together
	// (commands being received, replies being sent) beyond the 4 KiB read
	// buffer each starts with; a connection that would go past it is told so
	// and closed. 0 means no bound.
	MaxBufferBytes int64

	// ReadTimeout is the time a client has to send the rest of a command once
	// its first byte has arrived (bytes trickling in do not extend it; each
	// command completed restarts it). 0 leaves half a command to IdleTimeout.
	ReadTimeout time.Duration
	// IdleTimeout closes connections idle between commands for that long and,
	// without a ReadTimeout, those stalled that long in the middle of one; 0
	// keeps idle ones, as Redis's default "timeout 0" does, since client
	// pools keep connections open for long.
	IdleTimeout time.Duration
	// WriteTimeout bounds writing one batch of replies to a client; 0 means no limit.
	WriteTimeout time.Duration
	// AuthTimeout closes a connection that has not authenticated that long
	// after it was accepted, when AuthToken is set; 0 never does.
	AuthTimeout time.Duration

	// EventLoops is the number of epoll event loops serving TCP connections
	// on Linux. 0 means half of GOMAXPROCS, at least one: like Redis, a loop
	// on its own serves a core's worth of commands, and the clients (or the
	// HTTP API) need the other cores. Negative serves every connection with
	// a goroutine instead, as on other platforms.
	EventLoops int
	// BusyPoll is how long an event loop keeps polling for more work after a
	// busy wake-up before it sleeps (serve_epoll_linux.go, "Busy polling");
	// 0 sleeps at once, as Redis does.
	BusyPoll time.Duration

	// ScriptBusyTime is how long a script runs before the operations waiting
	// for its keys are refused with BUSY and SCRIPT KILL may stop it
	// (default 5s, Redis's busy-reply-threshold).
	ScriptBusyTime time.Duration
	// ScriptMaxMemory bounds what one script holds (default 64 MiB), and
	// ScriptCacheBytes the source of the scripts kept for EVALSHA (16 MiB).
	ScriptMaxMemory  int
	ScriptCacheBytes int

	// Version is warmkv's version, reported by INFO.
	Version string
	// Logger receives connection-level events at Debug level and accept errors
	// at Warn; nil discards them.
	Logger *slog.Logger
	// Now is the clock for expiry arguments and TTLs; nil means time.Now. It
	// must agree with the store's clock.
	Now func() time.Time
}

const (
	defaultMaxClients      = 10000
	defaultMaxArgs         = 1 << 16
	defaultMaxCommandBytes = 1 << 20
	defaultMaxValueBytes   = 512 << 20 // Redis's proto-max-bulk-len
	// commandSyntaxBytes is what a SET needs beside its key and value: the
	// longest options ("PXAT 9223372036854775807 NX GET") and the framing.
	commandSyntaxBytes = 256
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("resp: server closed")

// Server serves the Redis protocol. It is safe for concurrent use.
type Server struct {
	// store and keyList are the server's; commands use their connection's
	// (conn.kv, conn.keys), which a transaction replaces with its own.
	store    cache.Store
	keyList  Keys
	snaps    Snapshots
	maxKey   int
	maxValue int // bytes
	lim      limits
	authHash [sha256.Size]byte
	authOn   bool
	maxConns int
	readTO   time.Duration
	idleTO   time.Duration
	writeTO  time.Duration
	authTO   time.Duration
	version  string
	log      *slog.Logger
	now      func() time.Time
	started  time.Time
	runID    string

	buffers  bufferBudget
	scripts  *scriptEngine
	monitors monitorSet

	// Precomputed refusals, so that the hot path formats nothing.
	msgKeyTooLong string

	// loops are the epoll event loops (Linux), started by the first Serve.
	loops     []*eventLoop
	nextLoop  int
	loopCount int // 0: a goroutine per connection
	busyPoll  time.Duration

	mu         sync.Mutex
	listeners  map[net.Listener]struct{}
	conns      map[*conn]struct{}
	connWG     sync.WaitGroup
	inShutdown atomic.Bool

	// beforeCommand, when set (by tests, before Serve), runs before each command.
	beforeCommand func(args [][]byte)

	nextID        atomic.Int64
	totalConns    atomic.Int64
	rejectedConns atomic.Int64

	stats *commandStats // per-command counts (stats.go)
}

// New checks the options and builds a server; Serve starts it.
func New(o Options) (*Server, error) {
	if o.Store == nil {
		return nil, errors.New("resp: Options.Store is required")
	}
	if o.MaxKeyLength < 1 {
		return nil, fmt.Errorf("resp: MaxKeyLength must be at least 1, got %d", o.MaxKeyLength)
	}
	if o.MaxValueBytes < 0 || o.MaxClients < 0 || o.MaxArgs < 0 || o.MaxCommandBytes < 0 || o.MaxBufferBytes < 0 ||
		o.ReadTimeout < 0 || o.IdleTimeout < 0 || o.WriteTimeout < 0 || o.AuthTimeout < 0 ||
		o.ScriptBusyTime < 0 || o.ScriptMaxMemory < 0 || o.ScriptCacheBytes < 0 {
		return nil, errors.New("resp: limits and timeouts must not be negative")
	}
	maxValue := cmp0(o.MaxValueBytes, defaultMaxValueBytes)
	largestSet := 4*o.MaxKeyLength + maxValue + commandSyntaxBytes
	s := &Server{
		store:     o.Store,
		keyList:   o.Keys,
		snaps:     o.Snapshots,
		maxKey:    o.MaxKeyLength,
		maxValue:  maxValue,
		maxConns:  cmp0(o.MaxClients, defaultMaxClients),
		readTO:    o.ReadTimeout,
		idleTO:    o.IdleTimeout,
		writeTO:   o.WriteTimeout,
		version:   o.Version,
		log:       o.Logger,
		now:       o.Now,
		listeners: make(map[net.Listener]struct{}),
		conns:     make(map[*conn]struct{}),
		stats:     newCommandStats(),
		buffers:   bufferBudget{max: o.MaxBufferBytes},
		lim: limits{
			maxArgs:    cmp0(o.MaxArgs, defaultMaxArgs),
			maxCommand: cmp0(o.MaxCommandBytes, max(defaultMaxCommandBytes, largestSet)),
			maxInline:  inlineMaxBytes,
		},
	}
	if s.readTO == 0 {
		// Otherwise a client that sends half a command and stops would escape
		// IdleTimeout, which the drivers apply only with nothing buffered.
		s.readTO = s.idleTO
	}
	s.busyPoll = max(0, o.BusyPoll)
	switch {
	case o.EventLoops > 0:
		s.loopCount = o.EventLoops
	case o.EventLoops == 0:
		s.loopCount = max(1, runtime.GOMAXPROCS(0)/2)
	}
	if !epollSupported {
		s.loopCount = 0
	}
	if s.lim.maxArgs < 3 {
		return nil, fmt.Errorf("resp: MaxArgs must be at least 3, got %d", s.lim.maxArgs)
	}
	if s.lim.maxCommand < largestSet {
		return nil, fmt.Errorf("resp: MaxCommandBytes %d cannot hold a SET of the longest key and value (%d bytes)",
			s.lim.maxCommand, largestSet)
	}
	if b := s.buffers.max; b > 0 && b < int64(s.lim.maxCommand) {
		return nil, fmt.Errorf("resp: MaxBufferBytes %d cannot hold the largest command (%d bytes)", b, s.lim.maxCommand)
	}
	if o.AuthToken != "" {
		s.authOn = true
		s.authHash = sha256.Sum256([]byte(o.AuthToken))
		s.authTO = o.AuthTimeout
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.started = s.now()
	s.scripts = newScriptEngine(o, s.log)
	var id [20]byte
	_, _ = rand.Read(id[:])
	s.runID = hex.EncodeToString(id[:])
	s.msgKeyTooLong = fmt.Sprintf("ERR key must be at most %d characters", s.maxKey)
	return s, nil
}

func cmp0(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// Serve accepts connections on ln until Shutdown or Close, serving each in its
// own goroutine. It always returns a non-nil error: ErrServerClosed after
// Shutdown or Close.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.inShutdown.Load() {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.startLoops()
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()

	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.inShutdown.Load() {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// Out of file descriptors, or a connection reset before it was
			// accepted: wait a little and go on, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("resp: accept failed; retrying", "err", err, "retry_in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		if c := s.admit(nc); c != nil {
			go c.serveGoroutine()
		}
	}
}

// startLoops starts the epoll event loops where they exist, once; if that
// fails, connections are served by goroutines. Called with mu held.
func (s *Server) startLoops() {
	if s.loops != nil || s.loopCount == 0 {
		return
	}
	for range s.loopCount {
		l, err := newEventLoop(s)
		if err != nil {
			s.log.Warn("resp: cannot start an event loop; serving with a goroutine per connection", "err", err)
			break
		}
		s.loops = append(s.loops, l)
	}
	if s.loops == nil {
		s.loopCount = 0
	}
}

// admit registers a new connection and hands it to an event loop, or returns
// it for the caller to serve with a goroutine. It refuses the connection when
// the server is full or shutting down.
func (s *Server) admit(nc net.Conn) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inShutdown.Load() {
		nc.Close()
		return nil
	}
	if len(s.conns) >= s.maxConns {
		s.rejectedConns.Add(1)
		// As Redis does: say why, then close. The write goes to an empty
		// socket buffer, so it does not block; the deadline makes sure.
		_ = nc.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		_, _ = nc.Write([]byte("-ERR max number of clients reached\r\n"))
		nc.Close()
		s.log.Debug("resp: connection refused: max clients reached", "remote", nc.RemoteAddr().String(), "max_clients", s.maxConns)
		return nil
	}
	c := newConn(s, nc)
	s.conns[c] = struct{}{}
	s.connWG.Add(1)
	s.totalConns.Add(1)
	if len(s.loops) > 0 {
		i := s.nextLoop % len(s.loops)
		s.nextLoop++
		c.stats = s.stats.stripes[i%len(s.stats.stripes)] // the loop's own, before it may run commands
		if s.loops[i].attach(c, nc) {
			return nil
		}
		c.stats = s.stats.forConn(c.id)
	}
	c.nc = nc
	return c
}

// release unregisters c, closes its socket with closeSocket, then counts it
// gone for Shutdown, in that order: a client that has seen its connection
// close no longer appears in INFO, and Shutdown returns only once every
// socket is closed.
func (s *Server) release(c *conn, closeSocket func()) {
	c.endSession()
	s.mu.Lock()
	delete(s.conns, c)
	if c.mon != nil {
		c.stopMonitor()
	}
	s.mu.Unlock()
	c.releaseBuffers()
	closeSocket()
	s.connWG.Done()
}

// aLongTimeAgo is a read deadline that has passed: it wakes a connection blocked
// in Read.
var aLongTimeAgo = time.Unix(1, 0)

// Shutdown stops accepting connections, lets every connection finish the
// commands it has fully received and write their replies, then closes it. It
// returns once all connections are closed, or when ctx ends; remaining
// connections are then closed at once and ctx's error is returned.
func (s *Server) Shutdown(ctx context.Context) error {
	// The flag is set before the deadlines: a connection that sets its own read
	// deadline checks the flag afterwards (conn.awaitInput), so either it sees
	// the flag or its deadline is overwritten by this one.
	s.inShutdown.Store(true)
	s.mu.Lock()
	for ln := range s.listeners {
		ln.Close()
	}
	for c := range s.conns {
		if c.nc != nil {
			_ = c.nc.SetReadDeadline(aLongTimeAgo)
		}
	}
	for _, l := range s.loops {
		l.wake()
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() {
		s.connWG.Wait()
		close(done)
	}()
	select {
	case <-done:
		s.stopLoops(true)
		return nil
	case <-ctx.Done():
		// A loop may be inside a long command (KEYS on a huge store): it
		// closes its connections and stops when that command returns.
		s.closeConns()
		s.stopLoops(false)
		return ctx.Err()
	}
}

// Close closes the listeners and every connection at once.
func (s *Server) Close() error {
	s.inShutdown.Store(true)
	s.mu.Lock()
	for ln := range s.listeners {
		ln.Close()
	}
	s.mu.Unlock()
	s.closeConns()
	s.stopLoops(false)
	return nil
}

// closeConns closes every connection at once, and stops the scripts running.
func (s *Server) closeConns() {
	s.scripts.stopAll()
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.nc != nil {
			c.nc.Close()
		}
	}
	for _, l := range s.loops {
		l.closeAll()
	}
}

// stopLoops ends the event loops, which close what they still hold, and
// waits for them if asked.
func (s *Server) stopLoops(wait bool) {
	s.mu.Lock()
	loops := s.loops
	s.mu.Unlock()
	for _, l := range loops {
		l.terminate(wait)
	}
}

// counters is a snapshot of the server's own statistics, for INFO.
type counters struct {
	connected, total, rejected, commands int64
}

func (s *Server) counters() counters {
	s.mu.Lock()
	defer s.mu.Unlock()
	return counters{
		connected: int64(len(s.conns)),
		total:     s.totalConns.Load(),
		rejected:  s.rejectedConns.Load(),
		commands:  s.commandsProcessed(),
	}
}
