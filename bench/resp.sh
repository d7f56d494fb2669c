#!/usr/bin/env bash
# resp.sh — warmkv's Redis-protocol port against Redis itself (the Debian
# redis-server), with the same redis-benchmark, as ratios of medians over
# alternating runs; then memory per key of both.
#
# Three servers take turns: redis, warmkv, and noepoll, the same warmkv built
# with -tags noepoll, which serves every connection with a goroutine instead
# of the epoll event loops (resp/serve_epoll_linux.go). The ratio warmkv /
# noepoll is what the event loops are worth. A fourth, baseline, is another
# build of warmkv (BASELINE_BIN), to measure a change against the code before
# it in the same rounds: warmkv / baseline.
#
# The box has 2 cores shared by redis-benchmark and the server, so single runs
# are noisy: every run is a fresh server process, the servers alternate (the
# order reverses every round to cancel drift), and only medians are compared.
#
# Environment (all optional):
#   SERVERS="redis warmkv noepoll"  which servers take turns (any of redis,
#                      warmkv, noepoll, baseline)
#   N=1000000          requests per test (redis-benchmark -n); lower it for a quick look
#   RUNS=3             runs per server per pipeline depth
#   PIPELINES="1 16"   redis-benchmark -P values
#   WARMUP=0           unmeasured passes of the same redis-benchmark before the
#                      measured one, on each fresh server: 0 measures a cold
#                      server (heap, tables and page mappings still growing),
#                      1 one in its steady state
#   CLIENTS=64         redis-benchmark -c
#   KEYSPACE=100000    redis-benchmark -r (random keys out of this many)
#   DATA=100           redis-benchmark -d (value bytes)
#   MEMORY_KEYS=100000 keys loaded for the memory comparison (0 skips it)
#   ATOMIC_N=200000    transactions and scripts per run in the MULTI/EXEC and
#                      EVALSHA section (0 skips it): multiload's MULTI, INCR,
#                      SET, EXEC, then redis-benchmark's EVALSHA of a script
#                      that reads a key and writes it, redis and warmkv
#                      alternating, RUNS rounds, -P 1
#   WARMKV_BIN=path    use this binary instead of building the repo root
#   NOEPOLL_BIN=path   use this binary instead of building it with -tags noepoll
#   BASELINE_BIN=path  the baseline server's binary (needed when SERVERS has
#                      baseline), e.g. main built before a change
#   LOG_DIR=dir        keep every redis-benchmark output and server log there
#   RETRY_NOISY=2      redo a run (at most this many times) when other processes
#                      used more than NOISY_LIMIT=15% of a core during it
#   WAIT_IDLE=0        before each run, wait up to this many seconds for other
#                      processes to leave the CPUs idle (< 10% of a core)
#   BENCH_LOCK=/tmp/warmkv-bench.lock  held while measuring (empty: none)
# warmkv runs with RESP_PORT, PORT, BIND=127.0.0.1, APP_ENV=production and
# MAX_MEMORY=1GiB (override MAX_MEMORY in the environment); Redis with
# --save '' --appendonly no.
#
# Exit status: 0 when every run ran (whatever the verdicts: this is a report),
# 1 when something could not be built, started or measured.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

SERVERS=${SERVERS:-redis warmkv noepoll}
N=${N:-1000000}
RUNS=${RUNS:-3}
PIPELINES=${PIPELINES:-"1 16"}
WARMUP=${WARMUP:-0}
phase=cold
((WARMUP == 0)) || phase=warm
CLIENTS=${CLIENTS:-64}
KEYSPACE=${KEYSPACE:-100000}
DATA=${DATA:-100}
MEMORY_KEYS=${MEMORY_KEYS:-100000}
ATOMIC_N=${ATOMIC_N:-200000}
RETRY_NOISY=${RETRY_NOISY:-2}
NOISY_LIMIT=${NOISY_LIMIT:-15}
WAIT_IDLE=${WAIT_IDLE:-0}
export MAX_MEMORY=${MAX_MEMORY:-1GiB}
TARGET=1.0 # warmkv / Redis, for GET and SET at every pipeline depth

need redis-server redis-benchmark redis-cli go
positive N RUNS CLIENTS KEYSPACE DATA
non_negative MEMORY_KEYS ATOMIC_N RETRY_NOISY NOISY_LIMIT WAIT_IDLE WARMUP
read -r -a servers <<<"$SERVERS"
for name in "${servers[@]}"; do
	case $name in redis | warmkv | noepoll | baseline) ;; *) die "unknown server '$name' in SERVERS (want redis, warmkv, noepoll, baseline)" ;; esac
done
has() { [[ " $SERVERS " == *" $1 "* ]]; }

make_tmp resp
echo "== building (into $tmp)"
build_warmkv
echo "   warmkv:  $warmkv_bin"
if has noepoll; then
	if [[ -n ${NOEPOLL_BIN:-} ]]; then
		[[ -x $NOEPOLL_BIN ]] || die "NOEPOLL_BIN=$NOEPOLL_BIN is not an executable"
		noepoll_bin=$NOEPOLL_BIN
	else
		(cd "$root" && go build -tags noepoll -o "$tmp/warmkv-noepoll" .) || die "go build -tags noepoll failed"
		noepoll_bin=$tmp/warmkv-noepoll
	fi
	echo "   noepoll: $noepoll_bin"
fi
if has baseline; then
	[[ -x ${BASELINE_BIN:-} ]] || die "SERVERS has baseline: set BASELINE_BIN to an executable"
	echo "   baseline: $BASELINE_BIN"
fi
if ((ATOMIC_N > 0)); then
	build_tools multiload
	echo "   multiload: $tmp/multiload"
fi
echo "   redis:   $(redis-server --version)"
echo "   load:    $(redis-benchmark --version 2>/dev/null || echo redis-benchmark)"

# start NAME LOG: a fresh server of that name, answering PING.
start() {
	case $1 in
	redis) start_redis "$1" "$2" ;;
	warmkv | noepoll | baseline)
		local bin=$warmkv_bin
		[[ $1 == noepoll ]] && bin=$noepoll_bin
		[[ $1 == baseline ]] && bin=$BASELINE_BIN
		start_server "$1" "$2" wait_ping \
			env RESP_PORT=%PORT% PORT=%PORT2% BIND=127.0.0.1 APP_ENV=production "$bin"
		;;
	esac
}

bench_lock
report_box
problems=()

# pass_begins and pass_ends read the server's CPU ticks and page faults, this
# shell's children's ticks and the machine's around a measured pass, into the
# caller's t0 f0 c0 m0 and t1 f1 c1 m1 (bash functions see their caller's
# locals). pass_ends WHAT then stops the server, which must have lived
# through the pass.
# shellcheck disable=SC2317 # called from measure and measure_atomic
pass_begins() {
	t0=$(cpu_ticks "$server_pid")
	f0=$(minor_faults "$server_pid")
	c0=$(children_ticks)
	m0=$(machine_ticks)
}
# shellcheck disable=SC2317 # called from measure and measure_atomic
pass_ends() {
	t1=$(cpu_ticks "$server_pid")
	f1=$(minor_faults "$server_pid")
	c1=$(children_ticks)
	m1=$(machine_ticks)
	kill -0 "$server_pid" 2>/dev/null || {
		tail -n 20 "$log" >&2
		die "$1 died during $2"
	}
	stop_server
}

# measure P SERVER RUN ATTEMPT: a fresh server, one redis-benchmark of SET
# then GET. Appends "set_rps get_rps srv_us_per_req others_cpu" to
# $tmp/P.SERVER and sets measured=yes, or measured=no when other processes
# disturbed the run and it should be redone.
# shellcheck disable=SC2317 # called through until_quiet
measure() {
	local p=$1 name=$2 run=$3 attempt=$4 log out
	log=$tmp/P$p-$name-$run.$attempt.server.log
	out=$tmp/P$p-$name-$run.$attempt.benchmark.log
	wait_idle
	start "$name" "$log"

	local t0 t1 m0 m1 c0 c1 f0 f1 pass
	for ((pass = 0; pass <= WARMUP; pass++)); do
		# Passes before the last warm the server up and are not measured.
		pass_begins
		if ! timeout -k 5 1800 redis-benchmark -p "$server_port" -t set,get -n "$N" -r "$KEYSPACE" -d "$DATA" \
			-c "$CLIENTS" -P "$p" --csv >"$out" 2>&1; then
			cat "$out" >&2
			die "redis-benchmark failed against $name (P$p run $run)"
		fi
	done
	pass_ends "$name" "P$p run $run"

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

	local srv_cpu bench_cpu other_cpu us
	read -r srv_cpu bench_cpu other_cpu < <(cpu_shares "$m0" "$m1" "$((t1 - t0))" "$((c1 - c0))")
	us=$(us_per_req "$((t1 - t0))" "$((2 * N))")
	local row
	row=$(printf '%-4s %-8s %11.0f %11.0f %8s%% %8s%% %8s%% %10s %9s' "$run" "$name" "$set_rps" "$get_rps" "$srv_cpu" "$bench_cpu" "$other_cpu" "$us" "$((f1 - f0))")
	keep_run "$attempt" "$other_cpu" "$row" "$tmp/P$p.$name" "$set_rps" "$get_rps" "$us" "$other_cpu"
}

# compare A B TEST P: A's median ops/s over B's, and the range of the
# ratios of the single rounds.
compare() {
	local a=$1 b=$2 test=$3 p=$4 col=1
	[[ $test == GET ]] && col=2
	echo "$(ratio "${med[$a.$test.$p]}" "${med[$b.$test.$p]}") (rounds $(run_ratios "$col" "$tmp/P$p.$a" "$tmp/P$p.$b"))"
}

# report_ratio A B LABEL SUMMARY: A's median ops/s over B's in $test at -P
# $p, printed as LABEL and summed up as SUMMARY, when both took turns.
report_ratio() {
	has "$1" && has "$2" || return 0
	local r
	r=$(compare "$1" "$2" "$test" "$p")
	echo "     $3 $r"
	summary+=("$(printf '%-3s -P %-3s %s ops/s %s %s%s' "$test" "$p" "$phase" "$4" "$r" "$noisy")")
}

# report_cpu A B LABEL SUMMARY: A's median server CPU per request over B's at
# -P $p, as report_ratio.
report_cpu() {
	has "$1" && has "$2" || return 0
	local r
	r="$(ratio "${med[$1.us.$p]}" "${med[$2.us.$p]}") (rounds $(run_ratios 3 "$tmp/P$p.$1" "$tmp/P$p.$2"))"
	echo "     $3 $r"
	summary+=("$(printf 'CPU/req -P %-3s %s %s %s%s' "$p" "$phase" "$4" "$r" "$noisy")")
}

declare -A med
summary=()
for p in $PIPELINES; do
	[[ $p =~ ^[1-9][0-9]*$ ]] || die "PIPELINES must hold positive integers, got '$p'"
	echo
	echo "== redis-benchmark -t set,get -n $N -r $KEYSPACE -d $DATA -c $CLIENTS -P $p"
	if ((WARMUP == 0)); then
		echo "   $RUNS fresh runs per server, alternating, each measuring the server's first pass (cold)"
	else
		echo "   $RUNS fresh runs per server, alternating, each measuring the pass after $WARMUP unmeasured one(s) (warm)"
	fi
	echo "   ops/s per test, CPU in % of one core"
	echo "   srv-faults: page faults the server took during the measured pass (first touches of memory)"
	printf '%-4s %-8s %11s %11s %9s %9s %9s %10s %9s\n' run server "SET ops/s" "GET ops/s" srv-cpu bench-cpu others "srv-us/req" srv-faults
	for name in "${servers[@]}"; do : >"$tmp/P$p.$name"; done
	for ((run = 1; run <= RUNS; run++)); do
		order=("${servers[@]}")
		if ((run % 2 == 0)); then
			for ((i = 0; i < ${#servers[@]}; i++)); do order[i]=${servers[${#servers[@]} - 1 - i]}; done
		fi
		for name in "${order[@]}"; do
			until_quiet measure "$p" "$name" "$run"
		done
	done
	for name in "${servers[@]}"; do
		med[$name.SET.$p]=$(column 1 "$tmp/P$p.$name")
		med[$name.GET.$p]=$(column 2 "$tmp/P$p.$name")
		med[$name.us.$p]=$(column 3 "$tmp/P$p.$name")
	done
	others=$(column_max 4 "$tmp/P$p".*)
	noisy=
	if ((others > NOISY_LIMIT)); then
		echo "   !!! other processes took up to ${others}% of a core during these runs: the ratios are unreliable"
		noisy=" [NOISY: others took up to ${others}% of a core]"
	fi
	for test in SET GET; do
		line="median $test ops/s:"
		for name in "${servers[@]}"; do line+=" $name $(printf '%.0f' "${med[$name.$test.$p]}"),"; done
		echo "   ${line%,}"
		if has redis && has warmkv; then
			r=$(compare warmkv redis "$test" "$p")
			verdict=$(at_least "${r%% *}" "$TARGET")
			echo "     warmkv / redis $r (target >= $TARGET) $verdict"
			summary+=("$(printf '%-3s -P %-3s %s ops/s warmkv/redis %s (>= %s) %s%s' "$test" "$p" "$phase" "$r" "$TARGET" "$verdict" "$noisy")")
		fi
		report_ratio noepoll redis "noepoll / redis" "noepoll/redis"
		report_ratio warmkv noepoll "warmkv / noepoll (event loops / goroutines)" "event loops/goroutines (warmkv/noepoll)"
		report_ratio baseline redis "baseline / redis" "baseline/redis"
		report_ratio warmkv baseline "warmkv / baseline" "warmkv/baseline"
	done
	line="median server CPU per request:"
	for name in "${servers[@]}"; do line+=" $name ${med[$name.us.$p]}us,"; done
	echo "   ${line%,} (diagnostic, lower is better)"
	report_cpu noepoll warmkv "CPU per request without / with event loops (noepoll / warmkv)" "goroutines/event loops (noepoll/warmkv)"
	report_cpu baseline warmkv "CPU per request baseline / warmkv" "baseline/warmkv"
done

# The atomic commands: MULTI/EXEC from multiload (redis-benchmark cannot
# send a transaction) and EVALSHA from redis-benchmark, on a fresh server per
# run, redis and warmkv alternating. warmkv serves a connection that runs a
# script from a goroutine of its own (resp/scripting.go), so EVALSHA measures
# that path too.
atomic_script="local old = redis.call('GET', KEYS[1]) redis.call('SET', KEYS[1], ARGV[1]) return old"

# measure_atomic SERVER RUN ATTEMPT: appends "tx_rps evalsha_rps
# srv_us_per_op others_cpu" to $tmp/atomic.SERVER and sets measured.
# shellcheck disable=SC2317 # called through until_quiet
measure_atomic() {
	local name=$1 run=$2 attempt=$3 log tx ev sha
	log=$tmp/atomic-$name-$run.$attempt.server.log
	tx=$tmp/atomic-$name-$run.$attempt.multi.log
	ev=$tmp/atomic-$name-$run.$attempt.evalsha.log
	wait_idle
	start "$name" "$log"
	sha=$(redis-cli -p "$server_port" SCRIPT LOAD "$atomic_script")
	[[ $sha =~ ^[0-9a-f]{40}$ ]] || die "SCRIPT LOAD on $name answered '$sha'"
	local value t0 t1 m0 m1 c0 c1 f0 f1
	value=$(head -c "$DATA" /dev/zero | tr '\0' x)
	pass_begins
	timeout -k 5 1800 "$tmp/multiload" -addr "127.0.0.1:$server_port" -c "$CLIENTS" -n "$ATOMIC_N" -r "$KEYSPACE" -d "$DATA" >"$tx" 2>&1 ||
		{ cat "$tx" >&2; die "multiload failed against $name (run $run)"; }
	timeout -k 5 1800 redis-benchmark -p "$server_port" -n "$ATOMIC_N" -r "$KEYSPACE" -c "$CLIENTS" --csv \
		evalsha "$sha" 1 "key:__rand_int__" "$value" >"$ev" 2>&1 ||
		{ cat "$ev" >&2; die "redis-benchmark EVALSHA failed against $name (run $run)"; }
	pass_ends "$name" "atomic run $run"
	local tx_rps ev_rps
	tx_rps=$(awk -F'"' 'NR == 2 { print $4 }' "$tx")
	ev_rps=$(awk -F'"' 'NR == 2 { print $4 }' "$ev")
	[[ -n $tx_rps && -n $ev_rps ]] || {
		cat "$tx" "$ev" >&2
		die "could not parse multiload's or redis-benchmark's output ($name, atomic run $run)"
	}
	if grep -qiE 'error|err ' "$ev"; then
		problems+=("atomic run $run, $name: $(grep -iE 'error|err ' "$ev" | head -1)")
	fi
	local srv_cpu bench_cpu other_cpu us row
	read -r srv_cpu bench_cpu other_cpu < <(cpu_shares "$m0" "$m1" "$((t1 - t0))" "$((c1 - c0))")
	us=$(us_per_req "$((t1 - t0))" "$((2 * ATOMIC_N))")
	row=$(printf '%-4s %-7s %11.0f %11.0f %8s%% %8s%% %8s%% %10s' "$run" "$name" "$tx_rps" "$ev_rps" "$srv_cpu" "$bench_cpu" "$other_cpu" "$us")
	keep_run "$attempt" "$other_cpu" "$row" "$tmp/atomic.$name" "$tx_rps" "$ev_rps" "$us" "$other_cpu"
}

if ((ATOMIC_N > 0)) && has redis && has warmkv; then
	echo
	echo "== MULTI/EXEC (multiload: MULTI, INCR, SET, EXEC) and EVALSHA (redis-benchmark: a GET and a SET in a script)"
	echo "   -n $ATOMIC_N -r $KEYSPACE -d $DATA -c $CLIENTS -P 1; $RUNS fresh runs per server, alternating"
	printf '%-4s %-7s %11s %11s %9s %9s %9s %10s\n' run server "MULTI tx/s" "EVALSHA/s" srv-cpu bench-cpu others "srv-us/op"
	atomic_servers=(redis warmkv)
	for name in "${atomic_servers[@]}"; do : >"$tmp/atomic.$name"; done
	for ((run = 1; run <= RUNS; run++)); do
		order=(redis warmkv)
		((run % 2 == 0)) && order=(warmkv redis)
		for name in "${order[@]}"; do
			until_quiet measure_atomic "$name" "$run"
		done
	done
	others=$(column_max 4 "$tmp/atomic".*)
	noisy=
	if ((others > NOISY_LIMIT)); then
		echo "   !!! other processes took up to ${others}% of a core during these runs: the ratios are unreliable"
		noisy=" [NOISY: others took up to ${others}% of a core]"
	fi
	for col in 1 2; do
		test=$([[ $col == 1 ]] && echo MULTI/EXEC || echo EVALSHA)
		w=$(column "$col" "$tmp/atomic.warmkv")
		rd=$(column "$col" "$tmp/atomic.redis")
		r="$(ratio "$w" "$rd") (rounds $(run_ratios "$col" "$tmp/atomic.warmkv" "$tmp/atomic.redis"))"
		echo "   median $test/s: redis $(printf '%.0f' "$rd"), warmkv $(printf '%.0f' "$w"); warmkv / redis $r"
		summary+=("$(printf '%-10s -P 1   ops/s warmkv/redis %s%s' "$test" "$r" "$noisy")")
	done
	echo "   median server CPU per transaction or script: redis $(column 3 "$tmp/atomic.redis")us, warmkv $(column 3 "$tmp/atomic.warmkv")us"
fi

# Memory per key: load MEMORY_KEYS keys of 16 bytes ("key:%012d", as
# redis-benchmark names them) with DATA-byte values into a fresh server, with
# redis-cli --pipe, and compare what each server says it uses, and its RSS,
# before and after. noepoll holds keys as warmkv does: it is left out;
# baseline, another build, is measured too when it takes turns.
used_memory() { redis-cli -p "$1" INFO memory | tr -d '\r' | awk -F: '$1 == "used_memory" { print $2 }'; }

if ((MEMORY_KEYS > 0)); then
	echo
	echo "== memory: $MEMORY_KEYS keys of 16 bytes with $DATA-byte values, loaded with redis-cli --pipe"
	value=$(head -c "$DATA" /dev/zero | tr '\0' x)
	awk -v n="$MEMORY_KEYS" -v v="$value" 'BEGIN {
		for (i = 0; i < n; i++) printf "*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$%d\r\n%s\r\n", i, length(v), v
	}' >"$tmp/load.resp"
	printf '%-8s %10s %16s %14s %16s %14s %12s\n' server keys "used_memory" "used/key" "used delta/key" "RSS delta" "RSS/key"
	declare -A mem_line
	mem_servers=(redis warmkv)
	has baseline && mem_servers+=(baseline)
	for name in "${mem_servers[@]}"; do
		start "$name" "$tmp/memory-$name.log"
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
		printf '%-8s %10s %16s %14s %16s %14s %12s\n' "$name" "$keys" "$used1" "$per_key" "$delta_per_key" "$rss_delta" "$rss_per_key"
		mem_line[$name]="used_memory/key $per_key B (delta $delta_per_key B), RSS delta/key $rss_per_key B"
	done
	echo "   used_memory: Redis's allocator figure; warmkv's is what the cache charges against MAX_MEMORY"
	echo "   (its preallocated LRU slots included, hence used/key far above the delta on a nearly empty cache)."
	summary+=("memory redis:  ${mem_line[redis]}")
	summary+=("memory warmkv: ${mem_line[warmkv]}")
	if has baseline; then summary+=("memory baseline: ${mem_line[baseline]}"); fi
fi

echo
echo "== summary"
printf '   %s\n' "${summary[@]}"
if ((${#problems[@]} > 0)); then
	echo "!!! problems:"
	printf '    %s\n' "${problems[@]}"
fi
exit 0
