package resp

import "github.com/warmkv/warmkv/cache"

// lcsOptions are LCS's options, as Redis 7 parses them.
type lcsOptions struct {
	length, idx, withMatchLen bool
	minMatchLen               int64
}

// cmdLCS answers the longest common subsequence of two values (a missing key
// is an empty string), its length (LEN), or the matching ranges (IDX), as
// Redis 7 computes them. Both values are read in one transaction; the table
// is computed outside it.
func cmdLCS(c *conn, args [][]byte) {
	if !c.validKeys(args[1:3]) {
		return
	}
	var o lcsOptions
	for j := 3; j < len(args); j++ {
		switch {
		case equalFold(args[j], "idx"):
			o.idx = true
		case equalFold(args[j], "len"):
			o.length = true
		case equalFold(args[j], "withmatchlen"):
			o.withMatchLen = true
		case equalFold(args[j], "minmatchlen") && j+1 < len(args):
			n, ok := parseInt(args[j+1])
			if !ok {
				c.out.err(msgNotInteger)
				return
			}
			o.minMatchLen = max(n, 0)
			j++
		default:
			c.out.err(msgSyntax)
			return
		}
	}
	if o.idx && o.length {
		c.out.err(msgLCSBothModes)
		return
	}
	keys := []string{string(args[1]), string(args[2])}
	var a, b string
	err := c.atomically(keys, func(tx cache.Tx) error {
		var err error
		if a, _, _, err = tx.Lookup(keys[0]); err != nil {
			return err
		}
		b, _, _, err = tx.Lookup(keys[1])
		return err
	})
	if c.readFailed(err) {
		return
	}
	if int64(len(a)+1)*int64(len(b)+1)*4 > lcsMaxTable {
		c.out.err(msgLCSTooLarge)
		return
	}
	c.lcsReply(a, b, o)
}

// lcsRange is one run of matching bytes: a[aStart:aEnd+1] == b[bStart:bEnd+1].
type lcsRange struct{ aStart, aEnd, bStart, bEnd int }

// lcsReply fills the table of the lengths of the common subsequences of
// every pair of prefixes, then walks it back from the end, collecting the
// subsequence and the runs of contiguous matches, in the order Redis emits
// them (last first).
func (c *conn) lcsReply(a, b string, o lcsOptions) {
	width := len(b) + 1
	table := make([]uint32, (len(a)+1)*width)
	at := func(i, j int) uint32 { return table[i*width+j] }
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			if a[i-1] == b[j-1] {
				table[i*width+j] = at(i-1, j-1) + 1
			} else {
				table[i*width+j] = max(at(i-1, j), at(i, j-1))
			}
		}
	}
	total := int(at(len(a), len(b)))
	if o.length {
		c.out.int(int64(total))
		return
	}
	result := make([]byte, total)
	var ranges []lcsRange
	unset := len(a) // no run in progress
	run := lcsRange{aStart: unset}
	emit := func() {
		if o.minMatchLen == 0 || int64(run.aEnd-run.aStart+1) >= o.minMatchLen {
			ranges = append(ranges, run)
		}
		run.aStart = unset
	}
	idx := total
	for i, j := len(a), len(b); i > 0 && j > 0; {
		emitNow := false
		if a[i-1] == b[j-1] {
			result[idx-1] = a[i-1]
			switch {
			case run.aStart == unset:
				run = lcsRange{aStart: i - 1, aEnd: i - 1, bStart: j - 1, bEnd: j - 1}
			case run.aStart == i && run.bStart == j: // contiguous: extend backwards
				run.aStart--
				run.bStart--
			default:
				emitNow = true
			}
			if run.aStart == 0 || run.bStart == 0 {
				emitNow = true
			}
			idx--
			i--
			j--
		} else {
			if at(i-1, j) > at(i, j-1) {
				i--
			} else {
				j--
			}
			emitNow = run.aStart != unset
		}
		if emitNow {
			emit()
		}
	}
	if !o.idx {
		c.out.bulk(string(result))
		return
	}
	c.out.mapOf(2)
	c.out.bulk("matches")
	c.out.array(len(ranges))
	for _, r := range ranges {
		if o.withMatchLen {
			c.out.array(3)
		} else {
			c.out.array(2)
		}
		c.out.array(2)
		c.out.int(int64(r.aStart))
		c.out.int(int64(r.aEnd))
		c.out.array(2)
		c.out.int(int64(r.bStart))
		c.out.int(int64(r.bEnd))
		if o.withMatchLen {
			c.out.int(int64(r.aEnd - r.aStart + 1))
		}
	}
	c.out.bulk("len")
	c.out.int(int64(total))
}
