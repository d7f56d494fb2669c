package resp

import (
	"strconv"
	"strings"
)

// reply accumulates the answers to one batch of pipelined commands in RESP2 or
// RESP3, whichever the connection negotiated with HELLO. Commands write through
// it and never pick an encoding themselves: a map, a set, a null or a verbatim
// string is the same call in both protocols, and reply lowers it to what RESP2
// has (flat arrays, $-1, bulk strings), as Redis does.
type reply struct {
	b []byte
	// errs counts the error replies written, so that a command can tell
	// whether it failed; onError, when set, sees each (INFO errorstats).
	errs  int
	resp3 bool
	// refused is set when grow, asked before the buffer grows to hold a
	// large bulk string (the connections' buffer budget), refuses: the bulk
	// strings that follow are dropped, and the caller replaces the
	// command's reply.
	refused bool
	grow    func(newCap int) bool
	onError func(msg string)
}

// bulkFraming bounds what a bulk string adds to its bytes: "$", up to 20
// digits, and two CRLFs; a verbatim string adds "txt:" too.
const bulkFraming = 32

// room makes room for a bulk string of n bytes and reports whether it may be
// written: a large one grows the buffer only if grow allows it.
func (r *reply) room(n int) bool {
	if r.refused {
		return false
	}
	if n < largeReply || cap(r.b)-len(r.b) >= n+bulkFraming {
		return true
	}
	newCap := len(r.b) + n + bulkFraming
	if r.grow != nil && !r.grow(newCap) {
		r.refused = true
		return false
	}
	b := make([]byte, len(r.b), newCap)
	copy(b, r.b)
	r.b = b
	return true
}

func (r *reply) ok() { r.b = append(r.b, "+OK\r\n"...) }

// simple writes a status reply; s must not contain CR or LF.
func (r *reply) simple(s string) {
	r.b = append(r.b, '+')
	r.b = append(r.b, s...)
	r.b = append(r.b, '\r', '\n')
}

// err writes an error reply. msg starts with its code ("ERR ...", "NOAUTH ...").
// CR and LF become spaces, as Redis does, because an error reply is one line and
// messages may quote what the client sent.
func (r *reply) err(msg string) { r.errCounted(msg, true) }

// errCounted is err for an error that INFO errorstats may have counted
// already (counted false): a script passing on its command's error.
func (r *reply) errCounted(msg string, counted bool) {
	r.errs++
	if counted && r.onError != nil {
		r.onError(msg)
	}
	r.b = append(r.b, '-')
	if strings.ContainsAny(msg, "\r\n") {
		msg = strings.Map(func(c rune) rune {
			if c == '\r' || c == '\n' {
				return ' '
			}
			return c
		}, msg)
	}
	r.b = append(r.b, msg...)
	r.b = append(r.b, '\r', '\n')
}

func (r *reply) int(n int64) {
	r.b = append(r.b, ':')
	r.b = strconv.AppendInt(r.b, n, 10)
	r.b = append(r.b, '\r', '\n')
}

func (r *reply) bulk(s string) {
	if len(s) >= largeReply && !r.room(len(s)) {
		return
	}
	r.b = append(r.b, '$')
	r.b = strconv.AppendInt(r.b, int64(len(s)), 10)
	r.b = append(r.b, '\r', '\n')
	r.b = append(r.b, s...)
	r.b = append(r.b, '\r', '\n')
}

func (r *reply) bulkBytes(s []byte) {
	if len(s) >= largeReply && !r.room(len(s)) {
		return
	}
	r.b = append(r.b, '$')
	r.b = strconv.AppendInt(r.b, int64(len(s)), 10)
	r.b = append(r.b, '\r', '\n')
	r.b = append(r.b, s...)
	r.b = append(r.b, '\r', '\n')
}

// null is a missing value: RESP3's null, RESP2's null bulk string.
func (r *reply) null() {
	if r.resp3 {
		r.b = append(r.b, "_\r\n"...)
	} else {
		r.b = append(r.b, "$-1\r\n"...)
	}
}

func (r *reply) header(kind byte, n int) {
	r.b = append(r.b, kind)
	r.b = strconv.AppendInt(r.b, int64(n), 10)
	r.b = append(r.b, '\r', '\n')
}

// array starts an array of n replies.
func (r *reply) array(n int) { r.header('*', n) }

// set starts a set of n replies (RESP2: an array).
func (r *reply) set(n int) {
	if r.resp3 {
		r.header('~', n)
	} else {
		r.header('*', n)
	}
}

// mapOf starts a map of n key/value pairs (RESP2: an array of 2n replies).
func (r *reply) mapOf(n int) {
	if r.resp3 {
		r.header('%', n)
	} else {
		r.header('*', 2*n)
	}
}

// verbatim writes text meant for people, such as INFO (RESP2: a bulk string).
func (r *reply) verbatim(text string) {
	if !r.resp3 {
		r.bulk(text)
		return
	}
	if len(text) >= largeReply && !r.room(len(text)) {
		return
	}
	r.b = append(r.b, '=')
	r.b = strconv.AppendInt(r.b, int64(len(text)+4), 10)
	r.b = append(r.b, "\r\ntxt:"...)
	r.b = append(r.b, text...)
	r.b = append(r.b, '\r', '\n')
}

// bulks writes an array of bulk strings.
func (r *reply) bulks(items []string) {
	r.array(len(items))
	for _, s := range items {
		r.bulk(s)
	}
}

// simpleSet writes a set of status strings, as Redis writes command flags.
func (r *reply) simpleSet(items []string) {
	r.set(len(items))
	for _, s := range items {
		r.simple(s)
	}
}
