#!/usr/bin/env bash
# growth.sh — does a cache that grows as it fills stall its readers?
#
# A fresh warmkv (MAX_MEMORY, default 64 MiB) gets two open-loop streams at
# once from `overload growth` (vegeta): GETs of 10,000 preloaded keys at
# GET_RATE and PUTs of new 20/100 keys at PUT_RATE, which fill the cache from
# empty, its shards rebuilding larger as they go. When the server reports its
# first eviction the cache is full, and the same load goes on for as long again.
# GET p99.9 while filling is compared with GET p99.9 on the full cache.
# Target: at most 2x. Open loop, because a closed-loop tool (wrk) waits for
# each answer and so hides a stall instead of queueing behind it.
#
# The default rates total about half of what this 2-core box serves with the
# load generator beside the server and its work (4000 + 8000/s, tried first,
# queued requests for seconds in both phases, which measures the box).
#
# Environment (all optional):
#   RUNS=1                 fresh servers, one fill each
#   MAX_MEMORY=64MiB       the budget to fill (about 90 s at the default rates)
#   GET_RATE=1500 PUT_RATE=3000
#   LOG_DIR=dir            keep the server logs
#
# Exit status: 0 when everything ran (whatever the verdict), 1 when something
# could not be built, started or measured.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

RUNS=${RUNS:-1}
MAX_MEMORY=${MAX_MEMORY:-64MiB}
GET_RATE=${GET_RATE:-1500}
PUT_RATE=${PUT_RATE:-3000}
need go curl
positive RUNS GET_RATE PUT_RATE

make_tmp growth
echo "building warmkv and bench/overload..."
build_warmkv
build_tools overload
bench_lock

for run in $(seq "$RUNS"); do
	echo
	echo "== run $run of $RUNS: MAX_MEMORY=$MAX_MEMORY, GETs $GET_RATE/s, PUTs of new keys $PUT_RATE/s"
	start_warmkv warmkv "$tmp/server-$run.log" RESP_PORT=0 MAX_MEMORY="$MAX_MEMORY"
	"$tmp/overload" growth -url "http://127.0.0.1:$server_port" -get-rate "$GET_RATE" -put-rate "$PUT_RATE" ||
		die "overload growth failed"
	stop_server
done
