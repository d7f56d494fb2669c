# shellcheck shell=bash
# shellcheck disable=SC2154,SC2034 # root, tmp and die come from the sourcing script; warmkv_bin goes back to it
# lib.sh: helpers the load scripts share. Source it after defining die (each
# script names itself in its errors) and, for stop_server, the server_pid
# variable.

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

stop_server() {
	[[ -n $server_pid ]] || return 0
	kill -TERM "$server_pid" 2>/dev/null || true
	for _ in $(seq 50); do
		kill -0 "$server_pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$server_pid" 2>/dev/null || true
	wait "$server_pid" 2>/dev/null || true
	server_pid=
}

# cpu_ticks PID: user+system clock ticks the process has used so far.
cpu_ticks() {
	local stat
	stat=$(<"/proc/$1/stat")
	stat=${stat##*) } # fields after "(comm) ", comm may contain spaces
	# shellcheck disable=SC2086 # split on purpose
	set -- $stat
	echo $((${12} + ${13}))
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

# busy_percent SECONDS: CPU used by all processes over SECONDS, in % of one core.
busy_percent() {
	local b0 t0 b1 t1
	read -r b0 t0 <<<"$(machine_ticks)"
	sleep "$1"
	read -r b1 t1 <<<"$(machine_ticks)"
	awk -v b="$((b1 - b0))" -v t="$((t1 - t0))" -v n="$(grep -c '^cpu[0-9]' /proc/stat)" 'BEGIN { printf "%.0f", (t > 0 ? b / t * n * 100 : 0) }'
}

# build_warmkv sets warmkv_bin: $WARMKV_BIN when given, else a fresh build of
# the repo root ($root) into $tmp.
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

# keep_logs copies the run's logs ($tmp/*.log) to $LOG_DIR when it is set.
keep_logs() {
	if [[ -n ${LOG_DIR:-} ]] && mkdir -p "$LOG_DIR"; then
		cp "$tmp"/*.log "$LOG_DIR"/ 2>/dev/null || true
	fi
}

# median of the arguments (mean of the middle two for an even count).
median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) exit 1
		if (NR % 2) printf "%.3f", v[(NR + 1) / 2]
		else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2
	}'
}

# wait_idle: with WAIT_IDLE set, wait (up to WAIT_IDLE seconds) until the box
# is idle, because other processes steal CPU from wrk and the server.
wait_idle() {
	local waited=0 busy
	((WAIT_IDLE > 0)) || return 0
	while busy=$(busy_percent 1) && ((busy >= 10 && waited < WAIT_IDLE)); do
		((waited == 0)) && echo "   (waiting for the box to go idle: ${busy}% of a core busy)"
		waited=$((waited + 1))
	done
	((busy < 10)) || echo "   !!! still ${busy}% of a core busy after WAIT_IDLE=${WAIT_IDLE}s; running anyway"
}
