# hygiene.bash - helpers for the hardening and first-contact suites
# (hygiene, output_errors, buffered, firstcontact).  Load after
# test_helper and helpers/faults:
#   load test_helper
#   load helpers/core      (where a test needs sleeping, vm_kb, measure.py)
#   load helpers/faults
#   load helpers/hygiene
# shellcheck disable=SC2034,SC2154  # bats sets status, output, stderr...

HYG="$FIXTURES/hygiene"
export HYG

# spool_t ARGS... : spool, killed if it runs past SPOOL_T seconds (20), so
# a hang fails the test instead of stalling the suite.
spool_t() {
	timeout -k 2 "${SPOOL_T:-20}" "$SPOOL" "$@"
}

# on_err ASSERTION ARGS... : a bats-assert output or line assertion
# against the stderr captured by `run --separate-stderr`.
on_err() {
	local output=$stderr
	local -a lines=("")
	[[ -z ${stderr_lines[0]+set} ]] || lines=("${stderr_lines[@]}")
	"$@"
}

# err_count ERE : how many lines of the last run's stderr match.
err_count() {
	grep -cE -- "$1" <<<"$stderr" || true
}

# gone PID : PID has ended (a zombie counts as ended).
gone() {
	! pid_alive "$1"
}

# descendants PID : every process below PID (children, grandchildren...),
# one pid a line, read from /proc.
descendants() {
	local -A kids=()
	local stat pid ppid
	for stat in /proc/[0-9]*/stat; do
		read -r stat <"$stat" 2>/dev/null || continue
		pid=${stat%% *}
		stat=${stat##*) }
		read -r _ ppid _ <<<"$stat"
		kids[$ppid]+=" $pid"
	done
	local -a todo=("$1")
	while ((${#todo[@]})); do
		pid=${todo[0]}
		todo=("${todo[@]:1}")
		for stat in ${kids[$pid]-}; do
			echo "$stat"
			todo+=("$stat")
		done
	done
}

# track PID... : processes the test started, killed by hyg_teardown if
# they are still there.
track() {
	printf '%s\n' "$@" >>"$BATS_TEST_TMPDIR/tracked"
}

# start_bg [LAUNCH-OPTION...] -- SPOOL-ARGS... : spool in the background
# through launch.py (SIGINT, SIGTERM and SIGHUP at their default actions
# unless --ignore'd), stdin from the fifo `in` (see hold_input), stdout to
# out, stderr to err; its pid in SPID.
start_bg() {
	local launch=()
	while [[ $1 != -- ]]; do
		launch+=("$1")
		shift
	done
	shift
	close_input
	[[ -p in ]] || mkfifo in
	python3 "$HYG/launch.py" "${launch[@]}" -- "$SPOOL" "$@" <in >out 2>err 3>&- &
	SPID=$!
	track "$SPID"
	hold_input
}

# hold_input : open the fifo `in` for writing and keep it open (fd in
# HOLD): the input of a spool started by start_bg stays open, a live
# stream, until close_input.
hold_input() {
	exec {HOLD}>in
}

# feed LINE... : write lines to the held input.
feed() {
	printf '%s\n' "$@" >&"$HOLD"
}

# close_input : end of the held input.
close_input() {
	if [[ -n ${HOLD-} ]]; then
		exec {HOLD}>&-
		HOLD=
	fi
}

# finish : wait for the spool started by start_bg; its exit status in
# STATUS, its stderr shown when the test fails.
finish() {
	STATUS=0
	wait "$SPID" || STATUS=$?
	echo "spool exited $STATUS; stderr:" >&2
	cat err >&2
}

# on_tty COMMAND : run the shell command with a pseudo-terminal as its
# stdin, stdout and stderr (script(1)); what it shows goes to tty.out.
on_tty() {
	script -qfec "$1" /dev/null </dev/null >tty.out
}

# io_rchar PID : bytes PID has read so far (/proc/PID/io).
io_rchar() {
	awk '$1 == "rchar:" { print $2 }' "/proc/$1/io" 2>/dev/null
}

# has_read PID BYTES : PID has read at least BYTES.
has_read() {
	local n
	n=$(io_rchar "$1") && [[ -n $n ]] && ((n >= $2))
}

# file_size FILE : its size in bytes (0 when it does not exist).
file_size() {
	if [[ -e $1 ]]; then stat -c %s "$1"; else echo 0; fi
}

# jl_attempts FILE : "ATTEMPTS STATUS" for every row of a joblog, counted:
# `uniq -c` lines such as "199 1 ok".
jl_attempts() {
	awk -F '\t' 'NR > 1 { print $4, $7 }' "$1" | sort | uniq -c | awk '{ $1 = $1; print }'
}

# hyg_teardown : open every gate (files gate and go), end the held input, and kill whatever
# the test started and is still there (spool, its workers and theirs).
hyg_teardown() {
	touch "$BATS_TEST_TMPDIR/gate" "$BATS_TEST_TMPDIR/go" 2>/dev/null || true
	close_input
	local pids=() pid
	if [[ -e $BATS_TEST_TMPDIR/tracked ]]; then
		while read -r pid; do
			[[ -n $pid ]] || continue
			pid_alive "$pid" || continue
			pids+=("$pid")
			mapfile -t -O "${#pids[@]}" pids < <(descendants "$pid")
		done <"$BATS_TEST_TMPDIR/tracked"
	fi
	for pid in "${pids[@]}"; do
		kill -KILL "$pid" 2>/dev/null || true
	done
}
