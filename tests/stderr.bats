#!/usr/bin/env bats
# stderr.bats - spool's stderr (SPEC 5): worker lines prefixed with the
# worker's label, never interleaved mid-line; spool's own lines prefixed
# "spool: "; a last line without newline still shown.

bats_require_minimum_version 1.5.0

load test_helper
load helpers/core

setup() {
	T=$BATS_TEST_TMPDIR
	cd "$T" || return 1
}

@test "each worker stderr line is passed on prefixed [name#i]" {
	write_pool pool.json '{"workers": [{"name": "w", "replicas": 2,
		"cmd": ["sh", "-c", "echo hello >&2; echo \"two  words\" >&2; echo >&2; exec cat"]}]}'
	run --separate-stderr spool run -w pool.json </dev/null
	assert_success
	assert_output ""
	local i
	for i in 0 1; do
		on_stderr assert_line "[w#$i] hello"
		on_stderr assert_line "[w#$i] two  words"
	done
	assert_equal "${#stderr_lines[@]}" 6
	# An empty line is the prefix alone.
	spool run -w pool.json </dev/null 2>err
	assert_equal "$(grep -cx '\[w#[01]\] ' err)" 2
}

@test "stderr written while tasks run is passed on too, in order per worker" {
	printf '{"x":%d,"stderr":"task %d says hi"}\n' 1 1 2 2 3 3 >tasks.ndjson
	run --separate-stderr spool run -k -c "$WORKER_PY" -j 1 tasks.ndjson
	assert_success
	assert_equal "${#lines[@]}" 3
	assert_equal "$stderr" "$(printf '[worker.py#0] task %d says hi\n' 1 2 3)"
}

@test "lines from several workers never interleave mid-line" {
	# 4 workers, each 150 lines of 12000 bytes, each line in three writes.
	write_pool pool.json "{\"workers\": [{\"name\": \"spam\", \"replicas\": 4,
		\"cmd\": [\"$CORE_FIXTURES/spam.py\", \"150\", \"12000\"]}]}"
	seq_tasks 20 >tasks.ndjson
	spool run -w pool.json tasks.ndjson >out 2>err
	assert_equal "$(count_lines out)" 20
	run "$CORE_FIXTURES/check_spam.py" err spam 4 150 12000
	assert_success
}

@test "spool's own messages are prefixed 'spool: '" {
	printf '{"x":1}\nbad\n{"x":3,"stderr":"from the worker"}\n' >tasks.ndjson
	run --separate-stderr spool run -v -c "$WORKER_PY" -j 1 tasks.ndjson
	assert_failure 1
	on_stderr assert_line --regexp '^spool: tasks\.ndjson:2: invalid JSON'
	on_stderr assert_line --regexp '^spool: worker worker\.py#0 spawned'
	on_stderr assert_line '[worker.py#0] from the worker'
	local l spool_lines=0
	for l in "${stderr_lines[@]}"; do
		case $l in
		"spool: "*) spool_lines=$((spool_lines + 1)) ;;
		"[worker.py#0] from the worker") ;;
		*) fail "a stderr line that is neither spool's nor a worker's: '$l'" ;;
		esac
	done
	((spool_lines >= 4)) || fail "too few spool lines: $stderr"
}

@test "a worker's last stderr line without a newline still appears at exit" {
	write_pool pool.json '{"workers": [{"name": "w", "cmd": ["sh", "-c", "cat; printf \"last words\" >&2"]}]}'
	run --separate-stderr spool run -w pool.json - <<<'{"x":1}'
	assert_success
	assert_output '{"x":1}'
	assert_equal "$stderr" "[w#0] last words"
	# As a whole line: spool ends it with a newline.
	spool run -w pool.json - <<<'{"x":1}' 2>err >/dev/null
	assert_equal "$(tail -c 1 err | od -An -c | tr -d ' ')" '\n'
}

@test "a stderr line written in pieces across tasks is passed on whole" {
	write_pool pool.json '{"workers": [{"name": "w", "cmd": ["sh", "-c",
		"printf start >&2; while read -r l; do echo \"$l\"; printf -- \"-%s\" \"$l\" >&2; done; echo \" end\" >&2"]}]}'
	printf '1\n2\n3\n' >tasks.ndjson
	run --separate-stderr spool run -k -w pool.json tasks.ndjson
	assert_success
	assert_output "$(printf '1\n2\n3')"
	assert_equal "$stderr" "[w#0] start-1-2-3 end"
}

@test "a dying worker's unfinished stderr line is shown" {
	write_pool pool.json '{"workers": [{"name": "w", "cmd": ["sh", "-c", "read -r l; printf \"dying words\" >&2; exit 3"]}]}'
	run --separate-stderr spool run -r 0 -w pool.json - <<<'{"x":1}'
	# No worker ever finished a task: the pool could not run (exit 3).
	assert_failure 3
	on_stderr assert_line "[w#0] dying words"
	# spool's death message names the status and quotes the line.
	on_stderr assert_line --regexp '^spool: worker w#0 \(pid [0-9]+\) exited with status 3'
	on_stderr assert_line --regexp '\(its last stderr line: dying words\)$'
	# ... and the task's failure says it too.
	on_stderr assert_line --regexp '^spool: stdin:1: failed: worker w#0 \(pid [0-9]+\) exited with status 3 \(its last stderr line: dying words\)$'
}
