package resp

import "sync/atomic"

// Connection buffers are bounded together, not only one by one: with values
// of hundreds of megabytes, a few clients each sending or reading one at once
// could hold more memory than the process has beside the cache. Every
// connection counts what its buffers hold beyond the 4 KiB read buffer it
// starts with (RESP_MAX_CLIENTS bounds those) against one budget, and asks
// before it grows a buffer for a large command or reply. A connection the
// budget cannot serve is told so and closed; the others carry on.

// msgBuffersFull is what a client that would take the buffers past their
// bound is told before its connection closes.
const msgBuffersFull = "ERR the server's client buffers are full (RESP_MAX_BUFFER_BYTES); closing this connection"

// largeReply is the size of a bulk string from which a reply asks the budget
// before it grows: smaller ones are settled after the batch (settleOutput).
const largeReply = 16 << 10

// bufferBudget is the bytes buffered by all connections together.
type bufferBudget struct {
	max  int64 // 0: no bound
	used atomic.Int64
}

// reserve takes delta bytes from the budget, or gives them back when
// negative, and reports whether the budget allowed it.
func (b *bufferBudget) reserve(delta int64) bool {
	if b.used.Add(delta) > b.max && b.max > 0 && delta > 0 {
		b.used.Add(-delta)
		return false
	}
	return true
}

// growInput reserves what growing the read buffer to size bytes adds.
func (c *conn) growInput(size int) bool {
	held := int64(max(size-initialReadBuffer, 0))
	if !c.srv.buffers.reserve(held - c.inHeld) {
		return false
	}
	c.inHeld = held
	c.info.bufIn.Store(held)
	return true
}

// growOutput is reply.grow: it reserves what a reply buffer of newCap bytes adds.
func (c *conn) growOutput(newCap int) bool {
	if !c.srv.buffers.reserve(int64(newCap) - c.outHeld) {
		return false
	}
	c.outHeld = int64(newCap)
	c.info.bufOut.Store(c.outHeld)
	return true
}

// settleOutput accounts for the reply buffer as it is: small replies grow it
// without asking, and a flush may drop it.
func (c *conn) settleOutput() {
	if n := int64(cap(c.out.b)); n != c.outHeld {
		c.srv.buffers.used.Add(n - c.outHeld)
		c.outHeld = n
		c.info.bufOut.Store(n)
	}
}

// releaseBuffers gives back everything the connection holds; it is closing.
func (c *conn) releaseBuffers() {
	c.srv.buffers.used.Add(-(c.inHeld + c.outHeld))
	c.inHeld, c.outHeld = 0, 0
}

// refuseReply replaces the reply of a command that the buffer budget could
// not hold, written from start on, with the refusal, and closes the connection.
func (c *conn) refuseReply(start int) {
	c.out.b = c.out.b[:start]
	c.out.refused = false
	c.refuseBuffers()
}

// refuseBuffers refuses a client whose command being received needs more
// buffer than the budget has left.
func (c *conn) refuseBuffers() {
	c.out.err(msgBuffersFull)
	c.closing = true
	c.srv.log.Warn("resp: client buffers full; closing a connection", "remote", c.remote, "max_buffer_bytes", c.srv.buffers.max)
}
