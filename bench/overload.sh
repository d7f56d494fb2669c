#!/usr/bin/env bash
# overload.sh — warmkv under open-loop load at rising rates, with its admission
# control (MAX_IN_FLIGHT) on and off: the throughput-latency curves as a table
# and a PNG per scenario, and a PASS/FAIL verdict.
#
# wrk is closed-loop (a connection sends its next request only when the last
# is answered), so it can never offer more than the server serves. bench/overload
# uses vegeta as a library: it sends at the given rate whatever the server does,
# opening more connections when all are busy, as independent clients would.
#
# Scenarios (each runs "shed", MAX_IN_FLIGHT as given or the default, and
# "baseline", MAX_IN_FLIGHT=-1, each on a fresh server):
#
#   tier   every GET asks the shared Redis tier (REDIS_URL, LOCAL_TTL=0), and
#          the tier is the bottleneck: a redis-server held to TIER_CPU of a
#          core (cgroup v1, 40 ms period, so its answers come in bursts and
#          even an idle p99 is ~35 ms), as a tier shared by many instances
#          would be. Requests wait inside the server for the tier, which is the
#          overload admission control is for. This is the verdict that counts.
#          The rates stay where the box's CPUs are not saturated (about 1 of 2
#          cores at the top step): there everything collapses alike.
#   local  GETs of the in-process cache by a server held to SERVER_CPU of a
#          core (10 ms period): the generator costs several times the server's
#          CPU per request, so only a throttled server can be outrun on 2 cores.
#          Reported to show the limit of shedding: refusing a request this
#          small costs the server about what serving it does, and the queue is
#          in the kernel's socket buffers, before the server counts anything;
#          expect no 503s and the same curve as the baseline.
#
# PASS (per scenario; see bench/overload/report.go): at every step offering at
# least 1.2x the baseline's best 2xx/s, the shed run's 2xx p99 stays within
# FACTOR x its p99 at about half load (never tighter than 5 ms), its 503s are
# at least as fast, every 503 carries Retry-After and the JSON envelope, and
# the baseline's p99 at the top step went beyond that bound (the run really
# overloaded the server).
#
# The generator, the server and Redis share the 2 cores; the steps stay below
# the rates where the box itself saturates (then everything collapses alike).
# Each step reports the CPU of the generator (gen), the server (srv) and
# everything else (oth: Redis, and other people's processes: above ~15% of a
# core on the local scenario, distrust the step).
#
# Environment (all optional):
#   SCENARIOS=tier,local
#   TIER_RATES=2000,4000,6000,8000,10000,12000   offered req/s, one step each
#   LOCAL_RATES=2500,5000,10000,15000,20000
#   STEP=3s              how long each step sends
#   TIER_CPU=0.025       Redis's CPU quota, in cores (per 40 ms period)
#   SERVER_CPU=0.25      the server's CPU quota in the local scenario
#   MAX_IN_FLIGHT=       the shed run's bound (unset: the server's default)
#   FACTOR=10            the verdict's latency factor
#   KEYS=100000          preloaded keys the GETs read
#   WAIT_IDLE=30         before each run, wait up to this many seconds for the
#                        box to go idle (< 10% of a core busy)
#   OUT_DIR=/tmp/warmkv-overload   where the TSVs and overload-SCENARIO.png go
#   WARMKV_BIN=path      use this binary instead of building the repo root
#   LOG_DIR=dir          keep the server and Redis logs there
#
# Needs root for the cgroup v1 cpu controller (/sys/fs/cgroup/cpu); without it
# the scenarios run unthrottled and say so (their verdicts then mean little).
# Exit status: 0 when every step ran (whatever the verdicts), 1 when something
# could not be built, started or measured.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

SCENARIOS=${SCENARIOS:-tier,local}
TIER_RATES=${TIER_RATES:-2000,4000,6000,8000,10000,12000}
LOCAL_RATES=${LOCAL_RATES:-2500,5000,10000,15000,20000}
STEP=${STEP:-3s}
TIER_CPU=${TIER_CPU:-0.025}
SERVER_CPU=${SERVER_CPU:-0.25}
FACTOR=${FACTOR:-10}
KEYS=${KEYS:-100000}
WAIT_IDLE=${WAIT_IDLE:-30}
OUT_DIR=${OUT_DIR:-/tmp/warmkv-overload}

for rates in "$TIER_RATES" "$LOCAL_RATES"; do
	[[ $rates =~ ^[0-9]+(,[0-9]+)*$ ]] || die "rates must be comma-separated integers, got '$rates'"
done
[[ $TIER_CPU =~ ^[0-9]+(\.[0-9]+)?$ && $SERVER_CPU =~ ^[0-9]+(\.[0-9]+)?$ ]] ||
	die "TIER_CPU and SERVER_CPU must be numbers of cores"
[[ -z ${MAX_IN_FLIGHT:-} ]] || non_negative MAX_IN_FLIGHT
non_negative WAIT_IDLE
IFS=, read -r -a scenarios <<<"$SCENARIOS"
for scenario in "${scenarios[@]}"; do
	case $scenario in tier | local) ;; *) die "unknown scenario '$scenario' (want tier, local)" ;; esac
done
need curl go
[[ ,$SCENARIOS, != *,tier,* ]] || need redis-server redis-cli

redis_pid=
cgroups=()
# shellcheck disable=SC2317 # invoked on exit
cleanup_hook() {
	stop_server
	stop_pid "$redis_pid"
	local cg
	for cg in "${cgroups[@]}"; do
		rmdir "$cg" 2>/dev/null || true
	done
}
make_tmp overload
# Load runs of different people must never overlap: the whole script holds the lock.
bench_lock
echo "== building (into $tmp)"
build_warmkv
build_tools preload overload
mkdir -p "$OUT_DIR"

# new_cgroup NAME CORES PERIOD_US: a cgroup v1 cpu group with that quota; its
# path in cgroup, or empty when there is no writable cpu controller.
new_cgroup() {
	local quota
	cgroup=
	quota=$(awk -v c="$2" -v p="$3" 'BEGIN { printf "%d", c * p }')
	((quota >= 1000)) || die "a quota of $2 cores is below the kernel's 1 ms minimum per $3 us period"
	[[ -w /sys/fs/cgroup/cpu ]] || return 0
	cgroup=/sys/fs/cgroup/cpu/warmkv-overload-$1-$$
	mkdir "$cgroup"
	cgroups+=("$cgroup")
	echo "$3" >"$cgroup/cpu.cfs_period_us"
	echo "$quota" >"$cgroup/cpu.cfs_quota_us"
}

# tier_redis: a redis-server for the tier scenario, in the tier's cgroup;
# sets redis_pid and redis_url.
tier_redis() {
	start_redis redis-server "$tmp/redis.log"
	redis_pid=$server_pid redis_url=redis://127.0.0.1:$server_port server_pid=
	[[ -z $tier_cgroup ]] || echo "$redis_pid" >"$tier_cgroup/cgroup.procs"
}

# run SCENARIO LABEL MAX_IN_FLIGHT RATES: a fresh server (and Redis), preloaded,
# then one attack; the steps are appended to $OUT_DIR/SCENARIO.tsv.
run() {
	local scenario=$1 label=$2 mif=$3 rates=$4 port log
	local -a env=(BIND=127.0.0.1 RESP_PORT=0 APP_ENV=production MAX_MEMORY=256MiB MAX_IN_FLIGHT="$mif")
	wait_idle
	if [[ $scenario == tier ]]; then
		tier_redis
		env+=(REDIS_URL="$redis_url" LOCAL_TTL=0)
	fi
	port=$(free_port)
	log=$tmp/$scenario-$label.server.log
	env PORT="$port" "${env[@]}" "$warmkv_bin" 2>"$log" 9>&- &
	server_pid=$!
	[[ $scenario == local && -n $local_cgroup ]] && echo "$server_pid" >"$local_cgroup/cgroup.procs"
	# The preloader waits for /healthz. The throttled local server gets two
	# connections, so that the preload does not overload it; the tier scenario's
	# PUTs go through the throttled Redis, which more connections fill better.
	local conns=2
	[[ $scenario == tier ]] && conns=32
	timeout 300 "$tmp/preload" -c "$conns" -url "http://127.0.0.1:$port" -keys "$KEYS" >>"$tmp/preload.log" 2>&1 || {
		tail -n 5 "$tmp/preload.log" "$log" >&2
		die "preloading the $scenario $label server failed"
	}
	echo "-- $scenario, $label (MAX_IN_FLIGHT=$mif)"
	"$tmp/overload" attack -url "http://127.0.0.1:$port" -label "$label" -rates "$rates" -duration "$STEP" \
		-keys "$KEYS" -server-pid "$server_pid" -out "$OUT_DIR/$scenario.tsv" || die "attack failed"
	kill -0 "$server_pid" 2>/dev/null || {
		tail -n 20 "$log" >&2
		die "the $scenario $label server died"
	}
	stop_server
	stop_pid "$redis_pid"
	redis_pid=
	local down
	down=$(grep -c 'shared tier unavailable' "$log" || true)
	((down == 0)) || echo "   the server declared the shared tier unavailable $down times (calls timed out after REDIS_TIMEOUT)"
}

cgroup=
new_cgroup tier "$TIER_CPU" 40000
tier_cgroup=$cgroup
new_cgroup local "$SERVER_CPU" 10000
local_cgroup=$cgroup
if [[ -z $tier_cgroup ]]; then
	echo "!!! no writable cgroup v1 cpu controller: Redis and the server run unthrottled, and the generator may saturate the box first"
fi

verdicts=()
for scenario in "${scenarios[@]}"; do
	echo
	if [[ $scenario == tier ]]; then
		rates=$TIER_RATES
		title="tier: every GET asks a shared Redis held to $TIER_CPU core"
		echo "== tier: GETs that all ask the shared tier (LOCAL_TTL=0), a redis-server held to $TIER_CPU of a core; the server is not throttled"
	else
		rates=$LOCAL_RATES
		title="local: GETs of the in-process cache, server held to $SERVER_CPU core"
		echo "== local: GETs of the in-process cache, the server held to $SERVER_CPU of a core"
	fi
	rm -f "$OUT_DIR/$scenario.tsv"
	run "$scenario" shed "${MAX_IN_FLIGHT:-0}" "$rates"
	run "$scenario" baseline -1 "$rates"
	echo
	"$tmp/overload" report -png "$OUT_DIR/overload-$scenario.png" -title "$title" -shed shed -baseline baseline \
		-factor "$FACTOR" "$OUT_DIR/$scenario.tsv" | tee "$tmp/$scenario.report" || die "report failed"
	# MAX_IN_FLIGHT=-1 must switch shedding off, or the "baseline" is not one.
	# (The tier's own 503s, when it stops answering in time, are not refusals.)
	if awk -F'\t' '$1 == "baseline" && $6 > 0 { found = 1 } END { exit !found }' "$OUT_DIR/$scenario.tsv"; then
		echo "!!! the baseline answered 503s: the server ignored MAX_IN_FLIGHT=-1, so this is no comparison"
		verdicts+=("$scenario: INVALID (baseline shed load)")
	else
		v=$(grep '^verdict:' "$tmp/$scenario.report" | sed 's/^verdict: //')
		[[ $scenario == local ]] && v="$v (reported only: shedding cannot bound this case, see the top of this script)"
		verdicts+=("$scenario: $v")
	fi
done

echo
echo "== summary (tables: $OUT_DIR/*.tsv, plots: $OUT_DIR/overload-*.png)"
printf '   %s\n' "${verdicts[@]}"
exit 0
