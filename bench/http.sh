#!/usr/bin/env bash
# http.sh — warmkv throughput/latency against the minimal fasthttp+sync.Map
# baseline (bench/baseline), as ratios of medians over alternating runs.
#
# The box has 2 cores shared by wrk and the server, so single runs are noisy:
# every run is a fresh server process, baseline and warmkv alternate (the
# order flips every round to cancel drift), and only medians are compared.
#
# Environment (all optional):
#   SCENARIOS=get,put,mix  which scenarios to run
#   RUNS=3                 runs per server per scenario
#   DURATION=10s           wrk -d per run
#   THREADS=2 CONNS=64     wrk -t / -c
#   KEYS=100000            preloaded keys (20-char keys, 100-char values)
#   DIST=uniform           key choice for GETs: uniform or zipf (ZIPF_S=1.01)
#   MIX_PUT=new            mix PUTs insert new keys (new) or overwrite preloaded ones (update)
#   WARMKV_BIN=path        use this binary instead of building the repo root
#   BASELINE_BIN=path      use this binary instead of building bench/baseline
#   LOG_DIR=dir            keep every wrk output and server log there
#   WAIT_IDLE=0            before each run, wait up to this many seconds for
#                          other processes to leave the CPUs idle (< 10% of a core)
#   RETRY_NOISY=2          redo a run (at most this many times) when other
#                          processes used more than NOISY_LIMIT=15% of a core during it
#   BENCH_LOCK=/tmp/warmkv-bench.lock  held while measuring (empty: none)
# Anything else in the environment (MAX_MEMORY, SIZE, GOMAXPROCS, ...) reaches
# both servers unchanged; PORT, BIND=127.0.0.1 and APP_ENV=production are set
# here.
#
# Exit status: 0 when every run ran (whatever the verdicts: this is a report),
# 1 when something could not be built, started or measured.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

SCENARIOS=${SCENARIOS:-get,put,mix}
RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNS=${CONNS:-64}
KEYS=${KEYS:-100000}
DIST=${DIST:-uniform}
ZIPF_S=${ZIPF_S:-1.01}
MIX_PUT=${MIX_PUT:-new}
WAIT_IDLE=${WAIT_IDLE:-0}
RETRY_NOISY=${RETRY_NOISY:-2}
NOISY_LIMIT=${NOISY_LIMIT:-15}
KEY_LEN=20
VALUE_LEN=100

# Targets from the issue: warmkv/baseline median ratios.
declare -A RPS_TARGET=([get]=0.90 [put]=0.85 [mix]=0.85)
P99_TARGET=1.5

declare -A DESCRIPTION=(
	[get]="100% GET of preloaded keys"
	[put]="100% POST /put of new keys (every request a distinct key)"
	[mix]="50% GET of preloaded keys / 50% POST /put ($MIX_PUT keys)"
)

need wrk go curl
positive RUNS
non_negative WAIT_IDLE RETRY_NOISY NOISY_LIMIT
case $DIST in uniform | zipf) ;; *) die "DIST must be uniform or zipf" ;; esac
case $MIX_PUT in new | update) ;; *) die "MIX_PUT must be new or update" ;; esac
duration_s=$(whole_seconds DURATION)
IFS=, read -r -a scenarios <<<"$SCENARIOS"
for scenario in "${scenarios[@]}"; do
	[[ -n ${DESCRIPTION[$scenario]:-} ]] || die "unknown scenario '$scenario' (want get, put, mix)"
done

make_tmp http
echo "== building (into $tmp)"
build_warmkv
if [[ -n ${BASELINE_BIN:-} ]]; then
	[[ -x $BASELINE_BIN ]] || die "BASELINE_BIN=$BASELINE_BIN is not an executable"
	baseline_bin=$BASELINE_BIN
else
	build_tools baseline
	baseline_bin=$tmp/baseline
fi
build_tools preload
echo "   warmkv:   $warmkv_bin"
echo "   baseline: $baseline_bin"

bench_lock
report_box

problems=() # every run with non-2xx answers or socket errors
declare -A sample_body

# measure SCENARIO SERVER RUN ATTEMPT: one fresh server, preload, one wrk run.
# Appends "rps p99_ms srv_cpu_pct wrk_cpu_pct non2xx sockerr srv_us_per_req
# others_cpu_pct" to $tmp/SCENARIO.SERVER and sets measured=yes, or sets
# measured=no when other processes disturbed the run and it should be redone.
# shellcheck disable=SC2317 # called through until_quiet
measure() {
	local scenario=$1 name=$2 run=$3 attempt=$4 bin=$baseline_bin port log out
	[[ $name == warmkv ]] && bin=$warmkv_bin
	log=$tmp/$scenario-$name-$run.$attempt.server.log
	out=$tmp/$scenario-$name-$run.$attempt.wrk.log
	wait_idle
	# Anything else in the environment reaches both servers unchanged.
	start_server "$name" "$log" wait_healthz env PORT=%PORT% BIND=127.0.0.1 APP_ENV=production "$bin"
	port=$server_port

	if [[ $scenario != put ]]; then
		timeout 120 "$tmp/preload" -url "http://127.0.0.1:$port" -keys "$KEYS" \
			-key-len "$KEY_LEN" -value-len "$VALUE_LEN" >>"$tmp/preload.log" 2>&1 ||
			{
				tail -n 5 "$tmp/preload.log" >&2
				die "preloading $name failed"
			}
		# Both servers must answer the same bytes for the same key, or the
		# comparison is not like for like (e.g. bigger responses).
		if [[ -z ${sample_body[$name]:-} ]]; then
			sample_body[$name]=$(curl -s "http://127.0.0.1:$port/get?key=k$(printf '%019d' 0)")
		fi
	fi

	run_wrk "$out" "$duration_s" -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$here/wrk/kv.lua" "http://127.0.0.1:$port" -- \
		mode="$scenario" keys="$KEYS" keylen="$KEY_LEN" vallen="$VALUE_LEN" dist="$DIST" s="$ZIPF_S" mixput="$MIX_PUT"
	stop_server

	# CPU of the server, of wrk and of everything else during the run, each
	# in % of one core.
	local srv_cpu wrk_cpu other_cpu us row
	read -r srv_cpu wrk_cpu other_cpu < <(cpu_shares "$run_m0" "$run_m1" "$srv_ticks" "$wrk_ticks")
	us=$(us_per_req "$srv_ticks" "$wrk_requests")
	if ((wrk_errors > 0)); then
		problems+=("$scenario run $run, $name: $wrk_non2xx non-2xx responses, $wrk_sockerr socket errors")
		echo "!!! $scenario run $run, $name: $wrk_non2xx NON-2XX RESPONSES, $wrk_sockerr SOCKET ERRORS" >&2
		grep -E 'Non-2xx|Socket errors' "$out" >&2 || true
	fi
	row=$(printf '%-4s %-9s %9.0f %9.2f %8s%% %8s%% %8s%% %10s %8s %8s' "$run" "$name" "$wrk_rps" "$wrk_p99" \
		"$srv_cpu" "$wrk_cpu" "$other_cpu" "$us" "$wrk_non2xx" "$wrk_sockerr")
	keep_run "$attempt" "$other_cpu" "$row" "$tmp/$scenario.$name" \
		"$wrk_rps" "$wrk_p99" "$srv_cpu" "$wrk_cpu" "$wrk_non2xx" "$wrk_sockerr" "$us" "$other_cpu"
}

summary=()
for scenario in "${scenarios[@]}"; do
	echo
	echo "== $scenario: ${DESCRIPTION[$scenario]}"
	echo "   wrk -t$THREADS -c$CONNS -d$DURATION --latency, $RUNS fresh runs per server, alternating; key choice $DIST"
	printf '%-4s %-9s %9s %9s %9s %9s %9s %10s %8s %8s\n' run server "req/s" "p99 ms" "srv-cpu" "wrk-cpu" "others" "srv-us/req" non-2xx sock-err
	b=$tmp/$scenario.baseline w=$tmp/$scenario.warmkv
	: >"$b"
	: >"$w"
	for ((run = 1; run <= RUNS; run++)); do
		if ((run % 2)); then order=(baseline warmkv); else order=(warmkv baseline); fi
		for name in "${order[@]}"; do
			until_quiet measure "$scenario" "$name" "$run"
		done
	done

	b_rps=$(column 1 "$b") w_rps=$(column 1 "$w")
	b_p99=$(column 2 "$b") w_p99=$(column 2 "$w")
	b_cpu=$(column 3 "$b") w_cpu=$(column 3 "$w")
	b_us=$(column 7 "$b") w_us=$(column 7 "$w")
	errors=$(awk '{ e += $5 + $6 } END { print e + 0 }' "$b" "$w")
	others=$(column_max 8 "$b" "$w")
	rps_ratio=$(ratio "$w_rps" "$b_rps")
	p99_ratio=$(ratio "$w_p99" "$b_p99")
	rps_verdict=$(at_least "$rps_ratio" "${RPS_TARGET[$scenario]}")
	p99_verdict=$(at_most "$p99_ratio" "$P99_TARGET")
	echo "   median req/s: baseline $(printf '%.0f' "$b_rps"), warmkv $(printf '%.0f' "$w_rps") -> ratio $rps_ratio (target >= ${RPS_TARGET[$scenario]}) $rps_verdict"
	echo "   median p99:   baseline ${b_p99}ms, warmkv ${w_p99}ms -> ratio $p99_ratio (target <= $P99_TARGET) $p99_verdict"
	echo "   median server CPU: baseline ${b_cpu%.*}%, warmkv ${w_cpu%.*}% of one core"
	echo "   median server CPU per request: baseline ${b_us}us, warmkv ${w_us}us -> ratio $(ratio "$w_us" "$b_us") (diagnostic, lower is better)"
	noisy=
	if ((others > NOISY_LIMIT)); then
		echo "   !!! other processes took up to ${others}% of a core during these runs: the ratios are unreliable"
		noisy=" [NOISY: others took up to ${others}% of a core]"
	fi
	if ((errors > 0)); then
		echo "   !!! $errors non-2xx responses / socket errors in this scenario: its figures are NOT valid"
		rps_verdict="FAIL (errors)"
		p99_verdict="FAIL (errors)"
	fi
	summary+=("$(printf '%-4s req/s ratio %s (>= %s) %-13s p99 ratio %s (<= %s) %s%s' \
		"$scenario" "$rps_ratio" "${RPS_TARGET[$scenario]}" "$rps_verdict" "$p99_ratio" "$P99_TARGET" "$p99_verdict" "$noisy")")
done

echo
if [[ -n ${sample_body[baseline]:-} && -n ${sample_body[warmkv]:-} && ${sample_body[baseline]} != "${sample_body[warmkv]}" ]]; then
	echo "!!! GET responses differ between the servers for the same key (not a like-for-like comparison):"
	echo "    baseline: ${sample_body[baseline]:0:200}"
	echo "    warmkv:   ${sample_body[warmkv]:0:200}"
fi
echo "== summary (warmkv / baseline, medians of $RUNS runs)"
printf '   %s\n' "${summary[@]}"
if ((${#problems[@]} > 0)); then
	echo
	echo "!!! RUNS WITH FAILED REQUESTS:"
	printf '!!!   %s\n' "${problems[@]}"
fi
exit 0
