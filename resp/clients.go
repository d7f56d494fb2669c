package resp

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// CLIENT LIST and CLIENT KILL: what one connection knows of the others.
//
// A connection's fields belong to the goroutine that drives it. What another
// connection may read of it is kept apart, in clientInfo: the name and
// library under a mutex (they change only by command), and the last command
// and last activity as atomics, published once per batch of commands and
// only when they change, so that the commands themselves pay nothing.

// clientInfo is what CLIENT LIST shows of a connection to the others.
type clientInfo struct {
	mu              sync.Mutex
	name            string
	libName, libVer string
	resp3           bool

	// fd is the socket's descriptor as CLIENT LIST shows it, -1 when the Go
	// runtime holds it (the goroutine driver); set at admission, under
	// Server.mu, and never changed, so that no reader sees the loop clear
	// conn.fd as it closes the connection.
	fd      int
	monitor atomic.Bool // it has sent MONITOR

	last     atomic.Pointer[command] // the last command run
	activeNs atomic.Int64            // Unix ns of the last batch of commands, to the second
	bufIn    atomic.Int64            // bytes the read buffer holds beyond its first 4 KiB
	bufOut   atomic.Int64            // bytes the reply buffer holds

	// Driver state for publishing: what was last stored above.
	pubLast     *command
	pubActiveNs int64
}

// setName and setLib change what others see, and what the connection itself
// reads without the lock (it alone writes them).
func (c *conn) setName(name string) {
	c.info.mu.Lock()
	c.info.name = name
	c.info.mu.Unlock()
}

// setLib sets the library's name (lib-name) or version (lib-ver).
func (c *conn) setLib(attr, value string) {
	c.info.mu.Lock()
	if attr == "lib-name" {
		c.info.libName = value
	} else {
		c.info.libVer = value
	}
	c.info.mu.Unlock()
}

func (c *conn) setResp3(on bool) {
	c.out.resp3 = on
	c.info.mu.Lock()
	c.info.resp3 = on
	c.info.mu.Unlock()
}

// touched publishes, after a batch of commands, the last one and the time,
// when either has changed (the time to the second, as CLIENT LIST shows it).
func (c *conn) touched(nowNs int64) {
	if c.last != c.info.pubLast {
		c.info.last.Store(c.last)
		c.info.pubLast = c.last
	}
	if nowNs-c.info.pubActiveNs >= int64(time.Second) {
		c.info.activeNs.Store(nowNs)
		c.info.pubActiveNs = nowNs
	}
}

// clientLine describes c in CLIENT LIST's format: Redis 7.0's fields, in its
// order, and 7.2's lib-name and lib-ver. self is true when c is the caller:
// its own fields are then read directly, and are exact.
func (c *conn) clientLine(b *strings.Builder, self bool, now time.Time) {
	info := &c.info
	info.mu.Lock()
	name, libName, libVer, resp3 := info.name, info.libName, info.libVer, info.resp3
	info.mu.Unlock()
	last := info.last.Load()
	idle := int64(0)
	qbuf, inBuf, outBuf := 0, int(info.bufIn.Load()), int(info.bufOut.Load())
	if self {
		last = c.last
		qbuf, inBuf, outBuf = c.w-c.r, int(c.inHeld), cap(c.out.b)
	} else if active := info.activeNs.Load(); active != 0 {
		idle = max(0, (now.UnixNano()-active)/int64(time.Second))
	}
	rbs := initialReadBuffer + inBuf
	cmdName := "NULL"
	if last != nil {
		cmdName = last.name
	}
	flags := "N"
	if info.monitor.Load() {
		flags = "O"
	}
	proto := "2"
	if resp3 {
		proto = "3"
	}
	sep := ""
	field := func(k, v string) {
		b.WriteString(sep)
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(v)
		sep = " "
	}
	itoa := strconv.Itoa
	field("id", strconv.FormatInt(c.id, 10))
	field("addr", c.remote)
	field("laddr", c.laddr)
	field("fd", itoa(info.fd))
	field("name", name)
	field("age", strconv.FormatInt(int64(now.Sub(c.created).Seconds()), 10))
	field("idle", strconv.FormatInt(idle, 10))
	field("flags", flags)
	for _, kv := range [][2]string{{"db", "0"}, {"sub", "0"}, {"psub", "0"}, {"ssub", "0"}, {"multi", "-1"}} {
		field(kv[0], kv[1])
	}
	field("qbuf", itoa(qbuf))
	field("qbuf-free", itoa(rbs-qbuf))
	field("argv-mem", "0")
	field("multi-mem", "0")
	field("rbs", itoa(rbs))
	field("rbp", itoa(qbuf))
	field("obl", "0")
	field("oll", "0")
	field("omem", itoa(outBuf))
	field("tot-mem", itoa(rbs+outBuf))
	field("events", "r")
	field("cmd", cmdName)
	field("user", "default")
	field("redir", "-1")
	field("resp", proto)
	field("lib-name", libName)
	field("lib-ver", libVer)
	b.WriteByte('\n')
}

// clientTypes are the client types CLIENT LIST and CLIENT KILL take; every
// warmkv client is "normal" (a MONITOR client too, as in Redis).
func clientTypeKnown(name []byte) (normal, known bool) {
	switch {
	case equalFold(name, "normal"):
		return true, true
	case equalFold(name, "master"), equalFold(name, "replica"), equalFold(name, "slave"), equalFold(name, "pubsub"):
		return false, true
	}
	return false, false
}

// cmdClientList describes every connection, or those of a type or with the
// given ids, one line each, as Redis does.
func cmdClientList(c *conn, args [][]byte) {
	var ids map[int64]bool
	onlyNone := false
	switch {
	case len(args) == 4 && equalFold(args[2], "type"):
		normal, known := clientTypeKnown(args[3])
		if !known {
			c.out.err("ERR Unknown client type '" + string(args[3]) + "'")
			return
		}
		onlyNone = !normal
	case len(args) > 3 && equalFold(args[2], "id"):
		ids = map[int64]bool{}
		for _, a := range args[3:] {
			id, ok := parseInt(a)
			if !ok {
				c.out.err("ERR Invalid client ID")
				return
			}
			ids[id] = true
		}
	case len(args) != 2:
		c.out.err(msgSyntax)
		return
	}
	var b strings.Builder
	if !onlyNone {
		now := c.srv.now()
		for _, other := range c.srv.clientsByID() {
			if ids == nil || ids[other.id] {
				other.clientLine(&b, other == c, now)
			}
		}
	}
	c.out.verbatim(b.String())
}

// cmdClientInfo describes the connection itself, in CLIENT LIST's format.
func cmdClientInfo(c *conn, _ [][]byte) {
	var b strings.Builder
	c.clientLine(&b, true, c.srv.now())
	c.out.verbatim(b.String())
}

// clientsByID lists the open connections, oldest first.
func (s *Server) clientsByID() []*conn {
	s.mu.Lock()
	list := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		if !c.closed {
			list = append(list, c)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(list, func(a, b *conn) int { return cmp.Compare(a.id, b.id) })
	return list
}

// killFilter is what CLIENT KILL matches connections on.
type killFilter struct {
	addr, laddr string
	hasAddr     bool
	hasLaddr    bool
	id          int64
	noneOfType  bool // a type no warmkv client has
	skipMe      bool
}

func (f *killFilter) matches(c, self *conn) bool {
	switch {
	case f.noneOfType:
		return false
	case f.hasAddr && c.remote != f.addr:
		return false
	case f.hasLaddr && c.laddr != f.laddr:
		return false
	case f.id != 0 && c.id != f.id:
		return false
	}
	return c != self || !f.skipMe
}

// cmdClientKill closes the matching connections: the old form (an address)
// answers +OK or "No such client" and may close the caller itself; the new
// form (filters) answers how many it closed, skipping the caller unless
// SKIPME no. The caller, if closed, gets its answer first.
func cmdClientKill(c *conn, args [][]byte) {
	f := killFilter{skipMe: true}
	if len(args) == 3 {
		f.addr, f.hasAddr, f.skipMe = string(args[2]), true, false
	} else {
		for i := 2; i < len(args); i += 2 {
			if i+1 >= len(args) {
				c.out.err(msgSyntax)
				return
			}
			opt, val := args[i], args[i+1]
			switch {
			case equalFold(opt, "id"):
				id, ok := parseInt(val)
				if !ok || id < 1 {
					c.out.err("ERR client-id should be greater than 0")
					return
				}
				f.id = id
			case equalFold(opt, "type"):
				normal, known := clientTypeKnown(val)
				if !known {
					c.out.err("ERR Unknown client type '" + string(val) + "'")
					return
				}
				f.noneOfType = !normal
			case equalFold(opt, "addr"):
				f.addr, f.hasAddr = string(val), true
			case equalFold(opt, "laddr"):
				f.laddr, f.hasLaddr = string(val), true
			case equalFold(opt, "user"):
				if string(val) != "default" {
					c.out.err("ERR No such user '" + string(val) + "'")
					return
				}
			case equalFold(opt, "skipme"):
				switch {
				case equalFold(val, "yes"):
					f.skipMe = true
				case equalFold(val, "no"):
					f.skipMe = false
				default:
					c.out.err(msgSyntax)
					return
				}
			default:
				c.out.err(msgSyntax)
				return
			}
		}
	}
	killed, self := c.srv.killClients(&f, c)
	if len(args) == 3 {
		if killed == 0 {
			c.out.err("ERR No such client")
		} else {
			c.out.ok()
		}
	} else {
		c.out.int(int64(killed))
	}
	if self {
		c.closing = true
	}
}

// killClients closes the connections f matches, but self, which the caller
// closes after answering; it reports how many matched and whether self did.
func (s *Server) killClients(f *killFilter, self *conn) (killed int, matchedSelf bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for other := range s.conns {
		if other.closed || !f.matches(other, self) {
			continue
		}
		killed++
		if other == self {
			matchedSelf = true
			continue
		}
		s.closeLocked(other)
	}
	return killed, matchedSelf
}

// closeLocked closes another connection from outside its driver: its event
// loop closes it, or, for a goroutine, closing the socket ends its reads and
// writes. The caller holds s.mu.
func (s *Server) closeLocked(c *conn) {
	// Until its driver releases it, a connection closed from outside is no
	// longer listed or killed again, as in Redis, where it is gone at once.
	c.closed = true
	switch {
	case c.loop != nil:
		c.loop.post(c, postClose)
	case c.nc != nil:
		_ = c.nc.Close()
	}
}
