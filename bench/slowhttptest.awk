# slowhttptest.awk reads the log of `slowhttptest -v 4` (its stdout) and
# prints, for bench/slow.sh, the line bench/slowresp prints for its own
# connections:
#
#	result kind=KIND opened=N cut=N open_at_end=N oldest_open_s=S held_min_s=S
#	       held_p50_s=S held_p90_s=S held_max_s=S outcomes=408:N,... dial_errors=N
#
# (on one line), and, into the file named by -v timeline=FILE, one line per
# second of the log, "open unix=T KIND=N": the connections it held then
# (slowhttptest's own status report comes only every 5 seconds).
#
# slowhttptest stamps its log lines to the second, so every held_* is a
# whole number of seconds, within a second of the truth. Its probe
# connection (-p) is left out. Connections it closes itself when its test
# time (-l) is over count as open at the end, not as cut.
#
# Usage: awk -v kind=headers -v timeline=FILE -f slowhttptest.awk LOG

BEGIN {
	split("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec", names, " ")
	for (i = 1; i <= 12; i++) month[names[i]] = i
}

{ gsub(/\033\[[0-9;]*m/, "") } # colours

# "Sat Dec  5 03:07:30 2026:rest": a new event at that second. It may follow
# data sent without a line end on the same line (a slow body's first bytes).
match($0, /[A-Z][a-z][a-z] [A-Z][a-z][a-z] +[0-9]+ [0-9][0-9]:[0-9][0-9]:[0-9][0-9] [0-9][0-9][0-9][0-9]:/) {
	split(substr($0, RSTART, RLENGTH - 1), d, / +/)
	split(d[4], hms, ":")
	now = mktime(d[5] " " month[d[2]] " " d[3] " " hms[1] " " hms[2] " " hms[3])
	if (timeline != "" && now != reported) printf "open unix=%d %s=%d\n", now, kind, open_now >> timeline
	reported = now
	rest = substr($0, RSTART + RLENGTH)
	awaiting = ""
	if (match(rest, /^socket [0-9]+ created/)) {
		fd = word(rest, 2)
		created[fd] = now
		status[fd] = reason[fd] = ""
		open_now++
	} else if (match(rest, /^run_test: created probe socket [0-9]+/)) {
		probe[word(rest, 5)] = 1
		open_now--
	} else if (match(rest, /^run_test: socket [0-9]+ replied/)) {
		awaiting = word(rest, 3) # the status line follows
	} else if (match(rest, /^run_test: socket [0-9]+ closed: /)) {
		reason[word(rest, 3)] = substr(rest, RLENGTH + 1)
	} else if (match(rest, /^closing slow socket [0-9]+/)) {
		closing(word(rest, 4))
	}
	next
}

awaiting != "" && match($0, /HTTP\/1\.[01] [0-9][0-9][0-9]/) {
	status[awaiting] = substr($0, RSTART + 9, 3)
	awaiting = ""
	next
}

/^Test ended/ { ended = 1; end_time = now }

function word(s, n, w) {
	split(s, w, " ")
	return w[n]
}

# closing FD: the end of connection FD, cut by the server or, once the test
# time is over, closed by slowhttptest.
function closing(fd, outcome, h) {
	if (fd in probe) {
		delete probe[fd]
		delete created[fd]
		return
	}
	if (!(fd in created)) return
	open_now--
	if (reason[fd] ~ /refused|timed out|unreachable/) {
		dial_errors++
	} else if (ended) {
		still_open(fd)
	} else {
		opened++
		h = now - created[fd]
		held[h]++
		cut++
		outcome = status[fd] != "" ? status[fd] : (reason[fd] ~ /reset/ ? "reset" : "closed")
		outcomes[outcome]++
	}
	delete created[fd]
}

function still_open(fd) {
	opened++
	open_at_end++
	if (end_time - created[fd] > oldest) oldest = end_time - created[fd]
}

# quantile P of the held times: the one at index int(P * cut) of them sorted,
# as bench/slowresp computes it.
function quantile(p, i, want, seen) {
	if (cut == 0) return 0
	want = int(p * cut)
	if (want > cut - 1) want = cut - 1
	for (i = 0; i <= max_held; i++) {
		seen += held[i]
		if (seen > want) return i
	}
	return max_held
}

END {
	if (!ended) end_time = now
	for (fd in created) if (!(fd in probe)) still_open(fd)
	max_held = 0
	for (h in held) if (h + 0 > max_held) max_held = h + 0
	list = ""
	for (o in outcomes) list = list (list == "" ? "" : ",") o ":" outcomes[o]
	if (list == "") list = "none"
	printf "result kind=%s opened=%d cut=%d open_at_end=%d oldest_open_s=%.2f held_min_s=%.2f held_p50_s=%.2f held_p90_s=%.2f held_max_s=%.2f outcomes=%s dial_errors=%d\n",
		kind, opened, cut, open_at_end, oldest, quantile(0), quantile(0.5), quantile(0.9), quantile(1), list, dial_errors
}
