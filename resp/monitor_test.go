package resp

import (
	"errors"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/warmkv/warmkv/internal/redistest"
)

// monitorScript is what another client sends while a monitor watches: AUTH
// and HELLO ... AUTH (whose secrets must not show), a command that fails
// (shown), commands refused before running and administrative ones (not
// shown), bytes that need quoting, transactions and scripts.
var monitorScript = [][]string{
	{"AUTH", "pw"}, {"AUTH", "default", "pw"}, {"AUTH", "wrong"},
	{"HELLO", "3", "AUTH", "default", "pw", "SETNAME", "foo"}, {"HELLO", "2"},
	{"SET", "a b", "x\"y\\z\n\t\r\a\bé\x01\x7f"}, {"get", "a b"}, {"INCR", "a b"},
	{"NOSUCH"}, {"GET"}, {"CONFIG", "GET", "maxmemory"}, {"CLIENT", "LIST"}, {"CLIENT", "KILL", "ID", "999999"},
	{"INFO", "server"},
	// A transaction's commands show when EXEC runs them, before EXEC; a
	// script's redis.call and redis.pcall as "lua", before EVAL.
	{"MULTI"}, {"SET", "tx", "1"}, {"INCR", "tx"}, {"INCR", "a b"}, {"CONFIG", "GET", "maxmemory"}, {"EXEC"},
	{"MULTI"}, {"SET", "tx", "2"}, {"DISCARD"},
	{"EVAL", "redis.call('set', KEYS[1], ARGV[1]) return redis.pcall('incr', KEYS[1])", "1", "sk", "v"},
	{"MULTI"}, {"EVAL", "return redis.call('GET', KEYS[1])", "1", "sk"}, {"EXEC"},
	{"ECHO", "end"},
}

// monitorSession runs monitorScript against addr (password "pw") under a
// monitor, then has the monitor send commands of its own, and returns what
// the monitor received, with the times and client ports masked.
func monitorSession(t *testing.T, addr string) []string {
	t.Helper()
	mon, r := dialRaw(t, addr), dialRaw(t, addr)
	mon.do("AUTH", "pw")
	if got := mon.do("MONITOR"); got != "+OK\r\n" {
		t.Fatalf("MONITOR: %q", got)
	}
	for _, args := range monitorScript {
		r.do(args...)
	}
	var lines []string
	for {
		line := mon.reply()
		lines = append(lines, line)
		if strings.Contains(line, `"end"`) {
			break
		}
	}
	// A monitor runs commands that touch no key, and sees them after
	// their replies; MONITOR again is ignored without a reply.
	for _, args := range [][]string{{"PING"}, {"GET", "k"}, {"MONITOR"}, {"ECHO", "again"}} {
		mon.send(encode(args...))
	}
	for len(lines) < 64 {
		line := mon.reply()
		lines = append(lines, line)
		if strings.Contains(line, `"again"`) {
			break
		}
	}
	masked := regexp.MustCompile(`^\+\d{10}\.\d{6} \[0 127\.0\.0\.1:\d+\] `)
	script := regexp.MustCompile(`^\+\d{10}\.\d{6} \[0 lua\] `)
	for i, l := range lines {
		lines[i] = script.ReplaceAllString(masked.ReplaceAllString(l, "+TIME [0 CLIENT] "), "+TIME [0 lua] ")
	}
	return lines
}

func TestMonitorAgainstRedis(t *testing.T) {
	ts := toolServer(t, withAuth("pw"))
	ours := monitorSession(t, ts.addr)
	theirs := monitorSession(t, redistest.Start(t, "--requirepass", "pw").Addr)
	if strings.Join(ours, "") != strings.Join(theirs, "") {
		t.Errorf("monitor received\nwarmkv %q\nredis  %q", ours, theirs)
	}
	for _, l := range ours {
		if strings.Contains(l, `"pw"`) {
			t.Errorf("the token reached a monitor: %q", l)
		}
	}
}

// TestMonitorEveryDriver: a monitor sees the commands of clients served by
// other event loops and by goroutines, and goes on serving its own.
func TestMonitorEveryDriver(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d driver) {
		ts := startServer(t, d)
		mon := ts.raw(t)
		mon.do("MONITOR")
		clients := []*raw{ts.raw(t), ts.raw(t), ts.raw(t)}
		for round := range 3 {
			for i, c := range clients {
				c.do("SET", "k", strings.Repeat("v", i+round))
			}
		}
		for range 9 {
			if line := mon.reply(); !strings.Contains(line, `"SET" "k" "`) {
				t.Errorf("monitor line %q", line)
			}
		}
		if got := mon.do("PING"); got != "+PONG\r\n" {
			t.Errorf("monitor's own PING: %q", got)
		}
	})
}

// TestMonitorThatFallsBehind: a monitor that does not read is disconnected
// once its queued lines would take the buffers past MaxBufferBytes; the
// clients it was watching are not held up.
func TestMonitorThatFallsBehind(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d driver) {
		ts := startServer(t, d, func(o *Options) {
			o.MaxValueBytes, o.MaxCommandBytes, o.MaxBufferBytes = 1<<10, 8<<10, 64<<10
		})
		mon := ts.raw(t)
		mon.do("MONITOR")
		r := ts.raw(t)
		value := strings.Repeat("v", 1<<10)
		deadline := time.Now().Add(20 * time.Second)
		for ts.srv.monitors.on.Load() {
			if time.Now().After(deadline) {
				t.Fatal("the monitor is still connected after 20s of writes it does not read")
			}
			for range 100 {
				if got := r.do("SET", "k", value); got != "+OK\r\n" {
					t.Fatalf("SET while a monitor lags: %q", got)
				}
			}
		}
		_ = mon.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := io.Copy(io.Discard, mon.conn)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Error("the monitor's connection is still open")
		}
		if used := ts.srv.buffers.used.Load(); used > 64<<10 {
			t.Errorf("buffers hold %d bytes after the monitor went", used)
		}
	})
}
