#!/usr/bin/env bats
# env.bats - a worker's environment (SPEC 3): SPOOL_WORKER, SPOOL_REPLICA,
# SPOOL_NAME, SPOOL_SPAWN, PYTHONUNBUFFERED, the spec's env over what spool
# inherited, and everything else passed through.

bats_require_minimum_version 1.5.0

load test_helper
load helpers/core

setup() {
	T=$BATS_TEST_TMPDIR
	cd "$T" || return 1
	# A worker command that reports its environment on stderr, then echoes.
	DUMP='echo \"W=${SPOOL_WORKER-unset} R=${SPOOL_REPLICA-unset} N=${SPOOL_NAME-unset} S=${SPOOL_SPAWN-unset} P=${PYTHONUNBUFFERED-unset} FOO=${FOO-unset} BAR=${BAR-unset}\" >&2; exec cat'
}

@test "SPOOL_WORKER, SPOOL_REPLICA and SPOOL_NAME identify each worker" {
	write_pool pool.json "{\"workers\": [
		{\"name\": \"a\", \"replicas\": 2, \"cmd\": [\"sh\", \"-c\", \"$DUMP\"]},
		{\"name\": \"b\", \"replicas\": 2, \"cmd\": [\"sh\", \"-c\", \"$DUMP\"]},
		{\"name\": \"a\", \"cmd\": [\"sh\", \"-c\", \"$DUMP\"]}]}"
	SPOOL_WORKER=99 SPOOL_REPLICA=99 SPOOL_NAME=outer \
		run --separate-stderr spool run -w pool.json </dev/null
	assert_success
	on_stderr assert_line --regexp '^\[a#0\] W=0 R=0 N=a '
	on_stderr assert_line --regexp '^\[a#1\] W=1 R=1 N=a '
	on_stderr assert_line --regexp '^\[b#0\] W=2 R=0 N=b '
	on_stderr assert_line --regexp '^\[b#1\] W=3 R=1 N=b '
	# The label counts workers named "a"; SPOOL_REPLICA counts in the spec.
	on_stderr assert_line --regexp '^\[a#2\] W=4 R=0 N=a '
	assert_equal "${#stderr_lines[@]}" 5
}

@test "SPOOL_SPAWN is the spec's spawn value as compact JSON, {} when absent" {
	cat >pool.json <<EOF
{"workers": [
  {"name": "obj", "cmd": ["sh", "-c", "$DUMP"],
   "spawn": {"gpu_ids": [0, 1],
             "model": "x y", "opts": {"a": null, "b": [true, 1.5]}}},
  {"name": "arr", "cmd": ["sh", "-c", "$DUMP"], "spawn": [1, "two", {}]},
  {"name": "none", "cmd": ["sh", "-c", "$DUMP"]}
]}
EOF
	SPOOL_SPAWN=outer run --separate-stderr spool run -w pool.json </dev/null
	assert_success
	on_stderr assert_line --regexp '^\[obj#0\] .* S=\{"gpu_ids":\[0,1\],"model":"x y","opts":\{"a":null,"b":\[true,1\.5\]\}\} P='
	on_stderr assert_line --regexp '^\[arr#0\] .* S=\[1,"two",\{\}\] P='
	on_stderr assert_line --regexp '^\[none#0\] .* S=\{\} P='
}

@test "-c workers get the SPOOL_ variables too" {
	run --separate-stderr spool run -c 'echo "$SPOOL_NAME $SPOOL_WORKER $SPOOL_REPLICA $SPOOL_SPAWN" >&2; exec cat' -j 2 </dev/null
	assert_success
	on_stderr assert_line '[echo#0] echo 0 0 {}'
	on_stderr assert_line '[echo#1] echo 1 1 {}'
}

@test "PYTHONUNBUFFERED=1 unless the spec's env sets it" {
	write_pool pool.json "{\"workers\": [
		{\"name\": \"dflt\", \"cmd\": [\"sh\", \"-c\", \"$DUMP\"]},
		{\"name\": \"zero\", \"cmd\": [\"sh\", \"-c\", \"$DUMP\"], \"env\": {\"PYTHONUNBUFFERED\": \"0\"}},
		{\"name\": \"empty\", \"cmd\": [\"sh\", \"-c\", \"$DUMP\"], \"env\": {\"PYTHONUNBUFFERED\": \"\"}}]}"
	run --separate-stderr env -u PYTHONUNBUFFERED "$SPOOL" run -w pool.json </dev/null
	assert_success
	on_stderr assert_line --regexp '^\[dflt#0\] .* P=1 '
	on_stderr assert_line --regexp '^\[zero#0\] .* P=0 '
	on_stderr assert_line --regexp '^\[empty#0\] .* P= '
	# Even over a value spool inherited.
	PYTHONUNBUFFERED=0 run --separate-stderr spool run -w pool.json </dev/null
	assert_success
	on_stderr assert_line --regexp '^\[dflt#0\] .* P=1 '
}

@test "a Python worker that never flushes works, thanks to PYTHONUNBUFFERED" {
	seq_tasks 5 >tasks.ndjson
	# One task at a time: an unflushed answer would stall the run.
	run --separate-stderr env -u PYTHONUNBUFFERED timeout 30 "$SPOOL" run -k --inflight 1 \
		-c "$CORE_FIXTURES/unflushed.py" -j 1 tasks.ndjson
	assert_success
	assert_output "$(cat tasks.ndjson)"
}

@test "the spec's env overrides inherited variables; others pass through" {
	write_pool pool.json "{\"workers\": [
		{\"name\": \"set\", \"cmd\": [\"sh\", \"-c\", \"$DUMP\"], \"env\": {\"FOO\": \"inner\"}},
		{\"name\": \"plain\", \"cmd\": [\"sh\", \"-c\", \"$DUMP\"]}]}"
	FOO=outer BAR=passes run --separate-stderr spool run -w pool.json </dev/null
	assert_success
	on_stderr assert_line --regexp '^\[set#0\] .* FOO=inner BAR=passes$'
	on_stderr assert_line --regexp '^\[plain#0\] .* FOO=outer BAR=passes$'
	# Not set anywhere: not set in the worker.
	run --separate-stderr env -u FOO -u BAR "$SPOOL" run -w pool.json </dev/null
	assert_success
	on_stderr assert_line --regexp '^\[plain#0\] .* FOO=unset BAR=unset$'
}

@test "an inherited variable is passed to -c workers unchanged" {
	WEIRD=$'a b\tc=d' run --separate-stderr spool run -c 'printf "%s|\n" "$WEIRD" >&2; exec cat' -j 1 </dev/null
	assert_success
	assert_equal "$stderr" "$(printf '[printf#0] a b\tc=d|')"
}

@test "the worker's environment has each variable once" {
	write_pool pool.json '{"workers": [{"name": "e", "cmd": ["sh", "-c", "env >&2; exec cat"],
		"env": {"FOO": "inner", "PYTHONUNBUFFERED": "1"}}]}'
	FOO=outer SPOOL_NAME=outer PYTHONUNBUFFERED=7 run --separate-stderr spool run -w pool.json </dev/null
	assert_success
	local v
	for v in FOO SPOOL_NAME SPOOL_WORKER SPOOL_REPLICA SPOOL_SPAWN PYTHONUNBUFFERED PATH; do
		assert_equal "$(grep -c "^\[e#0\] $v=" <<<"$stderr")" 1
	done
	on_stderr assert_line '[e#0] FOO=inner'
	on_stderr assert_line '[e#0] SPOOL_NAME=e'
}

@test "a spec's env PATH is where cmd[0] is looked up" {
	mkdir -p private
	printf '#!/bin/sh\nexec cat\n' >private/spool-private-tool
	chmod +x private/spool-private-tool
	write_pool pool.json "{\"workers\": [{\"cmd\": [\"spool-private-tool\"],
		\"env\": {\"PATH\": \"$PWD/private:/usr/bin:/bin\"}}]}"
	run --separate-stderr spool run -w pool.json <<<'{"x":1}'
	assert_success
	assert_output '{"x":1}'
}
