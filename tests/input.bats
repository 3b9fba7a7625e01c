#!/usr/bin/env bats
# input.bats - reading task lines (SPEC 4.1, 5, 6): CR before LF, a last
# line without newline, blank lines, a 10 MB line, a line over 64 MiB.

bats_require_minimum_version 1.5.0

load test_helper
load helpers/core

setup() {
	T=$BATS_TEST_TMPDIR
	cd "$T" || return 1
}

@test "a CR before LF is stripped; other CRs are kept" {
	printf '{"x":1}\r\n{"x":2}\r\n{"x":3}\n' >tasks.ndjson
	run --separate-stderr spool run -k -c "tee -a '$T/received'" -j 1 tasks.ndjson
	assert_success
	printf '{"x":1}\n{"x":2}\n{"x":3}\n' >expected
	cmp expected received
	assert_output "$(cat expected)"

	printf 'a\rb\r\nc\r\r\n' >raw.txt
	run --separate-stderr spool run -k --raw -c "tee -a '$T/raw_received'" -j 1 raw.txt
	assert_success
	printf 'a\rb\nc\r\n' >raw_expected
	cmp raw_expected raw_received
}

@test "a last line without a newline is a task" {
	printf '{"x":1}\n{"x":2}' >tasks.ndjson
	run --separate-stderr spool run -k -c "tee -a '$T/received'" -j 1 tasks.ndjson
	assert_success
	assert_output "$(printf '{"x":1}\n{"x":2}')"
	# It reaches the worker newline-ended.
	printf '{"x":1}\n{"x":2}\n' >expected
	cmp expected received

	# From a pipe as well.
	run --separate-stderr bash -c 'printf "{\"x\":1}\n{\"x\":2}" | "$SPOOL" run -k -c cat -j 1'
	assert_success
	assert_output "$(printf '{"x":1}\n{"x":2}')"
}

@test "a file's unterminated last line is not joined to the next file's first" {
	printf '{"x":1}\n{"x":2}' >a.ndjson
	printf '{"x":3}\n' >b.ndjson
	run --separate-stderr spool run -k --tag -c cat -j 1 a.ndjson b.ndjson
	assert_success
	assert_output "$(printf '%s\n' '{"seq":1,"result":{"x":1}}' '{"seq":2,"result":{"x":2}}' '{"seq":3,"result":{"x":3}}')"
}

@test "blank and whitespace-only lines are not tasks but count as lines" {
	printf '{"x":1}\n\n   \t  \n\r\nnot json\n{"x":6}\n\n' >tasks.ndjson
	WORKER_LOG=$T/received run --separate-stderr spool run -k --tag -c "$WORKER_PY" -j 1 tasks.ndjson
	assert_failure 1
	assert_equal "${#lines[@]}" 3
	assert_line --index 0 '{"seq":1,"result":{"x":1}}'
	assert_line --index 1 --regexp '^\{"seq":2,"error":\{"message":"invalid JSON'
	assert_line --index 2 '{"seq":3,"result":{"x":6}}'
	# The bad line is named by its line number in the file.
	on_stderr assert_line --index 0 --regexp '^spool: tasks\.ndjson:5: invalid JSON'
	# And how many failed, at the end.
	on_stderr assert_line --index 1 'spool: 1 of 3 tasks failed'
	assert_equal "${#stderr_lines[@]}" 2
	assert_equal "$(cat received)" "$(printf '{"x":1}\n{"x":6}')"
}

@test "blank lines are not tasks with --raw either" {
	printf 'one\n\n \t \ntwo\n' >tasks.txt
	run --separate-stderr spool run -k --raw --tag -c "tee -a '$T/received'" -j 1 tasks.txt
	assert_success
	assert_output "$(printf '%s\n' '{"seq":1,"result":"one"}' '{"seq":2,"result":"two"}')"
	assert_equal "$(cat received)" "$(printf 'one\ntwo')"
}

@test "input with only blank lines runs no task" {
	printf '\n  \n\r\n' >tasks.ndjson
	run --separate-stderr spool run --tag -c "tee -a '$T/received'" -j 1 tasks.ndjson
	assert_success
	assert_output ""
	[[ ! -s received ]]
}

@test "a 10 MB line passes through intact" {
	{
		echo '{"x":1}'
		printf '{"big":"'
		head -c 7864320 /dev/urandom | base64 -w 0
		printf '"}\n'
		echo '{"x":3}'
	} >tasks.ndjson
	run --separate-stderr spool run -k -c "tee -a '$T/received'" -j 1 tasks.ndjson
	assert_success
	assert_equal "${#lines[@]}" 3
	# The worker got every byte, and so did stdout.
	assert_equal "$(cksum <received)" "$(cksum <tasks.ndjson)"
	assert_equal "$(printf '%s\n' "$output" | cksum)" "$(cksum <tasks.ndjson)"
	# Through several workers and in completion order as well.
	"$SPOOL" run -c cat -j 3 tasks.ndjson >out
	assert_equal "$(sort out | cksum)" "$(sort tasks.ndjson | cksum)"
}

# big_line N : a JSON line of about N bytes, written as it is made.
big_line() {
	printf '{"s":"'
	head -c "$1" /dev/zero | tr '\0' a
	printf '"}'
}

@test "a line over 64 MiB fails as bad input naming FILE:LINE; the run goes on" {
	{
		echo '{"x":1}'
		big_line $((64 * 1024 * 1024 + 16))
		echo
		echo '{"x":3}'
	} >big.ndjson
	# The last line of the next file is over the limit, without a newline.
	{
		echo '{"x":4}'
		big_line $((65 * 1024 * 1024))
	} >tail.ndjson
	run --separate-stderr spool run -k --tag -c "tee -a '$T/received'" -j 2 big.ndjson tail.ndjson
	rm -f big.ndjson tail.ndjson
	assert_failure 1
	assert_equal "${#lines[@]}" 5
	assert_line --index 0 '{"seq":1,"result":{"x":1}}'
	assert_line --index 1 --regexp '^\{"seq":2,"error":\{"message":"line longer than 64 MiB'
	assert_line --index 2 '{"seq":3,"result":{"x":3}}'
	assert_line --index 3 '{"seq":4,"result":{"x":4}}'
	assert_line --index 4 --regexp '^\{"seq":5,"error":\{"message":"line longer than 64 MiB'
	on_stderr assert_line --regexp '^spool: big\.ndjson:2: line longer than 64 MiB'
	on_stderr assert_line --regexp '^spool: tail\.ndjson:2: line longer than 64 MiB'
	# Never sent to a worker.
	assert_equal "$(sort received)" "$(printf '{"x":1}\n{"x":3}\n{"x":4}')"
}

@test "a line over 64 MiB still reaches --failed whole, between the others" {
	{
		echo 'not json'
		big_line $((64 * 1024 * 1024 + 16))
		echo
		echo '{"x":3}'
		big_line $((65 * 1024 * 1024))
	} >big.ndjson
	# From a pipe too, where it arrives in many reads.
	for how in file pipe; do
		rm -f failed
		if [ "$how" = file ]; then
			run --separate-stderr spool run -c cat -j 1 --failed failed big.ndjson
		else
			run --separate-stderr bash -c "cat big.ndjson | '$SPOOL' run -c cat -j 1 --failed failed"
		fi
		assert_failure 1
		assert_output '{"x":3}'
		# The failed lines, verbatim and in order: the file is the input
		# without its one good line.
		cmp failed <(grep -v '^{"x":3}$' big.ndjson)
	done
	rm -f big.ndjson failed
}

@test "an input that fails while read is named, the others still run, exit 2" {
	# Reading /proc/self/mem fails (EIO) at once.
	[ -r /proc/self/mem ] || skip "no /proc/self/mem to fail on"
	seq_tasks 3 >tasks.ndjson
	run --separate-stderr spool run -c cat -j 1 /proc/self/mem tasks.ndjson
	assert_failure 2
	assert_output "$(cat tasks.ndjson)"
	on_stderr assert_line --regexp '^spool: /proc/self/mem: read error: .*; the rest of it is not read$'
}
