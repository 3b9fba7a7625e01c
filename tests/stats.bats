#!/usr/bin/env bats
# stats.bats - --stats (SPEC section 7): the summary on stderr at exit and
# the JSON document of --stats=FILE, checked for its values, not just its
# keys, against runs whose failures, retries and restarts are known.

bats_require_minimum_version 1.5.0

load test_helper
load helpers/watch

setup() {
	cd "$BATS_TEST_TMPDIR"
}

# A run with every kind of outcome, on one spool-protocol worker taking
# one task at a time, so that every count is known in advance:
#   line 1   a poison task: kills its worker on both attempts (-r 1), so
#            it is retried once, fails, and costs two restarts (tasks
#            are still waiting after each death);
#   line 6   not JSON: fails at once, never reaches a worker;
#   8 more   good tasks.
poison_run() {
	{
		printf '{"x":0,"kill":true}\n'
		seq_tasks 4 1
		printf 'not json\n'
		seq_tasks 4 5
	} >tasks.ndjson
	write_pool pool.json "{\"workers\": [{\"name\": \"rpc\", \"protocol\": \"spool\",
		\"cmd\": [\"$WW\", \"--proto\", \"spool\"], \"spawn\": {\"gpu_ids\": [0, 1]}}]}"
	WW_PIDS=$PWD/pids run --separate-stderr \
		spool run -w pool.json --inflight 1 -r 1 --stats=stats.json tasks.ndjson
}

@test "--stats=FILE has exactly the documented keys" {
	poison_run
	assert_equal "$status" 1
	run jq -c 'keys' stats.json
	assert_output '["cpu_s","latency_s","tasks","tasks_per_s","wall_s","workers"]'
	run jq -c '.tasks | keys' stats.json
	assert_output '["failed","not_started","ok","read","retried","skipped"]'
	run jq -c '.cpu_s | keys' stats.json
	assert_output '["sys","user"]'
	# spool's own CPU: numbers, not the workers'.
	run jq -e '.cpu_s.user >= 0 and .cpu_s.sys >= 0 and (.cpu_s.user | type) == "number"' stats.json
	run jq -c '.latency_s | keys' stats.json
	assert_output '["max","p50","p90","p99"]'
	run jq -c '.workers | map(keys) | unique' stats.json
	assert_output '[["failed","host","name","pid","replica","restarts","spawn_result","spawn_s","tasks"]]'
}

@test "--stats=FILE counts read, ok, failed, retried and skipped tasks" {
	poison_run
	assert_equal "$status" 1
	# The results on stdout: the 8 good tasks.
	assert_equal "${#lines[@]}" 8
	run jq -c '.tasks' stats.json
	assert_output '{"read":10,"ok":8,"failed":2,"retried":1,"skipped":0,"not_started":0}'
	# ok + failed (+ skipped) = read.
	run jq '.tasks.ok + .tasks.failed + .tasks.skipped == .tasks.read' stats.json
	assert_output true
}

@test "--stats=FILE: wall time, throughput and ordered latency percentiles" {
	poison_run
	assert_equal "$status" 1
	run jq '.wall_s > 0 and .tasks_per_s > 0' stats.json
	assert_output true
	# Throughput is the finished tasks over the wall time (6 digits kept).
	run jq '(.tasks_per_s * .wall_s - 10 | fabs) < 0.01' stats.json
	assert_output true
	run jq -c '.latency_s | [.p50, .p90, .p99, .max] | map(type)' stats.json
	assert_output '["number","number","number","number"]'
	run jq '.latency_s | .p50 > 0 and .p50 <= .p90 and .p90 <= .p99 and .p99 <= .max' stats.json
	assert_output true
	# No latency can exceed the run itself.
	run jq '.latency_s.max <= .wall_s' stats.json
	assert_output true
}

@test "--stats=FILE: per worker tasks, failures, restarts, pid and spawn result" {
	poison_run
	assert_equal "$status" 1
	run jq -c '.workers | length' stats.json
	assert_output 1
	run jq -c '.workers[0] | {name, replica, tasks, failed, restarts, spawn_result}' stats.json
	# The poison task is the first: its retry waits behind the other
	# tasks (the spec has not yet shown it can work), so the slot runs
	# two processes: the one it killed, then one that serves the rest
	# and dies on the retry.  Nothing is left to restart for after that.
	assert_output '{"name":"rpc","replica":0,"tasks":8,"failed":1,"restarts":1,"spawn_result":{"gpu_ids":[0,1]}}'
	# The pid reported is the last process's.
	assert_equal "$(wc -l <pids)" 2
	run jq '.workers[0].pid' stats.json
	assert_output "$(tail -n 1 pids)"
	# A spool-protocol worker answers its spawn: that took some time.
	run jq '.workers[0].spawn_s | type == "number" and . > 0' stats.json
	assert_output true
}

@test "--stats=FILE: the same summary is printed on stderr" {
	poison_run
	assert_equal "$status" 1
	on_stderr assert_line --regexp '^spool: 10 tasks: 8 ok, 2 failed, 1 retried, 0 skipped, 0 not started in [0-9.]+[a-z]+ \([0-9.]+ tasks/s\)$'
	on_stderr assert_line --regexp '^spool: its own cpu: user [0-9.]+s, sys [0-9.]+s \([0-9.]+ us a task\)$'
	on_stderr assert_line --regexp '^spool: latency p50 [0-9.]+[a-z]+ +p90 [0-9.]+[a-z]+ +p99 [0-9.]+[a-z]+ +max [0-9.]+[a-z]+$'
	on_stderr assert_line --regexp '^spool: worker +tasks +failed +restarts +spawn +spawn result$'
	on_stderr assert_line --regexp '^spool: rpc#0 +8 +1 +1 +[0-9.]+[a-z]+ +\{"gpu_ids":\[0,1\]\}$'
}

@test "--stats=FILE: one workers entry per slot; replica is the i of name#i" {
	# Labels: a#0 a#1 (first spec), b#0, a#2 (third spec, same name as the
	# first: its replica within the spec is 0, its label index is 2).
	write_pool pool.json "{\"workers\": [
		{\"name\": \"a\", \"cmd\": [\"$WW\"], \"replicas\": 2},
		{\"name\": \"b\", \"cmd\": [\"$WW\", \"--proto\", \"spool\"],
		 \"protocol\": \"spool\", \"spawn\": {\"k\": 1}},
		{\"name\": \"a\", \"cmd\": [\"$WW\"]}]}"
	seq_tasks 12 >tasks.ndjson
	WW_PIDS=$PWD/pids run --separate-stderr \
		spool run -w pool.json --stats=stats.json tasks.ndjson
	assert_success
	run jq -c '[.workers[] | [.name, .replica]]' stats.json
	assert_output '[["a",0],["a",1],["b",0],["a",2]]'
	run jq -c '[.workers[] | [.failed, .restarts]] | unique' stats.json
	assert_output '[[0,0]]'
	run jq -c '[.workers[].spawn_result]' stats.json
	assert_output '[null,null,{"k":1},null]'
	# Every task is counted on the worker that ran it.
	run jq '[.workers[].tasks] | add' stats.json
	assert_output 12
	# Four distinct pids, the ones the workers themselves reported.
	run jq -r '.workers[].pid' stats.json
	assert_equal "$(printf '%s\n' "${lines[@]}" | sort -u)" "$(sort -u pids)"
	assert_equal "$(sort -u pids | wc -l)" 4
}

@test "--stats=FILE: a retried task that then succeeds counts one retry and one restart" {
	printf '{"x":1,"kill":true,"once":"%s/died"}\n' "$PWD" >tasks.ndjson
	seq_tasks 3 2 >>tasks.ndjson
	run --separate-stderr spool run -c "$WW" -j 1 -r 2 --stats=stats.json tasks.ndjson
	assert_success
	assert_equal "${#lines[@]}" 4
	run jq -c '.tasks' stats.json
	assert_output '{"read":4,"ok":4,"failed":0,"retried":1,"skipped":0,"not_started":0}'
	run jq -c '.workers[0] | {tasks, failed, restarts}' stats.json
	assert_output '{"tasks":4,"failed":0,"restarts":1}'
}

@test "--stats=FILE: a worker that never came up has a null spawn time" {
	# The second spec cannot be run at all (exit 127): it is given up.  It
	# speaks the spool protocol, so no task is sent to it before its
	# spawn answer (that never comes).
	write_pool pool.json "{\"workers\": [
		{\"name\": \"good\", \"cmd\": [\"$WW\"]},
		{\"name\": \"bad\", \"protocol\": \"spool\", \"cmd\": [\"sh\", \"-c\", \"exit 127\"]}]}"
	seq_tasks 3 >tasks.ndjson
	run --separate-stderr spool run -w pool.json --stats=stats.json tasks.ndjson
	assert_equal "$(jq -c '.tasks' stats.json)" '{"read":3,"ok":3,"failed":0,"retried":0,"skipped":0,"not_started":0}'
	run jq -c '.workers[1] | {name, replica, tasks, spawn_s, spawn_result}' stats.json
	assert_output '{"name":"bad","replica":0,"tasks":0,"spawn_s":null,"spawn_result":null}'
	run jq -c '.workers[0] | {name, tasks, spawn_s: (.spawn_s | type)}' stats.json
	assert_output '{"name":"good","tasks":3,"spawn_s":"number"}'
	on_stderr assert_line --regexp '^spool: bad#0 +0 +0 +[0-9]+ +- +-$'
}

@test "--stats=FILE with no tasks: zeros, valid JSON" {
	: >empty.ndjson
	run --separate-stderr spool run -c "$WW" -j 1 --stats=stats.json empty.ndjson
	assert_success
	run jq -c '[.tasks, .tasks_per_s, .latency_s]' stats.json
	assert_output '[{"read":0,"ok":0,"failed":0,"retried":0,"skipped":0,"not_started":0},0,{"p50":0,"p90":0,"p99":0,"max":0}]'
}

@test "--stats prints the summary on stderr only and writes no file" {
	mkdir work
	seq_tasks 5 >work/tasks.ndjson
	cd work
	run --separate-stderr spool run -c "$WW" -j 1 --stats tasks.ndjson
	assert_success
	# stdout holds the results and nothing else.
	assert_equal "$output" "$(cat tasks.ndjson)"
	on_stderr assert_line --regexp '^spool: 5 tasks: 5 ok, 0 failed, 0 retried, 0 skipped, 0 not started in '
	on_stderr assert_line --regexp '^spool: latency p50 '
	on_stderr assert_line --regexp '^spool: ww.py#0 +5 +0 +0 '
	assert_equal "$(ls)" "tasks.ndjson"
}

@test "without --stats there is no summary" {
	seq_tasks 3 >tasks.ndjson
	run --separate-stderr spool run -c "$WW" -j 1 tasks.ndjson
	assert_success
	assert_equal "$stderr" ""
}

@test "--stats=FILE --quiet writes the JSON and prints nothing" {
	seq_tasks 3 >tasks.ndjson
	run --separate-stderr spool run -c "$WW" -j 1 --quiet --stats=stats.json tasks.ndjson
	assert_success
	assert_equal "$stderr" ""
	run jq -c '.tasks' stats.json
	assert_output '{"read":3,"ok":3,"failed":0,"retried":0,"skipped":0,"not_started":0}'
}

@test "--stats=FILE replaces an earlier file" {
	seq_tasks 2 >tasks.ndjson
	printf '%0500d\n' 0 >stats.json
	run --separate-stderr spool run -c "$WW" -j 1 --stats=stats.json tasks.ndjson
	assert_success
	run jq -c '.tasks.read' stats.json
	assert_output 2
}

@test "--stats= with an empty file name is a usage error" {
	run --separate-stderr spool run -c cat --stats= /dev/null
	assert_equal "$status" 2
	on_stderr assert_output --partial "--stats"
}

@test "--stats=FILE that cannot be written is refused before any work" {
	seq_tasks 2 >tasks.ndjson
	run --separate-stderr spool run -c "$WW" -j 1 --stats=no/such/dir/s.json tasks.ndjson
	# Found out at the start, not after hours of work: exit 2, no task run.
	assert_failure 2
	assert_equal "${#lines[@]}" 0
	on_stderr assert_line --partial "no/such/dir/s.json: cannot write --stats"
}
