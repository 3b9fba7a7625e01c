#!/usr/bin/env bats
# batch.bats - dynamic batching (SPEC 11): spool sends a spool-protocol
# worker up to max_size execute requests as one JSON-RPC batch line,
# holding a partial batch at most max_delay (not at all at end of input).
# The workers: a raw JSON-RPC one that answers out of order
# (fixtures/batch/rpc_batch.py), the Python and C SDKs, and one on the
# json-rpc-2.0 package from npm, which handles batches itself
# (fixtures/batch/jsonrpc_worker.js; `sh tests/deps.sh test` installs it).
# Each task stays its own task: output, order, --tag, joblog, retries,
# stats; a death or a broken answer with a batch in flight makes its tasks
# suspects that run alone.

bats_require_minimum_version 1.5.0
load test_helper

B="$FIXTURES/batch"
RPC="$B/rpc_batch.py"
SDK_PY="$B/sdk_batch.py"
NODE_WORKER="$B/jsonrpc_worker.js"
C_BATCH_PROBE="$FIXTURES/protocol/sdk_batch_probe.c"

setup_file() {
	# The C SDK's batch probe, built once (the test that needs it says
	# why it did not build).
	local bin=$BATS_FILE_TMPDIR
	# shellcheck disable=SC2046
	cc -std=c11 -Wall -Wextra -O2 -I"$REPO_DIR/workers/c" \
		$(pkg-config --cflags libcjson 2>/dev/null) \
		-o "$bin/batch_probe" "$C_BATCH_PROBE" \
		$(pkg-config --libs libcjson 2>/dev/null || echo -lcjson) -lm \
		2>"$bin/batch_probe.err" || true
}

setup() {
	cd "$BATS_TEST_TMPDIR" || return 1
	T=$BATS_TEST_TMPDIR
	SPID=
	HOLD=
}

teardown() {
	[[ -n $HOLD ]] && exec {HOLD}>&-
	if [[ -n $SPID ]] && kill -0 "$SPID" 2>/dev/null; then
		kill -KILL "$SPID" 2>/dev/null || true
	fi
	return 0
}

# spool_t ARGS... : spool, killed if it runs past 30 s, so that a hang
# fails the test instead of stalling the suite.
spool_t() {
	timeout -k 2 30 "$SPOOL" "$@"
}

# start_fed ARGS... : spool run ARGS in the background, reading its tasks
# from the fifo "in" (held open on $HOLD: write tasks with >&"$HOLD"),
# writing out, err, and its exit status to rc when it ends.
start_fed() {
	mkfifo in
	(
		rc=0
		"$SPOOL" run "$@" <in >out 2>err || rc=$?
		echo "$rc" >rc
	) 3>&- &
	SPID=$!
	exec {HOLD}>in
}

# close_input : end of input for start_fed's spool.
close_input() {
	exec {HOLD}>&-
	HOLD=
}

# lines_at_least N FILE : FILE exists and has N lines or more.
lines_at_least() {
	[[ -f $2 ]] && (($(wc -l <"$2") >= $1))
}

# task X [JSON MEMBERS] : one task line {"x":X,...}.
task() {
	printf '{"x":%s%s}\n' "$1" "${2:+,$2}"
}

# batch_sizes LOG : the size of each batch rpc_batch.py logged, one a line.
batch_sizes() {
	awk '$1 == "batch" { print split($2, a, ",") }' "$1"
}

# in_batches LOG X : how many batches rpc_batch.py got with task X and
# other tasks in them.
in_batches() {
	awk -v x="$2" '$1 == "batch" { n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == x && n > 1) c++ } END { print c + 0 }' "$1"
}

# alone LOG X : how many times rpc_batch.py got task X with no other task
# (a single request, or a batch of one).
alone() {
	grep -cE "^(single|batch) $2\$" "$1" || true
}

# joblog_col FILE SEQ COL : column COL of the joblog row of task SEQ.
joblog_col() {
	awk -F'\t' -v s="$2" -v c="$3" 'NR > 1 && $1 == s { print $c }' "$1"
}

# The squares of 1..N as rpc_batch.py answers them, in order.
squares() {
	awk -v n="$1" 'BEGIN { for (i = 1; i <= n; i++) printf "{\"x\":%d,\"sq\":%d}\n", i, i * i }'
}

# ------------------------------------------------------------------ #
# A raw JSON-RPC worker: batches answered out of order                #

@test "raw worker answering each batch as one reversed array: every task once, in input order with -k" {
	seq_tasks 300 >tasks.ndjson
	run --separate-stderr spool_t run -k -j 2 -p spool --batch 8,0.01 \
		-c "$RPC --log $T/log" --joblog jl tasks.ndjson
	assert_success
	diff <(squares 300) <(printf '%s\n' "$output")
	# Batches formed, none over max_size, and the worker got every task
	# exactly once.
	local most
	most=$(batch_sizes log | sort -n | tail -1)
	((most > 1 && most <= 8)) || fail "largest batch: $most"
	[ "$(grep -c '^single' log)" -eq 0 ]
	diff <(awk '{ gsub(",", "\n", $2); print $2 }' log | sort -n) <(seq 300)
	# A joblog row per task, each done at its first attempt.
	[ "$(tail -n +2 jl | wc -l)" -eq 300 ]
	diff <(tail -n +2 jl | cut -f1 | sort -n) <(seq 300)
	[ "$(tail -n +2 jl | cut -f4,7 | sort -u)" = $'1\tok' ]
	assert_equal "$stderr" ""
}

@test "raw worker: answers in reverse come out in completion order without -k, each once" {
	seq_tasks 4 >tasks.ndjson
	run --separate-stderr spool_t run -j 1 -p spool --batch 4,10 -c "$RPC --log $T/log" tasks.ndjson
	assert_success
	# One batch of 4, answered as one array in reverse: written as read.
	assert_equal "$(cat log)" "batch 1,2,3,4"
	assert_equal "$(jq -c .x <<<"$output" | paste -sd' ')" "4 3 2 1"
}

@test "raw worker answering a batch a line per response, or one line then an array of the rest" {
	local mode
	for mode in --lines --mixed; do
		rm -f log
		seq_tasks 200 >tasks.ndjson
		run --separate-stderr spool_t run -k --tag -j 2 -p spool --batch 6,0.01 \
			-c "$RPC $mode --log $T/log" tasks.ndjson
		assert_success
		diff <(jq -c .seq <<<"$output") <(seq 200)
		diff <(jq -c .result <<<"$output") <(squares 200)
		(($(batch_sizes log | sort -n | tail -1) > 1)) || fail "$mode: no batch of more than one"
		assert_equal "$stderr" ""
	done
}

@test "--tag, --joblog and --failed stay per task: one task of a batch fails alone, its batch-mates succeed" {
	{
		task 1
		task 2 '"fail":"no such row"'
		task 3
		task 4
	} >tasks.ndjson
	run --separate-stderr spool_t run -k --tag -j 1 -p spool --batch 4,10 \
		-c "$RPC --log $T/log" --joblog jl --failed failed tasks.ndjson
	assert_failure 1
	assert_equal "$(cat log)" "batch 1,2,3,4"
	assert_equal "${lines[0]}" '{"seq":1,"result":{"x":1,"sq":1}}'
	assert_equal "${lines[1]}" '{"seq":2,"error":{"message":"error from rpc_batch.py#0: no such row","attempts":1,"worker":"rpc_batch.py#0"}}'
	assert_equal "${lines[2]}" '{"seq":3,"result":{"x":3,"sq":9}}'
	assert_equal "${lines[3]}" '{"seq":4,"result":{"x":4,"sq":16}}'
	assert_equal "$(cat failed)" '{"x":2,"fail":"no such row"}'
	assert_equal "$(tail -n +2 jl | cut -f1,2,4,7 | sort -n)" "$(printf '1\ttasks.ndjson:1\t1\tok\n2\ttasks.ndjson:2\t1\tfailed\n3\ttasks.ndjson:3\t1\tok\n4\ttasks.ndjson:4\t1\tok')"
	# An error answer is the task's own fault: not retried.
	[ "$(grep -c '^single' log)" -eq 0 ]
}

# ------------------------------------------------------------------ #
# The SDKs and a third-party JSON-RPC library                          #

@test "Python SDK: execute_batch's list answers each task; a TaskError item fails one, an exception the whole batch" {
	{
		task 1
		task 2 '"fail":"bad row"'
		task 3
		task 4
		task 5
		task 6 '"boom":"out of memory"'
		task 7
		task 8
		task 9
	} >tasks.ndjson
	# max_delay 10: the full batches (1-4, 5-8) go at once, the 9th at
	# end of input, whatever the timing.
	run --separate-stderr spool_t run -k --tag -j 1 -p spool --batch 4,10 \
		-c "$SDK_PY $T/log" --joblog jl tasks.ndjson
	assert_failure 1
	assert_equal "$(cat log)" $'batch 4\nbatch 4\nbatch 1'
	assert_equal "${lines[0]}" '{"seq":1,"result":{"x":1,"sq":1,"n":4}}'
	assert_equal "${lines[1]}" '{"seq":2,"error":{"message":"error from sdk_batch.py#0: bad row","attempts":1,"worker":"sdk_batch.py#0"}}'
	assert_equal "${lines[2]}" '{"seq":3,"result":{"x":3,"sq":9,"n":4}}'
	assert_equal "${lines[3]}" '{"seq":4,"result":{"x":4,"sq":16,"n":4}}'
	local i
	for i in 5 6 7 8; do
		assert_equal "${lines[i - 1]}" "{\"seq\":$i,\"error\":{\"message\":\"error from sdk_batch.py#0: RuntimeError: out of memory\",\"attempts\":1,\"worker\":\"sdk_batch.py#0\"}}"
	done
	assert_equal "${lines[8]}" '{"seq":9,"result":{"x":9,"sq":81,"n":1}}'
	[ "$(tail -n +2 jl | wc -l)" -eq 9 ]
	[ "$(tail -n +2 jl | cut -f4 | sort -u)" = 1 ]
	# The worker stayed up: failures are answers, not faults.
	[[ $stderr != *"exited"* && $stderr != *"protocol error"* ]] || fail "$stderr"
}

@test "Python SDK: many tasks on two batching workers, each once and in order" {
	seq_tasks 500 >tasks.ndjson
	run --separate-stderr spool_t run -k -j 2 -p spool --batch 16,0.005 -c "$SDK_PY $T/log" \
		--stats=st.json tasks.ndjson
	assert_success
	diff <(jq -c '{x, sq}' <<<"$output") <(squares 500)
	[ "$(jq '[.workers[].batch.max] | max' st.json)" -le 16 ]
	[ "$(jq '[.workers[].batch.max] | max' st.json)" -gt 1 ]
	[ "$(jq '[.workers[].batch.batches] | add' st.json)" -eq "$(grep -c '^batch' log)" ]
}

@test "C SDK: execute_batch answers a batch; spool_worker_fail_item fails one task, spool_worker_fail the batch" {
	[[ -x $BATS_FILE_TMPDIR/batch_probe ]] ||
		fail "sdk_batch_probe.c did not build: $(cat "$BATS_FILE_TMPDIR/batch_probe.err")"
	printf '%s\n' '{"x":1}' '{"fail":"bad row"}' '{"x":3}' '{"x":4}' \
		'{"x":5}' '{"all":"oom"}' '{"x":7}' '{"x":8}' '{"x":9}' >tasks.ndjson
	run --separate-stderr spool_t run -k --tag -j 1 -p spool --batch 4,10 \
		-c "$BATS_FILE_TMPDIR/batch_probe" tasks.ndjson
	assert_failure 1
	assert_equal "${lines[0]}" '{"seq":1,"result":{"x":1,"n":4,"via":"batch"}}'
	assert_equal "${lines[1]}" '{"seq":2,"error":{"message":"error from batch_probe#0: failed: bad row","attempts":1,"worker":"batch_probe#0"}}'
	assert_equal "${lines[2]}" '{"seq":3,"result":{"x":3,"n":4,"via":"batch"}}'
	assert_equal "${lines[3]}" '{"seq":4,"result":{"x":4,"n":4,"via":"batch"}}'
	local i
	for i in 5 6 7 8; do
		assert_equal "${lines[i - 1]}" "{\"seq\":$i,\"error\":{\"message\":\"error from batch_probe#0: the whole batch: oom\",\"attempts\":1,\"worker\":\"batch_probe#0\"}}"
	done
	# The last one alone at end of input: a batch of one.
	assert_equal "${lines[8]}" '{"seq":9,"result":{"x":9,"n":1,"via":"batch"}}'
}

@test "a worker on the npm json-rpc-2.0 library, which answers batches itself" {
	[[ -f $B/node_modules/json-rpc-2.0/package.json ]] ||
		fail "json-rpc-2.0 is not installed in $B/node_modules: run  sh tests/deps.sh test  (npm ci --prefix tests/fixtures/batch)"
	command -v node >/dev/null || fail "node is not installed: run  sh tests/deps.sh test"
	write_pool pool.json "{\"workers\": [{\"name\": \"rpc\", \"cmd\": [\"node\", \"$NODE_WORKER\"],
		\"protocol\": \"spool\", \"replicas\": 2, \"batch\": {\"max_size\": 10, \"max_delay\": 0.01}}]}"
	{
		seq_tasks 100
		task 101 '"fail":"not this one"'
		task 102 '"wait":50'
	} >tasks.ndjson
	run --separate-stderr spool_t run -k --tag -w pool.json --stats=st.json tasks.ndjson
	assert_failure 1
	diff <(jq -c .seq <<<"$output") <(seq 102)
	diff <(head -100 <<<"$output" | jq -c '.result | {x, sq}') <(squares 100)
	assert_equal "$(head -1 <<<"$output" | jq -c .result.lib)" '"json-rpc-2.0"'
	assert_equal "$(sed -n 101p <<<"$output" | jq -c '.error | {message, attempts}' | sed 's/rpc#[01]/rpc#N/')" \
		'{"message":"error from rpc#N: not this one","attempts":1}'
	assert_equal "$(sed -n 102p <<<"$output" | jq -c .result)" '{"x":102,"sq":10404,"lib":"json-rpc-2.0"}'
	# The library's own spawn answer, and batches of more than one.
	assert_equal "$(jq -c '[.workers[].spawn_result.lib] | unique' st.json)" '["json-rpc-2.0"]'
	[ "$(jq '[.workers[].batch.max] | max' st.json)" -gt 1 ]
	[ "$(jq '[.workers[].batch.max] | max' st.json)" -le 10 ]
	[[ $stderr != *"protocol error"* && $stderr != *"exited"* ]] || fail "$stderr"
}

# ------------------------------------------------------------------ #
# Poison: a death with a batch in flight                              #

@test "poison in a batch: only it fails, after 1 + retries attempts each alone; its batch-mates succeed at attempt 1" {
	{
		task 1
		task 2
		task 3 '"poison":1'
		task 4
		task 5
		task 6
		task 7
		task 8
	} >tasks.ndjson
	run --separate-stderr spool_t run -k -j 1 -r 2 -p spool --batch 4,10 \
		-c "$RPC --log $T/log" --joblog jl --failed failed tasks.ndjson
	assert_failure 1
	diff <(squares 8 | sed 3d) <(printf '%s\n' "$output")
	assert_equal "$(cat failed)" '{"x":3,"poison":1}'
	# The poison: 3 charged attempts (-r 2), and its death is named.
	assert_equal "$(joblog_col jl 3 4)" 3
	assert_equal "$(joblog_col jl 3 7)" failed
	[[ $(joblog_col jl 3 8) == *"exited with status 3"* ]] || fail "$(cat jl)"
	local s
	for s in 1 2 4 5 6 7 8; do
		assert_equal "$(joblog_col jl "$s" 4)/$(joblog_col jl "$s" 7)" "1/ok"
	done
	# It was in one batch (the one that died), then ran alone, three
	# times: never again with a batch-mate.
	assert_equal "$(in_batches log 3)" 1
	assert_equal "$(alone log 3)" 3
	[ "$(grep -c '^batch 1,2,3,4$' log)" -eq 1 ]
	[[ $stderr == *"spool: tasks.ndjson:3: failed after 3 attempts: worker rpc_batch.py#0 (pid "*") exited with status 3"* ]] ||
		fail "$stderr"
}

@test "poison in a batch with -r 0: one charged attempt, alone; two poisons in two batches cost nobody else" {
	{
		task 1 '"poison":1'
		task 2
		task 3
		task 4
		task 5
		task 6 '"poison":1'
		task 7
		task 8
	} >tasks.ndjson
	run --separate-stderr spool_t run -k --tag -j 2 -r 0 -p spool --batch 4,10 \
		-c "$RPC --log $T/log" --joblog jl tasks.ndjson
	assert_failure 1
	diff <(jq -c .seq <<<"$output") <(seq 8)
	assert_equal "$(jq -c 'select(.error) | [.seq, .error.attempts]' <<<"$output" | paste -sd' ')" "[1,1] [6,1]"
	assert_equal "$(jq -c 'select(.result) | .seq' <<<"$output" | paste -sd' ')" "2 3 4 5 7 8"
	[ "$(tail -n +2 jl | awk -F'\t' '$7 == "ok"' | cut -f4 | sort -u)" = 1 ]
	assert_equal "$(alone log 1)" 1
	assert_equal "$(alone log 6)" 1
}

# ------------------------------------------------------------------ #
# When a batch goes: full at once, partial at max_delay or at EOF     #

@test "end of input sends a partial batch at once: max_delay 10 does not hold the last tasks" {
	seq_tasks 5 >tasks.ndjson
	(
		rc=0
		"$SPOOL" run -j 1 -p spool --batch 32,10 -c "$RPC --log $T/log" tasks.ndjson >out 2>err || rc=$?
		echo "$rc" >rc
	) 3>&- &
	SPID=$!
	wait_for 5 test -s rc
	assert_equal "$(cat rc)" 0
	assert_equal "$(sort -n <(jq -c .x out) | paste -sd' ')" "1 2 3 4 5"
	assert_equal "$(cat log)" "batch 1,2,3,4,5"
}

@test "end of input on a pipe sends the held batch at once, the pipe's writer closing it" {
	start_fed -j 1 -p spool --batch 32,30 -c "$RPC --log $T/log"
	task 1 >&"$HOLD"
	task 2 >&"$HOLD"
	close_input
	wait_for 5 test -s rc
	assert_equal "$(cat rc)" 0
	assert_equal "$(sort -n <(jq -c .x out) | paste -sd' ')" "1 2"
}

@test "a full batch goes at once; a partial one is held for more (max_delay 30, tasks fed one by one)" {
	start_fed -j 1 -p spool --batch 3,30 -c "$RPC --log $T/log --ready $T/up"
	# The worker is up: tasks queued while it starts would make a batch
	# by themselves.
	wait_for 5 test -e up
	local i
	# The tasks come one at a time, as from a slow producer.
	for i in 1 2 3; do
		task "$i" >&"$HOLD"
		sleep 0.2
	done
	# Full at 3: sent long before max_delay, input still open.
	wait_for 5 lines_at_least 3 out
	assert_equal "$(cat log)" "batch 1,2,3"
	close_input
	wait_for 5 test -s rc
	assert_equal "$(cat rc)" 0
}

@test "a partial batch goes once max_delay has passed, input still open" {
	start_fed -j 1 -p spool --batch 32,0.5 -c "$RPC --log $T/log"
	task 1 >&"$HOLD"
	wait_for 5 lines_at_least 1 out
	assert_equal "$(cat out)" '{"x":1,"sq":1}'
	task 2 >&"$HOLD"
	wait_for 5 lines_at_least 2 out
	assert_equal "$(cat log)" $'batch 1\nbatch 2'
	close_input
	wait_for 5 test -s rc
}

@test "tasks fed slowly, max_delay 0.5: batches of more than one form" {
	start_fed -j 1 -p spool --batch 32,0.5 -c "$RPC --log $T/log --ready $T/up"
	# The worker is up: tasks queued while it starts would make a batch
	# by themselves.
	wait_for 5 test -e up
	local i
	for i in $(seq 8); do
		task "$i" >&"$HOLD"
		sleep 0.1
	done
	wait_for 10 lines_at_least 8 out
	close_input
	wait_for 5 test -s rc
	assert_equal "$(cat rc)" 0
	# Every task once, and some batch held several.
	diff <(awk '{ gsub(",", "\n", $2); print $2 }' log | sort -n) <(seq 8)
	(($(batch_sizes log | sort -n | tail -1) > 1)) || fail "batches: $(cat log)"
}

@test "max_delay 0: tasks go as they come, each answered before the next is written" {
	start_fed -j 1 -p spool --batch 32,0 -c "$RPC --log $T/log"
	local i
	for i in 1 2 3 4; do
		task "$i" >&"$HOLD"
		wait_for 5 lines_at_least "$i" out
	done
	assert_equal "$(cat log)" $'batch 1\nbatch 2\nbatch 3\nbatch 4'
	close_input
	wait_for 5 test -s rc
	assert_equal "$(cat rc)" 0
}

@test "--batch N alone (no DELAY) holds nothing" {
	start_fed -j 1 -p spool --batch 32 -c "$RPC --log $T/log"
	task 1 >&"$HOLD"
	wait_for 5 lines_at_least 1 out
	task 2 >&"$HOLD"
	wait_for 5 lines_at_least 2 out
	close_input
	wait_for 5 test -s rc
}

@test "inflight counts batches for a batching worker: 2 by default, or as set" {
	# --hold K answers nothing until K batches are in flight on it.
	seq_tasks 4 >tasks.ndjson
	run --separate-stderr spool_t run -k -j 1 -p spool --batch 2,10 -c "$RPC --hold 2" tasks.ndjson
	assert_success
	diff <(squares 4) <(printf '%s\n' "$output")
	seq_tasks 6 >tasks.ndjson
	write_pool pool.json "{\"workers\": [{\"cmd\": [\"$RPC\", \"--hold\", \"3\"], \"protocol\": \"spool\",
		\"inflight\": 3, \"batch\": {\"max_size\": 2, \"max_delay\": 10}}]}"
	run --separate-stderr spool_t run -k -w pool.json tasks.ndjson
	assert_success
	diff <(squares 6) <(printf '%s\n' "$output")
	run --separate-stderr spool_t run -k -j 1 --inflight 3 -p spool --batch 2,10 -c "$RPC --hold 3" tasks.ndjson
	assert_success
	diff <(squares 6) <(printf '%s\n' "$output")
}

# ------------------------------------------------------------------ #
# Broken batch answers                                                #

@test "a batch answered wrongly is a protocol error, named; the worker is restarted and every task still runs once" {
	local bad want
	for bad in short unknown empty merge; do
		case $bad in
		short) want="protocol error: 1 answers for a batch of 2 tasks" ;;
		unknown) want="protocol error: unknown id 999999 in a batch" ;;
		empty) want="protocol error: an empty batch answer; it wrote: []" ;;
		merge) want="protocol error: answers to several batches in one line" ;;
		esac
		rm -f log jl
		{
			task 1 "\"bad\":\"$bad\""
			task 2
			task 3
			task 4
		} >tasks.ndjson
		# -r 0: a task charged for the broken answer would fail.
		run --separate-stderr spool_t run -k -j 1 -r 0 -p spool --batch 2,10 \
			-c "$RPC --log $T/log" --joblog jl tasks.ndjson
		[ "$status" -eq 0 ] || fail "$bad: exit $status: $stderr"
		[[ $stderr == *"spool: worker rpc_batch.py#0 (pid "*") stopped: $want"* ]] ||
			fail "$bad: expected \"$want\" in: $stderr"
		diff <(squares 4) <(printf '%s\n' "$output")
		[ "$(tail -n +2 jl | cut -f4,7 | sort -u)" = $'1\tok' ]
		# Restarted, and the suspects ran alone.
		[ "$(grep -c '^single' log)" -eq 4 ] || fail "$bad: $(cat log)"
	done
}

# ------------------------------------------------------------------ #
# Timeouts with a batch in flight                                     #

@test "a timeout with a batch in flight: the batch's tasks run again alone; only the slow one is charged" {
	{
		task 1
		task 2 '"sleep":30'
		task 3
	} >tasks.ndjson
	run --separate-stderr spool_t run -k -j 1 -r 1 -t 1 -p spool --batch 3,10 \
		-c "$RPC --log $T/log" --joblog jl tasks.ndjson
	assert_failure 1
	diff <(squares 3 | sed 2d) <(printf '%s\n' "$output")
	assert_equal "$(joblog_col jl 2 4)/$(joblog_col jl 2 7)" "2/failed"
	[[ $(joblog_col jl 2 8) == *"timed out after 1s"* ]] || fail "$(cat jl)"
	# Its batch-mates were not charged for its timeout.
	assert_equal "$(joblog_col jl 1 4)/$(joblog_col jl 1 7)" "1/ok"
	assert_equal "$(joblog_col jl 3 4)/$(joblog_col jl 3 7)" "1/ok"
	# One batch, then each alone, each with its own clock (SPEC 11): the
	# slow one timed out twice alone, never again with a batch-mate.
	assert_equal "$(head -1 log)" "batch 1,2,3"
	assert_equal "$(in_batches log 2)/$(alone log 2)" "1/2"
	assert_equal "$(alone log 1)/$(alone log 3)" "1/1"
}

@test "a timeout's clock is per batch: a batch behind another on its worker is timed from when that one is answered" {
	# Two batches of two go at once (inflight 2); the worker takes 1 s
	# for each, one after the other.  The second is answered 2 s after
	# it was sent but 1 s after the first: under -t 1.6 neither times out.
	{
		task 1 '"sleep":1'
		task 2
		task 3 '"sleep":1'
		task 4
	} >tasks.ndjson
	run --separate-stderr spool_t run -k -j 1 -r 0 -t 1.6 -p spool --batch 2,10 \
		-c "$RPC --log $T/log" tasks.ndjson
	assert_success
	assert_equal "$(cat log)" $'batch 1,2\nbatch 3,4'
	[[ $stderr != *"timed out"* ]] || fail "$stderr"
}

# ------------------------------------------------------------------ #
# --stats                                                             #

@test "--stats: batches per worker (count, mean, max) and how long tasks waited to be batched" {
	seq_tasks 12 >tasks.ndjson
	run --separate-stderr spool_t run -j 1 -p spool --batch 4,10 -c "$RPC" --stats=st.json tasks.ndjson
	assert_success
	assert_equal "$(jq -c '.workers[0].batch' st.json)" '{"batches":3,"mean":4,"max":4}'
	assert_equal "$(jq -c '.tasks | [.read, .ok, .failed, .retried]' st.json)" "[12,12,0,0]"
	jq -e '.batch_wait_s | (.p50 | type == "number" and . >= 0) and (.p99 >= .p50) and (keys == ["p50", "p99"])' st.json >/dev/null ||
		fail "batch_wait_s: $(jq -c .batch_wait_s st.json)"
	# The text summary on stderr, with or without a file.
	run --separate-stderr spool_t run -j 1 -p spool --batch 4,10 -c "$RPC" --stats tasks.ndjson
	assert_success
	[[ $stderr =~ (^|$'\n')"spool: batches waited p50 "[0-9.]+[mun]?s"  p99 "[0-9.]+[mun]?s($'\n'|$) ]] || fail "$stderr"
	[[ $stderr == *$'\n'"spool: rpc_batch.py#0: 3 batches, mean 4.0, max 4 tasks"$'\n'* ]] || fail "$stderr"
}

@test "--stats without batching has no batch fields" {
	seq_tasks 3 >tasks.ndjson
	run --separate-stderr spool_t run -j 1 -p spool -c "$RPC" --stats=st.json tasks.ndjson
	assert_success
	assert_equal "$(jq -c '[has("batch_wait_s"), (.workers[0] | has("batch"))]' st.json)" "[false,false]"
	run --separate-stderr spool_t run -j 1 -p spool -c "$RPC" --stats tasks.ndjson
	assert_success
	[[ $stderr == *"spool: worker "* && $stderr != *"batches"* ]] || fail "$stderr"
}

# ------------------------------------------------------------------ #
# spool serve as a batching pool's worker                             #

@test "spool serve as one worker of a batching pool: the outer sends batches, the inner answers a line each" {
	local inner
	for inner in "" "--batch 4,0.002"; do
		rm -f log
		# shellcheck disable=SC2086
		write_pool pool.json "{\"workers\": [{\"name\": \"node\", \"protocol\": \"spool\",
			\"cmd\": [\"$SPOOL\", \"serve\", \"-j\", \"2\", \"-p\", \"spool\", $(
			[[ -n $inner ]] && printf '"%s", "%s", ' $inner
		)\"-c\", \"$RPC --log $T/log\"],
			\"batch\": {\"max_size\": 16, \"max_delay\": 0.01}}]}"
		seq_tasks 300 >tasks.ndjson
		run --separate-stderr spool_t run -k --tag -w pool.json --stats=st.json tasks.ndjson
		[ "$status" -eq 0 ] || fail "inner '$inner': exit $status: $stderr"
		diff <(jq -c .seq <<<"$output") <(seq 300)
		diff <(jq -c .result <<<"$output") <(squares 300)
		# The outer batched; the inner's workers got every task once.
		[ "$(jq '.workers[0].batch.max' st.json)" -gt 1 ]
		diff <(awk '{ gsub(",", "\n", $2); print $2 }' log | sort -n) <(seq 300)
		[[ $stderr != *"protocol error"* ]] || fail "$stderr"
	done
}

@test "spool serve as a pool's worker: its spawn result gives every inner worker's own result" {
	write_pool pool.json "{\"workers\": [{\"name\": \"node\", \"protocol\": \"spool\",
		\"cmd\": [\"$SPOOL\", \"serve\", \"-j\", \"2\", \"-p\", \"spool\", \"-c\", \"$RPC\"],
		\"batch\": {\"max_size\": 4, \"max_delay\": 0.01}}]}"
	seq_tasks 4 >tasks.ndjson
	run --separate-stderr spool_t run -w pool.json --stats=st.json tasks.ndjson
	assert_success
	# rpc_batch.py answers spawn with its pid: none may be lost.
	assert_equal "$(jq -c '.workers[0].spawn_result | map(.worker)' st.json)" '["rpc_batch.py#0","rpc_batch.py#1"]'
	assert_equal "$(jq -c '.workers[0].spawn_result | map(.result.pid | type)' st.json)" '["number","number"]'
}

# ------------------------------------------------------------------ #
# --batch and "batch": what is accepted, what is refused              #

@test "--batch N and N,DELAY are accepted for -c -p spool (run, serve, check)" {
	seq_tasks 3 >tasks.ndjson
	local b
	for b in 1 32 32,0.005 2,0 100000 8,1.5; do
		run --separate-stderr spool_t run -k -j 1 -p spool --batch "$b" -c "$RPC" tasks.ndjson
		[ "$status" -eq 0 ] || fail "--batch $b: exit $status: $stderr"
		diff <(squares 3) <(printf '%s\n' "$output")
	done
	run --separate-stderr spool_t check -j 1 -p spool --batch 4,0.1 -c "$RPC"
	assert_success
	run --separate-stderr spool_t serve -j 1 -p spool --batch 4,0.1 -c "$RPC" < <(
		echo '{"jsonrpc":"2.0","id":1,"method":"execute","params":[{"x":7}]}'
	)
	assert_success
	assert_equal "$output" '{"jsonrpc":"2.0","id":1,"result":{"x":7,"sq":49}}'
}

@test "--batch refused: without -p spool, with -w, and malformed, each said with what to do" {
	local arg
	for arg in 0 -1 x 4,x 4,-1 '' '4,' ,1 4,0.5,1 100001; do
		run --separate-stderr spool run -p spool --batch "$arg" -c "$RPC" </dev/null
		assert_failure 2
		assert_equal "${stderr%%$'\n'*}" "spool: --batch: expected N or N,DELAY (the most tasks a batch, and seconds to wait for it to fill), like 32 or 32,0.005; got \"$arg\""
	done
	run --separate-stderr spool run --batch 4 -c "$RPC" </dev/null
	assert_failure 2
	assert_equal "${stderr%%$'\n'*}" "spool: --batch needs -p spool (a batch is a JSON-RPC array of requests)"
	run --separate-stderr spool run -p lines --batch 4 -c "$RPC" </dev/null
	assert_failure 2
	[[ $stderr == "spool: --batch needs -p spool"* ]] || fail "$stderr"
	write_pool pool.json "{\"workers\": [{\"cmd\": [\"$RPC\"], \"protocol\": \"spool\"}]}"
	run --separate-stderr spool run -w pool.json --batch 4 </dev/null
	assert_failure 2
	[[ $stderr == 'spool: --batch is for -c; with -w, set "batch" in the pool config'* ]] || fail "$stderr"
}

@test "\"batch\" in a config: bad values named by place; refused for the lines protocol" {
	local b want
	while IFS='|' read -r b want; do
		write_pool pool.json "{\"workers\": [{\"cmd\": [\"$RPC\"], \"protocol\": \"spool\"},
			{\"cmd\": [\"$RPC\"], \"protocol\": \"spool\", \"batch\": $b}]}"
		run --separate-stderr spool run -w pool.json </dev/null
		assert_failure 2
		assert_equal "$stderr" "spool: pool.json: workers[1].batch$want"
	done <<-'EOF'
	{"max_size": 0}|.max_size: expected an integer from 1 to 100000, got 0
	{"max_size": 100001}|.max_size: expected an integer from 1 to 100000, got 100001
	{"max_size": "4"}|.max_size: expected an integer from 1 to 100000, got "4"
	{"max_size": 4.5}|.max_size: expected an integer from 1 to 100000, got 4.5
	{"max_delay": 0.1}|.max_size: missing (the most tasks in one batch)
	{"max_size": 4, "max_delay": -1}|.max_delay: expected a number of seconds >= 0 (0 means none), got -1
	{"max_size": 4, "max_delay": "5ms"}|.max_delay: expected a number of seconds >= 0 (0 means none), got "5ms"
	{"max_size": 4, "delay": 1}|.delay: unknown key (known: max_size, max_delay)
	32|: expected an object: {"max_size": 32, "max_delay": 0.005}, got 32
	EOF
	local proto
	for proto in '' ', "protocol": "lines"'; do
		write_pool pool.json "{\"workers\": [{\"cmd\": [\"$RPC\"]$proto, \"batch\": {\"max_size\": 4}}]}"
		run --separate-stderr spool check -w pool.json
		assert_failure 2
		assert_equal "$stderr" 'spool: pool.json: workers[0].batch: only for the spool protocol (a batch is a JSON-RPC array of requests): set "protocol": "spool"'
	done
}
