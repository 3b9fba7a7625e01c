#!/usr/bin/env bats
# hygiene.bats - SPEC section 6, the hard cases: spool killed outright
# leaves nothing behind; one signal is one signal; SIGHUP; an endless
# input line; blame that costs no innocent task an attempt; exit 3; memory
# bounded in bytes; and what a protocol error shows of a worker's bytes.
# Workers hold tasks at a gate file and say when they start one, so the
# tests wait on conditions, never on time.

bats_require_minimum_version 1.5.0

load test_helper
load helpers/core
load helpers/faults
load helpers/hygiene

setup() {
	T=$BATS_TEST_TMPDIR
	cd "$T" || return 1
}

teardown() {
	hyg_teardown
}

# ------------------------------------------------------------------ #
# spool killed outright                                               #

# A -c worker whose program is a grandchild of spool: dash does not exec
# the last command of a compound one, so the sleep's parent is the inner
# sh, and PR_SET_PDEATHSIG (a direct child's) does not reach it.
GRANDCHILD_CMD='sh -c "echo \$\$ >>kids; exec sleep 1000"; cat'

# killed_leaves_nothing : spool was just killed; every process it had
# below it (recorded in tree) and every recorded kid is gone within a
# few seconds.
killed_leaves_nothing() {
	track $(cat kids)
	finish
	[ "$STATUS" -eq 137 ]
	cat kids >>tree
	wait_for 5 none_alive tree
}

@test "spool killed with SIGKILL: the program behind sh -c (a grandchild) does not outlive it" {
	start_bg -- run -c "$GRANDCHILD_CMD" -j 2
	wait_for 20 file_has_lines kids 2
	# Everything below spool: its guard, the two sh -c, their sleeps.
	descendants "$SPID" >tree
	[ "$(nlines tree)" -ge 4 ]
	kill -KILL "$SPID"
	killed_leaves_nothing
}

@test "spool killed with SIGKILL: a Python worker's own child that ignores SIGTERM does not outlive it" {
	write_pool pool.json "{\"workers\":[{\"name\":\"sp\",\"protocol\":\"spool\",\"replicas\":2,
		\"cmd\":[\"python3\",\"$HYG/sdk_spawner.py\"],\"spawn\":{\"pids\":\"$T/kids\"}}]}"
	start_bg -- run -w pool.json
	# Two workers and their two helpers (pids), once both spawns are done.
	wait_for 20 file_has_lines kids 4
	descendants "$SPID" >tree
	kill -KILL "$SPID"
	killed_leaves_nothing
}

@test "spool's whole process group killed with SIGKILL: nothing it started outlives it" {
	start_bg --setsid -- run -c "$GRANDCHILD_CMD" -j 2
	wait_for 20 file_has_lines kids 2
	[ "$(ps -o pgid= -p "$SPID" | tr -d ' ')" -eq "$SPID" ]
	descendants "$SPID" >tree
	kill -KILL -- "-$SPID"
	killed_leaves_nothing
}

# ------------------------------------------------------------------ #
# Signals                                                             #

@test "one SIGTERM sent to spool and then to its group (GNU timeout) is one signal: spool drains" {
	fw_pool pool.json lines ',"replicas":2' --gate gate --started started
	seq_tasks 20 >tasks.ndjson
	start_bg --setsid -- run -w pool.json --inflight 1 --failed failed tasks.ndjson
	wait_for 20 file_has_lines started 2
	# The second copy goes out once spool has taken the first: two
	# signals from one sender a moment apart, as timeout(1) sends them.
	python3 "$HYG/twice.py" "$SPID"
	touch gate
	finish
	[ "$STATUS" -eq 143 ]
	[ "$(grep -c 'second signal' err)" -eq 0 ]
	grep -qE '^spool: interrupted by SIGTERM: 2 tasks finished, 18 not started$' err
	# The tasks in flight were let finish, not killed.
	same_set out <(cut -f2 started)
	accounted tasks.ndjson out failed

	# The real thing, a few times: never a second signal.
	local i rc
	for i in 1 2 3; do
		mkfifo "in$i"
		timeout --preserve-status 0.5 "$SPOOL" run -c cat -j 2 <"in$i" >"out$i" 2>"err$i" 3>&- &
		track $!
		exec {HOLD}>"in$i"
		seq_tasks 3 >&"$HOLD"
		rc=0
		wait $! || rc=$?
		close_input
		cat "err$i" >&2
		[ "$rc" -eq 143 ]
		[ "$(grep -c 'second signal' "err$i")" -eq 0 ]
	done
}

@test "SIGHUP: tasks in flight finish, the rest are not started (--failed, joblog), exit 129; ignored at start, it stays ignored" {
	fw_pool pool.json lines ',"replicas":2' --gate gate --started started
	seq_tasks 20 >tasks.ndjson
	start_bg -- run -w pool.json --inflight 1 --failed failed --joblog jl tasks.ndjson
	wait_for 20 file_has_lines started 2
	kill -HUP "$SPID"
	# Tasks that will not start are written out while the held ones run.
	wait_for 20 file_has_lines failed 18
	touch gate
	finish
	[ "$STATUS" -eq 129 ]
	grep -qx 'spool: interrupted by SIGHUP: 2 tasks finished, 18 not started' err
	same_set out <(cut -f2 started)
	same_set failed <(grep -vxF -f <(cut -f2 started) tasks.ndjson)
	# Rows: "COUNT ATTEMPTS STATUS".
	[ "$(jl_attempts jl | tr '\n' ';')" = '18 0 not_started;2 1 ok;' ]

	# nohup: a SIGHUP ignored when spool starts stays ignored.  Had spool
	# taken it, it would act on it at its next turn, when the gate opens.
	rm -f gate started out err failed
	start_bg --ignore HUP -- run -w pool.json --inflight 1 --failed failed tasks.ndjson
	wait_for 20 file_has_lines started 2
	kill -HUP "$SPID"
	touch gate
	finish
	[ "$STATUS" -eq 0 ]
	same_set out tasks.ndjson
	[ ! -s failed ]
	[ ! -s err ]
}

@test "an endless input line (/dev/zero): SIGTERM ends the run promptly, exit 143; --failed stays finite" {
	start_bg -- run -c cat -j 1 /dev/zero
	# Far past the 64 MiB a line may have: spool is skipping the rest.
	wait_for 20 has_read "$SPID" $((100 << 20))
	kill -TERM "$SPID"
	wait_for 5 gone "$SPID"
	finish
	[ "$STATUS" -eq 143 ]
	grep -qx 'spool: /dev/zero:1: line longer than 64 MiB' err

	# With --failed, the line goes there as it is read; it must stop
	# there too (a file size limit keeps a runaway writer in check).
	ulimit -S -f $((1 << 20))
	rm -f out err
	start_bg -- run -c cat -j 1 --failed F /dev/zero
	wait_for 20 test -s F
	kill -TERM "$SPID"
	wait_for 5 gone "$SPID"
	finish
	[ "$STATUS" -eq 143 ]
	[ "$(tail -c 1 F | od -An -c | tr -d ' ')" = '\n' ]
	local size
	size=$(file_size F)
	echo "# --failed holds $size bytes" >&3
	((size < 1 << 30))
}

# ------------------------------------------------------------------ #
# Blame                                                               #

# poison_run INFLIGHT : 200 tasks, the 100th poison (its worker SIGKILLs
# itself on it), through one spool-protocol worker with INFLIGHT tasks in
# flight, default retries; --tag and --joblog.
poison_run() {
	tasks_with 200 tasks.ndjson poison 100
	grep -v poison tasks.ndjson >healthy.ndjson
	fw_pool pool.json spool '' --poison poison --count count
	rm -f jl
	run --separate-stderr spool_t run -w pool.json --inflight "$1" --tag --joblog jl tasks.ndjson
	echo "status $status; stderr: $stderr" >&2
	[ "$status" -eq 1 ]
	printf '%s\n' "$output" >out
	tag_complete 200 out
	# Only the poison failed, after its 3 attempts, each alone.
	[ "$(jq -c 'select(has("error")) | [.seq, .error.attempts]' out)" = '[100,3]' ]
	same_set <(tag_results out) healthy.ndjson
	# Every other task succeeded at its first attempt.
	[ "$(jl_attempts jl | tr '\n' ';')" = '199 1 ok;1 3 failed;' ]
	[ "$(awk -F '\t' 'NR > 1 && $7 == "failed" { print $1 }' jl)" = 100 ]
}

@test "blame, inflight 4: one poison task among 200 fails; every other task succeeds at its first attempt" {
	poison_run 4
}

@test "blame, inflight 16: one poison task among 200 fails; every other task succeeds at its first attempt" {
	poison_run 16
}

# hang_run PROTO : 8 tasks, the first hangs its worker for ever; three in
# flight; -t 0.5 and default retries.
hang_run() {
	tasks_with 8 tasks.ndjson hang 1
	grep -v hang tasks.ndjson >healthy.ndjson
	fw_pool pool.json "$1" '' --hang hang --count count
	rm -f jl count
	run --separate-stderr spool_t run -w pool.json --inflight 3 -t 0.5 --joblog jl --failed failed tasks.ndjson
	track $(cat count)
	echo "status $status; stderr: $stderr" >&2
	[ "$status" -eq 1 ]
	printf '%s\n' "$output" >out
	same_set out healthy.ndjson
	grep hang tasks.ndjson | diff failed -
	# Its neighbours in flight were requeued uncharged.
	[ "$(jl_attempts jl | tr '\n' ';')" = '7 1 ok;1 3 failed;' ]
	[ "$(nlines count)" -eq 3 ]
	[ "$(err_count '^spool: tasks\.ndjson:1: failed after 3 attempts: worker fw#0 \(pid [0-9]+\) stopped: task tasks\.ndjson:1 timed out after 0\.5s$')" -eq 1 ]
}

@test "a timeout with several tasks in flight charges only the timed-out task (spool protocol)" {
	SPOOL_T=10 hang_run spool
}

@test "a timeout with several tasks in flight charges only the timed-out task (lines protocol, also once input is at its end)" {
	# Its second and third attempts come after the whole input was read:
	# the clock must still run.
	SPOOL_T=10 hang_run lines
}

# ------------------------------------------------------------------ #
# Exit 3                                                              #

@test "exit 3 when every spec is given up, even with 3 tasks" {
	write_pool pool.json '{"workers":[{"cmd":["false"]},{"cmd":["false"]}]}'
	seq_tasks 3 >tasks.ndjson
	run --separate-stderr spool_t run -w pool.json --failed failed tasks.ndjson
	echo "stderr: $stderr" >&2
	[ "$status" -eq 3 ]
	[ -z "$output" ]
	same_set failed tasks.ndjson
}

# ------------------------------------------------------------------ #
# Memory in bytes                                                     #

# stalled : spool and all its workers (and its guard) are blocked, waiting.
stalled() {
	sleeping "$SPID" $(pgrep -P "$SPID")
}

# stalled_after N : at least N answers were written by the workers, and
# spool and its workers are blocked with no answer written since the last
# look, five looks in a row (one look can catch them all asleep between two
# answers): spool holds what it will hold until the head comes.
stalled_after() {
	local now
	now=$(nlines answered)
	if ((now >= $1)) && [[ $now == "${LAST_ANSWERED-}" ]] && stalled; then
		((++STILL))
	else
		STILL=0
	fi
	LAST_ANSWERED=$now
	((STILL >= 5))
}

MEASURE="$FIXTURES/core/measure.py"

# big_run REPORT N SPOOL-ARGS... : 300 tasks whose answers are 2 MB each
# through two workers; task 1 is held until the gate opens; -k; results
# to the file out.  Waits until spool stalls after at least N answers (as
# many as its cap on held results takes: it can stall no earlier), notes
# its VmRSS then, opens the gate and waits for the end; the output must be
# complete and in order.
big_run() {
	local rep=$1 n=$2
	shift 2
	seq_tasks 300 >tasks.ndjson
	rm -f gate answered
	STILL=0 LAST_ANSWERED=
	"$MEASURE" "$rep" "$SPOOL" run -k -c "python3 '$HYG/big_answers.py' '$T/gate' 2000000 '$T/answered'" \
		-j 2 "$@" tasks.ndjson >out 2>err 3>&- &
	local mpid=$!
	track "$mpid"
	wait_for 20 test -s "$rep.pid"
	SPID=$(cat "$rep.pid")
	track "$SPID"
	wait_for 30 stalled_after "$n"
	echo "# ${*:-default cap}: stalled after $(nlines answered) answers with VmRSS $(vm_kb "$SPID" VmRSS) kB" >&3
	touch gate
	wait "$mpid"
	cat err >&2
	[ ! -s err ]
	# All 300 answers, in input order, each whole.
	[ "$(awk -F '[:,]' 'NR != $2 || length($0) < 2000000 { bad++ } END { print NR, bad + 0 }' out)" = '300 0' ]
}

# peak_kb REPORT : spool's peak RSS (VmHWM) from measure.py's report.
peak_kb() {
	local hwm
	read -r _ hwm _ <"$1"
	echo "$hwm"
}

@test "-k behind a slow head, 300 answers of 2 MB: spool's peak RSS stays under 200 MB; --order-buffer 8M lower still" {
	# 64 MiB of held results is 32 answers.
	big_run rep 32
	local peak
	peak=$(peak_kb rep)
	echo "# default cap: VmHWM $peak kB" >&3
	((peak > 0 && peak < 200 * 1024))

	big_run rep8 4 --order-buffer 8M
	local peak8
	peak8=$(peak_kb rep8)
	echo "# --order-buffer 8M: VmHWM $peak8 kB" >&3
	((peak8 > 0 && peak8 < 60 * 1024 && peak8 < peak))
}

@test "a reader slower than the workers: spool's peak RSS stays under 200 MB; all 300 answers of 2 MB arrive" {
	# cut(1) takes a 2 MB line a byte at a time: the answers come faster
	# than stdout drains, and must not pile up in spool without bound.
	seq_tasks 300 >tasks.ndjson
	touch gate
	run --separate-stderr bash -c '"$0" rep "$SPOOL" run -c "python3 \"$HYG/big_answers.py\" \"$1/gate\" 2000000" \
		-j 2 tasks.ndjson 3>&- | cut -c 1-20 | cut -d , -f 1 | sort -u | wc -l' "$MEASURE" "$T"
	[ "$status" -eq 0 ]
	[ "$output" -eq 300 ]
	local peak
	peak=$(peak_kb rep)
	echo "# VmHWM $peak kB" >&3
	((peak > 0 && peak < 200 * 1024))
}

@test "-q 10000000 on 5 tasks: spool's peak RSS stays small" {
	seq_tasks 5 >tasks.ndjson
	run --separate-stderr "$MEASURE" rep "$SPOOL" run -q 10000000 -c cat -j 2 -k tasks.ndjson
	[ "$status" -eq 0 ]
	diff <(printf '%s\n' "$output") tasks.ndjson
	local maxrss
	read -r _ _ _ maxrss _ <rep
	echo "# peak RSS at most $maxrss kB" >&3
	# wait4's figure bounds spool's peak, between two polls too.
	((maxrss < 30 * 1024))
}

# ------------------------------------------------------------------ #
# What a protocol error shows                                         #

@test "a protocol error shows the worker's whole line: after a NUL, ESC and bad bytes escaped" {
	write_pool pool.json "{\"workers\":[{\"name\":\"g\",\"protocol\":\"spool\",\"cmd\":[\"python3\",\"$HYG/garbage.py\"]}]}"
	seq_tasks 1 >tasks.ndjson
	run --separate-stderr spool_t run -w pool.json -r 0 tasks.ndjson
	echo "stderr: $stderr" >&2
	# No worker ever finished a task and the task failed because its
	# worker broke protocol: the pool could not run (exit 3).
	[ "$status" -eq 3 ]
	local want='it wrote: before\x00after \x1b[31mred \xff\xfe café end'
	[ "$(grep -cF -- "$want" <<<"$stderr")" -ge 1 ]
	# Not a raw control byte or a broken character on the terminal.
	[ "$(grep -c $'\e' <<<"$stderr")" -eq 0 ]
	[ "$(LC_ALL=C grep -c $'\xff' <<<"$stderr")" -eq 0 ]
}
