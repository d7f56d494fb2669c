package resp

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	lua "github.com/yuin/gopher-lua"

	"github.com/warmkv/warmkv/handler"
)

func eval(script string, keysAndArgs ...string) []string {
	return append([]string{"EVAL", script}, keysAndArgs...)
}

func TestScriptsAgainstRedis(t *testing.T) {
	var script []turn
	for _, args := range [][]string{
		{"FLUSHALL"},
		// Conversions of results, Lua to RESP.
		eval("return 1", "0"), eval("return 1.9", "0"), eval("return -1.9", "0"), eval("return -0.5", "0"),
		eval("return 'x'", "0"), eval("return true", "0"), eval("return false", "0"), eval("return nil", "0"),
		eval("return {1,{2,{3}},'x'}", "0"), eval("return {1,2,nil,4}", "0"), eval("return {true,false,1.5}", "0"),
		eval("return {}", "0"), eval("return {a=1}", "0"), eval("return {ok=1}", "0"), eval("return {ok='fine'}", "0"),
		eval("return {err='boom'}", "0"), eval("return {err='-X y'}", "0"), eval("return {err=''}", "0"),
		eval("return {ok='a\\r\\nb'}", "0"), eval("return {err='a\\r\\nb'}", "0"), eval("return {double=1.5}", "0"),
		eval("return {map={a=1}}", "0"), eval("return 9007199254740993", "0"), eval("return 1e20", "0"),
		eval("return 0/0", "0"), eval("return 1/0", "0"), eval("return math.huge", "0"), eval("return 'a','b'", "0"),
		// redis.* helpers.
		eval("return redis.status_reply('X')", "0"), eval("return redis.error_reply('MY err')", "0"),
		eval("return redis.error_reply('noprefix')", "0"), eval("return redis.error_reply('-ERR')", "0"),
		eval("return redis.status_reply()", "0"), eval("return redis.error_reply()", "0"), eval("return redis.status_reply('a b')", "0"),
		eval("return redis.sha1hex('')", "0"), eval("return redis.sha1hex(123)", "0"), eval("return redis.sha1hex()", "0"),
		eval("redis.log(redis.LOG_WARNING, 'hi') return 1", "0"), eval("return redis.log(99, 'x')", "0"),
		eval("return redis.log(redis.LOG_WARNING)", "0"),
		eval("return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING}", "0"),
		eval("redis.setresp(4)", "0"), eval("return redis.setresp()", "0"),
		// redis.call and redis.pcall, their refusals and errors.
		eval("return redis.call('set',KEYS[1],'v')", "1", "k"), eval("return redis.call('get',KEYS[1])", "1", "k"),
		eval("return redis.call('GET',KEYS[1])", "1", "k"), eval("return redis.call('get',KEYS[1])", "1", "nokey"),
		eval("return redis.call('incr',KEYS[1])", "1", "k"), eval("return redis.pcall('incr',KEYS[1])", "1", "k"),
		eval("local r = redis.pcall('incr',KEYS[1]) return type(r)..':'..tostring(r.err)", "1", "k"),
		eval("return redis.call('incr','a','b')", "0"), eval("return redis.pcall('incr','a','b')", "0"),
		eval("return redis.call()", "0"), eval("return redis.call(1)", "0"), eval("return redis.call('get', {})", "0"),
		eval("return redis.call('nosuch')", "0"), eval("return redis.pcall('nosuch')", "0"),
		eval("return redis.call('client','bogus')", "0"), eval("return redis.call('client')", "0"),
		eval("return redis.call('multi')", "0"), eval("return redis.call('eval','return 1','0')", "0"),
		eval("return redis.pcall('eval', 'return 1', 0)", "0"), eval("return redis.call('config','get','maxmemory')", "0"),
		eval("return redis.call('ping')", "0"), eval("return redis.call('echo', 'hi')", "0"),
		eval("return redis.call('set', KEYS[1], 3.0)", "1", "n"), eval("return redis.call('get', KEYS[1])", "1", "n"),
		eval("return redis.call('set', KEYS[1], 0.1)", "1", "n"), eval("return redis.call('get', KEYS[1])", "1", "n"),
		eval("return redis.call('set', KEYS[1], 1e20)", "1", "n"), eval("return redis.call('get', KEYS[1])", "1", "n"),
		eval("return redis.call('setrange', KEYS[1], 2, 'xy')", "1", "r"), eval("return redis.call('getrange', KEYS[1], 0, -1)", "1", "r"),
		eval("return redis.call('setbit', KEYS[1], 9, 1)", "1", "r"), eval("return {redis.call('bitcount', KEYS[1]), redis.call('bitpos', KEYS[1], 1)}", "1", "r"),
		eval("return redis.call('incrbyfloat', KEYS[1], '0.5')", "1", "fl"), eval("return redis.call('getex', KEYS[1], 'EX', 100)", "1", "fl"),
		eval("return {redis.call('touch', KEYS[1], KEYS[2]), redis.call('object', 'encoding', KEYS[1])}", "2", "fl", "r"),
		eval("return redis.call('mset', KEYS[1], 'a', KEYS[2], 'b')", "2", "k1", "k2"), eval("return redis.call('mget', KEYS[1], KEYS[2])", "2", "k1", "k2"),
		eval("return pcall(function() redis.call('nosuch') end)", "0"),
		eval("local ok, e = pcall(function() redis.call('nosuch') end) return e", "0"),
		eval("local ok, e = pcall(redis.call, 'nosuch') return type(e)", "0"),
		eval("local ok, e = pcall(function() error({err='X y'}) end) return e", "0"),
		eval("local ok, e = pcall(function() error('x') end) return e", "0"),
		eval("local ok, e = xpcall(function() redis.call('nosuch') end, function(m) return type(m) end) return e", "0"),
		// Errors of the script itself.
		eval("error('boom')", "0"), eval("error({err='CUSTOM x'})", "0"), eval("\n\nerror('line three')", "0"),
		eval("return x", "0"), eval("x = 1", "0"), eval("string.foo = 1", "0"), eval("rawset(_G,'x',1)", "0"),
		eval("return table.insert(string, 'x')", "0"), eval("getmetatable('').__index = {}", "0"),
		eval("return getmetatable('').__index == string", "0"), eval("return rawset(KEYS, 1, 'x')", "0"),
		eval("return nil .. 'x'", "0"), eval("return type(print)", "0"), eval("return os", "0"),
		eval("return 1", "-1"), eval("return 1", "x"), eval("return 1", "3", "a"),
		eval("return ARGV[1]", "0", "a", "b"), eval("return KEYS", "2", "a", "b", "c"),
		// The standard library, as far as scripts use it.
		eval("return tostring(1e15)", "0"), eval("return tostring(0.1)", "0"), eval("return 'x' .. 1.5 .. 2", "0"),
		eval("return string.format('%d %s %5.2f', 3, 'x', 1.5)", "0"), eval("return string.format('%1000d', 1)", "0"),
		eval("return string.rep('x', 3)", "0"), eval("return tonumber('0x10')", "0"), eval("return unpack({1,2})", "0"),
		eval("return select('#', 1, 2)", "0"), eval("return _VERSION", "0"), eval("return loadstring('return 1')()", "0"),
		eval("local t = setmetatable({}, {__index=function() return 5 end}) return t.x", "0"),
		eval("return math.random()", "0"), eval("return tostring(collectgarbage('count') > 0)", "0"),
		eval("local t = {} for k in pairs(_G) do t[#t+1] = k end return #t > 10", "0"),
		eval("return cjson.encode({1,2,{a=1}})", "0"), eval("return cjson.decode('[1,2,3]')", "0"),
		eval("return cjson.encode({a={1,2},b='x'})", "0"), eval(`return cjson.decode('{"a":[1,2,{"b":null}],"c":1.5}').c`, "0"),
		eval("return cjson.encode(cjson.decode('[1,null,3]'))", "0"), eval("return cjson.encode({})", "0"),
		eval("return cjson.encode('a/b\\n')", "0"), eval("return cjson.decode('bad')", "0"),
		eval("return cjson.encode(function() end)", "0"),
		eval("return bit.band(7,3)", "0"), eval("return bit.tohex(255)", "0"), eval("return bit.tohex(255, -4)", "0"),
		eval("return {bit.lshift(1,40), bit.bnot(0), bit.rshift(-1, 28), bit.arshift(-1, 28), bit.tobit(2^32+5), bit.bxor(5,3), bit.rol(1,33), bit.ror(1,1)}", "0"),
		// EVALSHA, SCRIPT.
		{"EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"}, {"EVALSHA", "abc", "0"},
		{"SCRIPT", "LOAD", "return 1"}, {"EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"},
		{"EVALSHA", "E0E1F9FABFC9D4800C877A703B823AC0578FF8DB", "0"},
		{"SCRIPT", "EXISTS", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "abc"},
		{"SCRIPT", "FLUSH"}, {"SCRIPT", "FLUSH", "ASYNC"}, {"SCRIPT", "FLUSH", "BOGUS"},
		{"SCRIPT", "EXISTS", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"},
		{"SCRIPT", "KILL"}, {"SCRIPT", "BOGUS"}, {"SCRIPT"}, {"EVAL"}, {"EVALSHA", "x"},
		{"EVAL_RO", "return redis.call('set',KEYS[1],'v')", "1", "k"}, {"EVAL_RO", "return redis.call('get',KEYS[1])", "1", "k"},
		{"SCRIPT", "LOAD", "return redis.call('get', KEYS[1])"},
		{"EVALSHA_RO", "4e6d8fc8bb01276962cce5371fa795a7763657ae", "1", "k"},
		// Inside a transaction.
		{"MULTI"}, {"SCRIPT", "LOAD", "return 1"}, eval("return redis.call('incr', KEYS[1])", "1", "cnt"), {"EXEC"},
		// RESP3.
		{"HELLO", "3"}, eval("return {true,false,nil}", "0"), eval("return false", "0"), eval("return true", "0"),
		eval("return {double=1.5}", "0"), eval("return {map={a=1}}", "0"), eval("return {set={a=true}}", "0"),
		eval("return redis.call('get',KEYS[1])", "1", "nokey"),
	} {
		script = append(script, on(0, args...))
	}
	compareWithRedis(t, 1, script)
}

// TestScriptsTouchOnlyDeclaredKeys: a script may touch the keys it declares
// and no other, as on Redis Cluster, and never every key at once.
func TestScriptsTouchOnlyDeclaredKeys(t *testing.T) {
	r := startServer(t, defaultDriver()).raw(t)
	undeclared := "-ERR Script attempted to access key 'other', which it did not declare: warmkv runs scripts on the keys they declare, as Redis Cluster does script: %s, on @user_script:1.\r\n"
	src := "return redis.call('get', 'other')"
	keyspace := "-ERR This command touches every key, which warmkv does not allow from scripts: they run on the keys they declare script: %s, on @user_script:1.\r\n"
	runScript(t, r, []step{
		{eval(src, "1", "mine"), fmt.Sprintf(undeclared, sha1hex(src))},
		{eval("return redis.call('flushall')", "0"), fmt.Sprintf(keyspace, sha1hex("return redis.call('flushall')"))},
		{eval("return redis.call('keys', '*')", "0"), fmt.Sprintf(keyspace, sha1hex("return redis.call('keys', '*')"))},
		{eval("return redis.call('set', KEYS[1], 'x')", "1", "mine"), "+OK\r\n"},
		{eval("return redis.call('dbsize')", "0"), ":1\r\n"},
		{eval("return type(coroutine)", "0"), fmt.Sprintf("-ERR user_script:1: Script attempted to access nonexistent global variable 'coroutine' script: %s, on @user_script:1.\r\n", sha1hex("return type(coroutine)"))},
	})
}

// TestScriptsLeakNothing: what one script does to the globals and the
// libraries, the next one never sees.
func TestScriptsLeakNothing(t *testing.T) {
	r := startServer(t, defaultDriver()).raw(t)
	for _, src := range []string{
		"x = 1", "string.foo = 1", "rawset(_G, 'x', 1)", "rawset(string, 'foo', 1)", "table.insert(redis, 'x')",
		"setmetatable(_G, {})", "getmetatable('').__index.foo = 1", "math.randomseed(42)", "KEYS.kept = 1",
	} {
		r.do(eval(src, "0")...)
	}
	runScript(t, r, []step{
		{eval("return {rawget(_G, 'x') == nil, string.foo == nil, redis[1] == nil, KEYS.kept == nil}", "0"), "*4\r\n:1\r\n:1\r\n:1\r\n:1\r\n"},
		// math.random starts from the same seed at every run.
		{eval("return tostring(math.random())", "0"), r.do(eval("return tostring(math.random())", "0")...)},
	})
}

// TestScriptMemoryBound: a script that would hold more than ScriptMaxMemory
// is stopped before it does, by what it makes at once (a string) or by what
// it accumulates (a table); one that only makes garbage is not.
func TestScriptMemoryBound(t *testing.T) {
	ts := startServer(t, defaultDriver(), func(o *Options) { o.ScriptMaxMemory = 1 << 20 })
	r := ts.raw(t)
	tooBig := "-ERR script used more than the 1048576 bytes of memory a script may use script: "
	for _, src := range []string{
		"local s = 'x' for i = 1, 40 do s = s .. s end return #s",
		"return #string.rep('x', 1e9)",
		"return #string.rep('xy', 1e6)",
		"local t = {} for i = 1, 1e7 do t[i] = i end return #t",
		"local t = {} for i = 1, 1e6 do t[i] = 'k' .. i end return #t",
		"local s = string.rep('x', 1000) return #string.gsub(s, 'x', string.rep('y', 10000))",
		"local t = {} for i = 1, 2000 do t[i] = string.rep('x', 1000) .. i end return #table.concat(t)",
		"local t = {} for i = 1, 1e6 do t[#t+1] = {i} end return #t",
		"local s = 'x' while true do pcall(function() s = s .. s end) end",
	} {
		got := r.do(eval(src, "0")...)
		if !strings.HasPrefix(got, tooBig) {
			t.Errorf("%s: %q, want the memory bound's error", src, got)
		}
	}
	runScript(t, r, []step{
		// Garbage is not held: a loop making many short-lived strings runs.
		{eval("local n = 0 for i = 1, 200000 do local s = 'item:' .. i n = n + #s end return n", "0"), ":2088895\r\n"},
		{eval("local t = {} for i = 1, 1000 do t[i] = i end return #t", "0"), ":1000\r\n"},
		{cmd("PING"), "+PONG\r\n"},
	})
}

// blockingScripts adds wait_for_release() to the scripts' globals: it spins
// until the test releases it, executing instructions all along, so that the
// busy time passes and SCRIPT KILL can stop it.
func blockingScripts(released *atomic.Bool) func(*Server) {
	return func(s *Server) {
		s.scripts.withGlobals = func(L *lua.LState, g *lua.LTable) {
			g.RawSetString("released", L.NewFunction(func(L *lua.LState) int {
				L.Push(lua.LBool(released.Load()))
				return 1
			}))
		}
	}
}

// TestBusyScript: past the busy time a script makes the clients of its keys,
// over RESP and over HTTP, get BUSY and 503, others not; SCRIPT KILL stops
// it unless it has written.
func TestBusyScript(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d driver) {
		var released atomic.Bool
		ts := startServerWith(t, d, blockingScripts(&released), func(o *Options) { o.ScriptBusyTime = 50 * time.Millisecond })
		h, err := handler.New(handler.Options{Store: ts.kv, MaxKeyLength: 16, MaxValueLength: 32, MaxBodyBytes: 16 << 10})
		if err != nil {
			t.Fatal(err)
		}
		runner, other := ts.raw(t), ts.raw(t)
		runScript(t, other, []step{{cmd("SET", "held", "1"), "+OK\r\n"}, {cmd("SCRIPT", "KILL"), "-NOTBUSY No scripts in execution right now.\r\n"}})

		// A script that has not written is killed.
		loop := "while not released() do end return 1"
		runner.send(encode(eval(loop, "1", "held")...))
		waitForScript(t, ts.srv, false)
		// A GET waits for the script, then gives up at the busy time.
		if got := other.do("GET", "held"); got != "-"+msgBusy+"\r\n" {
			t.Errorf("GET of a key the script holds: %q", got)
		}
		waitForScript(t, ts.srv, true)
		// Keys of other shards are not held: of a few keys, some are free.
		free := 0
		for _, k := range []string{"a", "b", "c", "d", "e"} {
			if got := other.do("SET", k, "1"); got == "+OK\r\n" {
				free++
			} else if got != "-"+msgBusy+"\r\n" {
				t.Errorf("SET %s: %q", k, got)
			}
		}
		if free == 0 {
			t.Error("the script holds every key")
		}
		if got := other.do("KEYS", "*"); got != "-"+msgBusy+"\r\n" {
			t.Errorf("KEYS while a script is busy: %q", got)
		}
		req := httptest.NewRequest(http.MethodGet, "/get?key=held", nil)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 503 || w.Header().Get("Retry-After") == "" {
			t.Errorf("HTTP GET of a key the script holds: %d %v %s", w.Code, w.Header(), w.Body)
		}
		if got := other.do("SCRIPT", "KILL"); got != "+OK\r\n" {
			t.Errorf("SCRIPT KILL: %q", got)
		}
		want := fmt.Sprintf("-ERR Script killed by user with SCRIPT KILL... script: %s, on @user_script:1.\r\n", sha1hex(loop))
		if got := runner.reply(); got != want {
			t.Errorf("the killed script answered %q, want %q", got, want)
		}
		if got := other.do("GET", "held"); got != "$1\r\n1\r\n" {
			t.Errorf("GET after the kill: %q", got)
		}

		// One that has written cannot be: it runs to its end.
		writer := "redis.call('set', KEYS[1], 'written') while not released() do end return 2"
		runner.send(encode(eval(writer, "1", "held")...))
		waitForScript(t, ts.srv, true)
		if got := other.do("GET", "held"); got != "-"+msgBusy+"\r\n" {
			t.Errorf("GET of a key the writing script holds: %q", got)
		}
		if got := other.do("SCRIPT", "KILL"); got != "-"+msgUnkillable+"\r\n" {
			t.Errorf("SCRIPT KILL of a writer: %q", got)
		}
		released.Store(true)
		if got := runner.reply(); got != ":2\r\n" {
			t.Errorf("the unkillable script answered %q", got)
		}
		runScript(t, other, []step{{cmd("GET", "held"), "$7\r\nwritten\r\n"}})
		runScript(t, runner, []step{{cmd("PING"), "+PONG\r\n"}}) // the connection goes on
	})
}

// waitForScript waits until a script runs, and if busy, until it is past its
// busy time.
func waitForScript(t *testing.T, s *Server, busy bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		s.scripts.mu.Lock()
		ready := false
		for r := range s.scripts.running {
			ready = ready || !busy || r.busy.Load()
		}
		s.scripts.mu.Unlock()
		if ready {
			return
		}
	}
	t.Fatal("no script running after 5s")
}

// TestScriptsAreAtomic: clients incrementing a counter with a read, then a
// write, in a script, while HTTP clients increment it too, lose no update.
func TestScriptsAreAtomic(t *testing.T) {
	ts := startServer(t, defaultDriver())
	h, err := handler.New(handler.Options{Store: ts.kv, MaxKeyLength: 16, MaxValueLength: 32, MaxBodyBytes: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	incr := redis.NewScript(`
		local n = tonumber(redis.call('get', KEYS[1]) or '0')
		redis.call('set', KEYS[1], 'partial')
		redis.call('set', KEYS[1], n + 1)
		return n + 1`)
	const clients, each, httpIncrements = 8, 50, 200
	var wg sync.WaitGroup
	for range clients {
		c := ts.client(t, 2, "")
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if err := incr.Run(ctx, c, []string{"counter"}).Err(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range httpIncrements {
			req := httptest.NewRequest(http.MethodGet, "/increment?key=counter", nil)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != 200 {
				t.Errorf("HTTP increment saw a script half done: %d %s", w.Code, w.Body)
				return
			}
		}
	}()
	wg.Wait()
	if n, err := ts.client(t, 2, "").Get(ctx, "counter").Int(); err != nil || n != clients*each+httpIncrements {
		t.Errorf("counter = %d, %v; want %d", n, err, clients*each+httpIncrements)
	}
}

// TestScriptsWithGoRedis: the way libraries run scripts (EVALSHA, then EVAL
// on NOSCRIPT), and a rate limiter of the usual shape, with cjson.
func TestScriptsWithGoRedis(t *testing.T) {
	ts := startServer(t, defaultDriver())
	limiter := redis.NewScript(`
		local state = cjson.decode(redis.call('get', KEYS[1]) or '{"tokens":3}')
		if state.tokens <= 0 then return 0 end
		state.tokens = state.tokens - 1
		redis.call('set', KEYS[1], cjson.encode(state), 'EX', ARGV[1])
		return state.tokens + 1`)
	forEachProtocol(t, ts, func(t *testing.T, c *redis.Client) {
		c.Del(ctx, "bucket")
		var got []int64
		for range 5 {
			n, err := limiter.Run(ctx, c, []string{"bucket"}, 60).Int64()
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, n)
		}
		if fmt.Sprint(got) != "[3 2 1 0 0]" {
			t.Errorf("rate limiter answered %v", got)
		}
		if ttl := c.TTL(ctx, "bucket").Val(); ttl <= 0 {
			t.Errorf("TTL = %v", ttl)
		}
		if err := c.Eval(ctx, "return redis.call('incr', KEYS[1])", []string{"bucket"}).Err(); err == nil ||
			!strings.Contains(err.Error(), "not an integer") {
			t.Errorf("a script's error reached go-redis as %v", err)
		}
	})
}

// TestScriptCacheIsBounded: the least recently used scripts leave the cache
// past ScriptCacheBytes, and EVALSHA then asks for EVAL.
func TestScriptCacheIsBounded(t *testing.T) {
	r := startServer(t, defaultDriver(), func(o *Options) { o.ScriptCacheBytes = 4 << 10 }).raw(t)
	var shas []string
	for i := range 100 {
		src := fmt.Sprintf("return %d -- %s", i, strings.Repeat("x", 100))
		r.do("SCRIPT", "LOAD", src)
		shas = append(shas, sha1hex(src))
	}
	runScript(t, r, []step{
		{[]string{"EVALSHA", shas[0], "0"}, "-" + msgNoScript + "\r\n"},
		{[]string{"EVALSHA", shas[99], "0"}, ":99\r\n"},
		{[]string{"SCRIPT", "EXISTS", shas[0], shas[99]}, "*2\r\n:0\r\n:1\r\n"},
	})
}

// TestScriptLeavesTheEventLoop: a script's connection moves to a goroutine
// of its own, with the replies and commands pipelined around the script in
// order, and goes on serving.
func TestScriptLeavesTheEventLoop(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d driver) {
		r := startServer(t, d).raw(t)
		r.send(encode("SET", "a", "1") + encode(eval("return redis.call('incr', KEYS[1])", "1", "a")...) + encode("GET", "a"))
		for _, want := range []string{"+OK\r\n", ":2\r\n", "$1\r\n2\r\n"} {
			if got := r.reply(); got != want {
				t.Errorf("got %q, want %q", got, want)
			}
		}
		runScript(t, r, []step{{cmd("INCR", "a"), ":3\r\n"}, {eval("return 'again'", "0"), "$5\r\nagain\r\n"}})
	})
}

// TestCloseStopsScripts: a script that would run for ever does not keep the
// server from closing.
func TestCloseStopsScripts(t *testing.T) {
	var released atomic.Bool
	ts := startServerWith(t, defaultDriver(), blockingScripts(&released))
	r := ts.raw(t)
	r.send(encode(eval("redis.call('set', KEYS[1], 'x') while not released() do end", "1", "k")...))
	waitForScript(t, ts.srv, false)
	if err := ts.srv.Close(); err != nil {
		t.Fatal(err)
	}
	ts.srv.connWG.Wait() // every connection, the script's included, is gone
}
