package resp

import (
	"strings"
	"testing"
	"time"

	"github.com/warmkv/warmkv/internal/testsupport"
)

// TestBufferBudget: the connections' buffers together stay within
// MaxBufferBytes. A client whose command or reply would take them past it is
// told so and disconnected; the client holding the budget and the others
// carry on, and what a finished command held is given back.
func TestBufferBudget(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d driver) {
		ts := startServer(t, d, func(o *Options) {
			o.MaxValueBytes, o.MaxCommandBytes, o.MaxBufferBytes = 256<<10, 300<<10, 400<<10
		})
		value := strings.Repeat("v", 250<<10)
		if err := ts.kv.Set("big", value, 0); err != nil {
			t.Fatal(err)
		}
		const full = "-ERR the server's client buffers are full (RESP_MAX_BUFFER_BYTES); closing this connection\r\n"

		// a sends all of a large SET but its last byte: its read buffer
		// holds about 250 KiB of the 400.
		a := ts.raw(t)
		set := encode("SET", "a", value)
		a.send(set[:len(set)-1])
		testsupport.WaitFor(t, "a's command to be buffered", 5*time.Second, func() bool {
			return ts.srv.buffers.used.Load() > 240<<10
		})

		// b's command of the same size does not fit beside it.
		b := ts.raw(t)
		if got := b.do("SET", "b", value); got != full {
			t.Errorf("a second large SET: %q, want the refusal", got)
		}
		b.expectClosed()

		// Nor does a reply of that size.
		g := ts.raw(t)
		if got := g.do("GET", "big"); got != full {
			t.Errorf("a large GET: %q, want the refusal", got)
		}
		g.expectClosed()

		// Small commands and a finishes.
		if got := ts.raw(t).do("GET", "nokey"); got != "$-1\r\n" {
			t.Errorf("a small command beside them: %q", got)
		}
		a.send(set[len(set)-1:])
		if got := a.reply(); got != "+OK\r\n" {
			t.Errorf("the first large SET: %q", got)
		}
		testsupport.WaitFor(t, "the budget to be given back", 5*time.Second, func() bool {
			return ts.srv.buffers.used.Load() < 64<<10
		})
		if got := a.do("GET", "big"); got != "$256000\r\n"+value+"\r\n" {
			t.Errorf("a large GET once the budget is free: %d bytes", len(got))
		}
	})
}
