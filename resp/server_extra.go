package resp

import (
	"strings"

	"github.com/warmkv/warmkv/cache"
)

// More server commands: TIME, MEMORY USAGE, OBJECT, FUNCTION, and the CLIENT
// LIST, CLIENT KILL (clients.go) and MONITOR (monitor.go) entries.

func serverExtraCommands() []*command {
	keyInfo := func(name, summary, since string, run func(*conn, [][]byte)) *command {
		return &command{name: "object|" + name, arity: 3, run: run, flags: []string{"readonly"}, firstKey: 2, lastKey: 2, step: 1,
			acl: []string{"@keyspace", "@read", "@slow"}, tips: []string{"nondeterministic_output"},
			group: "generic", summary: summary, since: since, complexity: "O(1)", docArgs: []argDoc{keyArg("key")}}
	}
	adminConn := []string{"@admin", "@slow", "@dangerous", "@connection"}
	adminFlags := []string{"admin", "noscript", "loading", "stale"}
	return []*command{
		{name: "time", arity: 1, run: cmdTime, flags: []string{"loading", "stale", "fast"}, acl: []string{"@fast"},
			tips:  []string{"nondeterministic_output"},
			group: "server", summary: "Return the current server time", since: "2.6.0", complexity: "O(1)"},
		{name: "memory", arity: -2, flags: []string{}, acl: []string{"@slow"},
			group: "server", summary: "A container for memory diagnostics commands", since: "4.0.0", complexity: "Depends on subcommand.",
			subOrder: []*command{
				{name: "memory|usage", arity: -3, run: cmdMemoryUsage, flags: []string{"readonly"}, firstKey: 2, lastKey: 2, step: 1, acl: []string{"@read", "@slow"},
					group: "server", summary: "Estimate the memory usage of a key", since: "4.0.0", complexity: "O(1)",
					docArgs: []argDoc{keyArg("key"), optional(withToken("SAMPLES", intArg("count")))}},
				{name: "memory|help", arity: 2, run: cmdMemoryHelp, flags: []string{"loading", "stale"}, acl: []string{"@slow"},
					group: "server", summary: "Show helpful text about the different subcommands", since: "4.0.0", complexity: "O(1)"},
			}},
		{name: "object", arity: -2, flags: []string{}, acl: []string{"@slow"},
			group: "generic", summary: "A container for object introspection commands", since: "2.2.3", complexity: "Depends on subcommand.",
			subOrder: []*command{
				keyInfo("encoding", "Inspect the internal encoding of a Redis object", "2.2.3", cmdObjectEncoding),
				keyInfo("freq", "Get the logarithmic access frequency counter of a Redis object", "4.0.0", cmdObjectFreq),
				keyInfo("idletime", "Get the time since a Redis object was last accessed", "2.2.3", cmdObjectIdleTime),
				keyInfo("refcount", "Get the number of references to the value of the key", "2.2.3", cmdObjectRefCount),
				{name: "object|help", arity: 2, run: cmdObjectHelp, flags: []string{"loading", "stale"}, acl: []string{"@keyspace", "@slow"},
					group: "generic", summary: "Show helpful text about the different subcommands", since: "6.2.0", complexity: "O(1)"},
			}},
		{name: "function", arity: -2, flags: []string{}, acl: []string{"@slow"},
			group: "scripting", summary: "A container for function commands", since: "7.0.0", complexity: "Depends on subcommand.",
			subOrder: []*command{
				{name: "function|list", arity: -2, run: cmdFunctionList, flags: []string{"noscript"}, acl: []string{"@slow", "@scripting"},
					tips:  []string{"nondeterministic_output_order"},
					group: "scripting", summary: "List information about all the functions", since: "7.0.0", complexity: "O(N) where N is the number of functions",
					docArgs: []argDoc{optional(withToken("LIBRARYNAME", strArg("library-name-pattern"))), optional(tokenArg("WITHCODE"))}},
				{name: "function|flush", arity: -2, run: cmdFunctionFlush, flags: []string{"write", "noscript"}, acl: []string{"@write", "@slow", "@scripting"},
					tips:  []string{"request_policy:all_shards", "response_policy:all_succeeded"},
					group: "scripting", summary: "Deleting all functions", since: "7.0.0", complexity: "O(N) where N is the number of functions deleted",
					docArgs: []argDoc{optional(oneOf("async", tokenArg("ASYNC"), tokenArg("SYNC")))}},
				{name: "function|load", arity: -3, run: cmdFunctionLoad, flags: []string{"write", "denyoom", "noscript"}, acl: []string{"@write", "@slow", "@scripting"},
					tips:  []string{"request_policy:all_shards", "response_policy:all_succeeded"},
					group: "scripting", summary: "Not supported: warmkv runs no function libraries.", since: "7.0.0", complexity: "O(1)",
					docArgs: []argDoc{optional(tokenArg("REPLACE")), strArg("function-code")}},
				{name: "function|delete", arity: 3, run: cmdFunctionDelete, flags: []string{"write", "noscript"}, acl: []string{"@write", "@slow", "@scripting"},
					tips:  []string{"request_policy:all_shards", "response_policy:all_succeeded"},
					group: "scripting", summary: "Delete a function by name", since: "7.0.0", complexity: "O(1)",
					docArgs: []argDoc{strArg("library-name")}},
				{name: "function|help", arity: 2, run: cmdFunctionHelp, flags: []string{"loading", "stale"}, acl: []string{"@slow", "@scripting"},
					group: "scripting", summary: "Show helpful text about the different subcommands", since: "7.0.0", complexity: "O(1)"},
			}},
		// Added to the CLIENT container of the main table.
		{name: "client", subOrder: []*command{
			{name: "client|list", arity: -2, run: cmdClientList, flags: adminFlags, acl: adminConn,
				tips:  []string{"nondeterministic_output"},
				group: "connection", summary: "Get the list of client connections", since: "2.4.0", complexity: "O(N) where N is the number of client connections",
				docArgs: []argDoc{optional(withToken("TYPE", oneOf("normal_master_replica_pubsub", tokenArg("NORMAL"), tokenArg("MASTER"), tokenArg("REPLICA"), tokenArg("PUBSUB")))),
					optional(withToken("ID", block("id", multiple(intArg("client-id")))))}},
			{name: "client|kill", arity: -3, run: cmdClientKill, flags: adminFlags, acl: adminConn,
				group: "connection", summary: "Kill the connection of a client", since: "2.4.0", complexity: "O(N) where N is the number of client connections",
				docArgs: []argDoc{oneOf("filter", strArg("ip:port"), multiple(oneOf("new-format",
					optional(withToken("ID", intArg("client-id"))),
					optional(withToken("TYPE", oneOf("normal_master_slave_pubsub", tokenArg("NORMAL"), tokenArg("MASTER"), tokenArg("SLAVE"), tokenArg("REPLICA"), tokenArg("PUBSUB")))),
					optional(withToken("USER", strArg("username"))), optional(withToken("ADDR", strArg("ip:port"))),
					optional(withToken("LADDR", strArg("ip:port"))), optional(withToken("SKIPME", strArg("yes/no"))))))}},
		}},
		{name: "monitor", arity: 1, run: cmdMonitor, flags: adminFlags, acl: []string{"@admin", "@slow", "@dangerous"},
			group: "server", summary: "Listen for all requests received by the server in real time", since: "1.0.0", complexity: "O(1)"},
	}
}

// cmdTime answers the server's clock as Redis does: Unix seconds and the
// microseconds within the second, as two bulk strings.
func cmdTime(c *conn, _ [][]byte) {
	now := c.srv.now()
	c.out.array(2)
	c.out.bulk(formatInt(now.Unix()))
	c.out.bulk(formatInt(int64(now.Nanosecond() / 1000)))
}

// cmdMemoryUsage answers what the entry costs the cache (cache.EntryBytes):
// its key and value as the heap holds them, its slot in the LRU arrays and
// its expiry-index item, the figures the byte budget counts. SAMPLES is read
// and checked as Redis does, and means nothing for a string.
func cmdMemoryUsage(c *conn, args [][]byte) {
	for j := 3; j < len(args); j += 2 {
		if !equalFold(args[j], "samples") || j+1 >= len(args) {
			c.out.err(msgSyntax)
			return
		}
		n, ok := parseInt(args[j+1])
		switch {
		case !ok:
			c.out.err(msgNotInteger)
			return
		case n < 0:
			c.out.err(msgSyntax)
			return
		}
	}
	v, expireAt, found, ok := c.lookupKey(args[2])
	if !ok {
		return
	}
	if !found {
		c.out.null()
		return
	}
	c.out.int(cache.EntryBytes(unsafeString(args[2]), v, expireAt != 0))
}

func cmdMemoryHelp(c *conn, _ [][]byte) {
	c.out.bulks([]string{
		"MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
		"USAGE <key> [SAMPLES <count>]",
		"    Return memory in bytes used by <key> and its value, as the cache's memory",
		"    budget counts it.",
		"HELP",
		"    Prints this help.",
	})
}

// objectKey looks up OBJECT's key, answering a null when there is none.
func (c *conn) objectKey(args [][]byte) (string, bool) {
	v, _, found, ok := c.lookupKey(args[2])
	if ok && !found {
		c.out.null()
	}
	return v, ok && found
}

// Redis's limit for strings stored inside their object ("embstr").
const embstrMaxBytes = 44

// cmdObjectEncoding names the encoding Redis would give the value after a
// SET: "int" for a 64-bit integer in canonical form, "embstr" up to 44 bytes,
// "raw" beyond. (Redis also says "raw" for a short value last changed by
// APPEND, SETRANGE or SETBIT; warmkv does not track how a value was made.)
func cmdObjectEncoding(c *conn, args [][]byte) {
	v, ok := c.objectKey(args)
	if !ok {
		return
	}
	switch _, isInt := parseInt([]byte(v)); {
	case len(v) <= 20 && isInt:
		c.out.bulk("int")
	case len(v) <= embstrMaxBytes:
		c.out.bulk("embstr")
	default:
		c.out.bulk("raw")
	}
}

// cmdObjectFreq answers as Redis does under warmkv's eviction policy,
// allkeys-lru: access frequencies are not tracked.
func cmdObjectFreq(c *conn, args [][]byte) {
	if _, ok := c.objectKey(args); !ok {
		return
	}
	c.out.err("ERR An LFU maxmemory policy is not selected, access frequency not tracked. " +
		"Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
}

// cmdObjectIdleTime answers 0: the cache keeps entries in recency order but
// not the time of each one's last use.
func cmdObjectIdleTime(c *conn, args [][]byte) {
	if _, ok := c.objectKey(args); !ok {
		return
	}
	c.out.int(0)
}

// cmdObjectRefCount answers 1, as Redis does for every value once maxmemory
// and an LRU policy are set (shared integers are then off).
func cmdObjectRefCount(c *conn, args [][]byte) {
	if _, ok := c.objectKey(args); !ok {
		return
	}
	c.out.int(1)
}

func cmdObjectHelp(c *conn, _ [][]byte) {
	c.out.bulks([]string{
		"OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
		"ENCODING <key>",
		"    Return the kind of internal representation used in order to store the value",
		"    associated with a <key>.",
		"FREQ <key>",
		"    Return the access frequency index of the <key>. The returned integer is",
		"    proportional to the logarithm of the recent access frequency of the key.",
		"IDLETIME <key>",
		"    Return the idle time of the <key>, that is the approximated number of",
		"    seconds elapsed since the last access to the key.",
		"REFCOUNT <key>",
		"    Return the number of references of the value associated with the specified",
		"    <key>.",
		"HELP",
		"    Prints this help.",
	})
}

// FUNCTION answers as a Redis that holds no function libraries: warmkv runs
// no server-side code of its own (Lua scripts are EVAL's business).

// cmdFunctionList answers the empty list, checking the options as Redis does.
func cmdFunctionList(c *conn, args [][]byte) {
	withCode, library := false, false
	for i := 2; i < len(args); i++ {
		switch {
		case !withCode && equalFold(args[i], "withcode"):
			withCode = true
		case !library && equalFold(args[i], "libraryname"):
			if i >= len(args)-1 {
				c.out.err("ERR library name argument was not given")
				return
			}
			library = true
			i++
		default:
			c.out.err("ERR Unknown argument " + string(args[i]))
			return
		}
	}
	c.out.array(0)
}

func cmdFunctionFlush(c *conn, args [][]byte) {
	switch {
	case len(args) > 3:
		c.out.err("ERR unknown subcommand or wrong number of arguments for '" + string(args[1]) + "'. Try FUNCTION HELP.")
	case len(args) == 3 && !equalFold(args[2], "sync") && !equalFold(args[2], "async"):
		c.out.err("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
	default:
		c.out.ok()
	}
}

const msgFunctionLoad = "ERR FUNCTION LOAD is not supported: warmkv runs no function libraries (FUNCTION LIST is always empty)"

func cmdFunctionLoad(c *conn, _ [][]byte) { c.out.err(msgFunctionLoad) }

func cmdFunctionDelete(c *conn, _ [][]byte) { c.out.err("ERR Library not found") }

func cmdFunctionHelp(c *conn, _ [][]byte) {
	c.out.bulks([]string{
		"FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
		"LIST [LIBRARYNAME PATTERN] [WITHCODE]",
		"    Return general information on all the libraries: none, on warmkv.",
		"FLUSH [ASYNC|SYNC]",
		"    Delete all the libraries: there are none.",
		"DELETE <LIBRARY NAME>",
		"    Delete the given library.",
		"(warmkv runs no function libraries; LOAD is not supported.)",
		"HELP",
		"    Prints this help.",
	})
}

// upperName is a command's name as its refusals spell it ("CLIENT KILL").
func upperName(cmd *command) string {
	return strings.ReplaceAll(strings.ToUpper(cmd.name), "|", " ")
}
