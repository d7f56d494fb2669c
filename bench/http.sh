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
# Anything else in the environment (MAX_MEMORY, SIZE, GOMAXPROCS, ...) reaches
# both servers unchanged; PORT, BIND=127.0.0.1 and APP_ENV=production are set
# here.
#
# Exit status: 0 when every run ran (whatever the verdicts: this is a report),
# 1 when something could not be built, started or measured.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)

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

die() {
	echo "http.sh: $*" >&2
	exit 1
}

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

command -v wrk >/dev/null || die "wrk not found; install it with: apt-get install -y wrk"
command -v go >/dev/null || die "go not found"
command -v curl >/dev/null || die "curl not found; install it with: apt-get install -y curl"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, got '$RUNS'"
[[ $WAIT_IDLE =~ ^[0-9]+$ && $RETRY_NOISY =~ ^[0-9]+$ && $NOISY_LIMIT =~ ^[0-9]+$ ]] ||
	die "WAIT_IDLE, RETRY_NOISY and NOISY_LIMIT must be non-negative integers"
case $DIST in uniform | zipf) ;; *) die "DIST must be uniform or zipf" ;; esac
case $MIX_PUT in new | update) ;; *) die "MIX_PUT must be new or update" ;; esac

# duration_seconds converts a wrk duration (10, 10s, 2m, 1h) to seconds.
duration_seconds() {
	local d=$1
	case $d in
	*h) echo $((${d%h} * 3600)) ;;
	*m) echo $((${d%m} * 60)) ;;
	*s) echo "${d%s}" ;;
	*) echo "$d" ;;
	esac
}
duration_s=$(duration_seconds "$DURATION")
[[ $duration_s =~ ^[1-9][0-9]*$ ]] || die "DURATION must be whole seconds/minutes/hours (e.g. 10s), got '$DURATION'"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/warmkv-http.XXXXXX")
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

# start_server NAME BIN LOG: starts a fresh server on a free port (in
# server_port) and waits (via the preloader's health wait) until GET /healthz
# answers 200. A port somebody grabbed in between costs a retry.
start_server() {
	local name=$1 bin=$2 log=$3
	for _ in 1 2 3; do
		server_port=$(free_port)
		PORT=$server_port BIND=127.0.0.1 APP_ENV=production "$bin" >"$log" 2>&1 &
		server_pid=$!
		if timeout 20 "$tmp/preload" -url "http://127.0.0.1:$server_port" -keys 0 -wait 10s >>"$tmp/preload.log" 2>&1 &&
			kill -0 "$server_pid" 2>/dev/null; then
			return 0
		fi
		stop_server
		grep -qi 'address already in use' "$log" || break
	done
	echo "!!! $name did not become healthy on 127.0.0.1:$server_port; its log:" >&2
	tail -n 20 "$log" >&2
	die "could not start $name"
}

clk_tck=$(getconf CLK_TCK)
ncpu=$(grep -c '^cpu[0-9]' /proc/stat)

# Other processes on the box make every figure meaningless; say so up front.
idle_busy=$(busy_percent 2)
echo "== box: $ncpu CPUs; before starting, other processes use ${idle_busy}% of one core"
if ((idle_busy > 10)); then
	echo "!!! THE BOX IS NOT IDLE (${idle_busy}% of a core busy before any benchmark process started): expect noisy, unreliable ratios"
	top -bn1 -o %CPU 2>/dev/null | sed -n '8,12p' | sed 's/^/!!!   /' || true
fi

# to_ms converts a wrk time ("850.12us", "1.23ms", "2.00s", "1.5m") to ms.
to_ms() {
	awk -v t="$1" 'BEGIN {
		if (t ~ /us$/) { sub(/us$/, "", t); printf "%.3f", t / 1000; exit }
		if (t ~ /ms$/) { sub(/ms$/, "", t); printf "%.3f", t; exit }
		if (t ~ /s$/) { sub(/s$/, "", t); printf "%.3f", t * 1000; exit }
		if (t ~ /m$/) { sub(/m$/, "", t); printf "%.3f", t * 60000; exit }
		if (t ~ /h$/) { sub(/h$/, "", t); printf "%.3f", t * 3600000; exit }
		exit 1
	}'
}

problems=() # every run with non-2xx answers or socket errors
declare -A sample_body

# run_one SCENARIO SERVER RUN: one measured run, redone up to RETRY_NOISY
# times while other processes disturb it.
run_one() {
	local attempt
	for ((attempt = 0; ; attempt++)); do
		# Not "measure && break": that would switch off set -e inside it.
		measure "$@" "$attempt"
		[[ $measured == yes ]] && break
	done
}

# measure SCENARIO SERVER RUN ATTEMPT: one fresh server, preload, one wrk run.
# Appends "rps p99_ms srv_cpu_pct wrk_cpu_pct non2xx sockerr srv_us_per_req
# others_cpu_pct" to $tmp/SCENARIO.SERVER and sets measured=yes, or sets
# measured=no when other processes disturbed the run and it should be redone.
measure() {
	local scenario=$1 name=$2 run=$3 attempt=$4 bin port log out
	bin=$baseline_bin
	[[ $name == warmkv ]] && bin=$warmkv_bin
	log=$tmp/$scenario-$name-$run.$attempt.server.log
	out=$tmp/$scenario-$name-$run.$attempt.wrk.log
	wait_idle
	start_server "$name" "$bin" "$log"
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

	local t0 t1 m0 m1 c0 c1
	t0=$(cpu_ticks "$server_pid")
	c0=$(children_ticks)
	m0=$(machine_ticks)
	local -a args=(mode="$scenario" keys="$KEYS" keylen="$KEY_LEN" vallen="$VALUE_LEN" dist="$DIST" s="$ZIPF_S" mixput="$MIX_PUT")
	if ! timeout -k 5 $((duration_s + 60)) wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency \
		-s "$here/wrk/kv.lua" "http://127.0.0.1:$port" -- "${args[@]}" >"$out" 2>&1; then
		cat "$out" >&2
		die "wrk failed against $name ($scenario run $run)"
	fi
	t1=$(cpu_ticks "$server_pid")
	c1=$(children_ticks)
	m1=$(machine_ticks)
	kill -0 "$server_pid" 2>/dev/null || {
		tail -n 20 "$log" >&2
		die "$name died during $scenario run $run"
	}
	stop_server

	local rps p99 non2xx sockerr requests
	rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
	requests=$(awk '/ requests in / { print $1 }' "$out")
	p99=$(awk '$1 == "99%" { print $2 }' "$out")
	non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
	sockerr=$(awk '/Socket errors:/ { gsub(/,/, ""); print $4 + $6 + $8 + $10 }' "$out")
	[[ -n $rps && -n $p99 && -n $requests ]] || {
		cat "$out" >&2
		die "could not parse wrk output ($name, $scenario run $run)"
	}
	p99=$(to_ms "$p99") || die "unknown latency unit in wrk output: $p99"
	non2xx=${non2xx:-0}
	sockerr=${sockerr:-0}

	# CPU of the server, of wrk and of everything else during the run, each
	# in % of one core (the box has $ncpu). Server CPU time per request does
	# not depend on how the scheduler happened to split the cores between
	# wrk and the server, so it is much steadier than req/s.
	local srv_cpu wrk_cpu other_cpu us_per_req
	read -r srv_cpu wrk_cpu other_cpu < <(awk -v s="$((t1 - t0))" -v w="$((c1 - c0))" -v m0="$m0" -v m1="$m1" -v n="$ncpu" 'BEGIN {
		split(m0, x, " "); split(m1, y, " ")
		busy = y[1] - x[1]; wall = (y[2] - x[2]) / n
		if (wall <= 0) wall = 1
		other = busy - s - w; if (other < 0) other = 0
		printf "%.0f %.0f %.0f\n", s / wall * 100, w / wall * 100, other / wall * 100
	}')
	us_per_req=$(awk -v a="$t0" -v b="$t1" -v hz="$clk_tck" -v n="$requests" 'BEGIN { printf "%.2f", (n > 0 ? (b - a) / hz * 1e6 / n : 0) }')

	if ((non2xx > 0 || sockerr > 0)); then
		problems+=("$scenario run $run, $name: $non2xx non-2xx responses, $sockerr socket errors")
		echo "!!! $scenario run $run, $name: $non2xx NON-2XX RESPONSES, $sockerr SOCKET ERRORS" >&2
		grep -E 'Non-2xx|Socket errors' "$out" >&2 || true
	fi
	if ((other_cpu > NOISY_LIMIT && attempt < RETRY_NOISY)); then
		printf '%-4s %-9s %9.0f %9.2f %8s%% %8s%% %8s%% %10s   discarded: other processes were busy, redoing\n' \
			"($run)" "$name" "$rps" "$p99" "$srv_cpu" "$wrk_cpu" "$other_cpu" "$us_per_req"
		measured=no
		return 0
	fi
	measured=yes
	echo "$rps $p99 $srv_cpu $wrk_cpu $non2xx $sockerr $us_per_req $other_cpu" >>"$tmp/$scenario.$name"
	printf '%-4s %-9s %9.0f %9.2f %8s%% %8s%% %8s%% %10s %8s %8s\n' "$run" "$name" "$rps" "$p99" "$srv_cpu" "$wrk_cpu" "$other_cpu" "$us_per_req" "$non2xx" "$sockerr"
}

summary=()

IFS=, read -r -a scenarios <<<"$SCENARIOS"
for scenario in "${scenarios[@]}"; do
	[[ -n ${DESCRIPTION[$scenario]:-} ]] || die "unknown scenario '$scenario' (want get, put, mix)"
done

for scenario in "${scenarios[@]}"; do
	echo
	echo "== $scenario: ${DESCRIPTION[$scenario]}"
	echo "   wrk -t$THREADS -c$CONNS -d$DURATION --latency, $RUNS fresh runs per server, alternating; key choice $DIST"
	printf '%-4s %-9s %9s %9s %9s %9s %9s %10s %8s %8s\n' run server "req/s" "p99 ms" "srv-cpu" "wrk-cpu" "others" "srv-us/req" non-2xx sock-err
	: >"$tmp/$scenario.baseline"
	: >"$tmp/$scenario.warmkv"
	for ((run = 1; run <= RUNS; run++)); do
		if ((run % 2)); then order=(baseline warmkv); else order=(warmkv baseline); fi
		for name in "${order[@]}"; do
			run_one "$scenario" "$name" "$run"
		done
	done

	# shellcheck disable=SC2046 # one number per line, split on purpose
	{
		b_rps=$(median $(awk '{ print $1 }' "$tmp/$scenario.baseline"))
		w_rps=$(median $(awk '{ print $1 }' "$tmp/$scenario.warmkv"))
		b_p99=$(median $(awk '{ print $2 }' "$tmp/$scenario.baseline"))
		w_p99=$(median $(awk '{ print $2 }' "$tmp/$scenario.warmkv"))
		b_cpu=$(median $(awk '{ print $3 }' "$tmp/$scenario.baseline"))
		w_cpu=$(median $(awk '{ print $3 }' "$tmp/$scenario.warmkv"))
		b_us=$(median $(awk '{ print $7 }' "$tmp/$scenario.baseline"))
		w_us=$(median $(awk '{ print $7 }' "$tmp/$scenario.warmkv"))
		errors=$(awk '{ e += $5 + $6 } END { print e + 0 }' "$tmp/$scenario.baseline" "$tmp/$scenario.warmkv")
		others=$(awk '$8 > m { m = $8 } END { print m + 0 }' "$tmp/$scenario.baseline" "$tmp/$scenario.warmkv")
	}
	rps_ratio=$(awk -v w="$w_rps" -v b="$b_rps" 'BEGIN { printf "%.3f", w / b }')
	p99_ratio=$(awk -v w="$w_p99" -v b="$b_p99" 'BEGIN { printf "%.3f", (b > 0 ? w / b : 0) }')
	rps_verdict=$(awk -v r="$rps_ratio" -v t="${RPS_TARGET[$scenario]}" 'BEGIN { print (r >= t ? "PASS" : "FAIL") }')
	p99_verdict=$(awk -v r="$p99_ratio" -v t="$P99_TARGET" 'BEGIN { print (r <= t ? "PASS" : "FAIL") }')
	echo "   median req/s: baseline $(printf '%.0f' "$b_rps"), warmkv $(printf '%.0f' "$w_rps") -> ratio $rps_ratio (target >= ${RPS_TARGET[$scenario]}) $rps_verdict"
	echo "   median p99:   baseline ${b_p99}ms, warmkv ${w_p99}ms -> ratio $p99_ratio (target <= $P99_TARGET) $p99_verdict"
	echo "   median server CPU: baseline ${b_cpu%.*}%, warmkv ${w_cpu%.*}% of one core"
	echo "   median server CPU per request: baseline ${b_us}us, warmkv ${w_us}us -> ratio $(awk -v w="$w_us" -v b="$b_us" 'BEGIN { printf "%.3f", (b > 0 ? w / b : 0) }') (diagnostic, lower is better)"
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
