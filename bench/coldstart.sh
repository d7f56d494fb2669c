#!/usr/bin/env bash
# coldstart.sh — what a new warmkv instance costs before it serves, in the
# three places it runs, each against a baseline measured in the same run:
#
#  1. Lambda: INIT under AWS's Runtime Interface Emulator at 128, 1024 and
#     3008 MB, warmkv's bootstrap (built with `make lambda`'s flags for this
#     machine) against a hello-world aws-lambda-go function (bench/hellolambda).
#     Target: warmkv's median <= 2 x hello's median + 10 ms.
#  2. Vercel: api/index.go behind a go-bridge-style main (bench/vercelfn) under
#     the same emulator: its first request's REPORT Duration against its second.
#     Target: at most 10 ms more.
#  3. Standalone: exec to the first 200 from /healthz at MAX_MEMORY 64 MiB,
#     256 MiB, 1 GiB and 3 GiB. Target: 3 GiB <= 1.5 x 64 MiB, both < 100 ms.
#     Then, holding one key: memoryUsed <= 32 MiB and RSS <= 64 MiB at each.
#
# bench/coldstart does the measuring (medians of RUNS, min-max, alternating
# what it compares); this script builds everything and holds the bench lock.
#
# Environment (all optional):
#   RUNS=10                   cold starts per figure
#   SIZES=128,1024,3008       Lambda function sizes, MB
#   BUDGETS=64MiB,256MiB,1GiB,3GiB   standalone budgets, the first the baseline
#   VERCEL_MB=1024            the Vercel function's memory (vercel.json)
#
# Exit status: 0 when everything was measured (whatever the verdicts), 1 when
# something could not be built, started or measured.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

RUNS=${RUNS:-10}
SIZES=${SIZES:-128,1024,3008}
BUDGETS=${BUDGETS:-64MiB,256MiB,1GiB,3GiB}
VERCEL_MB=${VERCEL_MB:-1024}
need go
positive RUNS VERCEL_MB

make_tmp coldstart
echo "building warmkv (standalone and Lambda), the baselines, bench/coldstart and aws-lambda-rie..."
build_warmkv
lambda_flags=(-tags lambda.norpc -trimpath -ldflags '-s -w') # `make lambda`'s, for this machine
(cd "$root" && CGO_ENABLED=0 GOOS=linux go build "${lambda_flags[@]}" -o "$tmp/bootstrap" .) ||
	die "go build of the Lambda bootstrap failed"
for fn in hellolambda vercelfn; do
	(cd "$root/bench" && CGO_ENABLED=0 GOOS=linux go build "${lambda_flags[@]}" -o "$tmp/$fn" "./$fn") ||
		die "go build of bench/$fn failed"
done
build_tools coldstart
install_rie
bench_lock

"$tmp/coldstart" -rie "$rie_bin" -bootstrap "$tmp/bootstrap" -hello "$tmp/hellolambda" \
	-vercel "$tmp/vercelfn" -vercel-mb "$VERCEL_MB" -warmkv "$warmkv_bin" \
	-runs "$RUNS" -sizes "$SIZES" -budgets "$BUDGETS" || die "bench/coldstart failed"
