#!/usr/bin/env bats
# nest.bats - a pool as one worker of another (SPEC section 9): a
# `spool serve` on stdin/stdout speaks the spool protocol, so a spec
#   {"cmd": ["spool", "serve", "-w", "node.json"], "protocol": "spool",
#    "inflight": 256}
# makes a whole pool one worker.  Tasks go through exactly once and in
# order with -k, through two and three levels; an inner worker's crash is
# retried inside; an inner serve killed is retried by the outer; SIGTERM
# of the outer spool leaves nothing running.

bats_require_minimum_version 1.5.0

load test_helper
load helpers/faults
load helpers/hygiene

LW="$FIXTURES/serve/lines_worker.py"

setup() {
	T=$BATS_TEST_TMPDIR
	cd "$T" || return 1
}

teardown() {
	hyg_teardown
}

# node_pool FILE REPLICAS INNER [INFLIGHT] : a pool of REPLICAS workers,
# each a `spool serve -w INNER` (the spool protocol, INFLIGHT tasks in
# flight, 256 by default).
node_pool() {
	write_pool "$1" "{\"workers\":[{\"name\":\"node\",\"cmd\":[\"$SPOOL\",\"serve\",\"-w\",\"$T/$3\"],\"protocol\":\"spool\",\"inflight\":${4:-256},\"replicas\":$2}]}"
}

# inner_serves PID : the pids of the `spool serve` workers of spool PID.
inner_serves() {
	ps -o pid=,comm=,args= --ppid "$1" | awk '$2 == "spool" && $4 == "serve" { print $1 }'
}

@test "two levels: every task exactly once, in input order with -k" {
	write_pool cat.json '{"workers":[{"name":"cat","cmd":["cat"],"replicas":2}]}'
	node_pool outer.json 2 cat.json
	seq_tasks 20000 >tasks.ndjson
	run -0 --separate-stderr spool_t run -w outer.json -k --stats=stats.json tasks.ndjson
	[[ $output == "$(cat tasks.ndjson)" ]]
	jq -e '.tasks.ok == 20000 and .tasks.failed == 0' stats.json
	# And in completion order: the same set.
	spool_t run -w outer.json tasks.ndjson >any.ndjson
	same_set tasks.ndjson any.ndjson
}

@test "three levels: every task exactly once, in input order with -k" {
	write_pool cat.json '{"workers":[{"name":"cat","cmd":["cat"],"replicas":2}]}'
	node_pool mid.json 2 cat.json
	node_pool top.json 2 mid.json
	seq_tasks 20000 >tasks.ndjson
	run -0 --separate-stderr spool_t run -w top.json -k tasks.ndjson
	[[ $output == "$(cat tasks.ndjson)" ]]
}

@test "an inner worker that crashes is retried inside: the outer sees no failure and no retry" {
	# The inner worker exits at the task "crash" the first time it sees it.
	write_pool crashy.json "{\"workers\":[{\"name\":\"crashy\",\"replicas\":2,\"cmd\":[\"sh\",\"-c\",
		\"while read -r l; do case \$l in *crash*) [ -e $T/crashed ] || { touch $T/crashed; exit 1; };; esac; echo \\\"\$l\\\"; done\"]}]}"
	node_pool outer.json 1 crashy.json
	tasks_with 500 tasks.ndjson crash 250
	run -0 --separate-stderr spool_t run -w outer.json -k --stats=stats.json tasks.ndjson
	[[ $output == "$(cat tasks.ndjson)" ]]
	[[ -e crashed ]]
	# The inner spool said so on its stderr, passed on with its label.
	on_err assert_output --partial 'crashy#'
	on_err assert_output --regexp 'exited with status 1'
	jq -e '.tasks.retried == 0 and .tasks.failed == 0' stats.json
	jq -e '.workers[0].restarts == 0' stats.json
}

@test "an inner serve killed: the outer retries its tasks, each still answered once" {
	# Each inner pool holds 50 tasks (its workers take all they get), the
	# outer the other 100.
	write_pool node.json "{\"workers\":[{\"name\":\"lw\",\"replicas\":2,\"inflight\":64,\"cmd\":[\"python3\",\"$LW\",\"--log\",\"$T/log\",\"--gate\",\"$T/gate\"]}]}"
	node_pool outer.json 2 node.json 50
	seq_tasks 200 >tasks.ndjson
	start_bg -- run -w outer.json -k --stats=stats.json tasks.ndjson
	wait_for 20 file_has_lines log 100
	inner_serves "$SPID" >inner
	[[ $(nlines inner) -eq 2 ]]
	local victim
	victim=$(head -1 inner)
	descendants "$victim" >victim.tree
	kill -KILL "$victim"
	touch gate
	finish
	[[ $STATUS -eq 0 ]]
	cmp tasks.ndjson out
	jq -e '.tasks.ok == 200 and .tasks.failed == 0' stats.json
	# The 50 tasks the killed pool held were sent again, once each (a
	# worker that dies before it finished a task is a spawn failure: its
	# tasks are requeued, uncharged as suspects).
	assert_equal "$(sort log | uniq -d | wc -l)" 50
	assert_equal "$(nlines log)" 250
	# The killed serve's own workers did not outlive it.
	wait_for 10 none_alive victim.tree
}

@test "SIGTERM of the outer spool leaves nothing running: inner serves and their workers" {
	write_pool node.json "{\"workers\":[{\"name\":\"lw\",\"replicas\":2,\"inflight\":64,\"cmd\":[\"python3\",\"$LW\",\"--log\",\"$T/log\",\"--gate\",\"$T/never\"]}]}"
	node_pool outer.json 2 node.json 25
	seq_tasks 50 >tasks.ndjson
	start_bg -- run -w outer.json tasks.ndjson
	# Every task is held by an inner worker.
	wait_for 20 file_has_lines log 50
	descendants "$SPID" >tree
	# The outer's two serves, theirs guards and their four workers.
	(($(nlines tree) >= 8))
	kill -TERM "$SPID"
	finish
	[[ $STATUS -eq 143 ]]
	wait_for 10 none_alive tree
}
