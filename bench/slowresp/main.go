// Command slowresp holds Redis-protocol connections open against warmkv, each
// sending a command one byte per -interval, and reports how long the server
// kept each one before cutting it off. bench/slow.sh runs it beside
// slowhttptest, which does the same for HTTP headers and bodies; no packaged
// tool trickles a Redis-protocol command.
//
// Every connection is kept open for the whole attack: one cut off is reopened
// at once, as a real attacker would. Once all are open it prints "ready" on
// stdout. Four times a second it prints to stderr how many are open ("open
// unix=... resp=N"), so that a script can tell how many were held while it
// measured. On SIGINT or SIGTERM (or after -duration) it stops and prints
// one line on stdout:
//
//	result kind=resp opened=600 cut=400 open_at_end=200 oldest_open_s=4.10
//	       held_min_s=10.00 held_p50_s=10.01 held_p90_s=10.02 held_max_s=10.30
//	       outcomes=closed:400 dial_errors=0
//
// (on one line): held_* describe the connections the server cut off, from
// the moment the connection was open to the moment the server answered or
// closed it; outcomes says how ("answered", "closed" without an answer,
// "reset"). open_at_end counts those still open when the attack stopped, and
// oldest_open_s is the age of the oldest of them: far beyond the server's
// timeout, it means the server never cut that one off.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// command is a SET whose value, announced as 100,000 bytes, never ends: byte
// i of the trickle is command[i], then 'v' forever.
const command = "*3\r\n$3\r\nSET\r\n$9\r\nslowloris\r\n$100000\r\n"

func main() {
	addr := flag.String("addr", "", "warmkv Redis-protocol address, host:port")
	conns := flag.Int("conns", 200, "connections trickling a command")
	interval := flag.Duration("interval", time.Second, "time between two bytes on one connection")
	duration := flag.Duration("duration", 2*time.Minute, "stop after this long even without a signal")
	dialers := flag.Int("dial-parallel", 64, "connections being opened at once")
	flag.Parse()
	if *addr == "" || *conns < 1 || *interval <= 0 || *dialers < 1 {
		fmt.Fprintln(os.Stderr, "slowresp: need -addr, -conns >= 1, -interval > 0, -dial-parallel >= 1")
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *duration)
	defer cancel()

	a := &attack{addr: *addr, interval: *interval, dialSlots: make(chan struct{}, *dialers), openSince: map[*time.Time]struct{}{}, outcomes: map[string]int{}}
	var firstOpen, all sync.WaitGroup
	for range *conns {
		firstOpen.Add(1)
		all.Add(1)
		go func() {
			defer all.Done()
			a.hold(ctx, firstOpen.Done)
		}()
	}
	firstOpen.Wait()
	fmt.Printf("ready resp=%d\n", a.open.Load())

	go a.report(ctx)
	<-ctx.Done()
	end := time.Now()
	all.Wait()
	fmt.Println(a.result(end))
}

// attack is the connections and what happened to them.
type attack struct {
	addr      string
	interval  time.Duration
	dialSlots chan struct{}
	open      atomic.Int64

	mu         sync.Mutex
	opened     int
	held       []time.Duration // connections the server cut off
	outcomes   map[string]int
	dialErrors int
	openSince  map[*time.Time]struct{} // connections not cut off, by open time
}

// hold keeps one connection open until ctx ends, reopening it whenever the
// server cuts it off. opened is called once the first attempt is over.
func (a *attack) hold(ctx context.Context, opened func()) {
	once := sync.OnceFunc(opened)
	defer once()
	for ctx.Err() == nil {
		a.dialSlots <- struct{}{}
		conn, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", a.addr)
		<-a.dialSlots
		if err != nil {
			a.mu.Lock()
			a.dialErrors++
			a.mu.Unlock()
			once()
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		start := time.Now()
		a.connected(&start)
		once()
		outcome := a.trickle(ctx, conn)
		a.disconnected(&start, outcome, time.Since(start))
		conn.Close()
	}
}

// trickle sends the command's bytes on conn until the server answers or
// closes it, and returns how it did ("answered", "closed", "reset"), or "" if
// ctx ended first.
func (a *attack) trickle(ctx context.Context, conn net.Conn) string {
	buf := make([]byte, 64)
	next := time.Now()
	for i := 0; ; {
		if ctx.Err() != nil {
			return ""
		}
		_ = conn.SetReadDeadline(next)
		n, err := conn.Read(buf)
		if ctx.Err() != nil {
			// Whatever happened after the attack stopped does not count: a
			// cut-off is noticed at once, as Read returns on it.
			return ""
		}
		switch {
		case n > 0:
			return "answered"
		case err == nil:
		case isTimeout(err):
			b := byte('v')
			if i < len(command) {
				b = command[i]
			}
			if _, err := conn.Write([]byte{b}); err != nil {
				return "reset"
			}
			i++
			next = next.Add(a.interval)
		case errors.Is(err, io.EOF):
			return "closed"
		default:
			return "reset"
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (a *attack) connected(since *time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.opened++
	a.openSince[since] = struct{}{}
	a.open.Add(1)
}

// disconnected records the end of the connection opened at since: cut off by
// the server after held (outcome says how), or, with no outcome, still open
// when the attack stopped, in which case it stays in openSince for result.
func (a *attack) disconnected(since *time.Time, outcome string, held time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.open.Add(-1)
	if outcome == "" {
		return
	}
	delete(a.openSince, since)
	a.held = append(a.held, held)
	a.outcomes[outcome]++
}

// result is the "result" line. Connections still open at the end were opened
// at the latest "oldest_open_s" before it; a server that never cut them off
// shows here as an age far beyond its timeout.
func (a *attack) result(end time.Time) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var oldest time.Duration
	for since := range a.openSince {
		oldest = max(oldest, end.Sub(*since))
	}
	held := slices.Sorted(slices.Values(a.held))
	q := func(p float64) float64 {
		if len(held) == 0 {
			return 0
		}
		return held[min(len(held)-1, int(p*float64(len(held))))].Seconds()
	}
	var outcomes []string
	for _, o := range slices.Sorted(maps.Keys(a.outcomes)) {
		outcomes = append(outcomes, fmt.Sprintf("%s:%d", o, a.outcomes[o]))
	}
	if len(outcomes) == 0 {
		outcomes = []string{"none"}
	}
	return fmt.Sprintf("result kind=resp opened=%d cut=%d open_at_end=%d oldest_open_s=%.2f held_min_s=%.2f held_p50_s=%.2f held_p90_s=%.2f held_max_s=%.2f outcomes=%s dial_errors=%d",
		a.opened, len(held), len(a.openSince), oldest.Seconds(), q(0), q(0.5), q(0.9), q(1), strings.Join(outcomes, ","), a.dialErrors)
}

// report prints the open connections four times a second.
func (a *attack) report(ctx context.Context) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			fmt.Fprintf(os.Stderr, "open unix=%.3f resp=%d\n", float64(now.UnixNano())/1e9, a.open.Load())
		}
	}
}
