package resp

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/warmkv/warmkv/internal/redistest"
)

// The commands added for issue 15, compared with a real redis-server as
// TestAgainstRedis does. Redis runs with maxmemory and allkeys-lru, the
// policy warmkv reports, which decides OBJECT FREQ's and OBJECT REFCOUNT's
// answers.

// redisLikeWarmkv starts a redis-server configured as warmkv describes itself.
func redisLikeWarmkv(t *testing.T, args ...string) string {
	t.Helper()
	return redistest.Start(t, append([]string{"--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"}, args...)...).Addr
}

// compareScript sends each command to both servers and compares the replies.
func compareScript(t *testing.T, ours, theirs *raw, script [][]string) {
	t.Helper()
	for _, args := range script {
		got, want := ours.do(args...), theirs.do(args...)
		if got != want {
			t.Errorf("%q:\nwarmkv %q\nredis  %q", args, got, want)
		}
	}
}

func TestExtraCommandsAgainstRedis(t *testing.T) {
	ts := toolServer(t)
	ours, theirs := dialRaw(t, ts.addr), dialRaw(t, redisLikeWarmkv(t))
	for _, proto := range []string{"2", "3"} {
		t.Run("RESP"+proto, func(t *testing.T) {
			ours.do("HELLO", proto)
			theirs.do("HELLO", proto)
			compareScript(t, ours, theirs, extraScript)
		})
	}
}

const farFuture = "4102444800" // 2100-01-01

var extraScript = [][]string{
	{"FLUSHALL"},
	// GETEX.
	{"SET", "k", "v"}, {"GETEX", "k"}, {"GETEX", "nokey"}, {"GETEX", "nokey", "EX", "10"}, {"GETEX"},
	{"GETEX", "k", "EX", "100"}, {"TTL", "k"}, {"GETEX", "k", "PX", "50000"}, {"TTL", "k"},
	{"GETEX", "k", "EXAT", farFuture}, {"EXPIRETIME", "k"}, {"GETEX", "k", "PXAT", farFuture + "123"}, {"PEXPIRETIME", "k"},
	{"GETEX", "k", "PERSIST"}, {"TTL", "k"}, {"GETEX", "k", "PERSIST", "PERSIST"},
	{"GETEX", "k", "EX", "10", "EX", "20"}, {"TTL", "k"},
	{"GETEX", "k", "EX", "10", "PX", "100"}, {"GETEX", "k", "PERSIST", "EX", "10"}, {"GETEX", "k", "EX", "10", "PERSIST"},
	{"GETEX", "k", "EX"}, {"GETEX", "k", "EX", "0"}, {"GETEX", "k", "PX", "-1"}, {"GETEX", "k", "EX", "x"}, {"GETEX", "k", "KEEPTTL"},
	{"GETEX", "k", "NX"}, {"GETEX", "k", "GET"}, {"GETEX", "k", "ex", "30"}, {"TTL", "k"},
	{"GETEX", "k", "EXAT", "1"}, {"EXISTS", "k"},
	// PSETEX.
	{"PSETEX", "p", "100000", "v"}, {"TTL", "p"}, {"GET", "p"}, {"PSETEX", "p", "0", "v"}, {"PSETEX", "p", "-5", "v"},
	{"PSETEX", "p", "x", "v"}, {"PSETEX", "p", "100"},
	// INCRBYFLOAT, in long double.
	{"INCRBYFLOAT", "f", "0.1"}, {"INCRBYFLOAT", "f", "0.2"}, {"INCRBYFLOAT", "f", "-0.3"}, {"GET", "f"},
	{"INCRBYFLOAT", "f", "1e400"}, {"INCRBYFLOAT", "f", "-1e400"}, {"INCRBYFLOAT", "f", "inf"}, {"INCRBYFLOAT", "f", "-INFINITY"},
	{"INCRBYFLOAT", "f", "nan"}, {"INCRBYFLOAT", "f", "x"}, {"INCRBYFLOAT", "f", " 1"}, {"INCRBYFLOAT", "f", "1 "},
	{"INCRBYFLOAT", "f", "0x10"}, {"INCRBYFLOAT", "f", "0x1.8p1"}, {"INCRBYFLOAT", "f", "1e5000"}, {"INCRBYFLOAT", "f", "1e-5000"},
	{"INCRBYFLOAT", "f", "5.0e3"}, {"INCRBYFLOAT", "f", "1.5e-7"}, {"INCRBYFLOAT", "f", "-3"}, {"INCRBYFLOAT", "f", "+1.5"},
	{"INCRBYFLOAT", "f", ".5"}, {"INCRBYFLOAT", "f", "5."}, {"INCRBYFLOAT", "f", "1e"}, {"INCRBYFLOAT", "f", "0x"},
	{"INCRBYFLOAT", "f", "1_0"}, {"INCRBYFLOAT", "f", ""}, {"INCRBYFLOAT", "f", "--1"}, {"INCRBYFLOAT", "f", "1e-4940"},
	{"INCRBYFLOAT", "f", "3.0000000000000000001"}, {"INCRBYFLOAT", "f", "-1e-20"},
	{"SET", "s", "abc"}, {"INCRBYFLOAT", "s", "1"}, {"SET", "i", "10"}, {"INCRBYFLOAT", "i", "1.5"}, {"INCRBYFLOAT", "i", "-11.5"},
	{"INCRBYFLOAT", "big", "1.7976931348623157e308"}, {"INCRBYFLOAT", "big", "1.7976931348623157e308"},
	{"INCRBYFLOAT", "e", "1e4932"}, {"INCRBYFLOAT", "e", "1e4932"}, {"INCRBYFLOAT", "z", "-0"},
	{"SET", "ttlf", "1", "EX", "100"}, {"INCRBYFLOAT", "ttlf", "1"}, {"TTL", "ttlf"}, {"INCRBYFLOAT", "f"},
	// GETRANGE, SUBSTR.
	{"SET", "s", "Hello World"}, {"GETRANGE", "s", "0", "4"}, {"GETRANGE", "s", "-5", "-1"}, {"GETRANGE", "s", "-1", "-5"},
	{"GETRANGE", "s", "5", "2"}, {"GETRANGE", "s", "0", "100"}, {"GETRANGE", "s", "-100", "2"}, {"GETRANGE", "s", "20", "30"},
	{"GETRANGE", "s", "0", "-100"}, {"GETRANGE", "s", "-3", "-3"}, {"GETRANGE", "nokey", "0", "1"}, {"GETRANGE", "s", "x", "1"},
	{"GETRANGE", "s", "1", "1.5"}, {"SUBSTR", "s", "0", "-1"}, {"SET", "empty", ""}, {"GETRANGE", "empty", "0", "-1"},
	{"GETRANGE", "s", "0"},
	// SETRANGE.
	{"SETRANGE", "r", "5", "abc"}, {"GET", "r"}, {"SETRANGE", "r", "0", "XY"}, {"GET", "r"}, {"SETRANGE", "r", "7", "long tail"}, {"GET", "r"},
	{"SETRANGE", "r", "-1", "x"}, {"SETRANGE", "r", "x", "a"}, {"SETRANGE", "nokey2", "0", ""}, {"EXISTS", "nokey2"},
	{"SETRANGE", "r", "3", ""}, {"SETRANGE", "r", "536870911", "ab"}, {"SETRANGE", "r", "536870912", "a"},
	{"SETRANGE", "r", "9223372036854775807", "a"}, {"SETRANGE", "nokey3", "536870912", "a"}, {"SETRANGE", "nokey3", "-1", ""},
	{"SET", "rt", "abc", "EX", "100"}, {"SETRANGE", "rt", "1", "X"}, {"TTL", "rt"}, {"GET", "rt"},
	// TOUCH, EXPIRETIME, PEXPIRETIME.
	{"TOUCH", "s", "r", "nokey", "s"}, {"TOUCH"},
	{"EXPIRETIME", "nokey"}, {"PEXPIRETIME", "nokey"}, {"EXPIRETIME", "s"}, {"PEXPIRETIME", "s"},
	{"SET", "x", "v", "EXAT", farFuture}, {"EXPIRETIME", "x"}, {"PEXPIRETIME", "x"},
	{"SET", "x", "v", "PXAT", farFuture + "499"}, {"EXPIRETIME", "x"}, {"SET", "x", "v", "PXAT", farFuture + "500"}, {"EXPIRETIME", "x"},
	{"EXPIRETIME"}, {"EXPIRETIME", "a", "b"},
	// SETBIT, GETBIT.
	{"SETBIT", "b", "7", "1"}, {"GET", "b"}, {"SETBIT", "b", "7", "1"}, {"SETBIT", "b", "7", "0"}, {"GET", "b"},
	{"SETBIT", "b", "100", "1"}, {"STRLEN", "b"}, {"GETBIT", "b", "100"}, {"GETBIT", "b", "99"}, {"GETBIT", "b", "1000"},
	{"GETBIT", "nokey", "0"}, {"SETBIT", "b", "-1", "1"}, {"SETBIT", "b", "x", "1"}, {"SETBIT", "b", "1", "2"}, {"SETBIT", "b", "1", "x"},
	{"SETBIT", "b", "1", "-1"}, {"SETBIT", "b", "4294967296", "1"}, {"GETBIT", "b", "4294967296"}, {"GETBIT", "b", "-1"},
	{"SETBIT", "bt", "0", "1"}, {"EXPIRE", "bt", "100"}, {"SETBIT", "bt", "9", "1"}, {"TTL", "bt"}, {"GET", "bt"},
	{"SET", "n", "123"}, {"GETBIT", "n", "2"}, {"SETBIT", "n", "7", "0"}, {"GET", "n"},
	// BITCOUNT.
	{"SET", "bc", "foobar"}, {"BITCOUNT", "bc"}, {"BITCOUNT", "bc", "0", "0"}, {"BITCOUNT", "bc", "1", "1"}, {"BITCOUNT", "bc", "1", "1", "BYTE"},
	{"BITCOUNT", "bc", "5", "30", "BIT"}, {"BITCOUNT", "bc", "-1", "-2"}, {"BITCOUNT", "bc", "-2", "-1"}, {"BITCOUNT", "bc", "0"},
	{"BITCOUNT", "bc", "0", "1", "FOO"}, {"BITCOUNT", "bc", "x", "1"}, {"BITCOUNT", "bc", "0", "x", "FOO"}, {"BITCOUNT", "nokey"},
	{"BITCOUNT", "nokey", "0"}, {"BITCOUNT", "bc", "0", "-1", "BIT"}, {"BITCOUNT", "bc", "-5", "-1", "BIT"}, {"BITCOUNT", "bc", "100", "200"},
	{"BITCOUNT", "bc", "3", "3", "bit"}, {"BITCOUNT", "bc", "9", "9", "BIT"}, {"BITCOUNT", "bc", "-100", "-90", "BIT"}, {"BITCOUNT", "empty"},
	{"BITCOUNT", "empty", "0", "-1"}, {"BITCOUNT", "bc", "1", "2", "3", "4"}, {"BITCOUNT"},
	// BITPOS.
	{"SET", "bp", "\xff\xf0\x00"}, {"BITPOS", "bp", "0"}, {"BITPOS", "bp", "1"}, {"SET", "bp2", "\x00\xff\xf0"}, {"BITPOS", "bp2", "1", "0"},
	{"BITPOS", "bp2", "1", "2"}, {"BITPOS", "bp2", "1", "2", "-1", "BYTE"}, {"BITPOS", "bp2", "1", "7", "15", "BIT"},
	{"BITPOS", "bp2", "0", "0", "-1"}, {"SET", "ones", "\xff\xff\xff"}, {"BITPOS", "ones", "0"}, {"BITPOS", "ones", "0", "0", "-1"},
	{"BITPOS", "ones", "0", "2"}, {"BITPOS", "ones", "1", "1"}, {"BITPOS", "nokey", "1"}, {"BITPOS", "nokey", "0"}, {"BITPOS", "nokey", "0", "5", "x"},
	{"BITPOS", "bp", "2"}, {"BITPOS", "bp", "x"}, {"BITPOS", "bp", "1", "x"}, {"BITPOS", "bp", "1", "0", "x"},
	{"BITPOS", "bp", "1", "0", "1", "FOO"}, {"BITPOS", "bp", "1", "0", "1", "2", "3"}, {"BITPOS", "empty", "1"}, {"BITPOS", "empty", "0"},
	{"BITPOS", "bp", "0", "3", "12", "BIT"}, {"BITPOS", "bp", "1", "9", "9", "BIT"}, {"BITPOS", "bp", "0", "5", "6", "BIT"},
	{"BITPOS", "bp", "1", "13", "20", "BIT"}, {"BITPOS", "bp", "0", "0", "11", "BIT"}, {"BITPOS", "bp", "0", "12", "23", "BIT"},
	{"BITPOS", "bp", "1", "-9", "-1", "BIT"}, {"BITPOS", "bp", "0", "-1", "-2"}, {"BITPOS", "ones", "0", "8", "15", "BIT"},
	{"BITPOS", "ones", "0", "2", "2"}, {"BITPOS", "bp", "1", "5", "1", "BIT"}, {"BITPOS", "bp2", "0", "9", "10", "BIT"},
	{"BITPOS", "bp2", "1", "17", "30", "bit"},
	// MEMORY, OBJECT: the errors and nulls (sizes differ by nature).
	{"MEMORY", "USAGE", "nokey"}, {"MEMORY", "USAGE", "s", "SAMPLES"}, {"MEMORY", "USAGE", "s", "SAMPLES", "x"},
	{"MEMORY", "USAGE", "s", "SAMPLES", "-1"}, {"MEMORY", "USAGE", "s", "FOO", "1"}, {"MEMORY"}, {"MEMORY", "FOO"}, {"MEMORY", "USAGE"},
	{"SET", "n", "123"}, {"OBJECT", "ENCODING", "n"}, {"SET", "e", "hello"}, {"OBJECT", "ENCODING", "e"},
	{"SET", "raw", strings.Repeat("x", 50)}, {"OBJECT", "ENCODING", "raw"}, {"SET", "e44", strings.Repeat("x", 44)}, {"OBJECT", "ENCODING", "e44"},
	{"SET", "n2", "-9223372036854775808"}, {"OBJECT", "ENCODING", "n2"}, {"SET", "n3", "01"}, {"OBJECT", "ENCODING", "n3"},
	{"SET", "n4", "9223372036854775808"}, {"OBJECT", "ENCODING", "n4"}, {"OBJECT", "ENCODING", "nokey"},
	{"OBJECT", "REFCOUNT", "e"}, {"OBJECT", "REFCOUNT", "n"}, {"OBJECT", "REFCOUNT", "nokey"},
	{"OBJECT", "FREQ", "e"}, {"OBJECT", "FREQ", "nokey"}, {"OBJECT", "IDLETIME", "nokey"},
	{"OBJECT", "ENCODING"}, {"OBJECT", "FOO", "x"}, {"OBJECT"},
	// FUNCTION, as a Redis without libraries.
	{"FUNCTION", "LIST"}, {"FUNCTION", "LIST", "WITHCODE"}, {"FUNCTION", "LIST", "LIBRARYNAME", "x"}, {"FUNCTION", "LIST", "LIBRARYNAME"},
	{"FUNCTION", "LIST", "FOO"}, {"FUNCTION", "LIST", "WITHCODE", "WITHCODE"}, {"FUNCTION", "FLUSH"}, {"FUNCTION", "FLUSH", "ASYNC"},
	{"FUNCTION", "FLUSH", "sync"}, {"FUNCTION", "FLUSH", "FOO"}, {"FUNCTION", "FLUSH", "SYNC", "x"}, {"FUNCTION", "DELETE", "x"},
	{"FUNCTION", "DELETE"}, {"FUNCTION"},
	// CLIENT KILL and CLIENT LIST: the errors and the empty answers.
	{"CLIENT", "KILL", "1.2.3.4:5"}, {"CLIENT", "KILL", "ID", "x"}, {"CLIENT", "KILL", "ID", "0"}, {"CLIENT", "KILL", "ID", "999999"},
	{"CLIENT", "KILL", "TYPE", "foo"}, {"CLIENT", "KILL", "TYPE", "master"}, {"CLIENT", "KILL", "TYPE", "pubsub", "SKIPME", "no"},
	{"CLIENT", "KILL", "USER", "bob"}, {"CLIENT", "KILL", "SKIPME", "maybe"}, {"CLIENT", "KILL", "FOO", "bar"},
	{"CLIENT", "KILL", "ADDR", "x", "ID"}, {"CLIENT", "KILL", "ADDR", "1.2.3.4:5", "SKIPME", "yes"}, {"CLIENT", "KILL"},
	{"CLIENT", "LIST", "TYPE", "foo"}, {"CLIENT", "LIST", "TYPE", "pubsub"}, {"CLIENT", "LIST", "TYPE", "replica"},
	{"CLIENT", "LIST", "ID", "x"}, {"CLIENT", "LIST", "FOO"}, {"CLIENT", "LIST", "ID", "999999"}, {"CLIENT", "LIST", "TYPE"},
	// TIME and RANDOMKEY's deterministic cases.
	{"TIME", "x"}, {"RANDOMKEY", "x"}, {"FLUSHALL"}, {"RANDOMKEY"}, {"SET", "only", "1"}, {"RANDOMKEY"},
}

// TestExtraCommandsFormat: where the content differs by nature (the time, a
// random key, the connections, sizes), the shape of the reply is Redis's.
func TestExtraCommandsFormat(t *testing.T) {
	ts := toolServer(t)
	ours, theirs := dialRaw(t, ts.addr), dialRaw(t, redisLikeWarmkv(t))
	for _, r := range []*raw{ours, theirs} {
		for i := range 20 {
			r.do("SET", fmt.Sprintf("key:%d", i), "value")
		}
		r.do("CLIENT", "SETNAME", "tester")
	}
	shapes := []struct {
		args  []string
		shape string // a regexp the raw reply of both servers matches
	}{
		{[]string{"TIME"}, `^\*2\r\n\$10\r\n\d{10}\r\n\$\d\r\n\d{1,6}\r\n$`},
		{[]string{"RANDOMKEY"}, `^\$\d\r\nkey:\d+\r\n$`},
		{[]string{"MEMORY", "USAGE", "key:1"}, `^:\d+\r\n$`},
		{[]string{"MEMORY", "USAGE", "key:1", "SAMPLES", "0"}, `^:\d+\r\n$`},
		{[]string{"OBJECT", "IDLETIME", "key:1"}, `^:\d+\r\n$`},
	}
	for _, s := range shapes {
		re := regexp.MustCompile(s.shape)
		for name, r := range map[string]*raw{"warmkv": ours, "redis": theirs} {
			if got := r.do(s.args...); !re.MatchString(got) {
				t.Errorf("%s %q = %q, want %s", name, s.args, got, s.shape)
			}
		}
	}

	// CLIENT LIST and CLIENT INFO: the same fields in the same order (7.0's,
	// and 7.2's lib-name and lib-ver after them), and values of the same form.
	for _, args := range [][]string{{"CLIENT", "LIST"}, {"CLIENT", "LIST", "TYPE", "normal"}, {"CLIENT", "INFO"}, {"CLIENT", "LIST", "ID", "self", "999999"}} {
		ourArgs, theirArgs := withOwnID(ours, args), withOwnID(theirs, args)
		ourLines, theirLines := clientLines(t, ours.do(ourArgs...)), clientLines(t, theirs.do(theirArgs...))
		if len(ourLines) == 0 || len(theirLines) == 0 {
			t.Errorf("%q: warmkv %d lines, redis %d", args, len(ourLines), len(theirLines))
			continue
		}
		ourFields, theirFields := fieldNames(ourLines[0]), fieldNames(theirLines[0])
		theirFields = append(theirFields, "lib-name", "lib-ver")
		if strings.Join(ourFields, " ") != strings.Join(theirFields, " ") {
			t.Errorf("%q fields:\nwarmkv %v\nredis  %v", args, ourFields, theirFields)
		}
		for _, line := range ourLines {
			if !clientLineShape.MatchString(line) {
				t.Errorf("%q: line %q", args, line)
			}
		}
		if args[1] != "INFO" && !strings.Contains(strings.Join(ourLines, "\n"), "name=tester") && len(args) == 2 {
			t.Errorf("%q does not show the named connection: %q", args, ourLines)
		}
	}

	// INFO's new sections: the same field names as Redis's where warmkv has
	// the figure, in Redis's formats.
	for _, section := range []string{"cpu", "persistence", "commandstats", "errorstats"} {
		ours.do("NOSUCH")
		theirs.do("NOSUCH")
		ourInfo, theirInfo := infoText(ours.do("INFO", section)), infoText(theirs.do("INFO", section))
		ourFields, _ := infoFields(ourInfo)
		theirFields, _ := infoFields(theirInfo)
		if len(ourFields) == 0 {
			t.Errorf("INFO %s is empty: %q", section, ourInfo)
		}
		for name, value := range ourFields {
			if _, ok := theirFields[name]; !ok && !strings.HasPrefix(name, "cmdstat_") {
				t.Errorf("INFO %s: redis has no field %s", section, name)
			}
			if re := infoValueShape[section]; re != nil && !re.MatchString(value) {
				t.Errorf("INFO %s: %s:%s", section, name, value)
			}
		}
		for name, value := range theirFields {
			if re := infoValueShape[section]; re != nil && !re.MatchString(value) {
				t.Errorf("redis INFO %s: %s:%s does not match the shape the test expects", section, name, value)
			}
		}
	}
}

// withOwnID replaces "self" in args with the connection's client id.
func withOwnID(r *raw, args []string) []string {
	out := append([]string(nil), args...)
	for i, a := range out {
		if a == "self" {
			out[i] = strings.Trim(r.do("CLIENT", "ID"), ":\r\n")
		}
	}
	return out
}

var clientLineShape = regexp.MustCompile(`^id=\d+ addr=[\d.]+:\d+ laddr=[\d.]+:\d+ fd=-?\d+ name=\S* age=\d+ idle=\d+ flags=[NO] db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=\d+ qbuf-free=\d+ argv-mem=\d+ multi-mem=0 rbs=\d+ rbp=\d+ obl=0 oll=0 omem=\d+ tot-mem=\d+ events=r cmd=\S+ user=default redir=-1 resp=[23] lib-name=\S* lib-ver=\S*$`)

var infoValueShape = map[string]*regexp.Regexp{
	"cpu":          regexp.MustCompile(`^\d+\.\d{6}$`),
	"commandstats": regexp.MustCompile(`^calls=\d+,usec=\d+,usec_per_call=\d+\.\d\d,rejected_calls=\d+,failed_calls=\d+$`),
	"errorstats":   regexp.MustCompile(`^count=\d+$`),
}

// clientLines splits a CLIENT LIST reply (RESP2 bulk) into its lines.
func clientLines(t *testing.T, reply string) []string {
	t.Helper()
	_, body, ok := strings.Cut(reply, "\r\n")
	if !ok || !strings.HasPrefix(reply, "$") {
		t.Errorf("CLIENT LIST reply %q", reply)
		return nil
	}
	return strings.Split(strings.TrimSuffix(strings.TrimSuffix(body, "\r\n"), "\n"), "\n")
}

func fieldNames(line string) []string {
	var names []string
	for _, f := range strings.Fields(line) {
		name, _, _ := strings.Cut(f, "=")
		names = append(names, name)
	}
	return names
}

// infoText is the text of an INFO reply in RESP2.
func infoText(reply string) string {
	_, body, _ := strings.Cut(reply, "\r\n")
	return strings.TrimSuffix(body, "\r\n")
}
