package resp

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"testing"

	"github.com/warmkv/warmkv/cache"
	"github.com/warmkv/warmkv/internal/testsupport"
)

// benchConn is a connection with no socket: the benchmarks (and tests that
// drive a connection by hand) feed its read buffer and drop its replies, so
// they measure parsing and running commands (and the store), not the network.
func benchConn(tb testing.TB) *conn {
	tb.Helper()
	kv, err := cache.New(cache.Options{MaxBytes: 256 << 20, ReapInterval: -1})
	if err != nil {
		tb.Fatal(err)
	}
	s, err := New(Options{Store: kv, Keys: kv, MaxKeyLength: 256, MaxValueBytes: 256})
	if err != nil {
		tb.Fatal(err)
	}
	client, server := net.Pipe()
	tb.Cleanup(func() { client.Close(); server.Close() })
	return newConn(s, server)
}

// pipeline encodes n commands as redis-benchmark sends them: keys
// key:000000000000 to key:(n-1), 100-byte values.
func pipeline(cmd string, n int) []byte {
	var sb strings.Builder
	value := strings.Repeat("x", 100)
	for i := range n {
		key := fmt.Sprintf("key:%012d", i)
		switch cmd {
		case "SET":
			fmt.Fprintf(&sb, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", len(key), key, len(value), value)
		case "GET":
			fmt.Fprintf(&sb, "*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", len(key), key)
		}
	}
	return []byte(sb.String())
}

// BenchmarkPipeline runs batches of 16 commands, as redis-benchmark -P 16 sends
// them, through the parser, the command table and the store. Reported per
// command.
func BenchmarkPipeline(b *testing.B) {
	for _, cmd := range []string{"SET", "GET"} {
		b.Run(cmd, func(b *testing.B) {
			c := benchConn(b)
			batch := pipeline(cmd, 16)
			// Fill the store so that GET finds its keys.
			c.in = append(c.in[:0], pipeline("SET", 16)...)
			c.w = len(c.in)
			c.runBuffered(func() bool { return true })
			c.in = make([]byte, len(batch))
			b.ReportAllocs()
			b.ResetTimer()
			startCPU := testsupport.ProcessCPUTime()
			for i := 0; i < b.N; i += 16 {
				copy(c.in, batch)
				c.r, c.w = 0, len(batch)
				c.runBuffered(func() bool { return true })
				c.out.b = c.out.b[:0]
			}
			// CPU time, the process's: on a machine shared with other work it
			// varies far less than wall time, which counts the time the
			// benchmark waits for a core.
			if cpu := testsupport.ProcessCPUTime() - startCPU; cpu > 0 {
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
			}
		})
	}
}

// BenchmarkParse measures the parser alone on one GET.
func BenchmarkParse(b *testing.B) {
	cmd := pipeline("GET", 1)
	lim := limits{maxArgs: 1024, maxCommand: 1 << 20, maxInline: inlineMaxBytes}
	var args [][]byte
	b.ReportAllocs()
	for b.Loop() {
		var err error
		args, _, _, err = parseCommand(cmd, args, &lim, true)
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScripts runs EVALSHA of a script that reads a key and writes it,
// and MULTI/EXEC of an INCR and a SET, as bench/resp.sh sends them, through
// the parser, the command table, the Lua state and the store.
func BenchmarkScripts(b *testing.B) {
	c := benchConn(b)
	encoded := func(cmds ...[]string) []byte {
		var sb strings.Builder
		for _, args := range cmds {
			sb.WriteString(encodeArgs(args))
		}
		return []byte(sb.String())
	}
	run := func(batch []byte) {
		c.in = append(c.in[:0], batch...)
		c.r, c.w = 0, len(c.in)
		c.runBuffered(func() bool { return true })
	}
	src := "local old = redis.call('GET', KEYS[1]) redis.call('SET', KEYS[1], ARGV[1]) return old"
	run(encoded([]string{"SCRIPT", "LOAD", src}))
	value := strings.Repeat("x", 100)
	for _, bench := range []struct {
		name string
		cmds [][]string
	}{
		{"EVALSHA", [][]string{{"EVALSHA", sha1hex(src), "1", "key:000000000001", value}}},
		{"MULTI-EXEC", [][]string{{"MULTI"}, {"INCR", "counter:000000000001"}, {"SET", "key:000000000002", value}, {"EXEC"}}},
	} {
		b.Run(bench.name, func(b *testing.B) {
			batch := encoded(bench.cmds...)
			b.ReportAllocs()
			for b.Loop() {
				run(batch)
				if bytes.HasPrefix(c.out.b, []byte("-")) {
					b.Fatalf("%s", c.out.b)
				}
				c.out.b = c.out.b[:0]
			}
		})
	}
}

func encodeArgs(args []string) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&sb, "$%d\r\n%s\r\n", len(a), a)
	}
	return sb.String()
}

// BenchmarkPipelineKeyspace runs SETs and GETs of random keys out of 100,000 in
// batches of 16, as redis-benchmark -r 100000 -P 16 sends them. "fresh" starts
// from an empty store, as every run of bench/resp.sh does, so that it pays for
// the inserts and the growing shards; "full" starts with every key stored.
func BenchmarkPipelineKeyspace(b *testing.B) {
	const keyspace = 100_000
	value := strings.Repeat("x", 100)
	encode := func(cmd string, rng *rand.Rand) []byte {
		var buf []byte
		for range 16 {
			args := []string{cmd, fmt.Sprintf("key:%012d", rng.IntN(keyspace))}
			if cmd == "SET" {
				args = append(args, value)
			}
			buf = append(buf, encodeArgs(args)...)
		}
		return buf
	}
	for _, bench := range []struct {
		cmd  string
		full bool
	}{{"SET", false}, {"SET", true}, {"GET", true}} {
		name := bench.cmd + "/fresh"
		if bench.full {
			name = bench.cmd + "/full"
		}
		b.Run(name, func(b *testing.B) {
			c := benchConn(b)
			run := func(batch []byte) {
				c.in = append(c.in[:0], batch...)
				c.r, c.w = 0, len(c.in)
				c.runBuffered(func() bool { return true })
				c.out.b = c.out.b[:0]
			}
			if bench.full {
				for i := range keyspace {
					run([]byte(encodeArgs([]string{"SET", fmt.Sprintf("key:%012d", i), value})))
				}
			}
			// Encoded ahead, so that the loop measures the server's side only.
			rng := rand.New(rand.NewPCG(1, 2))
			batches := make([][]byte, 1024)
			for i := range batches {
				batches[i] = encode(bench.cmd, rng)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += 16 {
				run(batches[(i/16)%len(batches)])
			}
		})
	}
}

// BenchmarkCommandCounting measures what INFO's commandstats cost a command:
// runCounted (counting, and timing one call in timingSample) around a command
// that does nothing, against calling it directly. The difference, against
// BenchmarkPipeline/GET's ns/op, is the share of the cheapest command.
func BenchmarkCommandCounting(b *testing.B) {
	c := benchConn(b)
	noop := &command{name: "get", slot: commands["get"].slot, run: func(*conn, [][]byte) {}}
	args := [][]byte{[]byte("GET"), []byte("key:000000000001")}
	b.Run("counted", func(b *testing.B) {
		for b.Loop() {
			c.runCounted(noop, args)
		}
		c.publishCalls()
	})
	b.Run("direct", func(b *testing.B) {
		for b.Loop() {
			noop.run(c, args)
		}
	})
}
