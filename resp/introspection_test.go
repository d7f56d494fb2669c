package resp

import (
	"bufio"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/warmkv/warmkv/cache"
)

// infoFields parses INFO's text into name -> value, and the sections seen.
func infoFields(text string) (map[string]string, []string) {
	fields := map[string]string{}
	var sections []string
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		switch {
		case strings.HasPrefix(line, "# "):
			sections = append(sections, strings.ToLower(line[2:]))
		case line != "":
			name, value, _ := strings.Cut(line, ":")
			fields[name] = value
		}
	}
	return fields, sections
}

func TestInfo(t *testing.T) {
	clk := newClock()
	ts := startServer(t, defaultDriver(), withClock(clk))
	forEachProtocol(t, ts, func(t *testing.T, c *redis.Client) {
		c.FlushAll(ctx)
		c.Set(ctx, "a", "1", 0)
		c.Set(ctx, "b", "2", 100*time.Second)
		c.Set(ctx, "c", "3", 300*time.Second)
		c.Get(ctx, "a")
		c.Get(ctx, "nokey")

		text, err := c.Info(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		fields, sections := infoFields(text)
		if want := []string{"server", "clients", "memory", "persistence", "stats", "replication", "cpu", "errorstats", "keyspace"}; strings.Join(sections, ",") != strings.Join(want, ",") {
			t.Errorf("sections %v, want %v", sections, want)
		}
		st := ts.kv.Stats()
		for name, want := range map[string]string{
			"redis_version":    "7.2.0",
			"warmkv_version":   "test",
			"redis_mode":       "standalone",
			"tcp_port":         ts.addr[strings.LastIndex(ts.addr, ":")+1:],
			"maxclients":       "10000",
			"used_memory":      strconv.FormatInt(st.Bytes, 10),
			"maxmemory":        strconv.FormatInt(st.MaxBytes, 10),
			"maxmemory_policy": "allkeys-lru",
			"keyspace_hits":    strconv.FormatUint(st.Hits, 10),
			"keyspace_misses":  strconv.FormatUint(st.Misses, 10),
			"role":             "master",
			"db0":              "keys=3,expires=2,avg_ttl=200000",
		} {
			if fields[name] != want {
				t.Errorf("%s = %q, want %q", name, fields[name], want)
			}
		}
		if st.Hits < 1 || st.Misses < 1 {
			t.Errorf("hits %d misses %d: the GETs were not counted", st.Hits, st.Misses)
		}
		for _, name := range []string{"connected_clients", "total_connections_received", "total_commands_processed", "uptime_in_seconds", "process_id", "used_memory_human"} {
			if fields[name] == "" {
				t.Errorf("%s missing", name)
			}
		}
		if n, _ := strconv.Atoi(fields["total_commands_processed"]); n < 6 {
			t.Errorf("total_commands_processed = %d, want at least the 6 commands of this test", n)
		}

		// Sections by name, in any case; unknown ones are empty.
		text, _ = c.Info(ctx, "KEYSPACE", "clients").Result()
		if _, sections := infoFields(text); strings.Join(sections, ",") != "clients,keyspace" {
			t.Errorf("INFO KEYSPACE clients: sections %v", sections)
		}
		if text, _ := c.Info(ctx, "nosuch").Result(); text != "" {
			t.Errorf("INFO nosuch = %q", text)
		}
	})

	r := ts.raw(t)
	r.do("FLUSHALL")
	if got := r.do("INFO", "keyspace"); got != "$12\r\n# Keyspace\r\n\r\n" {
		t.Errorf("INFO keyspace when empty = %q", got)
	}
	r.do("HELLO", "3")
	if got := r.do("INFO", "replication"); got != "=52\r\ntxt:# Replication\r\nrole:master\r\nconnected_slaves:0\r\n\r\n" {
		t.Errorf("INFO replication in RESP3 = %q", got)
	}
}

func TestBytesToHuman(t *testing.T) {
	for n, want := range map[int64]string{0: "0B", 1023: "1023B", 1024: "1.00K", 1536: "1.50K", 5 << 20: "5.00M", 3 << 30: "3.00G", 2 << 40: "2.00T"} {
		if got := bytesToHuman(n); got != want {
			t.Errorf("bytesToHuman(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestExpiringKeysSamplesLargeStores checks INFO's estimate above the exact
// count's limit, with a fake store that reports many entries.
func TestExpiringKeysSamplesLargeStores(t *testing.T) {
	c := &conn{srv: &Server{now: time.Now}, keys: fakeKeys{shards: 64, perShard: 100}}
	// 64 shards of 100 entries, every other one with a TTL: 2M entries are
	// claimed, so only a sample of shards is listed and scaled up.
	expires, avg := c.expiringKeys(2 << 20)
	if expires != 1<<20 {
		t.Errorf("expires = %d, want half of the entries, %d", expires, 1<<20)
	}
	if avg < 59_000 || avg > 61_000 {
		t.Errorf("avg_ttl = %d ms, want about 60000", avg)
	}
}

type fakeKeys struct{ shards, perShard int }

func (f fakeKeys) ShardCount() int { return f.shards }

func (f fakeKeys) Dump(_ int, dst []cache.Item) []cache.Item {
	exp := time.Now().Add(time.Minute).UnixNano()
	for i := range f.perShard {
		it := cache.Item{Key: "k" + strconv.Itoa(i)}
		if i%2 == 0 {
			it.ExpireAt = exp
		}
		dst = append(dst, it)
	}
	return dst
}

func TestConfigGet(t *testing.T) {
	ts := startServer(t, defaultDriver())
	forEachProtocol(t, ts, func(t *testing.T, c *redis.Client) {
		got, err := c.ConfigGet(ctx, "save").Result()
		if err != nil || len(got) != 1 || got["save"] != "" {
			t.Errorf("CONFIG GET save = %v, %v", got, err)
		}
		got, err = c.ConfigGet(ctx, "max*").Result()
		if err != nil || got["maxclients"] != "10000" || got["maxmemory"] != strconv.FormatInt(ts.kv.Stats().MaxBytes, 10) ||
			got["maxmemory-policy"] != "allkeys-lru" {
			t.Errorf("CONFIG GET max* = %v, %v", got, err)
		}
		got, _ = c.ConfigGet(ctx, "*").Result()
		if _, ok := got["requirepass"]; ok || got["appendonly"] != "no" || got["databases"] != "1" {
			t.Errorf("CONFIG GET * = %v", got)
		}
	})
	r := ts.raw(t)
	runScript(t, r, []step{
		{cmd("CONFIG", "GET", "save", "APPENDONLY", "save"), "*4\r\n$4\r\nsave\r\n$0\r\n\r\n$10\r\nappendonly\r\n$2\r\nno\r\n"},
		{cmd("CONFIG", "GET", "nosuch"), "*0\r\n"},
		{cmd("CONFIG", "GET"), "-ERR wrong number of arguments for 'config|get' command\r\n"},
		{cmd("CONFIG", "SET", "maxmemory", "1"), "-ERR CONFIG SET is not supported: warmkv is configured with environment variables at start\r\n"},
		{cmd("CONFIG", "RESETSTAT"), "-ERR CONFIG RESETSTAT is not supported: warmkv is configured with environment variables at start\r\n"},
		{cmd("CONFIG", "FOO"), "-ERR unknown subcommand 'FOO'. Try CONFIG HELP.\r\n"},
		{cmd("HELLO", "3"), r.helloFor(t)},
		{cmd("CONFIG", "GET", "save"), "%1\r\n$4\r\nsave\r\n$0\r\n\r\n"},
	})
}

// helloFor is the RESP3 HELLO reply this raw connection will get.
func (r *raw) helloFor(t *testing.T) string {
	id, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(r.do("CLIENT", "ID"), ":"), "\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	return helloReply(3, id)
}

func TestCommand(t *testing.T) {
	ts := startServer(t, defaultDriver())
	forEachProtocol(t, ts, func(t *testing.T, c *redis.Client) {
		infos, err := c.Command(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		for name, want := range map[string]struct {
			arity    int8
			readOnly bool
			first    int8
		}{
			"get": {2, true, 1}, "set": {-3, false, 1}, "mset": {-3, false, 1}, "ping": {-1, false, 0}, "client": {-2, false, 0},
		} {
			info := infos[name]
			if info == nil {
				t.Errorf("COMMAND lacks %s", name)
				continue
			}
			if info.Arity != want.arity || info.ReadOnly != want.readOnly || info.FirstKeyPos != want.first {
				t.Errorf("COMMAND %s = arity %d readonly %v first %d", name, info.Arity, info.ReadOnly, info.FirstKeyPos)
			}
		}
		count, err := c.Do(ctx, "COMMAND", "COUNT").Int64()
		if err != nil || count != int64(len(infos)) || count != int64(len(commandList)) {
			t.Errorf("COMMAND COUNT = %d, %v; COMMAND listed %d", count, err, len(infos))
		}
		names, err := c.CommandList(ctx, nil).Result()
		if err != nil || len(names) <= len(commandList) || !contains(names, "client|setname") {
			t.Errorf("COMMAND LIST = %v, %v", names, err)
		}
		docs, err := c.Do(ctx, "COMMAND", "DOCS", "set", "client", "nosuch").Result()
		n := 0
		switch d := docs.(type) {
		case map[any]any: // RESP3
			n = len(d)
		case []any: // RESP2: name, docs, name, docs
			n = len(d) / 2
		}
		if err != nil || n != 2 {
			t.Fatalf("COMMAND DOCS = %#v, %v", docs, err)
		}
	})

	r := ts.raw(t)
	runScript(t, r, []step{
		{cmd("COMMAND", "INFO", "get", "nosuch"), "*2\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n" +
			"*3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n*0\r\n*0\r\n$-1\r\n"},
		{cmd("COMMAND", "DOCS", "get"), "*2\r\n$3\r\nget\r\n*10\r\n$7\r\nsummary\r\n$34\r\nReturns the string value of a key.\r\n" +
			"$5\r\nsince\r\n$5\r\n1.0.0\r\n$5\r\ngroup\r\n$6\r\nstring\r\n$10\r\ncomplexity\r\n$4\r\nO(1)\r\n" +
			"$9\r\narguments\r\n*1\r\n*6\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n$14\r\nkey_spec_index\r\n:0\r\n"},
		{cmd("COMMAND", "DOCS", "nosuch"), "*0\r\n"},
		{cmd("COMMAND", "FOO"), "-ERR unknown subcommand 'FOO'. Try COMMAND HELP.\r\n"},
		{cmd("COMMAND", "COUNT", "x"), "-ERR wrong number of arguments for 'command|count' command\r\n"},
	})
	// Every command is documented well enough for redis-cli's hints.
	for _, c := range commandList {
		for _, cmd := range append([]*command{c}, c.subOrder...) {
			if cmd.summary == "" || cmd.since == "" || cmd.group == "" || cmd.complexity == "" || cmd.flags == nil || cmd.acl == nil {
				t.Errorf("%s is missing documentation", cmd.name)
			}
			if cmd.run == nil && cmd.subs == nil {
				t.Errorf("%s cannot run", cmd.name)
			}
		}
	}
	// Whole-table replies are well formed in both protocols.
	for _, proto := range []string{"2", "3"} {
		r.do("HELLO", proto)
		for _, args := range [][]string{{"COMMAND"}, {"COMMAND", "DOCS"}, {"COMMAND", "INFO"}, {"COMMAND", "LIST"}, {"INFO", "everything"}, {"CONFIG", "GET", "*"}} {
			if got := r.do(args...); strings.HasPrefix(got, "-") {
				t.Errorf("RESP%s %q: %q", proto, args, got)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
