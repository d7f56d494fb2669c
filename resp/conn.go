package resp

import (
	"net"
	"strconv"
	"time"

	"github.com/warmkv/warmkv/cache"
)

// Buffer sizes. A connection starts small, because thousands may sit idle,
// grows its read buffer only to hold a command larger than it, and gives the
// memory back once that command is done.
const (
	initialReadBuffer = 4 << 10
	keepReadBuffer    = 64 << 10 // larger buffers are dropped when empty
	flushAt           = 64 << 10 // replies are written out at least this often
	keepWriteBuffer   = 256 << 10
)

// conn is one client connection: its buffers and its protocol state. A driver
// moves bytes in and out of it (serveGoroutine with a net.Conn, the epoll loop
// with a raw socket); runBuffered runs the commands. Only the driver's
// goroutine touches its fields, except info, which CLIENT LIST reads. The
// fields every command touches come first, together.
type conn struct {
	srv  *Server
	in   []byte // read buffer; in[r:w] is received but not yet run
	r, w int
	need int // parse again once w-r reaches this
	args [][]byte
	out  reply
	// stats counts the commands run, shared with the other connections of
	// the same event loop or stripe (stats.go).
	stats   *commandStripe
	counted pendingCounts // calls not yet added to stats
	// later and laterErrors are the calls and error replies of a
	// transaction's run, counted once it stands (stats.go).
	later       []laterCount
	laterErrors []string
	// laterLines are the monitor lines of the commands a transaction's run
	// ran, EXEC's or a script's, fed to monitors once it stands (monitor.go).
	laterLines []byte
	last       *command // the command being run, or the last one
	lastFound  *command // the last top-level command looked up (lookupCommand)
	received   int64    // commands parsed, run or refused

	// kv and keys are what commands run on: the server's store and key
	// lister, or a transaction's while one runs (transactions.go).
	kv   cache.Store
	keys Keys
	txn  *txnState // nil until the connection uses MULTI, WATCH or a script

	authed     bool
	closing    bool // QUIT, a protocol error or a hostile request: close after replying
	handOff    bool // epoll driver: the next command must run on a goroutine of its own
	progressed bool // a command completed since the driver last looked
	// restricted is set while commands need checking beyond their arity:
	// before AUTH, and once the connection is a monitor.
	restricted bool

	id      int64
	remote  string       // client address, for CLIENT INFO and logs
	local   *net.TCPAddr // the address the client connected to; nil if not TCP
	laddr   string       // local address as text
	created time.Time

	// closed is set, under srv.mu, once another connection has closed
	// this one (CLIENT KILL, a monitor left behind) (clients.go).
	closed bool

	// mon is set once the connection has sent MONITOR.
	mon *monitorState
	// authDeadline is when a connection that has not authenticated is
	// closed (Unix ns, wall clock); 0 for none.
	authDeadline int64

	// Bytes this connection's buffers hold against the server's budget
	// (buffers.go); driver goroutine only.
	inHeld, outHeld int64

	// Driver state.
	nc       net.Conn      // goroutine driver
	deadline deadlineState // goroutine driver: the read deadline currently set
	fd       int           // epoll driver
	loop     *eventLoop    // epoll driver: the loop that serves it
	outPos   int           // epoll driver: bytes of out.b already written
	expires  int64         // epoll driver: Unix ns after which to close; 0 = never

	// info is what other connections see of this one (CLIENT LIST).
	info clientInfo
}

type deadlineState uint8

const (
	noDeadline deadlineState = iota
	idleDeadline
	commandDeadline
	writeDeadline // epoll driver: replies waiting for the client
	authDeadline  // goroutine driver: not authenticated yet
)

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{
		srv:        s,
		id:         s.nextID.Add(1),
		in:         make([]byte, initialReadBuffer),
		need:       1,
		authed:     !s.authOn,
		restricted: s.authOn,
		created:    s.now(),
		fd:         -1,
		kv:         s.store,
		keys:       s.keyList,
		counted:    pendingCounts{slot: -1},
	}
	c.stats = s.stats.forConn(c.id)
	if a := nc.RemoteAddr(); a != nil {
		c.remote = a.String()
	}
	if a := nc.LocalAddr(); a != nil {
		c.laddr = a.String()
		c.local, _ = a.(*net.TCPAddr)
	}
	c.info.fd = -1
	c.out.grow = c.growOutput
	c.out.onError = s.stats.countError
	if !c.authed && s.authTO > 0 {
		c.authDeadline = time.Now().Add(s.authTO).UnixNano()
	}
	return c
}

// runBuffered runs every complete command in the read buffer. When replies
// pile up past flushAt it calls flush, and stops if flush reports that the
// client is not reading them (the rest waits in the buffer).
func (c *conn) runBuffered(flush func() bool) {
	for c.w-c.r >= c.need && !c.closing {
		args, n, need, err := parseCommand(c.in[c.r:c.w], c.args, &c.srv.lim, c.authed)
		c.args = args
		if err != nil {
			c.out.err("ERR " + err.Error())
			c.closing = true
			c.srv.log.Debug("resp: protocol error; closing", "remote", c.remote, "err", err)
			break
		}
		if n == 0 {
			c.need = need
			break
		}
		if c.fd >= 0 && len(args) > 0 && isScriptCommand(args[0]) {
			c.handOff = true // a script: the event loop hands the connection over first
			break
		}
		c.r += n
		c.need = 1
		c.progressed = true
		if len(args) > 0 {
			c.received++
			c.execute(args)
		}
		if len(c.out.b) >= flushAt {
			c.publishCalls() // counted before any reply leaves
			if !flush() {
				break
			}
		}
	}
	c.publishCalls()
	// Drop references into the buffer so that it can be reused or freed.
	clear(c.args[:cap(c.args)])
	if c.r == c.w {
		c.r, c.w = 0, 0
		if len(c.in) > keepReadBuffer {
			c.in = make([]byte, initialReadBuffer)
			c.growInput(initialReadBuffer) // gives the rest back
		}
	}
	c.settleOutput()
}

// makeRoom prepares the read buffer for the next read: it moves a partial
// command to the front when space runs short, and grows the buffer when the
// partial command fills it. It grows by doubling, or to exactly what the
// bulk string being received needs when that is less, so that a client gets
// memory only as fast as it sends bytes (the parser has already refused sizes
// beyond the limits). It reports false when the connections' buffer budget
// cannot pay for the growth; the caller then refuses the client.
func (c *conn) makeRoom() bool {
	pending := c.w - c.r
	if c.r > 0 && (c.w == len(c.in) || len(c.in)-c.w < len(c.in)/4 || c.need > len(c.in)-c.r) {
		copy(c.in, c.in[c.r:c.w])
		c.r, c.w = 0, pending
	}
	if c.w == len(c.in) {
		size := min(2*len(c.in), c.srv.lim.maxCommand)
		if c.need > len(c.in)+1 {
			// The end of a bulk string: no more than it needs. (A need of
			// one more byte says only that a line is not complete yet.)
			size = min(size, c.need)
		}
		size = max(size, len(c.in)+1)
		if !c.growInput(size) {
			return false
		}
		grown := make([]byte, size)
		copy(grown, c.in[:c.w])
		c.in = grown
	}
	return true
}

// resetOutput empties the reply buffer, dropping it if a large reply grew it.
func (c *conn) resetOutput() {
	if cap(c.out.b) > keepWriteBuffer {
		c.out.b = nil
		c.settleOutput()
	} else {
		c.out.b = c.out.b[:0]
	}
}

func (c *conn) localPort() string {
	if c.local != nil {
		return strconv.Itoa(c.local.Port)
	}
	return "0"
}

func (c *conn) localHost() string {
	if c.local != nil {
		return c.local.IP.String()
	}
	return ""
}
