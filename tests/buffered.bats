#!/usr/bin/env bats
# buffered.bats - SPEC section 4.1, buffered workers: programs that buffer
# their output on a pipe (jq without --unbuffered, sed, python without -u)
# finish a batch, get a hint on a live stream, and with --buffered run
# fast, flush on a live stream and lose no innocent task to a crash.
# Every run has a deadline (spool_t): a hang fails the test.

bats_require_minimum_version 1.5.0

load test_helper
load helpers/faults
load helpers/watch
load helpers/hygiene

setup() {
	T=$BATS_TEST_TMPDIR
	cd "$T" || return 1
	command -v jq >/dev/null || skip "jq is not installed"
}

teardown() {
	hyg_teardown
}

@test "a buffered worker finishes a batch: jq -c . and sed from stdin and from a file" {
	SPOOL_T=10
	run --separate-stderr spool_t run -c 'jq -c .' <<<'{"a":1}'
	[ "$status" -eq 0 ]
	[ "$output" = '{"a":1}' ]

	seq 5 >five
	run --separate-stderr spool_t run --raw -c 'sed s/1/one/' -k <five
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'one\n2\n3\n4\n5')" ]

	run --separate-stderr spool_t run --raw -c 'sed s/1/one/' -k five
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'one\n2\n3\n4\n5')" ]

	printf '{"a":1}\n{"a":2}\n' >two
	run --separate-stderr spool_t run -c 'jq -c .' -k two
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '{"a":1}\n{"a":2}')" ]
}

@test "a live stream through a buffered jq: one hint on stderr naming --unbuffered" {
	start_bg -- run -c 'jq -c .' -j 2
	feed '{"a":1}' '{"a":2}'
	# The hint comes once the worker has held a task for about 5 s.
	wait_for 15 grep -q -- '--unbuffered' err
	feed '{"a":3}'
	close_input
	finish
	[ "$STATUS" -eq 0 ]
	same_set out <(printf '{"a":%d}\n' 1 2 3)
	# Once for the spec, not once per worker or per task.
	[ "$(grep -c -- '--unbuffered' err)" -eq 1 ]
	grep -q 'jq' err
}

@test "--buffered: 50000 tasks through jq -c . with -k, complete and in order" {
	seq_tasks 50000 >tasks.ndjson
	run --separate-stderr bash -c 'timeout -k 2 30 "$SPOOL" run --buffered -c "jq -c ." -j 2 -k tasks.ndjson 3>&- | cmp - tasks.ndjson;
		echo "${PIPESTATUS[0]}" >rc'
	echo "stderr: $stderr" >&2
	[ "$status" -eq 0 ]
	[ "$(cat rc)" -eq 0 ]
}

@test "--buffered on a live stream: answers come while the input is still open" {
	start_bg -- run --buffered -c 'jq -c .' -j 1
	feed '{"a":1}' '{"a":2}' '{"a":3}'
	wait_for 15 file_has_lines out 3
	# The input is still open: the answers were flushed, not ended.
	pid_alive "$SPID"
	feed '{"a":4}'
	wait_for 15 file_has_lines out 4
	close_input
	finish
	[ "$STATUS" -eq 0 ]
	same_set out <(printf '{"a":%d}\n' 1 2 3 4)
}

@test "--buffered: a crash on a poison task fails only it; suspects are halved until it runs alone; the run completes" {
	tasks_with 200 tasks.ndjson poison 100
	grep -v poison tasks.ndjson >healthy.ndjson
	run --separate-stderr spool_t run --buffered -c "python3 '$HYG/buffered_poison.py' '$T/log'" -j 2 \
		--joblog jl --failed failed tasks.ndjson
	echo "status $status; stderr: $stderr" >&2
	[ "$status" -eq 1 ]
	printf '%s\n' "$output" >out
	same_set out healthy.ndjson
	grep poison tasks.ndjson | diff failed -
	# No innocent task was charged an attempt.
	[ "$(jl_attempts jl | tr '\n' ';')" = '199 1 ok;1 3 failed;' ]
	# Its three charged attempts were each alone on a fresh worker.
	local pid alone=0
	for pid in $(grep poison log | cut -f1); do
		[ "$(grep -c "^$pid"$'\t' log)" -eq 1 ] && ((++alone))
	done
	[ "$alone" -eq 3 ]
}
