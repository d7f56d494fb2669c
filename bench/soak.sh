#!/usr/bin/env bash
# soak.sh — a bounded soak of warmkv with every answer checked.
#
# bench/soak runs WORKERS workers, each owning KEYS keys, that mix GET, PUT
# (with and without "ttl"/"expire"), delete, check-and-set, increment and
# append/prepend with random key and value sizes up to the 256-character
# limits (multi-byte UTF-8, characters JSON and URLs escape, both request
# forms). Every answer is compared with a model of what was written: a wrong
# value is always a failure, a missing key is allowed only when its TTL may
# have run out or, in the evict phase, as an LRU eviction (and only if /stats
# counts evictions). After the load, every key is read once more. RSS is
# compared between the end of the warm-up and the end of the run.
#
# Phases (each a fresh server, SOAK_DURATION split evenly between them):
#   exact  MAX_MEMORY=256MiB SIZE=200000: the key space fits with room to
#          spare, so nothing may be evicted and every miss must be an expiry
#   evict  MAX_MEMORY=16MiB: about half the key space fits, so the LRU evicts
#          all the time; evictions may only ever show as misses
#
# Environment (all optional):
#   SOAK_DURATION=10m          total time of mixed operations (Go duration: 60s, 10m, 1h)
#   SOAK_PHASES=exact,evict    which phases to run
#   SOAK_WORKERS=32            concurrent workers (one keep-alive connection each)
#   SOAK_KEYS=2000             keys per worker
#   SOAK_RSS_TOLERANCE=0.10    allowed RSS growth from warm-up to end
#   SOAK_SEED=0                random seed (0 = from the clock, printed)
#   EXACT_MAX_MEMORY=256MiB EXACT_SIZE=200000 EVICT_MAX_MEMORY=16MiB
#   WARMKV_BIN=path            use this binary instead of building the repo root
#   LOG_DIR=dir                keep the soak output and server logs there
# PORT, BIND=127.0.0.1, APP_ENV=production, RESP_PORT=0, MAX_MEMORY and SIZE
# are set here; anything else in the environment (GOMAXPROCS, GOGC, ...)
# reaches the server unchanged.
#
# The whole run holds /tmp/warmkv-bench.lock (flock) so that it never overlaps
# another load run; it takes the lock itself unless it inherited it.
#
# Exit status: 0 when every phase PASSed, 1 when one FAILed or could not run.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

SOAK_DURATION=${SOAK_DURATION:-10m}
SOAK_PHASES=${SOAK_PHASES:-exact,evict}
SOAK_WORKERS=${SOAK_WORKERS:-32}
SOAK_KEYS=${SOAK_KEYS:-2000}
SOAK_RSS_TOLERANCE=${SOAK_RSS_TOLERANCE:-0.10}
SOAK_SEED=${SOAK_SEED:-0}
EXACT_MAX_MEMORY=${EXACT_MAX_MEMORY:-256MiB}
EXACT_SIZE=${EXACT_SIZE:-200000}
EVICT_MAX_MEMORY=${EVICT_MAX_MEMORY:-16MiB}

need go
positive SOAK_WORKERS SOAK_KEYS

# seconds_of DURATION: a Go duration made of h, m and s parts, or plain seconds.
seconds_of() {
	local d=$1 total=0 n unit
	[[ $d =~ ^[0-9]+$ ]] && d=${d}s
	[[ $d =~ ^([0-9]+[hms])+$ ]] || die "SOAK_DURATION must look like 60s, 10m or 1h30m, got '$1'"
	while [[ $d =~ ^([0-9]+)([hms])(.*)$ ]]; do
		n=$((10#${BASH_REMATCH[1]})) unit=${BASH_REMATCH[2]} d=${BASH_REMATCH[3]}
		case $unit in
		h) total=$((total + n * 3600)) ;;
		m) total=$((total + n * 60)) ;;
		s) total=$((total + n)) ;;
		esac
	done
	echo "$total"
}

IFS=, read -r -a phases <<<"$SOAK_PHASES"
((${#phases[@]} > 0)) || die "SOAK_PHASES is empty"
for phase in "${phases[@]}"; do
	case $phase in exact | evict) ;; *) die "unknown phase '$phase' (want exact, evict)" ;; esac
done
total_seconds=$(seconds_of "$SOAK_DURATION")
phase_seconds=$((total_seconds / ${#phases[@]}))
((phase_seconds >= 10)) || die "SOAK_DURATION=$SOAK_DURATION leaves less than 10s per phase"

make_tmp soak
bench_lock
echo "== building (into $tmp)"
build_warmkv
build_tools soak

summary=()
failed=0

# run_phase NAME: one fresh server, one soak, one verdict.
run_phase() {
	local phase=$1 port log out env_args=() soak_args=()
	port=$(free_port)
	log=$tmp/$phase.server.log
	out=$tmp/$phase.soak.log
	case $phase in
	exact)
		env_args=(MAX_MEMORY="$EXACT_MAX_MEMORY" SIZE="$EXACT_SIZE")
		echo
		echo "== phase exact: MAX_MEMORY=$EXACT_MAX_MEMORY SIZE=$EXACT_SIZE, no evictions allowed, ${phase_seconds}s"
		;;
	evict)
		env_args=(-u SIZE MAX_MEMORY="$EVICT_MAX_MEMORY")
		soak_args=(-evictions)
		echo
		echo "== phase evict: MAX_MEMORY=$EVICT_MAX_MEMORY, evictions allowed as misses only, ${phase_seconds}s"
		;;
	esac
	env "${env_args[@]}" PORT="$port" BIND=127.0.0.1 APP_ENV=production RESP_PORT=0 \
		"$warmkv_bin" >"$log" 2>&1 9>&- &
	server_pid=$!

	local rc
	set +e
	"$tmp/soak" -url "http://127.0.0.1:$port" -pid "$server_pid" -phase "$phase" \
		-duration "${phase_seconds}s" -workers "$SOAK_WORKERS" -keys "$SOAK_KEYS" \
		-rss-tolerance "$SOAK_RSS_TOLERANCE" -seed "$SOAK_SEED" "${soak_args[@]}" 2>&1 |
		tee "$out" | grep -v '^SOAK ' | sed 's/^/   /'
	rc=${PIPESTATUS[0]}
	set -e

	# The server must still be up, and must stop cleanly on SIGTERM.
	local alive=yes exit_status=
	if ! kill -0 "$server_pid" 2>/dev/null; then
		alive=no
	fi
	kill -TERM "$server_pid" 2>/dev/null || true
	wait "$server_pid" && exit_status=0 || exit_status=$?
	server_pid=

	local line verdict
	line=$(grep '^SOAK ' "$out" || true)
	verdict=$(field verdict "$line")
	if [[ -z $line ]]; then
		echo "   !!! the soak did not finish (exit status $rc); server log:"
		tail -n 20 "$log" | sed 's/^/   /'
		verdict="FAIL (the soak could not run)"
	elif [[ $alive == no ]]; then
		echo "   !!! the server died during the soak; its log:"
		tail -n 20 "$log" | sed 's/^/   /'
		verdict="FAIL (server died)"
	elif ((exit_status != 0)); then
		echo "   !!! the server exited with status $exit_status after SIGTERM; its log:"
		tail -n 20 "$log" | sed 's/^/   /'
		verdict="FAIL (exit status $exit_status after SIGTERM)"
	fi
	[[ $verdict == PASS ]] || failed=1
	if [[ -n $line ]]; then
		summary+=("$(printf '%-6s %-5s %7s ops/s, %s checks, %s failures, misses: %s expired / %s evicted, RSS %s -> %s MB (%s%%)' \
			"$phase" "$verdict" "$(field ops_per_s "$line")" "$(field checks "$line")" "$(field failures "$line")" \
			"$(field expired_misses "$line")" "$(field evicted_misses "$line")" \
			"$(awk -v b="$(field rss_warm "$line")" 'BEGIN { printf "%.1f", b / 1e6 }')" \
			"$(awk -v b="$(field rss_end "$line")" 'BEGIN { printf "%.1f", b / 1e6 }')" \
			"$(field rss_change_pct "$line")")")
	else
		summary+=("$(printf '%-6s %s' "$phase" "$verdict")")
	fi
}

for phase in "${phases[@]}"; do
	run_phase "$phase"
done

echo
echo "== summary ($SOAK_DURATION, $SOAK_WORKERS workers x $SOAK_KEYS keys; RSS limit +$(awk -v t="$SOAK_RSS_TOLERANCE" 'BEGIN { printf "%.0f", t * 100 }')% after warm-up)"
printf '   %s\n' "${summary[@]}"
if ((failed)); then
	echo "   => FAIL"
else
	echo "   => PASS"
fi
exit "$failed"
