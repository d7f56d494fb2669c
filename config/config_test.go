package config

import (
	"encoding/json"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// testEnv is an environment holding only vars: no cgroup, no meminfo.
// MAX_MEMORY is set unless vars says otherwise, so tests of other variables
// need no memory source.
func testEnv(vars map[string]string) Env {
	all := map[string]string{"MAX_MEMORY": "64MiB"}
	maps.Copy(all, vars)
	return Env{Getenv: func(name string) string { return all[name] }}
}

func TestLoadDefaults(t *testing.T) {
	got, err := Load(testEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Deployment:        Standalone,
		Port:              7171,
		Bind:              "",
		Production:        false,
		LogLevel:          slog.LevelInfo,
		MaxEntries:        0,
		MaxKeyLength:      256,
		MaxValueLength:    256,
		MaxBodyBytes:      16 << 10,
		MaxHeaderBytes:    8 << 10,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       60 * time.Second,
		ShutdownTimeout:   10 * time.Second,
		MaxConns:          10000, // ConnsFor: the floor, for a 64 MiB budget
		Memory:            Memory{Budget: 64 << 20, Source: "MAX_MEMORY"},

		RespPort:            6380,
		RespBind:            "127.0.0.1",
		RespMaxClients:      10000,
		RespMaxArgs:         1 << 16,
		RespMaxValueBytes:   1015808, // what one of the 64 shards of 1 MiB holds
		RespMaxCommandBytes: 1 << 20,
		RespMaxBufferBytes:  16 << 20, // a quarter of the 64 MiB beside the cache
		RespIdleTimeout:     0,
		RespBusyPoll:        50 * time.Microsecond,
		RespAuthTimeout:     10 * time.Second,
		RespScriptBusyTime:  5 * time.Second,
		AuthToken:           "",

		SnapshotPath:     "",
		SnapshotInterval: 60 * time.Second,

		RedisPrefix:  "warmkv:",
		LocalTTL:     time.Second,
		RedisTimeout: time.Second,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load() =\n%+v\nwant\n%+v", got, want)
	}
}

func TestLoadReadsEveryVariable(t *testing.T) {
	got, err := Load(testEnv(map[string]string{
		"PORT":                "8080",
		"BIND":                "127.0.0.1",
		"APP_ENV":             "production",
		"LOG_LEVEL":           "debug",
		"SIZE":                "100000",
		"MAX_KEY_LENGTH":      "64",
		"MAX_VALUE_LENGTH":    "1024",
		"MAX_BODY_BYTES":      "64KiB",
		"MAX_HEADER_BYTES":    "4KiB",
		"READ_HEADER_TIMEOUT": "1s",
		"READ_TIMEOUT":        "2s",
		"WRITE_TIMEOUT":       "3s",
		"IDLE_TIMEOUT":        "4m",
		"SHUTDOWN_TIMEOUT":    "500ms",
		"MAX_IN_FLIGHT":       "64",
		"MAX_CONNS":           "5000",
		"MAX_MEMORY":          "128MiB",

		"RESP_PORT":              "6390",
		"RESP_BIND":              "0.0.0.0",
		"RESP_MAX_CLIENTS":       "500",
		"RESP_MAX_ARGS":          "1000",
		"RESP_MAX_VALUE_BYTES":   "1MiB",
		"RESP_MAX_COMMAND_BYTES": "2MiB",
		"RESP_MAX_BUFFER_BYTES":  "8MiB",
		"RESP_AUTH_TIMEOUT":      "3s",
		"RESP_SCRIPT_BUSY_TIME":  "750ms",
		"AUTH_TOKEN":             "s3cret-Token_123",

		"SNAPSHOT_PATH":     "/data/warmkv.snap",
		"SNAPSHOT_INTERVAL": "5m",
		"REDIS_PREFIX":      "shop:",
		"RESP_IDLE_TIMEOUT": "90s",
		"RESP_BUSY_POLL":    "200us",
		"LOCAL_TTL":         "2s",
		"REDIS_TIMEOUT":     "300ms",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Deployment:        Standalone,
		Port:              8080,
		Bind:              "127.0.0.1",
		Production:        true,
		LogLevel:          slog.LevelDebug,
		MaxEntries:        100000,
		MaxKeyLength:      64,
		MaxValueLength:    1024,
		MaxBodyBytes:      64 << 10,
		MaxHeaderBytes:    4 << 10,
		ReadHeaderTimeout: time.Second,
		ReadTimeout:       2 * time.Second,
		WriteTimeout:      3 * time.Second,
		IdleTimeout:       4 * time.Minute,
		ShutdownTimeout:   500 * time.Millisecond,
		MaxInFlight:       64,
		MaxConns:          5000,
		Memory:            Memory{Budget: 128 << 20, Source: "MAX_MEMORY"},

		RespPort:            6390,
		RespBind:            "0.0.0.0",
		RespMaxClients:      500,
		RespMaxArgs:         1000,
		RespMaxValueBytes:   1 << 20,
		RespMaxCommandBytes: 2 << 20,
		RespMaxBufferBytes:  8 << 20,
		RespIdleTimeout:     90 * time.Second,
		RespBusyPoll:        200 * time.Microsecond,
		RespAuthTimeout:     3 * time.Second,
		RespScriptBusyTime:  750 * time.Millisecond,
		AuthToken:           "s3cret-Token_123",

		SnapshotPath:     "/data/warmkv.snap",
		SnapshotInterval: 5 * time.Minute,

		RedisPrefix:  "shop:",
		LocalTTL:     2 * time.Second,
		RedisTimeout: 300 * time.Millisecond,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load() =\n%+v\nwant\n%+v", got, want)
	}
}

// TestLoadAcceptsEdgeValues checks one variable at a time at the ends of its
// allowed range and in its alternative spellings.
func TestLoadAcceptsEdgeValues(t *testing.T) {
	tests := []struct {
		name, value string
		check       func(Config) any
		want        any
	}{
		{"PORT", "1", func(c Config) any { return c.Port }, 1},
		{"PORT", "65535", func(c Config) any { return c.Port }, 65535},
		{"PORT", " 80\n", func(c Config) any { return c.Port }, 80},
		{"SIZE", "0", func(c Config) any { return c.MaxEntries }, 0},
		{"SIZE", "2147483648", func(c Config) any { return c.MaxEntries }, 1 << 31},
		{"MAX_KEY_LENGTH", "1", func(c Config) any { return c.MaxKeyLength }, 1},
		{"MAX_VALUE_LENGTH", "0", func(c Config) any { return c.MaxValueLength }, 0},
		{"MAX_HEADER_BYTES", "1024", func(c Config) any { return c.MaxHeaderBytes }, 1024},
		{"MAX_HEADER_BYTES", "1MB", func(c Config) any { return c.MaxHeaderBytes }, 1_000_000},
		{"LOG_LEVEL", "DEBUG", func(c Config) any { return c.LogLevel }, slog.LevelDebug},
		{"LOG_LEVEL", "info", func(c Config) any { return c.LogLevel }, slog.LevelInfo},
		{"LOG_LEVEL", "Warn", func(c Config) any { return c.LogLevel }, slog.LevelWarn},
		{"LOG_LEVEL", "error", func(c Config) any { return c.LogLevel }, slog.LevelError},
		{"APP_ENV", "PRODUCTION", func(c Config) any { return c.Production }, true},
		{"APP_ENV", " Production ", func(c Config) any { return c.Production }, true},
		{"APP_ENV", "prod", func(c Config) any { return c.Production }, false},
		{"APP_ENV", "development", func(c Config) any { return c.Production }, false},
		{"IDLE_TIMEOUT", "1ns", func(c Config) any { return c.IdleTimeout }, time.Nanosecond},
		{"SHUTDOWN_TIMEOUT", "1m30s", func(c Config) any { return c.ShutdownTimeout }, 90 * time.Second},
		{"BIND", "0.0.0.0", func(c Config) any { return c.Bind }, "0.0.0.0"},
		{"BIND", "::", func(c Config) any { return c.Bind }, "::"},
		{"BIND", "::1", func(c Config) any { return c.Bind }, "::1"},
		{"BIND", "[::1]", func(c Config) any { return c.Bind }, "::1"},
		{"BIND", "fe80::1%eth0", func(c Config) any { return c.Bind }, "fe80::1%eth0"},
		{"BIND", "localhost", func(c Config) any { return c.Bind }, "localhost"},
		{"BIND", "localhost.", func(c Config) any { return c.Bind }, "localhost."},
		{"BIND", "cache-1.internal.example.com", func(c Config) any { return c.Bind }, "cache-1.internal.example.com"},
		{"BIND", "3com.net", func(c Config) any { return c.Bind }, "3com.net"},
		{"RESP_PORT", "0", func(c Config) any { return c.RespPort }, 0},
		{"RESP_PORT", "65535", func(c Config) any { return c.RespPort }, 65535},
		{"RESP_BIND", "::", func(c Config) any { return c.RespBind }, "::"},
		{"RESP_BIND", "[::1]", func(c Config) any { return c.RespBind }, "::1"},
		{"RESP_BIND", "localhost", func(c Config) any { return c.RespBind }, "localhost"},
		{"RESP_BIND", " ", func(c Config) any { return c.RespBind }, "127.0.0.1"},
		{"RESP_MAX_CLIENTS", "1", func(c Config) any { return c.RespMaxClients }, 1},
		{"RESP_MAX_CLIENTS", "1000000", func(c Config) any { return c.RespMaxClients }, 1000000},
		{"RESP_MAX_ARGS", "16", func(c Config) any { return c.RespMaxArgs }, 16},
		{"RESP_MAX_ARGS", "1048576", func(c Config) any { return c.RespMaxArgs }, 1 << 20},
		{"RESP_MAX_COMMAND_BYTES", "1GiB", func(c Config) any { return c.RespMaxCommandBytes }, 1 << 30},
		{"RESP_MAX_VALUE_BYTES", "512MiB", func(c Config) any { return c.RespMaxValueBytes }, 512 << 20},
		{"RESP_MAX_VALUE_BYTES", "512MiB", func(c Config) any { return c.RespMaxCommandBytes }, 512<<20 + 4*256 + 256},
		{"RESP_MAX_VALUE_BYTES", "1", func(c Config) any { return c.RespMaxCommandBytes }, 1 << 20},
		{"RESP_MAX_BUFFER_BYTES", "1MiB", func(c Config) any { return c.RespMaxBufferBytes }, 1 << 20},
		{"RESP_IDLE_TIMEOUT", "0", func(c Config) any { return c.RespIdleTimeout }, time.Duration(0)},
		{"RESP_BUSY_POLL", "0", func(c Config) any { return c.RespBusyPoll }, time.Duration(0)},
		{"RESP_BUSY_POLL", "10ms", func(c Config) any { return c.RespBusyPoll }, 10 * time.Millisecond},
		{"RESP_AUTH_TIMEOUT", "0", func(c Config) any { return c.RespAuthTimeout }, time.Duration(0)},
		{"RESP_AUTH_TIMEOUT", "250ms", func(c Config) any { return c.RespAuthTimeout }, 250 * time.Millisecond},
		{"AUTH_TOKEN", " tok\n", func(c Config) any { return c.AuthToken }, "tok"},
		{"AUTH_TOKEN", "!~" + strings.Repeat("x", 1022), func(c Config) any { return len(c.AuthToken) }, 1024},
		{"SNAPSHOT_PATH", " warmkv.snap ", func(c Config) any { return c.SnapshotPath }, "warmkv.snap"},
		{"SNAPSHOT_PATH", "/data/.snap", func(c Config) any { return c.SnapshotPath }, "/data/.snap"},
		{"SNAPSHOT_PATH", "", func(c Config) any { return c.SnapshotPath }, ""},
		{"SNAPSHOT_INTERVAL", "1ms", func(c Config) any { return c.SnapshotInterval }, time.Millisecond},
		{"SNAPSHOT_INTERVAL", "24h", func(c Config) any { return c.SnapshotInterval }, 24 * time.Hour},
	}
	for _, tc := range tests {
		c, err := Load(testEnv(map[string]string{tc.name: tc.value}))
		if err != nil {
			t.Errorf("%s=%q: unexpected error: %v", tc.name, tc.value, err)
			continue
		}
		if got := tc.check(c); got != tc.want {
			t.Errorf("%s=%q: got %v, want %v", tc.name, tc.value, got, tc.want)
		}
	}
}

func TestLoadRejectsBadValues(t *testing.T) {
	tests := []struct {
		name, value string
		want        string // the whole message
	}{
		{"PORT", "abc", `PORT="abc": want a port number 1-65535`},
		{"PORT", "0", `PORT="0": want a port number 1-65535`},
		{"PORT", "65536", `PORT="65536": want a port number 1-65535`},
		{"PORT", "-80", `PORT="-80": want a port number 1-65535`},
		{"PORT", "80.0", `PORT="80.0": want a port number 1-65535`},
		{"BIND", "0.0.0.0:7171", `BIND="0.0.0.0:7171": want an IP address or hostname without a port (the port comes from PORT), or empty for all interfaces`},
		{"BIND", "256.1.1.1", `BIND="256.1.1.1": want an IP address or hostname without a port (the port comes from PORT), or empty for all interfaces`},
		{"BIND", "http://localhost", `BIND="http://localhost": want an IP address or hostname without a port (the port comes from PORT), or empty for all interfaces`},
		{"BIND", "-bad.example", `BIND="-bad.example": want an IP address or hostname without a port (the port comes from PORT), or empty for all interfaces`},
		{"BIND", "a..b", `BIND="a..b": want an IP address or hostname without a port (the port comes from PORT), or empty for all interfaces`},
		{"BIND", "under_score", `BIND="under_score": want an IP address or hostname without a port (the port comes from PORT), or empty for all interfaces`},
		{"BIND", "[localhost]", `BIND="[localhost]": want an IP address or hostname without a port (the port comes from PORT), or empty for all interfaces`},
		{"BIND", strings.Repeat("a", 64), `BIND="` + strings.Repeat("a", 64) + `": want an IP address or hostname without a port (the port comes from PORT), or empty for all interfaces`},
		{"MAX_IN_FLIGHT", "-2", `MAX_IN_FLIGHT="-2": want a number of requests 1-1048576, 0 to derive it from the cores, or -1 for no bound`},
		{"MAX_IN_FLIGHT", "lots", `MAX_IN_FLIGHT="lots": want a number of requests 1-1048576, 0 to derive it from the cores, or -1 for no bound`},
		{"MAX_CONNS", "0", `MAX_CONNS="0": want a number of connections 1-16777216, or -1 for no bound but the open-file limit`},
		{"MAX_CONNS", "-2", `MAX_CONNS="-2": want a number of connections 1-16777216, or -1 for no bound but the open-file limit`},
		{"MAX_CONNS", "10k", `MAX_CONNS="10k": want a number of connections 1-16777216, or -1 for no bound but the open-file limit`},
		{"LOG_LEVEL", "trace", `LOG_LEVEL="trace": want debug, info, warn or error`},
		{"LOG_LEVEL", "warning", `LOG_LEVEL="warning": want debug, info, warn or error`},
		{"SIZE", "-1", `SIZE="-1": want a whole number of entries 0-2147483648 (0 = derive it from the memory budget)`},
		{"SIZE", "2147483649", `SIZE="2147483649": want a whole number of entries 0-2147483648 (0 = derive it from the memory budget)`},
		{"SIZE", "1e6", `SIZE="1e6": want a whole number of entries 0-2147483648 (0 = derive it from the memory budget)`},
		{"MAX_KEY_LENGTH", "0", `MAX_KEY_LENGTH="0": want a number of characters 1-65536`},
		{"MAX_KEY_LENGTH", "65537", `MAX_KEY_LENGTH="65537": want a number of characters 1-65536`},
		{"MAX_VALUE_LENGTH", "-1", `MAX_VALUE_LENGTH="-1": want a number of characters 0-65536`},
		{"MAX_VALUE_LENGTH", "big", `MAX_VALUE_LENGTH="big": want a number of characters 0-65536`},
		{"MAX_BODY_BYTES", "lots", `MAX_BODY_BYTES="lots": want bytes like 512MiB, 2GB or 1073741824 (not a number)`},
		{"MAX_BODY_BYTES", "0", `MAX_BODY_BYTES="0": want bytes like 512MiB, 2GB or 1073741824 (must be more than 0 bytes)`},
		{"MAX_HEADER_BYTES", "1023", `MAX_HEADER_BYTES="1023": want at least 1KiB`},
		{"MAX_HEADER_BYTES", "-8KiB", `MAX_HEADER_BYTES="-8KiB": want bytes like 512MiB, 2GB or 1073741824 (must not be negative)`},
		{"READ_HEADER_TIMEOUT", "5", `READ_HEADER_TIMEOUT="5": want a positive duration like 10s, 500ms or 1m30s (a number needs a unit)`},
		{"READ_TIMEOUT", "0s", `READ_TIMEOUT="0s": want a positive duration like 10s, 500ms or 1m30s`},
		{"WRITE_TIMEOUT", "-1s", `WRITE_TIMEOUT="-1s": want a positive duration like 10s, 500ms or 1m30s`},
		{"IDLE_TIMEOUT", "forever", `IDLE_TIMEOUT="forever": want a positive duration like 10s, 500ms or 1m30s`},
		{"SHUTDOWN_TIMEOUT", "0", `SHUTDOWN_TIMEOUT="0": want a positive duration like 10s, 500ms or 1m30s`},
		{"MAX_MEMORY", "lots", `MAX_MEMORY="lots": want bytes like 512MiB, 2GB or 1073741824 (not a number)`},
		{"MAX_MEMORY", "1.5", `MAX_MEMORY="1.5": want bytes like 512MiB, 2GB or 1073741824 (a fraction of a byte; use a larger unit such as 1.5KiB)`},
		{"RESP_PORT", "-1", `RESP_PORT="-1": want a port number 1-65535, or 0 to turn the Redis-protocol port off`},
		{"RESP_PORT", "65536", `RESP_PORT="65536": want a port number 1-65535, or 0 to turn the Redis-protocol port off`},
		{"RESP_PORT", "7171", `RESP_PORT="7171": want a port other than PORT (7171), or 0 to turn the Redis-protocol port off`},
		{"RESP_BIND", "127.0.0.1:6380", `RESP_BIND="127.0.0.1:6380": want an IP address or hostname without a port (the port comes from RESP_PORT), e.g. 0.0.0.0 for all interfaces`},
		{"RESP_BIND", "under_score", `RESP_BIND="under_score": want an IP address or hostname without a port (the port comes from RESP_PORT), e.g. 0.0.0.0 for all interfaces`},
		{"RESP_MAX_CLIENTS", "0", `RESP_MAX_CLIENTS="0": want a number of connections 1-1000000`},
		{"RESP_MAX_ARGS", "15", `RESP_MAX_ARGS="15": want a number of arguments 16-1048576`},
		{"RESP_SCRIPT_BUSY_TIME", "0", `RESP_SCRIPT_BUSY_TIME="0": want a positive duration like 10s, 500ms or 1m30s`},
		{"RESP_SCRIPT_BUSY_TIME", "5", `RESP_SCRIPT_BUSY_TIME="5": want a positive duration like 10s, 500ms or 1m30s (a number needs a unit)`},
		{"RESP_MAX_ARGS", "1048577", `RESP_MAX_ARGS="1048577": want a number of arguments 16-1048576`},
		{"RESP_MAX_COMMAND_BYTES", "1025MiB", `RESP_MAX_COMMAND_BYTES="1025MiB": want at most 1GiB`},
		{"RESP_MAX_COMMAND_BYTES", "1024", `RESP_MAX_COMMAND_BYTES="1024": want at least 1281 bytes, a SET of the longest key (MAX_KEY_LENGTH=256, every character 4 bytes of UTF-8) and a 1-byte value`},
		{"RESP_MAX_VALUE_BYTES", "513MiB", `RESP_MAX_VALUE_BYTES="513MiB": want at most 512MiB (Redis's proto-max-bulk-len)`},
		{"RESP_MAX_VALUE_BYTES", "0", `RESP_MAX_VALUE_BYTES="0": want bytes like 512MiB, 2GB or 1073741824 (must be more than 0 bytes)`},
		{"RESP_MAX_BUFFER_BYTES", "1KiB", `RESP_MAX_BUFFER_BYTES="1KiB": want at least RESP_MAX_COMMAND_BYTES (1048576 bytes), or the largest command could never be received`},
		{"RESP_IDLE_TIMEOUT", "-1s", `RESP_IDLE_TIMEOUT="-1s": want a duration like 300s or 5m, or 0 to keep idle connections open`},
		{"RESP_BUSY_POLL", "11ms", `RESP_BUSY_POLL="11ms": want a duration up to 10ms like 50us, or 0 to sleep as soon as there is nothing to do`},
		{"RESP_BUSY_POLL", "-1us", `RESP_BUSY_POLL="-1us": want a duration up to 10ms like 50us, or 0 to sleep as soon as there is nothing to do`},
		{"RESP_AUTH_TIMEOUT", "soon", `RESP_AUTH_TIMEOUT="soon": want a duration like 10s, or 0 to let connections wait for AUTH as long as they like`},
		{"RESP_MAX_COMMAND_BYTES", "lots", `RESP_MAX_COMMAND_BYTES="lots": want bytes like 512MiB, 2GB or 1073741824 (not a number)`},
		{"SNAPSHOT_PATH", "/data/", `SNAPSHOT_PATH="/data/": want a file path like /data/warmkv.snap, not a directory`},
		{"SNAPSHOT_PATH", "/data/..", `SNAPSHOT_PATH="/data/..": want a file path like /data/warmkv.snap, not a directory`},
		{"SNAPSHOT_PATH", ".", `SNAPSHOT_PATH=".": want a file path like /data/warmkv.snap, not a directory`},
		{"SNAPSHOT_INTERVAL", "0s", `SNAPSHOT_INTERVAL="0s": want a positive duration like 10s, 500ms or 1m30s`},
		{"SNAPSHOT_INTERVAL", "-1m", `SNAPSHOT_INTERVAL="-1m": want a positive duration like 10s, 500ms or 1m30s`},
		{"SNAPSHOT_INTERVAL", "60", `SNAPSHOT_INTERVAL="60": want a positive duration like 10s, 500ms or 1m30s (a number needs a unit)`},
	}
	for _, tc := range tests {
		_, err := Load(testEnv(map[string]string{tc.name: tc.value}))
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s=%q: error = %v\nwant %s", tc.name, tc.value, err, tc.want)
		}
	}
}

func TestLoadReportsEveryError(t *testing.T) {
	_, err := Load(testEnv(map[string]string{
		"PORT":         "abc",
		"LOG_LEVEL":    "loud",
		"READ_TIMEOUT": "soon",
		"MAX_MEMORY":   "lots",
	}))
	if err == nil {
		t.Fatal("Load succeeded, want errors")
	}
	for _, want := range []string{`PORT="abc"`, `LOG_LEVEL="loud"`, `READ_TIMEOUT="soon"`, `MAX_MEMORY="lots"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s:\n%v", want, err)
		}
	}
	if lines := strings.Count(err.Error(), "\n") + 1; lines != 4 {
		t.Errorf("error has %d lines, want one per bad variable:\n%v", lines, err)
	}
}

func TestDeployment(t *testing.T) {
	tests := []struct {
		vars map[string]string
		want Deployment
	}{
		{nil, Standalone},
		{map[string]string{"VERCEL": "1"}, Vercel},
		{map[string]string{"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001"}, Lambda},
		{map[string]string{"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001", "VERCEL": "1"}, Vercel},
		{map[string]string{"AWS_LAMBDA_FUNCTION_NAME": "warmkv"}, Standalone},
	}
	for _, tc := range tests {
		c, err := Load(testEnv(tc.vars))
		if err != nil {
			t.Fatal(err)
		}
		if c.Deployment != tc.want {
			t.Errorf("%v: Deployment = %q, want %q", tc.vars, c.Deployment, tc.want)
		}
	}
}

func TestMaxBodyBytesFitsTheLargestRequest(t *testing.T) {
	tests := []struct {
		vars map[string]string
		want int
	}{
		// 12*(256+2*256)+256 = 9472 fits the 16KiB default.
		{nil, 16 << 10},
		// 12*(256+2*1024)+256 = 27904: the default rises to fit.
		{map[string]string{"MAX_VALUE_LENGTH": "1024"}, 27904},
		{map[string]string{"MAX_KEY_LENGTH": "65536", "MAX_VALUE_LENGTH": "65536"}, 12*3*65536 + 256},
		// An explicit value that fits is kept, even below the default.
		{map[string]string{"MAX_BODY_BYTES": "9472"}, 9472},
		{map[string]string{"MAX_BODY_BYTES": "1MiB"}, 1 << 20},
		{map[string]string{"MAX_VALUE_LENGTH": "1024", "MAX_BODY_BYTES": "27904"}, 27904},
	}
	for _, tc := range tests {
		c, err := Load(testEnv(tc.vars))
		if err != nil {
			t.Errorf("%v: %v", tc.vars, err)
			continue
		}
		if c.MaxBodyBytes != tc.want {
			t.Errorf("%v: MaxBodyBytes = %d, want %d", tc.vars, c.MaxBodyBytes, tc.want)
		}
	}

	_, err := Load(testEnv(map[string]string{"MAX_VALUE_LENGTH": "1024", "MAX_BODY_BYTES": "27903"}))
	want := `MAX_BODY_BYTES="27903": want at least 27904 bytes, the largest valid request with MAX_KEY_LENGTH=256 and MAX_VALUE_LENGTH=1024 ` +
		`(key, value and compare with every character written as a \uXXXX escape)`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant %s", err, want)
	}
}

// TestMinBodyBytesAdmitsWorstCase builds the biggest body a client may send
// within the length limits, every character an escaped surrogate pair and
// generous whitespace, and checks the bound admits it.
func TestMinBodyBytesAdmitsWorstCase(t *testing.T) {
	for _, lengths := range [][2]int{{1, 0}, {256, 256}, {10, 65536}, {65536, 65536}} {
		maxKey, maxValue := lengths[0], lengths[1]
		escaped := func(n int) string { return `"` + strings.Repeat(`\ud83d\ude00`, n) + `"` }
		body := " {\n  \"key\" : " + escaped(maxKey) + " ,\n  \"value\" : " + escaped(maxValue) +
			" ,\n  \"compare\" : " + escaped(maxValue) + "\n}\n"

		var decoded struct{ Key, Value, Compare string }
		if err := json.Unmarshal([]byte(body), &decoded); err != nil {
			t.Fatalf("test body is not JSON: %v", err)
		}
		if got := len([]rune(decoded.Key)); got != maxKey {
			t.Fatalf("test key has %d characters, want %d", got, maxKey)
		}
		if limit := minBodyBytes(maxKey, maxValue); len(body) > limit {
			t.Errorf("lengths %d/%d: worst-case body is %d bytes, bound is %d", maxKey, maxValue, len(body), limit)
		}
	}
}

func TestRespPortDefaultsToLoopbackAndFollowsThePort(t *testing.T) {
	// PORT moving onto 6380 leaves RESP_PORT's default colliding: that must be
	// reported, not discovered as a listen error at start.
	_, err := Load(testEnv(map[string]string{"PORT": "6380"}))
	want := `RESP_PORT="": want a port other than PORT (6380), or 0 to turn the Redis-protocol port off`
	if err == nil || err.Error() != want {
		t.Errorf("PORT=6380: error = %v\nwant %s", err, want)
	}
	if _, err := Load(testEnv(map[string]string{"PORT": "6380", "RESP_PORT": "0"})); err != nil {
		t.Errorf("PORT=6380 RESP_PORT=0: %v", err)
	}
}

func TestRespSizesFollowEachOther(t *testing.T) {
	tests := []struct {
		vars                   map[string]string
		value, command, buffer int
	}{
		// The value limit is what a shard holds (1 MiB each at 64 MiB), the
		// command limit 1 MiB or what the largest SET needs, the buffers a
		// quarter of the memory beside the cache or two largest commands.
		{nil, 1015808, 1 << 20, 16 << 20},
		{map[string]string{"MAX_MEMORY": "1GiB"}, 16744448, 16744448 + 1280, 256 << 20},
		// 1000 entries make 2 shards, of 512 MiB each.
		{map[string]string{"MAX_MEMORY": "1GiB", "SIZE": "1000"}, 536838144, 536838144 + 1280, 2 * (536838144 + 1280)},
		{map[string]string{"MAX_MEMORY": "64GiB"}, 512 << 20, 512<<20 + 1280, 16 << 30},
		// MAX_VALUE_LENGTH is HTTP's alone; MAX_KEY_LENGTH counts for the command.
		{map[string]string{"MAX_VALUE_LENGTH": "65536"}, 1015808, 1 << 20, 16 << 20},
		{map[string]string{"MAX_KEY_LENGTH": "65536", "RESP_MAX_VALUE_BYTES": "1MiB"}, 1 << 20, 1<<20 + 4*65536 + 256, 16 << 20},
		// An explicit command size alone bounds the value limit to what it carries.
		{map[string]string{"RESP_MAX_COMMAND_BYTES": "2304"}, 2304 - 1280, 2304, 16 << 20},
		{map[string]string{"RESP_MAX_VALUE_BYTES": "100", "RESP_MAX_COMMAND_BYTES": "1380"}, 100, 1380, 16 << 20},
		{map[string]string{"RESP_MAX_VALUE_BYTES": "512MiB"}, 512 << 20, 512<<20 + 1280, 1<<30 + 2560},
	}
	for _, tc := range tests {
		c, err := Load(testEnv(tc.vars))
		if err != nil {
			t.Errorf("%v: %v", tc.vars, err)
			continue
		}
		if c.RespMaxValueBytes != tc.value || c.RespMaxCommandBytes != tc.command || c.RespMaxBufferBytes != tc.buffer {
			t.Errorf("%v: value, command, buffer bytes = %d, %d, %d; want %d, %d, %d", tc.vars,
				c.RespMaxValueBytes, c.RespMaxCommandBytes, c.RespMaxBufferBytes, tc.value, tc.command, tc.buffer)
		}
	}
	_, err := Load(testEnv(map[string]string{"RESP_MAX_VALUE_BYTES": "1000", "RESP_MAX_COMMAND_BYTES": "2279"}))
	want := `RESP_MAX_COMMAND_BYTES="2279": want at least 2280 bytes, the largest valid SET with MAX_KEY_LENGTH=256 (every character 4 bytes of UTF-8) and RESP_MAX_VALUE_BYTES=1000`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant %s", err, want)
	}
}

func TestAuthTokenErrorsNeverShowTheSecret(t *testing.T) {
	// Each bad token is a string no error message would contain by chance.
	for _, bad := range []string{"zq9 k7", "zq9\tk7", "zq9\x00k7", "zq9\u00e9k7", strings.Repeat("zq9", 342)} {
		_, err := Load(testEnv(map[string]string{"AUTH_TOKEN": bad}))
		if err == nil {
			t.Errorf("AUTH_TOKEN=%q: accepted", bad)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "AUTH_TOKEN (value not shown") {
			t.Errorf("AUTH_TOKEN=%q: error does not name the variable: %s", bad, msg)
		}
		if strings.Contains(msg, "zq9") || strings.Contains(msg, "k7") {
			t.Errorf("AUTH_TOKEN=%q: error shows the secret: %s", bad, msg)
		}
	}
}

func TestRespUnprotected(t *testing.T) {
	tests := []struct {
		vars map[string]string
		want bool
	}{
		{nil, false}, // loopback by default
		{map[string]string{"RESP_BIND": "::1"}, false}, // loopback
		{map[string]string{"RESP_BIND": "localhost"}, false},
		{map[string]string{"RESP_BIND": "0.0.0.0"}, true},
		{map[string]string{"RESP_BIND": "::"}, true},
		{map[string]string{"RESP_BIND": "10.0.0.5"}, true},
		{map[string]string{"RESP_BIND": "cache.internal"}, true}, // may resolve anywhere
		{map[string]string{"RESP_BIND": "0.0.0.0", "AUTH_TOKEN": "secret"}, false},
		{map[string]string{"RESP_BIND": "0.0.0.0", "RESP_PORT": "0"}, false}, // nothing listens
	}
	for _, tc := range tests {
		c, err := Load(testEnv(tc.vars))
		if err != nil {
			t.Fatalf("%v: %v", tc.vars, err)
		}
		if got := c.RespUnprotected(); got != tc.want {
			t.Errorf("%v: RespUnprotected() = %v, want %v", tc.vars, got, tc.want)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1": true, "127.1.2.3": true, "::1": true, "localhost": true, "LocalHost.": true,
		"": false, "0.0.0.0": false, "::": false, "192.168.1.10": false, "example.com": false, "localhost.example.com": false,
	} {
		if got := IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestCORSOrigins(t *testing.T) {
	tests := []struct {
		raw     string
		want    []string
		wantErr bool
	}{
		{"", nil, false},
		{"https://app.example.com", []string{"https://app.example.com"}, false},
		{" https://a.example , http://localhost:3000 ", []string{"https://a.example", "http://localhost:3000"}, false},
		{"*", []string{"*"}, false},
		{"app.example.com", nil, true},
		{"https://app.example.com/path", nil, true},
		{"ftp://app.example.com", nil, true},
	}
	for _, tt := range tests {
		c, err := Load(testEnv(map[string]string{"CORS_ORIGINS": tt.raw}))
		if (err != nil) != tt.wantErr {
			t.Errorf("CORS_ORIGINS=%q: err = %v", tt.raw, err)
			continue
		}
		if err != nil && !strings.Contains(err.Error(), "CORS_ORIGINS") {
			t.Errorf("error does not name CORS_ORIGINS: %v", err)
		}
		if err == nil && !slices.Equal(c.CORSOrigins, tt.want) {
			t.Errorf("CORS_ORIGINS=%q: %q, want %q", tt.raw, c.CORSOrigins, tt.want)
		}
	}
}

func TestSharedTier(t *testing.T) {
	tests := []struct {
		name              string
		vars              map[string]string
		url, from         string
		prefix            string
		localTTL          time.Duration
		wantErr           string // part of the error; "" for none
		errMustNotContain string
	}{
		{name: "unset", vars: nil, prefix: "warmkv:", localTTL: time.Second},
		{name: "REDIS_URL", vars: map[string]string{"REDIS_URL": "redis://10.0.0.5:6379/2"},
			url: "redis://10.0.0.5:6379/2", from: "REDIS_URL", prefix: "warmkv:", localTTL: time.Second},
		{name: "KV_URL when REDIS_URL is unset", vars: map[string]string{"KV_URL": "rediss://default:pw@eu1.upstash.io:6379"},
			url: "rediss://default:pw@eu1.upstash.io:6379", from: "KV_URL", prefix: "warmkv:", localTTL: time.Second},
		{name: "REDIS_URL wins over KV_URL", vars: map[string]string{"REDIS_URL": "redis://a:1", "KV_URL": "redis://b:2"},
			url: "redis://a:1", from: "REDIS_URL", prefix: "warmkv:", localTTL: time.Second},
		{name: "cluster seeds", vars: map[string]string{"REDIS_URL": "redis://n1:7000,n2:7001,n3:7002", "REDIS_PREFIX": "app1:", "LOCAL_TTL": "0"},
			url: "redis://n1:7000,n2:7001,n3:7002", from: "REDIS_URL", prefix: "app1:", localTTL: 0},
		{name: "LOCAL_TTL", vars: map[string]string{"REDIS_URL": "redis://a:1", "LOCAL_TTL": "250ms"},
			url: "redis://a:1", from: "REDIS_URL", prefix: "warmkv:", localTTL: 250 * time.Millisecond},
		{name: "not a Redis URL", vars: map[string]string{"REDIS_URL": "http://user:sekrit@host"},
			wantErr: "REDIS_URL: want redis://", errMustNotContain: "sekrit"},
		{name: "bad LOCAL_TTL", vars: map[string]string{"LOCAL_TTL": "-1s"}, wantErr: `LOCAL_TTL="-1s": want a duration`},
		{name: "snapshots beside a shared tier", vars: map[string]string{"REDIS_URL": "redis://a:1", "SNAPSHOT_PATH": "/data/w.snap"},
			wantErr: "SNAPSHOT_PATH=\"/data/w.snap\": want unset when REDIS_URL is set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(testEnv(tt.vars))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v; want one containing %q", err, tt.wantErr)
				}
				if tt.errMustNotContain != "" && strings.Contains(err.Error(), tt.errMustNotContain) {
					t.Fatalf("error shows %q: %v", tt.errMustNotContain, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.RedisURL != tt.url || (tt.url != "" && c.RedisURLVar != tt.from) || c.RedisPrefix != tt.prefix || c.LocalTTL != tt.localTTL {
				t.Fatalf("got url %q from %q, prefix %q, LOCAL_TTL %v", c.RedisURL, c.RedisURLVar, c.RedisPrefix, c.LocalTTL)
			}
		})
	}
}

func TestConnsFor(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    Memory
		want int
	}{
		{"2 GB container: the half beside the cache", Memory{Budget: 1 << 30, Limit: 2 << 30}, 16384},
		{"MAX_MEMORY under a limit", Memory{Budget: 256 << 20, Limit: 2 << 30}, 28672},
		{"MAX_MEMORY alone: as much again", Memory{Budget: 1 << 30}, 16384},
		{"8 GB", Memory{Budget: 4 << 30, Limit: 8 << 30}, 65536},
		{"small: the floor", Memory{Budget: 32 << 20, Limit: 64 << 20}, 10000},
	} {
		if got := ConnsFor(tc.m); got != tc.want {
			t.Errorf("%s: ConnsFor(%+v) = %d, want %d", tc.name, tc.m, got, tc.want)
		}
	}
}
