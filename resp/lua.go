package resp

import (
	"math/rand/v2"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

// Scripts run on gopher-lua (Lua 5.1, as Redis's), in a sandbox built as
// Redis 7 builds its own:
//
//   - The globals are the base functions Redis keeps (no print, dofile,
//     loadfile, require, module, setfenv, getfenv, and no coroutine library,
//     whose threads would escape SCRIPT KILL), string, table, math, bit,
//     cjson and redis. cmsgpack and struct are not provided.
//   - The global table and every library table are read-only, as in Redis 7:
//     a script cannot create a global ("Script attempted to access
//     nonexistent global variable"), nor change a library, so nothing leaks
//     from one script to the next and one state serves script after script
//     (luaPool). Each is a view: an empty table whose metatable reads
//     through to the real one and refuses writes; next, pairs, rawget and
//     getmetatable see through the views, rawset and table.insert on them
//     are refused.
//   - loadstring and load compile source only, through the same guard as
//     scripts; bytecode cannot be loaded (gopher-lua has none).
//   - Each run's memory is bounded (luaguard.go), math.random starts from
//     the same seed at every run, as in Redis, and collectgarbage only
//     reports.

const (
	luaChunkName = "user_script"
	// luaCallStack bounds nested calls, as Redis's LUAI_MAXCCALLS does.
	luaCallStack = 200
	// luaMaxRegisters bounds a state's value stack, 16 bytes a slot.
	luaMaxRegisters = 1 << 16
)

func init() {
	// Lua 5.0's implicit arg table in vararg functions, which every script
	// (a vararg chunk) would otherwise build on each run, a map allocation
	// for nothing. Redis scripts have no use for it; gopher-lua reads this
	// flag only here, and resp is its only user in warmkv.
	lua.CompatVarArg = false
}

// luaVM is one Lua state with the sandbox, ready to run scripts one at a time.
type luaVM struct {
	L       *lua.LState
	globals *lua.LTable                 // the real globals, behind env
	env     *lua.LTable                 // the read-only view scripts see
	views   map[*lua.LTable]*lua.LTable // read-only view → real table
	// stringMT is the metatable of strings, which getmetatable answers
	// with a view of.
	stringMT, stringMTView *lua.LTable
	handler                *lua.LFunction // the error handler of a run
	pcg                    *rand.PCG      // math.random's source, seeded again at each run
	rng                    *rand.Rand
	run                    *scriptRun // the run in progress
}

func newLuaVM() *luaVM {
	L := lua.NewState(lua.Options{
		SkipOpenLibs:        true,
		CallStackSize:       luaCallStack,
		RegistrySize:        1024,
		RegistryMaxSize:     luaMaxRegisters,
		MinimizeStackMemory: true,
	})
	vm := &luaVM{L: L, views: map[*lua.LTable]*lua.LTable{}, pcg: rand.NewPCG(0, 0)}
	vm.rng = rand.New(vm.pcg) //nolint:gosec // G404: math.random for scripts is deterministic on purpose, as Redis's
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{{lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}, {lua.StringLibName, lua.OpenString}, {lua.MathLibName, lua.OpenMath}} {
		L.Push(L.NewFunction(lib.open))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	g := L.G.Global
	vm.globals = g
	for _, name := range []string{"dofile", "loadfile", "print", "require", "module", "setfenv", "getfenv", "newproxy", "_printregs", "package"} {
		g.RawSetString(name, lua.LNil)
	}
	vm.guardLibraries()
	g.RawSetString("bit", vm.bitLibrary())
	g.RawSetString("cjson", vm.cjsonLibrary())
	g.RawSetString("redis", vm.redisLibrary())
	g.RawSetString("_VERSION", lua.LString("Lua 5.1"))

	// Views of every library, then of the globals themselves.
	for _, name := range []string{"string", "table", "math", "bit", "cjson", "redis"} {
		g.RawSetString(name, vm.readOnly(g.RawGetString(name).(*lua.LTable), nil))
	}
	vm.stringMT = L.GetMetatable(lua.LString("")).(*lua.LTable)
	vm.stringMT.RawSetString("__index", g.RawGetString("string"))
	vm.stringMTView = vm.readOnly(vm.stringMT, nil)
	// Reads of globals go straight to the real table; only a miss reaches
	// Go, through the real table's own metatable, and raises.
	missing := L.CreateTable(0, 1)
	missing.RawSetString("__index", L.NewFunction(vm.missingGlobal))
	L.SetMetatable(g, missing)
	vm.env = vm.readOnly(g, nil)
	g.RawSetString("_G", vm.env)
	L.Env = vm.env
	vm.handler = L.NewFunction(vm.errorHandler)
	return vm
}

// readOnly returns a view of table: reads go to index (table itself if nil),
// writes are refused, and its metatable is protected.
func (vm *luaVM) readOnly(table *lua.LTable, index lua.LValue) *lua.LTable {
	L := vm.L
	if index == nil {
		index = table
	}
	view, mt := L.NewTable(), L.NewTable()
	mt.RawSetString("__index", index)
	mt.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError(msgReadOnlyTable)
		return 0
	}))
	mt.RawSetString("__metatable", lua.LFalse)
	L.SetMetatable(view, mt)
	vm.views[view] = table
	return view
}

const msgReadOnlyTable = "Attempt to modify a readonly table"

// real is the table behind a view, or t itself.
func (vm *luaVM) real(t *lua.LTable) *lua.LTable {
	if r, ok := vm.views[t]; ok {
		return r
	}
	return t
}

// missingGlobal is the real globals' __index: reading a global that does
// not exist is an error, as Redis 7 makes it.
func (vm *luaVM) missingGlobal(L *lua.LState) int {
	L.RaiseError("Script attempted to access nonexistent global variable '%s'", lua.LVAsString(L.Get(2)))
	return 0
}

// guardLibraries replaces the functions that could break the sandbox or its
// memory bound with guarded ones.
func (vm *luaVM) guardLibraries() {
	L, g := vm.L, vm.globals
	base := map[string]lua.LGFunction{
		"loadstring": vm.loadString,
		"load":       vm.load,
		"collectgarbage": func(L *lua.LState) int {
			size, _ := reachableBytes(L, vm)
			L.Push(lua.LNumber(float64(size) / 1024))
			return 1
		},
		"next":   vm.seeThrough(g.RawGetString("next")),
		"rawget": vm.seeThrough(g.RawGetString("rawget")),
		"rawset": func(L *lua.LState) int {
			t := L.CheckTable(1)
			if _, isView := vm.views[t]; isView {
				L.Error(lua.LString(msgReadOnlyTable), 0)
			}
			t.RawSet(L.CheckAny(2), L.CheckAny(3))
			L.SetTop(1)
			return 1
		},
		"pcall":    vm.pcall(g.RawGetString("pcall")),
		"tostring": vm.toString(g.RawGetString("tostring")),
		"pairs": func(L *lua.LState) int {
			t := L.CheckTable(1)
			L.Push(g.RawGetString("next"))
			L.Push(vm.real(t))
			L.Push(lua.LNil)
			return 3
		},
		"getmetatable": func(L *lua.LState) int {
			mt := L.GetMetatable(L.CheckAny(1))
			if mt == vm.stringMT {
				mt = vm.stringMTView
			} else if t, ok := mt.(*lua.LTable); ok {
				if protected := t.RawGetString("__metatable"); protected != lua.LNil {
					mt = protected
				}
			}
			L.Push(mt)
			return 1
		},
	}
	for name, fn := range base {
		g.RawSetString(name, L.NewFunction(fn))
	}
	tab := g.RawGetString("table").(*lua.LTable)
	for _, name := range []string{"insert", "remove", "sort"} {
		tab.RawSetString(name, L.NewFunction(vm.refuseViews(tab.RawGetString(name), 1)))
	}
	tab.RawSetString("concat", L.NewFunction(vm.guardConcatTable(tab.RawGetString("concat"))))
	str := g.RawGetString("string").(*lua.LTable)
	str.RawSetString("rep", L.NewFunction(vm.stringRep))
	str.RawSetString("format", L.NewFunction(vm.guardFormat(str.RawGetString("format"))))
	str.RawSetString("gsub", L.NewFunction(vm.guardGsub(str.RawGetString("gsub"))))
	str.RawSetString("dump", lua.LNil)
	math := g.RawGetString("math").(*lua.LTable)
	math.RawSetString("random", L.NewFunction(vm.random))
	math.RawSetString("randomseed", L.NewFunction(func(L *lua.LState) int {
		vm.pcg.Seed(uint64(int64(L.CheckNumber(1))), 0) //nolint:gosec // G115: any bits make a seed
		return 0
	}))
}

// pcall is Lua's, except that an error raised as a table with an err field
// (redis.call's) is returned as that string, as in Redis.
func (vm *luaVM) pcall(pcall lua.LValue) lua.LGFunction {
	return func(L *lua.LState) int {
		n := vm.callOn(L, pcall)
		if n >= 2 && L.Get(1) == lua.LFalse {
			if t, ok := L.Get(2).(*lua.LTable); ok {
				if msg, ok := t.RawGetString("err").(lua.LString); ok {
					L.Replace(2, msg)
				}
			}
		}
		return n
	}
}

// toString is tostring with numbers formatted as Lua 5.1 formats them.
func (vm *luaVM) toString(tostring lua.LValue) lua.LGFunction {
	return func(L *lua.LState) int {
		if n, ok := L.Get(1).(lua.LNumber); ok {
			L.Push(lua.LString(luaNumber(n)))
			return 1
		}
		return vm.callOn(L, tostring)
	}
}

// luaNumber formats a number as Lua 5.1's "%.14g" does.
func luaNumber(n lua.LNumber) string { return strconv.FormatFloat(float64(n), 'g', 14, 64) }

// seeThrough wraps a function whose first argument may be a view so that it
// gets the real table instead.
func (vm *luaVM) seeThrough(fn lua.LValue) lua.LGFunction {
	return func(L *lua.LState) int {
		if t, ok := L.Get(1).(*lua.LTable); ok {
			L.Replace(1, vm.real(t))
		}
		return vm.callOn(L, fn)
	}
}

// refuseViews wraps a function that writes to its argument n so that it
// refuses views, as Redis refuses to change its read-only tables.
func (vm *luaVM) refuseViews(fn lua.LValue, n int) lua.LGFunction {
	return func(L *lua.LState) int {
		if t, ok := L.Get(n).(*lua.LTable); ok {
			if _, isView := vm.views[t]; isView {
				L.Error(lua.LString(msgReadOnlyTable), 0)
			}
		}
		return vm.callOn(L, fn)
	}
}

// callOn calls fn with this call's arguments and returns all its results.
func (vm *luaVM) callOn(L *lua.LState, fn lua.LValue) int {
	top := L.GetTop()
	L.Insert(fn, 1)
	L.Call(top, lua.MultRet)
	return L.GetTop()
}

func (vm *luaVM) random(L *lua.LState) int {
	switch L.GetTop() {
	case 0:
		L.Push(lua.LNumber(vm.rng.Float64()))
	case 1:
		n := L.CheckInt(1)
		if n < 1 {
			L.ArgError(1, "interval is empty")
		}
		L.Push(lua.LNumber(vm.rng.IntN(n) + 1))
	default:
		lo, hi := L.CheckInt(1), L.CheckInt(2)
		if lo > hi {
			L.ArgError(2, "interval is empty")
		}
		L.Push(lua.LNumber(lo + vm.rng.IntN(hi-lo+1)))
	}
	return 1
}

// compile parses and compiles source as a script, with every concatenation
// turned into a checked one (luaguard.go).
func compileLua(source, name string) (*lua.FunctionProto, error) {
	chunk, err := parse.Parse(strings.NewReader(source), name)
	if err != nil {
		return nil, err
	}
	return lua.Compile(guardChunk(chunk), name)
}

// loadString is loadstring for source text, compiled as scripts are.
func (vm *luaVM) loadString(L *lua.LState) int {
	return vm.loaded(L, L.CheckString(1), L.OptString(2, "=(loadstring)"))
}

// load is Lua 5.1's load: it gathers the pieces a function returns, within
// the memory bound, and compiles them as loadstring does.
func (vm *luaVM) load(L *lua.LState) int {
	fn := L.CheckFunction(1)
	name := L.OptString(2, "=(load)")
	var b strings.Builder
	for {
		L.Push(fn)
		L.Call(0, 1)
		piece := L.Get(-1)
		L.Pop(1)
		s, ok := piece.(lua.LString)
		if piece == lua.LNil || (ok && len(s) == 0) {
			break
		}
		if !ok {
			L.Push(lua.LNil)
			L.Push(lua.LString("reader function must return a string"))
			return 2
		}
		vm.run.charge(L, b.Len()+len(s))
		b.WriteString(string(s))
	}
	return vm.loaded(L, b.String(), name)
}

// loaded answers what loadstring answers: the compiled function, or nil and
// the error.
func (vm *luaVM) loaded(L *lua.LState, source, name string) int {
	if strings.HasPrefix(source, "\x1bLua") {
		L.Push(lua.LNil)
		L.Push(lua.LString("bytecode is not allowed"))
		return 2
	}
	proto, err := compileLua(source, strings.TrimPrefix(name, "="))
	if err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString(err.Error()))
		return 2
	}
	L.Push(L.NewFunctionFromProto(proto))
	return 1
}
