#!/usr/bin/env bash
# snapshot.sh — how fast warmkv writes and restores snapshots, and whether
# taking one slows GETs down, with 1M keys.
#
#  1. bench/snapshot (in process, no HTTP): fills a cache with KEYS keys,
#     writes it RUNS times and restores it RUNS times; prints keys/s, MB/s and
#     the file size per key, and how long a snapshot holds each shard's lock.
#  2. The real server starts from that snapshot (its restore log line is
#     printed), then wrk measures GET p99 over uniformly random keys, RUNS
#     times without a snapshot and RUNS times while POST /snapshot runs back to
#     back, alternating. Target: median p99 during <= 2x median p99 without.
#
# wrk, the server and the snapshot writer share the box's cores, so a run is
# noisy; only medians are compared. A run during which other processes used
# more than NOISY_LIMIT% of a core is flagged NOISY and done again; the verdict
# counts only the quiet runs when each phase has at least one.
#
# Environment (all optional):
#   KEYS=1000000 KEY_LEN=20 VALUE_LEN=100   the data set
#   RUNS=3                                  runs per phase
#   DURATION=10s THREADS=2 CONNS=32         wrk -d / -t / -c
#   MAX_MEMORY=1GiB                         the server's budget (must hold KEYS)
#   RETRY_NOISY=2 NOISY_LIMIT=15            redo a run (at most RETRY_NOISY times)
#                                           when other processes used more than
#                                           NOISY_LIMIT% of a core during it
#   LOG_DIR=dir                             keep wrk outputs and the server log
#
# Exit status: 0 when everything ran (whatever the verdict: this is a report),
# 1 when something could not be built, started or measured.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

KEYS=${KEYS:-1000000}
KEY_LEN=${KEY_LEN:-20}
VALUE_LEN=${VALUE_LEN:-100}
RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNS=${CONNS:-32}
MAX_MEMORY=${MAX_MEMORY:-1GiB}
RETRY_NOISY=${RETRY_NOISY:-2}
NOISY_LIMIT=${NOISY_LIMIT:-15}
P99_TARGET=2.0

need wrk curl go
positive RUNS
non_negative RETRY_NOISY NOISY_LIMIT

loop_pid=
# shellcheck disable=SC2317 # invoked on exit
cleanup_hook() { stop_pid "$loop_pid"; }
make_tmp snapshot
echo "building warmkv and bench/snapshot..."
build_warmkv
build_tools snapshot
bench_lock

echo
echo "== 1. snapshot and restore speed, in process ($KEYS keys, $KEY_LEN-char keys, $VALUE_LEN-char values, median of $RUNS)"
"$tmp/snapshot" -keys "$KEYS" -key-len "$KEY_LEN" -value-len "$VALUE_LEN" -runs "$RUNS" -out "$tmp/warmkv.snap" ||
	die "bench/snapshot failed"

start_warmkv warmkv "$tmp/server.log" RESP_PORT=0 MAX_MEMORY="$MAX_MEMORY" \
	SNAPSHOT_PATH="$tmp/warmkv.snap" SNAPSHOT_INTERVAL=24h
url="http://127.0.0.1:$server_port"
echo
echo "== 2. the real server, started from that snapshot"
grep -o '"msg":"snapshot restored".*' "$tmp/server.log" | head -1
count=$(curl -fs "$url/stats" | grep -o '"keyCount":[0-9]*' | cut -d: -f2)
[[ $count == "$KEYS" ]] || die "the server holds $count keys after the restore, want $KEYS"
echo "keyCount after restore: $count"

# proc_jiffies PID is the CPU time of a process (user + system) and of its
# children that have exited (the snapshot loop's curl processes).
proc_jiffies() { awk '{ print $14 + $15 + $16 + $17 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

# measure NAME FILE [LOOP_PID] runs wrk and appends "p99_ms req/s others_pct"
# to FILE, where others_pct is the CPU that processes other than the server,
# wrk and the snapshot loop used during the run, in % of one core.
measure() {
	local name=$1 file=$2 out="$tmp/$1.wrk.log" loop=${3:-}
	local busy0 srv0 loop0=0 t0 wrk_pid wrk_cpu
	busy0=$(machine_ticks) busy0=${busy0% *} srv0=$(proc_jiffies "$server_pid") t0=$(date +%s.%N)
	[[ -n $loop ]] && loop0=$(proc_jiffies "$loop")
	wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$here/snapshot/get.lua" "$url" -- keys="$KEYS" keylen="$KEY_LEN" >"$out" 2>&1 &
	wrk_pid=$!
	wrk_cpu=0
	while kill -0 "$wrk_pid" 2>/dev/null; do
		wrk_cpu=$(proc_jiffies "$wrk_pid")
		sleep 0.2
	done
	wait "$wrk_pid" || die "wrk failed: $(cat "$out")"
	local others loop_cpu=0
	[[ -n $loop ]] && loop_cpu=$(($(proc_jiffies "$loop") - loop0))
	local busy1
	busy1=$(machine_ticks)
	others=$(awk -v b="$((${busy1% *} - busy0))" -v s="$(($(proc_jiffies "$server_pid") - srv0))" -v w="$wrk_cpu" \
		-v c="$loop_cpu" -v hz="$clk_tck" -v t0="$t0" -v t1="$(date +%s.%N)" \
		'BEGIN { o = (b - s - w - c) / hz / (t1 - t0) * 100; printf "%.0f", (o < 0 ? 0 : o) }')
	parse_wrk "$out"
	((wrk_errors == 0)) || echo "!!! $name: $(grep -E 'Non-2xx|Socket errors' "$out" | tr '\n' ' ')"
	echo "$wrk_p99 $wrk_rps $others" >>"$file"
}

# snapshot_loop writes snapshots back to back, counting them in $tmp/snapshots.
snapshot_loop() {
	while :; do
		curl -fs -X POST "$url/snapshot" >/dev/null && echo x >>"$tmp/snapshots"
	done
}

# phase RUN NAME FILE runs one measurement, with POST /snapshot back to back
# if NAME is "during snapshots", and prints its row. A run during which other
# processes took more than NOISY_LIMIT% of a core is done again, at most
# RETRY_NOISY times; the last one counts.
phase() {
	local run=$1 name=$2 file=$3 try p rps others snaps=-
	for try in $(seq 0 "$RETRY_NOISY"); do
		if [[ $name == "during snapshots" ]]; then
			: >"$tmp/snapshots"
			snapshot_loop &
			loop_pid=$!
			sleep 0.2 # the first snapshot is under way
			measure "during-$run" "$file" "$loop_pid"
			kill "$loop_pid" 2>/dev/null
			wait "$loop_pid" 2>/dev/null || true
			loop_pid=
			snaps=$(wc -l <"$tmp/snapshots")
		else
			measure "quiet-$run" "$file"
		fi
		read -r p rps others < <(tail -1 "$file")
		local flag=""
		((others > NOISY_LIMIT)) && flag="NOISY"
		printf '%-4s %-16s %10.2f %10.0f %10s %9s%% %s\n' "$run" "$name" "$p" "$rps" "$snaps" "$others" "$flag"
		[[ -z $flag || $try == "$RETRY_NOISY" ]] && break
		sed -i '$d' "$file" # dropped: measured again
	done
}

echo
echo "== 3. GET p99, wrk -t$THREADS -c$CONNS -d$DURATION over $KEYS random keys"
wrk -t"$THREADS" -c"$CONNS" -d3s -s "$here/snapshot/get.lua" "$url" -- keys="$KEYS" keylen="$KEY_LEN" >/dev/null 2>&1 # warm-up
printf '%-4s %-16s %10s %10s %10s %10s\n' run phase "p99 ms" "req/s" snapshots others
for run in $(seq "$RUNS"); do
	phase "$run" "no snapshot" "$tmp/quiet"
	phase "$run" "during snapshots" "$tmp/during"
done

# The verdict uses the runs during which the box was otherwise quiet, if each
# phase has one; otherwise all of them, and says so.
clean() { awk -v l="$NOISY_LIMIT" '$3 <= l' "$1"; }
note=""
if [[ -n $(clean "$tmp/quiet") && -n $(clean "$tmp/during") ]]; then
	clean "$tmp/quiet" >"$tmp/quiet.used"
	clean "$tmp/during" >"$tmp/during.used"
else
	cp "$tmp/quiet" "$tmp/quiet.used"
	cp "$tmp/during" "$tmp/during.used"
	note=" (NOISY: other processes were busy during every run of a phase; do not trust it)"
fi
quiet=$(column 1 "$tmp/quiet.used")
during=$(column 1 "$tmp/during.used")
ratio=$(ratio "$during" "$quiet")
verdict=$(at_most "$ratio" "$P99_TARGET")
echo
printf 'median GET p99 over %d + %d runs: %.2f ms without a snapshot, %.2f ms during snapshots\n' \
	"$(wc -l <"$tmp/quiet.used")" "$(wc -l <"$tmp/during.used")" "$quiet" "$during"
printf 'p99 during / without: %.2fx (target <= %sx) %s%s\n' "$ratio" "$P99_TARGET" "$verdict" "$note"
grep -o '"msg":"snapshot written".*' "$tmp/server.log" | tail -1 | sed 's/^/last snapshot by the server: /'
