#!/usr/bin/env bats
# check.bats - spool check -w POOL: spawn every worker once, print one line
# per worker (label, pid, spawn time, spawn result or the failure with its
# stderr tail), shut down; exit 0 all up, 1 some failed, 3 none.

bats_require_minimum_version 1.5.0
load test_helper

RPC="$FIXTURES/protocol/rpc_worker.py"

setup() {
	cd "$BATS_TEST_TMPDIR" || return 1
}

# A spool-protocol spec for rpc_worker.py: spec NAME [MEMBERS] [ARG...]
spec() {
	local name=$1 members=${2:-}
	shift 2 || shift $#
	local argv
	argv=$(python3 -c 'import json, sys; print(json.dumps(sys.argv[1:]))' \
		python3 "$RPC" "$@")
	printf '{"name": "%s", "cmd": %s, "protocol": "spool"%s}' \
		"$name" "$argv" "${members:+, $members}"
}

@test "one line per worker: label, pid, spawn time, spawn result; exit 0" {
	write_pool pool.json "{\"workers\": [
		$(spec embed '"spawn": {"gpu_ids": [0, 1]}'),
		$(spec embed '"spawn": {"gpu_ids": [2, 3]}'),
		$(spec tok '"replicas": 2, "spawn": ["fast"]')]}"
	run --separate-stderr spool check -w pool.json
	assert_success
	assert_equal "${#lines[@]}" 4
	local i re pid
	for i in 0 1 2 3; do
		re=$'^([a-z]+#[0-9])\tpid ([0-9]+)\tready in [0-9][0-9hmsu.]*\t(.*)$'
		[[ ${lines[i]} =~ $re ]] || fail "bad line: ${lines[i]}"
		pid=${BASH_REMATCH[2]}
		# The result is the worker's own answer: it names its pid.
		assert_equal "$(jq .pid <<<"${BASH_REMATCH[3]}")" "$pid"
	done
	[[ ${lines[0]} == embed#0$'\t'*'"params":{"gpu_ids":[0,1]}}' ]] || fail "${lines[0]}"
	[[ ${lines[1]} == embed#1$'\t'*'"params":{"gpu_ids":[2,3]}}' ]] || fail "${lines[1]}"
	[[ ${lines[2]} == tok#0$'\t'*'"params":["fast"]}' ]] || fail "${lines[2]}"
	[[ ${lines[3]} == tok#1$'\t'*'"params":["fast"]}' ]] || fail "${lines[3]}"
	# The pool is shut down: no worker outlives check.
	for i in 0 1 2 3; do
		pid=$(sed -E 's/.*\tpid ([0-9]+)\t.*/\1/' <<<"${lines[i]}")
		! pid_alive "$pid" || fail "worker pid $pid still running"
	done
}

@test "check sends no tasks and reads no input" {
	write_pool pool.json "{\"workers\": [$(spec rpc)]}"
	export RPC_LOG=$BATS_TEST_TMPDIR/log
	run --separate-stderr spool check -w pool.json < <(seq_tasks 5)
	assert_success
	assert_equal "$(wc -l <"$RPC_LOG")" 1
	grep -q '"method":"spawn"' "$RPC_LOG"
}

@test "exit 1 when some workers fail to spawn; the failure is explained" {
	write_pool pool.json "{\"workers\": [
		$(spec good),
		$(spec bad '' --spawn-error 'model file missing')]}"
	run --separate-stderr spool check -w pool.json
	assert_failure 1
	assert_line --index 0 --regexp $'^good#0\tpid [0-9]+\tready in '
	assert_line --index 1 --regexp $'^bad#0\tpid [0-9]+\tFAILED: spawn failed: model file missing'
	# Its stderr tail, after the line.
	assert_output --partial 'rpc_worker: refusing to spawn'
	assert_equal "$(grep -c $'\tpid ' <<<"$output")" 2
}

@test "exit 3 when no worker comes up" {
	write_pool pool.json "{\"workers\": [
		$(spec bad '"replicas": 2' --spawn-error 'no'),
		{\"name\": \"gone\", \"cmd\": [\"sh\", \"-c\", \"exit 7\"], \"protocol\": \"spool\"}]}"
	run --separate-stderr spool check -w pool.json
	assert_failure 3
	local summary
	summary=$(grep $'\tpid ' <<<"$output")
	assert_equal "$(wc -l <<<"$summary")" 3
	assert_line --regexp $'^bad#0\tpid [0-9]+\tFAILED: spawn failed: no'
	assert_line --regexp $'^bad#1\tpid [0-9]+\tFAILED: spawn failed: no'
	assert_line --regexp $'^gone#0\tpid [0-9]+\tFAILED: .*exited with status 7'
}

@test "a command that cannot be run fails check" {
	write_pool pool.json '{"workers": [{"cmd": ["/nonexistent/worker"]}]}'
	run --separate-stderr spool check -w pool.json
	assert_failure 3
	assert_output --regexp $'^worker#0\tpid [0-9]+\tFAILED: '
}

@test "a lines worker with ready: line reports its first line" {
	write_pool pool.json '{"workers": [
		{"name": "js", "cmd": ["sh", "-c", "echo \"{\\\"model\\\": \\\"m1\\\",  \\\"dim\\\": [1, 2]}\"; exec cat"], "ready": "line"},
		{"name": "txt", "cmd": ["sh", "-c", "echo warmed up in 3 steps; exec cat"], "ready": "line"}]}'
	run --separate-stderr spool check -w pool.json
	assert_success
	# JSON compacted; anything else as a JSON string.
	assert_line --index 0 --regexp $'^js#0\tpid [0-9]+\tready in [0-9][0-9hmsu.]*\t\\{"model":"m1","dim":\\[1,2\\]\\}$'
	assert_line --index 1 --regexp $'^txt#0\tpid [0-9]+\tready in [0-9][0-9hmsu.]*\t"warmed up in 3 steps"$'
}

@test "a lines worker without ready: line is up at once, no result" {
	write_pool pool.json '{"workers": [{"name": "cat", "cmd": ["cat"], "replicas": 2}]}'
	run --separate-stderr spool check -w pool.json
	assert_success
	assert_line --index 0 --regexp $'^cat#0\tpid [0-9]+\tready in [0-9][0-9hmsu.]*$'
	assert_line --index 1 --regexp $'^cat#1\tpid [0-9]+\tready in [0-9][0-9hmsu.]*$'
}

@test "a ready: line worker that exits before its line fails, with its stderr tail" {
	write_pool pool.json '{"workers": [
		{"name": "ok", "cmd": ["sh", "-c", "echo ready; exec cat"], "ready": "line"},
		{"name": "crash", "cmd": ["sh", "-c", "echo loading >&2; echo CUDA out of memory >&2; exit 4"], "ready": "line"}]}'
	run --separate-stderr spool check -w pool.json
	assert_failure 1
	assert_line --index 0 --regexp $'^ok#0\tpid [0-9]+\tready in .*\t"ready"$'
	assert_line --index 1 --regexp $'^crash#0\tpid [0-9]+\tFAILED: .*exited with status 4'
	assert_line --index 1 --partial 'its last stderr lines:'
	assert_line --index 2 --partial 'loading'
	assert_line --index 3 --partial 'CUDA out of memory'
}

@test "a worker that never answers spawn fails after startup_timeout" {
	write_pool pool.json '{"workers": [
		{"name": "mute", "cmd": ["sh", "-c", "echo waiting >&2; exec sleep 30"], "protocol": "spool", "startup_timeout": 0.3}]}'
	run --separate-stderr spool check -w pool.json
	assert_failure 3
	assert_output --regexp $'^mute#0\tpid [0-9]+\tFAILED: .*not ready after 0.3s'
	assert_output --partial 'waiting'
	local pid
	pid=$(sed -E 's/.*\tpid ([0-9]+)\t.*/\1/' <<<"$output")
	! pid_alive "$pid" || fail "the mute worker $pid was left running"
}

@test "check of a bad config exits 2 and spawns nothing" {
	write_pool pool.json '{"workers": [{"cmd": ["cat"], "replicas": "two"}]}'
	run --separate-stderr spool check -w pool.json
	assert_failure 2
	assert_output ''
	[[ $stderr == *"workers[0].replicas"* ]] || fail "stderr: $stderr"
}

@test "a worker whose ready line comes after startup_timeout is not reported up" {
	# It ignores SIGTERM, so it is still there to write its line after
	# the timeout: that late line must not count.
	write_pool pool.json '{"workers": [{"name": "late", "ready": "line", "startup_timeout": 0.3,
		"cmd": ["sh", "-c", "trap \"\" TERM; until [ -e '"$PWD"'/gate ]; do sleep 0.05; done; echo ready; exec sleep 30"]}]}'
	"$SPOOL" check -w pool.json >out 2>err 3>&- &
	local pid=$!
	# Open the gate once spool has given up waiting (it sent SIGTERM).
	wait_for 30 grep -q 'not ready after 0.3s' out err
	touch gate
	local rc=0
	wait "$pid" || rc=$?
	[ "$rc" -eq 3 ] || fail "check exited $rc, not 3"
	grep -q $'^late#0\tpid [0-9]*\tFAILED: .*not ready after 0.3s' out
}
