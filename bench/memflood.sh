#!/usr/bin/env bash
# memflood.sh — warmkv's 2 GB memory contract.
#
# With a 2 GB limit and MAX_MEMORY unset, a flood of N (5 million) distinct
# PUTs of 256-char keys and 256-char values must never take the server's RSS
# above 1.8e9 bytes, never fail a request, and leave the cache holding as
# many entries as fit. The limit is given two ways, one variant each:
#   gomemlimit  GOMEMLIMIT=2GiB in the server's environment
#   cgroup      a real cgroup v1 memory limit of 2000000000 bytes (needs root
#               and a writable /sys/fs/cgroup/memory; skipped otherwise)
#
# With STORM_CONNS set (e.g. 10000), a connection storm runs during the whole
# flood: bench/conns, a separate process, opens that many keep-alive
# connections, each sends one GET /healthz, holds them STORM_HOLD, closes
# them all and starts again. Then every request the storm sent must be
# answered too, and the RSS contract must hold for both loads at once.
#
# Environment (all optional):
#   VARIANTS=gomemlimit,cgroup  which variants to run
#   N=5000000                   PUTs per variant
#   CONNS=64                    flood connections
#   RSS_LIMIT=1800000000        RSS ceiling in bytes
#   FLOOD_TIMEOUT=1800          seconds before a flood is abandoned
#   WARMKV_BIN=path             use this binary instead of building the repo root
#   STORM_CONNS=0               connections per storm round (0: no storm)
#   STORM_HOLD=5s               how long each storm round holds its connections
# PORT, BIND=127.0.0.1 and APP_ENV=production are set here; MAX_MEMORY is
# removed from the server's environment, and GOMEMLIMIT too in the cgroup
# variant (so the server must find the limit through its cgroup).
#
# A failed request "the client was not told about" is one that got no HTTP
# answer at all: a flood transport error, or a storm connection that could
# not be opened, got no answer to its GET, or was closed by the server while
# it was meant to stay open. Those must be 0; an HTTP error status would at
# least tell the client, but the flood's contract wants every PUT answered 200.
#
# Exit status: 0 when every variant ran (whatever the verdicts: this is a
# report), 1 when something could not be built or started.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

VARIANTS=${VARIANTS:-gomemlimit,cgroup}
N=${N:-5000000}
CONNS=${CONNS:-64}
RSS_LIMIT=${RSS_LIMIT:-1800000000}
FLOOD_TIMEOUT=${FLOOD_TIMEOUT:-1800}
STORM_CONNS=${STORM_CONNS:-0}
STORM_HOLD=${STORM_HOLD:-5s}
CGROUP_LIMIT=2000000000
CGROUP_ROOT=/sys/fs/cgroup/memory

need go curl
positive N
non_negative STORM_CONNS

sampler_pid=
storm_pid=
cgroup_dir=

remove_cgroup() {
	[[ -n $cgroup_dir && -d $cgroup_dir ]] || return 0
	# rmdir fails while a task is still attached; the server was just killed.
	for _ in $(seq 50); do
		rmdir "$cgroup_dir" 2>/dev/null && break
		sleep 0.1
	done
	[[ -d $cgroup_dir ]] && echo "memflood.sh: could not remove $cgroup_dir" >&2
	cgroup_dir=
}

# shellcheck disable=SC2317 # invoked on exit
cleanup_hook() {
	stop_pid "$storm_pid"
	stop_pid "$sampler_pid"
	stop_server
	remove_cgroup
}
make_tmp memflood
echo "== building (into $tmp)"
build_warmkv
build_tools flood
storm=""
if ((STORM_CONNS > 0)); then
	build_tools conns
	storm=" + a storm of $STORM_CONNS connections opened, held $STORM_HOLD and closed, over and over"
fi
echo "   warmkv: $warmkv_bin"
bench_lock

# status_kb PID FIELD: a field of /proc/PID/status in kB (empty if gone).
status_kb() {
	local key value _unit
	while read -r key value _unit; do
		if [[ $key == "$2:" ]]; then
			echo "$value"
			return 0
		fi
	done <"/proc/$1/status" 2>/dev/null
	return 0
}

# sample_rss PID OUT: every 200ms record "peak_bytes samples" in OUT, and
# print the RSS every 10s. Runs in the background until the server exits or
# it is killed. It forks nothing but sleep, so a loaded box slows it little.
sample_rss() {
	local pid=$1 out=$2 peak=0 rss samples=0 start=$SECONDS next_print=$((SECONDS + 10)) key value _unit extra
	while kill -0 "$pid" 2>/dev/null; do
		rss=
		while read -r key value _unit; do
			if [[ $key == VmRSS: ]]; then
				rss=$((value * 1024))
				break
			fi
		done 2>/dev/null <"/proc/$pid/status" || true
		if [[ -n $rss ]]; then
			samples=$((samples + 1))
			((rss > peak)) && peak=$rss
			echo "$peak $samples" >"$out"
			if ((SECONDS >= next_print)); then
				next_print=$((SECONDS + 10))
				extra=
				if [[ -n $cgroup_dir ]]; then
					extra=", cgroup usage $(($(<"$cgroup_dir/memory.usage_in_bytes") / 1000000)) MB"
				fi
				printf '[t=%3ds] server RSS %d MB (peak %d MB)%s\n' $((SECONDS - start)) $((rss / 1000000)) $((peak / 1000000)) "$extra"
			fi
		fi
		sleep 0.2
	done
}

# stat_field JSON NAME: a numeric top-level field of the /stats answer.
stat_field() {
	sed -n "s/.*\"$2\"[[:space:]]*:[[:space:]]*\\([0-9.eE+-]*\\).*/\\1/p" <<<"$1"
}

summary=()
failed_to_run=0

# run_variant NAME: start the server under one way of limiting it, flood it,
# and report.
run_variant() {
	local variant=$1 port log keys="" used="" budget=""
	port=$(free_port)
	log=$tmp/$variant.server.log
	echo
	case $variant in
	gomemlimit)
		echo "== variant gomemlimit: GOMEMLIMIT=2GiB, MAX_MEMORY unset; $N PUTs of 256+256 chars over $CONNS connections$storm"
		env -u MAX_MEMORY GOMEMLIMIT=2GiB PORT="$port" BIND=127.0.0.1 APP_ENV=production \
			"$warmkv_bin" >"$log" 2>&1 9>&- &
		server_pid=$!
		;;
	cgroup)
		echo "== variant cgroup: cgroup v1 memory limit $CGROUP_LIMIT bytes, GOMEMLIMIT and MAX_MEMORY unset; $N PUTs of 256+256 chars over $CONNS connections$storm"
		if [[ ! -w $CGROUP_ROOT ]]; then
			echo "!!! SKIPPED: $CGROUP_ROOT is not writable (cgroup v1 memory controller missing, or not root)"
			summary+=("cgroup      SKIPPED (cannot create a memory cgroup)")
			return 0
		fi
		cgroup_dir=$CGROUP_ROOT/warmkv-flood-$$
		if ! mkdir "$cgroup_dir" 2>"$tmp/cgroup.err" ||
			! echo "$CGROUP_LIMIT" >"$cgroup_dir/memory.limit_in_bytes" 2>>"$tmp/cgroup.err"; then
			echo "!!! SKIPPED: creating a memory cgroup is not permitted here: $(cat "$tmp/cgroup.err")"
			remove_cgroup
			summary+=("cgroup      SKIPPED (cannot create a memory cgroup)")
			return 0
		fi
		# memsw (memory+swap) may only be set once the memory limit is <= it.
		if [[ -e $cgroup_dir/memory.memsw.limit_in_bytes ]]; then
			echo "$CGROUP_LIMIT" >"$cgroup_dir/memory.memsw.limit_in_bytes" ||
				echo "   (could not set memory.memsw.limit_in_bytes; swap is not limited)"
		fi
		echo "   cgroup $cgroup_dir: memory.limit_in_bytes=$(<"$cgroup_dir/memory.limit_in_bytes")"
		# The shell joins the cgroup and then becomes the server, so the
		# server's very first allocation is already charged to it.
		# shellcheck disable=SC2016 # $$ and $1 expand in the inner shell
		env -u MAX_MEMORY -u GOMEMLIMIT PORT="$port" BIND=127.0.0.1 APP_ENV=production \
			sh -c 'echo $$ >"$1/cgroup.procs" && exec "$2"' sh "$cgroup_dir" "$warmkv_bin" >"$log" 2>&1 9>&- &
		server_pid=$!
		;;
	*)
		die "unknown variant '$variant' (want gomemlimit, cgroup)"
		;;
	esac

	if ! wait_healthz "$port" || ! kill -0 "$server_pid" 2>/dev/null; then
		echo "!!! warmkv did not become healthy on 127.0.0.1:$port; its log:"
		tail -n 20 "$log"
		summary+=("$(printf '%-11s FAIL (server did not start)' "$variant")")
		failed_to_run=1
		stop_pid "$server_pid"
		server_pid=
		remove_cgroup
		return 0
	fi
	if [[ -n $cgroup_dir ]]; then
		local cg
		cg=$(grep -E '^[0-9]+:([^:]*,)?memory(,[^:]*)?:' "/proc/$server_pid/cgroup" || true)
		echo "   server pid $server_pid, /proc/$server_pid/cgroup: $cg"
	fi
	local stats_before
	stats_before=$(curl -s --max-time 5 "http://127.0.0.1:$port/stats" || true)
	echo "   /stats before: $stats_before"

	local peak_file=$tmp/$variant.peak
	echo "0 0" >"$peak_file"
	sample_rss "$server_pid" "$peak_file" &
	sampler_pid=$!

	# The storm runs in its own process (its connections take file
	# descriptors of their own) and outside the server's cgroup: only the
	# server is limited.
	local storm_out=$tmp/$variant.storm.out storm_err=$tmp/$variant.storm.err
	if ((STORM_CONNS > 0)); then
		"$tmp/conns" -url "http://127.0.0.1:$port" -n "$STORM_CONNS" -hold "$STORM_HOLD" -rounds 0 \
			>"$storm_out" 2>"$storm_err" 9>&- &
		storm_pid=$!
	fi

	local flood_out=$tmp/$variant.flood.out flood_rc=0
	timeout -k 5 "$FLOOD_TIMEOUT" "$tmp/flood" -url "http://127.0.0.1:$port" -n "$N" -c "$CONNS" \
		>"$flood_out" || flood_rc=$?

	# SIGTERM ends the storm's current round: it closes its connections and
	# prints its totals.
	local storm_line=""
	if [[ -n $storm_pid ]]; then
		kill -TERM "$storm_pid" 2>/dev/null || true
		wait "$storm_pid" 2>/dev/null || true
		storm_pid=
		storm_line=$(grep '^CONNS ' "$storm_out" || true)
	fi
	sleep 0.5 # one more RSS sample after the last request

	local alive=yes exit_status=
	if ! kill -0 "$server_pid" 2>/dev/null; then
		alive=no
		wait "$server_pid" && exit_status=0 || exit_status=$?
		server_pid=
	fi
	stop_pid "$sampler_pid"
	sampler_pid=
	grep -v '^FLOOD \|^VERIFY ' "$flood_out" | sed 's/^/   /'
	((flood_rc == 124 || flood_rc == 137)) && echo "!!! the flood did not finish within FLOOD_TIMEOUT=${FLOOD_TIMEOUT}s"

	local hwm=0 rss_end=0 stats=""
	if [[ $alive == yes ]]; then
		hwm=$(($(status_kb "$server_pid" VmHWM) * 1024))
		rss_end=$(($(status_kb "$server_pid" VmRSS) * 1024))
		stats=$(curl -s --max-time 5 "http://127.0.0.1:$port/stats" || true)
	fi
	local peak samples
	read -r peak samples <"$peak_file"
	((hwm > peak)) && peak=$hwm

	local ok non200 transport flood_seconds
	ok=$(sed -n 's/^FLOOD ok=\([0-9]*\).*/\1/p' "$flood_out")
	non200=$(sed -n 's/^FLOOD .*non200=\([0-9]*\).*/\1/p' "$flood_out")
	transport=$(sed -n 's/^FLOOD .*transport=\([0-9]*\).*/\1/p' "$flood_out")
	flood_seconds=$(sed -n 's/^FLOOD .*seconds=\([0-9.]*\).*/\1/p' "$flood_out")
	ok=${ok:-0} non200=${non200:-0} transport=${transport:-0} flood_seconds=${flood_seconds:-0}
	local failures=$((N - ok))

	echo "   --- results"
	if [[ $alive == yes ]]; then
		echo "   server alive after flood: yes"
	elif ((exit_status == 137)); then
		echo "   !!! server DIED during the flood: killed by SIGKILL (the OOM killer?)"
	else
		echo "   !!! server DIED during the flood: exit status $exit_status; its log:"
		tail -n 20 "$log" | sed 's/^/   /'
	fi
	echo "   RSS peak (200ms samples and VmHWM): $peak bytes = $(mb "$peak") (limit $(mb "$RSS_LIMIT"))"
	echo "   RSS samples taken: $samples (one per 200ms over the ${flood_seconds}s flood would be ~$((${flood_seconds%.*} * 5)))"
	[[ $alive == yes ]] && echo "   RSS at end: $(mb "$rss_end"); VmHWM: $(mb "$hwm")"
	echo "   requests: $ok OK of $N; non-200: $non200; transport errors: $transport"
	local storm_untold=0
	if ((STORM_CONNS > 0)); then
		if [[ -n $storm_line ]]; then
			storm_untold=$(awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] ~ /^(dial_failed|request_failed|dropped)$/) n += kv[2] } } END { print n + 0 }' <<<"$storm_line")
			echo "   storm: ${storm_line#CONNS }"
			echo "   storm: a round took $(awk -F'seconds=' '/^OPEN / { s = $2 + 0; if (s > max) max = s; if (min == "" || s < min) min = s } END { printf "%.1f-%.1f", min, max }' "$storm_out")s to open all its connections"
		else
			storm_untold=1
			echo "   !!! storm: bench/conns printed no totals"
		fi
		if [[ -s $storm_err ]]; then sed 's/^/   storm: /' "$storm_err" | head -n 5; fi
	fi
	local untold=$((transport + storm_untold))
	echo "   failed requests the client was not told about: $untold (flood transport errors $transport" \
		"+ storm connections not opened, unanswered or dropped $storm_untold)"
	local oom_kills=0
	if [[ -n $cgroup_dir ]]; then
		oom_kills=$(awk '$1 == "oom_kill" { print $2 }' "$cgroup_dir/memory.oom_control")
		oom_kills=${oom_kills:-0}
		echo "   cgroup: max_usage_in_bytes $(mb "$(<"$cgroup_dir/memory.max_usage_in_bytes")"), failcnt $(<"$cgroup_dir/memory.failcnt"), oom_kill $oom_kills"
		if grep -q '^under_oom 1' "$cgroup_dir/memory.oom_control"; then echo "   cgroup: under_oom 1"; fi
	fi
	if [[ -n $stats ]]; then
		keys=$(stat_field "$stats" keyCount)
		used=$(stat_field "$stats" memoryUsed)
		budget=$(stat_field "$stats" memoryBudget)
		echo "   /stats after: $stats"
		if [[ -n $keys && $keys != 0 ]]; then
			echo "   keyCount $keys ($(awk -v k="$keys" -v n="$N" 'BEGIN { printf "%.1f", k / n * 100 }')% of the $N PUT)," \
				"memoryUsed $(mb "${used:-0}"), memoryBudget $(mb "${budget:-0}")"
			echo "   per entry: $(awk -v p="$peak" -v k="$keys" 'BEGIN { printf "%.0f", p / k }') bytes of peak RSS," \
				"$(awk -v p="$rss_end" -v k="$keys" 'BEGIN { printf "%.0f", p / k }') of final RSS," \
				"$(awk -v p="${used:-0}" -v k="$keys" 'BEGIN { printf "%.0f", p / k }') of memoryUsed (payload: 512)"
		fi
	fi

	local verdict=PASS why=()
	((peak <= RSS_LIMIT)) || why+=("RSS peak $(mb "$peak") > $(mb "$RSS_LIMIT")")
	((failures == 0)) || why+=("$failures of $N PUTs not answered 200")
	((untold == 0)) || why+=("$untold requests failed without an answer")
	[[ $alive == yes ]] || why+=("server died")
	((oom_kills == 0)) || why+=("OOM killer fired $oom_kills times")
	if ((${#why[@]} > 0)); then
		verdict="FAIL ($(printf '%s; ' "${why[@]}"))"
		verdict=${verdict/; )/)}
	fi
	echo "   => $verdict"
	summary+=("$(printf '%-11s %s  (peak RSS %s, %s/%s OK, keyCount %s%s)' "$variant" "$verdict" "$(mb "$peak")" "$ok" "$N" "${keys:-?}" \
		"${storm_line:+; storm ${storm_line#CONNS }}")")

	stop_pid "$server_pid"
	server_pid=
	remove_cgroup
}

IFS=, read -r -a variants <<<"$VARIANTS"
for variant in "${variants[@]}"; do
	case $variant in gomemlimit | cgroup) ;; *) die "unknown variant '$variant' (want gomemlimit, cgroup)" ;; esac
done
for variant in "${variants[@]}"; do
	run_variant "$variant"
done

echo
echo "== summary (RSS limit $(mb "$RSS_LIMIT"), $N PUTs$storm)"
printf '   %s\n' "${summary[@]}"
exit "$failed_to_run"
