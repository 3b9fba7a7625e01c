#!/usr/bin/env bats
# sdk.bats - the worker SDKs (SPEC 4.3) through spool, end to end: the
# Python SDK (workers/python/spool_worker.py) and the C SDK
# (workers/c/spool_worker.h).  Stdout noise from user code must not corrupt
# the protocol; exceptions and failures are per-task; spawn arguments
# arrive as keywords or positionally.

bats_require_minimum_version 1.5.0
load test_helper

PY_PROBE="$FIXTURES/protocol/sdk_worker.py"
C_PROBE="$FIXTURES/protocol/sdk_probe.c"
C_BATCH_PROBE="$FIXTURES/protocol/sdk_batch_probe.c"

# The warnings the Makefile builds with, plus -pedantic, as errors.
CWARN=(-std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
	-Wpointer-arith -Wformat=2 -Wno-format-nonliteral -pedantic -Werror)

cjson_flags() {
	pkg-config --cflags libcjson 2>/dev/null || true
}

cjson_libs() {
	pkg-config --libs libcjson 2>/dev/null || echo -lcjson
}

# build_c CC OUT SRC [FLAGS...] : compile a C SDK worker.
build_c() {
	local cc=$1 out=$2 src=$3
	shift 3
	# shellcheck disable=SC2046
	"$cc" "${CWARN[@]}" -O2 "$@" -I"$REPO_DIR/workers/c" $(cjson_flags) \
		-o "$out" "$src" $(cjson_libs) -lm
}

setup_file() {
	local bin=$BATS_FILE_TMPDIR
	build_c cc "$bin/probe" "$C_PROBE" 2>"$bin/probe.err" || true
	build_c cc "$bin/batch_probe" "$C_BATCH_PROBE" 2>"$bin/batch_probe.err" || true
}

setup() {
	cd "$BATS_TEST_TMPDIR" || return 1
}

# c_probe : the probe built once for the file (fails the test if it did
# not build).
c_probe() {
	[[ -x $BATS_FILE_TMPDIR/probe ]] ||
		fail "sdk_probe.c did not build: $(cat "$BATS_FILE_TMPDIR/probe.err")"
	echo "$BATS_FILE_TMPDIR/probe"
}

c_batch_probe() {
	[[ -x $BATS_FILE_TMPDIR/batch_probe ]] ||
		fail "sdk_batch_probe.c did not build: $(cat "$BATS_FILE_TMPDIR/batch_probe.err")"
	echo "$BATS_FILE_TMPDIR/batch_probe"
}

# JSON-RPC lines as spool writes them, to drive a worker directly.
rpc_spawn() { echo '{"jsonrpc":"2.0","id":0,"method":"spawn","params":{}}'; }
rpc_exec() { # rpc_exec ID TASK : one execute request, no newline
	printf '{"jsonrpc":"2.0","id":%s,"method":"execute","params":[%s]}' "$1" "$2"
}
rpc_batch() { # rpc_batch ID TASK [ID TASK...] : a batch on one line
	local sep=
	printf '['
	while (($# >= 2)); do
		printf '%s' "$sep"
		rpc_exec "$1" "$2"
		sep=,
		shift 2
	done
	printf ']\n'
}

square_bin() {
	local b=$SPOOL_BUILD/workers/square
	[[ -x $b ]] || fail "$b is not built (make BUILD=$SPOOL_BUILD)"
	echo "$b"
}

# ------------------------------------------------------------------------
# Python SDK.

py_pool() { # py_pool FILE SPAWN [MEMBERS]
	write_pool "$1" "{\"workers\": [{\"name\": \"py\", \"cmd\": [\"python3\", \"$PY_PROBE\"],
		\"protocol\": \"spool\", \"spawn\": $2${3:+, $3}}]}"
}

@test "python: results through spool; user stdout noise goes to stderr" {
	py_pool pool.json '{"model": "m", "size": 3}'
	seq_tasks 5 >tasks
	run --separate-stderr spool run -k -w pool.json tasks
	assert_success
	assert_equal "${#lines[@]}" 5
	local i pid
	pid=$(jq .pid <<<"${lines[0]}")
	for i in 0 1 2 3 4; do
		assert_equal "${lines[i]}" \
			"{\"x\":$((i + 1)),\"double\":$((2 * i + 2)),\"pid\":$pid,\"spawn\":{\"args\":[],\"kwargs\":{\"model\":\"m\",\"size\":3}}}"
	done
	# Every kind of stdout write, labelled, on spool's stderr.
	[[ $stderr == *"[py#0] spawn: loading (print)"* ]] || fail "$stderr"
	[[ $stderr == *"[py#0] noise: print {'x': 5}"* ]] || fail "$stderr"
	[[ $stderr == *"noise: fd 1"* ]] || fail "$stderr"
	[[ $stderr == *"[py#0] noise: child process"* ]] || fail "$stderr"
	[[ $stderr == *"noise: sys.stdout without newline"* ]] || fail "$stderr"
	[[ $stderr != *"protocol error"* ]] || fail "$stderr"
	[[ $stderr != *"exited"* ]] || fail "$stderr"
}

@test "python: exceptions become per-task failures; the worker goes on" {
	py_pool pool.json '{}'
	printf '%s\n' '{"x":1}' '{"raise":"bad input"}' '{"x":3}' '{"werr":"nope"}' \
		'{"nan":1}' '{"x":6}' >tasks
	run --separate-stderr spool run -k --tag -w pool.json tasks
	assert_failure 1
	assert_equal "${#lines[@]}" 6
	assert_equal "$(jq -c '.result.x' <<<"$output" | paste -sd' ')" "1 null 3 null null 6"
	# One process, spawned once, served all.
	assert_equal "$(jq '.result.pid // empty' <<<"$output" | sort -u | wc -l)" 1
	assert_equal "$(jq -r '.error.message // empty' <<<"${lines[1]}")" \
		"error from py#0: ValueError: bad input"
	assert_equal "$(jq -r '.error.message // empty' <<<"${lines[3]}")" "error from py#0: nope"
	[[ $(jq -r '.error.message' <<<"${lines[4]}") == "error from py#0: result is not JSON"* ]] ||
		fail "${lines[4]}"
	assert_equal "$(jq -c '[.[].error.attempts // empty]' <<<"$(jq -s . <<<"$output")")" "[1,1,1]"
	[[ $stderr == *"tasks:2: error from py#0: ValueError: bad input"* ]] || fail "$stderr"
	[[ $stderr != *"protocol error"* ]] || fail "$stderr"
}

@test "python: the traceback of a failed task is shown with -v" {
	py_pool pool.json '{}'
	printf '%s\n' '{"raise":"deep"}' >tasks
	run --separate-stderr spool run -v -w pool.json tasks
	assert_failure 1
	[[ $stderr == *"error data:"*"Traceback (most recent call last)"*"ValueError: deep"* ]] ||
		fail "$stderr"
}

@test "python: positional spawn arguments" {
	py_pool pool.json '[[0, 1], "small"]'
	run --separate-stderr spool check -w pool.json
	assert_success
	assert_output --regexp $'^py#0\tpid [0-9]+\tready in [0-9][0-9hmsu.]*\t\\{"args":\\[\\[0,1\\],"small"\\],"kwargs":\\{\\}\\}$'
	seq_tasks 2 >tasks
	run --separate-stderr spool run -k -w pool.json tasks
	assert_success
	assert_equal "$(jq -c .spawn <<<"$output" | sort -u)" '{"args":[[0,1],"small"],"kwargs":{}}'
}

@test "python: a spawn exception is a spawn failure with its message" {
	# The probe takes any arguments; the square example's spawn needs gpu_ids.
	write_pool pool.json "{\"workers\": [{\"name\": \"sq\", \"protocol\": \"spool\",
		\"cmd\": [\"python3\", \"$REPO_DIR/workers/examples/square/square_worker.py\"],
		\"spawn\": {\"gpus\": [0]}}]}"
	run --separate-stderr spool check -w pool.json
	assert_failure 3
	assert_output --regexp $'^sq#0\tpid [0-9]+\tFAILED: spawn failed: TypeError: .*gpus'
	# Its traceback, printed by the SDK, is in the stderr tail.
	assert_output --partial 'its last stderr lines:'
	assert_output --regexp $'\n  \\| TypeError: Square.spawn\\(\\) got an unexpected'
}

@test "python: a pipelined run of many tasks, in order, nothing lost" {
	py_pool pool.json '{"quiet": true}' '"replicas": 2'
	seq_tasks 20000 >tasks
	# Not through bats' run: its line splitting is slow on 20000 lines.
	spool run -k --inflight 256 -w pool.json tasks >out 2>err ||
		fail "exit $?: $(tail -5 err)"
	assert_equal "$(wc -l <out)" 20000
	assert_equal "$(jq -c .x out | md5sum)" "$(seq 20000 | md5sum)"
	assert_equal "$(cat err)" ""
}

@test "python: an SDK worker started as a lines worker says to set \"protocol\": \"spool\"" {
	printf '%s\n' '{"x":3}' '{"x":4}' >tasks
	run --separate-stderr spool run -j 1 -c "python3 $REPO_DIR/workers/examples/square/square_worker.py" tasks
	assert_failure
	# No JSON-RPC error passed off as a result.
	assert_output ""
	[[ $stderr == *'[python3#0] spool_worker: the first message is not a spawn request'*'set "protocol": "spool" in its pool config'* ]] ||
		fail "$stderr"
	[[ $stderr == *"exited with status 2"* ]] || fail "$stderr"
}

@test "python: piped a plain task line, the SDK exits 2 with the message" {
	run --separate-stderr python3 "$PY_PROBE" <<<'{"x":3}'
	assert_failure 2
	assert_output ""
	assert_equal "$stderr" 'spool_worker: the first message is not a spawn request, so this worker was started as a lines worker; it speaks the spool protocol: set "protocol": "spool" in its pool config (or use -p spool with -c)'
}

# ------------------------------------------------------------------------
# C SDK.

@test "c: the SDK and its examples build warning-free with gcc and clang" {
	local cc n=0
	for cc in gcc clang; do
		command -v "$cc" >/dev/null || continue
		n=$((n + 1))
		build_c "$cc" "probe-$cc" "$C_PROBE"
		build_c "$cc" "batch-probe-$cc" "$C_BATCH_PROBE"
		build_c "$cc" "square-$cc" "$REPO_DIR/workers/c/square.c"
		local src
		for src in "$REPO_DIR"/workers/c/*.c; do
			build_c "$cc" "x-$cc" "$src"
		done
	done
	((n > 0)) || skip "neither gcc nor clang is installed"
}

@test "c: square through spool, keyword and positional spawn" {
	local sq
	sq=$(square_bin)
	write_pool pool.json "{\"workers\": [
		{\"name\": \"square\", \"cmd\": [\"$sq\"], \"protocol\": \"spool\", \"spawn\": {\"gpu_ids\": [0, 1]}},
		{\"name\": \"square\", \"cmd\": [\"$sq\"], \"protocol\": \"spool\", \"spawn\": [[2, 3]]}]}"
	run --separate-stderr spool check -w pool.json
	assert_success
	assert_line --index 0 --regexp $'^square#0\tpid ([0-9]+)\tready in .*\t\\{"gpu_ids":\\[0,1\\],"pid":[0-9]+\\}$'
	assert_line --index 1 --regexp $'^square#1\tpid ([0-9]+)\tready in .*\t\\{"gpu_ids":\\[2,3\\],"pid":[0-9]+\\}$'

	printf '%s\n' '{"x":1}' '{"x":2.5}' '{"x":"four"}' '{"y":1}' '{"x":-3}' >tasks
	run --separate-stderr spool run -k -w pool.json tasks
	assert_failure 1
	assert_equal "$(jq -c '[.x, .square]' <<<"$output" | paste -sd' ')" "[1,1] [2.5,6.25] [-3,9]"
	jq -e 'all(.gpus == [0,1] or .gpus == [2,3])' <<<"$(jq -s . <<<"$output")" >/dev/null
	[[ $stderr == *"tasks:3: error from square#"?": x must be a number"* ]] || fail "$stderr"
	[[ $stderr == *"tasks:4: error from square#"?": x must be a number"* ]] || fail "$stderr"
	# Its printf went to stderr, labelled.
	[[ $stderr == *"[square#0] square: pid "*" loaded on 2 GPU(s)"* ]] || fail "$stderr"
	[[ $stderr != *"protocol error"* ]] || fail "$stderr"
}

@test "c: noise on stdout, failures, NULL and echoed results" {
	local probe
	probe=$(c_probe)
	write_pool pool.json "{\"workers\": [{\"name\": \"c\", \"cmd\": [\"$probe\"], \"protocol\": \"spool\",
		\"spawn\": {\"k\": [1, 2]}}]}"
	run --separate-stderr spool check -w pool.json
	assert_success
	assert_output --regexp $'\t\\{"k":\\[1,2\\]\\}$'

	printf '%s\n' '{"x":1}' '{"fail":"boom"}' '{"null":1}' '[1, {"a": "b  c"}]' '{"x":5}' >tasks
	run --separate-stderr spool run -k --tag -w pool.json tasks
	assert_failure 1
	assert_equal "${#lines[@]}" 5
	local pid
	pid=$(jq .result.pid <<<"${lines[0]}")
	assert_equal "${lines[0]}" "{\"seq\":1,\"result\":{\"x\":1,\"double\":2,\"pid\":$pid}}"
	assert_equal "$(jq -r .error.message <<<"${lines[1]}")" "error from c#0: failed on purpose: boom"
	assert_equal "$(jq -r .error.message <<<"${lines[2]}")" \
		"error from c#0: execute returned NULL without spool_worker_fail()"
	assert_equal "${lines[3]}" '{"seq":4,"result":[1,{"a":"b  c"}]}'
	assert_equal "${lines[4]}" "{\"seq\":5,\"result\":{\"x\":5,\"double\":10,\"pid\":$pid}}"
	[[ $stderr == *"[c#0] spawn: loading (printf)"* ]] || fail "$stderr"
	[[ $stderr == *"[c#0] noise: printf without newlinenoise: fd 1"* ]] || fail "$stderr"
	[[ $stderr == *"[c#0] noise: child process"* ]] || fail "$stderr"
	[[ $stderr != *"protocol error"* ]] || fail "$stderr"
}

@test "c: positional spawn arguments reach spawn as an array" {
	local probe
	probe=$(c_probe)
	write_pool pool.json "{\"workers\": [{\"name\": \"c\", \"cmd\": [\"$probe\"], \"protocol\": \"spool\",
		\"spawn\": [[0, 1], \"small\"]}]}"
	run --separate-stderr spool check -w pool.json
	assert_success
	assert_output --regexp $'^c#0\tpid [0-9]+\tready in .*\t\\[\\[0,1\\],"small"\\]$'
}

@test "c: piped a plain task line, the SDK exits 2 with the message" {
	local probe line
	probe=$(c_probe)
	for line in '{"x":3}' 'not json' '{"jsonrpc":"2.0","id":1,"method":"execute","params":[1]}'; do
		run --separate-stderr "$probe" <<<"$line"
		assert_failure 2
		assert_output ""
		assert_equal "$stderr" 'spool_worker: the first message is not a spawn request, so this worker was started as a lines worker; it speaks the spool protocol: set "protocol": "spool" in its pool config (or use -p spool with -c)'
	done
	# Blank lines before the spawn are not messages.
	run --separate-stderr "$probe" <<<$'\n{"jsonrpc":"2.0","id":0,"method":"spawn","params":{"quiet":true}}'
	assert_success
	assert_output '{"jsonrpc":"2.0","id":0,"result":{"quiet":true}}'
}

@test "c: an SDK worker started as a lines worker through spool does not exit 0" {
	local sq
	sq=$(square_bin)
	printf '%s\n' '{"x":3}' >tasks
	run --separate-stderr spool run -j 1 -c "$sq" tasks
	assert_failure
	assert_output ""
	[[ $stderr == *'spool_worker: the first message is not a spawn request'*'"protocol": "spool"'* ]] ||
		fail "$stderr"
}

@test "c: execute_batch answers a batch with one line, a response per request" {
	local probe
	probe=$(c_batch_probe)
	{
		rpc_spawn
		rpc_batch 5 '{"x":5}' 9 '{"x":9}' 6 '{"x":6}' 7 '[1,{"a":"b c"}]'
		rpc_exec 8 '{"x":8}'
		echo
		rpc_batch 10 '{"x":10}'
	} >in
	run --separate-stderr "$probe" <in
	assert_success
	assert_equal "${#lines[@]}" 4
	assert_equal "$stderr" ""
	# Matched by id, not by position; every answer a result or an error.
	local batch=${lines[1]}
	assert_equal "$(jq -c 'map(.id) | sort' <<<"$batch")" "[5,6,7,9]"
	assert_equal "$(jq -c 'map(select(.jsonrpc == "2.0" and has("result") != has("error"))) | length' <<<"$batch")" 4
	assert_equal "$(jq -c 'map({(.id|tostring): .result}) | add' <<<"$batch")" \
		'{"5":{"x":5,"n":4,"via":"batch"},"9":{"x":9,"n":4,"via":"batch"},"6":{"x":6,"n":4,"via":"batch"},"7":[1,{"a":"b c"}]}'
	# A single request still gets execute and a line of its own.
	assert_equal "${lines[2]}" '{"jsonrpc":"2.0","id":8,"result":{"x":8,"n":1,"via":"execute"}}'
	assert_equal "${lines[3]}" '[{"jsonrpc":"2.0","id":10,"result":{"x":10,"n":1,"via":"batch"}}]'
}

@test "c: execute_batch fails one task with spool_worker_fail_item, all with spool_worker_fail" {
	local probe
	probe=$(c_batch_probe)
	{
		rpc_spawn
		rpc_batch 1 '{"x":1}' 2 '{"fail":"bad row"}' 3 '{"null":1}' 4 '{"x":4}'
		rpc_batch 5 '{"x":5}' 6 '{"all":"oom"}' 7 '"echo"'
		rpc_batch 8 '{"x":8}'
	} >in
	run --separate-stderr "$probe" <in
	assert_success
	assert_equal "${#lines[@]}" 4
	by_id() { jq -c --argjson id "$2" '.[] | select(.id == $id) | .result // .error' <<<"$1"; }
	assert_equal "$(by_id "${lines[1]}" 1)" '{"x":1,"n":4,"via":"batch"}'
	assert_equal "$(by_id "${lines[1]}" 2)" '{"code":422,"message":"failed: bad row","data":{"why":"bad row"}}'
	assert_equal "$(by_id "${lines[1]}" 3)" \
		'{"code":-32000,"message":"execute_batch left results[2] NULL without spool_worker_fail_item()"}'
	assert_equal "$(by_id "${lines[1]}" 4)" '{"x":4,"n":4,"via":"batch"}'
	local id
	for id in 5 6 7; do
		assert_equal "$(by_id "${lines[2]}" $id)" '{"code":7,"message":"the whole batch: oom","data":[1]}'
	done
	# The worker goes on.
	assert_equal "$(by_id "${lines[3]}" 8)" '{"x":8,"n":1,"via":"batch"}'
}

@test "c: without execute_batch, a batch runs execute per task; without execute, singles are batches of one" {
	local probe
	probe=$(c_batch_probe)
	{
		rpc_spawn
		rpc_batch 1 '{"x":1}' 2 '{"fail":"no"}' 3 '{"null":1}' 4 '"echo"'
		rpc_exec 5 '{"x":5}'
		echo
		rpc_exec 6 '{"fail":"single"}'
		echo
	} >in
	run --separate-stderr "$probe" default <in
	assert_success
	assert_equal "${lines[1]}" '[{"jsonrpc":"2.0","id":1,"result":{"x":1,"n":1,"via":"execute"}},{"jsonrpc":"2.0","id":2,"error":{"code":422,"message":"failed: no","data":{"why":"no"}}},{"jsonrpc":"2.0","id":3,"error":{"code":-32000,"message":"execute returned NULL without spool_worker_fail()"}},{"jsonrpc":"2.0","id":4,"result":"echo"}]'
	assert_equal "${lines[2]}" '{"jsonrpc":"2.0","id":5,"result":{"x":5,"n":1,"via":"execute"}}'

	run --separate-stderr "$probe" only <in
	assert_success
	assert_equal "$(jq -c 'map(.id)' <<<"${lines[1]}")" "[1,2,3,4]"
	assert_equal "${lines[2]}" '{"jsonrpc":"2.0","id":5,"result":{"x":5,"n":1,"via":"batch"}}'
	assert_equal "${lines[3]}" '{"jsonrpc":"2.0","id":6,"error":{"code":422,"message":"failed: single","data":{"why":"single"}}}'
}

@test "c: malformed batches get JSON-RPC errors and the worker goes on" {
	local probe
	probe=$(c_batch_probe)
	{
		rpc_spawn
		echo '[]'
		echo '[1, "x", {"id": 3}]'
		printf '[%s,%s,%s,%s,%s,%s]\n' "$(rpc_exec 1 '{"x":1}')" \
			'{"jsonrpc":"2.0","id":2,"method":"frobnicate"}' \
			'{"jsonrpc":"2.0","id":3,"method":"execute","params":[1,2]}' \
			'{"jsonrpc":"2.0","id":4,"method":"spawn","params":{}}' \
			'{"jsonrpc":"2.0","method":"execute","params":[{"x":5}]}' \
			"$(rpc_exec 6 '{"x":6}')"
		echo '[{"jsonrpc":"2.0","method":"execute","params":[{"x":7}]}]'
		echo '[1,'
		rpc_exec 8 '{"x":8}'
		echo
	} >in
	run --separate-stderr "$probe" <in
	assert_success
	assert_equal "${#lines[@]}" 6
	assert_equal "${lines[1]}" '{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"invalid request: an empty batch"}}'
	assert_equal "$(jq -c 'map([.id, .error.code])' <<<"${lines[2]}")" '[[null,-32600],[null,-32600],[null,-32600]]'
	# Answers in request order; the notification (no id) gets none.
	assert_equal "$(jq -c 'map([.id, .error.code // .result.n])' <<<"${lines[3]}")" \
		'[[1,2],[2,-32601],[3,-32602],[4,-32601],[6,2]]'
	# A batch of notifications only: nothing.  A broken line: a parse error.
	assert_equal "$(jq -c '[.id, .error.code]' <<<"${lines[4]}")" '[null,-32700]'
	assert_equal "${lines[5]}" '{"jsonrpc":"2.0","id":8,"result":{"x":8,"n":1,"via":"execute"}}'
}

@test "c: execute_batch is clean under AddressSanitizer and UBSan" {
	build_c cc batch-san "$C_BATCH_PROBE" -g -fsanitize=address,undefined \
		-fno-sanitize-recover=all -fno-omit-frame-pointer 2>san.err ||
		skip "no sanitizer runtime: $(head -c 300 san.err)"
	{
		rpc_spawn
		rpc_batch 1 '{"x":1}' 2 '{"fail":"bad row"}' 3 '{"null":1}' 4 '"echo"'
		rpc_batch 5 '{"x":5}' 6 '{"all":"oom"}' 7 '"echo"' 8 '{"fail":"x"}'
		echo '[]'
		echo '[1, {"id": 3}, {"jsonrpc":"2.0","id":4,"method":"nope"}, {"method":"execute","params":[1]}]'
		rpc_exec 9 '{"fail":"single"}'
		echo
		python3 -c 'import json; print(json.dumps([{"jsonrpc": "2.0", "id": i, "method": "execute", "params": [{"x": i, "pad": "p" * 4000}]} for i in range(10, 2010)]))'
	} >in
	local mode
	for mode in "" only default; do
		run --separate-stderr ./batch-san $mode <in
		assert_success
		assert_equal "${#lines[@]}" 7
		assert_equal "$(jq 'length' <<<"${lines[6]}")" 2000
		assert_equal "$stderr" ""
	done
}

@test "c: a pipelined run of many tasks and a long one, in order" {
	local probe
	probe=$(c_probe)
	write_pool pool.json "{\"workers\": [{\"name\": \"c\", \"cmd\": [\"$probe\"], \"protocol\": \"spool\",
		\"replicas\": 2, \"spawn\": {\"quiet\": true}}]}"
	{
		seq_tasks 10000
		python3 -c 'print("{\"long\":\"" + "z" * (3 << 20) + "\"}")'
		seq_tasks 10000 10001
	} >tasks
	timeout 20 "$SPOOL" run -k --inflight 256 -w pool.json tasks >out 2>err ||
		fail "exit $? after $(wc -l <out) lines: $(tail -5 err)"
	assert_equal "$(wc -l <out)" 20001
	# The long task came back whole (the probe echoes what it does not know).
	cmp <(sed -n 10001p out) <(sed -n 10001p tasks)
	assert_equal "$(jq -c '.x // empty' out | md5sum)" "$(seq 20000 | md5sum)"
	assert_equal "$(cat err)" ""
}

@test "c: the SDK is clean under AddressSanitizer and UBSan" {
	build_c cc probe-san "$C_PROBE" -g -fsanitize=address,undefined \
		-fno-sanitize-recover=all -fno-omit-frame-pointer 2>san.err ||
		skip "no sanitizer runtime: $(head -c 300 san.err)"
	write_pool pool.json "{\"workers\": [{\"name\": \"c\", \"cmd\": [\"$PWD/probe-san\"],
		\"protocol\": \"spool\", \"spawn\": {\"quiet\": true}}]}"
	{
		seq_tasks 300
		printf '%s\n' '{"fail":"boom"}' '{"null":1}' '"echo"'
		python3 -c 'print("[\"" + "y" * (2 << 20) + "\"]")'
	} >tasks
	run --separate-stderr spool run -k -w pool.json tasks
	assert_failure 1
	assert_equal "${#lines[@]}" 302
	[[ $stderr != *"ERROR: AddressSanitizer"* ]] || fail "$stderr"
	[[ $stderr != *"runtime error"* ]] || fail "$stderr"
	[[ $stderr != *"exited with status"* ]] || fail "$stderr"
	[[ $stderr != *"protocol error"* ]] || fail "$stderr"
}

# ------------------------------------------------------------------------
# The batched model example, driven directly (spool does not send batches
# yet).

@test "examples: the batched model worker runs a batch in one call" {
	local dir=$REPO_DIR/workers/examples/model
	# pool-batch.json asks spool for batches of its spool-protocol worker.
	assert_equal "$(jq -c '.workers[0] | [.protocol, .batch, .cmd[1]]' "$dir/pool-batch.json")" \
		'["spool",{"max_size":32,"max_delay":0.005},"model_batch_worker.py"]'
	{
		echo '{"jsonrpc":"2.0","id":0,"method":"spawn","params":{"model":"m","load_s":0,"call_s":0,"task_s":0}}'
		jq -sc '[to_entries[] | {jsonrpc: "2.0", id: (.key + 1), method: "execute", params: [.value]}]
			+ [{jsonrpc: "2.0", id: 7, method: "execute", params: [{id: 7, text: 5}]}]' "$dir/tasks.ndjson"
		echo '{"jsonrpc":"2.0","id":8,"method":"execute","params":[{"id":8,"text":"so good"}]}'
	} >in
	run --separate-stderr python3 "$dir/model_batch_worker.py" <in
	assert_success
	assert_equal "${#lines[@]}" 3
	assert_equal "$(jq -c '.result | del(.load_s)' <<<"${lines[0]}")" '{"model":"m","call_s":0,"task_s":0}'
	# One answer line for the batch: the labels model_worker.py gives, and
	# every task saw the whole batch of 7 in one call; the bad one failed alone.
	assert_equal "$(jq -c 'sort_by(.id) | map(.result // .error | [.label // .message, .batch])' <<<"${lines[1]}")" \
		'[["positive",7],["negative",7],["neutral",7],["positive",7],["negative",7],["positive",7],["text must be a string",null]]'
	assert_equal "$(jq -c '.[] | select(.id == 7) | .error.code' <<<"${lines[1]}")" -32602
	# A single request is a batch of one.
	assert_equal "${lines[2]}" '{"jsonrpc":"2.0","id":8,"result":{"id":8,"label":"positive","score":1.0,"model":"m","batch":1}}'
	[[ $stderr == *"loading m on device"* ]] || fail "$stderr"
}
