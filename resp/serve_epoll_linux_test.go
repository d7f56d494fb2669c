//go:build linux && !noepoll

package resp

import (
	"bufio"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestKeepSpinning(t *testing.T) {
	const busyPoll = int64(50 * time.Microsecond)
	for _, tt := range []struct {
		name     string
		busyPoll int64
		events   int
		caught   bool
		want     bool
	}{
		{"a wake-up with more than one event", busyPoll, 2, false, true},
		{"a poll that caught an event", busyPoll, 1, true, true},
		{"a wake-up with one event", busyPoll, 1, false, false},
		{"a timeout tick", busyPoll, 0, false, false},
		{"busy polling off", 0, 64, true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := keepSpinning(tt.busyPoll, tt.events, tt.caught); got != tt.want {
				t.Errorf("keepSpinning(%d, %d, %v) = %v, want %v", tt.busyPoll, tt.events, tt.caught, got, tt.want)
			}
		})
	}
}

// A loop polls while requests keep coming, not for a lone request now and
// then, and an idle one sleeps.
func TestBusyPollOnlyUnderLoad(t *testing.T) {
	ts := startServer(t, driver{name: "epoll", eventLoops: 1, busyPoll: time.Millisecond})
	var wg sync.WaitGroup
	for c := range 8 {
		conn, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		key := "k" + strconv.Itoa(c)
		wg.Go(func() {
			rd := bufio.NewReader(conn)
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			for round := range 20 {
				var batch strings.Builder
				for i := range 16 {
					batch.WriteString(encode("SET", key, strconv.Itoa(16*round+i)))
				}
				if _, err := io.WriteString(conn, batch.String()); err != nil {
					t.Error(err)
					return
				}
				for range 16 {
					if got, err := readReply(rd); err != nil || got != "+OK\r\n" {
						t.Errorf("SET answered %q, %v", got, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	ts.srv.mu.Lock()
	l := ts.srv.loops[0]
	ts.srv.mu.Unlock()
	if l.polls.Load() == 0 {
		t.Fatal("the loop never polled while 8 clients kept it busy")
	}

	// One client, one command at a time, a few milliseconds apart: each
	// wake-up brings one event, and polling after it would only burn CPU.
	r := ts.raw(t)
	if got := r.do("GET", "k7"); got != "$3\r\n319\r\n" {
		t.Fatalf("GET k7 answered %q, want the last SET's 319", got)
	}
	time.Sleep(20 * time.Millisecond) // longer than any one poll
	before := l.polls.Load()
	for i := range 20 {
		if got := r.do("SET", "lone", strconv.Itoa(i)); got != "+OK\r\n" {
			t.Fatalf("SET answered %q", got)
		}
		time.Sleep(2 * time.Millisecond)
	}
	if polls := l.polls.Load() - before; polls > 2 {
		t.Errorf("the loop polled %d times for 20 lone requests, want at most 2", polls)
	}

	time.Sleep(20 * time.Millisecond)
	idle := l.polls.Load()
	time.Sleep(100 * time.Millisecond)
	if polls := l.polls.Load() - idle; polls != 0 {
		t.Errorf("the loop polled %d times in 100 ms without a request", polls)
	}
}
