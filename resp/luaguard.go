package resp

import (
	"reflect"
	"strings"
	"unsafe"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/ast"
	"github.com/yuin/gopher-lua/pm"
)

// A script's memory is bounded (Options.ScriptMaxMemory). Go cannot say what
// one goroutine holds, and gopher-lua allocates freely, so the bound is kept
// in two ways:
//
//   - Whatever makes a string larger than its inputs at once, which could
//     ask for gigabytes in a few instructions (s = s .. s doubles), goes
//     through a check first: every `..` in a script is compiled as a call to
//     a checked concatenation (guardChunk), and string.rep, string.format,
//     string.gsub, table.concat and cjson.encode check or charge what they
//     make. A string larger than the bound is refused before it exists.
//   - What grows an instruction at a time (tables) is measured: the hook
//     that gopher-lua calls before each instruction (scriptRun.Done) walks
//     what the script can reach (its locals, upvalues, KEYS, ARGV and the
//     tables and functions they lead to) every so many instructions, and
//     whenever the strings made since the last walk add up to a quarter of
//     the bound. A script over the bound is stopped, as SCRIPT KILL stops
//     one, and cannot catch it.

// concatName is the local every script's concatenations call. Its name
// cannot be written in Lua, so a script cannot shadow or replace it.
const concatName = "\x00concat"

// guardChunk rewrites every concatenation of a chunk into a call of a local
// that holds the checked concatenation, declared first.
func guardChunk(chunk []ast.Stmt) []ast.Stmt {
	if !rewriteConcat(reflect.ValueOf(chunk)) {
		return chunk
	}
	decl := &ast.LocalAssignStmt{Names: []string{concatName}, Exprs: []ast.Expr{&ast.IdentExpr{Value: concatName}}}
	return append([]ast.Stmt{decl}, chunk...)
}

var (
	exprType   = reflect.TypeFor[ast.Expr]()
	concatType = reflect.TypeFor[*ast.StringConcatOpExpr]()
)

// rewriteConcat walks the syntax tree under v, replacing each concatenation,
// and reports whether it found one. It goes by reflection through every
// field that holds nodes, so that no kind of statement or expression is
// missed.
func rewriteConcat(v reflect.Value) bool {
	found := false
	switch v.Kind() {
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			return false
		}
		return rewriteConcat(v.Elem())
	case reflect.Slice:
		for i := range v.Len() {
			found = replaceConcat(v.Index(i)) || found
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Field(i); f.CanSet() {
				found = replaceConcat(f) || found
			}
		}
	}
	return found
}

// replaceConcat rewrites the node held in the settable v, replacing it if it
// is a concatenation.
func replaceConcat(v reflect.Value) bool {
	found := rewriteConcat(v)
	if v.Type() != exprType || v.IsNil() || v.Elem().Type() != concatType {
		return found
	}
	c := v.Elem().Interface().(*ast.StringConcatOpExpr)
	call := &ast.FuncCallExpr{Func: &ast.IdentExpr{Value: concatName}, Args: []ast.Expr{c.Lhs, c.Rhs}}
	call.SetLine(c.Line())
	call.SetLastLine(c.LastLine())
	v.Set(reflect.ValueOf(call))
	return true
}

// concat is `a .. b` with the result's size checked before it is made. Like
// Lua's, it joins strings and numbers and otherwise tries __concat.
func (vm *luaVM) concat(L *lua.LState) int {
	a, b := L.Get(1), L.Get(2)
	if lua.LVCanConvToString(a) && lua.LVCanConvToString(b) {
		as, bs := concatString(a), concatString(b)
		vm.run.charge(L, len(as)+len(bs))
		L.Push(lua.LString(as + bs))
		return 1
	}
	mm := L.GetMetaField(a, "__concat")
	if mm == lua.LNil {
		mm = L.GetMetaField(b, "__concat")
	}
	if mm == lua.LNil {
		bad := a
		if lua.LVCanConvToString(a) {
			bad = b
		}
		L.RaiseError("attempt to concatenate a %s value", bad.Type().String())
	}
	L.Push(mm)
	L.Push(a)
	L.Push(b)
	L.Call(2, 1)
	return 1
}

func concatString(v lua.LValue) string {
	if n, ok := v.(lua.LNumber); ok {
		return luaNumber(n)
	}
	return lua.LVAsString(v)
}

func (vm *luaVM) stringRep(L *lua.LState) int {
	s, n := L.CheckString(1), L.CheckInt(2)
	if n <= 0 || s == "" {
		L.Push(lua.LString(""))
		return 1
	}
	if n > vm.run.limit/len(s)+1 {
		vm.run.overLimit(L)
	}
	vm.run.charge(L, len(s)*n)
	L.Push(lua.LString(strings.Repeat(s, n)))
	return 1
}

// guardFormat refuses widths and precisions of more than two digits, as C
// Lua does, since Go's fmt would pad to a million.
func (vm *luaVM) guardFormat(format lua.LValue) lua.LGFunction {
	return func(L *lua.LState) int {
		f := L.CheckString(1)
		for i := 0; i < len(f); i++ {
			if f[i] != '%' {
				continue
			}
			i++
			digits := 0
			for ; i < len(f) && strings.IndexByte("-+ #0123456789.", f[i]) >= 0; i++ {
				if f[i] >= '0' && f[i] <= '9' {
					digits++
					if digits > 2 {
						L.RaiseError("invalid format (width or precision too long)")
					}
				} else if f[i] == '.' {
					digits = 0
				}
			}
		}
		n := vm.callOn(L, format)
		vm.run.charge(L, len(lua.LVAsString(L.Get(-1))))
		return n
	}
}

// guardGsub bounds what gsub makes: with a string replacement, by the most
// each match can expand to (the replacement, each % in it a whole match);
// with a table or a function, by charging each replacement it yields.
func (vm *luaVM) guardGsub(gsub lua.LValue) lua.LGFunction {
	return func(L *lua.LState) int {
		s, pat := L.CheckString(1), L.CheckString(2)
		switch repl := L.Get(3).(type) {
		case lua.LString:
			matches, err := pm.Find(pat, []byte(s), 0, L.OptInt(4, -1))
			if err == nil {
				size := len(s)
				per := len(repl)
				pcts := strings.Count(string(repl), "%")
				for _, m := range matches {
					size += per + pcts*(m.Capture(1)-m.Capture(0))
					if size > vm.run.limit {
						vm.run.overLimit(L)
					}
				}
				vm.run.charge(L, size)
			}
		case *lua.LTable, *lua.LFunction:
			L.Replace(3, L.NewFunction(func(L *lua.LState) int {
				n := L.GetTop()
				var v lua.LValue
				if t, ok := repl.(*lua.LTable); ok {
					v = L.GetTable(t, L.Get(1))
				} else {
					L.Push(repl)
					for i := 1; i <= n; i++ {
						L.Push(L.Get(i))
					}
					L.Call(n, 1)
					v = L.Get(-1)
				}
				vm.run.charge(L, len(lua.LVAsString(v)))
				L.Push(v)
				return 1
			}))
		}
		return vm.callOn(L, gsub)
	}
}

// guardConcatTable is table.concat, charged with the string it makes.
func (vm *luaVM) guardConcatTable(concat lua.LValue) lua.LGFunction {
	return func(L *lua.LState) int {
		t := L.CheckTable(1)
		sep := L.OptString(2, "")
		size := 0
		t.ForEach(func(_, v lua.LValue) {
			if s, ok := v.(lua.LString); ok {
				size += len(s) + len(sep)
			} else if n, ok := v.(lua.LNumber); ok {
				size += len(n.String()) + len(sep)
			}
		})
		vm.run.charge(L, size)
		return vm.callOn(L, concat)
	}
}

// charge records n bytes about to be allocated: more than the bound at once
// stops the script; a quarter of it since the last measure measures again.
func (r *scriptRun) charge(L *lua.LState, n int) {
	if n > r.limit {
		r.overLimit(L)
	}
	r.made += n
	if r.made > r.limit/4 {
		r.measure(L)
	}
}

// overLimit stops the script: its memory is over the bound.
func (r *scriptRun) overLimit(L *lua.LState) {
	r.stop(runTooBig)
	r.halted = true
	L.RaiseError("%s", r.stopMessage())
}

// measure walks what the script can reach and stops it if that is over the
// bound. It then waits for the script to make a quarter of the bound again,
// or for more instructions than the walk visited values (so that walking
// costs the script a bounded share of its time).
func (r *scriptRun) measure(L *lua.LState) {
	size, visited := reachableBytes(L, r.vm)
	r.made = 0
	r.nextMeasure = r.steps + max(measureEvery, 8*uint64(visited))
	if size > int64(r.limit) {
		r.overLimit(L)
	}
}

// measureEvery is the most instructions between two measures: a table grows
// by one entry an instruction at most, so a script overshoots the bound by
// a few megabytes at most before it is measured.
const measureEvery = 1 << 16

// Costs of what reachableBytes cannot see the size of.
const (
	tableBytes    = 64
	entryBytesLua = 40
	functionBytes = 64
)

// reachableBytes estimates what the script holds: the strings and tables its
// frames' locals and their functions' upvalues lead to, and the globals
// (KEYS, ARGV), without the libraries. Strings are counted once however
// often they are referenced.
func reachableBytes(L *lua.LState, vm *luaVM) (size int64, visited int) {
	seen := map[any]bool{}
	stack := []lua.LValue{vm.globals}
	for level := 0; ; level++ {
		dbg, ok := L.GetStack(level)
		if !ok {
			break
		}
		for n := 1; ; n++ {
			name, v := L.GetLocal(dbg, n)
			if name == "" {
				break
			}
			stack = append(stack, v)
		}
		if fn, err := L.GetInfo("f", dbg, lua.LNil); err == nil {
			stack = append(stack, fn)
		}
	}
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		visited++
		switch x := v.(type) {
		case lua.LString:
			if len(x) < 64 {
				size += int64(len(x))
				continue
			}
			key := unsafe.StringData(string(x)) //nolint:gosec // G103: audited: the pointer only identifies the string, it is never dereferenced
			if !seen[key] {
				seen[key] = true
				size += int64(len(x))
			}
		case *lua.LTable:
			if seen[x] {
				continue
			}
			seen[x] = true
			if _, isView := vm.views[x]; isView || x == vm.stringMT {
				continue
			}
			size += tableBytes
			x.ForEach(func(k, v lua.LValue) {
				size += entryBytesLua
				stack = append(stack, k, v)
			})
			if x.Metatable != lua.LNil {
				stack = append(stack, x.Metatable)
			}
		case *lua.LFunction:
			if seen[x] {
				continue
			}
			seen[x] = true
			size += functionBytes
			for _, uv := range x.Upvalues {
				stack = append(stack, uv.Value())
			}
		}
	}
	return size, visited
}
