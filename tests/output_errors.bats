#!/usr/bin/env bats
# output_errors.bats - SPEC section 6: output that cannot be written is
# never counted as done.  stdout on a full disk or closed, --failed and
# --joblog that cannot be written or that name an input, and the joblog
# of a run whose reader went away.

bats_require_minimum_version 1.5.0

load test_helper
load helpers/faults
load helpers/watch
load helpers/hygiene

setup() {
	T=$BATS_TEST_TMPDIR
	cd "$T" || return 1
	seq_tasks 20 >tasks.ndjson
}

teardown() {
	hyg_teardown
}

# A -c worker that echoes its tasks and notes its pid in the file pids.
ECHO_CMD='echo $$ >>pids; exec cat'

@test "stdout on a full disk: the error said once with its cause, no task counted ok, exit 1" {
	run --separate-stderr bash -c '"$SPOOL" run -c cat -j 2 --stats=stats.json --joblog jl tasks.ndjson >/dev/full 3>&-'
	echo "stderr: $stderr" >&2
	[ "$status" -eq 1 ]
	[ "$(err_count 'No space left on device')" -eq 1 ]
	[ "$(err_count '^spool: stdout: .*No space left on device')" -eq 1 ]
	# The workers spool stopped for it are not reported as faults.
	[ "$(err_count 'killed by signal|exited with status')" -eq 0 ]
	# Nothing could be written: nothing is ok, everything read is failed
	# or not started.
	[ "$(jq '.tasks.ok' stats.json)" -eq 0 ]
	[ "$(jq '.tasks.read' stats.json)" -eq 20 ]
	[ "$(jq '.tasks.failed + .tasks.not_started' stats.json)" -eq 20 ]
	[ "$(jl_count jl)" -eq 20 ]
	[ "$(jl_field jl 7 | grep -cx ok)" -eq 0 ]
}

@test "stdout closed when spool starts: exit 2 with a message, no worker started" {
	run --separate-stderr bash -c '"$SPOOL" run -c "$0" -j 2 tasks.ndjson >&- 3>&-' "$ECHO_CMD"
	echo "stderr: $stderr" >&2
	[ "$status" -eq 2 ]
	[ "$(err_count '^spool: .*stdout.*closed')" -ge 1 ]
	[ ! -e pids ]
}

@test "--failed on a full disk: named with its cause, exit 1" {
	printf '{"x":1}\nnot json\n{"x":3}\n' >bad.ndjson
	run --separate-stderr spool_t run -c cat -j 2 --failed /dev/full bad.ndjson
	echo "stderr: $stderr" >&2
	[ "$status" -eq 1 ]
	[ "$(err_count '^spool: --failed /dev/full: .*No space left on device')" -eq 1 ]
}

@test "--joblog on a full disk: named with its cause, exit 1 though every task succeeded" {
	run --separate-stderr spool_t run -c cat -j 2 --joblog /dev/full tasks.ndjson
	echo "stderr: $stderr" >&2
	[ "$status" -eq 1 ]
	same_set <(printf '%s\n' "$output") tasks.ndjson
	[ "$(err_count '^spool: --joblog /dev/full: .*No space left on device')" -eq 1 ]
}

@test "--failed naming an input file: exit 2, a message, nothing run, the input untouched" {
	cp tasks.ndjson orig.ndjson
	ln -s tasks.ndjson link.ndjson
	local how
	for how in 'tasks.ndjson tasks.ndjson' "link.ndjson $T/tasks.ndjson" 'tasks.ndjson -'; do
		set -- $how
		run --separate-stderr spool_t run -c "$ECHO_CMD" --failed "$1" "$2" <tasks.ndjson
		echo "--failed $1 $2: stderr: $stderr" >&2
		[ "$status" -eq 2 ]
		[ -z "$output" ]
		[ "$(err_count "^spool: --failed $1: .*input")" -eq 1 ]
		[ ! -e pids ]
		cmp tasks.ndjson orig.ndjson
	done
}

@test "--joblog naming an input file: exit 2, a message, nothing run, the input untouched" {
	# An empty input is a valid place for a new joblog: only the input
	# check stops it.
	: >empty.ndjson
	ln -s empty.ndjson link.ndjson
	run --separate-stderr spool_t run -c "$ECHO_CMD" --joblog link.ndjson empty.ndjson
	echo "stderr: $stderr" >&2
	[ "$status" -eq 2 ]
	[ "$(err_count '^spool: --joblog link.ndjson: .*input')" -eq 1 ]
	[ ! -e pids ]
	[ ! -s empty.ndjson ]

	cp tasks.ndjson orig.ndjson
	run --separate-stderr spool_t run -c "$ECHO_CMD" --joblog tasks.ndjson tasks.ndjson
	echo "stderr: $stderr" >&2
	[ "$status" -eq 2 ]
	[ "$(err_count '^spool: ')" -ge 1 ]
	[ ! -e pids ]
	cmp tasks.ndjson orig.ndjson
}

@test "after | head -1, the tasks failed as \"stdout closed\" have joblog rows" {
	# Far more output than a pipe holds: spool is still writing when
	# head has gone.
	seq_tasks 100000 >many.ndjson
	run bash -c '"$SPOOL" run -c cat -j 2 --joblog jl --stats=stats.json many.ndjson 2>err 3>&- | head -n1;
		echo "${PIPESTATUS[0]}" >rc'
	cat err >&2
	[ "$(cat rc)" -eq 141 ]
	[[ $output =~ ^\{\"x\":[0-9]+\}$ ]]
	local read ok
	read=$(jq '.tasks.read' stats.json)
	ok=$(jq '.tasks.ok' stats.json)
	echo "# read $read, ok $ok" >&3
	# A row for every task read, each seq once; the ones cut off say why.
	[ "$(jl_count jl)" -eq "$read" ]
	[ "$(jl_field jl 1 | sort -u | wc -l)" -eq "$read" ]
	[ "$(jl_field jl 7 | grep -cx ok)" -eq "$ok" ]
	local stopped
	stopped=$(awk -F '\t' 'NR > 1 && $7 == "failed" && $8 == "stdout closed"' jl | wc -l)
	((stopped >= 1))
	[ "$(awk -F '\t' 'NR > 1 && $7 != "ok" && $8 != "stdout closed"' jl | wc -l)" -eq 0 ]
}
