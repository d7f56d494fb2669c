#!/usr/bin/env bash
# resp.sh — warmkv's Redis-protocol port against Redis itself (the Debian
# redis-server), with the same redis-benchmark, as ratios of medians over
# alternating runs; then memory per key of both.
#
# The box has 2 cores shared by redis-benchmark and the server, so single runs
# are noisy: every run is a fresh server process, Redis and warmkv alternate
# (the order flips every round to cancel drift), and only medians are compared.
#
# Environment (all optional):
#   N=1000000          requests per test (redis-benchmark -n); lower it for a quick look
#   RUNS=3             runs per server per pipeline depth
#   PIPELINES="1 16"   redis-benchmark -P values
#   CLIENTS=64         redis-benchmark -c
#   KEYSPACE=100000    redis-benchmark -r (random keys out of this many)
#   DATA=100           redis-benchmark -d (value bytes)
#   MEMORY_KEYS=100000 keys loaded for the memory comparison (0 skips it)
#   WARMKV_BIN=path    use this binary instead of building the repo root
#   LOG_DIR=dir        keep every redis-benchmark output and server log there
#   RETRY_NOISY=2      redo a run (at most this many times) when other processes
#                      used more than NOISY_LIMIT=15% of a core during it
# warmkv runs with RESP_PORT, PORT, BIND=127.0.0.1, APP_ENV=production and
# MAX_MEMORY=1GiB (override MAX_MEMORY in the environment); Redis with
# --save '' --appendonly no.
#
# Exit status: 0 when every run ran (whatever the verdicts: this is a report),
# 1 when something could not be built, started or measured.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)

N=${N:-1000000}
RUNS=${RUNS:-3}
PIPELINES=${PIPELINES:-"1 16"}
CLIENTS=${CLIENTS:-64}
KEYSPACE=${KEYSPACE:-100000}
DATA=${DATA:-100}
MEMORY_KEYS=${MEMORY_KEYS:-100000}
RETRY_NOISY=${RETRY_NOISY:-2}
NOISY_LIMIT=${NOISY_LIMIT:-15}
export MAX_MEMORY=${MAX_MEMORY:-1GiB}
TARGET=1.0 # warmkv / Redis, for GET and SET at every pipeline depth

die() {
	echo "resp.sh: $*" >&2
	exit 1
}

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

for tool in redis-server redis-benchmark redis-cli; do
	command -v $tool >/dev/null || die "$tool not found; install it with: apt-get install -y redis-tools redis-server"
done
command -v go >/dev/null || die "go not found"
for v in N RUNS CLIENTS KEYSPACE DATA; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, got '${!v}'"
done
[[ $MEMORY_KEYS =~ ^[0-9]+$ && $RETRY_NOISY =~ ^[0-9]+$ && $NOISY_LIMIT =~ ^[0-9]+$ ]] ||
	die "MEMORY_KEYS, RETRY_NOISY and NOISY_LIMIT must be non-negative integers"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/warmkv-resp.XXXXXX")
server_pid=
server_port=

# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
	stop_server
	keep_logs
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== building (into $tmp)"
build_warmkv
echo "   warmkv: $warmkv_bin"
echo "   redis:  $(redis-server --version)"
echo "   load:   $(redis-benchmark --version 2>/dev/null || echo redis-benchmark)"

# start_server NAME LOG: starts a fresh Redis or warmkv on a free port (in
# server_port) and waits until it answers PING.
start_server() {
	local name=$1 log=$2
	for _ in 1 2 3; do
		server_port=$(free_port)
		if [[ $name == redis ]]; then
			redis-server --port "$server_port" --bind 127.0.0.1 --save '' --appendonly no \
				--dir "$tmp" --daemonize no >"$log" 2>&1 &
		else
			RESP_PORT=$server_port PORT=$(free_port) BIND=127.0.0.1 APP_ENV=production \
				"$warmkv_bin" >"$log" 2>&1 &
		fi
		server_pid=$!
		for _ in $(seq 100); do
			if [[ $(redis-cli -p "$server_port" PING 2>/dev/null) == PONG ]]; then
				return 0
			fi
			kill -0 "$server_pid" 2>/dev/null || break
			sleep 0.1
		done
		stop_server
		grep -qi 'address already in use' "$log" || break
	done
	echo "!!! $name did not answer PING on 127.0.0.1:$server_port; its log:" >&2
	tail -n 20 "$log" >&2
	die "could not start $name"
}

clk_tck=$(getconf CLK_TCK)
ncpu=$(grep -c '^cpu[0-9]' /proc/stat)

idle_busy=$(busy_percent 2)
echo "== box: $ncpu CPUs; before starting, other processes use ${idle_busy}% of one core"
if ((idle_busy > 10)); then
	echo "!!! THE BOX IS NOT IDLE (${idle_busy}% of a core busy before any benchmark process started): expect noisy ratios"
fi

problems=()

# measure P SERVER RUN ATTEMPT: a fresh server, one redis-benchmark of SET
# then GET. Appends "set_rps get_rps srv_us_per_req others_cpu" to
# $tmp/P.SERVER and sets measured=yes, or measured=no when other processes
# disturbed the run and it should be redone.
measure() {
	local p=$1 name=$2 run=$3 attempt=$4 log out
	log=$tmp/P$p-$name-$run.$attempt.server.log
	out=$tmp/P$p-$name-$run.$attempt.benchmark.log
	start_server "$name" "$log"

	local t0 t1 m0 m1 c0 c1
	t0=$(cpu_ticks "$server_pid")
	c0=$(children_ticks)
	m0=$(machine_ticks)
	if ! timeout -k 5 1800 redis-benchmark -p "$server_port" -t set,get -n "$N" -r "$KEYSPACE" -d "$DATA" \
		-c "$CLIENTS" -P "$p" --csv >"$out" 2>&1; then
		cat "$out" >&2
		die "redis-benchmark failed against $name (P$p run $run)"
	fi
	t1=$(cpu_ticks "$server_pid")
	c1=$(children_ticks)
	m1=$(machine_ticks)
	kill -0 "$server_pid" 2>/dev/null || {
		tail -n 20 "$log" >&2
		die "$name died during P$p run $run"
	}
	stop_server

	local set_rps get_rps
	set_rps=$(awk -F'"' '$2 == "SET" { print $4 }' "$out")
	get_rps=$(awk -F'"' '$2 == "GET" { print $4 }' "$out")
	[[ -n $set_rps && -n $get_rps ]] || {
		cat "$out" >&2
		die "could not parse redis-benchmark's output ($name, P$p run $run)"
	}
	if grep -qiE 'error|err ' "$out"; then
		problems+=("P$p run $run, $name: $(grep -iE 'error|err ' "$out" | head -1)")
		echo "!!! P$p run $run, $name: ERRORS in redis-benchmark's output:" >&2
		grep -iE 'error|err ' "$out" | head -3 >&2
	fi

	local srv_cpu bench_cpu other_cpu us_per_req
	read -r srv_cpu bench_cpu other_cpu < <(awk -v s="$((t1 - t0))" -v w="$((c1 - c0))" -v m0="$m0" -v m1="$m1" -v n="$ncpu" 'BEGIN {
		split(m0, x, " "); split(m1, y, " ")
		busy = y[1] - x[1]; wall = (y[2] - x[2]) / n
		if (wall <= 0) wall = 1
		other = busy - s - w; if (other < 0) other = 0
		printf "%.0f %.0f %.0f\n", s / wall * 100, w / wall * 100, other / wall * 100
	}')
	us_per_req=$(awk -v a="$t0" -v b="$t1" -v hz="$clk_tck" -v n="$((2 * N))" 'BEGIN { printf "%.2f", (b - a) / hz * 1e6 / n }')
	if ((other_cpu > NOISY_LIMIT && attempt < RETRY_NOISY)); then
		printf '%-4s %-7s %11.0f %11.0f %8s%% %8s%% %8s%% %10s   discarded: other processes were busy, redoing\n' \
			"($run)" "$name" "$set_rps" "$get_rps" "$srv_cpu" "$bench_cpu" "$other_cpu" "$us_per_req"
		measured=no
		return 0
	fi
	measured=yes
	echo "$set_rps $get_rps $us_per_req $other_cpu" >>"$tmp/P$p.$name"
	printf '%-4s %-7s %11.0f %11.0f %8s%% %8s%% %8s%% %10s\n' "$run" "$name" "$set_rps" "$get_rps" "$srv_cpu" "$bench_cpu" "$other_cpu" "$us_per_req"
}

run_one() {
	local attempt
	for ((attempt = 0; ; attempt++)); do
		measure "$@" "$attempt"
		[[ $measured == yes ]] && break
	done
}

summary=()
for p in $PIPELINES; do
	[[ $p =~ ^[1-9][0-9]*$ ]] || die "PIPELINES must hold positive integers, got '$p'"
	echo
	echo "== redis-benchmark -t set,get -n $N -r $KEYSPACE -d $DATA -c $CLIENTS -P $p"
	echo "   $RUNS fresh runs per server, alternating; ops/s per test, CPU in % of one core"
	printf '%-4s %-7s %11s %11s %9s %9s %9s %10s\n' run server "SET ops/s" "GET ops/s" srv-cpu bench-cpu others "srv-us/req"
	: >"$tmp/P$p.redis"
	: >"$tmp/P$p.warmkv"
	for ((run = 1; run <= RUNS; run++)); do
		if ((run % 2)); then order=(redis warmkv); else order=(warmkv redis); fi
		for name in "${order[@]}"; do
			run_one "$p" "$name" "$run"
		done
	done
	# shellcheck disable=SC2046 # one number per line, split on purpose
	{
		r_set=$(median $(awk '{ print $1 }' "$tmp/P$p.redis"))
		w_set=$(median $(awk '{ print $1 }' "$tmp/P$p.warmkv"))
		r_get=$(median $(awk '{ print $2 }' "$tmp/P$p.redis"))
		w_get=$(median $(awk '{ print $2 }' "$tmp/P$p.warmkv"))
		r_us=$(median $(awk '{ print $3 }' "$tmp/P$p.redis"))
		w_us=$(median $(awk '{ print $3 }' "$tmp/P$p.warmkv"))
		others=$(awk '$4 > m { m = $4 } END { print m + 0 }' "$tmp/P$p.redis" "$tmp/P$p.warmkv")
	}
	noisy=
	if ((others > NOISY_LIMIT)); then
		echo "   !!! other processes took up to ${others}% of a core during these runs: the ratios are unreliable"
		noisy=" [NOISY: others took up to ${others}% of a core]"
	fi
	for test in SET GET; do
		if [[ $test == SET ]]; then r=$r_set w=$w_set; else r=$r_get w=$w_get; fi
		ratio=$(awk -v w="$w" -v r="$r" 'BEGIN { printf "%.3f", w / r }')
		verdict=$(awk -v x="$ratio" -v t="$TARGET" 'BEGIN { print (x >= t ? "PASS" : "FAIL") }')
		echo "   median $test ops/s: redis $(printf '%.0f' "$r"), warmkv $(printf '%.0f' "$w") -> ratio $ratio (target >= $TARGET) $verdict"
		summary+=("$(printf '%-3s -P %-3s ops/s ratio warmkv/redis %s (>= %s) %s%s' "$test" "$p" "$ratio" "$TARGET" "$verdict" "$noisy")")
	done
	echo "   median server CPU per request: redis ${r_us}us, warmkv ${w_us}us -> ratio $(awk -v w="$w_us" -v r="$r_us" 'BEGIN { printf "%.3f", w / r }') (diagnostic, lower is better)"
done

# Memory per key: load MEMORY_KEYS keys of 16 bytes ("key:%012d", as
# redis-benchmark names them) with DATA-byte values into a fresh server, with
# redis-cli --pipe, and compare what each server says it uses, and its RSS,
# before and after.
rss_bytes() { awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$1/status"; }
used_memory() { redis-cli -p "$1" INFO memory | tr -d '\r' | awk -F: '$1 == "used_memory" { print $2 }'; }

if ((MEMORY_KEYS > 0)); then
	echo
	echo "== memory: $MEMORY_KEYS keys of 16 bytes with $DATA-byte values, loaded with redis-cli --pipe"
	value=$(head -c "$DATA" /dev/zero | tr '\0' x)
	awk -v n="$MEMORY_KEYS" -v v="$value" 'BEGIN {
		for (i = 0; i < n; i++) printf "*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$%d\r\n%s\r\n", i, length(v), v
	}' >"$tmp/load.resp"
	printf '%-7s %10s %16s %14s %16s %14s %12s\n' server keys "used_memory" "used/key" "used delta/key" "RSS delta" "RSS/key"
	declare -A mem_line
	for name in redis warmkv; do
		start_server "$name" "$tmp/memory-$name.log"
		sleep 0.5
		used0=$(used_memory "$server_port")
		rss0=$(rss_bytes "$server_pid")
		if ! redis-cli -p "$server_port" --pipe <"$tmp/load.resp" >"$tmp/memory-$name-pipe.log" 2>&1 ||
			! grep -q "errors: 0" "$tmp/memory-$name-pipe.log"; then
			cat "$tmp/memory-$name-pipe.log" >&2
			die "loading keys into $name failed"
		fi
		sleep 1 # let the GC settle before reading RSS
		used1=$(used_memory "$server_port")
		rss1=$(rss_bytes "$server_pid")
		keys=$(redis-cli -p "$server_port" DBSIZE)
		stop_server
		((keys == MEMORY_KEYS)) || problems+=("memory: $name holds $keys keys, not $MEMORY_KEYS")
		read -r per_key delta_per_key rss_delta rss_per_key < <(awk -v u0="$used0" -v u1="$used1" -v r0="$rss0" -v r1="$rss1" -v k="$keys" \
			'BEGIN { printf "%.0f %.0f %.0f %.0f\n", u1 / k, (u1 - u0) / k, r1 - r0, (r1 - r0) / k }')
		printf '%-7s %10s %16s %14s %16s %14s %12s\n' "$name" "$keys" "$used1" "$per_key" "$delta_per_key" "$rss_delta" "$rss_per_key"
		mem_line[$name]="used_memory/key $per_key B (delta $delta_per_key B), RSS delta/key $rss_per_key B"
	done
	echo "   used_memory: Redis's allocator figure; warmkv's is what the cache charges against MAX_MEMORY"
	echo "   (its preallocated LRU slots included, hence used/key far above the delta on a nearly empty cache)."
	summary+=("memory redis:  ${mem_line[redis]}")
	summary+=("memory warmkv: ${mem_line[warmkv]}")
fi

echo
echo "== summary"
for line in "${summary[@]}"; do
	echo "   $line"
done
if ((${#problems[@]} > 0)); then
	echo "!!! problems:"
	printf '    %s\n' "${problems[@]}"
fi
