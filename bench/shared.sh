#!/usr/bin/env bash
# shared.sh — warmkv with its shared Redis tier (REDIS_URL), against one local
# redis-server that this script starts and stops:
#
#   coherence  two instances A and B on the same Redis: after B acknowledges a
#              write (or delete) of a key A holds a local copy of, how long A
#              still answers the old value; none may take longer than
#              LOCAL_TTL (PASS/FAIL)
#   get        GET throughput and p99 (wrk, 100k preloaded keys 20/100 chars)
#              of warmkv without Redis (baseline), of local hits (LOCAL_TTL=1h,
#              every key warmed: >= 0.8x baseline req/s, PASS/FAIL) and of
#              shared hits (LOCAL_TTL=0: every GET asks Redis; reported only,
#              as Redis shares the same 2 cores)
#   zipf       the local cache's hit ratio with the default LOCAL_TTL=1s, a
#              local cache of SIZE=100000 entries and 1M keys in Redis read
#              with a Zipf(s=1.1) key choice, from /stats (reported)
#
# The get scenarios follow bench/http.sh: a fresh server process per run, the
# three alternate (the order flips every round), and only medians are
# compared. The clients that wrk cannot replace are bench/sharedload.
#
# Environment (all optional):
#   PHASES=coherence,get,zipf  which phases to run
#   RUNS=3 DURATION=10s        get: runs per scenario, wrk -d per run
#   THREADS=2 CONNS=64         get: wrk -t / -c
#   KEYS=100000                get: preloaded keys (20-char keys, 100-char values)
#   ZIPF_KEYS=1000000 ZIPF_S=1.1 ZIPF_SIZE=100000 ZIPF_TTL=1s
#   ZIPF_DURATION=10s ZIPF_CONNS=64
#                              zipf: key space, exponent, local cache entries
#                              (SIZE), LOCAL_TTL, measured time (after 2s of
#                              warm-up), connections
#   COHERENCE_N=2000 COHERENCE_TTL=1s
#                              coherence: keys per operation, LOCAL_TTL
#   WARMKV_BIN=path            use this binary instead of building the repo root
#   LOG_DIR=dir                keep every wrk/client output and server log there
#   WAIT_IDLE=0                before each measurement, wait up to this many seconds
#                              for other processes to leave the CPUs idle (< 10% of a core)
#   RETRY_NOISY=1              redo a get run (at most this many times) when other
#                              processes used more than NOISY_LIMIT=15% of a core,
#                              while the measurements have taken less than
#                              RETRY_UNTIL=120 seconds (the whole run stays ~3 min)
#   BENCH_LOCK=/tmp/warmkv-bench.lock
#                              everything after the builds holds this lock (flock)
#                              so that other load runs on the box do not overlap;
#                              a lock inherited from `flock FILE bash shared.sh`
#                              counts; BENCH_LOCK= runs without it
# Anything else in the environment (GOMAXPROCS, MAX_MEMORY, REDIS_TIMEOUT, ...)
# reaches every server unchanged; PORT, BIND=127.0.0.1, RESP_PORT=0 and
# APP_ENV=production are set here, and REDIS_URL, LOCAL_TTL, SIZE per scenario.
#
# Exit status: 0 when every phase ran (whatever the verdicts: this is a report),
# 1 when something could not be built, started or measured.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

PHASES=${PHASES:-coherence,get,zipf}
RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNS=${CONNS:-64}
KEYS=${KEYS:-100000}
ZIPF_KEYS=${ZIPF_KEYS:-1000000}
ZIPF_S=${ZIPF_S:-1.1}
ZIPF_SIZE=${ZIPF_SIZE:-100000}
ZIPF_TTL=${ZIPF_TTL:-1s}
ZIPF_DURATION=${ZIPF_DURATION:-10s}
ZIPF_CONNS=${ZIPF_CONNS:-64}
COHERENCE_N=${COHERENCE_N:-2000}
COHERENCE_TTL=${COHERENCE_TTL:-1s}
WAIT_IDLE=${WAIT_IDLE:-0}
RETRY_NOISY=${RETRY_NOISY:-1}
NOISY_LIMIT=${NOISY_LIMIT:-15}
RETRY_UNTIL=${RETRY_UNTIL:-120}
KEY_LEN=20
VALUE_LEN=100
LOCAL_TARGET=0.80 # local hits: req/s at least this share of the baseline's

# Each scenario sets its own shared-tier variables; inherited ones would turn
# the baseline into a Redis client, or point a server at somebody else's Redis.
unset REDIS_URL KV_URL REDIS_PREFIX LOCAL_TTL SIZE SNAPSHOT_PATH

(($# == 0)) || die "no arguments: set the variables in the environment, e.g. PHASES=get RUNS=5 bash bench/shared.sh"
need wrk go curl redis-server redis-cli
positive RUNS THREADS CONNS KEYS ZIPF_KEYS ZIPF_SIZE ZIPF_CONNS COHERENCE_N
non_negative WAIT_IDLE RETRY_NOISY NOISY_LIMIT RETRY_UNTIL
((KEYS <= ZIPF_KEYS)) || die "KEYS ($KEYS) must not exceed ZIPF_KEYS ($ZIPF_KEYS): the get keys are the first of the zipf ones"
IFS=, read -r -a phases <<<"$PHASES"
for phase in "${phases[@]}"; do
	case $phase in coherence | get | zipf) ;; *) die "unknown phase '$phase' (want coherence, get, zipf)" ;; esac
done
wants() { [[ ",$PHASES," == *",$1,"* ]]; }
duration_s=$(whole_seconds DURATION)
zipf_s=$(whole_seconds ZIPF_DURATION)
seconds "$ZIPF_TTL" >/dev/null || die "ZIPF_TTL must be like 1s or 250ms, got '$ZIPF_TTL'"
coherence_ttl_s=$(whole_seconds COHERENCE_TTL)

other_pid= # instance A while B is server_pid (coherence)
redis_pid=
redis_port=
# shellcheck disable=SC2317 # invoked on exit
cleanup_hook() {
	stop_pid "$other_pid"
	stop_pid "$redis_pid"
}
make_tmp shared
echo "== building (into $tmp)"
build_warmkv
build_tools preload sharedload
echo "   warmkv: $warmkv_bin"

bench_lock
started=$SECONDS
retry_deadline=$((started + RETRY_UNTIL)) # keeps the whole run about 3 minutes
report_box

# result_line FILE [FILTER]: the last "result" line of a sharedload output
# (the last one matching FILTER if given).
result_line() {
	grep "^result ${2:-}" "$1" | tail -n 1 || true
}

# wait_ready PORT, wait_ready_shared PORT: sharedload's readiness check: GET
# /healthz answers and, with a shared tier, the server is subscribed to
# invalidations and done counting the shared keys (that SCAN must not
# overlap the measurement).
# shellcheck disable=SC2317 # called through start_server
wait_ready() { timeout 40 "$tmp/sharedload" ready -url "http://127.0.0.1:$1" -wait 30s >>"$tmp/ready.log" 2>&1; }
# shellcheck disable=SC2317 # called through start_server
wait_ready_shared() { timeout 40 "$tmp/sharedload" ready -shared -url "http://127.0.0.1:$1" -wait 30s >>"$tmp/ready.log" 2>&1; }

# start NAME LOG [VAR=VALUE ...]: a fresh warmkv with those variables on a
# free port (server_port, server_pid), ready as wait_ready says.
start() {
	local name=$1 log=$2 ready=wait_ready
	shift 2
	[[ " $* " == *" REDIS_URL="* ]] && ready=wait_ready_shared
	start_server "$name" "$log" "$ready" \
		env "$@" PORT=%PORT% BIND=127.0.0.1 RESP_PORT=0 APP_ENV=production "$warmkv_bin"
}

summary=()
problems=()

echo "== starting redis-server"
start_redis redis-server "$tmp/redis.log"
redis_pid=$server_pid redis_port=$server_port server_pid=
redis_url=redis://127.0.0.1:$redis_port
echo "   $(redis-server --version | awk '{ print $1, $2, $3 }') on 127.0.0.1:$redis_port (no persistence)"

# ---------------------------------------------------------------- coherence
if wants coherence; then
	echo
	echo "== coherence: instances A and B on one Redis, LOCAL_TTL=$COHERENCE_TTL; $COHERENCE_N keys per operation"
	echo "   per key: B writes it, A reads it twice (its local copy is then warm), B updates or deletes it;"
	echo "   delay = from B's acknowledgement to A's first answer with the change (one A round trip included)"
	wait_idle
	start A "$tmp/coherence-A.server.log" REDIS_URL="$redis_url" LOCAL_TTL="$COHERENCE_TTL"
	other_pid=$server_pid
	a_port=$server_port
	server_pid=
	start B "$tmp/coherence-B.server.log" REDIS_URL="$redis_url" LOCAL_TTL="$COHERENCE_TTL"
	out=$tmp/coherence.client.log
	if ! timeout 300 "$tmp/sharedload" coherence -a "http://127.0.0.1:$a_port" -b "http://127.0.0.1:$server_port" \
		-n "$COHERENCE_N" -local-ttl "$COHERENCE_TTL" >"$out" 2>&1; then
		problems+=("coherence: the client failed: $(grep -v '^result' "$out" | tail -n 3 | tr '\n' ' ')")
	fi
	for pid in "$server_pid" "$other_pid"; do
		kill -0 "$pid" 2>/dev/null || problems+=("coherence: a server died; see its log")
	done
	stop_server
	stop_pid "$other_pid"
	other_pid=
	grep '^!!!' "$out" || true
	printf '   %-7s %9s %9s %9s %12s %12s %10s %7s\n' op "p50 ms" "p99 ms" "max ms" "stale keys" "stale reads" ">TTL" wrong
	for op in update delete; do
		line=$(result_line "$out" "op=$op ")
		[[ -n $line ]] || {
			cat "$out" >&2
			die "no coherence result for $op"
		}
		n=$(field n "$line")
		beyond=$(field beyondTTL "$line")
		wrong=$(field wrong "$line")
		printf '   %-7s %9s %9s %9s %12s %12s %10s %7s\n' "$op" "$(field p50ms "$line")" "$(field p99ms "$line")" \
			"$(field maxms "$line")" "$(field staleKeys "$line")/$n" "$(field staleReads "$line")" "$beyond" "$wrong"
		warm=$(field warmCopies "$line")
		((warm == n)) || echo "   !!! only $warm of $n local copies on A were warm at the change: the figures understate staleness"
		verdict=PASS
		((beyond == 0 && wrong == 0)) || verdict=FAIL
		((wrong == 0)) || problems+=("coherence $op: $wrong wrong answers")
		summary+=("$(printf 'coherence %-6s  A fresh after B ack: p50 %s ms, p99 %s ms, max %s ms; %s/%s keys read stale after the ack; beyond LOCAL_TTL=%s: %s (target 0) %s' \
			"$op" "$(field p50ms "$line")" "$(field p99ms "$line")" "$(field maxms "$line")" "$(field staleKeys "$line")" "$n" "$COHERENCE_TTL" "$beyond" "$verdict")")
	done
	((coherence_ttl_s <= 5)) || echo "   (COHERENCE_TTL=$COHERENCE_TTL: a key never refreshed would keep the client polling that long)"
fi

# ---------------------------------------------------------------- keys
if wants get || wants zipf; then
	nkeys=$KEYS
	wants zipf && nkeys=$ZIPF_KEYS
	echo
	echo "== loading $nkeys keys ($KEY_LEN/$VALUE_LEN chars, bench/preload's) straight into Redis"
	timeout 300 "$tmp/sharedload" load-redis -addr "127.0.0.1:$redis_port" -keys "$nkeys" \
		-key-len "$KEY_LEN" -value-len "$VALUE_LEN" >"$tmp/load-redis.log" 2>&1 ||
		{
			cat "$tmp/load-redis.log" >&2
			die "loading Redis failed"
		}
	echo "   $(field seconds "$(result_line "$tmp/load-redis.log")")s; redis-server: $(redis-cli -p "$redis_port" info memory | awk -F: '/^used_memory_human:/ { print $2 }' | tr -d '\r') used"
fi

# ---------------------------------------------------------------- get
declare -A DESCRIPTION=(
	[baseline]="warmkv without REDIS_URL, preloaded over HTTP"
	[local]="REDIS_URL, LOCAL_TTL=1h, every key read once before the run: local hits"
	[shared]="REDIS_URL, LOCAL_TTL=0: every GET asks Redis"
)
declare -A sample_body

# measure NAME RUN ATTEMPT: one fresh server, its preparation, one wrk run.
# Appends "rps p99_ms srv_cpu redis_cpu wrk_cpu other_cpu errors local_pct
# srv_us_per_req redis_us_per_req" to $tmp/get.NAME and sets measured=yes, or measured=no when other processes
# disturbed the run and it should be redone.
# shellcheck disable=SC2317 # called through until_quiet
measure() {
	local name=$1 run=$2 attempt=$3 log out
	log=$tmp/get-$name-$run.$attempt.server.log
	out=$tmp/get-$name-$run.$attempt.wrk.log
	wait_idle
	case $name in
	baseline)
		start "$name" "$log"
		timeout 120 "$tmp/preload" -url "http://127.0.0.1:$server_port" -keys "$KEYS" \
			-key-len "$KEY_LEN" -value-len "$VALUE_LEN" >>"$tmp/preload.log" 2>&1 ||
			{
				tail -n 5 "$tmp/preload.log" >&2
				die "preloading the baseline failed"
			}
		;;
	local)
		start "$name" "$log" REDIS_URL="$redis_url" LOCAL_TTL=1h
		if ! timeout 120 "$tmp/sharedload" warm -url "http://127.0.0.1:$server_port" -keys "$KEYS" \
			-key-len "$KEY_LEN" -value-len "$VALUE_LEN" >>"$tmp/warm.log" 2>&1; then
			tail -n 3 "$tmp/warm.log" >&2
			die "warming the local copies failed (wrong answers or failed requests; see above)"
		fi
		;;
	shared)
		start "$name" "$log" REDIS_URL="$redis_url" LOCAL_TTL=0
		;;
	esac
	# Every configuration must answer the same bytes for the same key, or the
	# comparison is not like for like.
	if [[ -z ${sample_body[$name]:-} ]]; then
		sample_body[$name]=$(curl -s "http://127.0.0.1:$server_port/get?key=k$(printf '%0*d' $((KEY_LEN - 1)) 0)")
	fi
	local before=
	[[ $name == baseline ]] || before=$("$tmp/sharedload" stats -url "http://127.0.0.1:$server_port") || die "stats of $name failed"

	extra_pid=$redis_pid
	run_wrk "$out" "$duration_s" -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency \
		-s "$here/wrk/kv.lua" "http://127.0.0.1:$server_port" -- mode=get keys="$KEYS" keylen="$KEY_LEN"

	# Who answered the GETs: a local-hits run that asked Redis, or a
	# shared-hits run answered locally, would measure the wrong thing.
	local local_pct=- after delta_local delta_reads
	if [[ -n $before ]]; then
		after=$("$tmp/sharedload" stats -url "http://127.0.0.1:$server_port") || die "stats of $name failed"
		delta_local=$(($(field localHits "$after") - $(field localHits "$before")))
		delta_reads=$((delta_local + $(field sharedHits "$after") - $(field sharedHits "$before") +
			$(field sharedMisses "$after") - $(field sharedMisses "$before") + $(field staleReads "$after") - $(field staleReads "$before")))
		local_pct=$(awk -v l="$delta_local" -v r="$delta_reads" 'BEGIN { printf "%.1f", (r > 0 ? l / r * 100 : 0) }')
		local f
		for f in sharedMisses staleReads unavailable resyncs; do
			if (($(field "$f" "$after") != $(field "$f" "$before"))); then
				problems+=("get run $run, $name: /stats $f went from $(field "$f" "$before") to $(field "$f" "$after")")
			fi
		done
	fi
	stop_server

	((wrk_errors == 0)) || problems+=("get run $run, $name: $wrk_non2xx non-2xx responses, $wrk_sockerr socket errors")

	local srv_cpu redis_cpu wrk_cpu other_cpu srv_us redis_us row
	read -r srv_cpu redis_cpu wrk_cpu other_cpu < <(cpu_shares "$run_m0" "$run_m1" "$srv_ticks" "$extra_ticks" "$wrk_ticks")
	srv_us=$(us_per_req "$srv_ticks" "$wrk_requests")
	redis_us=$(us_per_req "$extra_ticks" "$wrk_requests")
	row=$(printf '%-4s %-9s %9.0f %9.2f %8s%% %8s%% %8s%% %8s%% %10s %12s %8s %7s' "$run" "$name" "$wrk_rps" "$wrk_p99" \
		"$srv_cpu" "$redis_cpu" "$wrk_cpu" "$other_cpu" "$srv_us" "$redis_us" "$local_pct" "$wrk_errors")
	keep_run "$attempt" "$other_cpu" "$row" "$tmp/get.$name" \
		"$wrk_rps" "$wrk_p99" "$srv_cpu" "$redis_cpu" "$wrk_cpu" "$other_cpu" "$wrk_errors" "$local_pct" "$srv_us" "$redis_us"
}

if wants get; then
	echo
	echo "== get: wrk -t$THREADS -c$CONNS -d$DURATION --latency, 100% GET of $KEYS keys (uniform), $RUNS fresh runs per scenario, alternating"
	for name in baseline local shared; do
		echo "   $name: ${DESCRIPTION[$name]}"
		: >"$tmp/get.$name"
	done
	printf '%-4s %-9s %9s %9s %9s %9s %9s %9s %10s %12s %8s %7s\n' run scenario "req/s" "p99 ms" "srv-cpu" "redis-cpu" "wrk-cpu" "others" \
		"srv-us/req" "redis-us/req" "local%" errors
	for ((run = 1; run <= RUNS; run++)); do
		if ((run % 2)); then order=(baseline local shared); else order=(shared local baseline); fi
		for name in "${order[@]}"; do
			until_quiet measure "$name" "$run"
		done
	done

	declare -A med_rps med_p99 med_srv med_redis med_srv_us med_redis_us
	for name in baseline local shared; do
		f=$tmp/get.$name
		med_rps[$name]=$(column 1 "$f") med_p99[$name]=$(column 2 "$f")
		med_srv[$name]=$(column 3 "$f") med_redis[$name]=$(column 4 "$f")
		med_srv_us[$name]=$(column 9 "$f") med_redis_us[$name]=$(column 10 "$f")
	done
	others=$(column_max 6 "$tmp"/get.*)
	noisy=
	((others <= NOISY_LIMIT)) || noisy=" [NOISY: others took up to ${others}% of a core]"
	echo
	echo "   medians of $RUNS runs:"
	printf '   %-9s %9s %9s %11s %11s %9s %9s %10s %12s\n' scenario "req/s" "p99 ms" "req/s ratio" "p99 ratio" "srv-cpu" "redis-cpu" \
		"srv-us/req" "redis-us/req"
	for name in baseline local shared; do
		printf '   %-9s %9.0f %9.2f %11s %11s %8.0f%% %8.0f%% %10.2f %12.2f\n' "$name" "${med_rps[$name]}" "${med_p99[$name]}" \
			"$(ratio "${med_rps[$name]}" "${med_rps[baseline]}")" "$(ratio "${med_p99[$name]}" "${med_p99[baseline]}")" \
			"${med_srv[$name]}" "${med_redis[$name]}" "${med_srv_us[$name]}" "${med_redis_us[$name]}"
	done
	local_ratio=$(ratio "${med_rps[local]}" "${med_rps[baseline]}")
	shared_ratio=$(ratio "${med_rps[shared]}" "${med_rps[baseline]}")
	local_verdict=$(at_least "$local_ratio" "$LOCAL_TARGET")
	errors=$(awk '{ e += $7 } END { print e + 0 }' "$tmp"/get.*)
	((errors == 0)) || local_verdict="FAIL (errors)"
	[[ -z $noisy ]] || echo "   !!! other processes took up to ${others}% of a core during these runs: the ratios are unreliable"
	if [[ -n ${sample_body[baseline]:-} ]]; then
		for name in local shared; do
			[[ ${sample_body[$name]:-} == "${sample_body[baseline]}" ]] ||
				problems+=("get: $name answered '${sample_body[$name]:0:120}' for key 0, the baseline '${sample_body[baseline]:0:120}'")
		done
	fi
	summary+=("$(printf 'get local hits   %6.0f req/s (%s x baseline %.0f; target >= %s) %s, p99 %.2f ms (baseline %.2f); warmkv CPU %.2f us/req (baseline %.2f)%s' \
		"${med_rps[local]}" "$local_ratio" "${med_rps[baseline]}" "$LOCAL_TARGET" "$local_verdict" "${med_p99[local]}" "${med_p99[baseline]}" \
		"${med_srv_us[local]}" "${med_srv_us[baseline]}" "$noisy")")
	summary+=("$(printf 'get shared hits  %6.0f req/s (%s x baseline; reported), p99 %.2f ms; CPU %.2f us/req in warmkv + %.2f in redis-server (%.0f%% of a core)%s' \
		"${med_rps[shared]}" "$shared_ratio" "${med_p99[shared]}" "${med_srv_us[shared]}" "${med_redis_us[shared]}" "${med_redis[shared]}" "$noisy")")
fi

# ---------------------------------------------------------------- zipf
if wants zipf; then
	echo
	echo "== zipf: GETs of $ZIPF_KEYS keys (all in Redis), Zipf s=$ZIPF_S, $ZIPF_CONNS connections (bench/sharedload),"
	echo "   LOCAL_TTL=$ZIPF_TTL, local cache SIZE=$ZIPF_SIZE; 2s warm-up, then $ZIPF_DURATION measured"
	wait_idle
	start zipf "$tmp/zipf.server.log" REDIS_URL="$redis_url" LOCAL_TTL="$ZIPF_TTL" SIZE="$ZIPF_SIZE"
	out=$tmp/zipf.client.log
	t0=$(cpu_ticks "$server_pid")
	r0=$(cpu_ticks "$redis_pid")
	c0=$(children_ticks)
	m0=$(machine_ticks)
	if ! timeout -k 5 $((zipf_s + 60)) "$tmp/sharedload" zipf -url "http://127.0.0.1:$server_port" -keys "$ZIPF_KEYS" \
		-s "$ZIPF_S" -c "$ZIPF_CONNS" -warmup 2s -d "$ZIPF_DURATION" -key-len "$KEY_LEN" -value-len "$VALUE_LEN" >"$out" 2>&1; then
		problems+=("zipf: the client failed: $(grep -v '^result' "$out" | tail -n 3 | tr '\n' ' ')")
	fi
	t1=$(cpu_ticks "$server_pid")
	r1=$(cpu_ticks "$redis_pid")
	c1=$(children_ticks)
	m1=$(machine_ticks)
	kill -0 "$server_pid" 2>/dev/null || problems+=("zipf: the server died; see its log")
	stop_server
	grep '^!!!' "$out" || true
	line=$(result_line "$out")
	[[ -n $line ]] || {
		cat "$out" >&2
		die "no zipf result"
	}
	read -r srv_cpu redis_cpu client_cpu other_cpu < <(cpu_shares "$m0" "$m1" "$((t1 - t0))" "$((r1 - r0))" "$((c1 - c0))")
	hit=$(field hitRatio "$line")
	echo "   local hit ratio $hit = localHits $(field localHits "$line") / (localHits + sharedHits $(field sharedHits "$line") + sharedMisses $(field sharedMisses "$line"))"
	echo "   ideal $(field idealRatio "$line"): the $(field maxSize "$line") most popular keys always local, never expiring"
	remote=$(($(field sharedHits "$line") + $(field sharedMisses "$line")))
	first=$(field firstReads "$line")
	echo "   of the $remote reads Redis answered, $first were a key's first read (no cache avoids those);" \
		"the other $((remote - first)) re-fetched a copy older than LOCAL_TTL or evicted"
	warm_hit=$(awk -v l="$(field localHits "$line")" -v r="$remote" -v f="$first" 'BEGIN { printf "%.4f", (l + r - f > 0 ? l / (l + r - f) : 0) }')
	echo "   hit ratio of the reads that were not a key's first: $warm_hit"
	if (($(field distinctKeys "$line") < $(field maxSize "$line"))); then
		echo "   the run read $(field distinctKeys "$line") distinct keys, fewer than SIZE: the local cache never filled, so its size did not limit the ratio"
	fi
	echo "   $(field rps "$line") req/s, p50 $(field p50ms "$line") ms, p99 $(field p99ms "$line") ms (seen by the Go client);" \
		"CPU (% of a core, whole run): warmkv $srv_cpu, redis-server $redis_cpu, client $client_cpu, others $other_cpu"
	echo "   local copies at the end: $(field localKeys "$line") (SIZE $(field maxSize "$line")); wrong answers $(field wrong "$line"), failed requests $(field failed "$line")"
	zipf_noisy=
	((other_cpu <= NOISY_LIMIT)) || zipf_noisy=" [NOISY: others took ${other_cpu}% of a core]"
	summary+=("$(printf 'zipf s=%s        local hit ratio %s (%s without first reads; ideal static %s) at %s req/s, p99 %s ms; %s keys, SIZE=%s, LOCAL_TTL=%s%s' \
		"$ZIPF_S" "$hit" "$warm_hit" "$(field idealRatio "$line")" "$(field rps "$line")" "$(field p99ms "$line")" "$ZIPF_KEYS" "$ZIPF_SIZE" "$ZIPF_TTL" "$zipf_noisy")")
fi

echo
echo "== summary (measured in $((SECONDS - started))s)"
printf '   %s\n' "${summary[@]}"
if ((${#problems[@]} > 0)); then
	echo
	echo "!!! PROBLEMS:"
	printf '!!!   %s\n' "${problems[@]}"
fi
exit 0
