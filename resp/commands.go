package resp

import (
	"slices"
	"strings"
)

// command is one entry of the command table: how to run it, and what COMMAND
// and COMMAND DOCS say about it, in Redis's terms.
type command struct {
	name  string // lower case, "container|sub" for subcommands, as Redis reports it
	arity int    // Redis arity: n means exactly n arguments, -n at least n (name included)
	run   func(c *conn, args [][]byte)
	subs  map[string]*command // CLIENT, COMMAND, CONFIG

	// For COMMAND INFO.
	flags                   []string
	firstKey, lastKey, step int
	acl                     []string
	tips                    []string
	noAuth                  bool // runs before AUTH, as AUTH and HELLO must
	group, summary, since   string
	complexity              string
	docArgs                 []argDoc
	upper                   string // for "Try CLIENT HELP."
	subOrder                []*command
	alias                   string // DELETE is DEL under another name

	slot int // its place in the per-command counts (stats.go)
	// keyspace: it reads or writes keys, so a MONITOR client may not run it;
	// skipMonitor: administrative, so monitors are not shown it;
	// monitorFirst: a script, which monitors are shown before the commands
	// it runs, as Redis's evalCommand feeds them before it runs the script.
	keyspace, skipMonitor, monitorFirst bool
}

// argDoc documents one argument for COMMAND DOCS, which redis-cli turns into
// the hints it shows while you type.
type argDoc struct {
	name, typ, token string
	flags            []string
	sub              []argDoc
}

func keyArg(name string) argDoc  { return argDoc{name: name, typ: "key"} }
func strArg(name string) argDoc  { return argDoc{name: name, typ: "string"} }
func intArg(name string) argDoc  { return argDoc{name: name, typ: "integer"} }
func unixArg(name string) argDoc { return argDoc{name: name, typ: "unix-time"} }
func patternArg(n string) argDoc { return argDoc{name: n, typ: "pattern"} }
func tokenArg(tok string) argDoc {
	return argDoc{name: strings.ToLower(tok), typ: "pure-token", token: tok}
}
func withToken(tok string, a argDoc) argDoc {
	a.token = tok
	return a
}
func optional(a argDoc) argDoc { a.flags = append(a.flags, "optional"); return a }
func multiple(a argDoc) argDoc { a.flags = append(a.flags, "multiple"); return a }
func oneOf(name string, alts ...argDoc) argDoc {
	return argDoc{name: name, typ: "oneof", sub: alts}
}
func block(name string, parts ...argDoc) argDoc {
	return argDoc{name: name, typ: "block", sub: parts}
}

var expireCondition = optional(oneOf("condition", tokenArg("NX"), tokenArg("XX"), tokenArg("GT"), tokenArg("LT")))

// commandTable lists every command warmkv understands. Flags, key positions,
// ACL categories and arities are Redis 7's for the same commands.
func commandTable() []*command {
	readFast := []string{"readonly", "fast"}
	writeFast := []string{"write", "fast"}
	writeOOM := []string{"write", "denyoom"}
	writeOOMFast := []string{"write", "denyoom", "fast"}
	conn := []string{"@fast", "@connection"}
	return []*command{
		// Connection.
		{name: "ping", arity: -1, run: cmdPing, flags: []string{"fast"}, acl: conn,
			tips:  []string{"request_policy:all_shards", "response_policy:all_succeeded"},
			group: "connection", summary: "Returns the server's liveliness response.", since: "1.0.0", complexity: "O(1)",
			docArgs: []argDoc{optional(strArg("message"))}},
		{name: "echo", arity: 2, run: cmdEcho, flags: []string{"fast"}, acl: conn,
			group: "connection", summary: "Returns the given string.", since: "1.0.0", complexity: "O(1)",
			docArgs: []argDoc{strArg("message")}},
		{name: "quit", arity: -1, run: cmdQuit, flags: []string{"allow_busy", "noscript", "loading", "stale", "fast", "no_auth"}, noAuth: true, acl: conn,
			group: "connection", summary: "Closes the connection.", since: "1.0.0", complexity: "O(1)"},
		{name: "select", arity: 2, run: cmdSelect, flags: []string{"loading", "stale", "fast"}, acl: conn,
			group: "connection", summary: "Changes the selected database; warmkv has only database 0.", since: "1.0.0", complexity: "O(1)",
			docArgs: []argDoc{intArg("index")}},
		{name: "auth", arity: -2, run: cmdAuth, flags: []string{"noscript", "loading", "stale", "fast", "no_auth", "allow_busy"}, noAuth: true,
			acl: []string{"@fast", "@connection"}, group: "connection", summary: "Authenticates the connection with AUTH_TOKEN.", since: "1.0.0",
			complexity: "O(N) where N is the number of passwords defined for the user",
			docArgs:    []argDoc{optional(strArg("username")), strArg("password")}},
		{name: "hello", arity: -1, run: cmdHello, flags: []string{"noscript", "loading", "stale", "fast", "no_auth", "allow_busy"}, noAuth: true, acl: conn,
			group: "connection", summary: "Handshakes with the server: RESP2 or RESP3, authentication, client name.", since: "6.0.0", complexity: "O(1)",
			docArgs: []argDoc{optional(block("arguments", intArg("protover"),
				optional(withToken("AUTH", block("username-password", strArg("username"), strArg("password")))),
				optional(withToken("SETNAME", strArg("clientname")))))}},
		{name: "client", arity: -2, flags: []string{}, acl: []string{"@slow"}, group: "connection",
			summary: "A container for client connection commands.", since: "2.4.0", complexity: "Depends on subcommand.",
			subOrder: []*command{
				{name: "client|id", arity: 2, run: cmdClientID, flags: []string{"noscript", "loading", "stale"}, acl: []string{"@slow", "@connection"},
					group: "connection", summary: "Returns the unique client ID of the connection.", since: "5.0.0", complexity: "O(1)"},
				{name: "client|getname", arity: 2, run: cmdClientGetName, flags: []string{"noscript", "loading", "stale"}, acl: []string{"@slow", "@connection"},
					group: "connection", summary: "Returns the name of the connection.", since: "2.6.9", complexity: "O(1)"},
				{name: "client|setname", arity: 3, run: cmdClientSetName, flags: []string{"noscript", "loading", "stale"}, acl: []string{"@slow", "@connection"},
					group: "connection", summary: "Sets the connection name.", since: "2.6.9", complexity: "O(1)",
					docArgs: []argDoc{strArg("connection-name")}},
				{name: "client|setinfo", arity: 4, run: cmdClientSetInfo, flags: []string{"noscript", "loading", "stale"}, acl: []string{"@slow", "@connection"},
					group: "connection", summary: "Sets information specific to the client or connection.", since: "7.2.0", complexity: "O(1)",
					docArgs: []argDoc{oneOf("attr", withToken("LIB-NAME", strArg("libname")), withToken("LIB-VER", strArg("libver")))}},
				{name: "client|info", arity: 2, run: cmdClientInfo, flags: []string{"noscript", "loading", "stale"}, acl: []string{"@slow", "@connection"},
					tips:  []string{"nondeterministic_output"},
					group: "connection", summary: "Returns information about the connection.", since: "6.2.0", complexity: "O(1)"},
				{name: "client|help", arity: 2, run: cmdClientHelp, flags: []string{"loading", "stale"}, acl: []string{"@slow", "@connection"},
					group: "connection", summary: "Returns helpful text about the different subcommands.", since: "5.0.0", complexity: "O(1)"},
			}},

		// Strings.
		{name: "get", arity: 2, run: cmdGet, flags: readFast, firstKey: 1, lastKey: 1, step: 1, acl: []string{"@read", "@string", "@fast"},
			group: "string", summary: "Returns the string value of a key.", since: "1.0.0", complexity: "O(1)",
			docArgs: []argDoc{keyArg("key")}},
		{name: "set", arity: -3, run: cmdSet, flags: writeOOM, firstKey: 1, lastKey: 1, step: 1, acl: []string{"@write", "@string", "@slow"},
			group: "string", summary: "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", since: "1.0.0", complexity: "O(1)",
			docArgs: []argDoc{keyArg("key"), strArg("value"),
				optional(oneOf("condition", tokenArg("NX"), tokenArg("XX"))),
				optional(tokenArg("GET")),
				optional(oneOf("expiration", withToken("EX", intArg("seconds")), withToken("PX", intArg("milliseconds")),
					withToken("EXAT", unixArg("unix-time-seconds")), withToken("PXAT", unixArg("unix-time-milliseconds")), tokenArg("KEEPTTL")))}},
		{name: "setnx", arity: 3, run: cmdSetNX, flags: writeOOMFast, firstKey: 1, lastKey: 1, step: 1, acl: []string{"@write", "@string", "@fast"},
			group: "string", summary: "Set the string value of a key only when the key doesn't exist.", since: "1.0.0", complexity: "O(1)",
			docArgs: []argDoc{keyArg("key"), strArg("value")}},
		{name: "setex", arity: 4, run: cmdSetEx, flags: writeOOM, firstKey: 1, lastKey: 1, step: 1, acl: []string{"@write", "@string", "@slow"},
			group: "string", summary: "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.", since: "2.0.0", complexity: "O(1)",
			docArgs: []argDoc{keyArg("key"), intArg("seconds"), strArg("value")}},
		{name: "getset", arity: 3, run: cmdGetSet, flags: writeOOMFast, firstKey: 1, lastKey: 1, step: 1, acl: []string{"@write", "@string", "@fast"},
			group: "string", summary: "Returns the previous string value of a key after setting it to a new value.", since: "1.0.0", complexity: "O(1)",
			docArgs: []argDoc{keyArg("key"), strArg("value")}},
		{name: "getdel", arity: 2, run: cmdGetDel, flags: writeFast, firstKey: 1, lastKey: 1, step: 1, acl: []string{"@write", "@string", "@fast"},
			group: "string", summary: "Returns the string value of a key after deleting the key.", since: "6.2.0", complexity: "O(1)",
			docArgs: []argDoc{keyArg("key")}},
		{name: "mget", arity: -2, run: cmdMGet, flags: readFast, firstKey: 1, lastKey: -1, step: 1, acl: []string{"@read", "@string", "@fast"},
			tips:  []string{"request_policy:multi_shard"},
			group: "string", summary: "Atomically returns the string values of one or more keys.", since: "1.0.0", complexity: "O(N) where N is the number of keys to retrieve.",
			docArgs: []argDoc{multiple(keyArg("key"))}},
		{name: "mset", arity: -3, run: cmdMSet, flags: writeOOM, firstKey: 1, lastKey: -1, step: 2, acl: []string{"@write", "@string", "@slow"},
			tips:  []string{"request_policy:multi_shard", "response_policy:all_succeeded"},
			group: "string", summary: "Creates or modifies the string values of one or more keys.", since: "1.0.1", complexity: "O(N) where N is the number of keys to set.",
			docArgs: []argDoc{multiple(block("data", keyArg("key"), strArg("value")))}},
		{name: "incr", arity: 2, run: cmdIncr, flags: writeOOMFast, firstKey: 1, lastKey: 1, step: 1, acl: []string{"@write", "@string", "@fast"},
			group: "string", summary: "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", since: "1.0.0", complexity: "O(1)",
			docArgs: []argDoc{keyArg("key")}},
		{name: "decr", arity: 2, run: cmdDecr, flags: writeOOMFast, firstKey: 1, lastKey: 1, step: 1, acl: []string{"@write", "@string", "@fast"},
			group: "string", summary: "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", since: "1.0.0", complexity: "O(1)",
			docArgs: []argDoc{keyArg("key")}},
		{name: "incrby", arity: 3, run: cmdIncrBy, flags: writeOOMFast, firstKey: 1, lastKey: 1, step: 1, acl: []string{"@write", "@string", "@fast"},
			group: "string", summary: "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.", since: "1.0.0", complexity: "O(1)",
			docArgs: []argDoc{keyArg("key"), intArg("increment")}},
		{name: "decrby", arity: 3, run: cmdDecrBy, flags: writeOOMFast, firstKey: 1, lastKey: 1, step: 1, acl: []string{"@write", "@string", "@fast"},
			group: "string", summary: "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.", since: "1.0.0", complexity: "O(1)",
			docArgs: []argDoc{keyArg("key"), intArg("decrement")}},
		{name: "append", arity: 3, run: cmdAppend, flags: writeOOMFast, firstKey: 1, lastKey: 1, step: 1, acl: []string{"@write", "@string", "@fast"},
			group: "string", summary: "Appends a string to the value of a key. Creates the key if it doesn't exist.", since: "2.0.0", complexity: "O(1)",
			docArgs: []argDoc{keyArg("key"), strArg("value")}},
		{name: "strlen", arity: 2, run: cmdStrlen, flags: readFast, firstKey: 1, lastKey: 1, step: 1, acl: []string{"@read", "@string", "@fast"},
			group: "string", summary: "Returns the length of a string value, in bytes.", since: "2.2.0", complexity: "O(1)",
			docArgs: []argDoc{keyArg("key")}},

		// Keyspace.
		{name: "del", arity: -2, run: cmdDel, flags: []string{"write"}, firstKey: 1, lastKey: -1, step: 1, acl: []string{"@keyspace", "@write", "@slow"},
			tips:  []string{"request_policy:multi_shard", "response_policy:agg_sum"},
			group: "generic", summary: "Deletes one or more keys.", since: "1.0.0", complexity: "O(N) where N is the number of keys that will be removed.",
			docArgs: []argDoc{multiple(keyArg("key"))}},
		{name: "delete", alias: "del", arity: -2, run: cmdDel, flags: []string{"write"}, firstKey: 1, lastKey: -1, step: 1, acl: []string{"@keyspace", "@write", "@slow"},
			group: "generic", summary: "Deletes one or more keys (warmkv's alias of DEL).", since: "1.0.0", complexity: "O(N) where N is the number of keys that will be removed.",
			docArgs: []argDoc{multiple(keyArg("key"))}},
		{name: "unlink", arity: -2, run: cmdDel, flags: writeFast, firstKey: 1, lastKey: -1, step: 1, acl: []string{"@keyspace", "@write", "@fast"},
			tips:  []string{"request_policy:multi_shard", "response_policy:agg_sum"},
			group: "generic", summary: "Deletes one or more keys.", since: "4.0.0", complexity: "O(1) for each key removed regardless of its size.",
			docArgs: []argDoc{multiple(keyArg("key"))}},
		{name: "exists", arity: -2, run: cmdExists, flags: readFast, firstKey: 1, lastKey: -1, step: 1, acl: []string{"@keyspace", "@read", "@fast"},
			tips:  []string{"request_policy:multi_shard", "response_policy:agg_sum"},
			group: "generic", summary: "Determines whether one or more keys exist.", since: "1.0.0", complexity: "O(N) where N is the number of keys to check.",
			docArgs: []argDoc{multiple(keyArg("key"))}},
		{name: "type", arity: 2, run: cmdType, flags: readFast, firstKey: 1, lastKey: 1, step: 1, acl: []string{"@keyspace", "@read", "@fast"},
			group: "generic", summary: "Determines the type of value stored at a key.", since: "1.0.0", complexity: "O(1)",
			docArgs: []argDoc{keyArg("key")}},
		{name: "expire", arity: -3, run: cmdExpire(1e9, false), flags: writeFast, firstKey: 1, lastKey: 1, step: 1, acl: []string{"@keyspace", "@write", "@fast"},
			group: "generic", summary: "Sets the expiration time of a key in seconds.", since: "1.0.0", complexity: "O(1)",
			docArgs: []argDoc{keyArg("key"), intArg("seconds"), expireCondition}},
		{name: "pexpire", arity: -3, run: cmdExpire(1e6, false), flags: writeFast, firstKey: 1, lastKey: 1, step: 1, acl: []string{"@keyspace", "@write", "@fast"},
			group: "generic", summary: "Sets the expiration time of a key in milliseconds.", since: "2.6.0", complexity: "O(1)",
			docArgs: []argDoc{keyArg("key"), intArg("milliseconds"), expireCondition}},
		{name: "expireat", arity: -3, run: cmdExpire(1e9, true), flags: writeFast, firstKey: 1, lastKey: 1, step: 1, acl: []string{"@keyspace", "@write", "@fast"},
			group: "generic", summary: "Sets the expiration time of a key to a Unix timestamp.", since: "1.2.0", complexity: "O(1)",
			docArgs: []argDoc{keyArg("key"), unixArg("unix-time-seconds"), expireCondition}},
		{name: "pexpireat", arity: -3, run: cmdExpire(1e6, true), flags: writeFast, firstKey: 1, lastKey: 1, step: 1, acl: []string{"@keyspace", "@write", "@fast"},
			group: "generic", summary: "Sets the expiration time of a key to a Unix milliseconds timestamp.", since: "2.6.0", complexity: "O(1)",
			docArgs: []argDoc{keyArg("key"), unixArg("unix-time-milliseconds"), expireCondition}},
		{name: "ttl", arity: 2, run: cmdTTL(false), flags: readFast, firstKey: 1, lastKey: 1, step: 1, acl: []string{"@keyspace", "@read", "@fast"},
			tips:  []string{"nondeterministic_output"},
			group: "generic", summary: "Returns the expiration time in seconds of a key.", since: "1.0.0", complexity: "O(1)",
			docArgs: []argDoc{keyArg("key")}},
		{name: "pttl", arity: 2, run: cmdTTL(true), flags: readFast, firstKey: 1, lastKey: 1, step: 1, acl: []string{"@keyspace", "@read", "@fast"},
			tips:  []string{"nondeterministic_output"},
			group: "generic", summary: "Returns the expiration time in milliseconds of a key.", since: "2.6.0", complexity: "O(1)",
			docArgs: []argDoc{keyArg("key")}},
		{name: "persist", arity: 2, run: cmdPersist, flags: writeFast, firstKey: 1, lastKey: 1, step: 1, acl: []string{"@keyspace", "@write", "@fast"},
			group: "generic", summary: "Removes the expiration time of a key.", since: "2.2.0", complexity: "O(1)",
			docArgs: []argDoc{keyArg("key")}},
		{name: "keys", arity: 2, run: cmdKeys, flags: []string{"readonly"}, acl: []string{"@keyspace", "@read", "@slow", "@dangerous"},
			tips:  []string{"request_policy:all_shards", "nondeterministic_output_order"},
			group: "generic", summary: "Returns all key names that match a pattern.", since: "1.0.0", complexity: "O(N) with N being the number of keys in the database",
			docArgs: []argDoc{patternArg("pattern")}},
		{name: "scan", arity: -2, run: cmdScan, flags: []string{"readonly"}, acl: []string{"@keyspace", "@read", "@slow"},
			tips:  []string{"nondeterministic_output", "request_policy:special"},
			group: "generic", summary: "Iterates over the key names in the database.", since: "2.8.0",
			complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0.",
			docArgs: []argDoc{intArg("cursor"), optional(withToken("MATCH", patternArg("pattern"))),
				optional(withToken("COUNT", intArg("count"))), optional(withToken("TYPE", strArg("type")))}},
		{name: "dbsize", arity: 1, run: cmdDBSize, flags: readFast, acl: []string{"@keyspace", "@read", "@fast"},
			tips:  []string{"request_policy:all_shards", "response_policy:agg_sum"},
			group: "server", summary: "Returns the number of keys in the database.", since: "1.0.0", complexity: "O(1)"},
		{name: "flushall", arity: -1, run: cmdFlush, flags: []string{"write"}, acl: []string{"@keyspace", "@write", "@slow", "@dangerous"},
			tips:  []string{"request_policy:all_shards", "response_policy:all_succeeded"},
			group: "server", summary: "Removes all keys from all databases.", since: "1.0.0", complexity: "O(N) where N is the total number of keys in all databases",
			docArgs: []argDoc{optional(oneOf("flush-type", tokenArg("ASYNC"), tokenArg("SYNC")))}},
		{name: "flushdb", arity: -1, run: cmdFlush, flags: []string{"write"}, acl: []string{"@keyspace", "@write", "@slow", "@dangerous"},
			tips:  []string{"request_policy:all_shards", "response_policy:all_succeeded"},
			group: "server", summary: "Remove all keys from the current database.", since: "1.0.0", complexity: "O(N) where N is the number of keys in the selected database",
			docArgs: []argDoc{optional(oneOf("flush-type", tokenArg("ASYNC"), tokenArg("SYNC")))}},

		// Snapshots.
		{name: "save", arity: 1, run: cmdSave, flags: []string{"admin", "noscript", "no_async_loading", "no_multi"}, acl: []string{"@admin", "@slow", "@dangerous"},
			group: "server", summary: "Writes the cache to the snapshot file now, and answers when it is on disk.", since: "1.0.0",
			complexity: "O(N) where N is the total number of keys in all databases"},
		{name: "bgsave", arity: -1, run: cmdBgsave, flags: []string{"admin", "noscript", "no_async_loading", "no_multi"}, acl: []string{"@admin", "@slow", "@dangerous"},
			group: "server", summary: "Writes the cache to the snapshot file in the background.", since: "1.0.0", complexity: "O(1)",
			docArgs: []argDoc{optional(tokenArg("SCHEDULE"))}},
		{name: "lastsave", arity: 1, run: cmdLastsave, flags: []string{"loading", "stale", "fast"}, acl: []string{"@admin", "@fast", "@dangerous"},
			tips:  []string{"nondeterministic_output"},
			group: "server", summary: "Returns the Unix timestamp of the last successful snapshot.", since: "1.0.0", complexity: "O(1)"},

		// Server introspection.
		{name: "info", arity: -1, run: cmdInfo, flags: []string{"loading", "stale"}, acl: []string{"@slow", "@dangerous"},
			tips:  []string{"nondeterministic_output", "request_policy:all_shards", "response_policy:special"},
			group: "server", summary: "Returns information and statistics about the server.", since: "1.0.0", complexity: "O(1)",
			docArgs: []argDoc{optional(multiple(strArg("section")))}},
		{name: "config", arity: -2, flags: []string{}, acl: []string{"@slow"}, group: "server",
			summary: "A container for server configuration commands.", since: "2.0.0", complexity: "Depends on subcommand.",
			subOrder: []*command{
				{name: "config|get", arity: -3, run: cmdConfigGet, flags: []string{"admin", "noscript", "loading", "stale"}, acl: []string{"@admin", "@slow", "@dangerous"},
					group: "server", summary: "Returns the effective values of configuration parameters.", since: "2.0.0", complexity: "O(N) when N is the number of configuration parameters provided",
					docArgs: []argDoc{multiple(strArg("parameter"))}},
				{name: "config|set", arity: -4, run: cmdConfigUnsupported, flags: []string{"admin", "noscript", "loading", "stale"}, acl: []string{"@admin", "@slow", "@dangerous"},
					group: "server", summary: "Not supported: warmkv is configured with environment variables.", since: "2.0.0", complexity: "O(N)",
					docArgs: []argDoc{multiple(block("data", strArg("parameter"), strArg("value")))}},
				{name: "config|resetstat", arity: 2, run: cmdConfigUnsupported, flags: []string{"admin", "noscript", "loading", "stale"}, acl: []string{"@admin", "@slow", "@dangerous"},
					group: "server", summary: "Not supported: warmkv's counters run from its start.", since: "2.0.0", complexity: "O(1)"},
				{name: "config|rewrite", arity: 2, run: cmdConfigUnsupported, flags: []string{"admin", "noscript", "loading", "stale"}, acl: []string{"@admin", "@slow", "@dangerous"},
					group: "server", summary: "Not supported: warmkv has no configuration file.", since: "2.8.0", complexity: "O(1)"},
				{name: "config|help", arity: 2, run: cmdConfigHelp, flags: []string{"loading", "stale"}, acl: []string{"@slow"},
					group: "server", summary: "Returns helpful text about the different subcommands.", since: "5.0.0", complexity: "O(1)"},
			}},
		{name: "command", arity: -1, run: cmdCommand, flags: []string{"loading", "stale"}, acl: []string{"@slow", "@connection"},
			group: "server", summary: "Returns detailed information about all commands.", since: "2.8.13", complexity: "O(N) where N is the total number of Redis commands",
			subOrder: []*command{
				{name: "command|count", arity: 2, run: cmdCommandCount, flags: []string{"loading", "stale"}, acl: []string{"@slow", "@connection"},
					group: "server", summary: "Returns a count of commands.", since: "2.8.13", complexity: "O(1)"},
				{name: "command|docs", arity: -2, run: cmdCommandDocs, flags: []string{"loading", "stale"}, acl: []string{"@slow", "@connection"},
					tips:  []string{"nondeterministic_output_order"},
					group: "server", summary: "Returns documentary information about one, multiple or all commands.", since: "7.0.0",
					complexity: "O(N) where N is the number of commands to look up",
					docArgs:    []argDoc{optional(multiple(strArg("command-name")))}},
				{name: "command|info", arity: -2, run: cmdCommandInfo, flags: []string{"loading", "stale"}, acl: []string{"@slow", "@connection"},
					tips:  []string{"nondeterministic_output_order"},
					group: "server", summary: "Returns information about one, multiple or all commands.", since: "2.8.13",
					complexity: "O(N) where N is the number of commands to look up",
					docArgs:    []argDoc{optional(multiple(strArg("command-name")))}},
				{name: "command|list", arity: -2, run: cmdCommandList, flags: []string{"loading", "stale"}, acl: []string{"@slow", "@connection"},
					tips:  []string{"nondeterministic_output_order"},
					group: "server", summary: "Returns a list of command names.", since: "7.0.0", complexity: "O(N) where N is the total number of Redis commands"},
				{name: "command|help", arity: 2, run: cmdCommandHelp, flags: []string{"loading", "stale"}, acl: []string{"@slow", "@connection"},
					group: "server", summary: "Returns helpful text about the different subcommands.", since: "5.0.0", complexity: "O(1)"},
			}},
	}
}

// commands maps lower-case names to commands and commandList keeps the table's
// order. They are built once, in init (COMMAND reads them, so a variable
// initializer would be an initialization cycle), and only read afterwards.
var (
	commands    map[string]*command
	commandList []*command
	// slotNames names the per-command counts by slot: every command and
	// subcommand ("client|id"), then "unknown" (unknownSlot).
	slotNames   []string
	unknownSlot int
)

func init() { commands, commandList = buildCommands() }

// commandSets are the parts of the command table, each listed beside the
// commands it runs. A container (CLIENT) listed again adds subcommands to the
// first one.
var commandSets = []func() []*command{commandTable, stringExtraCommands, keyspaceExtraCommands, bitCommands, serverExtraCommands, atomicCommands}

func buildCommands() (map[string]*command, []*command) {
	var list []*command
	containers := map[string]*command{}
	for _, set := range commandSets {
		for _, c := range set() {
			if first := containers[c.name]; first != nil {
				first.subOrder = append(first.subOrder, c.subOrder...)
				continue
			}
			if c.subOrder != nil {
				containers[c.name] = c
			}
			list = append(list, c)
		}
	}
	m := make(map[string]*command, len(list))
	slotNames = slotNames[:0]
	for _, c := range list {
		for _, cmd := range append([]*command{c}, c.subOrder...) {
			cmd.slot = len(slotNames)
			slotNames = append(slotNames, cmd.name)
			cmd.keyspace = slices.Contains(cmd.flags, "readonly") || slices.Contains(cmd.flags, "write")
			cmd.skipMonitor = slices.Contains(cmd.flags, "admin")
			cmd.monitorFirst = isScriptCommand([]byte(cmd.name))
		}
		c.upper = strings.ToUpper(c.name)
		if len(c.subOrder) > 0 {
			c.subs = make(map[string]*command, len(c.subOrder))
			for _, sub := range c.subOrder {
				_, short, _ := strings.Cut(sub.name, "|")
				c.subs[short] = sub
			}
		}
		m[c.name] = c
	}
	unknownSlot = len(slotNames)
	slotNames = append(slotNames, "unknown")
	return m, list
}

// maxCommandName bounds the names looked up; longer ones cannot exist.
const maxCommandName = 16

// lookup finds name, in any letter case, in table without allocating.
func lookup(table map[string]*command, name []byte) *command {
	if len(name) > maxCommandName {
		return nil
	}
	var lower [maxCommandName]byte
	for i, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	return table[string(lower[:len(name)])]
}

// lookupCommand finds the top-level command called name. A client mostly sends
// the command it sent before (a pipeline, a batch of writes), so the last one
// found is tried first, by comparing names, before the table is hashed into.
func (c *conn) lookupCommand(name []byte) *command {
	if last := c.lastFound; last != nil && equalFold(name, last.name) {
		return last
	}
	cmd := lookup(commands, name)
	if cmd != nil {
		c.lastFound = cmd
	}
	return cmd
}

// execute runs one command, as Redis's processCommand does: unknown command,
// then arity, then authentication (and MONITOR's refusals), each refused
// with Redis's error; then, after MULTI, it queues the command, or else runs
// and counts it (stats.go).
func (c *conn) execute(args [][]byte) {
	cmd := c.lookupCommand(args[0])
	if cmd == nil {
		if isHTTPVerb(args[0]) {
			// An HTTP request sent to this port, perhaps by a browser made
			// to post to it by a hostile page: drop it without answering, as
			// Redis does.
			c.srv.log.Warn("resp: HTTP request received on the Redis port; connection closed", "remote", c.remote)
			c.closing = true
			c.out.b = c.out.b[:0]
			return
		}
		c.reject(nil, unknownCommand(args))
		c.countRejected(unknownSlot)
		return
	}
	if cmd.subs != nil && len(args) >= 2 {
		sub := lookup(cmd.subs, args[1])
		if sub == nil {
			c.reject(nil, "ERR unknown subcommand '"+truncate(args[1], 128)+"'. Try "+cmd.upper+" HELP.")
			c.countRejected(cmd.slot)
			return
		}
		cmd = sub
	}
	switch n := len(args); {
	case cmd.arity > 0 && n != cmd.arity || cmd.arity < 0 && n < -cmd.arity:
		c.reject(cmd, "ERR wrong number of arguments for '"+cmd.name+"' command")
		return
	case c.restricted && c.refused(cmd):
		return
	}
	if c.inMulti() {
		// A queued command is counted when EXEC runs it (cmdExec); one the
		// queue refuses, now, as rejected.
		errs := c.out.errs
		if c.queue(cmd, args) {
			if c.out.errs != errs {
				c.countRejected(cmd.slot)
			}
			return
		}
	}
	c.last = cmd
	if c.srv.beforeCommand != nil {
		c.srv.beforeCommand(args)
	}
	feed := c.srv.monitors.on.Load() && !cmd.skipMonitor
	if feed && cmd.monitorFirst {
		c.feedMonitors(args)
	}
	start := len(c.out.b)
	c.runCounted(cmd, args)
	if c.out.refused {
		c.refuseReply(start)
	}
	if feed && !cmd.monitorFirst {
		c.feedMonitors(args)
	}
}

// refused refuses cmd, and reports whether it did, when the connection has
// not authenticated or is a monitor and cmd touches keys, as Redis does.
func (c *conn) refused(cmd *command) bool {
	switch {
	case !c.authed && !cmd.noAuth:
		c.reject(cmd, msgNoAuth)
	case c.mon != nil && cmd.keyspace:
		c.reject(cmd, msgMonitorKeyspace)
	default:
		return false
	}
	return true
}

// isHTTPVerb recognises the first word of an HTTP request line ("POST") or
// header ("Host:"), which Redis treats as a cross-protocol attack.
func isHTTPVerb(name []byte) bool {
	s := strings.ToLower(unsafeString(name))
	return s == "post" || s == "host:"
}

// unknownCommand formats Redis 7's message, quoting up to 128 bytes of the
// arguments.
func unknownCommand(args [][]byte) string {
	var b strings.Builder
	b.WriteString("ERR unknown command '")
	b.WriteString(truncate(args[0], 128))
	b.WriteString("', with args beginning with: ")
	quoted := 0
	for _, a := range args[1:] {
		if quoted >= 128 {
			break
		}
		part := truncate(a, 128-quoted)
		b.WriteString("'")
		b.WriteString(part)
		b.WriteString("' ")
		quoted += len(part) + 3
	}
	return b.String()
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}
