# shellcheck shell=bash
# shellcheck disable=SC2034 # variables set here are read by the sourcing script
# lib.sh: what the load scripts share. Each script starts with
#
#	set -euo pipefail
#	here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
#	. "$here/lib.sh"
#
# and gets: root (the repo), die, checks of tools and variables, a temp dir
# cleaned up on exit, starting and stopping servers on free loopback ports,
# the bench lock, CPU accounting, wrk output parsing, medians and ratios.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
script_name=$(basename "$0")
server_pid=
server_port=
server_port2=

die() {
	echo "$script_name: $*" >&2
	exit 1
}

# ---------------------------------------------------------------- checks

# need TOOL...: dies naming the Debian package of the first missing tool.
need() {
	local tool pkg
	for tool in "$@"; do
		command -v "$tool" >/dev/null && continue
		case $tool in
		redis-server) pkg=redis-server ;;
		redis-cli | redis-benchmark) pkg=redis-tools ;;
		flock) pkg=util-linux ;;
		go) die "go not found" ;;
		*) pkg=$tool ;;
		esac
		die "$tool not found; install it with: apt-get install -y $pkg"
	done
}

# positive VAR...: each variable must hold an integer >= 1.
positive() {
	local v
	for v in "$@"; do
		[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, got '${!v}'"
	done
}

# non_negative VAR...: each variable must hold an integer >= 0.
non_negative() {
	local v
	for v in "$@"; do
		[[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer, got '${!v}'"
	done
}

# seconds DURATION: a duration with one unit (500ms, 10s, 2m, 1h) or plain
# seconds, in seconds (maybe fractional); fails on anything else.
seconds() {
	awk -v d="$1" 'BEGIN {
		if (d ~ /^[0-9.]+ms$/) { sub(/ms$/, "", d); print d / 1000; exit }
		if (d ~ /^[0-9.]+s$/) { sub(/s$/, "", d); print d + 0; exit }
		if (d ~ /^[0-9.]+m$/) { sub(/m$/, "", d); print d * 60; exit }
		if (d ~ /^[0-9.]+h$/) { sub(/h$/, "", d); print d * 3600; exit }
		if (d ~ /^[0-9.]+$/) { print d + 0; exit }
		exit 1
	}'
}

# whole_seconds VAR: the duration in VAR in whole seconds (rounded up, at
# least 1); dies naming VAR when it is not a duration.
whole_seconds() {
	local s
	s=$(seconds "${!1}") || die "$1 must be a duration like 10s, 500ms or 2m, got '${!1}'"
	awk -v s="$s" 'BEGIN { w = (s == int(s) ? s : int(s) + 1); printf "%d", (w < 1 ? 1 : w) }'
}

# ---------------------------------------------------------------- temp dir, exit

# make_tmp NAME: a fresh $tmp, removed on exit after stopping the server,
# running the script's cleanup_hook (if it defines one) and keeping the logs
# ($tmp/*.log) in $LOG_DIR when that is set.
make_tmp() {
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/warmkv-$1.XXXXXX")
	trap on_exit EXIT
	trap 'exit 130' INT TERM
}

# shellcheck disable=SC2317 # invoked by the EXIT trap
on_exit() {
	if declare -F cleanup_hook >/dev/null; then cleanup_hook || true; fi
	stop_server
	keep_logs
	rm -rf "$tmp"
}

keep_logs() {
	if [[ -n ${LOG_DIR:-} ]] && mkdir -p "$LOG_DIR"; then
		cp "$tmp"/*.log "$LOG_DIR"/ 2>/dev/null || true
	fi
}

# ---------------------------------------------------------------- building

# build_warmkv sets warmkv_bin: $WARMKV_BIN when given, else a fresh build of
# the repo root into $tmp.
build_warmkv() {
	if [[ -n ${WARMKV_BIN:-} ]]; then
		[[ -x $WARMKV_BIN ]] || die "WARMKV_BIN=$WARMKV_BIN is not an executable"
		warmkv_bin=$WARMKV_BIN
	else
		(cd "$root" && go build -o "$tmp/warmkv" .) || die "go build of warmkv failed"
		warmkv_bin=$tmp/warmkv
	fi
}

# build_tools NAME...: builds each bench/NAME program into $tmp/NAME. They
# belong to the bench module (bench/go.mod), not the product's, so they build
# from bench/.
build_tools() {
	local name
	for name in "$@"; do
		(cd "$root/bench" && go build -o "$tmp/$name" "./$name") || die "go build of bench/$name failed"
	done
}

# install_rie sets rie_bin: AWS's Lambda Runtime Interface Emulator, built
# from the Go module proxy at the version the e2e tests pin
# (e2e/emulator.go), into $tmp.
rie_package=github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d
install_rie() {
	GOBIN=$tmp GOFLAGS='' go install "$rie_package" || die "go install of $rie_package failed"
	rie_bin=$tmp/aws-lambda-rie
}

# ---------------------------------------------------------------- servers

# free_port picks a random loopback port nobody listens on, outside the
# kernel's ephemeral range: client sockets (wrk's, or anyone else's) take
# their local ports from that range, and a listener cannot bind a port an
# established connection is using.
free_port() {
	local lo=32768 hi=60999 p
	read -r lo hi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
	for _ in $(seq 100); do
		if ((lo > 11000)); then
			p=$((10000 + RANDOM % (lo - 10000)))
		else
			p=$((hi + 1 + RANDOM % (65535 - hi)))
		fi
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	die "no free port found"
}

# stop_pid PID: SIGTERM, up to 5 s to exit, then SIGKILL.
stop_pid() {
	local pid=$1
	[[ -n $pid ]] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

stop_server() {
	stop_pid "$server_pid"
	server_pid=
}

# start_server NAME LOG READY COMMAND...: runs COMMAND in the background with
# its output in LOG, after replacing %PORT% and %PORT2% in its words with two
# free ports (server_port, server_port2), and calls READY PORT until the
# server is ready (READY fails: not ready in time). Sets server_pid. A port
# somebody grabbed in between costs a retry. The server does not inherit the
# bench lock's descriptor, so a server that outlives the script cannot hold
# the lock.
start_server() {
	local name=$1 log=$2 ready=$3 arg
	shift 3
	for _ in 1 2 3; do
		server_port=$(free_port)
		server_port2=$(free_port)
		[[ $server_port2 != "$server_port" ]] || continue
		local -a cmd=()
		for arg in "$@"; do
			arg=${arg//%PORT2%/$server_port2}
			cmd+=("${arg//%PORT%/$server_port}")
		done
		"${cmd[@]}" >"$log" 2>&1 9>&- &
		server_pid=$!
		if "$ready" "$server_port" && kill -0 "$server_pid" 2>/dev/null; then
			return 0
		fi
		stop_server
		grep -qi 'address already in use' "$log" || break
	done
	echo "!!! $name did not become ready on 127.0.0.1:$server_port; its log:" >&2
	tail -n 20 "$log" >&2
	die "could not start $name"
}

# start_warmkv NAME LOG [VAR=VALUE...]: $warmkv_bin on a free port with
# BIND=127.0.0.1 and APP_ENV=production plus the given variables (which may
# use %PORT2%), once GET /healthz answers 200.
start_warmkv() {
	local name=$1 log=$2
	shift 2
	start_server "$name" "$log" wait_healthz \
		env BIND=127.0.0.1 APP_ENV=production "$@" PORT=%PORT% "$warmkv_bin"
}

# start_redis NAME LOG: a redis-server without persistence on a free port,
# once it answers PING.
start_redis() {
	start_server "$1" "$2" wait_ping \
		redis-server --port %PORT% --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" --daemonize no
}

# wait_healthz PORT: up to 20 s for GET /healthz to answer 200.
wait_healthz() {
	for _ in $(seq 200); do
		curl -fs -o /dev/null --max-time 1 "http://127.0.0.1:$1/healthz" && return 0
		kill -0 "$server_pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# wait_ping PORT: up to 10 s for a Redis-protocol PING to answer PONG.
wait_ping() {
	for _ in $(seq 100); do
		[[ $(redis-cli -p "$1" PING 2>/dev/null) == PONG ]] && return 0
		kill -0 "$server_pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# ---------------------------------------------------------------- the bench lock

# bench_lock: holds BENCH_LOCK (default /tmp/warmkv-bench.lock; empty: no
# lock) for the rest of the script, so that load runs never overlap on the
# shared cores. A lock inherited from `flock FILE bash script.sh` counts:
# locking it again through a new descriptor would wait for ourselves.
bench_lock() {
	local lock=${BENCH_LOCK-/tmp/warmkv-bench.lock} fd
	[[ -n $lock ]] || return 0
	for fd in "/proc/$$/fd"/*; do
		[[ $(readlink "$fd" 2>/dev/null) == "$lock" ]] && return 0
	done
	need flock
	echo "== waiting for $lock (other load runs on this box)"
	exec 9>>"$lock"
	flock -w 900 9 || die "$lock still held after 15 minutes; or set BENCH_LOCK= to run without it"
}

# ---------------------------------------------------------------- CPU accounting

# cpu_ticks PID: user+system clock ticks the process has used so far (0 once
# it is gone).
cpu_ticks() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || {
		echo 0
		return 0
	}
	stat=${stat##*) } # fields after "(comm) ", comm may contain spaces
	# shellcheck disable=SC2086 # split on purpose
	set -- $stat
	echo $((${12} + ${13}))
}

# minor_faults PID: the page faults the process has taken so far that read
# nothing from disk, mostly pages its memory touched for the first time (0
# once it is gone).
minor_faults() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || {
		echo 0
		return 0
	}
	stat=${stat##*) }
	# shellcheck disable=SC2086 # split on purpose
	set -- $stat
	echo "$8" # minflt, field 10 of proc(5)'s stat
}

# children_ticks: clock ticks used by this shell's waited-for children (wrk
# runs in the foreground, so its CPU lands here when it exits).
children_ticks() {
	local stat
	stat=$(<"/proc/$$/stat")
	stat=${stat##*) }
	# shellcheck disable=SC2086 # split on purpose
	set -- $stat
	echo $((${14} + ${15}))
}

# machine_ticks: "busy total" clock ticks of all CPUs from /proc/stat.
machine_ticks() {
	local _cpu user nice system idle iowait irq softirq steal _rest
	read -r _cpu user nice system idle iowait irq softirq steal _rest </proc/stat
	echo "$((user + nice + system + irq + softirq + steal)) $((user + nice + system + idle + iowait + irq + softirq + steal))"
}

ncpu=$(grep -c '^cpu[0-9]' /proc/stat)
clk_tck=$(getconf CLK_TCK)

# cpu_shares "M0" "M1" TICKS...: for each TICKS (clock ticks a process used
# between the machine_ticks readings M0 and M1) its share, then what every
# other process used, each in % of one core.
cpu_shares() {
	local m0=$1 m1=$2
	shift 2
	awk -v m0="$m0" -v m1="$m1" -v n="$ncpu" -v t="$*" 'BEGIN {
		split(m0, x, " "); split(m1, y, " ")
		busy = y[1] - x[1]; wall = (y[2] - x[2]) / n
		if (wall <= 0) wall = 1
		k = split(t, ticks, " "); other = busy
		for (i = 1; i <= k; i++) { printf "%.0f ", ticks[i] / wall * 100; other -= ticks[i] }
		printf "%.0f\n", (other < 0 ? 0 : other) / wall * 100
	}'
}

# us_per_req TICKS REQUESTS: CPU microseconds per request. It does not
# depend on how the scheduler split the cores between the load generator and
# the server, so it is much steadier than req/s.
us_per_req() {
	awk -v t="$1" -v hz="$clk_tck" -v n="$2" 'BEGIN { printf "%.2f", (n > 0 ? t / hz * 1e6 / n : 0) }'
}

# busy_percent SECONDS: CPU used by all processes over SECONDS, in % of one core.
busy_percent() {
	local b0 t0 b1 t1
	read -r b0 t0 <<<"$(machine_ticks)"
	sleep "$1"
	read -r b1 t1 <<<"$(machine_ticks)"
	awk -v b="$((b1 - b0))" -v t="$((t1 - t0))" -v n="$ncpu" 'BEGIN { printf "%.0f", (t > 0 ? b / t * n * 100 : 0) }'
}

# report_box: how busy the box is before anything starts; other processes
# make every figure meaningless, so say so up front.
report_box() {
	local busy
	busy=$(busy_percent 2)
	echo "== box: $ncpu CPUs; before starting, other processes use ${busy}% of one core"
	if ((busy > 10)); then
		echo "!!! THE BOX IS NOT IDLE (${busy}% of a core busy before any benchmark process started): expect noisy, unreliable ratios"
		top -bn1 -o %CPU 2>/dev/null | sed -n '8,12p' | sed 's/^/!!!   /' || true
	fi
}

# wait_idle: with WAIT_IDLE set, wait (up to WAIT_IDLE seconds) until the box
# is idle, because other processes steal CPU from the load and the server.
wait_idle() {
	local waited=0 busy
	((${WAIT_IDLE:-0} > 0)) || return 0
	while busy=$(busy_percent 1) && ((busy >= 10 && waited < WAIT_IDLE)); do
		((waited == 0)) && echo "   (waiting for the box to go idle: ${busy}% of a core busy)"
		waited=$((waited + 1))
	done
	((busy < 10)) || echo "   !!! still ${busy}% of a core busy after WAIT_IDLE=${WAIT_IDLE}s; running anyway"
}

# until_quiet FUNCTION ARGS...: calls FUNCTION ARGS ATTEMPT (0, 1, ...) until
# it sets measured=yes; it sets measured=no when other processes disturbed
# the run and it should be redone.
until_quiet() {
	local attempt
	for ((attempt = 0; ; attempt++)); do
		# Not "f && break": that would switch off set -e inside f.
		"$@" "$attempt"
		[[ $measured == yes ]] && break
	done
}

# keep_run ATTEMPT OTHERS ROW FILE VALUES...: what to do with a measured run.
# When other processes took more than NOISY_LIMIT% of a core (OTHERS) and
# the run may still be redone (ATTEMPT < RETRY_NOISY, and SECONDS before
# retry_deadline when the script set one), it prints ROW as discarded and
# sets measured=no; otherwise it appends VALUES to FILE, prints ROW and sets
# measured=yes.
keep_run() {
	local attempt=$1 others=$2 row=$3 file=$4
	shift 4
	if ((others > NOISY_LIMIT && attempt < RETRY_NOISY && SECONDS < ${retry_deadline:-SECONDS + 1})); then
		echo "$row   discarded: other processes were busy, redoing"
		measured=no
		return 0
	fi
	measured=yes
	echo "$*" >>"$file"
	echo "$row"
}

# ---------------------------------------------------------------- wrk

# wrk_ms TIME: a wrk time ("850.12us", "1.23ms", "2.00s", "1.5m") in ms.
wrk_ms() {
	awk -v t="$1" 'BEGIN {
		if (t ~ /us$/) { sub(/us$/, "", t); printf "%.3f", t / 1000; exit }
		if (t ~ /ms$/) { sub(/ms$/, "", t); printf "%.3f", t; exit }
		if (t ~ /s$/) { sub(/s$/, "", t); printf "%.3f", t * 1000; exit }
		if (t ~ /m$/) { sub(/m$/, "", t); printf "%.3f", t * 60000; exit }
		if (t ~ /h$/) { sub(/h$/, "", t); printf "%.3f", t * 3600000; exit }
		exit 1
	}'
}

# parse_wrk FILE: reads a `wrk --latency` output into wrk_rps, wrk_requests,
# wrk_p99 (ms), wrk_non2xx, wrk_sockerr and wrk_errors (their sum); dies
# when it cannot.
parse_wrk() {
	local p99
	wrk_rps=$(awk '/^Requests\/sec:/ { print $2 }' "$1")
	wrk_requests=$(awk '/ requests in / { print $1 }' "$1")
	p99=$(awk '$1 == "99%" { print $2 }' "$1")
	[[ -n $wrk_rps && -n $p99 && -n $wrk_requests ]] || {
		cat "$1" >&2
		die "could not parse wrk output ($1)"
	}
	wrk_p99=$(wrk_ms "$p99") || die "unknown latency unit in wrk output: $p99"
	wrk_non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$1")
	wrk_sockerr=$(awk '/Socket errors:/ { gsub(/,/, ""); print $4 + $6 + $8 + $10 }' "$1")
	wrk_non2xx=${wrk_non2xx:-0}
	wrk_sockerr=${wrk_sockerr:-0}
	wrk_errors=$((wrk_non2xx + wrk_sockerr))
}

# run_wrk OUT SECONDS WRK-ARGS...: runs wrk WRK-ARGS (killed SECONDS + 60 s
# later) with its output in OUT, and parses that (parse_wrk). Also sets, for
# cpu_shares and us_per_req: run_m0 and run_m1 (machine_ticks before and
# after), srv_ticks and wrk_ticks (what server_pid and wrk used), and
# extra_ticks (what the processes in $extra_pid used, when the script set
# it). Dies when wrk fails or the server died.
run_wrk() {
	local out=$1 secs=$2 t0 c0 pid e1
	local -A e0=()
	shift 2
	t0=$(cpu_ticks "$server_pid")
	c0=$(children_ticks)
	for pid in ${extra_pid:-}; do e0[$pid]=$(cpu_ticks "$pid"); done
	run_m0=$(machine_ticks)
	if ! timeout -k 5 $((${secs%.*} + 60)) wrk "$@" >"$out" 2>&1; then
		cat "$out" >&2
		die "wrk failed ($out)"
	fi
	run_m1=$(machine_ticks)
	kill -0 "$server_pid" 2>/dev/null || die "the server died during $out; see its log"
	srv_ticks=$(($(cpu_ticks "$server_pid") - t0))
	wrk_ticks=$(($(children_ticks) - c0))
	extra_ticks=0
	for pid in ${extra_pid:-}; do
		# One that exited meanwhile reads 0: its share is unknown, not negative.
		e1=$(cpu_ticks "$pid")
		((e1 == 0)) || extra_ticks=$((extra_ticks + e1 - e0[$pid]))
	done
	parse_wrk "$out"
}

# ---------------------------------------------------------------- figures

# median of the arguments (mean of the middle two for an even count).
median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) exit 1
		if (NR % 2) printf "%.3f", v[(NR + 1) / 2]
		else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2
	}'
}

# column N FILE...: median of column N of the files.
column() {
	local n=$1
	shift
	# shellcheck disable=SC2046 # one number per line, split on purpose
	median $(awk -v n="$n" '{ print $n }' "$@")
}

# column_max N FILE...: the largest value of column N of the files.
column_max() {
	local n=$1
	shift
	awk -v n="$n" '$n > m { m = $n } END { print m + 0 }' "$@"
}

# ratio A B: A / B with three decimals (0 when B is 0).
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b != 0 ? a / b : 0) }'
}

# run_ratios COL FILE_A FILE_B: "min-max" of the ratios A/B of column COL,
# line by line (the files hold one line per run, in the same order): how
# much one round's ratio moves.
run_ratios() {
	paste -d' ' "$2" "$3" | awk -v c="$1" -v w="$(awk 'NR == 1 { print NF }' "$2")" '
		$(c + w) > 0 { r = $c / $(c + w); if (NR == 1 || r < lo) lo = r; if (NR == 1 || r > hi) hi = r }
		END { printf "%.2f-%.2f", lo, hi }'
}

# at_least X TARGET, at_most X TARGET: PASS or FAIL.
at_least() { awk -v x="$1" -v t="$2" 'BEGIN { print (x >= t ? "PASS" : "FAIL") }'; }
at_most() { awk -v x="$1" -v t="$2" 'BEGIN { print (x <= t ? "PASS" : "FAIL") }'; }

# field NAME LINE: the value of NAME=value among the words of LINE.
field() {
	awk -v name="$1" '{ for (i = 1; i <= NF; i++) if (index($i, name "=") == 1) { print substr($i, length(name) + 2); exit } }' <<<"$2"
}

# rss_bytes PID: resident set size of PID in bytes.
rss_bytes() { awk '$1 == "VmRSS:" { print $2 * 1024 }' "/proc/$1/status"; }

# open_fds PID: how many file descriptors PID has open.
open_fds() {
	local fds=("/proc/$1/fd/"*)
	echo "${#fds[@]}"
}

mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }
