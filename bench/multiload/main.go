// Command multiload runs MULTI/EXEC transactions against a Redis-protocol
// server and prints their rate as `redis-benchmark --csv` prints a test's, so
// that bench/resp.sh reads both alike. redis-benchmark sends one command per
// request and cannot send a transaction; client libraries send MULTI, the
// commands and EXEC in one write (go-redis's TxPipelined does), and so does
// this: from -c connections, each with -P transactions in flight.
//
// Each transaction is MULTI, INCR counter:<n>, SET key:<m> <-d bytes>, EXEC,
// with n and m random below -r: two keys, as a counter beside the record it
// counts. Every reply is checked; a wrong one stops the run with exit status
// 1, so that a server that answers errors fast cannot look fast.
//
//	"test","rps"
//	"MULTI/EXEC","41234.56"
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	addr := flag.String("addr", "", "server address, host:port")
	conns := flag.Int("c", 64, "connections")
	total := flag.Int("n", 200000, "transactions in all")
	keyspace := flag.Int("r", 100000, "keys are chosen at random below this")
	size := flag.Int("d", 100, "bytes of each SET value")
	depth := flag.Int("P", 1, "transactions in flight per connection")
	flag.Parse()
	if *addr == "" || *conns < 1 || *total < 1 || *keyspace < 1 || *size < 0 || *depth < 1 {
		fmt.Fprintln(os.Stderr, "multiload: need -addr, and -c, -n, -r, -P >= 1, -d >= 0")
		os.Exit(2)
	}
	value := strings.Repeat("x", *size)

	var left atomic.Int64
	left.Store(int64(*total))
	var wg sync.WaitGroup
	errs := make(chan error, *conns)
	start := time.Now()
	for i := range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(*addr, uint64(i), &left, *keyspace, *depth, value); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		fmt.Fprintln(os.Stderr, "multiload:", err)
		os.Exit(1)
	}
	fmt.Println(`"test","rps"`)
	fmt.Printf("\"MULTI/EXEC\",\"%.2f\"\n", float64(*total)/elapsed.Seconds())
}

// run is one connection: it takes batches of transactions from left until
// none are left.
func run(addr string, seed uint64, left *atomic.Int64, keyspace, depth int, value string) error {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	rd := bufio.NewReaderSize(conn, 64<<10)
	rng := rand.New(rand.NewPCG(seed, 1)) //nolint:gosec // G404: random keys, not secrets
	var out []byte
	for {
		n := int(min(int64(depth), left.Add(-int64(depth))+int64(depth)))
		if n <= 0 {
			return nil
		}
		out = out[:0]
		for range n {
			out = appendCommand(out, "MULTI")
			out = appendCommand(out, "INCR", fmt.Sprintf("counter:%012d", rng.IntN(keyspace)))
			out = appendCommand(out, "SET", fmt.Sprintf("key:%012d", rng.IntN(keyspace)), value)
			out = appendCommand(out, "EXEC")
		}
		if _, err := conn.Write(out); err != nil {
			return err
		}
		for range n {
			if err := readTransaction(rd); err != nil {
				return err
			}
		}
	}
}

func appendCommand(b []byte, args ...string) []byte {
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(len(args)), 10)
	b = append(b, '\r', '\n')
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, '\r', '\n')
		b = append(b, a...)
		b = append(b, '\r', '\n')
	}
	return b
}

// readTransaction reads and checks MULTI's, the two QUEUEDs' and EXEC's
// replies: an array of an integer and OK.
func readTransaction(rd *bufio.Reader) error {
	for _, want := range []string{"+OK", "+QUEUED", "+QUEUED", "*2"} {
		if err := expect(rd, want); err != nil {
			return err
		}
	}
	line, err := readLine(rd)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, ":") {
		return fmt.Errorf("INCR in EXEC answered %q", line)
	}
	return expect(rd, "+OK")
}

func expect(rd *bufio.Reader, want string) error {
	line, err := readLine(rd)
	if err != nil {
		return err
	}
	if line != want {
		return fmt.Errorf("got %q, want %q", line, want)
	}
	return nil
}

func readLine(rd *bufio.Reader) (string, error) {
	line, err := rd.ReadString('\n')
	if errors.Is(err, io.EOF) {
		return "", errors.New("the server closed the connection")
	}
	return strings.TrimSuffix(line, "\r\n"), err
}
