package resp

import (
	"crypto/sha256"
	"crypto/subtle"
	"strings"
)

// The connection commands: PING, ECHO, QUIT, SELECT, AUTH, HELLO and CLIENT.

// redisVersion is the Redis version warmkv answers HELLO and INFO with: the
// one whose replies it reproduces. Clients that switch features on a version
// see one that has what warmkv has (HELLO, CLIENT SETINFO).
const redisVersion = "7.2.0"

const (
	msgNoAuth      = "NOAUTH Authentication required."
	msgWrongPass   = "WRONGPASS invalid username-password pair or user is disabled."                                                                //nolint:gosec // G101: Redis's error text, not a credential
	msgNoPassword  = "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?" //nolint:gosec // G101: as above
	msgHelloNoAuth = "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"
	msgBadName     = "ERR Client names cannot contain spaces, newlines or special characters."
)

func cmdPing(c *conn, args [][]byte) {
	switch len(args) {
	case 1:
		c.out.simple("PONG")
	case 2:
		c.out.bulkBytes(args[1])
	default:
		c.out.err("ERR wrong number of arguments for 'ping' command")
	}
}

func cmdEcho(c *conn, args [][]byte) { c.out.bulkBytes(args[1]) }

func cmdQuit(c *conn, _ [][]byte) {
	c.out.ok()
	c.closing = true
}

// cmdSelect accepts database 0, the only one, so that clients configured with
// "db 0" (most defaults) work.
func cmdSelect(c *conn, args [][]byte) {
	n, ok := parseInt(args[1])
	switch {
	case !ok || n != int64(int32(n)):
		c.out.err(msgNotInteger)
	case n != 0:
		c.out.err("ERR DB index is out of range")
	default:
		c.out.ok()
	}
}

// authenticate checks username and password against AUTH_TOKEN. The only user
// is "default", as in a Redis without ACLs. The comparison takes the same time
// whatever the password: both sides are hashed first, so that not even the
// token's length leaks through timing.
func (c *conn) authenticate(username, password []byte) bool {
	if string(username) != "default" {
		return false
	}
	if !c.srv.authOn {
		return true // Redis's default user has no password: anything goes
	}
	given := sha256.Sum256(password)
	return subtle.ConstantTimeCompare(given[:], c.srv.authHash[:]) == 1
}

// setAuthed marks the connection authenticated.
func (c *conn) setAuthed() {
	c.authed = true
	c.restricted = c.mon != nil
}

func cmdAuth(c *conn, args [][]byte) {
	var username, password []byte
	switch len(args) {
	case 2:
		if !c.srv.authOn {
			c.out.err(msgNoPassword)
			return
		}
		username, password = []byte("default"), args[1]
	case 3:
		username, password = args[1], args[2]
	default:
		c.out.err(msgSyntax)
		return
	}
	if !c.authenticate(username, password) {
		// A failed AUTH leaves an authenticated connection authenticated,
		// as in Redis.
		c.srv.log.Debug("resp: failed AUTH", "remote", c.remote)
		c.out.err(msgWrongPass)
		return
	}
	c.setAuthed()
	c.out.ok()
}

// cmdHello switches the protocol (2 or 3), optionally authenticating and naming
// the connection first, and describes the server in the new protocol.
func cmdHello(c *conn, args [][]byte) {
	version := int64(0)
	next := 1
	if len(args) >= 2 {
		v, ok := parseInt(args[1])
		if !ok {
			c.out.err("ERR Protocol version is not an integer or out of range")
			return
		}
		if v < 2 || v > 3 {
			c.out.err("NOPROTO unsupported protocol version")
			return
		}
		version = v
		next = 2
	}
	var username, password, name []byte
	for j := next; j < len(args); j++ {
		more := len(args) - 1 - j
		switch {
		case equalFold(args[j], "auth") && more >= 2:
			username, password = args[j+1], args[j+2]
			j += 2
		case equalFold(args[j], "setname") && more >= 1:
			name = args[j+1]
			if !validName(name) {
				c.out.err(msgBadName)
				return
			}
			j++
		default:
			c.out.err("ERR Syntax error in HELLO option '" + string(args[j]) + "'")
			return
		}
	}
	if username != nil {
		if !c.authenticate(username, password) {
			c.srv.log.Debug("resp: failed AUTH in HELLO", "remote", c.remote)
			c.out.err(msgWrongPass)
			return
		}
		c.setAuthed()
	}
	if !c.authed {
		c.out.err(msgHelloNoAuth)
		return
	}
	if name != nil {
		c.setName(string(name))
	}
	if version != 0 {
		c.setResp3(version == 3)
	}
	proto := int64(2)
	if c.out.resp3 {
		proto = 3
	}
	c.out.mapOf(7)
	c.out.bulk("server")
	c.out.bulk("redis")
	c.out.bulk("version")
	c.out.bulk(redisVersion)
	c.out.bulk("proto")
	c.out.int(proto)
	c.out.bulk("id")
	c.out.int(c.id)
	c.out.bulk("mode")
	c.out.bulk("standalone")
	c.out.bulk("role")
	c.out.bulk("master")
	c.out.bulk("modules")
	c.out.array(0)
}

// validName is Redis's rule for client names and library names: printable
// ASCII without spaces, so that CLIENT LIST stays splittable on spaces.
func validName(name []byte) bool {
	for _, b := range name {
		if b < '!' || b > '~' {
			return false
		}
	}
	return true
}

func cmdClientID(c *conn, _ [][]byte) { c.out.int(c.id) }

func cmdClientGetName(c *conn, _ [][]byte) {
	if c.info.name == "" {
		c.out.null()
		return
	}
	c.out.bulk(c.info.name)
}

// cmdClientSetName names the connection; an empty name removes the name.
func cmdClientSetName(c *conn, args [][]byte) {
	if !validName(args[2]) {
		c.out.err(msgBadName)
		return
	}
	c.setName(string(args[2]))
	c.out.ok()
}

// cmdClientSetInfo records the client library's name and version, which client
// libraries send after connecting (go-redis does).
func cmdClientSetInfo(c *conn, args [][]byte) {
	attr := strings.ToLower(string(args[2]))
	if attr != "lib-name" && attr != "lib-ver" {
		c.out.err("ERR Unrecognized option '" + string(args[2]) + "'")
		return
	}
	if !validName(args[3]) {
		c.out.err("ERR " + attr + " cannot contain spaces, newlines or special characters.")
		return
	}
	c.setLib(attr, string(args[3]))
	c.out.ok()
}

func cmdClientHelp(c *conn, _ [][]byte) {
	c.out.bulks([]string{
		"CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
		"GETNAME",
		"    Return the name of the current connection.",
		"ID",
		"    Return the ID of the current connection.",
		"INFO",
		"    Return information about the current client connection.",
		"KILL <ip:port>",
		"    Kill connection made from <ip:port>.",
		"KILL <option> <value> [<option> <value> [...]]",
		"    Kill connections. Options are:",
		"    * ADDR (<ip:port>|<unixsocket>:0)",
		"      Kill connections made from the specified address",
		"    * LADDR (<ip:port>|<unixsocket>:0)",
		"      Kill connections made to specified local address",
		"    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
		"      Kill connections by type.",
		"    * USER <username>",
		"      Kill connections authenticated by <username>.",
		"    * SKIPME (YES|NO)",
		"      Skip killing current connection (default: yes).",
		"LIST [options ...]",
		"    Return information about client connections. Options:",
		"    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
		"      Return clients of specified type.",
		"SETINFO <option> <value>",
		"    Set client meta attr. Options are:",
		"    * LIB-NAME: the client lib name.",
		"    * LIB-VER: the client lib version.",
		"SETNAME <name>",
		"    Assign the name <name> to the current connection.",
		"HELP",
		"    Print this help.",
	})
}
