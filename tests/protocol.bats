#!/usr/bin/env bats
# protocol.bats - the spool protocol on the wire (SPEC 4.2): the exact bytes
# a worker receives, how its answers are read, error answers, out-of-order
# answers, and protocol errors.  The worker is a raw JSON-RPC program
# (tests/fixtures/protocol/rpc_worker.py) that logs every byte it reads.

bats_require_minimum_version 1.5.0
load test_helper

RPC="$FIXTURES/protocol/rpc_worker.py"

setup() {
	cd "$BATS_TEST_TMPDIR" || return 1
	export RPC_LOG="$BATS_TEST_TMPDIR/log"
	export RPC_STATE="$BATS_TEST_TMPDIR/state"
	mkdir -p "$RPC_STATE"
}

# rpc_pool FILE MEMBERS [ARG...] : a pool of one spool-protocol worker named
# "rpc" running rpc_worker.py ARG...; MEMBERS (JSON object members, may be
# empty) are added to its spec.
rpc_pool() {
	local file=$1 members=$2
	shift 2
	local argv
	argv=$(python3 -c 'import json, sys; print(json.dumps(sys.argv[1:]))' \
		python3 "$RPC" "$@")
	write_pool "$file" "{\"workers\": [{\"name\": \"rpc\", \"cmd\": $argv,
		\"protocol\": \"spool\"${members:+, $members}}]}"
}

# The lines of the worker's input log that are execute requests for id N.
executes_of() {
	grep -c "^{\"jsonrpc\":\"2.0\",\"id\":$1,\"method\":\"execute\"" "$RPC_LOG"
}

# ------------------------------------------------------------------------
# What the worker receives.

@test "spawn request: exact bytes, the spawn value compact" {
	rpc_pool pool.json '"spawn": {"gpu_ids": [0, 1],  "name": "a  b", "u": "é\t"}'
	run spool check -w pool.json
	assert_success
	printf '%s\n' '{"jsonrpc":"2.0","id":0,"method":"spawn","params":{"gpu_ids":[0,1],"name":"a  b","u":"é\t"}}' >want
	cmp want "$RPC_LOG"
}

@test "spawn request: params {} when the spec has no spawn" {
	rpc_pool pool.json ''
	run spool check -w pool.json
	assert_success
	printf '%s\n' '{"jsonrpc":"2.0","id":0,"method":"spawn","params":{}}' >want
	cmp want "$RPC_LOG"
}

@test "spawn request: an array is sent as positional params" {
	rpc_pool pool.json '"spawn": [[0, 1], "small", {"k": null}]'
	run spool check -w pool.json
	assert_success
	printf '%s\n' '{"jsonrpc":"2.0","id":0,"method":"spawn","params":[[0,1],"small",{"k":null}]}' >want
	cmp want "$RPC_LOG"
	# The spawn result is reported as the worker sent it.
	assert_output --partial '"params":[[0,1],"small",{"k":null}]'
}

@test "spawn request: numbers in the spawn value keep their exact text" {
	# 1.0 must stay a float for a Python spawn(lr=1.0), and a 20-digit seed
	# must not lose digits: compacting removes whitespace, nothing else.
	rpc_pool pool.json '"spawn": {"lr": 1.0, "seed": 12345678901234567890, "eps": 1e-7}'
	run spool check -w pool.json
	assert_success
	printf '%s\n' '{"jsonrpc":"2.0","id":0,"method":"spawn","params":{"lr":1.0,"seed":12345678901234567890,"eps":1e-7}}' >want
	cmp want "$RPC_LOG"
}

@test "spawn of a type other than object or array is a config error" {
	local v
	for v in '"gpu0"' 5 true null; do
		rpc_pool pool.json "\"spawn\": $v"
		run --separate-stderr spool run -w pool.json </dev/null
		assert_failure 2
		assert_output ''
		[[ $stderr == *"workers[0].spawn"* ]] || fail "no place in: $stderr"
		[[ $stderr == *"expected an object"* ]] || fail "no reason in: $stderr"
		[[ ! -e $RPC_LOG ]] || fail "a worker was started for spawn $v"
	done
}

@test "execute requests: ids count from 1, the task spliced in verbatim" {
	rpc_pool pool.json '"inflight": 1'
	cat >tasks <<-'EOF'
	{"a": 1.0,  "big": 12345678901234567890, "s": "x  y\u00e9", "u": "é"}
	[1, [2, 3]]

	"just a string"
	-0.5e+10
	null
	EOF
	printf '{"crlf": true}\r\n' >>tasks
	run --separate-stderr spool run -k -w pool.json tasks
	assert_success
	{
		printf '%s\n' '{"jsonrpc":"2.0","id":0,"method":"spawn","params":{}}'
		printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"execute","params":[{"a": 1.0,  "big": 12345678901234567890, "s": "x  y\u00e9", "u": "é"}]}'
		printf '%s\n' '{"jsonrpc":"2.0","id":2,"method":"execute","params":[[1, [2, 3]]]}'
		printf '%s\n' '{"jsonrpc":"2.0","id":3,"method":"execute","params":["just a string"]}'
		printf '%s\n' '{"jsonrpc":"2.0","id":4,"method":"execute","params":[-0.5e+10]}'
		printf '%s\n' '{"jsonrpc":"2.0","id":5,"method":"execute","params":[null]}'
		printf '%s\n' '{"jsonrpc":"2.0","id":6,"method":"execute","params":[{"crlf": true}]}'
	} >want
	diff want "$RPC_LOG"
}

@test "results are written as compact one-line JSON" {
	# rpc_worker answers with json.dumps' spaces: {"x": 1, ...}.
	rpc_pool pool.json ''
	cat >tasks <<-'EOF'
	{"x":1,"s":"a  b: c, d","n":[1.0,{"k":[]}]}
	{"x":2,"e":"tab\there","u":"é"}
	EOF
	run --separate-stderr spool run -k -w pool.json tasks
	assert_success
	local pid
	pid=$(jq -r .pid <<<"${lines[0]}")
	assert_equal "${#lines[@]}" 2
	assert_equal "${lines[0]}" "{\"x\":1,\"s\":\"a  b: c, d\",\"n\":[1.0,{\"k\":[]}],\"pid\":$pid}"
	assert_equal "${lines[1]}" "{\"x\":2,\"e\":\"tab\\there\",\"u\":\"\\u00e9\",\"pid\":$pid}"
}

@test "a result over 1 MiB does not stall the run when the window is full" {
	# The window (-q 1) is full while the big result is written; the rest
	# of the input must still be read afterwards.
	rpc_pool pool.json ''
	python3 -c 'print("{\"pad\":\"" + "z" * (2 << 20) + "\"}")' >tasks
	seq_tasks 3 >>tasks
	# stdout a regular file: the big result is written at once, so no
	# output event follows it.
	timeout 10 "$SPOOL" run -q 1 -w pool.json tasks >out 2>err ||
		fail "exit $? after $(wc -l <out) lines: $(cat err)"
	assert_equal "$(wc -l <out)" 4
	assert_equal "$(jq -c '.x // "pad"' out | paste -sd' ')" '"pad" 1 2 3'
}

# ------------------------------------------------------------------------
# Error answers.

@test "an error answer fails that task only, once, and the worker goes on" {
	rpc_pool pool.json ''
	printf '%s\n' '{"x":1}' '{"fail":"boom"}' '{"x":3}' '{"fail":"bang","data":"more"}' '{"x":5}' >tasks
	run --separate-stderr spool run -k -r 5 --failed failed.ndjson -w pool.json tasks
	assert_failure 1
	assert_equal "${#lines[@]}" 3
	assert_equal "$(jq -c .x <<<"$output" | paste -sd' ')" "1 3 5"
	# One process served every task, before and after the failures.
	assert_equal "$(jq .pid <<<"$output" | sort -u | wc -l)" 1
	assert_equal "$(grep -c '"method":"spawn"' "$RPC_LOG")" 1
	# Not retried, although -r 5 allows it: the task itself was at fault.
	assert_equal "$(executes_of 2)" 1
	assert_equal "$(executes_of 4)" 1
	[[ $stderr == *"tasks:2: error from rpc#0: boom"* ]] || fail "stderr: $stderr"
	[[ $stderr == *"tasks:4: error from rpc#0: bang: more"* ]] || fail "stderr: $stderr"
	[[ $stderr != *"protocol error"* ]] || fail "stderr: $stderr"
	printf '%s\n' '{"fail":"boom"}' '{"fail":"bang","data":"more"}' >want
	diff want failed.ndjson
}

@test "a worker whose every task fails is not given up" {
	rpc_pool pool.json ''
	for i in $(seq 20); do printf '{"fail":"no %d"}\n' "$i"; done >tasks
	printf '{"x":21}\n' >>tasks
	run --separate-stderr spool run -k -w pool.json tasks
	assert_failure 1
	assert_equal "$output" "$(jq -c . <<<"{\"x\":21,\"pid\":$(jq .pid <<<"$output")}")"
	assert_equal "$(grep -c '"method":"spawn"' "$RPC_LOG")" 1
	[[ $stderr != *"giving up"* ]] || fail "stderr: $stderr"
	assert_equal "$(grep -c 'error from rpc#0: no ' <<<"$stderr")" 20
}

@test "--tag: results and error envelopes, one line per task" {
	rpc_pool pool.json ''
	printf '%s\n' '{"x":1}' '{"fail":"boom","data":{"code":7}}' '{"x":3}' >tasks
	run --separate-stderr spool run -k --tag -w pool.json tasks
	assert_failure 1
	assert_equal "${#lines[@]}" 3
	local pid
	pid=$(jq .result.pid <<<"${lines[0]}")
	assert_equal "${lines[0]}" "{\"seq\":1,\"result\":{\"x\":1,\"pid\":$pid}}"
	assert_equal "$(jq -c . <<<"${lines[1]}")" \
		'{"seq":2,"error":{"message":"error from rpc#0: boom","attempts":1,"worker":"rpc#0"}}'
	assert_equal "${lines[2]}" "{\"seq\":3,\"result\":{\"x\":3,\"pid\":$pid}}"
}

@test "error data that is not a string is shown with -v" {
	rpc_pool pool.json ''
	printf '%s\n' '{"fail":"boom","data":{"traceback":"line 1"}}' >tasks
	run --separate-stderr spool run -v -w pool.json tasks
	assert_failure 1
	[[ $stderr == *"error from rpc#0: boom"* ]] || fail "stderr: $stderr"
	[[ $stderr == *'error data: {"traceback": "line 1"}'* ]] || fail "no data in: $stderr"
}

# ------------------------------------------------------------------------
# Answers out of order.

@test "answers out of order with inflight 4: -k restores input order" {
	rpc_pool pool.json '"inflight": 4' --reverse 4
	seq_tasks 12 >tasks
	run --separate-stderr spool run -k -w pool.json tasks
	assert_success
	assert_equal "$(jq -c .x <<<"$output" | paste -sd' ')" "1 2 3 4 5 6 7 8 9 10 11 12"
	# The worker did answer out of order (newest first).
	run sort -n -c "$RPC_LOG.answers"
	assert_failure
	assert_equal "$(sort -n "$RPC_LOG.answers" | paste -sd' ')" "1 2 3 4 5 6 7 8 9 10 11 12"
}

@test "answers out of order without -k: written as they complete" {
	rpc_pool pool.json '"inflight": 4' --reverse 4
	seq_tasks 8 >tasks
	run --separate-stderr spool run -w pool.json tasks
	assert_success
	# Output follows the worker's answer order exactly.
	assert_equal "$(jq -c .x <<<"$output" | paste -sd' ')" "$(paste -sd' ' "$RPC_LOG.answers")"
	assert_equal "$(jq -c .x <<<"$output" | sort -n | paste -sd' ')" "1 2 3 4 5 6 7 8"
}

# ------------------------------------------------------------------------
# Protocol errors: logged with the worker, the reason and the bytes; the
# worker is restarted and its tasks in flight requeued; nothing is lost.

# protocol_fault KIND REASON WROTE : task 3 of 6 makes the first process
# write a bad answer of KIND; stderr must give REASON and the bytes WROTE.
protocol_fault() {
	local kind=$1 reason=$2 wrote=$3
	rpc_pool pool.json '"inflight": 4'
	printf '%s\n' '{"x":1}' '{"x":2}' "{\"bad\":\"$kind\"}" '{"x":4}' '{"x":5}' '{"x":6}' >tasks
	run --separate-stderr spool run -k -w pool.json tasks
	assert_success
	# Every task has exactly one output line, in order.
	assert_equal "${#lines[@]}" 6
	# (Task 3's result: the retried answer, or for dup the first answer.)
	assert_equal "$(jq -c '.x // .bad' <<<"$output" | paste -sd' ')" "1 2 \"$kind\" 4 5 6"
	# Named, with the reason and what it wrote.
	local first
	first=$(jq .pid <<<"${lines[0]}")
	[[ $stderr == *"worker rpc#0 (pid $first)"* ]] || fail "no worker in: $stderr"
	[[ $stderr == *"protocol error: $reason"* ]] || fail "no reason in: $stderr"
	[[ $stderr == *"$wrote"* ]] || fail "no bytes in: $stderr"
	# Restarted: a second spawn, and a new process served the last tasks.
	assert_equal "$(grep -c '"method":"spawn"' "$RPC_LOG")" 2
	local last
	last=$(jq .pid <<<"${lines[5]}")
	[[ $last != "$first" ]] || fail "task 6 was served by the old process $first"
	# Task 4 was in flight on the first process (inflight 4): requeued,
	# sent again to the new one, and written once.
	assert_equal "$(executes_of 4)" 2
}

@test "protocol error: a line that is not JSON" {
	protocol_fault notjson "not a JSON object" "it wrote: this is not JSON {"
}

@test "protocol error: an unknown id" {
	protocol_fault unknown_id "unknown id 100003" '{"jsonrpc":"2.0","id":100003,"result":1}'
}

@test "protocol error: a duplicate answer for an id" {
	protocol_fault dup "unknown id 3" '{"jsonrpc":"2.0","id":3,"result":{"x":"dup"'
}

@test "protocol error: neither result nor error" {
	protocol_fault neither 'neither "result" nor "error"' '{"jsonrpc":"2.0","id":3}'
}

@test "protocol error: a request instead of a response" {
	protocol_fault request "a request, not a response" '{"jsonrpc":"2.0","id":3,"method":"execute"'
}

@test "protocol error: both result and error" {
	protocol_fault both 'both "result" and "error"' '{"jsonrpc":"2.0","id":3,"result":1,"error"'
}

@test "protocol error: the bytes shown are cut at 200" {
	rpc_pool pool.json ''
	printf '%s\n' '{"x":1}' '{"bad":"long"}' '{"x":3}' >tasks
	run --separate-stderr spool run -k -w pool.json tasks
	assert_success
	assert_equal "${#lines[@]}" 3
	local a200
	a200=$(printf 'A%.0s' $(seq 200))
	[[ $stderr == *"it wrote: $a200"* ]] || fail "first 200 bytes not shown: $stderr"
	[[ $stderr != *B* ]] || fail "more than 200 bytes shown: $stderr"
	[[ $stderr == *"500 bytes"* ]] || fail "no length in: $stderr"
}

@test "protocol error every time: the task fails after its attempts" {
	# No state dir: the fault happens in every process.
	unset RPC_STATE
	rpc_pool pool.json '"inflight": 1'
	printf '%s\n' '{"x":1}' '{"bad":"neither"}' '{"x":3}' >tasks
	run --separate-stderr spool run -k -r 1 --tag -w pool.json tasks
	assert_failure 1
	assert_equal "${#lines[@]}" 3
	assert_equal "$(jq -c '.result.x' <<<"${lines[0]}")" 1
	assert_equal "$(jq -c '.error.attempts' <<<"${lines[1]}")" 2
	[[ $(jq -r '.error.message' <<<"${lines[1]}") == *"protocol error"* ]] ||
		fail "reason: ${lines[1]}"
	assert_equal "$(jq -c '.result.x' <<<"${lines[2]}")" 3
	assert_equal "$(executes_of 2)" 2
}

@test "a line before the spawn answer is a spawn failure, named" {
	write_pool pool.json "{\"workers\": [{\"name\": \"rpc\", \"protocol\": \"spool\",
		\"cmd\": [\"sh\", \"-c\", \"echo loading the model; exec python3 '$RPC'\"]}]}"
	run --separate-stderr spool check -w pool.json
	assert_failure 3
	assert_output --regexp '^rpc#0	pid [0-9]+	FAILED: .*protocol error: .*it wrote: loading the model'
}

# ------------------------------------------------------------------------
# Spawn errors.

@test "spawn error answer: spawn failed, with its message" {
	rpc_pool pool.json '' --spawn-error "no GPU here" --spawn-error-data '"cuda:0 is busy"'
	run --separate-stderr spool check -w pool.json
	assert_failure 3
	assert_output --regexp '^rpc#0	pid [0-9]+	FAILED: spawn failed: no GPU here: cuda:0 is busy'
	assert_output --partial 'rpc_worker: refusing to spawn'
}

@test "spawn error answer in a run: retried, given up, tasks fail, exit 3" {
	rpc_pool pool.json '' --spawn-error "no GPU here"
	seq_tasks 3 >tasks
	run --separate-stderr spool run -w pool.json --failed failed.ndjson tasks
	assert_failure 3
	assert_output ''
	[[ $stderr == *"spawn failed: no GPU here"* ]] || fail "stderr: $stderr"
	[[ $stderr == *"giving up"* ]] || fail "stderr: $stderr"
	assert_equal "$(grep -c '"method":"spawn"' "$RPC_LOG")" 5
	assert_equal "$(grep -c '"method":"execute"' "$RPC_LOG")" 0
	diff tasks failed.ndjson
}
