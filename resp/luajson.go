package resp

import (
	"encoding/json"
	"errors"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// The cjson and bit libraries that Redis gives scripts, the parts that
// scripts use: cjson.encode, cjson.decode and cjson.null (lua-cjson's
// output: "/" escaped, an empty table an object, integers without a
// fraction), and LuaBitOp's 32-bit operations.

const luaJSONMaxDepth = 1000

func (vm *luaVM) cjsonLibrary() *lua.LTable {
	L := vm.L
	null := L.NewUserData()
	t := L.NewTable()
	t.RawSetString("null", null)
	t.RawSetString("encode", L.NewFunction(func(L *lua.LState) int {
		var b strings.Builder
		if msg := encodeJSON(&b, L.CheckAny(1), null, 0); msg != "" {
			L.RaiseError("%s", msg)
		}
		vm.run.charge(L, b.Len())
		L.Push(lua.LString(b.String()))
		return 1
	}))
	t.RawSetString("decode", L.NewFunction(func(L *lua.LState) int {
		s := L.CheckString(1)
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		var v any
		err := dec.Decode(&v)
		if err == nil {
			if _, trailing := dec.Token(); !errors.Is(trailing, io.EOF) {
				err = errors.New("trailing data")
			}
		}
		if err != nil {
			at := int64(1)
			var se *json.SyntaxError
			if errors.As(err, &se) {
				at = max(se.Offset, 1)
			}
			L.RaiseError("Expected value but found invalid token at character %d", at)
		}
		L.Push(jsonToLua(L, v, null))
		return 1
	}))
	return t
}

func encodeJSON(b *strings.Builder, v lua.LValue, null lua.LValue, depth int) string {
	if depth > luaJSONMaxDepth {
		return "Cannot serialise, excessive nesting (" + strconv.Itoa(depth) + ")"
	}
	switch x := v.(type) {
	case *lua.LNilType:
		b.WriteString("null")
	case lua.LBool:
		b.WriteString(strconv.FormatBool(bool(x)))
	case lua.LNumber:
		f := float64(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return "Cannot serialise number: must not be NaN or Inf"
		}
		b.WriteString(strconv.FormatFloat(f, 'g', 14, 64))
	case lua.LString:
		writeJSONString(b, string(x))
	case *lua.LTable:
		return encodeJSONTable(b, x, null, depth)
	default:
		if v == null {
			b.WriteString("null")
			return ""
		}
		return "Cannot serialise " + v.Type().String() + ": type not supported"
	}
	return ""
}

// encodeJSONTable writes a table as an array if its keys are 1..n, else as
// an object, keys in order so that the output is stable.
func encodeJSONTable(b *strings.Builder, t *lua.LTable, null lua.LValue, depth int) string {
	n, isArray := 0, true
	var keys []lua.LValue
	t.ForEach(func(k, _ lua.LValue) {
		keys = append(keys, k)
		if num, ok := k.(lua.LNumber); ok && num >= 1 && float64(num) == math.Trunc(float64(num)) {
			n = max(n, int(num))
		} else {
			isArray = false
		}
	})
	if isArray && n > 0 && n <= 2*len(keys) {
		b.WriteByte('[')
		for i := 1; i <= n; i++ {
			if i > 1 {
				b.WriteByte(',')
			}
			if msg := encodeJSON(b, t.RawGetInt(i), null, depth+1); msg != "" {
				return msg
			}
		}
		b.WriteByte(']')
		return ""
	}
	names := make([]string, 0, len(keys))
	for _, k := range keys {
		switch k.(type) {
		case lua.LString, lua.LNumber:
			names = append(names, lua.LVAsString(k))
		default:
			return "Cannot serialise table: table key must be a number or string"
		}
	}
	sort.Strings(names)
	b.WriteByte('{')
	for i, name := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSONString(b, name)
		b.WriteByte(':')
		v := t.RawGetString(name)
		if v == lua.LNil {
			if f, err := strconv.ParseFloat(name, 64); err == nil {
				v = t.RawGet(lua.LNumber(f))
			}
		}
		if msg := encodeJSON(b, v, null, depth+1); msg != "" {
			return msg
		}
	}
	b.WriteByte('}')
	return ""
}

// writeJSONString escapes as lua-cjson does: quotes, backslashes, "/" and
// control characters; other bytes pass as they are.
func writeJSONString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\', '/':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if c < 0x20 || c == 0x7f {
				b.WriteString(`\u00`)
				b.WriteByte("0123456789abcdef"[c>>4])
				b.WriteByte("0123456789abcdef"[c&15])
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
}

func jsonToLua(L *lua.LState, v any, null lua.LValue) lua.LValue {
	switch x := v.(type) {
	case nil:
		return null
	case bool:
		return lua.LBool(x)
	case json.Number:
		f, _ := strconv.ParseFloat(string(x), 64)
		return lua.LNumber(f)
	case string:
		return lua.LString(x)
	case []any:
		t := L.CreateTable(len(x), 0)
		for i, e := range x {
			t.RawSetInt(i+1, jsonToLua(L, e, null))
		}
		return t
	case map[string]any:
		t := L.CreateTable(0, len(x))
		for k, e := range x {
			t.RawSetString(k, jsonToLua(L, e, null))
		}
		return t
	}
	return lua.LNil
}

// bitLibrary is LuaBitOp: operations on numbers as 32-bit integers.
func (vm *luaVM) bitLibrary() *lua.LTable {
	L := vm.L
	t := L.NewTable()
	fold := func(op func(a, b int32) int32) lua.LGFunction {
		return func(L *lua.LState) int {
			acc := toBit(L, 1)
			for i := 2; i <= L.GetTop(); i++ {
				acc = op(acc, toBit(L, i))
			}
			L.Push(lua.LNumber(acc))
			return 1
		}
	}
	shift := func(op func(x int32, n uint) int32) lua.LGFunction {
		return func(L *lua.LState) int {
			L.Push(lua.LNumber(op(toBit(L, 1), uint(toBit(L, 2))&31)))
			return 1
		}
	}
	for name, fn := range map[string]lua.LGFunction{
		"tobit": func(L *lua.LState) int { L.Push(lua.LNumber(toBit(L, 1))); return 1 },
		"bnot":  func(L *lua.LState) int { L.Push(lua.LNumber(^toBit(L, 1))); return 1 },
		"band":  fold(func(a, b int32) int32 { return a & b }),
		"bor":   fold(func(a, b int32) int32 { return a | b }),
		"bxor":  fold(func(a, b int32) int32 { return a ^ b }),
		"lshift": shift(func(x int32, n uint) int32 {
			return int32(uint32(x) << n) //nolint:gosec // G115: 32-bit wrap-around is the operation
		}),
		"rshift": shift(func(x int32, n uint) int32 {
			return int32(uint32(x) >> n) //nolint:gosec // G115: as above
		}),
		"arshift": shift(func(x int32, n uint) int32 { return x >> n }),
		"rol": shift(func(x int32, n uint) int32 {
			return int32(uint32(x)<<n | uint32(x)>>((32-n)&31)) //nolint:gosec // G115: as above
		}),
		"ror": shift(func(x int32, n uint) int32 {
			return int32(uint32(x)>>n | uint32(x)<<((32-n)&31)) //nolint:gosec // G115: as above
		}),
		"bswap": func(L *lua.LState) int {
			x := uint32(toBit(L, 1))                                                //nolint:gosec // G115: as above
			L.Push(lua.LNumber(int32(x>>24 | x>>8&0xff00 | x<<8&0xff0000 | x<<24))) //nolint:gosec // G115: as above
			return 1
		},
		"tohex": func(L *lua.LState) int {
			x := uint32(toBit(L, 1)) //nolint:gosec // G115: as above
			n := 8
			if L.GetTop() >= 2 {
				n = int(toBit(L, 2))
			}
			digits := "0123456789abcdef"
			if n < 0 {
				n, digits = -n, "0123456789ABCDEF"
			}
			n = min(n, 8)
			var out [8]byte
			for i := n - 1; i >= 0; i-- {
				out[i] = digits[x&15]
				x >>= 4
			}
			L.Push(lua.LString(out[:n]))
			return 1
		},
	} {
		t.RawSetString(name, L.NewFunction(fn))
	}
	return t
}

// toBit reads argument n as LuaBitOp does: rounded to an integer, then
// taken modulo 2^32 as a signed 32-bit number.
func toBit(L *lua.LState, n int) int32 {
	f := math.Mod(math.RoundToEven(float64(L.CheckNumber(n))), 1<<32)
	return int32(uint32(int64(f))) //nolint:gosec // G115: the modulo is the operation
}
