package resp

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/warmkv/warmkv/handler"
	"github.com/warmkv/warmkv/internal/redistest"
)

// turn is one command of a conversation between clients: which client sends
// it, and what.
type turn struct {
	client int
	args   []string
}

func on(client int, args ...string) turn { return turn{client, args} }

// compareWithRedis plays the same conversation, with as many clients, to
// warmkv and to a real redis-server and compares every reply byte for byte.
func compareWithRedis(t *testing.T, clients int, script []turn) {
	t.Helper()
	ts := toolServer(t)
	redisAddr := redistest.Start(t).Addr
	ours, theirs := make([]*raw, clients), make([]*raw, clients)
	for i := range clients {
		ours[i], theirs[i] = dialRaw(t, ts.addr), dialRaw(t, redisAddr)
	}
	for _, tn := range script {
		got := sameServer(ours[tn.client].do(tn.args...))
		want := sameServer(theirs[tn.client].do(tn.args...))
		if got != want {
			t.Errorf("client %d %q:\nwarmkv %q\nredis  %q", tn.client, tn.args, got, want)
		}
	}
}

func TestTransactionsAgainstRedis(t *testing.T) {
	compareWithRedis(t, 2, []turn{
		on(0, "FLUSHALL"),
		on(0, "EXEC"), on(0, "DISCARD"), on(0, "MULTI", "x"), on(0, "EXEC", "x"),
		// Queue, run, nest.
		on(0, "MULTI"), on(0, "MULTI"), on(0, "SET", "a", "1"), on(0, "INCR", "a"), on(0, "GET", "a"), on(0, "MGET", "a", "b"),
		on(0, "EXEC"),
		on(0, "MULTI"), on(0, "EXEC"),
		// Errors while queueing abort; errors while running do not.
		on(0, "MULTI"), on(0, "SET", "a"), on(0, "INCR", "a"), on(0, "EXEC"), on(0, "GET", "a"),
		on(0, "MULTI"), on(0, "NOSUCH", "x"), on(0, "EXEC"),
		on(0, "MULTI"), on(0, "CLIENT", "BOGUS"), on(0, "EXEC"),
		on(0, "MULTI"), on(0, "SAVE"), on(0, "EXEC"),
		on(0, "MULTI"), on(0, "SET", "a", "x"), on(0, "INCR", "a"), on(0, "GET", "a"), on(0, "SET", "a", "v", "EX", "0"), on(0, "EXEC"),
		// DISCARD; WATCH inside MULTI; UNWATCH queued.
		on(0, "MULTI"), on(0, "SET", "a", "discarded"), on(0, "DISCARD"), on(0, "GET", "a"),
		on(0, "MULTI"), on(0, "WATCH", "a"), on(0, "UNWATCH"), on(0, "EXEC"),
		on(0, "WATCH"), on(0, "UNWATCH", "x"),
		// Keyless commands, and every kind of reply, inside.
		on(0, "MULTI"), on(0, "MONITOR"), on(0, "PING"), on(0, "EXEC"),
		on(0, "MULTI"), on(0, "PING"), on(0, "ECHO", "hi"), on(0, "DBSIZE"), on(0, "EXISTS", "a", "nokey"), on(0, "TTL", "a"), on(0, "EXEC"),
		on(0, "MULTI"), on(0, "SET", "k", "v"), on(0, "KEYS", "k*"), on(0, "DEL", "k"), on(0, "FLUSHALL"), on(0, "EXEC"),
		// The string, bit and key commands queue and run with their keys.
		on(0, "FLUSHALL"),
		on(0, "MULTI"), on(0, "SET", "s", "hello"), on(0, "GETEX", "s", "EX", "100"), on(0, "EXPIRETIME", "s"), on(0, "GETEX", "s", "PERSIST"),
		on(0, "SETRANGE", "s", "1", "ipp"), on(0, "GETRANGE", "s", "0", "-1"), on(0, "SUBSTR", "s", "1", "2"), on(0, "PSETEX", "p", "100000", "v"),
		on(0, "INCRBYFLOAT", "f", "1.5"), on(0, "SETBIT", "b", "7", "1"), on(0, "GETBIT", "b", "7"), on(0, "BITCOUNT", "b"), on(0, "BITPOS", "b", "1"),
		on(0, "TOUCH", "s", "b", "nokey"), on(0, "PEXPIRETIME", "s"), on(0, "OBJECT", "ENCODING", "f"), on(0, "TIME", "x"), on(0, "EXEC"),
		on(0, "MULTI"), on(0, "DEL", "s", "p", "f"), on(0, "RANDOMKEY"), on(0, "SETRANGE", "b", "-1", "x"), on(0, "INCRBYFLOAT", "b", "1"), on(0, "EXEC"),
		on(0, "SET", "w", "1"), on(0, "WATCH", "w"), on(1, "SETRANGE", "w", "0", "2"), on(0, "MULTI"), on(0, "PING"), on(0, "EXEC"),
		on(0, "WATCH", "w"), on(1, "INCRBYFLOAT", "w", "1"), on(0, "MULTI"), on(0, "PING"), on(0, "EXEC"),
		on(0, "WATCH", "w"), on(1, "GETRANGE", "w", "0", "1"), on(1, "BITCOUNT", "w"), on(0, "MULTI"), on(0, "PING"), on(0, "EXEC"),
		// WATCH: another client's write aborts; a read, a refused write
		// and a write to another key do not.
		on(0, "SET", "w", "1"), on(0, "WATCH", "w"), on(1, "SET", "w", "2"), on(0, "MULTI"), on(0, "INCR", "w"), on(0, "EXEC"), on(0, "GET", "w"),
		on(0, "WATCH", "w"), on(1, "GET", "w"), on(1, "SET", "w", "9", "NX"), on(1, "SET", "other", "1"), on(0, "MULTI"), on(0, "INCR", "w"), on(0, "EXEC"),
		on(0, "WATCH", "w"), on(1, "SET", "w", "3"), on(0, "MULTI"), on(0, "DISCARD"), on(0, "MULTI"), on(0, "GET", "w"), on(0, "EXEC"),
		on(0, "WATCH", "w", "missing"), on(1, "DEL", "missing"), on(0, "MULTI"), on(0, "GET", "w"), on(0, "EXEC"),
		on(0, "WATCH", "missing"), on(1, "SET", "missing", "1"), on(1, "DEL", "missing"), on(0, "MULTI"), on(0, "PING"), on(0, "EXEC"),
		on(0, "WATCH", "w"), on(0, "UNWATCH"), on(1, "SET", "w", "4"), on(0, "MULTI"), on(0, "PING"), on(0, "EXEC"),
		on(0, "WATCH", "w"), on(1, "EXPIRE", "w", "100"), on(0, "MULTI"), on(0, "PING"), on(0, "EXEC"),
		on(0, "WATCH", "w"), on(1, "EXPIRE", "w", "10", "GT"), on(0, "MULTI"), on(0, "PING"), on(0, "EXEC"),
		on(0, "WATCH", "w"), on(1, "FLUSHALL"), on(0, "MULTI"), on(0, "PING"), on(0, "EXEC"),
		on(0, "WATCH", "w"), on(1, "FLUSHALL"), on(0, "MULTI"), on(0, "PING"), on(0, "EXEC"),
		on(0, "WATCH", "w"), on(1, "SET", "w", "5"), on(0, "MULTI"), on(0, "SET", "w"), on(0, "EXEC"),
		on(0, "WATCH", "w"), on(1, "MSET", "x", "1", "w", "6"), on(0, "MULTI"), on(0, "PING"), on(0, "EXEC"),
		on(0, "WATCH", "w"), on(1, "RENAME", "w", "w2"), on(0, "MULTI"), on(0, "PING"), on(0, "EXEC"),
		// The same in RESP3: the aborted EXEC is a null, and a HELLO inside
		// switches the protocol from its own reply on.
		on(0, "HELLO", "3"),
		on(0, "SET", "w", "1"), on(0, "WATCH", "w"), on(1, "SET", "w", "2"), on(0, "MULTI"), on(0, "GET", "w"), on(0, "EXEC"),
		on(0, "MULTI"), on(0, "GET", "nokey"), on(0, "HELLO", "2"), on(0, "GET", "nokey"), on(0, "EXEC"),
		on(0, "MULTI"), on(0, "QUIT"),
	})
}

// TestExecAbortsWhenAWatchedKeyExpires: a key that expires between WATCH and
// EXEC counts as changed, as since Redis 6.0.9; one that had expired before
// WATCH does not.
func TestExecAbortsWhenAWatchedKeyExpires(t *testing.T) {
	clk := newClock()
	r := startServer(t, defaultDriver(), withClock(clk)).raw(t)
	runScript(t, r, []step{
		{cmd("SET", "k", "v", "PX", "100"), "+OK\r\n"},
		{cmd("WATCH", "k"), "+OK\r\n"},
		{cmd("MULTI"), "+OK\r\n"},
		{cmd("PING"), "+QUEUED\r\n"},
	})
	clk.Add(time.Second)
	runScript(t, r, []step{
		{cmd("EXEC"), "*-1\r\n"},
		{cmd("SET", "k", "v", "PX", "100"), "+OK\r\n"},
	})
	clk.Add(time.Second)
	runScript(t, r, []step{
		{cmd("WATCH", "k"), "+OK\r\n"},
		{cmd("MULTI"), "+OK\r\n"},
		{cmd("PING"), "+QUEUED\r\n"},
		{cmd("EXEC"), "*1\r\n+PONG\r\n"},
	})
}

func TestMultiKeyCommandsAgainstRedis(t *testing.T) {
	compareWithRedis(t, 1, []turn{
		on(0, "FLUSHALL"),
		on(0, "MSETNX", "x", "1", "y", "2"), on(0, "MSETNX", "x", "1", "z", "2"), on(0, "GET", "z"), on(0, "MSETNX", "x"),
		on(0, "MSETNX", "x", "1", "y"), on(0, "MSETNX", "x", "1", "x", "2"), on(0, "MSETNX", "q", "1", "q", "2"), on(0, "GET", "q"),
		on(0, "RENAME", "a", "b"), on(0, "RENAMENX", "a", "b"), on(0, "SET", "a", "1", "EX", "100"), on(0, "RENAME", "a", "b"),
		on(0, "TTL", "b"), on(0, "EXISTS", "a"), on(0, "RENAME", "b", "b"), on(0, "RENAME", "b"), on(0, "RENAMENX", "b", "b"),
		on(0, "SET", "c", "2"), on(0, "RENAMENX", "b", "c"), on(0, "RENAMENX", "b", "d"), on(0, "GET", "d"), on(0, "TTL", "d"),
		on(0, "SET", "e", "old", "EX", "500"), on(0, "RENAME", "c", "e"), on(0, "TTL", "e"), on(0, "GET", "e"),
		on(0, "COPY", "d", "f"), on(0, "COPY", "d", "f"), on(0, "COPY", "d", "f", "REPLACE"), on(0, "COPY", "d", "f", "DB", "0"),
		on(0, "COPY", "d", "f", "DB", "x"), on(0, "COPY", "d", "f", "BOGUS"), on(0, "COPY", "d", "d"), on(0, "COPY", "nokey", "f"),
		on(0, "COPY", "d", "f", "REPLACE", "DB"), on(0, "TTL", "f"), on(0, "COPY", "d"),
		on(0, "SET", "s1", "ohmytext"), on(0, "SET", "s2", "mynewtext"),
		on(0, "LCS", "s1", "s2"), on(0, "LCS", "s1", "s2", "LEN"), on(0, "LCS", "s1", "s2", "IDX"),
		on(0, "LCS", "s1", "s2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"), on(0, "LCS", "s1", "s2", "IDX", "WITHMATCHLEN"),
		on(0, "LCS", "s1", "s2", "LEN", "IDX"), on(0, "LCS", "s1", "s2", "MINMATCHLEN", "x"), on(0, "LCS", "s1", "s2", "BOGUS"),
		on(0, "LCS", "s1", "nokey"), on(0, "LCS", "nokey", "s1", "IDX"), on(0, "LCS", "s1"), on(0, "LCS", "s1", "s2", "MINMATCHLEN"),
		on(0, "LCS", "s1", "s2", "IDX", "MINMATCHLEN", "-1"), on(0, "LCS", "s1", "s1", "IDX", "WITHMATCHLEN"),
		on(0, "SET", "t1", "abcdefghij"), on(0, "SET", "t2", "xbcdyyghiq"), on(0, "LCS", "t1", "t2", "IDX", "WITHMATCHLEN"),
		on(0, "SET", "b2", "abc"),
		on(0, "BITOP", "AND", "dest", "b2", "s1"), on(0, "GET", "dest"), on(0, "BITOP", "OR", "dest", "b2", "s1"), on(0, "GET", "dest"),
		on(0, "BITOP", "XOR", "dest", "b2", "s1"), on(0, "GET", "dest"), on(0, "BITOP", "not", "dest", "b2"), on(0, "GET", "dest"),
		on(0, "BITOP", "NOT", "dest", "b2", "s1"), on(0, "BITOP", "BOGUS", "dest", "b2"),
		on(0, "SET", "dest", "x", "EX", "100"), on(0, "BITOP", "AND", "dest", "nokey"), on(0, "EXISTS", "dest"),
		on(0, "BITOP", "AND", "dest", "nokey", "b2"), on(0, "GET", "dest"), on(0, "TTL", "dest"), on(0, "BITOP"), on(0, "BITOP", "AND", "dest"),
		// Inside a transaction, where they run on its keys.
		on(0, "MULTI"), on(0, "RENAME", "s1", "s3"), on(0, "COPY", "s3", "s4"), on(0, "MSETNX", "n1", "1", "n2", "2"),
		on(0, "LCS", "s3", "s4", "LEN"), on(0, "BITOP", "OR", "s5", "s3", "s4"), on(0, "EXEC"),
		on(0, "MGET", "s1", "s3", "s4", "n1", "n2", "s5"),
	})
}

// TestCopyToAnotherDatabase: warmkv has database 0 only.
func TestCopyToAnotherDatabase(t *testing.T) {
	r := startServer(t, defaultDriver()).raw(t)
	runScript(t, r, []step{
		{cmd("SET", "a", "1"), "+OK\r\n"},
		{cmd("COPY", "a", "b", "DB", "1"), "-ERR DB index is out of range\r\n"},
		{cmd("EXISTS", "b"), ":0\r\n"},
	})
}

// TestWatchRetryLoopsCountExactly: clients that increment a counter with
// WATCH, GET, MULTI, SET, EXEC and retry when EXEC aborts lose no update.
func TestWatchRetryLoopsCountExactly(t *testing.T) {
	ts := startServer(t, defaultDriver())
	const clients, each = 8, 100
	var wg sync.WaitGroup
	var retries sync.Map
	for i := range clients {
		c := ts.client(t, 2+i%2, "")
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				attempts, err := watchAndIncrement(c, "counter", nil)
				if err != nil {
					t.Error(err)
					return
				}
				if attempts > 1 {
					retries.Store(i, attempts)
				}
			}
		}()
	}
	wg.Wait()
	if n, err := ts.client(t, 2, "").Get(ctx, "counter").Int(); n != clients*each || err != nil {
		t.Errorf("counter = %d, %v; want %d", n, err, clients*each)
	}
	retried := 0
	retries.Range(func(_, _ any) bool { retried++; return true })
	t.Logf("%d of %d clients had to retry", retried, clients)
}

// watchAndIncrement increments key as a client of WATCH does: WATCH, GET,
// MULTI, SET (and more), EXEC, again while EXEC aborts. It returns the
// number of attempts.
func watchAndIncrement(c *redis.Client, key string, more func(redis.Pipeliner)) (int, error) {
	for attempt := 1; ; attempt++ {
		err := c.Watch(ctx, func(tx *redis.Tx) error {
			n, err := tx.Get(ctx, key).Int()
			if err != nil && !errors.Is(err, redis.Nil) {
				return err
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, key, n+1, 0)
				if more != nil {
					more(p)
				}
				return nil
			})
			return err
		}, key)
		if !errors.Is(err, redis.TxFailedErr) {
			return attempt, err
		}
	}
}

// TestHTTPNeverSeesHalfATransaction: while Redis clients run MULTI blocks,
// HTTP clients increment the same counter and read a key the blocks write
// twice. No HTTP increment lands inside a block (its two INCRs answer
// consecutive numbers), no HTTP read sees the block's first write, and no
// increment is lost.
func TestHTTPNeverSeesHalfATransaction(t *testing.T) {
	ts := startServer(t, defaultDriver())
	h, err := handler.New(handler.Options{Store: ts.kv, MaxKeyLength: 16, MaxValueLength: 32, MaxBodyBytes: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	get := func(target string) (int, string) {
		req := httptest.NewRequest(http.MethodGet, target, nil)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Code, w.Body.String()
	}
	const blocks, httpIncrements = 300, 300
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var sawPartial, httpDone sync.WaitGroup
	partial := make(chan string, 1)
	sawPartial.Add(1)
	go func() { // HTTP reader
		defer sawPartial.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, body := get("/get?key=state"); strings.Contains(body, "partial") {
				select {
				case partial <- body:
				default:
				}
			}
		}
	}()
	httpDone.Add(2)
	for range 2 { // HTTP writers
		go func() {
			defer httpDone.Done()
			for range httpIncrements / 2 {
				if code, body := get("/increment?key=counter"); code != 200 {
					t.Errorf("HTTP increment: %d %s", code, body)
					return
				}
			}
		}()
	}
	for i := range 4 { // Redis clients running blocks
		c := ts.client(t, 2, "")
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range blocks / 4 {
				var first, second *redis.IntCmd
				_, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
					p.Set(ctx, "state", "partial", 0)
					first = p.Incr(ctx, "counter")
					second = p.Incr(ctx, "counter")
					p.Set(ctx, "state", fmt.Sprintf("done-%d-%d", i, j), 0)
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
				if second.Val() != first.Val()+1 {
					t.Errorf("an increment landed inside a transaction: its INCRs answered %d and %d", first.Val(), second.Val())
				}
			}
		}()
	}
	wg.Wait()
	httpDone.Wait()
	close(stop)
	sawPartial.Wait()
	select {
	case body := <-partial:
		t.Errorf("an HTTP read saw a transaction half done: %s", body)
	default:
	}
	_, body := get("/get?key=counter")
	if want := strconv.Itoa(2*blocks + httpIncrements); !strings.Contains(body, `"value":"`+want+`"`) {
		t.Errorf("counter = %s, want %s", body, want)
	}
}

// TestEveryCommandRunsInATransaction queues each command of the table, with
// arguments where it needs them, and checks that EXEC answers: a command that
// went around the connection's store (conn.kv) would wait for the
// transaction's own shards and never answer.
func TestEveryCommandRunsInATransaction(t *testing.T) {
	ts := startServer(t, defaultDriver())
	r := ts.raw(t)
	r.do("SET", "k", "1")
	for _, c := range commandList {
		for _, cmd := range append([]*command{c}, c.subOrder...) {
			if cmd.run == nil || cmd.name == "quit" || cmd.name == "multi" || cmd.name == "exec" || cmd.name == "discard" ||
				cmd.name == "watch" || strings.HasPrefix(cmd.name, "script") {
				continue
			}
			args := strings.Split(strings.ReplaceAll(cmd.name, "|", " "), " ")
			for len(args) < max(cmd.arity, -cmd.arity) {
				args = append(args, "k")
			}
			if got := r.do("MULTI"); got != "+OK\r\n" {
				t.Fatalf("MULTI: %q", got)
			}
			r.do(args...)
			_ = r.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			if got := r.do("EXEC"); got == "" {
				t.Fatalf("EXEC of %q did not answer", args)
			}
		}
	}
}

// TestMSetNXIsAtomic: of clients racing to MSETNX the same keys, exactly one
// wins, and every key holds the winner's value.
func TestMSetNXIsAtomic(t *testing.T) {
	ts := startServer(t, defaultDriver())
	for round := range 20 {
		keys := []string{fmt.Sprint("a", round), fmt.Sprint("b", round), fmt.Sprint("c", round)}
		var wg sync.WaitGroup
		won := make(chan string, 8)
		for i := range 8 {
			c := ts.client(t, 2, "")
			wg.Add(1)
			go func() {
				defer wg.Done()
				v := strconv.Itoa(i)
				// Each client names the keys in another order.
				ok, err := c.MSetNX(ctx, keys[i%3], v, keys[(i+1)%3], v, keys[(i+2)%3], v).Result()
				if err != nil {
					t.Error(err)
				}
				if ok {
					won <- v
				}
			}()
		}
		wg.Wait()
		close(won)
		winners := []string{}
		for v := range won {
			winners = append(winners, v)
		}
		if len(winners) != 1 {
			t.Fatalf("round %d: %d winners", round, len(winners))
		}
		vals, _ := ts.client(t, 2, "").MGet(ctx, keys...).Result()
		for _, v := range vals {
			if v != winners[0] {
				t.Errorf("round %d: keys hold %v, winner %s", round, vals, winners[0])
			}
		}
	}
}
