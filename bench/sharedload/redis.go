package main

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/warmkv/warmkv/bench/internal/keyspace"
)

// loadRedis writes keys 0..-keys-1 (with the prefix warmkv puts in front)
// straight into Redis. Through warmkv each would be a Lua script with a
// PUBLISH, about a minute for a million keys on this box; pipelined SETs over
// one connection take a few seconds. warmkv reads them like its own writes:
// its values in Redis are plain strings.
func loadRedis(args []string) error {
	fs := flag.NewFlagSet("load-redis", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:6379", "Redis host:port")
	prefix := fs.String("prefix", "warmkv:", "warmkv's REDIS_PREFIX")
	var ks keySet
	ks.register(fs, 1000000, "number of keys")
	batch := fs.Int("batch", 1000, "SETs per round trip")
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	if err := ks.check(0); err != nil {
		return err
	}
	if *batch < 1 {
		return usageError("need -batch >= 1")
	}
	start := time.Now()
	conn, err := net.DialTimeout("tcp", *addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	w := bufio.NewWriterSize(conn, 256<<10)
	r := bufio.NewReader(conn)
	for first := 0; first < ks.keys; first += *batch {
		n := min(*batch, ks.keys-first)
		if err := conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
			return err
		}
		for i := first; i < first+n; i++ {
			writeCommand(w, "SET", *prefix+keyspace.Key(i, ks.keyLen), string(keyspace.AppendValue(nil, uint64(i), ks.valueLen)))
		}
		if err := w.Flush(); err != nil {
			return err
		}
		for i := first; i < first+n; i++ {
			line, err := r.ReadString('\n')
			if err != nil {
				return err
			}
			if line != "+OK\r\n" {
				return fmt.Errorf("SET of key %d: Redis answered %q", i, line)
			}
		}
	}
	elapsed := time.Since(start)
	fmt.Printf("result keys=%d seconds=%.2f\n", ks.keys, elapsed.Seconds())
	return nil
}

// writeCommand writes one command in RESP, the form every Redis client sends.
func writeCommand(w *bufio.Writer, args ...string) {
	w.WriteByte('*')
	w.WriteString(strconv.Itoa(len(args)))
	w.WriteString("\r\n")
	for _, a := range args {
		w.WriteByte('$')
		w.WriteString(strconv.Itoa(len(a)))
		w.WriteString("\r\n")
		w.WriteString(a)
		w.WriteString("\r\n")
	}
}
