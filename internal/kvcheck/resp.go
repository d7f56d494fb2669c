package kvcheck

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// RESPClient speaks the Redis protocol (RESP2) over one connection, one
// command at a time, written by hand so that no library retries a command
// or pipelines it behind another. A connection that fails is dialled again
// for the next command.
type RESPClient struct {
	addr    string
	timeout time.Duration
	conn    net.Conn
	rd      *bufio.Reader
}

// NewRESPClient talks to addr; timeout bounds each command, past which its
// outcome is unknown.
func NewRESPClient(addr string, timeout time.Duration) *RESPClient {
	return &RESPClient{addr: addr, timeout: timeout}
}

// Door is "resp".
func (c *RESPClient) Door() string { return "resp" }

// Close closes the connection; the next command dials again.
func (c *RESPClient) Close() {
	if c.conn != nil {
		_ = c.conn.Close()
		c.conn = nil
	}
}

// The Redis port's refusals (resp/strings.go), and the one for an
// unavailable shared tier. An APPEND runs into RESP_MAX_VALUE_BYTES, in
// bytes, where HTTP's runs into MAX_VALUE_LENGTH, in characters: a server
// under a check sets both to Input.MaxRunes, and the workload's values are
// ASCII, so that the two limits are one.
const (
	respNotInteger  = "ERR value is not an integer or out of range"
	respOverflow    = "ERR increment or decrement would overflow"
	respTooLong     = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
	respUnavailable = "UNAVAILABLE "
)

// reply is one RESP2 reply.
type reply struct {
	kind  byte // '+', '-', ':', '$', '*'
	str   string
	n     int64
	null  bool
	elems []reply // '*'
}

// Do sends in as the command that expresses it.
func (c *RESPClient) Do(in Input) (Output, error) {
	if in.Kind == Transaction {
		return c.doTransaction(in)
	}
	args, err := respArgs(in)
	if err != nil {
		return Output{}, err
	}
	rs, err := c.roundTrip(args)
	if err != nil {
		c.Close()
		return Output{Status: Unknown}, nil
	}
	return respAnswer(in, args, rs[0])
}

// respAnswer reads the reply to in, sent as args.
func respAnswer(in Input, args []string, r reply) (Output, error) {
	if r.kind == '-' {
		switch {
		case strings.HasPrefix(r.str, respUnavailable):
			return Output{Status: Unknown}, nil
		case r.str == respNotInteger && in.Kind == Increment:
			return Output{Status: NotInteger}, nil
		case r.str == respOverflow && in.Kind == Increment:
			return Output{Status: Overflow}, nil
		case r.str == respTooLong && in.Kind == Append:
			return Output{Status: TooLong}, nil
		}
		return Output{}, fmt.Errorf("resp %q: -%s", args, r.str)
	}
	out, known := respOutput(in, r)
	if !known {
		return Output{}, fmt.Errorf("resp %q: unexpected reply %+v", args, r)
	}
	return out, nil
}

// respArgs is the command line for in.
func respArgs(in Input) ([]string, error) {
	ttlArgs := func(unit string) ([]string, error) {
		switch in.Expiry {
		case ExpKeep:
			return []string{"KEEPTTL"}, nil
		case ExpTTL:
			if in.TTL%time.Millisecond != 0 {
				return nil, fmt.Errorf("resp: ttl %v is not whole milliseconds", in.TTL)
			}
			return []string{unit, strconv.FormatInt(int64(in.TTL/time.Millisecond), 10)}, nil
		}
		return nil, nil
	}
	switch in.Kind {
	case Get:
		return []string{"GET", in.Key}, nil
	case TTL:
		if in.Seconds {
			return []string{"TTL", in.Key}, nil
		}
		return []string{"PTTL", in.Key}, nil
	case Set:
		switch in.Verb {
		case "getset":
			return []string{"GETSET", in.Key, in.Value}, nil
		case "setnx":
			return []string{"SETNX", in.Key, in.Value}, nil
		}
		args := []string{"SET", in.Key, in.Value}
		switch in.Cond {
		case IfAbsent:
			args = append(args, "NX")
		case IfPresent:
			args = append(args, "XX")
		}
		if in.ReturnOld {
			args = append(args, "GET")
		}
		more, err := ttlArgs("PX")
		return append(args, more...), err
	case Delete:
		return []string{"DEL", in.Key}, nil
	case GetDelete:
		return []string{"GETDEL", in.Key}, nil
	case Increment:
		switch {
		case in.Verb == "incr" && in.Delta == 1:
			return []string{"INCR", in.Key}, nil
		case in.Verb == "decr" && in.Delta == -1:
			return []string{"DECR", in.Key}, nil
		case in.Verb == "decrby":
			return []string{"DECRBY", in.Key, strconv.FormatInt(-in.Delta, 10)}, nil
		}
		return []string{"INCRBY", in.Key, strconv.FormatInt(in.Delta, 10)}, nil
	case Append:
		if in.Prepend || in.Expiry != ExpKeep {
			return nil, fmt.Errorf("resp: no command for %s", in)
		}
		return []string{"APPEND", in.Key, in.Value}, nil
	case Expire:
		if in.Expiry == ExpNone {
			return []string{"PERSIST", in.Key}, nil
		}
		var args []string
		if in.Verb == "expire" {
			if in.TTL%time.Second != 0 {
				return nil, fmt.Errorf("resp: EXPIRE %v is not whole seconds", in.TTL)
			}
			args = []string{"EXPIRE", in.Key, strconv.FormatInt(int64(in.TTL/time.Second), 10)}
		} else {
			args = []string{"PEXPIRE", in.Key, strconv.FormatInt(int64(in.TTL/time.Millisecond), 10)}
		}
		for _, o := range []struct {
			f ExpireCond
			n string
		}{{ExpireIfNone, "NX"}, {ExpireIfSet, "XX"}, {ExpireIfLater, "GT"}, {ExpireIfEarlier, "LT"}} {
			if in.ExpireIf&o.f != 0 {
				args = append(args, o.n)
			}
		}
		return args, nil
	}
	return nil, fmt.Errorf("resp: no command for %s", in)
}

// respOutput reads a reply that is not an error; known is false for one
// the command cannot give.
func respOutput(in Input, r reply) (Output, bool) {
	bulk := func() (Output, bool) {
		if r.kind != '$' {
			return Output{}, false
		}
		return Output{Found: !r.null, Value: r.str}, true
	}
	integer := func() (Output, bool) { return Output{Int: r.n, Flag: r.n == 1}, r.kind == ':' }
	switch in.Kind {
	case Get, GetDelete:
		return bulk()
	case TTL, Increment, Delete, Expire:
		return integer()
	case Append:
		out, ok := integer()
		return out, ok && in.Length
	case Set:
		switch {
		case in.ReturnOld:
			return bulk()
		case in.Verb == "setnx":
			return integer()
		case r.kind == '+' && r.str == "OK":
			return Output{Flag: true}, true
		case r.kind == '$' && r.null && in.Cond != Always:
			return Output{Flag: false}, true
		}
	}
	return Output{}, false
}

// roundTrip sends commands in one write and reads their replies.
func (c *RESPClient) roundTrip(commands ...[]string) ([]reply, error) {
	if c.conn == nil {
		conn, err := net.DialTimeout("tcp", c.addr, c.timeout)
		if err != nil {
			return nil, err
		}
		c.conn, c.rd = conn, bufio.NewReader(conn)
	}
	_ = c.conn.SetDeadline(time.Now().Add(c.timeout))
	var b strings.Builder
	for _, args := range commands {
		fmt.Fprintf(&b, "*%d\r\n", len(args))
		for _, a := range args {
			fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
		}
	}
	if _, err := io.WriteString(c.conn, b.String()); err != nil {
		return nil, err
	}
	replies := make([]reply, len(commands))
	for i := range replies {
		var err error
		if replies[i], err = readReply(c.rd); err != nil {
			return nil, err
		}
	}
	return replies, nil
}

var errProtocol = errors.New("resp: malformed reply")

// readReply reads one reply.
func readReply(rd *bufio.Reader) (reply, error) {
	line, err := rd.ReadString('\n')
	if err != nil {
		return reply{}, err
	}
	if len(line) < 3 || !strings.HasSuffix(line, "\r\n") {
		return reply{}, errProtocol
	}
	r := reply{kind: line[0]}
	body := line[1 : len(line)-2]
	switch r.kind {
	case '+', '-':
		r.str = body
	case ':':
		r.n, err = strconv.ParseInt(body, 10, 64)
	case '$', '*':
		var n int
		if n, err = strconv.Atoi(body); err != nil {
			break
		}
		if n < 0 {
			r.null = true
			break
		}
		if r.kind == '*' {
			r.elems = make([]reply, n)
			for i := range r.elems {
				if r.elems[i], err = readReply(rd); err != nil {
					break
				}
			}
			break
		}
		buf := make([]byte, n+2)
		if _, err = io.ReadFull(rd, buf); err == nil {
			r.str = string(buf[:n])
		}
	default:
		return reply{}, errProtocol
	}
	return r, err
}
