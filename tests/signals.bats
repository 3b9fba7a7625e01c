#!/usr/bin/env bats
# signals.bats - SPEC section 6: SIGTERM/SIGINT, a second signal, a closed
# stdout, spool killed, and the workers' own process groups.  Workers hold
# each task until a gate file exists and say when they start one, so the
# tests wait on conditions, never on time.

bats_require_minimum_version 1.5.0

load test_helper
load helpers/faults

setup() {
	cd "$BATS_TEST_TMPDIR" || return 1
	seq_tasks 20 >tasks.ndjson
	# Two workers, one task each at a time, each task held at the gate;
	# and a sentinel that never becomes ready and takes no task: spool
	# closes its stdin when it takes a signal, and it says so.
	pool_with_sentinel --gate gate --started started --pids pids
}

# pool_with_sentinel FW-ARG... : pool.json as described in setup.
pool_with_sentinel() {
	write_pool pool.json "{\"workers\":[
		{\"name\":\"fw\",\"replicas\":2,\"cmd\":$(fw_cmd "$@")},
		{\"name\":\"sentinel\",\"ready\":\"line\",
		 \"cmd\":[\"sh\",\"-c\",\"cat >/dev/null; echo eof >sentinel-eof\"]}]}"
}

# signal_taken : spool has acted on its first signal.
signal_taken() {
	wait_for 20 file_exists sentinel-eof
}

teardown() {
	# Never leave a worker or spool behind, even when a test failed.
	touch "$BATS_TEST_TMPDIR/gate"
	if [[ -n ${SPID:-} ]] && kill -0 "$SPID" 2>/dev/null; then
		kill -KILL "$SPID" 2>/dev/null || true
	fi
}

# start_spool [LAUNCH-OPTION...] -- SPOOL-ARGS... : spool in the background
# (through launch.py, SIGINT at its default action unless told otherwise);
# its pid in SPID.  stdout to out, stderr to err.
start_spool() {
	local launch=()
	while [[ $1 != -- ]]; do
		launch+=("$1")
		shift
	done
	shift
	python3 "$FAULTS/launch.py" "${launch[@]}" -- "$SPOOL" "$@" >out 2>err 3>&- &
	SPID=$!
}

# finish : wait for spool; its exit status in STATUS.
finish() {
	STATUS=0
	wait "$SPID" || STATUS=$?
	echo "spool exited $STATUS; stderr:" >&2
	cat err >&2
}

# The two tasks the workers hold, as task lines.
held_tasks() {
	cut -f2 started
}

@test "SIGTERM: tasks in flight finish and are written, the rest fail as not started, exit 143" {
	start_spool -- run -w pool.json --inflight 1 --failed failed tasks.ndjson
	wait_for 20 file_has_lines started 2
	kill -TERM "$SPID"
	signal_taken
	touch gate
	finish
	[ "$STATUS" -eq 143 ]
	same_set out <(held_tasks)
	accounted tasks.ndjson out failed
	grep -qx 'spool: interrupted by SIGTERM: 2 tasks finished, 18 not started' err
	# One summary line, not a line per task.
	[ "$(grep -c 'not started' err)" -eq 1 ]
	[ "$(nlines started)" -eq 2 ]
	none_alive pids
}

@test "SIGINT: exit 130; --tag gives every task read one line" {
	start_spool -- run -w pool.json --inflight 1 --tag tasks.ndjson
	wait_for 20 file_has_lines started 2
	kill -INT "$SPID"
	signal_taken
	touch gate
	finish
	[ "$STATUS" -eq 130 ]
	tag_complete 20 out
	same_set <(tag_results out) <(held_tasks)
	[ "$(jq -r 'select(has("error")) | .error.message' out | sort | uniq -c | awk '{$1=$1; print}')" = '18 interrupted: not started' ]
	grep -qx 'spool: interrupted by SIGINT: 2 tasks finished, 18 not started' err
	none_alive pids
}

@test "a second signal kills the workers at once; their tasks fail as interrupted" {
	start_spool -- run -w pool.json --inflight 1 --failed failed tasks.ndjson
	wait_for 20 file_has_lines started 2
	kill -TERM "$SPID"
	signal_taken
	# A second signal, from another sender (one sender's signal that
	# arrives twice within 50 ms is one signal).
	(kill -TERM "$SPID")
	finish
	[ "$STATUS" -eq 143 ]
	[ ! -s out ]
	same_set failed tasks.ndjson
	grep -qx 'spool: second signal: killing workers' err
	grep -qx 'spool: interrupted by SIGTERM: 0 tasks finished, 18 not started' err
	grep -qx 'spool: 2 tasks in flight were stopped (failed as "interrupted")' err
	# The gate never opened: the workers were killed, not finished.
	none_alive pids
}

@test "a second signal with --tag: the stopped tasks get \"interrupted\" envelopes" {
	start_spool -- run -w pool.json --inflight 1 --tag tasks.ndjson
	wait_for 20 file_has_lines started 2
	kill -INT "$SPID"
	signal_taken
	(kill -INT "$SPID")
	finish
	[ "$STATUS" -eq 130 ]
	tag_complete 20 out
	[ "$(jq -r '.error.message' out | sort | uniq -c | awk '{$1=$1; print}' | tr '\n' ';')" = '2 interrupted;18 interrupted: not started;' ]
	none_alive pids
}

@test "stdout closed by the reader (| head -n1): exit 141, nothing on stderr, workers gone" {
	# Far more output than a pipe holds: spool is still writing when
	# head has gone.
	seq_tasks 100000 >many.ndjson
	run bash -c '"$SPOOL" run -c "echo \$\$ >>pids; exec cat" -j 2 many.ndjson 2>err 3>&- | head -n1;
		echo "${PIPESTATUS[0]}" >rc'
	[ "$status" -eq 0 ]
	[[ $output =~ ^\{\"x\":[0-9]+\}$ ]]
	[ "$(cat rc)" -eq 141 ]
	[ ! -s err ]
	[ "$(nlines pids)" -ge 1 ]
	none_alive pids
}

@test "spool killed with SIGKILL: no worker outlives it" {
	start_spool -- run -w pool.json --inflight 1 tasks.ndjson
	wait_for 20 file_has_lines started 2
	wait_for 20 file_has_lines pids 2
	kill -KILL "$SPID"
	finish
	[ "$STATUS" -eq 137 ]
	# PR_SET_PDEATHSIG: the workers die with spool (they were held at the
	# gate, so they would not have ended by themselves).
	wait_for 10 none_alive pids
}

@test "workers run in their own process group: SIGINT to spool's group reaches spool only" {
	pool_with_sentinel --gate gate --started started --pids pids --sigint-log got-sigint
	start_spool --setsid --pidfile spid -- run -w pool.json --inflight 1 --failed failed tasks.ndjson
	wait_for 20 file_has_lines started 2
	# spool leads its own group; no worker is in it.
	local spgid pid
	spgid=$(ps -o pgid= -p "$SPID" | tr -d ' ')
	[ "$spgid" -eq "$SPID" ]
	while read -r pid; do
		[ "$(ps -o pgid= -p "$pid" | tr -d ' ')" -ne "$spgid" ]
	done <pids
	# A terminal's Ctrl-C: SIGINT to the whole foreground group.
	kill -INT -- "-$spgid"
	signal_taken
	touch gate
	finish
	[ "$STATUS" -eq 130 ]
	# The workers were not interrupted: they finished their tasks.
	[ ! -e got-sigint ]
	same_set out <(held_tasks)
	accounted tasks.ndjson out failed
	none_alive pids
}

@test "a SIGINT ignored when spool starts stays ignored" {
	start_spool --sigint ignore -- run -w pool.json --inflight 1 --failed failed tasks.ndjson
	wait_for 20 file_has_lines started 2
	kill -INT "$SPID"
	# Had spool taken it, the signal would wait in its signalfd and be
	# acted on at its next turn, as soon as the gate opens.
	touch gate
	finish
	[ "$STATUS" -eq 0 ]
	same_set out tasks.ndjson
	[ ! -e failed ] || [ ! -s failed ]
	[ ! -s err ]
}

@test "an ignored SIGINT does not shield spool from SIGTERM" {
	start_spool --sigint ignore -- run -w pool.json --inflight 1 --failed failed tasks.ndjson
	wait_for 20 file_has_lines started 2
	kill -INT "$SPID"
	kill -TERM "$SPID"
	signal_taken
	touch gate
	finish
	[ "$STATUS" -eq 143 ]
	accounted tasks.ndjson out failed
}

@test "after a signal, tasks not started are written out while tasks in flight still run" {
	# The --failed lines for the tasks that will never start are written
	# when spool takes the signal, not only when the tasks in flight are
	# over (or given up on, 5 s later).  No sentinel here: its exit would
	# wake spool up and hide a missing write.
	fw_pool pool.json lines ',"replicas":2' --gate gate --started started --pids pids
	start_spool -- run -w pool.json --inflight 1 --failed failed tasks.ndjson
	wait_for 20 file_has_lines started 2
	kill -TERM "$SPID"
	wait_for 20 file_has_lines failed 18
	# The held tasks were not given up on meanwhile: they finish.
	touch gate
	finish
	[ "$STATUS" -eq 143 ]
	same_set out <(held_tasks)
	same_set failed <(grep -vxF -f <(held_tasks) tasks.ndjson)
}
