package resp

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/warmkv/warmkv/internal/redistest"
)

// These tests run the real Redis tools from the Debian packages redis-tools
// and redis-server against warmkv. Without them the tests skip, except in CI
// (CI=true), where a missing tool is a failure: .ci/run installs them.

func needTool(t *testing.T, name string) string { return redistest.Need(t, name) }

func (ts *testServer) port() string {
	_, port, _ := net.SplitHostPort(ts.addr)
	return port
}

// run runs a tool with a time limit and returns its combined output.
func run(t *testing.T, stdin string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// toolServer is a warmkv server with the default key length and Redis's
// value limit (512 MiB), as the tools see it in production.
func toolServer(t *testing.T, opts ...serverOpt) *testServer {
	return startServer(t, defaultDriver(), append([]serverOpt{func(o *Options) {
		o.MaxKeyLength, o.MaxValueBytes = 256, 0
	}}, opts...)...)
}

func TestRedisCLI(t *testing.T) {
	cli := needTool(t, "redis-cli")
	ts := toolServer(t)
	port := ts.port()
	redisCLI := func(args ...string) string {
		t.Helper()
		return strings.TrimRight(run(t, "", cli, append([]string{"-p", port}, args...)...), "\n")
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"PING"}, "PONG"},
		{[]string{"SET", "name", "vimla"}, "OK"},
		{[]string{"GET", "name"}, "vimla"},
		{[]string{"SET", "greeting", "héllo wörld", "EX", "100"}, "OK"},
		{[]string{"--no-raw", "GET", "greeting"}, `"h\xc3\xa9llo w\xc3\xb6rld"`},
		{[]string{"--raw", "GET", "greeting"}, "héllo wörld"},
		{[]string{"TTL", "greeting"}, "100"},
		{[]string{"INCR", "visits"}, "1"},
		{[]string{"INCRBY", "visits", "9"}, "10"},
		{[]string{"MSET", "a", "1", "b", "2"}, "OK"},
		{[]string{"MGET", "a", "nokey", "b"}, "1\n\n2"},
		{[]string{"--no-raw", "MGET", "a", "nokey"}, "1) \"1\"\n2) (nil)"},
		{[]string{"EXISTS", "a", "b", "c"}, "2"},
		{[]string{"DEL", "a", "b"}, "2"},
		{[]string{"TYPE", "name"}, "string"},
		{[]string{"DBSIZE"}, "3"},
		{[]string{"--no-raw", "SET", "k", "v", "EX", "0"}, "(error) ERR invalid expire time in 'set' command"},
		{[]string{"--no-raw", "FOO", "bar"}, "(error) ERR unknown command 'FOO', with args beginning with: 'bar' "},
		{[]string{"CONFIG", "GET", "appendonly"}, "appendonly\nno"},
		{[]string{"-3", "--no-raw", "MGET", "name", "nokey"}, "1) \"vimla\"\n2) (nil)"},
		{[]string{"-3", "--no-raw", "CONFIG", "GET", "databases"}, "1# \"databases\" => \"1\""},
	} {
		if got := redisCLI(tc.args...); got != tc.want {
			t.Errorf("redis-cli %q = %q, want %q", tc.args, got, tc.want)
		}
	}

	if got := redisCLI("--raw", "INFO", "keyspace"); !strings.Contains(got, "db0:keys=3,expires=1,") {
		t.Errorf("INFO keyspace = %q", got)
	}
	keys := strings.Fields(redisCLI("--scan", "--pattern", "*"))
	if strings.Join(sorted(keys), " ") != "greeting name visits" {
		t.Errorf("redis-cli --scan = %q", keys)
	}

	// Interactive mode, as a person at a terminal uses it: redis-cli reads
	// COMMAND DOCS first, for its help and hints.
	out := run(t, "SET session abc\nGET session\nhelp SET\n", cli, "-p", port)
	out = regexp.MustCompile("\x1b\\[[0-9;]*m").ReplaceAllString(out, "") // colours
	if !strings.Contains(out, "OK\nabc\n") || !strings.Contains(out, "SET key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]") {
		t.Errorf("interactive redis-cli:\n%s", out)
	}

	// Mass insertion: redis-cli --pipe sends raw commands and counts errors.
	var pipe strings.Builder
	for i := range 1000 {
		pipe.WriteString(encode("SET", fmt.Sprintf("bulk:%d", i), strconv.Itoa(i)))
	}
	out = run(t, pipe.String(), cli, "-p", port, "--pipe")
	if !strings.Contains(out, "errors: 0, replies: 1000") {
		t.Errorf("redis-cli --pipe:\n%s", out)
	}
	if got := redisCLI("GET", "bulk:999"); got != "999" {
		t.Errorf("after --pipe, bulk:999 = %q", got)
	}
}

func TestRedisCLIWithAuth(t *testing.T) {
	cli := needTool(t, "redis-cli")
	ts := toolServer(t, withAuth("s3cret"))
	port := ts.port()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"PING"}, "NOAUTH Authentication required."},
		{[]string{"-a", "s3cret", "--no-auth-warning", "PING"}, "PONG"},
		{[]string{"-a", "s3cret", "--no-auth-warning", "-3", "SET", "k", "v"}, "OK"},
		{[]string{"--user", "default", "--pass", "s3cret", "--no-auth-warning", "GET", "k"}, "v"},
		{[]string{"-a", "wrong", "--no-auth-warning", "PING"}, "AUTH failed: WRONGPASS invalid username-password pair or user is disabled."},
	} {
		got := strings.TrimSpace(run(t, "", cli, append([]string{"-p", port}, tc.args...)...))
		if !strings.Contains(got, tc.want) {
			t.Errorf("redis-cli %q = %q, want %q", tc.args, got, tc.want)
		}
	}
}

// TestRedisBenchmark runs redis-benchmark's own tests; any error reply or a
// missing result fails.
func TestRedisBenchmark(t *testing.T) {
	bench := needTool(t, "redis-benchmark")
	for _, tc := range []struct {
		name string
		auth string
		args []string
	}{
		{"RESP2", "", nil},
		{"RESP3 pipelined", "", []string{"-3", "-P", "16"}},
		{"with AUTH", "s3cret", []string{"-a", "s3cret"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []serverOpt
			if tc.auth != "" {
				opts = append(opts, withAuth(tc.auth))
			}
			ts := toolServer(t, opts...)
			args := append([]string{"-p", ts.port(), "-t", "ping,set,get,incr,mset", "-q", "-n", "20000"}, tc.args...)
			out := run(t, "", bench, args...)
			// -q prints each result on a line after progress lines ending
			// in \r; keep the final ones.
			results := map[string]bool{}
			for _, line := range strings.Split(strings.ReplaceAll(out, "\r", "\n"), "\n") {
				if name, _, ok := strings.Cut(line, ": "); ok && strings.Contains(line, "requests per second") {
					results[strings.TrimSpace(name)] = true
				}
			}
			for _, test := range []string{"PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "MSET (10 keys)"} {
				if !results[test] {
					t.Errorf("no result for %s:\n%s", test, out)
				}
			}
			if regexp.MustCompile(`(?i)\berr(or)?\b|warning`).MatchString(out) {
				t.Errorf("redis-benchmark reported a problem:\n%s", out)
			}
			if n := ts.kv.Stats().Entries; n == 0 {
				t.Error("nothing was stored")
			}
		})
	}
}

// TestAgainstRedis sends the same commands to a real redis-server and to
// warmkv and compares the replies byte for byte: the error texts, the
// RESP2 and RESP3 encodings, the corner cases of the options.
func TestAgainstRedis(t *testing.T) {
	for _, withPassword := range []bool{false, true} {
		t.Run(fmt.Sprintf("password=%v", withPassword), func(t *testing.T) {
			var opts []serverOpt
			var redisArgs []string
			if withPassword {
				opts = append(opts, withAuth("pw"))
				redisArgs = []string{"--requirepass", "pw"}
			}
			ts := toolServer(t, opts...)
			redisAddr := redistest.Start(t, redisArgs...).Addr
			script := againstRedisScript
			if withPassword {
				script = append(authScript, script...)
			}
			ours, theirs := dialRaw(t, ts.addr), dialRaw(t, redisAddr)
			for _, args := range script {
				got, want := sameServer(ours.do(args...)), sameServer(theirs.do(args...))
				if got != want {
					t.Errorf("%q:\nwarmkv %q\nredis  %q", args, got, want)
				}
			}
		})
	}
}

// sameServer hides what rightly differs between the two servers: the version
// and the connection id in HELLO's reply.
func sameServer(reply string) string {
	reply = regexp.MustCompile(`version\r\n\$\d+\r\n[0-9.]+\r\n`).ReplaceAllString(reply, "version\r\n$V\r\nV\r\n")
	return regexp.MustCompile(`id\r\n:\d+\r\n`).ReplaceAllString(reply, "id\r\n:ID\r\n")
}

// authScript runs first when both servers have a password.
var authScript = [][]string{
	{"PING"}, {"GET", "k"}, {"SET", "k", "v"}, {"SELECT", "0"}, {"CLIENT", "GETNAME"},
	{"NOSUCH"}, {"GET"}, {"HELLO", "3"},
	{"AUTH", "wrong"}, {"AUTH", "default", "wrong"}, {"AUTH", "nobody", "pw"},
	{"HELLO", "2", "AUTH", "default", "wrong"},
	{"AUTH", "pw"}, {"PING"},
}

var againstRedisScript = [][]string{
	{"FLUSHALL"},
	{"PING"}, {"PING", "hello"}, {"PING", "a", "b"}, {"ECHO", "héllo"}, {"ECHO"},
	{"SELECT", "0"}, {"SELECT", "x"},
	{"NOSUCH"}, {"nosuch", "a", "b"}, {"FOO", strings.Repeat("x", 150)},
	{"GET"}, {"GET", "a", "b"}, {"SET", "k"},
	{"GET", "k"}, {"SET", "k", "v"}, {"GET", "k"}, {"SET", "k", "", "GET"}, {"GET", "k"},
	{"SET", "k", "v", "NX"}, {"SET", "k", "v", "XX"}, {"SET", "nk", "v", "XX"}, {"SET", "k", "w", "NX", "GET"},
	{"SET", "k", "v", "NX", "XX"}, {"SET", "k", "v", "XX", "NX"}, {"SET", "k", "v", "EX"}, {"SET", "k", "v", "EX", "10", "PX", "100"},
	{"SET", "k", "v", "KEEPTTL", "EX", "1"}, {"SET", "k", "v", "EX", "1", "KEEPTTL"}, {"SET", "k", "v", "BOGUS"},
	{"SET", "k", "v", "EX", "0"}, {"SET", "k", "v", "EX", "-1"}, {"SET", "k", "v", "PX", "0"}, {"SET", "k", "v", "EX", "abc"},
	{"SET", "k", "v", "EX", "9223372036854775807"}, {"SET", "k", "v", "EXAT", "0"},
	{"SET", "k", "v", "ex", "100", "ex", "1000"}, {"TTL", "k"}, {"SET", "k", "v", "KEEPTTL"}, {"TTL", "k"},
	{"SET", "k", "v"}, {"TTL", "k"}, {"PTTL", "k"}, {"TTL", "nokey"}, {"PTTL", "nokey"}, // no PTTL of a live TTL: a millisecond may pass between the servers
	{"SET", "k", "v", "EXAT", "1"}, {"GET", "k"},
	{"SETNX", "k", "1"}, {"SETNX", "k", "2"}, {"GET", "k"},
	{"SETEX", "k", "100", "v"}, {"TTL", "k"}, {"SETEX", "k", "0", "v"}, {"SETEX", "k", "x", "v"},
	{"GETSET", "k", "w"}, {"TTL", "k"}, {"GETSET", "new", "1"}, {"GETDEL", "new"}, {"GETDEL", "new"},
	{"MSET", "a", "1", "b", "2"}, {"MSET", "a"}, {"MSET", "a", "1", "b"}, {"MGET", "a", "nokey", "b"},
	{"INCR", "n"}, {"INCRBY", "n", "10"}, {"DECR", "n"}, {"DECRBY", "n", "5"}, {"INCRBY", "n", "x"},
	{"INCRBY", "n", "1.5"}, {"INCRBY", "n", "+1"}, {"INCRBY", "n", "01"},
	{"DECRBY", "n", "-9223372036854775808"}, {"SET", "n", "9223372036854775807"}, {"INCR", "n"}, {"INCRBY", "n", "-1"},
	{"SET", "n", "-9223372036854775808"}, {"DECR", "n"}, {"SET", "n", " 1"}, {"INCR", "n"}, {"SET", "n", "01"}, {"INCR", "n"},
	{"INCR", "k"}, {"APPEND", "ap", "ab"}, {"APPEND", "ap", "çd"}, {"GET", "ap"}, {"STRLEN", "ap"}, {"STRLEN", "nokey"},
	{"EXISTS", "a", "a", "nokey"}, {"TYPE", "a"}, {"TYPE", "nokey"},
	{"DEL", "a", "nokey"}, {"UNLINK", "b"}, {"DEL"},
	{"EXPIRE", "nokey", "10"}, {"SET", "e", "v"}, {"EXPIRE", "e", "100"}, {"TTL", "e"}, {"PEXPIRE", "e", "50000"}, {"TTL", "e"},
	{"EXPIRE", "e", "100", "XX"}, {"EXPIRE", "e", "100", "NX"}, {"EXPIRE", "e", "50", "GT"}, {"EXPIRE", "e", "500", "GT"},
	{"EXPIRE", "e", "1000", "LT"}, {"EXPIRE", "e", "50", "LT"}, {"TTL", "e"},
	{"EXPIRE", "e", "10", "NX", "XX"}, {"EXPIRE", "e", "10", "GT", "LT"}, {"EXPIRE", "e", "10", "NX", "GT"}, {"EXPIRE", "e", "10", "BOGUS"},
	{"EXPIRE", "e", "x"}, {"EXPIRE", "e", "9223372036854775807"}, {"EXPIRE"},
	{"PERSIST", "e"}, {"PERSIST", "e"}, {"PERSIST", "nokey"}, {"TTL", "e"},
	{"EXPIRE", "e", "-1"}, {"EXISTS", "e"}, {"SET", "e", "v"}, {"EXPIREAT", "e", "1"}, {"EXISTS", "e"},
	{"SET", "e", "v"}, {"PEXPIREAT", "e", "1"}, {"EXISTS", "e"},
	{"KEYS", "a*"}, {"SCAN", "0", "MATCH", "ap*", "COUNT", "1000"}, {"SCAN", "x"}, {"SCAN", "0", "COUNT", "0"},
	{"SCAN", "0", "MATCH"}, {"SCAN", "0", "BOGUS", "x"}, {"SCAN", "0", "TYPE", "list", "COUNT", "1000"},
	{"FLUSHALL", "x"}, {"FLUSHDB", "ASYNC", "x"},
	{"CLIENT", "GETNAME"}, {"CLIENT", "SETNAME", "a b"}, {"CLIENT", "SETNAME", "app"}, {"CLIENT", "GETNAME"},
	{"CLIENT", "SETNAME"}, {"CLIENT", "BOGUS"}, {"CLIENT"},
	{"CONFIG", "GET", "appendonly"}, {"CONFIG", "GET"}, {"CONFIG", "BOGUS"},
	{"COMMAND", "BOGUS"}, {"COMMAND", "COUNT", "x"},
	{"HELLO", "4"}, {"HELLO", "x"}, {"HELLO", "3", "BOGUS"}, {"HELLO", "3", "AUTH", "default"}, {"HELLO", "3", "SETNAME", "a b"},
	{"AUTH", "a", "b", "c"},
	// The same replies in RESP3.
	{"SELECT", "0"}, {"CLIENT", "SETNAME", "x"},
	{"HELLO", "3", "SETNAME", "resp3"}, {"GET", "nokey"}, {"MGET", "ap", "nokey"}, {"CLIENT", "GETNAME"},
	{"SET", "nk", "v", "XX"}, {"SET", "k2", "v", "GET"}, {"GETDEL", "nokey"}, {"CONFIG", "GET", "appendonly"},
	{"SCAN", "0", "MATCH", "k2", "COUNT", "1000"}, {"KEYS", "k2"},
	{"HELLO", "2"}, {"GET", "nokey"},
	{"QUIT"},
}

func dialRaw(t *testing.T, addr string) *raw {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &raw{t: t, conn: conn, rd: bufio.NewReader(conn)}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}
