#!/usr/bin/env bats
# lines.bats - the lines protocol (SPEC 4.1) and output (SPEC 5): one line
# per task each way, answers paired in order, completion vs input order,
# --tag envelopes, --raw, bad JSON lines, several inputs and stdin.

bats_require_minimum_version 1.5.0

load test_helper
load helpers/core

setup() {
	T=$BATS_TEST_TMPDIR
	cd "$T" || return 1
}

@test "each task is written to the worker as one line, as read" {
	cat >tasks.ndjson <<'EOF'
{"x":1}
{ "x" : 2,  "s": "two  spaces" }
[1, 2, {"a": null}]
"a string with \"quotes\" and \t tab escape"
42
null
{"u":"h\u00e9llo w\u00f6rld","raw":"héllo"}
EOF
	run --separate-stderr spool run -k -c "tee -a '$T/received'" -j 1 tasks.ndjson
	assert_success
	cmp tasks.ndjson received
	# A lines worker's answer is written through unchanged.
	assert_output "$(cat tasks.ndjson)"
}

@test "answers are paired with their tasks in order" {
	seq_tasks 300 >tasks.ndjson
	run --separate-stderr spool run --tag -c 'jq -c --unbuffered "{x, sq: (.x * .x)}"' -j 3 tasks.ndjson
	assert_success
	assert_equal "${#lines[@]}" 300
	jq -se 'length == 300 and all(.[]; .result.x == .seq and .result.sq == .seq * .seq)' <<<"$output" >/dev/null ||
		fail "an answer is paired with the wrong task: $output"
	# Several tasks in flight on one worker: still paired oldest first.
	run --separate-stderr spool run --tag --inflight 7 -c 'jq -c --unbuffered "{x, sq: (.x * .x)}"' -j 1 tasks.ndjson
	assert_success
	jq -se 'length == 300 and all(.[]; .result.x == .seq and .result.sq == .seq * .seq)' <<<"$output" >/dev/null ||
		fail "an answer is paired with the wrong task: $output"
}

# Tasks whose first blocks until the last has run: with two workers at
# one task each, completion order differs from input order.
gated_tasks() {
	printf '{"x":1,"wait":"%s/go"}\n' "$T"
	seq_tasks 8 2
	printf '{"x":10,"touch":"%s/go"}\n' "$T"
}

@test "results come in completion order by default" {
	gated_tasks >tasks.ndjson
	run --separate-stderr timeout 30 "$SPOOL" run -c "$WORKER_PY" -j 2 --inflight 1 tasks.ndjson
	assert_success
	# The same multiset of lines ...
	assert_equal "$(sort <<<"$output")" "$(sort tasks.ndjson)"
	# ... with the blocked first task written last.
	assert_output "$(tail -n +2 tasks.ndjson; head -n 1 tasks.ndjson)"
}

@test "-k writes results in input order" {
	gated_tasks >tasks.ndjson
	run --separate-stderr timeout 30 "$SPOOL" run -k -c "$WORKER_PY" -j 2 --inflight 1 tasks.ndjson
	assert_success
	assert_output "$(cat tasks.ndjson)"
	run --separate-stderr timeout 30 "$SPOOL" run --keep-order --tag -c "$WORKER_PY" -j 2 --inflight 1 tasks.ndjson
	assert_success
	assert_equal "$(jq -c .seq <<<"$output" | paste -sd' ')" "1 2 3 4 5 6 7 8 9 10"
}

@test "-k keeps input order with many tasks and several workers" {
	seq_tasks 2000 >tasks.ndjson
	run --separate-stderr spool run -k -c 'jq -c --unbuffered .' -j 4 tasks.ndjson
	assert_success
	assert_output "$(cat tasks.ndjson)"
}

# ----------------------------------------------------------------- --tag

@test "--tag embeds a result that is JSON" {
	printf '{"x":1}\n[1,2]\n"s"\n7\nnull\ntrue\n' >tasks.ndjson
	run --separate-stderr spool run -k --tag -c cat -j 1 tasks.ndjson
	assert_success
	assert_line --index 0 '{"seq":1,"result":{"x":1}}'
	assert_line --index 1 '{"seq":2,"result":[1,2]}'
	assert_line --index 2 '{"seq":3,"result":"s"}'
	assert_line --index 3 '{"seq":4,"result":7}'
	assert_line --index 4 '{"seq":5,"result":null}'
	assert_line --index 5 '{"seq":6,"result":true}'
	assert_equal "${#lines[@]}" 6
}

@test "--tag wraps a result that is not JSON as a JSON string" {
	printf '{"x":1}\n{"x":2}\n' >tasks.ndjson
	run --separate-stderr spool run -k --tag -c 'sed -u "s/^/not json: /"' -j 1 tasks.ndjson
	assert_success
	assert_line --index 0 '{"seq":1,"result":"not json: {\"x\":1}"}'
	assert_line --index 1 '{"seq":2,"result":"not json: {\"x\":2}"}'

	# Control characters and backslashes are escaped, and come back intact.
	run --separate-stderr spool run --tag -c 'sed -u "s/^/a\tb\\\\c /"' -j 1 - <<<'{"x":1}'
	assert_success
	jq -e . <<<"$output" >/dev/null || fail "not one JSON value: $output"
	assert_equal "$(jq -r .result <<<"$output")" "$(printf 'a\tb\\c {"x":1}')"
}

@test "--tag gives every input line one line: error envelopes for bad lines" {
	printf '{"x":1}\nnot json\n{"x":3}\n{"x":\n' >tasks.ndjson
	run --separate-stderr spool run -k --tag -c cat -j 1 tasks.ndjson
	assert_failure 1
	assert_equal "${#lines[@]}" 4
	assert_line --index 0 '{"seq":1,"result":{"x":1}}'
	assert_line --index 2 '{"seq":3,"result":{"x":3}}'
	local i
	for i in 1 3; do
		jq -e --argjson s "$((i + 1))" '.seq == $s and (.error.message | startswith("invalid JSON"))
			and .error.worker == null and (.error.attempts | type) == "number"
			and (keys == ["error", "seq"])' <<<"${lines[i]}" >/dev/null ||
			fail "bad error envelope: ${lines[i]}"
	done
}

@test "--tag error envelope for a task whose worker died names the worker" {
	printf '{"x":1}\n{"x":2,"die":1}\n' >tasks.ndjson
	run --separate-stderr spool run -k --tag -r 1 -c "$WORKER_PY" -j 1 tasks.ndjson
	assert_failure 1
	assert_line --index 0 '{"seq":1,"result":{"x":1}}'
	jq -e '.seq == 2 and .error.attempts == 2 and .error.worker == "worker.py#0"
		and (.error.message | type) == "string"' <<<"${lines[1]}" >/dev/null ||
		fail "bad error envelope: ${lines[1]}"
}

# ----------------------------------------------------------------- --raw

@test "--raw passes lines that are not JSON to the worker" {
	printf 'hello world\n{not json\n  spaced  \n{"x":1}\n' >tasks.ndjson
	run --separate-stderr spool run -k --raw -c "tee -a '$T/received'" -j 1 tasks.ndjson
	assert_success
	assert_equal "$stderr" ""
	assert_output "$(cat tasks.ndjson)"
	cmp tasks.ndjson received

	run --separate-stderr spool run -k --raw --tag -c cat -j 1 tasks.ndjson
	assert_success
	assert_line --index 0 '{"seq":1,"result":"hello world"}'
	assert_line --index 1 '{"seq":2,"result":"{not json"}'
	assert_line --index 2 '{"seq":3,"result":"  spaced  "}'
	assert_line --index 3 '{"seq":4,"result":{"x":1}}'
}

# ------------------------------------------------------ bad JSON lines

@test "an invalid JSON line fails as FILE:LINE, is never sent, and the rest run" {
	cat >tasks.ndjson <<'EOF'
{"x":1}
{"x":}
{"x":3}
nope
{"x":5} trailing
{"x":6
'single'
{"x":8}
EOF
	WORKER_LOG=$T/received run --separate-stderr spool run -k -c "$WORKER_PY" -j 2 tasks.ndjson
	assert_failure 1
	assert_output "$(printf '{"x":1}\n{"x":3}\n{"x":8}')"
	# The first three are named, the rest counted (plain text fed by
	# mistake would otherwise flood the screen).
	local n
	for n in 2 4 5; do
		on_stderr assert_line --regexp "^spool: tasks\.ndjson:$n: invalid JSON"
	done
	for n in 6 7; do
		on_stderr refute_line --regexp "^spool: tasks\.ndjson:$n: "
	done
	on_stderr assert_line --partial 'use --raw, or quote them with jq -R'
	on_stderr assert_line 'spool: 5 input lines were not valid JSON (3 named above)'
	on_stderr assert_line 'spool: 5 of 8 tasks failed'
	assert_equal "${#stderr_lines[@]}" 6
	# Only the good lines reached a worker.
	assert_equal "$(sort received)" "$(printf '{"x":1}\n{"x":3}\n{"x":8}')"
}

@test "an invalid JSON line in the middle of many does not stop the run" {
	{
		seq_tasks 500
		echo '{"bad": tru}'
		seq_tasks 500 501
	} >tasks.ndjson
	run --separate-stderr spool run -c cat -j 2 tasks.ndjson
	assert_failure 1
	assert_equal "${#lines[@]}" 1000
	assert_equal "${#stderr_lines[@]}" 2
	on_stderr assert_line --index 0 --regexp '^spool: tasks\.ndjson:501: invalid JSON at column 9: '
	on_stderr assert_line --index 1 'spool: 1 of 1001 tasks failed'
}

# ------------------------------------------------------------ inputs

@test "several FILEs and - are read in order, seq numbering across them" {
	printf '{"f":"a","i":1}\n{"f":"a","i":2}\n' >a.ndjson
	printf '{"f":"s","i":1}\n{bad\n{"f":"s","i":3}\n' >s.ndjson
	printf '\n{"f":"b","i":2}\n[oops\n' >b.ndjson
	run --separate-stderr spool run -k --tag -c cat -j 2 a.ndjson - b.ndjson <s.ndjson
	assert_failure 1
	assert_equal "${#lines[@]}" 7
	assert_line --index 0 '{"seq":1,"result":{"f":"a","i":1}}'
	assert_line --index 1 '{"seq":2,"result":{"f":"a","i":2}}'
	assert_line --index 2 '{"seq":3,"result":{"f":"s","i":1}}'
	assert_line --index 3 --regexp '^\{"seq":4,"error":'
	assert_line --index 4 '{"seq":5,"result":{"f":"s","i":3}}'
	assert_line --index 5 '{"seq":6,"result":{"f":"b","i":2}}'
	assert_line --index 6 --regexp '^\{"seq":7,"error":'
	# Bad lines are named by their own file and line.
	on_stderr assert_line --regexp '^spool: (stdin|-):2: invalid JSON'
	on_stderr assert_line --regexp '^spool: b\.ndjson:3: invalid JSON'
}

@test "the same FILE twice is read twice" {
	seq_tasks 3 >a.ndjson
	run --separate-stderr spool run -k --tag -c cat -j 1 a.ndjson a.ndjson
	assert_success
	assert_equal "$(jq -c '[.seq, .result.x]' <<<"$output" | paste -sd' ')" \
		"[1,1] [2,2] [3,3] [4,1] [5,2] [6,3]"
}

@test "with no FILE, tasks are read from stdin" {
	seq_tasks 50 >tasks.ndjson
	run --separate-stderr spool run -k -c cat -j 2 <tasks.ndjson
	assert_success
	assert_output "$(cat tasks.ndjson)"
	# From a pipe too.
	run --separate-stderr bash -c 'cat tasks.ndjson | "$SPOOL" run -k -c cat -j 2'
	assert_success
	assert_output "$(cat tasks.ndjson)"
}

@test "empty input: no output, exit 0" {
	run --separate-stderr spool run -c cat -j 2 </dev/null
	assert_success
	assert_output ""
	: >empty.ndjson
	run --separate-stderr spool run -c cat -j 2 empty.ndjson
	assert_success
	assert_output ""
}
