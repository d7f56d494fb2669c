package resp

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"

	"github.com/warmkv/warmkv/cache"
)

// Scripts: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT LOAD, EXISTS, FLUSH,
// KILL, with Redis 7's replies. A script runs as one transaction over the
// keys it declares (numkeys), like EXEC, and may touch no other key, as on
// Redis Cluster. It runs on its connection's goroutine: a connection served
// by an event loop leaves it for a goroutine of its own before its first
// script (runBuffered, handOff), so that a long script holds up no other
// client of the loop, and SCRIPT KILL can reach it.
//
// Past the busy time a running script marks its transaction busy: the
// operations waiting for its shards, and those that come later, fail with
// cache.ErrBusy (-BUSY here, 503 over HTTP), and SCRIPT KILL stops it,
// unless it has already written (-UNKILLABLE).

const (
	msgNoScript      = "NOSCRIPT No matching script. Please use EVAL."
	msgNotBusy       = "NOTBUSY No scripts in execution right now."
	msgUnkillable    = "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command."
	msgKilled        = "ERR Script killed by user with SCRIPT KILL..."
	msgNegativeKeys  = "ERR Number of keys can't be negative"
	msgTooManyKeys   = "ERR Number of keys can't be greater than number of args"
	msgScriptTooBig  = "ERR script used more than the %d bytes of memory a script may use"
	msgFlushOption   = "ERR SCRIPT FLUSH only support SYNC|ASYNC option"
	defaultBusyTime  = 5 * time.Second
	defaultScriptMem = 64 << 20
	defaultCacheSize = 16 << 20
	// luaPoolSize bounds the idle Lua states kept for reuse.
	luaPoolSize = 16
	// checkEvery is how many instructions a script runs between looks at
	// whether it was stopped.
	checkEvery = 1 << 10
)

// scriptEngine is a server's scripts: the cache of compiled scripts, idle
// Lua states, and the runs in progress.
type scriptEngine struct {
	busyTime  time.Duration
	maxMemory int
	log       *slog.Logger

	mu        sync.Mutex
	cache     map[string]*list.Element // sha → *cachedScript, most recently used first
	order     *list.List
	cacheSize int // source bytes of the cached scripts
	maxCache  int
	idle      []*luaVM
	running   map[*scriptRun]struct{}

	// withGlobals, when set (tests, before Serve), adds to the globals of
	// each new Lua state.
	withGlobals func(L *lua.LState, globals *lua.LTable)
}

type cachedScript struct {
	sha, source string
	proto       *lua.FunctionProto
}

func newScriptEngine(o Options, log *slog.Logger) *scriptEngine {
	return &scriptEngine{
		busyTime:  cmpDuration(o.ScriptBusyTime, defaultBusyTime),
		maxMemory: cmp0(o.ScriptMaxMemory, defaultScriptMem),
		maxCache:  cmp0(o.ScriptCacheBytes, defaultCacheSize),
		log:       log,
		cache:     map[string]*list.Element{},
		order:     list.New(),
		running:   map[*scriptRun]struct{}{},
	}
}

func cmpDuration(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// load compiles source, or finds it compiled, and keeps it most recently
// used. The cache holds at most maxCache bytes of source (a compiled script
// takes a few times its source): the least recently used scripts go first,
// and EVALSHA then answers NOSCRIPT, which clients answer with EVAL.
func (e *scriptEngine) load(source string) (*cachedScript, error) {
	sha := sha1hex(source)
	if s := e.lookup(sha); s != nil {
		return s, nil
	}
	proto, err := compileLua(source, luaChunkName)
	if err != nil {
		return nil, compileError(err)
	}
	s := &cachedScript{sha: sha, source: source, proto: proto}
	e.mu.Lock()
	defer e.mu.Unlock()
	if el, ok := e.cache[sha]; ok {
		return el.Value.(*cachedScript), nil
	}
	e.cache[sha] = e.order.PushFront(s)
	e.cacheSize += len(source)
	for e.cacheSize > e.maxCache && e.order.Len() > 1 {
		old := e.order.Remove(e.order.Back()).(*cachedScript)
		delete(e.cache, old.sha)
		e.cacheSize -= len(old.source)
	}
	return s, nil
}

func (e *scriptEngine) lookup(sha string) *cachedScript {
	e.mu.Lock()
	defer e.mu.Unlock()
	el, ok := e.cache[strings.ToLower(sha)]
	if !ok {
		return nil
	}
	e.order.MoveToFront(el)
	return el.Value.(*cachedScript)
}

func (e *scriptEngine) flush() {
	e.mu.Lock()
	defer e.mu.Unlock()
	clear(e.cache)
	e.order.Init()
	e.cacheSize = 0
}

// compileError words a syntax error as Redis does.
func compileError(err error) error {
	msg := err.Error()
	var pe *parse.Error
	if errors.As(err, &pe) {
		line := pe.Pos.Line
		near := "'" + pe.Token + "'"
		if line == parse.EOF {
			line, near = max(pe.Pos.Line, 1), "'<eof>'"
		}
		msg = fmt.Sprintf("%s:%d: %s near %s", luaChunkName, line, pe.Message, near)
	}
	return errors.New("ERR Error compiling script (new function): " + strings.TrimSpace(msg))
}

// vm takes an idle Lua state, or makes one.
func (e *scriptEngine) vm() *luaVM {
	e.mu.Lock()
	defer e.mu.Unlock()
	if n := len(e.idle); n > 0 {
		vm := e.idle[n-1]
		e.idle = e.idle[:n-1]
		return vm
	}
	vm := newLuaVM()
	if e.withGlobals != nil {
		e.withGlobals(vm.L, vm.globals)
	}
	return vm
}

// release gives a Lua state back, or closes it if enough are idle or the
// run ended abnormally.
func (e *scriptEngine) release(vm *luaVM, reuse bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if reuse && len(e.idle) < luaPoolSize {
		e.idle = append(e.idle, vm)
		return
	}
	vm.L.Close()
}

// stopAll stops every running script, even one that has written: the server
// is closing, as Redis's SHUTDOWN NOSAVE stops one.
func (e *scriptEngine) stopAll() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for r := range e.running {
		r.state.Store(runKilled)
	}
}

// The states of a run, which SCRIPT KILL and a first write race for.
const (
	runRunning int32 = iota
	runWrote         // it wrote: it can no longer be killed
	runKilled
	runTooBig // over the memory bound
)

// scriptRun is one script running. It is also the context gopher-lua checks
// before every instruction, which is how a run notices that it was stopped.
type scriptRun struct {
	vm       *luaVM
	conn     *conn
	sha      string
	keys     []string // declared
	readOnly bool
	resp3    bool // redis.setresp(3)
	limit    int  // bytes
	replies  []byte

	state atomic.Int32
	busy  atomic.Bool // past the busy time: SCRIPT KILL may stop it

	steps, nextCheck, nextMeasure uint64
	made                          int  // bytes of strings made since the last measure
	halted                        bool // stopped: every instruction raises from now on
}

func (r *scriptRun) stop(reason int32) {
	r.state.CompareAndSwap(runRunning, reason)
	if reason == runTooBig {
		r.state.Store(runTooBig)
	}
}

func (r *scriptRun) stopMessage() string {
	if r.state.Load() == runKilled {
		return msgKilled
	}
	return fmt.Sprintf(msgScriptTooBig, r.limit)
}

var closedChannel = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// Done is called by gopher-lua before every instruction: every checkEvery
// instructions it looks whether the run was stopped, and measures its memory
// when due. A stopped run answers a closed channel from then on, so each
// instruction raises an error and no pcall can keep the script going.
func (r *scriptRun) Done() <-chan struct{} {
	if r.halted {
		return closedChannel
	}
	r.steps++
	if r.steps < r.nextCheck {
		return nil
	}
	r.nextCheck = r.steps + checkEvery
	if s := r.state.Load(); s == runKilled || s == runTooBig {
		r.halted = true
		return closedChannel
	}
	if r.steps >= r.nextMeasure {
		size, visited := reachableBytes(r.vm.L, r.vm)
		if size > int64(r.limit) {
			r.stop(runTooBig)
			r.halted = true
			return closedChannel
		}
		r.nextMeasure = r.steps + max(measureEvery, 8*uint64(visited))
	}
	return nil
}

func (r *scriptRun) Err() error                  { return errors.New(r.stopMessage()) }
func (r *scriptRun) Deadline() (time.Time, bool) { return time.Time{}, false }
func (r *scriptRun) Value(any) any               { return nil }

func (r *scriptRun) log(level int, msg string) {
	lv := []slog.Level{slog.LevelDebug, slog.LevelDebug, slog.LevelInfo, slog.LevelWarn}[level]
	r.conn.srv.log.Log(context.Background(), lv, "script: "+msg, "sha", r.sha)
}

func scriptCommands() []*command {
	eval := func(name string, byHash, readOnly bool, summary, since string) *command {
		flags := []string{"noscript", "stale", "skip_monitor", "no_mandatory_keys", "movablekeys"}
		if readOnly {
			flags = append([]string{"readonly"}, flags...)
		}
		first := strArg("script")
		if byHash {
			first = strArg("sha1")
		}
		return &command{name: name, arity: -3, run: cmdEval(byHash, readOnly), flags: flags, acl: []string{"@slow", "@scripting"},
			group: "scripting", summary: summary, since: since, complexity: "Depends on the script that is executed.",
			docArgs: []argDoc{first, intArg("numkeys"), optional(multiple(keyArg("key"))), optional(multiple(strArg("arg")))}}
	}
	sub := func(name string, arity int, run func(*conn, [][]byte), flags []string, summary, since, complexity string, args ...argDoc) *command {
		return &command{name: "script|" + name, arity: arity, run: run, flags: flags, acl: []string{"@slow", "@scripting"},
			group: "scripting", summary: summary, since: since, complexity: complexity, docArgs: args}
	}
	return []*command{
		eval("eval", false, false, "Executes a server-side Lua script.", "2.6.0"),
		eval("evalsha", true, false, "Executes a server-side Lua script by SHA1 digest.", "2.6.0"),
		eval("eval_ro", false, true, "Executes a read-only server-side Lua script.", "7.0.0"),
		eval("evalsha_ro", true, true, "Executes a read-only server-side Lua script by SHA1 digest.", "7.0.0"),
		{name: "script", arity: -2, flags: []string{}, acl: []string{"@slow"}, group: "scripting",
			summary: "A container for Lua scripts management commands.", since: "2.6.0", complexity: "Depends on subcommand.",
			subOrder: []*command{
				sub("exists", -3, cmdScriptExists, []string{"noscript"}, "Determines whether server-side Lua scripts exist in the script cache.", "2.6.0",
					"O(N) with N being the number of scripts to check (so checking a single script is an O(1) operation).", multiple(strArg("sha1"))),
				sub("flush", -2, cmdScriptFlush, []string{"noscript"}, "Removes all server-side Lua scripts from the script cache.", "2.6.0",
					"O(N) with N being the number of scripts in cache", optional(oneOf("flush-type", tokenArg("ASYNC"), tokenArg("SYNC")))),
				sub("kill", 2, cmdScriptKill, []string{"noscript", "allow_busy"}, "Terminates a server-side Lua script during execution.", "2.6.0", "O(1)"),
				sub("load", 3, cmdScriptLoad, []string{"noscript", "stale"}, "Loads a server-side Lua script to the script cache.", "2.6.0",
					"O(N) with N being the length in bytes of the script body.", strArg("script")),
				sub("help", 2, cmdScriptHelp, []string{"loading", "stale"}, "Returns helpful text about the different subcommands.", "5.0.0", "O(1)"),
			}},
	}
}

// scriptKeys finds EVAL's keys: numkeys of them after it.
func scriptKeys(args [][]byte) []string {
	if len(args) < 3 {
		return nil
	}
	n, ok := parseInt(args[2])
	if !ok || n < 0 || n > int64(len(args)-3) {
		return nil
	}
	return keysOf(args[3:3+n], 0, 1)
}

func init() {
	for _, name := range []string{"eval", "evalsha", "eval_ro", "evalsha_ro"} {
		keyFinders[name] = scriptKeys
	}
}

// isScriptCommand reports whether a command runs a script: it must not run
// on an event loop, and monitors see it before the commands it runs.
func isScriptCommand(name []byte) bool {
	return equalFold(name, "eval") || equalFold(name, "evalsha") || equalFold(name, "eval_ro") || equalFold(name, "evalsha_ro")
}

func cmdEval(byHash, readOnly bool) func(c *conn, args [][]byte) {
	return func(c *conn, args [][]byte) {
		numKeys, ok := parseInt(args[2])
		switch {
		case !ok:
			c.out.err(msgNotInteger)
			return
		case numKeys < 0:
			c.out.err(msgNegativeKeys)
			return
		case numKeys > int64(len(args)-3):
			c.out.err(msgTooManyKeys)
			return
		}
		e := c.srv.scripts
		var script *cachedScript
		if byHash {
			if script = e.lookup(string(args[1])); script == nil {
				c.out.err(msgNoScript)
				return
			}
		} else {
			var err error
			if script, err = e.load(string(args[1])); err != nil {
				c.out.err(err.Error())
				return
			}
		}
		keyArgs := args[3 : 3+numKeys]
		if !c.validKeys(keyArgs) {
			return
		}
		r := &scriptRun{conn: c, sha: script.sha, keys: keysOf(keyArgs, 0, 1), readOnly: readOnly, limit: e.maxMemory}
		argv := keysOf(args[3+numKeys:], 0, 1)
		if tx, inside := c.kv.(cache.Tx); inside { // in EXEC: its transaction holds the keys
			c.runScript(r, script, argv, tx)
			return
		}
		ss := c.session()
		if ss == nil {
			c.out.err(msgNoTransactions)
			return
		}
		err := c.transaction(ss, cache.Scope{Keys: r.keys}, func() {
			c.runScript(r, script, argv, c.kv.(cache.Tx))
		})
		if err != nil {
			c.storeFailed(err)
		}
	}
}

// runScript runs a script on a Lua state and writes its reply, marking tx
// busy past the busy time.
func (c *conn) runScript(r *scriptRun, script *cachedScript, argv []string, tx cache.Tx) {
	e := c.srv.scripts
	vm := e.vm()
	r.vm = vm
	e.mu.Lock()
	e.running[r] = struct{}{}
	e.mu.Unlock()
	busy := time.AfterFunc(e.busyTime, func() {
		r.busy.Store(true)
		tx.SetBusy()
	})
	clean := vm.execute(r, script.proto, argv)
	busy.Stop()
	e.mu.Lock()
	delete(e.running, r)
	e.mu.Unlock()
	e.release(vm, clean)
}

// execute runs proto with KEYS and ARGV set and writes its result, or its
// error, to the connection. It reports whether the state can be reused.
func (vm *luaVM) execute(r *scriptRun, proto *lua.FunctionProto, argv []string) (clean bool) {
	L, c := vm.L, r.conn
	vm.run = r
	vm.pcg.Seed(0, 0)
	r.nextCheck, r.nextMeasure = checkEvery, measureEvery
	keys, args := L.CreateTable(len(r.keys), 0), L.CreateTable(len(argv), 0)
	for i, k := range r.keys {
		keys.RawSetInt(i+1, lua.LString(k))
	}
	for i, a := range argv {
		args.RawSetInt(i+1, lua.LString(a))
	}
	vm.globals.RawSetString("KEYS", keys)
	vm.globals.RawSetString("ARGV", args)
	defer func() {
		vm.globals.RawSetString("KEYS", lua.LNil)
		vm.globals.RawSetString("ARGV", lua.LNil)
		vm.run = nil
	}()

	L.SetContext(r)
	L.Push(L.NewFunctionFromProto(proto))
	err := L.PCall(0, 1, vm.handler)
	L.RemoveContext()
	if err == nil {
		writeLuaReply(&c.out, L.Get(-1), 0)
		L.Pop(1)
		return true
	}
	msg, line, counted := "ERR unknown error", 0, false
	var ae *lua.ApiError
	if errors.As(err, &ae) {
		if t, ok := ae.Object.(*lua.LTable); ok {
			msg = lua.LVAsString(t.RawGetString("err"))
			counted = t.RawGetString(ignoreErrorStats) == lua.LTrue
			if n, ok := t.RawGetString("line").(lua.LNumber); ok {
				line = int(n)
			}
		}
	}
	if s := r.state.Load(); s == runKilled || s == runTooBig {
		msg, counted = r.stopMessage(), false
	}
	if line > 0 {
		msg += fmt.Sprintf(" script: %s, on @%s:%d.", r.sha, luaChunkName, line)
	}
	c.out.errCounted(msg, !counted)
	L.SetTop(0)
	return r.state.Load() != runTooBig
}

// errorHandler turns whatever a script raised into the error it answers, as
// Redis's __redis__err__handler does: {err="ERR <message>"} for a string,
// the table itself if it has err, and the line of the innermost Lua frame.
func (vm *luaVM) errorHandler(L *lua.LState) int {
	raised := L.Get(1)
	t := L.CreateTable(0, 2)
	if rt, ok := raised.(*lua.LTable); ok && rt.RawGetString("err").Type() == lua.LTString {
		t.RawSetString("err", rt.RawGetString("err"))
		t.RawSetString(ignoreErrorStats, rt.RawGetString(ignoreErrorStats))
	} else {
		t.RawSetString("err", lua.LString("ERR "+lua.LVAsString(L.ToStringMeta(raised))))
	}
	for level := 0; ; level++ {
		dbg, ok := L.GetStack(level)
		if !ok {
			break
		}
		if _, err := L.GetInfo("Sl", dbg, lua.LNil); err == nil && dbg.What != "G" {
			t.RawSetString("line", lua.LNumber(dbg.CurrentLine))
			break
		}
	}
	L.Push(t)
	return 1
}

func cmdScriptLoad(c *conn, args [][]byte) {
	s, err := c.srv.scripts.load(string(args[2]))
	if err != nil {
		c.out.err(err.Error())
		return
	}
	c.out.bulk(s.sha)
}

func cmdScriptExists(c *conn, args [][]byte) {
	c.out.array(len(args) - 2)
	for _, sha := range args[2:] {
		c.srv.scripts.mu.Lock()
		_, ok := c.srv.scripts.cache[strings.ToLower(string(sha))]
		c.srv.scripts.mu.Unlock()
		c.out.int(boolInt(ok))
	}
}

func cmdScriptFlush(c *conn, args [][]byte) {
	if len(args) > 3 || len(args) == 3 && !equalFold(args[2], "async") && !equalFold(args[2], "sync") {
		c.out.err(msgFlushOption)
		return
	}
	c.srv.scripts.flush()
	c.out.ok()
}

// cmdScriptKill stops the scripts running past their busy time that have not
// written. warmkv may run several at once, on different keys.
func cmdScriptKill(c *conn, _ [][]byte) {
	e := c.srv.scripts
	e.mu.Lock()
	busy, killed := 0, 0
	for r := range e.running {
		if !r.busy.Load() {
			continue
		}
		busy++
		if r.state.CompareAndSwap(runRunning, runKilled) {
			killed++
		}
	}
	e.mu.Unlock()
	switch {
	case busy == 0:
		c.out.err(msgNotBusy)
	case killed == 0:
		c.out.err(msgUnkillable)
	default:
		c.out.ok()
	}
}

func cmdScriptHelp(c *conn, _ [][]byte) {
	c.out.simpleArray([]string{
		"SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
		"EXISTS <sha1> [<sha1> ...]",
		"    Return information about the existence of the scripts in the script cache.",
		"FLUSH [ASYNC|SYNC]",
		"    Flush the Lua scripts cache. Very dangerous on replicas.",
		"    When called without the optional mode argument, the behavior is determined by the",
		"    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
		"    * ASYNC: Asynchronously flush the scripts cache.",
		"    * SYNC: Synchronously flush the scripts cache.",
		"KILL",
		"    Kill the currently executing Lua script.",
		"LOAD <script>",
		"    Load a script into the scripts cache without executing it.",
		"HELP",
		"    Prints this help.",
	})
}

// simpleArray writes an array of status strings, as Redis writes help.
func (r *reply) simpleArray(items []string) {
	r.array(len(items))
	for _, s := range items {
		r.simple(s)
	}
}
