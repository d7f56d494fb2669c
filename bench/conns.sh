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
# PORT, BIND=127.0.0.1 and APP_ENV=production are set here; anything else in
# the environment reaches the server unchanged.
#
# Exit status: 0 when every step ran (whatever the verdict: this is a
# report), 1 when something could not be built, started or measured.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)

IDLE_CONNS=${IDLE_CONNS:-10000}
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNS=${CONNS:-64}
KEYS=${KEYS:-100000}
P99_TARGET=${P99_TARGET:-2.0}
IDLE_TIMEOUT=${IDLE_TIMEOUT:-10m}
KEY_LEN=20
VALUE_LEN=100

die() {
	echo "conns.sh: $*" >&2
	exit 1
}

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

command -v wrk >/dev/null || die "wrk not found; install it with: apt-get install -y wrk"
command -v go >/dev/null || die "go not found"
command -v curl >/dev/null || die "curl not found; install it with: apt-get install -y curl"
[[ $IDLE_CONNS =~ ^[1-9][0-9]*$ ]] || die "IDLE_CONNS must be a positive integer, got '$IDLE_CONNS'"
[[ $DURATION =~ ^[1-9][0-9]*s?$ ]] || die "DURATION must be whole seconds (e.g. 10s), got '$DURATION'"
duration_s=${DURATION%s}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/warmkv-conns.XXXXXX")
server_pid=
conns_pid=

# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
	if [[ -n $conns_pid ]]; then
		kill -TERM "$conns_pid" 2>/dev/null || true
		wait "$conns_pid" 2>/dev/null || true
	fi
	stop_server
	keep_logs
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== building (into $tmp)"
build_warmkv
build_tools conns preload
echo "   warmkv: $warmkv_bin"

ncpu=$(grep -c '^cpu[0-9]' /proc/stat)
clk_tck=$(getconf CLK_TCK)
idle_busy=$(busy_percent 2)
echo "== box: $ncpu CPUs, open-file limit of this shell $(ulimit -Sn) soft / $(ulimit -Hn) hard;" \
	"other processes use ${idle_busy}% of one core"
((idle_busy > 10)) && echo "!!! THE BOX IS NOT IDLE: expect noisy p99 figures"

# rss_bytes PID: resident set size of PID in bytes.
rss_bytes() {
	awk '$1 == "VmRSS:" { print $2 * 1024 }' "/proc/$1/status"
}

# open_fds PID: how many file descriptors PID has open.
open_fds() {
	local fds=("/proc/$1/fd/"*)
	echo "${#fds[@]}"
}

mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }

# to_ms converts a wrk time ("850.12us", "1.23ms", "2.00s") to ms.
to_ms() {
	awk -v t="$1" 'BEGIN {
		if (t ~ /us$/) { sub(/us$/, "", t); printf "%.3f", t / 1000; exit }
		if (t ~ /ms$/) { sub(/ms$/, "", t); printf "%.3f", t; exit }
		if (t ~ /s$/) { sub(/s$/, "", t); printf "%.3f", t * 1000; exit }
		exit 1
	}'
}

# Start the server; a port somebody grabbed in between costs a retry.
log=$tmp/server.log
for _ in 1 2 3; do
	port=$(free_port)
	PORT=$port BIND=127.0.0.1 APP_ENV=production IDLE_TIMEOUT=$IDLE_TIMEOUT "$warmkv_bin" >"$log" 2>&1 &
	server_pid=$!
	if timeout 20 "$tmp/preload" -url "http://127.0.0.1:$port" -keys 0 -wait 10s >>"$tmp/preload.log" 2>&1 &&
		kill -0 "$server_pid" 2>/dev/null; then
		break
	fi
	stop_server
	grep -qi 'address already in use' "$log" || break
done
[[ -n $server_pid ]] || {
	tail -n 20 "$log" >&2
	die "warmkv did not become healthy"
}
url=http://127.0.0.1:$port
echo "== server on $url, IDLE_TIMEOUT=$IDLE_TIMEOUT; its open-file limit: $(grep -o '"nofile":{[^}]*}' "$log" || echo '(not logged)')"
timeout 120 "$tmp/preload" -url "$url" -keys "$KEYS" -key-len "$KEY_LEN" -value-len "$VALUE_LEN" >>"$tmp/preload.log" 2>&1 || {
	tail -n 5 "$tmp/preload.log" >&2
	die "preloading failed"
}
echo "   preloaded $KEYS keys ($KEY_LEN+$VALUE_LEN chars)"

problems=()

# run_wrk NAME: one GET run of DURATION; sets rps, p99 (ms), errors and
# us_per_req (server CPU time per request).
run_wrk() {
	local name=$1 out=$tmp/wrk-$1.log t0 t1 requests non2xx sockerr
	t0=$(cpu_ticks "$server_pid")
	timeout -k 5 $((duration_s + 60)) wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency \
		-s "$here/wrk/kv.lua" "$url" -- mode=get keys="$KEYS" keylen="$KEY_LEN" >"$out" 2>&1 || {
		cat "$out" >&2
		die "wrk failed ($name)"
	}
	t1=$(cpu_ticks "$server_pid")
	rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
	requests=$(awk '/ requests in / { print $1 }' "$out")
	p99=$(awk '$1 == "99%" { print $2 }' "$out")
	[[ -n $rps && -n $p99 && -n $requests ]] || {
		cat "$out" >&2
		die "could not parse wrk output ($name)"
	}
	p99=$(to_ms "$p99") || die "unknown latency unit in wrk output: $p99"
	non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
	sockerr=$(awk '/Socket errors:/ { gsub(/,/, ""); print $4 + $6 + $8 + $10 }' "$out")
	errors=$((${non2xx:-0} + ${sockerr:-0}))
	us_per_req=$(awk -v a="$t0" -v b="$t1" -v hz="$clk_tck" -v n="$requests" 'BEGIN { printf "%.2f", (n > 0 ? (b - a) / hz * 1e6 / n : 0) }')
	if ((errors > 0)); then
		problems+=("wrk run '$name': ${non2xx:-0} non-2xx answers, ${sockerr:-0} socket errors")
		grep -E 'Non-2xx|Socket errors' "$out" | sed 's/^/!!! /' >&2 || true
	fi
	printf '   %-22s %9.0f req/s   p99 %7.2f ms   server %6s us/req   errors %d\n' "$name" "$rps" "$p99" "$us_per_req" "$errors"
}

echo "== wrk -t$THREADS -c$CONNS -d$DURATION --latency, GET of preloaded keys"
# Not measured: the first seconds of a fresh process (page faults, GC
# sizing) would otherwise count against the run without idle connections.
timeout -k 5 60 wrk -t"$THREADS" -c"$CONNS" -d3s -s "$here/wrk/kv.lua" "$url" -- mode=get keys="$KEYS" keylen="$KEY_LEN" >/dev/null 2>&1 ||
	die "warm-up wrk run failed"

run_wrk "without idle conns"
rps_without=$rps p99_without=$p99 us_without=$us_per_req

sleep 1 # let the GC settle after the run before the memory baseline
rss_before=$(rss_bytes "$server_pid")
fds_before=$(open_fds "$server_pid")

echo "== opening $IDLE_CONNS idle keep-alive connections (bench/conns, its own process)"
conns_out=$tmp/conns.log
"$tmp/conns" -url "$url" -n "$IDLE_CONNS" -rounds 1 -hold 0 >"$conns_out" 2>"$tmp/conns.err.log" &
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
held=$(sed -n 's/^OPEN .* open=\([0-9]*\).*/\1/p' <<<"$open_line")
sleep 2 # let the server finish accepting and the RSS settle
rss_with=$(rss_bytes "$server_pid")
fds_with=$(open_fds "$server_pid")
per_conn=$(((rss_with - rss_before) / IDLE_CONNS))
echo "   server: RSS $(mb "$rss_before") -> $(mb "$rss_with"), $fds_before -> $fds_with open files;" \
	"$per_conn bytes per idle connection; bench/conns RSS $(mb "$(rss_bytes "$conns_pid")")"

run_wrk "with $held idle conns"
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
	conn_failures=$(awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] ~ /^(dial_failed|request_failed|non2xx|dropped)$/) n += kv[2] } } END { print n + 0 }' <<<"$summary_line")
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

run_wrk "after closing them"
p99_after=$p99
rss_end=$(rss_bytes "$server_pid")
kill -0 "$server_pid" 2>/dev/null || problems+=("server died")

p99_base=$(awk -v a="$p99_without" -v b="$p99_after" 'BEGIN { print (b < a ? b : a) }')
ratio=$(awk -v w="$p99_with" -v b="$p99_base" 'BEGIN { printf "%.2f", (b > 0 ? w / b : 0) }')
rps_ratio=$(awk -v w="$rps_with" -v b="$rps_without" 'BEGIN { printf "%.2f", (b > 0 ? w / b : 0) }')
us_ratio=$(awk -v w="$us_with" -v b="$us_without" 'BEGIN { printf "%.2f", (b > 0 ? w / b : 0) }')
p99_verdict=$(awk -v r="$ratio" -v t="$P99_TARGET" 'BEGIN { print (r <= t ? "PASS" : "FAIL") }')

echo
echo "== summary ($IDLE_CONNS idle keep-alive connections, wrk -c$CONNS GET)"
printf '   req/s:  without %.0f, with %.0f (ratio %s)\n' "$rps_without" "$rps_with" "$rps_ratio"
printf '   p99:    without %.2f ms (%.2f ms after), with %.2f ms -> ratio %s to the lower (target <= %s) %s\n' \
	"$p99_without" "$p99_after" "$p99_with" "$ratio" "$P99_TARGET" "$p99_verdict"
printf '   server CPU per request: without %s us, with %s us (ratio %s)\n' "$us_without" "$us_with" "$us_ratio"
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
