package main

import (
	"context"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warmkv/warmkv/cache"
	"github.com/warmkv/warmkv/resp"
)

// TestRunRunsEveryTransaction runs transactions against warmkv's
// Redis-protocol server and checks that each ran: the counters add up to the
// number of transactions. A server answering anything else fails the run.
func TestRunRunsEveryTransaction(t *testing.T) {
	kv, err := cache.New(cache.Options{MaxBytes: 16 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer kv.Close()
	srv, err := resp.New(resp.Options{Store: kv, Keys: kv, MaxKeyLength: 64, MaxValueBytes: 64})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()

	const total = 300
	var left atomic.Int64
	left.Store(total)
	for i := range 3 {
		if err := run(ln.Addr().String(), uint64(i), &left, 10, 4, "v"); err != nil {
			t.Fatal(err)
		}
	}
	sum := 0
	for n := range 10 {
		v, _, _ := kv.Get("counter:" + pad(n))
		c, _ := strconv.Atoi(v)
		sum += c
	}
	if sum != total {
		t.Errorf("the counters add up to %d, want %d", sum, total)
	}

	// An answer other than a transaction's fails the run.
	left.Store(4)
	small, err := resp.New(resp.Options{Store: kv, Keys: kv, MaxKeyLength: 64, MaxValueBytes: 1})
	if err != nil {
		t.Fatal(err)
	}
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = small.Serve(ln2) }()
	defer small.Close()
	if err := run(ln2.Addr().String(), 9, &left, 10, 1, "too long"); err == nil {
		t.Error("a transaction whose SET was refused passed")
	}
}

func pad(n int) string {
	s := strconv.Itoa(n)
	for len(s) < 12 {
		s = "0" + s
	}
	return s
}
