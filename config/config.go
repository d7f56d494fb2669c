// Package config reads warmkv's configuration once, at the door, into one
// typed struct.
//
// Everything the service can be told comes from environment variables and is
// validated here, so the rest of the code never parses a string or meets an
// impossible value. Load reports every bad variable at once, each message
// naming the variable, its value and what is allowed.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/warmkv/warmkv/cache"
)

// Deployment is the platform the process runs on.
type Deployment string

// The deployments warmkv knows.
const (
	Standalone Deployment = "standalone" // a long-lived server: go run ., the container
	Lambda     Deployment = "lambda"
	Vercel     Deployment = "vercel"
)

// Config is warmkv's whole configuration.
type Config struct {
	Deployment Deployment

	Port       int    // PORT: 1-65535
	Bind       string // BIND: IP address or hostname to listen on; "" means all interfaces
	Production bool   // APP_ENV=production
	LogLevel   slog.Level

	MaxEntries     int // SIZE: entry bound; 0 means derive it from Memory.Budget
	MaxKeyLength   int // in Unicode code points
	MaxValueLength int // in Unicode code points
	MaxBodyBytes   int // never below the largest valid request for the two lengths above
	MaxHeaderBytes int

	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	ShutdownTimeout   time.Duration

	// MaxInFlight (MAX_IN_FLIGHT) bounds the HTTP requests the standalone server
	// works on at once; past it they get 503 with Retry-After. 0 derives the
	// bound from the cores (see handler.Options.MaxInFlight), -1 turns it off.
	MaxInFlight int
	// MaxConns (MAX_CONNS) bounds the HTTP connections the standalone server
	// holds open; past it a new connection gets 503 with Retry-After and is
	// closed. Unset, it is derived from the memory left beside the cache
	// (ConnsFor); -1 turns it off, leaving the open-file limit as the bound.
	MaxConns int

	Memory Memory

	// The Redis-protocol (RESP) port of the standalone server.
	RespPort       int    // RESP_PORT: 0 turns it off
	RespBind       string // RESP_BIND: loopback unless set, like Redis's protected mode
	RespMaxClients int    // RESP_MAX_CLIENTS: connections beyond it are refused
	RespMaxArgs    int    // RESP_MAX_ARGS: arguments in one command, name included
	// RespMaxValueBytes (RESP_MAX_VALUE_BYTES) bounds a value over RESP, in
	// bytes, any bytes: unset, the smaller of 512 MiB and what one shard of
	// the cache holds (cache.MaxValueBytes). MaxValueLength governs HTTP only.
	RespMaxValueBytes   int
	RespMaxCommandBytes int // RESP_MAX_COMMAND_BYTES: never below the largest valid SET
	// RespMaxBufferBytes (RESP_MAX_BUFFER_BYTES) bounds the bytes buffered by
	// all Redis-protocol connections together; unset, derived from the memory
	// beside the cache (RespBuffersFor).
	RespMaxBufferBytes int
	// RespIdleTimeout (RESP_IDLE_TIMEOUT) closes Redis-protocol connections idle
	// between commands that long; 0, the default, keeps them, as Redis's "timeout 0".
	RespIdleTimeout time.Duration
	// RespBusyPoll (RESP_BUSY_POLL) is how long a Redis-protocol event loop
	// keeps polling for work after a busy wake-up before it sleeps; 0 sleeps
	// at once.
	RespBusyPoll time.Duration
	// RespAuthTimeout (RESP_AUTH_TIMEOUT) closes a connection that has not
	// authenticated that long after connecting, when AuthToken is set; 0 never does.
	RespAuthTimeout time.Duration
	// RespScriptBusyTime (RESP_SCRIPT_BUSY_TIME) is how long a Lua script
	// runs before the operations waiting for its keys, over either protocol,
	// are refused (BUSY, 503) and SCRIPT KILL may stop it.
	RespScriptBusyTime time.Duration

	// AuthToken (AUTH_TOKEN) is the one secret for both protocols: HTTP API calls
	// need "Authorization: Bearer <token>" and RESP clients must AUTH with it;
	// empty means no authentication.
	AuthToken string
	// CORSOrigins (CORS_ORIGINS, comma-separated) may call the HTTP API from a
	// browser page; "*" allows any origin; empty sends no CORS headers.
	CORSOrigins []string

	// Snapshots of the standalone server's cache to disk (package snapshot).
	SnapshotPath     string        // SNAPSHOT_PATH: the snapshot file; "" turns snapshots off
	SnapshotInterval time.Duration // SNAPSHOT_INTERVAL: how often the cache is written there

	// Shared tier (package tier): a Redis-protocol store the instances share.
	RedisURL     string        // REDIS_URL, else KV_URL (Vercel's storage integrations); "" = the local cache alone
	RedisURLVar  string        // which of the two variables RedisURL came from, for messages
	RedisPrefix  string        // REDIS_PREFIX: starts every key warmkv writes there
	LocalTTL     time.Duration // LOCAL_TTL: how long a local copy is trusted without asking; 0 = always ask
	RedisTimeout time.Duration // REDIS_TIMEOUT: bound on each call to the shared tier
}

// Env abstracts the process environment so tests need no real files or
// variables. An empty path skips that source.
type Env struct {
	Getenv     func(string) string // os.Getenv
	CgroupRoot string              // "/sys/fs/cgroup"
	ProcCgroup string              // "/proc/self/cgroup"
	Meminfo    string              // "/proc/meminfo"
}

// OSEnv is the environment of the running process.
func OSEnv() Env {
	return Env{
		Getenv:     os.Getenv,
		CgroupRoot: "/sys/fs/cgroup",
		ProcCgroup: "/proc/self/cgroup",
		Meminfo:    "/proc/meminfo",
	}
}

// Defaults and bounds of the variables Load reads.
const (
	defaultPort           = 7171
	defaultLength         = 256
	maxLength             = 65536
	maxEntries            = 1 << 31
	defaultMaxBodyBytes   = 16 << 10
	defaultMaxHeaderBytes = 8 << 10
	minMaxHeaderBytes     = 1 << 10

	maxMaxInFlight = 1 << 20
	maxMaxConns    = 1 << 24

	defaultRespPort            = 6380
	defaultRespBind            = "127.0.0.1"
	defaultRespMaxClients      = 10000 // Redis's maxclients default
	maxRespMaxClients          = 1000000
	defaultRespMaxArgs         = 1 << 16
	minRespMaxArgs             = 16 // the longest SET and HELLO forms fit
	maxRespMaxArgs             = 1 << 20
	defaultRespMaxCommandBytes = 1 << 20
	maxRespMaxValueBytes       = 512 << 20 // Redis's proto-max-bulk-len
	maxRespMaxCommandBytes     = 1 << 30   // Redis's client-query-buffer-limit
	defaultRespAuthTimeout     = 10 * time.Second
	maxAuthTokenLength         = 1024
)

// The largest valid single-key write over RESP is a SET with the longest key
// (every character 4 bytes of UTF-8) and value, plus the longest options
// ("PXAT 9223372036854775807 NX GET") and the framing of each argument.
const respSyntaxBytes = 256

func minRespCommandBytes(maxKeyLength, maxValueBytes int) int {
	return utf8MaxBytesPerCodePoint*maxKeyLength + maxValueBytes + respSyntaxBytes
}

const utf8MaxBytesPerCodePoint = 4

// A client may write every character of a JSON string as a \uXXXX escape, and
// one above U+FFFF as a surrogate pair, "\ud83d\ude00": 12 bytes for a single
// code point. The body limit must admit that worst case for a key, a value
// and a "compare" value (as long as a value), or the server would reject
// requests that are within the documented length limits.
const (
	maxEscapedBytesPerCodePoint = 12
	// jsonSyntaxBytes covers braces, quotes, colons, commas, the field names
	// and some whitespace around them.
	jsonSyntaxBytes = 256
)

// minBodyBytes is the size of the largest valid request body.
func minBodyBytes(maxKeyLength, maxValueLength int) int {
	return maxEscapedBytesPerCodePoint*(maxKeyLength+2*maxValueLength) + jsonSyntaxBytes
}

// Load reads every variable, validates it and resolves the memory budget.
// On error it returns all problems joined, one per line.
func Load(env Env) (Config, error) {
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	l := &loader{getenv: env.Getenv}

	c := Config{
		Deployment: deploymentOf(l.get),
		Port:       l.integer("PORT", defaultPort, 1, 65535, "a port number 1-65535"),
		Bind:       l.bind(),
		Production: strings.EqualFold(l.get("APP_ENV"), "production"),
		LogLevel:   l.logLevel(),
		MaxEntries: l.integer("SIZE", 0, 0, maxEntries,
			fmt.Sprintf("a whole number of entries 0-%d (0 = derive it from the memory budget)", maxEntries)),
		MaxKeyLength: l.integer("MAX_KEY_LENGTH", defaultLength, 1, maxLength,
			fmt.Sprintf("a number of characters 1-%d", maxLength)),
		MaxValueLength: l.integer("MAX_VALUE_LENGTH", defaultLength, 0, maxLength,
			fmt.Sprintf("a number of characters 0-%d", maxLength)),
		MaxHeaderBytes:    l.size("MAX_HEADER_BYTES", defaultMaxHeaderBytes, minMaxHeaderBytes),
		ReadHeaderTimeout: l.duration("READ_HEADER_TIMEOUT", 5*time.Second),
		ReadTimeout:       l.duration("READ_TIMEOUT", 10*time.Second),
		WriteTimeout:      l.duration("WRITE_TIMEOUT", 10*time.Second),
		IdleTimeout:       l.duration("IDLE_TIMEOUT", 60*time.Second),
		ShutdownTimeout:   l.duration("SHUTDOWN_TIMEOUT", 10*time.Second),
		MaxInFlight: l.integer("MAX_IN_FLIGHT", 0, -1, maxMaxInFlight,
			fmt.Sprintf("a number of requests 1-%d, 0 to derive it from the cores, or -1 for no bound", maxMaxInFlight)),
	}
	c.MaxBodyBytes = l.maxBodyBytes(c.MaxKeyLength, c.MaxValueLength)
	l.resp(&c)
	l.snapshot(&c)
	l.shared(&c)

	var memErrs []error
	c.Memory, memErrs = resolveMemory(env, l.get, c.Deployment)
	l.errs = append(l.errs, memErrs...)
	c.MaxConns = l.maxConns(c.Memory)
	l.respSizes(&c)

	return c, errors.Join(l.errs...)
}

// deploymentOf tells the platform from the variables each one sets.
func deploymentOf(get func(string) string) Deployment {
	// Vercel's Go functions run on AWS Lambda and may see Lambda's variables too,
	// so Vercel's own marker decides first.
	switch {
	case get("VERCEL") != "":
		return Vercel
	case get("AWS_LAMBDA_RUNTIME_API") != "":
		return Lambda
	default:
		return Standalone
	}
}

// loader reads variables and collects every problem instead of stopping at
// the first, so one failed start shows the whole list.
type loader struct {
	getenv func(string) string
	errs   []error
}

// get returns the variable without surrounding whitespace, which .env files
// and YAML block scalars tend to add.
func (l *loader) get(name string) string {
	return strings.TrimSpace(l.getenv(name))
}

func (l *loader) fail(name, value, want string) {
	l.errs = append(l.errs, fmt.Errorf("%s=%q: want %s", name, value, want))
}

func (l *loader) integer(name string, def, lowest, highest int64, want string) int {
	raw := l.get(name)
	if raw == "" {
		return int(def)
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < lowest || n > highest {
		l.fail(name, raw, want)
		return int(def)
	}
	return int(n)
}

// size reads a byte count in ParseSize syntax of at least lowest bytes.
func (l *loader) size(name string, def, lowest int64) int {
	n, _ := l.sizeSet(name, def, lowest)
	return n
}

// sizeSet is size that also reports whether a valid value was set, as opposed
// to the default standing in for an unset or invalid one.
func (l *loader) sizeSet(name string, def, lowest int64) (n int, set bool) {
	raw := l.get(name)
	if raw == "" {
		return int(def), false
	}
	bytes, reason := parseSize(raw)
	switch {
	case reason != "":
		l.fail(name, raw, "bytes like 512MiB, 2GB or 1073741824 ("+reason+")")
	case bytes < lowest:
		l.fail(name, raw, "at least "+formatBytes(lowest))
	case bytes > math.MaxInt:
		l.fail(name, raw, "at most "+formatBytes(math.MaxInt))
	default:
		return int(bytes), true
	}
	return int(def), false
}

func (l *loader) duration(name string, def time.Duration) time.Duration {
	raw := l.get(name)
	if raw == "" {
		return def
	}
	d, err := time.ParseDuration(raw)
	if err != nil || d <= 0 {
		want := "a positive duration like 10s, 500ms or 1m30s"
		if err != nil && allDigits(raw) {
			want += " (a number needs a unit)"
		}
		l.fail(name, raw, want)
		return def
	}
	return d
}

// durationOrZero reads a duration where 0 has a meaning of its own.
func (l *loader) durationOrZero(name string, def time.Duration, want string) time.Duration {
	raw := l.get(name)
	if raw == "" {
		return def
	}
	d, err := time.ParseDuration(raw)
	if err != nil || d < 0 {
		l.fail(name, raw, want)
		return def
	}
	return d
}

func (l *loader) logLevel() slog.Level {
	raw := l.get("LOG_LEVEL")
	levels := map[string]slog.Level{
		"":      slog.LevelInfo,
		"debug": slog.LevelDebug,
		"info":  slog.LevelInfo,
		"warn":  slog.LevelWarn,
		"error": slog.LevelError,
	}
	level, ok := levels[strings.ToLower(raw)]
	if !ok {
		l.fail("LOG_LEVEL", raw, "debug, info, warn or error")
	}
	return level
}

// bind returns BIND as a host for net.JoinHostPort: an IP address (brackets
// around IPv6 dropped, since JoinHostPort adds its own) or a hostname.
func (l *loader) bind() string {
	return l.host("BIND", "an IP address or hostname without a port (the port comes from PORT), or empty for all interfaces")
}

// host reads the variable name as a host for net.JoinHostPort; want describes
// what is allowed when it is neither an IP address nor a hostname.
func (l *loader) host(name, want string) string {
	raw := l.get(name)
	host := raw
	if len(host) > 2 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1]
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return host
	}
	if raw == "" || isHostname(raw) {
		return raw
	}
	l.fail(name, raw, want)
	return ""
}

// maxConns reads MAX_CONNS, derived from m when unset. 0 is refused: it
// would mean no connection at all, and -1 already means no bound.
func (l *loader) maxConns(m Memory) int {
	want := fmt.Sprintf("a number of connections 1-%d, or -1 for no bound but the open-file limit", maxMaxConns)
	n := l.integer("MAX_CONNS", int64(ConnsFor(m)), -1, maxMaxConns, want)
	if n == 0 {
		l.fail("MAX_CONNS", l.get("MAX_CONNS"), want)
		return ConnsFor(m)
	}
	return n
}

// respSizes reads the Redis-protocol size limits into c, once the memory
// budget is known: the defaults follow from it. Each must hold the one below
// it: the buffers the largest command, a command the largest SET.
func (l *loader) respSizes(c *Config) {
	valueDefault := int64(maxRespMaxValueBytes)
	// The budget comes from config; a layout cache.New would refuse is
	// reported by app.Build, which builds the cache.
	if fit, err := cache.MaxValueBytes(cache.Options{MaxBytes: c.Memory.Budget, MaxEntries: c.MaxEntries},
		utf8MaxBytesPerCodePoint*c.MaxKeyLength); err == nil {
		valueDefault = max(1, min(valueDefault, fit))
	}
	command, commandSet := l.sizeSet("RESP_MAX_COMMAND_BYTES", defaultRespMaxCommandBytes, 1)
	if commandSet && command > maxRespMaxCommandBytes {
		l.fail("RESP_MAX_COMMAND_BYTES", l.get("RESP_MAX_COMMAND_BYTES"), "at most "+formatBytes(maxRespMaxCommandBytes))
		command, commandSet = defaultRespMaxCommandBytes, false
	}
	keyRoom := minRespCommandBytes(c.MaxKeyLength, 0)
	if commandSet {
		// A command size set alone bounds the default value to what it carries.
		valueDefault = min(valueDefault, int64(command-keyRoom))
	}
	value, valueSet := l.sizeSet("RESP_MAX_VALUE_BYTES", max(1, valueDefault), 1)
	if valueSet && value > maxRespMaxValueBytes {
		l.fail("RESP_MAX_VALUE_BYTES", l.get("RESP_MAX_VALUE_BYTES"), "at most "+formatBytes(maxRespMaxValueBytes)+" (Redis's proto-max-bulk-len)")
		value = int(max(1, valueDefault))
	}
	c.RespMaxValueBytes = value

	need := minRespCommandBytes(c.MaxKeyLength, c.RespMaxValueBytes)
	switch {
	case !commandSet:
		command = max(command, need)
	case command < need && valueSet:
		l.fail("RESP_MAX_COMMAND_BYTES", l.get("RESP_MAX_COMMAND_BYTES"), fmt.Sprintf(
			"at least %d bytes, the largest valid SET with MAX_KEY_LENGTH=%d (every character 4 bytes of UTF-8) "+
				"and RESP_MAX_VALUE_BYTES=%d", need, c.MaxKeyLength, c.RespMaxValueBytes))
	case command < need:
		l.fail("RESP_MAX_COMMAND_BYTES", l.get("RESP_MAX_COMMAND_BYTES"), fmt.Sprintf(
			"at least %d bytes, a SET of the longest key (MAX_KEY_LENGTH=%d, every character 4 bytes of UTF-8) and a 1-byte value",
			need, c.MaxKeyLength))
	}
	c.RespMaxCommandBytes = command

	buffers, set := l.sizeSet("RESP_MAX_BUFFER_BYTES", int64(RespBuffersFor(c.Memory, c.RespMaxCommandBytes)), 1)
	if set && buffers < c.RespMaxCommandBytes {
		l.fail("RESP_MAX_BUFFER_BYTES", l.get("RESP_MAX_BUFFER_BYTES"), fmt.Sprintf(
			"at least RESP_MAX_COMMAND_BYTES (%d bytes), or the largest command could never be received", c.RespMaxCommandBytes))
	}
	c.RespMaxBufferBytes = buffers
}

// resp reads the Redis-protocol variables and AUTH_TOKEN into c.
func (l *loader) resp(c *Config) {
	c.RespPort = l.integer("RESP_PORT", defaultRespPort, 0, 65535, "a port number 1-65535, or 0 to turn the Redis-protocol port off")
	if c.RespPort != 0 && c.RespPort == c.Port {
		l.fail("RESP_PORT", l.get("RESP_PORT"), fmt.Sprintf("a port other than PORT (%d), or 0 to turn the Redis-protocol port off", c.Port))
	}
	c.RespBind = l.host("RESP_BIND",
		"an IP address or hostname without a port (the port comes from RESP_PORT), e.g. 0.0.0.0 for all interfaces")
	if c.RespBind == "" {
		c.RespBind = defaultRespBind
	}
	c.RespMaxClients = l.integer("RESP_MAX_CLIENTS", defaultRespMaxClients, 1, maxRespMaxClients,
		fmt.Sprintf("a number of connections 1-%d", maxRespMaxClients))
	c.RespIdleTimeout = l.durationOrZero("RESP_IDLE_TIMEOUT", defaultRespIdleTimeout,
		"a duration like 300s or 5m, or 0 to keep idle connections open")
	c.RespScriptBusyTime = l.duration("RESP_SCRIPT_BUSY_TIME", defaultRespScriptBusyTime)
	const busyPollWant = "a duration up to 10ms like 50us, or 0 to sleep as soon as there is nothing to do"
	c.RespBusyPoll = l.durationOrZero("RESP_BUSY_POLL", defaultRespBusyPoll, busyPollWant)
	if c.RespBusyPoll > maxRespBusyPoll {
		l.fail("RESP_BUSY_POLL", l.get("RESP_BUSY_POLL"), busyPollWant)
		c.RespBusyPoll = defaultRespBusyPoll
	}
	c.RespMaxArgs = l.integer("RESP_MAX_ARGS", defaultRespMaxArgs, minRespMaxArgs, maxRespMaxArgs,
		fmt.Sprintf("a number of arguments %d-%d", minRespMaxArgs, maxRespMaxArgs))
	c.RespAuthTimeout = l.durationOrZero("RESP_AUTH_TIMEOUT", defaultRespAuthTimeout,
		"a duration like 10s, or 0 to let connections wait for AUTH as long as they like")

	c.AuthToken = l.authToken()
	c.CORSOrigins = l.corsOrigins()
}

// corsOrigins reads CORS_ORIGINS: origins as browsers send them
// (scheme://host[:port], no path), or "*".
func (l *loader) corsOrigins() []string {
	raw := l.get("CORS_ORIGINS")
	if raw == "" {
		return nil
	}
	var origins []string
	for _, o := range strings.Split(raw, ",") {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		u, err := url.Parse(o)
		if o != "*" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.Path != "" || u.RawQuery != "" || u.User != nil) {
			l.fail("CORS_ORIGINS", raw, "comma-separated origins like https://app.example.com or http://localhost:3000, or *")
			return nil
		}
		origins = append(origins, o)
	}
	return origins
}

// authToken reads AUTH_TOKEN. It must travel unchanged in a RESP AUTH and in an
// HTTP Authorization header, hence visible ASCII only. Its value is a secret, so
// the error never repeats it.
func (l *loader) authToken() string {
	token := l.get("AUTH_TOKEN")
	valid := len(token) <= maxAuthTokenLength
	for i := 0; i < len(token) && valid; i++ {
		valid = token[i] > ' ' && token[i] < 0x7f
	}
	if !valid {
		l.errs = append(l.errs, fmt.Errorf(
			"AUTH_TOKEN (value not shown, it is a secret): want at most %d visible ASCII characters, no spaces or control characters",
			maxAuthTokenLength))
		return ""
	}
	return token
}

// RespUnprotected reports whether the Redis-protocol port listens beyond
// loopback without AUTH_TOKEN. Load allows it, since RESP_BIND had to be set
// explicitly for that, but the door should warn: anyone who can reach the port
// can read and write the cache.
func (c Config) RespUnprotected() bool {
	return c.RespPort != 0 && c.AuthToken == "" && !IsLoopback(c.RespBind)
}

// IsLoopback reports whether host, as BIND or RESP_BIND hold it, names only the
// loopback interface: a loopback IP address or "localhost". Any other
// hostname may resolve to a public address, so it counts as not loopback.
func IsLoopback(host string) bool {
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.IsLoopback()
}

// isHostname reports whether s is a DNS name by RFC 1123: dot-separated
// labels of 1-63 letters, digits and inner hyphens, 253 characters at most.
func isHostname(s string) bool {
	s = strings.TrimSuffix(s, ".") // a fully qualified "localhost." is fine
	if s == "" || len(s) > 253 {
		return false
	}
	labels := strings.Split(s, ".")
	for _, label := range labels {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if ('a' > r || r > 'z') && ('A' > r || r > 'Z') && ('0' > r || r > '9') && r != '-' {
				return false
			}
		}
	}
	// No top-level domain is all digits; "256.1.1.1" is a mistyped address.
	return !allDigits(labels[len(labels)-1])
}

// maxBodyBytes reads MAX_BODY_BYTES, which must admit the largest valid
// request. Unset, it defaults to 16KiB or, if the length limits need more,
// to exactly what they need.
func (l *loader) maxBodyBytes(maxKeyLength, maxValueLength int) int {
	need := minBodyBytes(maxKeyLength, maxValueLength)
	n, set := l.sizeSet("MAX_BODY_BYTES", defaultMaxBodyBytes, 1)
	if !set {
		return max(n, need)
	}
	if n < need {
		l.fail("MAX_BODY_BYTES", l.get("MAX_BODY_BYTES"), fmt.Sprintf(
			"at least %d bytes, the largest valid request with MAX_KEY_LENGTH=%d and MAX_VALUE_LENGTH=%d "+
				"(key, value and compare with every character written as a \\uXXXX escape)",
			need, maxKeyLength, maxValueLength))
	}
	return n
}

// snapshot reads SNAPSHOT_PATH and SNAPSHOT_INTERVAL into c. The path must name
// a file: the snapshot is written next to it under a temporary name and renamed
// over it, so a directory there could never be replaced.
func (l *loader) snapshot(c *Config) {
	c.SnapshotPath = l.get("SNAPSHOT_PATH")
	if p := c.SnapshotPath; p != "" {
		if base := filepath.Base(p); strings.HasSuffix(p, "/") || base == "." || base == ".." {
			l.fail("SNAPSHOT_PATH", p, "a file path like /data/warmkv.snap, not a directory")
			c.SnapshotPath = ""
		}
	}
	c.SnapshotInterval = l.duration("SNAPSHOT_INTERVAL", defaultSnapshotInterval)
}

const defaultSnapshotInterval = 60 * time.Second

// shared reads the shared tier's variables into c.
func (l *loader) shared(c *Config) {
	for _, name := range []string{"REDIS_URL", "KV_URL"} {
		if c.RedisURL = l.get(name); c.RedisURL != "" {
			c.RedisURLVar = name
			break
		}
	}
	if c.RedisURL != "" {
		first, _, _ := strings.Cut(c.RedisURL, ",")
		scheme, _, _ := strings.Cut(strings.TrimSpace(first), "://")
		switch scheme {
		case "redis", "rediss", "valkey", "valkeys", "unix":
		default:
			// The URL may hold a password: name the variable, not its value.
			l.errs = append(l.errs, fmt.Errorf("%s: want redis://[user:password@]host:port[/db] or rediss:// for TLS, "+
				"optionally followed by ,host:port seeds of a Redis Cluster (the value is not shown: it may hold a password)", c.RedisURLVar))
			c.RedisURL = ""
		}
		if c.SnapshotPath != "" {
			l.fail("SNAPSHOT_PATH", c.SnapshotPath, "unset when "+c.RedisURLVar+" is set: the shared tier is then the copy that outlives "+
				"an instance, and a snapshot of one instance's local copies would bring back old values")
		}
	}
	// Never empty: /flush deletes every key under the prefix.
	if c.RedisPrefix = l.get("REDIS_PREFIX"); c.RedisPrefix == "" {
		c.RedisPrefix = defaultRedisPrefix
	}
	c.LocalTTL = l.durationOrZero("LOCAL_TTL", defaultLocalTTL,
		"a duration like 1s or 250ms, or 0 to ask the shared tier on every read")
	c.RedisTimeout = l.duration("REDIS_TIMEOUT", defaultRedisTimeout)
}

const (
	defaultRedisPrefix  = "warmkv:"
	defaultLocalTTL     = time.Second
	defaultRedisTimeout = time.Second
)

// defaultRespIdleTimeout keeps idle Redis-protocol connections, as Redis's
// "timeout 0" does: client pools keep connections open for long, and some
// clients (node-redis) report a closed idle connection as an error event that
// crashes a program without a listener. RESP_MAX_CLIENTS bounds them, and
// with AUTH_TOKEN set RESP_AUTH_TIMEOUT cuts those that never authenticate.
const defaultRespIdleTimeout = 0

// defaultRespBusyPoll: long enough to catch the next request of a busy
// server's clients (they arrived every 20 µs or so at redis-benchmark -P 1 on
// the 2-core machine), short enough that a poll that catches nothing costs
// less than one wake-up's context switches (resp/serve_epoll_linux.go, "Busy
// polling"). maxRespBusyPoll keeps a typo from pinning a core.
const (
	defaultRespBusyPoll = 50 * time.Microsecond
	maxRespBusyPoll     = 10 * time.Millisecond
)

// defaultRespScriptBusyTime is Redis's busy-reply-threshold.
const defaultRespScriptBusyTime = 5 * time.Second
