package resp

import (
	"slices"
	"strings"
	"testing"

	"github.com/warmkv/warmkv/internal/redistest"
)

// TestCommandStats: calls, failures and refusals per command, error replies
// per code, as INFO commandstats and errorstats and CommandStats report them.
func TestCommandStats(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d driver) {
		ts := startServer(t, d, withAuth("pw"))
		r := ts.raw(t)
		r.do("GET", "k")     // NOAUTH: rejected
		r.do("AUTH", "nope") // WRONGPASS: failed
		r.do("AUTH", "pw")
		for range 40 {
			r.do("SET", "k", "v")
		}
		r.do("INCR", "k") // not an integer: failed
		r.do("GET")       // arity: rejected
		r.do("NOSUCH")    // unknown: an error, no command
		r.do("CLIENT", "NOPE")

		stats := map[string]CommandStat{}
		for _, st := range ts.srv.CommandStats() {
			stats[st.Name] = st
		}
		for name, want := range map[string][3]int64{ // calls, rejected, failed
			"get":  {0, 2, 0},
			"auth": {2, 0, 1},
			"set":  {40, 0, 0},
			"incr": {1, 0, 1},
		} {
			st := stats[name]
			if st.Calls != want[0] || st.RejectedCalls != want[1] || st.FailedCalls != want[2] {
				t.Errorf("%s: %+v, want calls, rejected, failed %v", name, st, want)
			}
		}
		if st := stats["set"]; st.Duration <= 0 {
			t.Errorf("set: no time measured in %+v", st)
		}
		if _, ok := stats["ping"]; ok {
			t.Error("an unused command is listed")
		}
		byCode, total := ts.srv.ErrorStats()
		if byCode["NOAUTH"] != 1 || byCode["WRONGPASS"] != 1 || byCode["ERR"] != 4 || total != 6 {
			t.Errorf("error stats %v, total %d", byCode, total)
		}

		info := r.do("INFO", "commandstats", "errorstats", "stats")
		for _, want := range []string{
			"cmdstat_set:calls=40,usec=", ",rejected_calls=0,failed_calls=0\r\n",
			"cmdstat_get:calls=0,usec=0,usec_per_call=0.00,rejected_calls=2,failed_calls=0\r\n",
			"errorstat_ERR:count=4\r\n", "errorstat_NOAUTH:count=1\r\n", "errorstat_WRONGPASS:count=1\r\n",
			"total_error_replies:6\r\n", "total_commands_processed:43\r\n",
		} {
			if !strings.Contains(info, want) {
				t.Errorf("INFO lacks %q:\n%s", want, info)
			}
		}
		if strings.Contains(r.do("INFO"), "cmdstat_") {
			t.Error("INFO without arguments shows commandstats; Redis leaves them to INFO all")
		}
		if !strings.Contains(r.do("INFO", "all"), "cmdstat_set:") {
			t.Error("INFO all lacks commandstats")
		}
	})
}

// TestCommandStatsPipelined: calls of a pipeline, which a connection counts
// in runs (commandstats.go), are all counted, by its own INFO within the
// same pipeline and by another connection once the replies are in.
func TestCommandStatsPipelined(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d driver) {
		ts := startServer(t, d)
		r, other := ts.raw(t), ts.raw(t)
		r.send(strings.Repeat(encode("GET", "k"), 20) + encode("INFO", "commandstats") +
			encode("INFO", "stats") + encode("INFO", "stats") + strings.Repeat(encode("SET", "k", "v"), 5))
		for range 20 {
			r.reply()
		}
		if info := r.reply(); !strings.Contains(info, "cmdstat_get:calls=20,") {
			t.Errorf("INFO commandstats after 20 GETs in the same pipeline:\n%s", info)
		}
		r.reply()
		if info := r.reply(); !strings.Contains(info, "total_commands_processed:22\r\n") {
			t.Errorf("the second INFO stats does not count the first:\n%s", info)
		}
		for range 5 {
			r.reply()
		}
		info := other.do("INFO", "commandstats")
		for _, want := range []string{"cmdstat_get:calls=20,", "cmdstat_info:calls=3,", "cmdstat_set:calls=5,"} {
			if !strings.Contains(info, want) {
				t.Errorf("another connection's INFO lacks %q:\n%s", want, info)
			}
		}
	})
}

// scriptErrorSession runs scripts whose commands fail against addr, and
// returns what INFO reports of errors: errorstats, total_error_replies and
// the calls and failures of EVAL and INCR.
func scriptErrorSession(t *testing.T, addr string) []string {
	t.Helper()
	r := dialRaw(t, addr)
	r.do("SET", "s", "x")
	for _, args := range [][]string{
		{"EVAL", "return redis.pcall('incr', KEYS[1])", "1", "s"},                    // passes the command's error on
		{"EVAL", "return redis.call('incr', KEYS[1])", "1", "s"},                     // raises it
		{"EVAL", "redis.pcall('incr', KEYS[1]) return 1", "1", "s"},                  // swallows it
		{"EVAL", "return redis.pcall('nosuch')", "0"},                                // refused before running
		{"EVAL", "return redis.call()", "0"},                                         // no command at all
		{"EVAL", "return redis.error_reply('MY boom')", "0"},                         // its own error
		{"EVAL", "return {1, redis.pcall('incr', KEYS[1])}", "1", "s"},               // nested in an array
		{"EVAL", "local ok = pcall(redis.call, 'incr', KEYS[1]) return 2", "1", "s"}, // Lua's pcall
	} {
		r.do(args...)
	}
	var got []string
	for _, section := range []string{"errorstats", "stats", "commandstats"} {
		for line := range strings.Lines(r.do("INFO", section)) {
			line = strings.TrimSpace(line)
			switch {
			case strings.HasPrefix(line, "errorstat_"), strings.HasPrefix(line, "total_error_replies:"):
				got = append(got, line)
			case strings.HasPrefix(line, "cmdstat_eval:"), strings.HasPrefix(line, "cmdstat_incr:"):
				name, fields, _ := strings.Cut(line, ":")
				calls, failed := "", ""
				for f := range strings.SplitSeq(fields, ",") {
					if v, ok := strings.CutPrefix(f, "calls="); ok {
						calls = v
					} else if v, ok := strings.CutPrefix(f, "failed_calls="); ok {
						failed = v
					}
				}
				got = append(got, name+" calls="+calls+" failed="+failed)
			}
		}
	}
	slices.Sort(got)
	return got
}

// Errors inside scripts count in INFO as Redis 7 counts them: once where
// they happen, a command's error not again when the script passes it on.
func TestScriptErrorStatsAgainstRedis(t *testing.T) {
	ours := scriptErrorSession(t, toolServer(t).addr)
	theirs := scriptErrorSession(t, redistest.Start(t).Addr)
	if strings.Join(ours, "\n") != strings.Join(theirs, "\n") {
		t.Errorf("INFO after the scripts' errors\nwarmkv %q\nredis  %q", ours, theirs)
	}
}
