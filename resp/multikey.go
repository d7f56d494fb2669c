package resp

import (
	"errors"

	"github.com/warmkv/warmkv/cache"
)

// The commands that touch several keys at once: MSETNX, RENAME, RENAMENX,
// COPY, LCS and BITOP. Each runs as one transaction over its keys
// (conn.atomically), so that no other client sees one half done, or, inside
// EXEC or a script, on the transaction already running.

const (
	msgNoSuchKey    = "ERR no such key"
	msgSameObject   = "ERR source and destination objects are the same"
	msgDBRange      = "ERR DB index is out of range"
	msgLCSBothModes = "ERR If you want both the length and indexes, please just use IDX."
	msgBitopNot     = "ERR BITOP NOT must be called with a single source key."
	// lcsMaxTable bounds LCS's table of (len(a)+1)*(len(b)+1) lengths: it is
	// what LCS allocates, and values of a few kilobytes already need megabytes.
	lcsMaxTable     = 64 << 20
	msgLCSTooLarge  = "ERR Insufficient memory, transient memory for LCS exceeds 64MB"
	msgResultTooBig = "ERR the result would be longer than this server's values may be; nothing changed"
)

// errNothing stops a transaction that has decided to change nothing.
var errNothing = errors.New("nothing to do")

func multiKeyCommands() []*command {
	writeOOM := []string{"write", "denyoom"}
	return []*command{
		{name: "msetnx", arity: -3, run: cmdMSetNX, flags: writeOOM, firstKey: 1, lastKey: -1, step: 2, acl: []string{"@write", "@string", "@slow"},
			tips:  []string{"request_policy:multi_shard", "response_policy:agg_min"},
			group: "string", summary: "Atomically modifies the string values of one or more keys only when all keys don't exist.", since: "1.0.1",
			complexity: "O(N) where N is the number of keys to set.",
			docArgs:    []argDoc{multiple(block("data", keyArg("key"), strArg("value")))}},
		{name: "rename", arity: 3, run: cmdRename(false), flags: []string{"write"}, firstKey: 1, lastKey: 2, step: 1, acl: []string{"@keyspace", "@write", "@slow"},
			group: "generic", summary: "Renames a key and overwrites the destination.", since: "1.0.0", complexity: "O(1)",
			docArgs: []argDoc{keyArg("key"), keyArg("newkey")}},
		{name: "renamenx", arity: 3, run: cmdRename(true), flags: []string{"write", "fast"}, firstKey: 1, lastKey: 2, step: 1, acl: []string{"@keyspace", "@write", "@fast"},
			group: "generic", summary: "Renames a key only when the target key name doesn't exist.", since: "1.0.0", complexity: "O(1)",
			docArgs: []argDoc{keyArg("key"), keyArg("newkey")}},
		{name: "copy", arity: -3, run: cmdCopy, flags: writeOOM, firstKey: 1, lastKey: 2, step: 1, acl: []string{"@keyspace", "@write", "@slow"},
			group: "generic", summary: "Copies the value of a key to a new key.", since: "6.2.0",
			complexity: "O(N) worst case for collections, where N is the number of nested items. O(1) for string values.",
			docArgs:    []argDoc{keyArg("source"), keyArg("destination"), optional(withToken("DB", intArg("destination-db"))), optional(tokenArg("REPLACE"))}},
		{name: "lcs", arity: -3, run: cmdLCS, flags: []string{"readonly"}, firstKey: 1, lastKey: 2, step: 1, acl: []string{"@read", "@string", "@slow"},
			group: "string", summary: "Finds the longest common substring.", since: "7.0.0",
			complexity: "O(N*M) where N and M are the lengths of s1 and s2, respectively",
			docArgs: []argDoc{keyArg("key1"), keyArg("key2"), optional(tokenArg("LEN")), optional(tokenArg("IDX")),
				optional(withToken("MINMATCHLEN", intArg("min-match-len"))), optional(tokenArg("WITHMATCHLEN"))}},
		{name: "bitop", arity: -4, run: cmdBitop, flags: writeOOM, firstKey: 2, lastKey: -1, step: 1, acl: []string{"@write", "@bitmap", "@slow"},
			group: "bitmap", summary: "Performs bitwise operations on multiple strings, and stores the result.", since: "2.6.0", complexity: "O(N)",
			docArgs: []argDoc{oneOf("operation", tokenArg("AND"), tokenArg("OR"), tokenArg("XOR"), tokenArg("NOT")),
				keyArg("destkey"), multiple(keyArg("key"))}},
	}
}

// keysOf copies the keys at args[from:] (every step-th) out of the read buffer.
func keysOf(args [][]byte, from, step int) []string {
	keys := make([]string, 0, (len(args)-from+step-1)/step)
	for i := from; i < len(args); i += step {
		keys = append(keys, string(args[i]))
	}
	return keys
}

// answerDone answers a transaction that either did its work (1) or stopped
// with errNothing (0), or else failed.
func (c *conn) answerDone(err error) {
	switch {
	case errors.Is(err, errNothing):
		c.out.int(0)
	case err != nil:
		c.storeFailed(err)
	default:
		c.out.int(1)
	}
}

// validPairs checks the key and value pairs of MSET and MSETNX, answering the
// first refusal.
func (c *conn) validPairs(args [][]byte) bool {
	if len(args)%2 != 1 {
		c.out.err("ERR wrong number of arguments for '" + lowerASCII(args[0]) + "' command")
		return false
	}
	for i := 1; i < len(args); i += 2 {
		if !c.validEntry(args[i], args[i+1]) {
			return false
		}
	}
	return true
}

// cmdMSetNX sets every pair, or none if any key exists.
func cmdMSetNX(c *conn, args [][]byte) {
	if !c.validPairs(args) {
		return
	}
	keys := keysOf(args, 1, 2)
	err := c.atomically(keys, func(tx cache.Tx) error {
		for _, k := range keys {
			_, _, found, err := tx.Lookup(k)
			if err != nil {
				return err
			}
			if found {
				return errNothing
			}
		}
		for i, k := range keys {
			if err := tx.Set(k, string(args[2*i+2]), 0); err != nil {
				return err
			}
		}
		return nil
	})
	c.answerDone(err)
}

// cmdRename serves RENAME and RENAMENX: the value moves with its expiry.
func cmdRename(nx bool) func(c *conn, args [][]byte) {
	return func(c *conn, args [][]byte) {
		if !c.validKeys(args[1:3]) {
			return
		}
		src, dst := string(args[1]), string(args[2])
		var refusal string
		err := c.atomically([]string{src, dst}, func(tx cache.Tx) error {
			v, expireAt, found, err := tx.Lookup(src)
			switch {
			case err != nil:
				return err
			case !found:
				refusal = msgNoSuchKey
				return errNothing
			case src == dst:
				return errNothing
			}
			if nx {
				_, _, exists, err := tx.Lookup(dst)
				if err != nil {
					return err
				}
				if exists {
					return errNothing
				}
			}
			if err := tx.Set(dst, v, expireAt); err != nil {
				return err
			}
			_, err = tx.Delete(src)
			return err
		})
		switch {
		case refusal != "":
			c.out.err(refusal)
		case err != nil && !errors.Is(err, errNothing):
			c.storeFailed(err)
		case nx:
			c.out.int(boolInt(err == nil))
		default:
			c.out.ok()
		}
	}
}

// cmdCopy copies a value and its expiry to another key of database 0, the
// only one.
func cmdCopy(c *conn, args [][]byte) {
	replace := false
	for j := 3; j < len(args); j++ {
		switch {
		case equalFold(args[j], "replace"):
			replace = true
		case equalFold(args[j], "db") && j+1 < len(args):
			db, ok := parseInt(args[j+1])
			if !ok || db != int64(int32(db)) {
				c.out.err(msgNotInteger)
				return
			}
			if db != 0 {
				c.out.err(msgDBRange)
				return
			}
			j++
		default:
			c.out.err(msgSyntax)
			return
		}
	}
	if !c.validKeys(args[1:3]) {
		return
	}
	src, dst := string(args[1]), string(args[2])
	if src == dst {
		c.out.err(msgSameObject)
		return
	}
	err := c.atomically([]string{src, dst}, func(tx cache.Tx) error {
		v, expireAt, found, err := tx.Lookup(src)
		if err != nil {
			return err
		}
		if !found {
			return errNothing
		}
		if !replace {
			_, _, exists, err := tx.Lookup(dst)
			if err != nil {
				return err
			}
			if exists {
				return errNothing
			}
		}
		return tx.Set(dst, v, expireAt)
	})
	c.answerDone(err)
}

// cmdBitop stores the bitwise AND, OR, XOR of its sources, or the NOT of one,
// in destkey; a missing source counts as a string of zero bytes, and a result
// of no bytes deletes destkey. It answers the result's length.
func cmdBitop(c *conn, args [][]byte) {
	var op func(a, b byte) byte
	switch {
	case equalFold(args[1], "and"):
		op = func(a, b byte) byte { return a & b }
	case equalFold(args[1], "or"):
		op = func(a, b byte) byte { return a | b }
	case equalFold(args[1], "xor"):
		op = func(a, b byte) byte { return a ^ b }
	case equalFold(args[1], "not"):
		if len(args) != 4 {
			c.out.err(msgBitopNot)
			return
		}
	default:
		c.out.err(msgSyntax)
		return
	}
	if !c.validKeys(args[2:]) {
		return
	}
	keys := keysOf(args, 2, 1)
	var size int
	err := c.atomically(keys, func(tx cache.Tx) error {
		sources := make([]string, len(keys)-1)
		for i, k := range keys[1:] {
			v, _, _, err := tx.Lookup(k)
			if err != nil {
				return err
			}
			sources[i] = v
			size = max(size, len(v))
		}
		if size > c.srv.maxValue { // a source stored over HTTP may be longer
			return errResultTooLarge
		}
		if size == 0 {
			_, err := tx.Delete(keys[0])
			return err
		}
		return tx.Set(keys[0], bitop(op, sources, size), 0)
	})
	switch {
	case errors.Is(err, errResultTooLarge):
		c.out.err(msgResultTooBig)
	case err != nil:
		c.storeFailed(err)
	default:
		c.out.int(int64(size))
	}
}

var errResultTooLarge = errors.New("result too large")

// bitop combines sources byte by byte, the bytes past a source's end being
// zeros; a nil op is NOT of the one source.
func bitop(op func(a, b byte) byte, sources []string, size int) string {
	out := make([]byte, size)
	at := func(s string, i int) byte {
		if i < len(s) {
			return s[i]
		}
		return 0
	}
	for i := range out {
		b := at(sources[0], i)
		if op == nil {
			out[i] = ^b
			continue
		}
		for _, s := range sources[1:] {
			b = op(b, at(s, i))
		}
		out[i] = b
	}
	return string(out)
}
