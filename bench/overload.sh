#!/usr/bin/env bash
# overload.sh — warmkv under open-loop load at rising rates: the throughput-
# latency curve, as a table and a PNG.
#
# wrk is closed-loop (a connection sends its next request only when the last
# is answered), so it can never offer more than the server serves. bench/overload
# uses vegeta as a library: it sends at the given rate whatever the server does,
# opening more connections when all are busy, as independent clients would.
#
# The generator costs several times the server's CPU per request, and both share
# the box's 2 cores, so the server cannot be overloaded at full speed here. The
# script therefore gives the server a CPU quota (SERVER_CPU, default 0.25 of a
# core) through a cgroup v1 cpu controller when it can (root, writable
# /sys/fs/cgroup/cpu), with a 10 ms period so that throttling adds at most
# 7.5 ms gaps; without one it runs unlimited and says so.
#
# Environment (all optional):
#   RATES=5000,10000,15000,20000,30000,40000   offered req/s, one step each
#   STEP=3s              how long each step sends
#   SERVER_CPU=0.25      the server's CPU quota in cores; 0 = none
#   KEYS=100000          preloaded keys the GETs read
#   OUT_DIR=/tmp/warmkv-overload   where the TSV and overload.png go
#   WARMKV_BIN=path      use this binary instead of building the repo root
#
# Exit status: 0 when every step ran (whatever the verdict), 1 when something
# could not be built, started or measured.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)

RATES=${RATES:-5000,10000,15000,20000,30000,40000}
STEP=${STEP:-3s}
SERVER_CPU=${SERVER_CPU:-0.25}
KEYS=${KEYS:-100000}
OUT_DIR=${OUT_DIR:-/tmp/warmkv-overload}
lock=/tmp/warmkv-bench.lock

die() {
	echo "overload.sh: $*" >&2
	exit 1
}

[[ $RATES =~ ^[0-9]+(,[0-9]+)*$ ]] || die "RATES must be comma-separated integers, got '$RATES'"
[[ $SERVER_CPU =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "SERVER_CPU must be a number of cores, got '$SERVER_CPU'"
command -v flock >/dev/null || die "flock not found; install util-linux"
if [[ -z ${OVERLOAD_LOCKED:-} ]]; then
	OVERLOAD_LOCKED=1 exec flock "$lock" bash "${BASH_SOURCE[0]}" "$@"
fi

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/warmkv-overload.XXXXXX")
server_pid=
cgroup=

# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
	stop_server
	[[ -n $cgroup ]] && rmdir "$cgroup" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== building (into $tmp)"
build_warmkv
build_tools preload overload
mkdir -p "$OUT_DIR"

quota_us=$(awk -v c="$SERVER_CPU" 'BEGIN { printf "%d", c * 10000 }')
if ((quota_us > 0)) && [[ -w /sys/fs/cgroup/cpu ]]; then
	cgroup=/sys/fs/cgroup/cpu/warmkv-overload-$$
	mkdir "$cgroup"
	echo 10000 >"$cgroup/cpu.cfs_period_us"
	echo "$quota_us" >"$cgroup/cpu.cfs_quota_us"
	echo "== server CPU quota: $SERVER_CPU of a core (cgroup v1, 10 ms period)"
else
	echo "== no server CPU quota (SERVER_CPU=0 or no writable cgroup v1 cpu controller): the generator may saturate first"
fi

port=$(free_port)
PORT=$port BIND=127.0.0.1 RESP_PORT=0 APP_ENV=production MAX_MEMORY=256MiB \
	"$warmkv_bin" 2>"$tmp/server.log" &
server_pid=$!
[[ -n $cgroup ]] && echo "$server_pid" >"$cgroup/cgroup.procs"
for _ in $(seq 50); do
	curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
	sleep 0.1
done
# Two connections: a throttled server must not be overloaded by its preload.
"$tmp/preload" -c 2 -url "http://127.0.0.1:$port" -keys "$KEYS" >/dev/null || die "preload failed"

rm -f "$OUT_DIR/warmkv.tsv"
echo "== open-loop GET steps: $RATES req/s, $STEP each"
"$tmp/overload" attack -url "http://127.0.0.1:$port" -label warmkv -rates "$RATES" -duration "$STEP" \
	-keys "$KEYS" -server-pid "$server_pid" -out "$OUT_DIR/warmkv.tsv" || die "attack failed"
echo
"$tmp/overload" report -png "$OUT_DIR/overload.png" -shed warmkv -baseline warmkv "$OUT_DIR/warmkv.tsv" || die "report failed"
