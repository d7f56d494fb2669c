#!/usr/bin/env bash
# conns.sh — 10,000 idle keep-alive connections next to 64 active clients.
#
# One server, preloaded with 100k keys, three wrk GET runs (-t2 -c64):
#   1. without idle connections (the baseline);
#   2. while bench/conns, a separate process, holds IDLE_CONNS (10,000)
#      keep-alive connections open, each idle after one GET /healthz;
#   3. after those are closed again (shows drift, and that the server still
#      serves as before).
# It reports req/s and p99 of each run and the p99 ratio of run 2 to the
# lower p99 of runs 1 and 3 (target <= 2.0): a run without idle connections
# that happened to be slow, because it came first or the box was busy, must
# not hide a real slowdown. Also every error (wrk socket errors, non-2xx answers, idle
# connections that failed or that the server dropped; all must be 0), the
# server's RSS and file descriptors before and with the idle connections, and
# the memory one idle connection costs. The server must still answer after
# the idle connections are closed.
#
# The server runs with IDLE_TIMEOUT=10m unless set: its default (60s) would
# close the idle connections in the middle of the measurement. The server
# and bench/conns each need IDLE_CONNS + ~100 file descriptors; both raise
# their soft limit to the hard one (ulimit -Hn) themselves.
#
# Environment (all optional):
#   IDLE_CONNS=10000     idle connections held by bench/conns
#   DURATION=10s         wrk -d per run
#   THREADS=2 CONNS=64   wrk -t / -c
#   KEYS=100000          preloaded keys (20-char keys, 100-char values)
#   P99_TARGET=2.0       p99 with idle connections / p99 without
#   IDLE_TIMEOUT=10m     passed to the server
#   WARMKV_BIN=path      use this binary instead of building the repo root
#   LOG_DIR=dir          keep the wrk outputs and logs there
#   BENCH_LOCK=/tmp/warmkv-bench.lock  held while measuring (empty: none)
# PORT, BIND=127.0.0.1 and APP_ENV=production are set here; anything else in
# the environment reaches the server unchanged.
#
# Exit status: 0 when every step ran (whatever the verdict: this is a
# report), 1 when something could not be built, started or measured.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

IDLE_CONNS=${IDLE_CONNS:-10000}
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNS=${CONNS:-64}
KEYS=${KEYS:-100000}
P99_TARGET=${P99_TARGET:-2.0}
IDLE_TIMEOUT=${IDLE_TIMEOUT:-10m}
KEY_LEN=20
VALUE_LEN=100

need wrk go curl
positive IDLE_CONNS
duration_s=$(whole_seconds DURATION)

conns_pid=
# shellcheck disable=SC2317 # invoked on exit
cleanup_hook() { stop_pid "$conns_pid"; }
make_tmp conns
echo "== building (into $tmp)"
build_warmkv
build_tools conns preload
echo "   warmkv: $warmkv_bin"

bench_lock
report_box
echo "   open-file limit of this shell $(ulimit -Sn) soft / $(ulimit -Hn) hard"

start_warmkv warmkv "$tmp/server.log" IDLE_TIMEOUT="$IDLE_TIMEOUT"
url=http://127.0.0.1:$server_port
echo "== server on $url, IDLE_TIMEOUT=$IDLE_TIMEOUT; its open-file limit: $(grep -o '"nofile":{[^}]*}' "$tmp/server.log" || echo '(not logged)')"
timeout 120 "$tmp/preload" -url "$url" -keys "$KEYS" -key-len "$KEY_LEN" -value-len "$VALUE_LEN" >>"$tmp/preload.log" 2>&1 || {
	tail -n 5 "$tmp/preload.log" >&2
	die "preloading failed"
}
echo "   preloaded $KEYS keys ($KEY_LEN+$VALUE_LEN chars)"

problems=()

# get_run NAME: one GET run of DURATION; sets rps, p99 (ms) and us_per_req
# (server CPU time per request).
get_run() {
	local name=$1 out=$tmp/wrk-$1.log
	run_wrk "$out" "$duration_s" -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency \
		-s "$here/wrk/kv.lua" "$url" -- mode=get keys="$KEYS" keylen="$KEY_LEN"
	rps=$wrk_rps p99=$wrk_p99
	us_per_req=$(us_per_req "$srv_ticks" "$wrk_requests")
	if ((wrk_errors > 0)); then
		problems+=("wrk run '$name': $wrk_non2xx non-2xx answers, $wrk_sockerr socket errors")
		grep -E 'Non-2xx|Socket errors' "$out" | sed 's/^/!!! /' >&2 || true
	fi
	printf '   %-22s %9.0f req/s   p99 %7.2f ms   server %6s us/req   errors %d\n' "$name" "$rps" "$p99" "$us_per_req" "$wrk_errors"
}

echo "== wrk -t$THREADS -c$CONNS -d$DURATION --latency, GET of preloaded keys"
# Not measured: the first seconds of a fresh process (page faults, GC
# sizing) would otherwise count against the run without idle connections.
timeout -k 5 60 wrk -t"$THREADS" -c"$CONNS" -d3s -s "$here/wrk/kv.lua" "$url" -- mode=get keys="$KEYS" keylen="$KEY_LEN" >/dev/null 2>&1 ||
	die "warm-up wrk run failed"

get_run "without idle conns"
rps_without=$rps p99_without=$p99 us_without=$us_per_req

sleep 1 # let the GC settle after the run before the memory baseline
rss_before=$(rss_bytes "$server_pid")
fds_before=$(open_fds "$server_pid")

echo "== opening $IDLE_CONNS idle keep-alive connections (bench/conns, its own process)"
conns_out=$tmp/conns.log
"$tmp/conns" -url "$url" -n "$IDLE_CONNS" -rounds 1 -hold 0 >"$conns_out" 2>"$tmp/conns.err.log" 9>&- &
conns_pid=$!
for _ in $(seq 600); do
	grep -q '^OPEN ' "$conns_out" && break
	kill -0 "$conns_pid" 2>/dev/null || break
	sleep 0.2
done
open_line=$(grep '^OPEN ' "$conns_out" || true)
[[ -n $open_line ]] || {
	cat "$conns_out" "$tmp/conns.err.log" >&2
	die "bench/conns did not report its connections open within 120s"
}
echo "   $open_line"
held=$(field open "$open_line")
sleep 2 # let the server finish accepting and the RSS settle
rss_with=$(rss_bytes "$server_pid")
fds_with=$(open_fds "$server_pid")
per_conn=$(((rss_with - rss_before) / IDLE_CONNS))
echo "   server: RSS $(mb "$rss_before") -> $(mb "$rss_with"), $fds_before -> $fds_with open files;" \
	"$per_conn bytes per idle connection; bench/conns RSS $(mb "$(rss_bytes "$conns_pid")")"

get_run "with $held idle conns"
rps_with=$rps p99_with=$p99 us_with=$us_per_req

# The idle connections must have survived the run: bench/conns counts any
# the server closed as dropped.
kill -0 "$conns_pid" 2>/dev/null || problems+=("bench/conns exited before it was told to")
kill -TERM "$conns_pid" 2>/dev/null || true
conns_rc=0
wait "$conns_pid" || conns_rc=$?
conns_pid=
summary_line=$(grep '^CONNS ' "$conns_out" || true)
echo "   $summary_line"
conn_failures=0
if [[ -z $summary_line ]]; then
	problems+=("bench/conns printed no summary (exit status $conns_rc)")
else
	for f in dial_failed request_failed non2xx dropped; do
		conn_failures=$((conn_failures + $(field "$f" "$summary_line")))
	done
fi
((conn_failures == 0 && held == IDLE_CONNS)) ||
	problems+=("idle connections: $held of $IDLE_CONNS held, $conn_failures failed or dropped (bench/conns: $(head -c 300 "$tmp/conns.err.log"))")

sleep 2 # the server notices the closes asynchronously
fds_after=$(open_fds "$server_pid")
health=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$url/healthz" || true)
key0=k$(printf "%0$((KEY_LEN - 1))d" 0)
get=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$url/get?key=$key0" || true)
echo "== after closing them: $fds_after open files, GET /healthz $health, GET /get?key=$key0 $get"
[[ $health == 200 && $get == 200 ]] || problems+=("server does not answer after the idle connections closed (healthz $health, get $get)")
((fds_after <= fds_before + 10)) || problems+=("server still has $fds_after files open after the idle connections closed (was $fds_before)")

get_run "after closing them"
p99_after=$p99
rss_end=$(rss_bytes "$server_pid")

p99_base=$(awk -v a="$p99_without" -v b="$p99_after" 'BEGIN { print (b < a ? b : a) }')
p99_ratio=$(ratio "$p99_with" "$p99_base")
p99_verdict=$(at_most "$p99_ratio" "$P99_TARGET")

echo
echo "== summary ($IDLE_CONNS idle keep-alive connections, wrk -c$CONNS GET)"
printf '   req/s:  without %.0f, with %.0f (ratio %.2f)\n' "$rps_without" "$rps_with" "$(ratio "$rps_with" "$rps_without")"
printf '   p99:    without %.2f ms (%.2f ms after), with %.2f ms -> ratio %.2f to the lower (target <= %s) %s\n' \
	"$p99_without" "$p99_after" "$p99_with" "$p99_ratio" "$P99_TARGET" "$p99_verdict"
printf '   server CPU per request: without %s us, with %s us (ratio %.2f)\n' "$us_without" "$us_with" "$(ratio "$us_with" "$us_without")"
echo "   memory: RSS $(mb "$rss_before") before, $(mb "$rss_with") with the idle connections," \
	"$(mb "$rss_end") at the end; $per_conn bytes ($(awk -v b="$per_conn" 'BEGIN { printf "%.1f", b / 1024 }') KiB) per idle connection"
if ((${#problems[@]} > 0)); then
	printf '   !!! %s\n' "${problems[@]}"
	echo "   errors: FAIL"
else
	echo "   errors: 0 (wrk socket errors, non-2xx, idle connections failed or dropped) PASS"
fi
verdict=PASS
[[ $p99_verdict == PASS && ${#problems[@]} -eq 0 ]] || verdict=FAIL
echo "   => $verdict"
