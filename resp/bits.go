package resp

import (
	"math/bits"

	"github.com/warmkv/warmkv/cache"
)

// The bitmap commands: SETBIT, GETBIT, BITCOUNT, BITPOS, over a value's bytes
// as Redis numbers them (bit 0 is the most significant bit of the first
// byte). The bit helpers (popCount, bitPos) are for BITOP too.

func bitCommands() []*command {
	return []*command{
		{name: "setbit", arity: 4, run: cmdSetBit, flags: []string{"write", "denyoom"}, firstKey: 1, lastKey: 1, step: 1, acl: []string{"@write", "@bitmap", "@slow"},
			group: "bitmap", summary: "Sets or clears the bit at offset in the string value stored at key", since: "2.2.0", complexity: "O(1)",
			docArgs: []argDoc{keyArg("key"), intArg("offset"), intArg("value")}},
		{name: "getbit", arity: 3, run: cmdGetBit, flags: []string{"readonly", "fast"}, firstKey: 1, lastKey: 1, step: 1, acl: []string{"@read", "@bitmap", "@fast"},
			group: "bitmap", summary: "Returns the bit value at offset in the string value stored at key", since: "2.2.0", complexity: "O(1)",
			docArgs: []argDoc{keyArg("key"), intArg("offset")}},
		{name: "bitcount", arity: -2, run: cmdBitCount, flags: []string{"readonly"}, firstKey: 1, lastKey: 1, step: 1, acl: []string{"@read", "@bitmap", "@slow"},
			group: "bitmap", summary: "Count set bits in a string", since: "2.6.0", complexity: "O(N)",
			docArgs: []argDoc{keyArg("key"), optional(block("index", intArg("start"), intArg("end"),
				optional(oneOf("index_unit", tokenArg("BYTE"), tokenArg("BIT")))))}},
		{name: "bitpos", arity: -3, run: cmdBitPos, flags: []string{"readonly"}, firstKey: 1, lastKey: 1, step: 1, acl: []string{"@read", "@bitmap", "@slow"},
			group: "bitmap", summary: "Find first bit set or clear in a string", since: "2.8.7", complexity: "O(N)",
			docArgs: []argDoc{keyArg("key"), intArg("bit"), optional(block("index", intArg("start"), optional(block("end_index", intArg("end"),
				optional(oneOf("index_unit", tokenArg("BYTE"), tokenArg("BIT")))))))}},
	}
}

const (
	msgBitOffset   = "ERR bit offset is not an integer or out of range"
	msgBitValue    = "ERR bit is not an integer or out of range"
	msgBitArgument = "ERR The bit argument must be 1 or 0."
)

// bitOffset reads a bit offset as Redis does: an integer from 0 to one
// below the bits of the longest value (Redis's proto-max-bulk-len, here
// MaxValueBytes), so that SETBIT cannot grow a value past the limit.
func (c *conn) bitOffset(arg []byte) (uint64, bool) {
	n, ok := parseInt(arg)
	if !ok || n < 0 || n>>3 >= int64(c.srv.maxValue) {
		c.out.err(msgBitOffset)
		return 0, false
	}
	return uint64(n), true
}

// cmdSetBit sets or clears one bit, growing the value with zero bytes to
// reach it (its size checked by bitOffset before anything is built), and
// answers the bit's old value. The TTL is kept.
func cmdSetBit(c *conn, args [][]byte) {
	offset, ok := c.bitOffset(args[2])
	if !ok {
		return
	}
	on, ok := parseInt(args[3])
	if !ok || on&^1 != 0 {
		c.out.err(msgBitValue)
		return
	}
	if !c.validKey(args[1]) {
		return
	}
	byteAt, mask := int(offset>>3), byte(1)<<(7-offset&7)
	var was bool
	if !c.update(string(args[1]), func(old cache.Item, found bool) (cache.Item, bool, error) {
		grows := !found || byteAt >= len(old.Value)
		was = !grows && old.Value[byteAt]&mask != 0
		if !grows && was == (on == 1) {
			return old, false, nil
		}
		b := make([]byte, max(len(old.Value), byteAt+1))
		copy(b, old.Value)
		if on == 1 {
			b[byteAt] |= mask
		} else {
			b[byteAt] &^= mask
		}
		return cache.Item{Value: ownedString(b), ExpireAt: old.ExpireAt}, true, nil
	}) {
		return
	}
	c.out.int(boolInt(was))
}

func cmdGetBit(c *conn, args [][]byte) {
	offset, ok := c.bitOffset(args[2])
	if !ok {
		return
	}
	v, _, ok := c.readKey(args[1])
	if !ok {
		return
	}
	byteAt := offset >> 3
	c.out.int(boolInt(byteAt < uint64(len(v)) && v[byteAt]&(1<<(7-offset&7)) != 0))
}

// bitRange reads the start and end arguments of BITCOUNT and BITPOS and the
// unit after them (BYTE, the default, or BIT), and turns them into byte
// positions in a value of n bytes, with masks of the bits outside the range
// in the first and last bytes, as Redis's bitcountCommand does. ok is false
// once a refusal is answered.
type bitSpan struct {
	start, end          int64 // bytes, inclusive
	firstMask, lastMask byte  // bits of the first and last byte outside the range
	empty               bool
}

func (c *conn) bitSpan(startArg, endArg, unit []byte, endGiven bool, n int64) (bitSpan, bool) {
	start, ok := parseInt(startArg)
	if !ok {
		c.out.err(msgNotInteger)
		return bitSpan{}, false
	}
	isBit := false
	if unit != nil {
		switch {
		case equalFold(unit, "bit"):
			isBit = true
		case !equalFold(unit, "byte"):
			c.out.err(msgSyntax)
			return bitSpan{}, false
		}
	}
	total := n
	end := total - 1
	if endGiven {
		if end, ok = parseInt(endArg); !ok {
			c.out.err(msgNotInteger)
			return bitSpan{}, false
		}
	}
	if isBit {
		total <<= 3
		if !endGiven {
			end = total - 1
		}
	}
	start, end, nonEmpty := redisRange(start, end, total)
	sp := bitSpan{start: start, end: end, empty: !nonEmpty}
	if isBit && !sp.empty {
		sp.firstMask = ^byte(0xff >> (start & 7))
		sp.lastMask = byte(1)<<(7-end&7) - 1
		sp.start, sp.end = start>>3, end>>3
	}
	return sp, true
}

// cmdBitCount counts the bits set in the value, or in a range of it. As in
// Redis 7.0, a missing key answers 0 before the arguments are read.
func cmdBitCount(c *conn, args [][]byte) {
	v, found, ok := c.readKey(args[1])
	if !ok {
		return
	}
	if !found {
		c.out.int(0)
		return
	}
	sp := bitSpan{start: 0, end: int64(len(v)) - 1}
	switch len(args) {
	case 2:
		sp.empty = len(v) == 0
	case 4, 5:
		start, end := parseIntOr(args[2]), parseIntOr(args[3])
		var unit []byte
		if len(args) == 5 {
			unit = args[4]
		}
		switch {
		case !start.ok || !end.ok:
			c.out.err(msgNotInteger)
			return
		case start.n < 0 && end.n < 0 && start.n > end.n:
			c.out.int(0)
			return
		}
		var ok bool
		if sp, ok = c.bitSpan(args[2], args[3], unit, true, int64(len(v))); !ok {
			return
		}
	default:
		c.out.err(msgSyntax)
		return
	}
	if sp.empty {
		c.out.int(0)
		return
	}
	count := popCount(v[sp.start : sp.end+1])
	count -= int64(bits.OnesCount8(v[sp.start]&sp.firstMask) + bits.OnesCount8(v[sp.end]&sp.lastMask))
	c.out.int(count)
}

// parsedInt is an integer argument that may not be one.
type parsedInt struct {
	n  int64
	ok bool
}

func parseIntOr(b []byte) parsedInt {
	n, ok := parseInt(b)
	return parsedInt{n, ok}
}

// cmdBitPos finds the first bit set (1) or clear (0) in the value or a range
// of it. A missing key is all clear bits: 0 for a clear bit, -1 for a set one.
// Without an end, the value counts as followed by clear bits, so looking for
// one in a value of set bits answers the first position after it; with an
// end, the search stops there (-1).
func cmdBitPos(c *conn, args [][]byte) {
	bit, ok := parseInt(args[2])
	switch {
	case !ok:
		c.out.err(msgNotInteger)
		return
	case bit != 0 && bit != 1:
		c.out.err(msgBitArgument)
		return
	}
	v, found, ok := c.readKey(args[1])
	if !ok {
		return
	}
	if !found {
		c.out.int(-bit)
		return
	}
	sp := bitSpan{start: 0, end: int64(len(v)) - 1, empty: len(v) == 0}
	endGiven := false
	switch len(args) {
	case 3:
	case 4, 5, 6:
		var endArg, unit []byte
		if len(args) >= 5 {
			endArg, endGiven = args[4], true
		}
		if len(args) == 6 {
			unit = args[5]
		}
		if sp, ok = c.bitSpan(args[3], endArg, unit, endGiven, int64(len(v))); !ok {
			return
		}
	default:
		c.out.err(msgSyntax)
		return
	}
	if sp.empty {
		c.out.int(-1)
		return
	}
	c.out.int(bitPosInSpan(v[sp.start:sp.end+1], sp, bit == 1, endGiven))
}

// bitPosInSpan is the search of Redis's bitposCommand over span, the bytes
// of the range: the first and last bytes are searched with the bits outside
// the range forced to the opposite of the bit sought.
func bitPosInSpan(span string, sp bitSpan, set, endGiven bool) int64 {
	start, n := int64(0), int64(len(span))
	var pos int64
	found := func(p, of int64) bool { return p != -1 && p != of<<3 }
	edge := func(b, mask byte) byte {
		if set {
			return b &^ mask
		}
		return b | mask
	}
	done := false
	if sp.firstMask != 0 {
		b := edge(span[0], sp.firstMask)
		if sp.lastMask != 0 && n == 1 {
			b = edge(b, sp.lastMask)
		}
		pos = bitPosByte(b, set)
		if n == 1 || found(pos, 1) {
			done = true
		} else {
			start++
			n--
		}
	}
	if !done {
		middle := n
		if sp.lastMask != 0 {
			middle--
		}
		if middle > 0 {
			pos = bitPos(span[start:start+middle], set)
			if n == middle || found(pos, middle) {
				done = true
			} else {
				start += middle
				n -= middle
			}
		}
	}
	if !done {
		pos = bitPosByte(edge(span[len(span)-1], sp.lastMask), set)
	}
	if endGiven && !set && pos == n<<3 {
		return -1
	}
	if pos != -1 {
		pos += (sp.start + start) << 3
	}
	return pos
}

// popCount counts the bits set in b.
func popCount[T string | []byte](b T) int64 {
	var n int
	for len(b) >= 8 {
		n += bits.OnesCount64(uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
			uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7]))
		b = b[8:]
	}
	for i := range len(b) {
		n += bits.OnesCount8(b[i])
	}
	return int64(n)
}

// bitPos is Redis's redisBitpos: the position of the first bit of b that is
// set (or clear), counting from the most significant bit of b[0]. When none
// is, it answers -1 for a set bit and len(b)*8 for a clear one: the bits past
// the end count as clear.
func bitPos[T string | []byte](b T, set bool) int64 {
	skip := byte(0)
	if !set {
		skip = 0xff
	}
	for i := range len(b) {
		if x := b[i]; x != skip {
			if !set {
				x = ^x
			}
			return int64(i)<<3 + int64(bits.LeadingZeros8(x))
		}
	}
	if set {
		return -1
	}
	return int64(len(b)) << 3
}

// bitPosByte is bitPos of a single byte.
func bitPosByte(b byte, set bool) int64 {
	if !set {
		b = ^b
	}
	if b == 0 {
		if set {
			return -1
		}
		return 8
	}
	return int64(bits.LeadingZeros8(b))
}
