package resp

import (
	"crypto/sha1" //nolint:gosec // G505: SHA-1 names scripts, as Redis's redis.sha1hex and EVALSHA do; it protects nothing
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// The redis library of scripts, and the conversions between Lua values and
// replies, as Redis 7 makes them: a command's reply becomes a Lua value
// (status → {ok=...}, error → {err=...}, null → false, integer → number,
// array → table), and the script's result becomes a reply (number →
// integer, truncated; true → 1; false and nil → null; {ok=...} → status;
// {err=...} → error; a table → an array up to its first nil).

const (
	msgLuaNoArgs      = "ERR Please specify at least one argument for this redis lib call"
	msgLuaBadArg      = "ERR Lua redis lib command arguments must be strings or integers"
	msgLuaUnknown     = "ERR Unknown Redis command called from script"
	msgLuaArity       = "ERR Wrong number of args calling Redis command from script"
	msgLuaNoScript    = "ERR This Redis command is not allowed from script"
	msgLuaReadOnly    = "ERR Write commands are not allowed from read-only scripts."
	msgLuaKeyspace    = "ERR This command touches every key, which warmkv does not allow from scripts: they run on the keys they declare"
	msgLuaUndeclared  = "ERR Script attempted to access key '%s', which it did not declare: warmkv runs scripts on the keys they declare, as Redis Cluster does"
	msgLuaStackLimit  = "ERR reached lua stack limit"
	luaReplyMaxDepth  = 1000
	redisVersionNum   = 0x070200
	luaArgumentFormat = 17 // digits of a number given to redis.call, as Redis's %.17g
)

func (vm *luaVM) redisLibrary() *lua.LTable {
	L := vm.L
	t := L.NewTable()
	for name, fn := range map[string]lua.LGFunction{
		"call":               vm.redisCall(false),
		"pcall":              vm.redisCall(true),
		"error_reply":        vm.errorReply,
		"status_reply":       vm.statusReply,
		"sha1hex":            sha1hexLua,
		"log":                vm.log,
		"setresp":            vm.setResp,
		"set_repl":           func(*lua.LState) int { return 0 },
		"replicate_commands": func(L *lua.LState) int { L.Push(lua.LTrue); return 1 },
		"breakpoint":         func(L *lua.LState) int { L.Push(lua.LFalse); return 1 },
		"debug":              func(*lua.LState) int { return 0 },
	} {
		t.RawSetString(name, L.NewFunction(fn))
	}
	for name, n := range map[string]int{
		"LOG_DEBUG": 0, "LOG_VERBOSE": 1, "LOG_NOTICE": 2, "LOG_WARNING": 3,
		"REPL_NONE": 0, "REPL_AOF": 1, "REPL_SLAVE": 2, "REPL_REPLICA": 2, "REPL_ALL": 3,
		"REDIS_VERSION_NUM": redisVersionNum,
	} {
		t.RawSetString(name, lua.LNumber(n))
	}
	t.RawSetString("REDIS_VERSION", lua.LString(redisVersion))
	vm.globals.RawSetString(concatName, L.NewFunction(vm.concat))
	return t
}

// redisCall is redis.call, which raises a command's error, or redis.pcall,
// which returns it as {err=...}.
func (vm *luaVM) redisCall(protected bool) lua.LGFunction {
	return func(L *lua.LState) int {
		v, msg, counted := vm.run.call(L)
		if msg != "" {
			t := errorTable(L, msg)
			if counted {
				// As in Redis: this error is in INFO errorstats already, and
				// the script's reply does not count it again if it passes it on.
				t.RawSetString(ignoreErrorStats, lua.LTrue)
			}
			if !protected {
				L.Error(t, 0)
			}
			v = t
		}
		L.Push(v)
		return 1
	}
}

// ignoreErrorStats marks an error table whose error INFO errorstats has
// counted already, the field Redis's scripts see too.
const ignoreErrorStats = "ignore_error_stats_update"

// call runs the command of redis.call's arguments as the script's client and
// returns its reply, or the error message that refuses or answers it, and
// whether that error is counted (errorstats) already: as in Redis, an error
// of the command or of the checks before it runs counts where it happens,
// one in the arguments themselves only if the script answers with it.
func (r *scriptRun) call(L *lua.LState) (lua.LValue, string, bool) {
	n := L.GetTop()
	if n == 0 {
		return nil, msgLuaNoArgs, false
	}
	args := make([][]byte, n)
	for i := range n {
		switch v := L.Get(i + 1).(type) {
		case lua.LString:
			args[i] = []byte(v)
		case lua.LNumber:
			args[i] = strconv.AppendFloat(nil, float64(v), 'g', luaArgumentFormat, 64)
		default:
			return nil, msgLuaBadArg, false
		}
	}
	v, msg, from := r.dispatch(L, args)
	switch from {
	case refusedByChecks:
		if r.conn.out.onError != nil {
			r.conn.out.onError(msg)
		}
	case stoppedScript:
		return v, msg, false // the script's reply says it, and counts it
	}
	return v, msg, msg != ""
}

// errorFrom is where dispatch's error came from.
type errorFrom uint8

const (
	refusedByChecks   errorFrom = iota // the checks before the command runs
	answeredByCommand                  // the command's reply, counted as it was written
	stoppedScript                      // SCRIPT KILL, or the script's memory bound
)

// dispatch checks and runs a script's command.
func (r *scriptRun) dispatch(L *lua.LState, args [][]byte) (v lua.LValue, msg string, from errorFrom) {
	cmd := lookup(commands, args[0])
	if cmd == nil {
		return nil, msgLuaUnknown, refusedByChecks
	}
	if cmd.subs != nil {
		if len(args) < 2 {
			return nil, msgLuaArity, refusedByChecks
		}
		if cmd = lookup(cmd.subs, args[1]); cmd == nil {
			return nil, msgLuaUnknown, refusedByChecks
		}
	}
	if a := len(args); cmd.arity > 0 && a != cmd.arity || cmd.arity < 0 && a < -cmd.arity {
		return nil, msgLuaArity, refusedByChecks
	}
	writes := slices.Contains(cmd.flags, "write")
	switch {
	case slices.Contains(cmd.flags, "noscript"):
		return nil, msgLuaNoScript, refusedByChecks
	case wholeKeyspace[cmd.name]:
		return nil, msgLuaKeyspace, refusedByChecks
	case r.readOnly && writes:
		return nil, msgLuaReadOnly, refusedByChecks
	}
	if writes && !r.state.CompareAndSwap(runRunning, runWrote) && r.state.Load() != runWrote {
		return nil, r.stopMessage(), stoppedScript // killed before its first write
	}
	keys, _ := commandKeys(cmd, args)
	for _, k := range keys {
		if !slices.Contains(r.keys, k) {
			return nil, fmt.Sprintf(msgLuaUndeclared, k), refusedByChecks
		}
	}
	c := r.conn
	saved := c.out
	c.out = reply{b: r.replies[:0], resp3: r.resp3, onError: saved.onError}
	cmd.run(c, args)
	out := c.out.b
	c.out = saved
	r.replies = out[:0]
	c.countLater(cmd.slot, len(out) > 0 && out[0] == '-')
	c.monitorLater("lua", cmd, args)
	if len(out) > 0 && out[0] == '-' {
		return nil, string(out[1 : len(out)-2]), answeredByCommand
	}
	v, _ = replyToLua(L, out, 0)
	return v, "", answeredByCommand
}

// errorTable is the {err=msg} table of an error reply.
func errorTable(L *lua.LState, msg string) *lua.LTable {
	t := L.CreateTable(0, 1)
	t.RawSetString("err", lua.LString(msg))
	return t
}

// replyToLua converts the reply at the start of b and returns the rest.
func replyToLua(L *lua.LState, b []byte, depth int) (lua.LValue, []byte) {
	end := strings.Index(string(b), "\r\n")
	if end < 1 {
		return lua.LNil, nil
	}
	line, rest := string(b[1:end]), b[end+2:]
	switch b[0] {
	case '+':
		t := L.CreateTable(0, 1)
		t.RawSetString("ok", lua.LString(line))
		return t, rest
	case '-':
		return errorTable(L, line), rest
	case ':':
		n, _ := strconv.ParseInt(line, 10, 64)
		return lua.LNumber(n), rest
	case '_':
		return lua.LNil, rest
	case '#':
		return lua.LBool(line == "t"), rest
	case ',':
		f, _ := strconv.ParseFloat(line, 64)
		t := L.CreateTable(0, 1)
		t.RawSetString("double", lua.LNumber(f))
		return t, rest
	case '(':
		t := L.CreateTable(0, 1)
		t.RawSetString("big_number", lua.LString(line))
		return t, rest
	case '$', '=':
		n, _ := strconv.Atoi(line)
		if n < 0 {
			return lua.LFalse, rest
		}
		s := string(rest[:n])
		rest = rest[n+2:]
		if b[0] == '=' {
			t, v := L.CreateTable(0, 1), L.CreateTable(0, 2)
			v.RawSetString("format", lua.LString(s[:3]))
			v.RawSetString("string", lua.LString(s[4:]))
			t.RawSetString("verbatim_string", v)
			return t, rest
		}
		return lua.LString(s), rest
	case '*', '~', '%':
		n, _ := strconv.Atoi(line)
		if n < 0 {
			return lua.LFalse, rest
		}
		t := L.CreateTable(max(n, 0), 0)
		var v, k lua.LValue
		for i := range n {
			switch b[0] {
			case '%':
				k, rest = replyToLua(L, rest, depth+1)
				v, rest = replyToLua(L, rest, depth+1)
				t.RawSet(k, v)
			case '~':
				k, rest = replyToLua(L, rest, depth+1)
				t.RawSet(k, lua.LTrue)
			default:
				v, rest = replyToLua(L, rest, depth+1)
				t.RawSetInt(i+1, v)
			}
		}
		if b[0] == '*' {
			return t, rest
		}
		wrapped := L.CreateTable(0, 1)
		wrapped.RawSetString(map[byte]string{'%': "map", '~': "set"}[b[0]], t)
		return wrapped, rest
	}
	return lua.LNil, nil
}

// writeLuaReply writes v as the script's reply.
func writeLuaReply(out *reply, v lua.LValue, depth int) {
	if depth > luaReplyMaxDepth {
		out.err(msgLuaStackLimit)
		return
	}
	switch x := v.(type) {
	case lua.LString:
		out.bulk(string(x))
	case lua.LNumber:
		out.int(luaInteger(float64(x)))
	case lua.LBool:
		if x {
			out.int(1)
		} else {
			out.null()
		}
	case *lua.LTable:
		writeLuaTable(out, x, depth)
	default:
		out.null()
	}
}

// luaInteger truncates a Lua number as Redis's cast does on the machines it
// runs on: what does not fit (NaN, infinities) becomes the smallest integer.
func luaInteger(f float64) int64 {
	if math.IsNaN(f) || f >= math.MaxInt64 || f < math.MinInt64 {
		return math.MinInt64
	}
	return int64(f)
}

func writeLuaTable(out *reply, t *lua.LTable, depth int) {
	if s, ok := t.RawGetString("err").(lua.LString); ok {
		out.errCounted(string(s), t.RawGetString(ignoreErrorStats) != lua.LTrue)
		return
	}
	if s, ok := t.RawGetString("ok").(lua.LString); ok {
		out.simple(strings.NewReplacer("\r", " ", "\n", " ").Replace(string(s)))
		return
	}
	if d, ok := t.RawGetString("double").(lua.LNumber); ok {
		out.double(float64(d))
		return
	}
	if s, ok := t.RawGetString("big_number").(lua.LString); ok {
		out.bulk(string(s))
		return
	}
	if m, ok := t.RawGetString("map").(*lua.LTable); ok {
		var keys, values []lua.LValue
		m.ForEach(func(k, v lua.LValue) { keys, values = append(keys, k), append(values, v) })
		out.mapOf(len(keys))
		for i := range keys {
			writeLuaReply(out, keys[i], depth+1)
			writeLuaReply(out, values[i], depth+1)
		}
		return
	}
	if s, ok := t.RawGetString("set").(*lua.LTable); ok {
		var keys []lua.LValue
		s.ForEach(func(k, _ lua.LValue) { keys = append(keys, k) })
		out.set(len(keys))
		for _, k := range keys {
			writeLuaReply(out, k, depth+1)
		}
		return
	}
	n := 0
	for t.RawGetInt(n+1) != lua.LNil {
		n++
	}
	out.array(n)
	for i := 1; i <= n; i++ {
		writeLuaReply(out, t.RawGetInt(i), depth+1)
	}
}

// double writes a floating-point reply: RESP3's double, RESP2's bulk string.
func (r *reply) double(f float64) {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	switch {
	case math.IsInf(f, 1):
		s = "inf"
	case math.IsInf(f, -1):
		s = "-inf"
	}
	if !r.resp3 {
		r.bulk(s)
		return
	}
	r.b = append(r.b, ',')
	r.b = append(r.b, s...)
	r.b = append(r.b, '\r', '\n')
}

// errorReply is redis.error_reply: "-CODE msg" or "msg" (code ERR) becomes
// {err="CODE msg"}, as Redis's luaPushErrorBuff makes it.
func (vm *luaVM) errorReply(L *lua.LState) int {
	s, ok := L.Get(1).(lua.LString)
	if L.GetTop() != 1 || !ok {
		L.Push(errorTable(L, "ERR wrong number or type of arguments"))
		return 1
	}
	L.Push(errorTable(L, normalizeError(string(s))))
	return 1
}

func normalizeError(s string) string {
	code, msg, found := strings.Cut(strings.TrimPrefix(s, "-"), " ")
	if !found {
		code, msg = "ERR", code
	}
	return code + " " + strings.TrimRight(msg, "\r\n")
}

func (vm *luaVM) statusReply(L *lua.LState) int {
	s, ok := L.Get(1).(lua.LString)
	if L.GetTop() != 1 || !ok {
		L.Push(errorTable(L, "ERR wrong number or type of arguments"))
		return 1
	}
	t := L.CreateTable(0, 1)
	t.RawSetString("ok", s)
	L.Push(t)
	return 1
}

func sha1hexLua(L *lua.LState) int {
	if L.GetTop() != 1 {
		L.Error(lua.LString("wrong number of arguments"), 0)
	}
	L.Push(lua.LString(sha1hex(lua.LVAsString(L.Get(1)))))
	return 1
}

// sha1hex names a script, in lower-case hexadecimal.
func sha1hex(s string) string {
	sum := sha1.Sum([]byte(s)) //nolint:gosec // G401: names scripts, as Redis does; see the import
	return hex.EncodeToString(sum[:])
}

// log is redis.log: the level and the rest of its arguments joined by
// spaces go to the server's log.
func (vm *luaVM) log(L *lua.LState) int {
	if L.GetTop() < 2 {
		L.Error(lua.LString("redis.log() requires two arguments or more."), 0)
	}
	level, ok := L.Get(1).(lua.LNumber)
	if !ok {
		L.Error(lua.LString("First argument must be a number (log level)."), 0)
	}
	if level < 0 || level > 3 {
		L.Error(lua.LString("Invalid debug level."), 0)
	}
	parts := make([]string, 0, L.GetTop()-1)
	for i := 2; i <= L.GetTop(); i++ {
		parts = append(parts, lua.LVAsString(L.Get(i)))
	}
	vm.run.log(int(level), strings.Join(parts, " "))
	return 0
}

func (vm *luaVM) setResp(L *lua.LState) int {
	if L.GetTop() != 1 {
		L.Error(lua.LString("redis.setresp() requires one argument."), 0)
	}
	n := L.CheckInt(1)
	if n != 2 && n != 3 {
		L.Error(lua.LString("RESP version must be 2 or 3."), 0)
	}
	vm.run.resp3 = n == 3
	return 0
}
