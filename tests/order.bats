#!/usr/bin/env bats
# order.bats - output order (SPEC 5): completion order by default, input
# order with -k, whatever finishes when, fails or is retried.

bats_require_minimum_version 1.5.0

load test_helper
load helpers/core

setup() {
	T=$BATS_TEST_TMPDIR
	cd "$T" || return 1
}

teardown() {
	if [[ -n ${SPID-} ]]; then
		kill "$SPID" 2>/dev/null || true
		wait "$SPID" 2>/dev/null || true
	fi
}

# gated N : N tasks, task i waiting for the file gi, then creating di.
gated() {
	local i
	for ((i = 1; i <= $1; i++)); do
		printf '{"x":%d,"wait":"%s/g%d","touch":"%s/d%d"}\n' "$i" "$T" "$i" "$T" "$i"
	done
}

# start_gated ARGS... : run the gated tasks in the background on four
# workers, one task each, output to out.  Sets SPID.
start_gated() {
	gated 4 >tasks.ndjson
	"$SPOOL" run "$@" -c "$WORKER_PY" -j 4 --inflight 1 tasks.ndjson >out 2>err 3>&- &
	SPID=$!
}

# finish : wait for spool; it must exit 0.
finish() {
	local rc=0
	wait "$SPID" || rc=$?
	SPID=
	assert_equal "$rc" 0
}

@test "by default results are written in the order tasks complete" {
	start_gated --tag
	local n=0 i
	for i in 3 1 4 2; do
		touch "g$i"
		n=$((n + 1))
		wait_for 20 lines_at_least "$n" out
	done
	finish
	assert_equal "$(jq -c '[.seq, .result.x]' out | paste -sd' ')" "[3,3] [1,1] [4,4] [2,2]"
}

@test "-k holds results until every earlier one is written" {
	start_gated -k --tag
	local i
	for i in 4 2 3; do
		touch "g$i"
	done
	wait_for 20 test -e d2 -a -e d3 -a -e d4
	wait_for 20 sleeping "$SPID"
	# Tasks 2 to 4 are done, but the first is not: nothing is written yet.
	assert_equal "$(count_lines out)" 0
	touch g1
	finish
	assert_equal "$(jq -c '[.seq, .result.x]' out | paste -sd' ')" "[1,1] [2,2] [3,3] [4,4]"
}

@test "-k with task-dependent delays: input order; by default the same results" {
	local i
	for ((i = 1; i <= 40; i++)); do
		printf '{"x":%d,"sleep":0.0%d}\n' "$i" $(((i * 7) % 10))
	done >tasks.ndjson
	run --separate-stderr spool run -k -c "$WORKER_PY" -j 4 --inflight 1 tasks.ndjson
	assert_success
	assert_output "$(cat tasks.ndjson)"
	run --separate-stderr spool run -c "$WORKER_PY" -j 4 --inflight 1 tasks.ndjson
	assert_success
	assert_equal "$(sort <<<"$output")" "$(sort tasks.ndjson)"
}

@test "-k: a task retried after its worker died keeps its place" {
	{
		seq_tasks 2
		printf '{"x":3,"die":1,"once":"%s/died"}\n' "$T"
		seq_tasks 3 4
	} >tasks.ndjson
	run --separate-stderr spool run -k --tag -c "$WORKER_PY" -j 2 tasks.ndjson
	assert_success
	[[ -e died ]] || fail "the worker never died"
	assert_equal "$(jq -c '[.seq, .result.x]' <<<"$output" | paste -sd' ')" \
		"[1,1] [2,2] [3,3] [4,4] [5,5] [6,6]"
	on_stderr assert_line --regexp '^spool: worker worker\.py#[01] \(pid [0-9]+\) exited with status 1'
}

@test "-k: failed tasks and bad lines take their place in the order" {
	{
		seq_tasks 1
		echo 'not json'
		seq_tasks 1 3
		printf '{"x":4,"die":2}\n'
		seq_tasks 2 5
	} >tasks.ndjson
	run --separate-stderr spool run -k --tag -r 0 -c "$WORKER_PY" -j 2 tasks.ndjson
	assert_failure 1
	assert_equal "$(jq -c '[.seq, (.result.x // "error")]' <<<"$output" | paste -sd' ')" \
		'[1,1] [2,"error"] [3,3] [4,"error"] [5,5] [6,6]'
	# Without --tag only the results, still in input order.
	run --separate-stderr spool run -k -r 0 -c "$WORKER_PY" -j 2 tasks.ndjson
	assert_failure 1
	assert_equal "$(jq -c .x <<<"$output" | paste -sd' ')" "1 3 5 6"
}

@test "-k with a window of one task (-q 1) runs one task at a time, in order" {
	seq_tasks 30 >tasks.ndjson
	run --separate-stderr timeout 30 "$SPOOL" run -k -q 1 -c 'jq -c --unbuffered .' -j 3 tasks.ndjson
	assert_success
	assert_output "$(cat tasks.ndjson)"
	# In completion order too.
	run --separate-stderr timeout 30 "$SPOOL" run -q 1 -c 'jq -c --unbuffered .' -j 3 tasks.ndjson
	assert_success
	assert_output "$(cat tasks.ndjson)"
}
