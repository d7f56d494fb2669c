package resp

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// helloReply is HELLO's answer for connection id in RESP2 or RESP3.
func helloReply(proto, id int) string {
	head := "*14\r\n"
	if proto == 3 {
		head = "%7\r\n"
	}
	return head + "$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n7.2.0\r\n" +
		"$5\r\nproto\r\n:" + strconv.Itoa(proto) + "\r\n$2\r\nid\r\n:" + strconv.Itoa(id) + "\r\n" +
		"$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"
}

func TestConnectionCommands(t *testing.T) {
	ts := startServer(t, defaultDriver())
	r := ts.raw(t)
	id := strings.TrimSuffix(strings.TrimPrefix(r.do("CLIENT", "ID"), ":"), "\r\n")
	n, err := strconv.Atoi(id)
	if err != nil || n < 1 {
		t.Fatalf("CLIENT ID = %q", id)
	}
	runScript(t, r, []step{
		{cmd("PING"), "+PONG\r\n"},
		{cmd("PING", "hi"), "$2\r\nhi\r\n"},
		{cmd("PING", "a", "b"), "-ERR wrong number of arguments for 'ping' command\r\n"},
		{cmd("ECHO", "héllo"), "$6\r\nhéllo\r\n"},
		{cmd("ECHO"), "-ERR wrong number of arguments for 'echo' command\r\n"},
		{cmd("SELECT", "0"), "+OK\r\n"},
		{cmd("SELECT", "1"), "-ERR DB index is out of range\r\n"},
		{cmd("SELECT", "x"), "-ERR value is not an integer or out of range\r\n"},
		{cmd("AUTH", "secret"), "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n"},
		{cmd("AUTH", "default", "anything"), "+OK\r\n"}, // no password: the default user takes any
		{cmd("AUTH", "alice", "x"), "-WRONGPASS invalid username-password pair or user is disabled.\r\n"},
		{cmd("AUTH", "a", "b", "c"), "-ERR syntax error\r\n"},

		// CLIENT.
		{cmd("CLIENT", "GETNAME"), "$-1\r\n"},
		{cmd("CLIENT", "SETNAME", "worker-1"), "+OK\r\n"},
		{cmd("CLIENT", "GETNAME"), "$8\r\nworker-1\r\n"},
		{cmd("CLIENT", "SETNAME", "a b"), "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"},
		{cmd("CLIENT", "SETNAME", ""), "+OK\r\n"},
		{cmd("CLIENT", "GETNAME"), "$-1\r\n"},
		{cmd("CLIENT", "SETNAME"), "-ERR wrong number of arguments for 'client|setname' command\r\n"},
		{cmd("CLIENT", "SETINFO", "LIB-NAME", "go-redis"), "+OK\r\n"},
		{cmd("CLIENT", "SETINFO", "lib-ver", "9.23.0"), "+OK\r\n"},
		{cmd("CLIENT", "SETINFO", "lib-foo", "x"), "-ERR Unrecognized option 'lib-foo'\r\n"},
		{cmd("CLIENT", "SETINFO", "lib-name", "a b"), "-ERR lib-name cannot contain spaces, newlines or special characters.\r\n"},
		{cmd("CLIENT", "KILL", "x"), "-ERR No such client\r\n"},
		{cmd("CLIENT", "PAUSE", "10"), "-ERR unknown subcommand 'PAUSE'. Try CLIENT HELP.\r\n"},
		{cmd("client", "nope"), "-ERR unknown subcommand 'nope'. Try CLIENT HELP.\r\n"},
		{cmd("CLIENT"), "-ERR wrong number of arguments for 'client' command\r\n"},

		// HELLO switches protocols and answers in the new one.
		{cmd("HELLO", "3"), helloReply(3, n)},
		{cmd("GET", "nokey"), "_\r\n"},
		{cmd("CLIENT", "GETNAME"), "_\r\n"},
		{cmd("HELLO"), helloReply(3, n)},
		{cmd("HELLO", "2"), helloReply(2, n)},
		{cmd("GET", "nokey"), "$-1\r\n"},
		{cmd("HELLO", "4"), "-NOPROTO unsupported protocol version\r\n"},
		{cmd("HELLO", "x"), "-ERR Protocol version is not an integer or out of range\r\n"},
		{cmd("HELLO", "3", "FOO"), "-ERR Syntax error in HELLO option 'FOO'\r\n"},
		{cmd("HELLO", "3", "AUTH", "default"), "-ERR Syntax error in HELLO option 'AUTH'\r\n"},
		{cmd("HELLO", "3", "SETNAME", "a b"), "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"},
		{cmd("GET", "nokey"), "$-1\r\n"}, // a refused HELLO changes nothing
		{cmd("HELLO", "2", "SETNAME", "named"), helloReply(2, n)},
		{cmd("CLIENT", "GETNAME"), "$5\r\nnamed\r\n"},
	})

	info := r.do("CLIENT", "INFO")
	for _, want := range []string{"id=" + id + " ", " name=named ", " lib-name=go-redis ", " lib-ver=9.23.0", " cmd=client|info ", " resp=2 ", " db=0 "} {
		if !strings.Contains(info, want) {
			t.Errorf("CLIENT INFO %q lacks %q", info, want)
		}
	}

	// QUIT answers OK, then closes.
	if got := r.do("QUIT"); got != "+OK\r\n" {
		t.Errorf("QUIT = %q", got)
	}
	r.expectClosed()
}

// TestAuth: with AUTH_TOKEN set, every command but AUTH, HELLO and QUIT
// answers NOAUTH until the client authenticates, PING included, as in Redis 7.
func TestAuth(t *testing.T) {
	const token = "s3cret-token"
	ts := startServer(t, defaultDriver(), withAuth(token))
	const noauth = "-NOAUTH Authentication required.\r\n"
	r := ts.raw(t)
	runScript(t, r, []step{
		{cmd("PING"), noauth},
		{cmd("GET", "k"), noauth},
		{cmd("SET", "k", "v"), noauth},
		{cmd("INFO"), noauth},
		{cmd("COMMAND", "DOCS"), noauth},
		{cmd("CLIENT", "SETNAME", "x"), noauth},
		{cmd("SELECT", "0"), noauth},
		// Redis checks the command and its arity before authentication.
		{cmd("NOSUCH"), "-ERR unknown command 'NOSUCH', with args beginning with: \r\n"},
		{cmd("GET"), "-ERR wrong number of arguments for 'get' command\r\n"},
		{cmd("HELLO", "3"), "-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n"},
		{cmd("AUTH", "wrong"), "-WRONGPASS invalid username-password pair or user is disabled.\r\n"},
		{cmd("AUTH", token+"x"), "-WRONGPASS invalid username-password pair or user is disabled.\r\n"},
		{cmd("AUTH", token[:5]), "-WRONGPASS invalid username-password pair or user is disabled.\r\n"},
		{cmd("AUTH", "alice", token), "-WRONGPASS invalid username-password pair or user is disabled.\r\n"},
		{cmd("PING"), noauth},
		{cmd("AUTH", token), "+OK\r\n"},
		{cmd("PING"), "+PONG\r\n"},
		{cmd("SET", "k", "v"), "+OK\r\n"},
		{cmd("AUTH", "wrong"), "-WRONGPASS invalid username-password pair or user is disabled.\r\n"},
		{cmd("GET", "k"), "$1\r\nv\r\n"}, // a failed AUTH keeps the connection authenticated
	})

	// HELLO with AUTH authenticates and switches in one command.
	r2 := ts.raw(t)
	if got := r2.do("HELLO", "3", "AUTH", "default", "nope"); got != "-WRONGPASS invalid username-password pair or user is disabled.\r\n" {
		t.Errorf("HELLO AUTH wrong = %q", got)
	}
	if got := r2.do("GET", "k"); got != noauth {
		t.Errorf("GET after failed HELLO = %q", got)
	}
	if got := r2.do("HELLO", "3", "AUTH", "default", token); !strings.HasPrefix(got, "%7\r\n") {
		t.Errorf("HELLO 3 AUTH = %q", got)
	}
	if got := r2.do("GET", "k"); got != "$1\r\nv\r\n" {
		t.Errorf("GET after HELLO AUTH = %q", got)
	}

	// QUIT works before AUTH.
	r3 := ts.raw(t)
	if got := r3.do("QUIT"); got != "+OK\r\n" {
		t.Errorf("QUIT = %q", got)
	}
	r3.expectClosed()

	// Client libraries authenticate with HELLO (RESP3) or AUTH (RESP2).
	for _, proto := range []int{2, 3} {
		c := ts.client(t, proto, token)
		if v, err := c.Get(ctx, "k").Result(); v != "v" || err != nil {
			t.Errorf("RESP%d with password: GET = %q, %v", proto, v, err)
		}
		bad := ts.client(t, proto, "wrong")
		if err := bad.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
			t.Errorf("RESP%d with a wrong password: %v", proto, err)
		}
		none := ts.client(t, proto, "")
		if err := none.Get(ctx, "k").Err(); err == nil || err.Error() != "NOAUTH Authentication required." {
			t.Errorf("RESP%d without password: %v", proto, err)
		}
	}
}

// TestUnknownCommand checks Redis 7's message: the name and up to 128 bytes of
// arguments, each quoted.
func TestUnknownCommand(t *testing.T) {
	ts := startServer(t, defaultDriver())
	r := ts.raw(t)
	long := strings.Repeat("x", 200)
	runScript(t, r, []step{
		{cmd("FOO"), "-ERR unknown command 'FOO', with args beginning with: \r\n"},
		{cmd("foo", "bar", "baz"), "-ERR unknown command 'foo', with args beginning with: 'bar' 'baz' \r\n"},
		{cmd("FOO", long), "-ERR unknown command 'FOO', with args beginning with: '" + long[:128] + "' \r\n"},
		{cmd("FOO", strings.Repeat("a", 120), "bcdefghijk", "z"), "-ERR unknown command 'FOO', with args beginning with: '" + strings.Repeat("a", 120) + "' 'bcdef' \r\n"},
		{cmd(long), "-ERR unknown command '" + long[:128] + "', with args beginning with: \r\n"},
		{cmd("FOO", "a\r\nb"), "-ERR unknown command 'FOO', with args beginning with: 'a  b' \r\n"},
		{cmd("PING"), "+PONG\r\n"}, // the connection stays usable
	})
}

func TestConnectionGoRedis(t *testing.T) {
	ts := startServer(t, defaultDriver())
	forEachProtocol(t, ts, func(t *testing.T, c *redis.Client) {
		if v, err := c.Ping(ctx).Result(); v != "PONG" || err != nil {
			t.Errorf("PING = %q, %v", v, err)
		}
		if v, err := c.Echo(ctx, "hi").Result(); v != "hi" || err != nil {
			t.Errorf("ECHO = %q, %v", v, err)
		}
		if _, err := c.ClientID(ctx).Result(); err != nil {
			t.Errorf("CLIENT ID: %v", err)
		}
		// go-redis sent HELLO first; in RESP3 it got the map.
		proto := int64(2)
		if c.Options().Protocol == 3 {
			proto = 3
		}
		m, err := c.Do(ctx, "HELLO", proto).Result()
		hello, _ := m.(map[any]any)    // RESP3 map
		if list, ok := m.([]any); ok { // RESP2 flat array
			hello = map[any]any{}
			for i := 0; i+1 < len(list); i += 2 {
				hello[list[i]] = list[i+1]
			}
		}
		if err != nil || hello["server"] != "redis" || hello["proto"] != proto || hello["mode"] != "standalone" {
			t.Errorf("HELLO = %#v, %v", m, err)
		}
		if err := c.Do(ctx, "SELECT", 1).Err(); err == nil || err.Error() != "ERR DB index is out of range" {
			t.Errorf("SELECT 1: %v", err)
		}
		// An unknown command is a Redis error, not a broken connection.
		if err := c.Do(ctx, "NOSUCH").Err(); err == nil || !strings.HasPrefix(err.Error(), "ERR unknown command 'NOSUCH'") {
			t.Errorf("NOSUCH: %v", err)
		}
		var redisErr redis.Error
		if err := c.Do(ctx, "NOSUCH").Err(); !errors.As(err, &redisErr) {
			t.Errorf("NOSUCH error %T is not a redis.Error", err)
		}
	})
}

// TestClientSelectsDatabaseZero: a client configured with DB 0 (most
// defaults) connects; DB 1 cannot, since warmkv has one database.
func TestClientSelectsDatabaseZero(t *testing.T) {
	ts := startServer(t, defaultDriver())
	c := redis.NewClient(&redis.Options{Addr: ts.addr, DB: 1, MaxRetries: -1})
	defer c.Close()
	if err := c.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "DB index is out of range") {
		t.Errorf("DB 1: %v", err)
	}
}
