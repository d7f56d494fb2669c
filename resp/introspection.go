package resp

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/warmkv/warmkv/cache"
)

// The introspection commands: INFO, CONFIG GET and COMMAND, answered with what
// monitoring tools, redis-cli and redis-benchmark read.

// infoSections are INFO's sections in Redis's order; "all" and "everything"
// select them all, "default" (or no argument) all but commandstats, as in
// Redis.
var infoSections = []string{"server", "clients", "memory", "persistence", "stats", "replication", "cpu",
	"commandstats", "errorstats", "keyspace"}

func cmdInfo(c *conn, args [][]byte) {
	c.publishCalls() // an INFO just before this one counts
	want := map[string]bool{}
	if len(args) == 1 {
		want["default"] = true
	}
	for _, a := range args[1:] {
		want[strings.ToLower(string(a))] = true
	}
	all := want["all"] || want["everything"]
	byDefault := all || want["default"]
	var b strings.Builder
	for _, section := range infoSections {
		if !want[section] && !all && (!byDefault || section == "commandstats") {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\r\n")
		}
		c.writeInfoSection(&b, section)
	}
	c.out.verbatim(b.String())
}

func (c *conn) writeInfoSection(b *strings.Builder, section string) {
	s := c.srv
	field := func(name string, value any) { fmt.Fprintf(b, "%s:%v\r\n", name, value) }
	switch section {
	case "server":
		b.WriteString("# Server\r\n")
		uptime := int64(s.now().Sub(s.started).Seconds())
		field("redis_version", redisVersion)
		field("warmkv_version", s.version)
		field("redis_mode", "standalone")
		field("os", runtime.GOOS+" "+runtime.GOARCH)
		field("arch_bits", strconv.IntSize)
		field("go_version", runtime.Version())
		field("process_id", os.Getpid())
		field("run_id", s.runID)
		field("tcp_port", c.localPort())
		field("server_time_usec", s.now().UnixMicro())
		field("uptime_in_seconds", uptime)
		field("uptime_in_days", uptime/86400)
	case "clients":
		n := s.counters()
		b.WriteString("# Clients\r\n")
		field("connected_clients", n.connected)
		field("maxclients", s.maxConns)
		field("blocked_clients", 0)
	case "memory":
		st := c.kv.Stats()
		b.WriteString("# Memory\r\n")
		// used_memory is what the cache charges against its budget, the same
		// figure as memoryUsed in the HTTP API's /stats.
		field("used_memory", st.Bytes)
		field("used_memory_human", bytesToHuman(st.Bytes))
		if rss := residentBytes(); rss > 0 {
			field("used_memory_rss", rss)
			field("used_memory_rss_human", bytesToHuman(rss))
		}
		field("maxmemory", st.MaxBytes)
		field("maxmemory_human", bytesToHuman(st.MaxBytes))
		field("maxmemory_policy", "allkeys-lru")
		field("maxmemory_entries", st.MaxEntries)
		field("mem_allocator", "go")
	case "stats":
		st := c.kv.Stats()
		n := s.counters()
		b.WriteString("# Stats\r\n")
		field("total_connections_received", n.total)
		field("total_commands_processed", n.commands)
		field("rejected_connections", n.rejected)
		field("expired_keys", st.Expirations)
		field("evicted_keys", st.Evictions)
		field("keyspace_hits", st.Hits)
		field("keyspace_misses", st.Misses)
		_, errorReplies := s.ErrorStats()
		field("total_error_replies", errorReplies)
	case "replication":
		b.WriteString("# Replication\r\n")
		field("role", "master")
		field("connected_slaves", 0)
	case "persistence":
		s.writePersistence(b)
	case "cpu":
		writeCPU(b)
	case "commandstats":
		s.writeCommandStats(b)
	case "errorstats":
		s.writeErrorStats(b)
	case "keyspace":
		b.WriteString("# Keyspace\r\n")
		entries := c.kv.Stats().Entries
		if entries > 0 {
			expires, avgTTL := c.expiringKeys(entries)
			fmt.Fprintf(b, "db0:keys=%d,expires=%d,avg_ttl=%d\r\n", entries, expires, avgTTL)
		}
	}
}

// exactExpiresUpTo is the number of entries up to which INFO counts the keys
// with an expiry exactly; above it, it samples shards, since listing a shard
// holds its lock.
const exactExpiresUpTo = 1 << 20

// expiringKeys counts the keys with an expiry and their average time to live
// in milliseconds, for INFO's keyspace line. The store does not count them, so
// they are counted by listing shards: all of them for up to exactExpiresUpTo
// entries, else evenly spread shards holding about that many, extrapolated
// (Redis's avg_ttl is an estimate too). Without Keys, both are 0.
func (c *conn) expiringKeys(entries int64) (expires, avgTTLms int64) {
	s := c.srv
	if c.keys == nil {
		return 0, 0
	}
	shards := c.keys.ShardCount()
	step := 1
	if entries > exactExpiresUpTo {
		step = int(min(int64(shards), (entries+exactExpiresUpTo-1)/exactExpiresUpTo))
	}
	now := s.now().UnixNano()
	var seen, withTTL, ttlSum int64
	var items []cache.Item
	for shard := 0; shard < shards; shard += step {
		var err error
		if items, err = c.dump(shard, items[:0]); err != nil {
			return 0, 0 // a script holds the shard: no estimate rather than a wait
		}
		seen += int64(len(items))
		for _, it := range items {
			if it.ExpireAt != 0 {
				withTTL++
				ttlSum += max(it.ExpireAt-now, 0) / 1e6
			}
		}
	}
	if withTTL == 0 {
		return 0, 0
	}
	avgTTLms = ttlSum / withTTL
	if step == 1 || seen == 0 {
		return withTTL, avgTTLms
	}
	return withTTL * entries / seen, avgTTLms
}

// bytesToHuman formats as Redis's INFO does: 1.50K, 2.00M, 3.25G.
func bytesToHuman(n int64) string {
	f := float64(n)
	switch {
	case n < 1024:
		return strconv.FormatInt(n, 10) + "B"
	case n < 1024*1024:
		return fmt.Sprintf("%.2fK", f/1024)
	case n < 1024*1024*1024:
		return fmt.Sprintf("%.2fM", f/(1024*1024))
	case n < 1024*1024*1024*1024:
		return fmt.Sprintf("%.2fG", f/(1024*1024*1024))
	}
	return fmt.Sprintf("%.2fT", f/(1024*1024*1024*1024))
}

// residentBytes is the process's resident set size, or 0 where /proc is missing.
func residentBytes() int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(data))
	if len(fields) < 2 {
		return 0
	}
	pages, err := strconv.ParseInt(fields[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * int64(os.Getpagesize())
}

// configParams are the parameters CONFIG GET knows, with their values.
// requirepass is deliberately missing: the token is never sent back.
func (c *conn) configParams() [][2]string {
	s := c.srv
	st := c.kv.Stats()
	return [][2]string{
		{"save", ""},
		{"appendonly", "no"},
		{"maxmemory", strconv.FormatInt(st.MaxBytes, 10)},
		{"maxmemory-policy", "allkeys-lru"},
		{"databases", "1"},
		{"maxclients", strconv.Itoa(s.maxConns)},
		{"timeout", strconv.FormatInt(int64(s.idleTO.Seconds()), 10)},
		{"port", c.localPort()},
		{"bind", c.localHost()},
		{"proto-max-bulk-len", strconv.Itoa(s.maxValue)},
		{"client-query-buffer-limit", strconv.Itoa(s.lim.maxCommand)},
	}
}

// cmdConfigGet answers the parameters matching any of the patterns
// (case-insensitive globs, as in Redis 7), each once.
func cmdConfigGet(c *conn, args [][]byte) {
	var found [][2]string
	for _, p := range c.configParams() {
		for _, pattern := range args[2:] {
			if globMatch(strings.ToLower(string(pattern)), p[0]) {
				found = append(found, p)
				break
			}
		}
	}
	c.out.mapOf(len(found))
	for _, p := range found {
		c.out.bulk(p[0])
		c.out.bulk(p[1])
	}
}

func cmdConfigUnsupported(c *conn, args [][]byte) {
	c.out.err("ERR CONFIG " + strings.ToUpper(string(args[1])) +
		" is not supported: warmkv is configured with environment variables at start")
}

func cmdConfigHelp(c *conn, _ [][]byte) {
	c.out.bulks([]string{
		"CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
		"GET <pattern>",
		"    Return parameters matching the glob-like <pattern> and their values.",
		"HELP",
		"    Print this help.",
		"(warmkv is configured with environment variables; SET, RESETSTAT and REWRITE are not supported.)",
	})
}

// cmdCommand without a subcommand describes every command.
func cmdCommand(c *conn, _ [][]byte) {
	c.out.array(len(commandList))
	for _, cmd := range commandList {
		c.writeCommandInfo(cmd)
	}
}

func cmdCommandCount(c *conn, _ [][]byte) { c.out.int(int64(len(commandList))) }

// cmdCommandInfo describes the named commands, or all; unknown names get a null.
func cmdCommandInfo(c *conn, args [][]byte) {
	if len(args) == 2 {
		cmdCommand(c, args)
		return
	}
	c.out.array(len(args) - 2)
	for _, name := range args[2:] {
		if cmd := lookupFull(name); cmd != nil {
			c.writeCommandInfo(cmd)
		} else {
			c.out.null()
		}
	}
}

// lookupFull finds a command or, as "client|setname", a subcommand.
func lookupFull(name []byte) *command {
	parent, sub, isSub := strings.Cut(string(name), "|")
	cmd := lookup(commands, []byte(parent))
	if cmd == nil || !isSub {
		return cmd
	}
	if cmd.subs == nil {
		return nil
	}
	return lookup(cmd.subs, []byte(sub))
}

// writeCommandInfo writes the 10-element COMMAND INFO reply of Redis 7. Key
// specifications are left empty: the first/last/step positions say the same
// for these commands.
func (c *conn) writeCommandInfo(cmd *command) {
	c.out.array(10)
	c.out.bulk(cmd.name)
	c.out.int(int64(cmd.arity))
	c.out.simpleSet(cmd.flags)
	c.out.int(int64(cmd.firstKey))
	c.out.int(int64(cmd.lastKey))
	c.out.int(int64(cmd.step))
	c.out.simpleSet(cmd.acl)
	c.out.set(len(cmd.tips))
	for _, t := range cmd.tips {
		c.out.bulk(t)
	}
	c.out.array(0) // key specifications
	c.out.array(len(cmd.subOrder))
	for _, sub := range cmd.subOrder {
		c.writeCommandInfo(sub)
	}
}

// cmdCommandDocs documents the named commands, or all; unknown names are
// left out, as in Redis.
func cmdCommandDocs(c *conn, args [][]byte) {
	var list []*command
	if len(args) == 2 {
		list = commandList
	} else {
		for _, name := range args[2:] {
			if cmd := lookupFull(name); cmd != nil {
				list = append(list, cmd)
			}
		}
	}
	c.out.mapOf(len(list))
	for _, cmd := range list {
		c.out.bulk(cmd.name)
		c.writeCommandDocs(cmd)
	}
}

func (c *conn) writeCommandDocs(cmd *command) {
	n := 4
	if len(cmd.docArgs) > 0 {
		n++
	}
	if len(cmd.subOrder) > 0 {
		n++
	}
	if cmd.alias != "" {
		n++
	}
	c.out.mapOf(n)
	c.out.bulk("summary")
	c.out.bulk(cmd.summary)
	c.out.bulk("since")
	c.out.bulk(cmd.since)
	c.out.bulk("group")
	c.out.bulk(cmd.group)
	c.out.bulk("complexity")
	c.out.bulk(cmd.complexity)
	if cmd.alias != "" {
		c.out.bulk("doc_flags")
		c.out.set(0)
	}
	if len(cmd.docArgs) > 0 {
		c.out.bulk("arguments")
		c.writeArgDocs(cmd.docArgs)
	}
	if len(cmd.subOrder) > 0 {
		c.out.bulk("subcommands")
		c.out.mapOf(len(cmd.subOrder))
		for _, sub := range cmd.subOrder {
			c.out.bulk(sub.name)
			c.writeCommandDocs(sub)
		}
	}
}

func (c *conn) writeArgDocs(args []argDoc) {
	c.out.array(len(args))
	for _, a := range args {
		n := 2
		if a.token != "" {
			n++
		}
		if len(a.flags) > 0 {
			n++
		}
		if len(a.sub) > 0 {
			n++
		}
		if a.typ == "key" {
			n++
		}
		c.out.mapOf(n)
		c.out.bulk("name")
		c.out.bulk(a.name)
		c.out.bulk("type")
		c.out.bulk(a.typ)
		if a.typ == "key" {
			c.out.bulk("key_spec_index")
			c.out.int(0)
		}
		if a.token != "" {
			c.out.bulk("token")
			c.out.bulk(a.token)
		}
		if len(a.flags) > 0 {
			c.out.bulk("flags")
			c.out.simpleSet(a.flags)
		}
		if len(a.sub) > 0 {
			c.out.bulk("arguments")
			c.writeArgDocs(a.sub)
		}
	}
}

// cmdCommandList lists command names, subcommands included, as Redis does.
// FILTERBY is not supported.
func cmdCommandList(c *conn, args [][]byte) {
	if len(args) > 2 {
		c.out.err(msgSyntax)
		return
	}
	var names []string
	for _, cmd := range commandList {
		names = append(names, cmd.name)
		for _, sub := range cmd.subOrder {
			names = append(names, sub.name)
		}
	}
	c.out.bulks(names)
}

func cmdCommandHelp(c *conn, _ [][]byte) {
	c.out.bulks([]string{
		"COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
		"(no subcommand)",
		"    Return details about all commands.",
		"COUNT",
		"    Return the total number of commands in this server.",
		"LIST",
		"    Return a list of all commands in this server.",
		"INFO [<command-name> ...]",
		"    Return details about multiple commands.",
		"    If no command names are given, documentation details for all",
		"    commands are returned.",
		"DOCS [<command-name> ...]",
		"    Return documentation details about multiple commands.",
		"    If no command names are given, documentation details for all",
		"    commands are returned.",
		"HELP",
		"    Print this help.",
	})
}
