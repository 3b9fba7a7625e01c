#!/usr/bin/env bats
# faults.bats - SPEC section 6: workers that crash, hang, lie or never come
# up.  Every scenario checks that nothing read is lost or duplicated (the
# output and --failed together hold each input line exactly once), the
# exit status and what spool says on stderr.  The workers are fixtures in
# tests/fixtures/faults (fw.py does one fault per option).

bats_require_minimum_version 1.5.0

load test_helper
load helpers/faults

setup() {
	cd "$BATS_TEST_TMPDIR" || return 1
}

# spool_t ARGS... : spool, killed if it runs past SPOOL_T seconds (20), so
# a hang fails the test instead of stalling the suite.
spool_t() {
	timeout -k 2 "${SPOOL_T:-20}" "$SPOOL" "$@"
}

# count_matching ERE : how many lines of the last run's stderr match.
count_matching() {
	grep -cE -- "$1" <<<"$stderr" || true
}

# ------------------------------------------------------------------ #
# Workers that exit after a random number of tasks                    #

@test "lines worker exiting after a random number of tasks: every task answered once, restarts logged" {
	seq_tasks 120 >tasks.ndjson
	fw_pool pool.json lines ',"replicas":2' --crash 3:10
	run --separate-stderr spool_t run -w pool.json tasks.ndjson
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" >out
	same_set tasks.ndjson out
	# Each death: label name#i, pid and exit status; nothing else said.
	local deaths
	deaths=$(count_matching '^spool: worker fw#[01] \(pid [0-9]+\) exited with status 7$')
	((deaths >= 10))
	[ "$deaths" -eq "$(wc -l <<<"$stderr")" ]
}

@test "lines worker exiting at random, -k --tag: results in input order, one envelope per task" {
	seq_tasks 120 >tasks.ndjson
	fw_pool pool.json lines ',"replicas":2' --crash 3:10
	run --separate-stderr spool_t run -w pool.json -k --tag tasks.ndjson
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" >out
	diff <(jq -r .seq out) <(seq 1 120)
	diff <(tag_results out) tasks.ndjson
	(($(count_matching 'exited with status 7$') >= 10))
}

@test "a fast lines worker with a deep window dying while its answers pile up: every task answered once, in order" {
	# inflight 64 and fast answers written one by one: spool reads them
	# in batches on a timer, not as each comes; deaths land between.
	seq_tasks 6000 >tasks.ndjson
	fw_pool pool.json lines ',"replicas":2,"inflight":64' --crash 500:1500
	run --separate-stderr spool_t run -w pool.json -k tasks.ndjson
	[ "$status" -eq 0 ]
	diff <(printf '%s\n' "$output") tasks.ndjson
	(($(count_matching 'exited with status 7$') >= 3))
}

@test "spool-protocol worker exiting at random: every task answered once" {
	# Each death charges every task in flight (at most 4 here).  A
	# requeued task can land on the other worker just before it dies
	# too, so give tasks room: -r 10 makes running out of attempts
	# (11 deaths with the same task in flight) practically impossible.
	seq_tasks 120 >tasks.ndjson
	fw_pool pool.json spool ',"replicas":2' --crash 5:15
	run --separate-stderr spool_t run -w pool.json --inflight 4 -r 10 tasks.ndjson
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" >out
	same_set tasks.ndjson out
	local deaths
	deaths=$(count_matching '^spool: worker fw#[01] \(pid [0-9]+\) exited with status 7$')
	((deaths >= 5))
	[ "$deaths" -eq "$(wc -l <<<"$stderr")" ]

	run --separate-stderr spool_t run -w pool.json --inflight 4 -k --tag tasks.ndjson
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" >out
	diff <(jq -r .seq out) <(seq 1 120)
	diff <(tag_results out) tasks.ndjson
}

@test "Python SDK worker exiting at random: every task answered once, in order with -k" {
	seq_tasks 150 >tasks.ndjson
	write_pool pool.json "{\"workers\":[{\"name\":\"sdk\",\"protocol\":\"spool\",\"replicas\":2,
		\"cmd\":[\"python3\",\"$FAULTS/sdk_crashy.py\",\"crash\",\"5\",\"15\"]}]}"
	run --separate-stderr spool_t run -w pool.json --inflight 4 -k tasks.ndjson
	[ "$status" -eq 0 ]
	diff <(printf '%s\n' "$output") tasks.ndjson
	(($(count_matching '^spool: worker sdk#[01] \(pid [0-9]+\) exited with status 7$') >= 5))
}

# ------------------------------------------------------------------ #
# A poison task that kills its worker every time                      #

# poison_setup : 40 tasks, line 20 poisoned, one lines worker that dies
# on it (appending to count) and logs every task it receives (log).
poison_setup() {
	tasks_with 40 tasks.ndjson poison 20
	grep -v poison tasks.ndjson >healthy.ndjson
	grep poison tasks.ndjson >poison.ndjson
	fw_pool pool.json lines '' --poison poison --count count --log log
}

@test "poison task, -r 0: one attempt, FILE:LINE and the signal named, the rest succeed, exit 1" {
	poison_setup
	run --separate-stderr spool_t run -w pool.json -r 0 --failed failed tasks.ndjson
	[ "$status" -eq 1 ]
	printf '%s\n' "$output" >out
	same_set healthy.ndjson out
	diff failed poison.ndjson
	[ "$(nlines count)" -eq 1 ]
	[ "$(count_matching '^spool: tasks\.ndjson:20: failed: worker fw#0 \(pid [0-9]+\) killed by signal 9 \(SIGKILL\)$')" -eq 1 ]
	[ "$(count_matching 'tasks\.ndjson:[0-9]+: ')" -eq 1 ]
	accounted tasks.ndjson out failed
}

@test "poison task, default retries: 3 attempts, then it fails; --failed reruns exactly it" {
	poison_setup
	run --separate-stderr spool_t run -w pool.json --failed failed tasks.ndjson
	[ "$status" -eq 1 ]
	printf '%s\n' "$output" >out
	same_set healthy.ndjson out
	diff failed poison.ndjson
	[ "$(nlines count)" -eq 3 ]
	[ "$(count_matching '^spool: tasks\.ndjson:20: failed after 3 attempts: worker fw#0 \(pid [0-9]+\) killed by signal 9 \(SIGKILL\)$')" -eq 1 ]
	[ "$(count_matching 'tasks\.ndjson:[0-9]+: ')" -eq 1 ]
	[ "$(count_matching '^spool: worker fw#0 \(pid [0-9]+\) killed by signal 9 \(SIGKILL\)')" -eq 3 ]
	accounted tasks.ndjson out failed

	# The --failed file is a valid input: it runs the poison task only.
	rm -f log count
	run --separate-stderr spool_t run -w pool.json -r 0 --failed failed2 failed
	# Alone, the poison task never lets a worker finish a task: exit 3.
	[ "$status" -eq 3 ]
	[ -z "$output" ]
	diff <(cut -f2 log) poison.ndjson
	diff failed2 poison.ndjson
	[ "$(count_matching '^spool: failed:1: failed: worker fw#0 .*killed by signal 9')" -eq 1 ]
}

@test "poison task, --tag: an error envelope for it, a result for every other task" {
	poison_setup
	run --separate-stderr spool_t run -w pool.json --tag tasks.ndjson
	[ "$status" -eq 1 ]
	printf '%s\n' "$output" >out
	tag_complete 40 out
	diff <(tag_results out | sort) <(sort healthy.ndjson)
	run jq -c 'select(has("error")) | [.seq, .error.attempts, .error.worker]' out
	[ "$output" = '[20,3,"fw#0"]' ]
	jq -r 'select(has("error")) | .error.message' out | grep -q 'killed by signal 9'
}

@test "poison task, spool protocol, inflight 2, -r 5: 6 charged attempts, then it fails; every other task succeeds" {
	# When the poison kills a worker with a neighbour in flight, neither
	# is charged: both run again alone, and only the poison, alone when
	# its worker dies, is charged from then on.
	tasks_with 40 tasks.ndjson poison 20
	grep -v poison tasks.ndjson >healthy.ndjson
	fw_pool pool.json spool '' --poison poison --count count
	run --separate-stderr spool_t run -w pool.json -r 5 --inflight 2 --failed failed tasks.ndjson
	[ "$status" -eq 1 ]
	printf '%s\n' "$output" >out
	same_set healthy.ndjson out
	grep poison tasks.ndjson | diff failed -
	# 6 charged deaths, and at most one before them that it shared.
	[ "$(nlines count)" -ge 6 ] && [ "$(nlines count)" -le 7 ]
	[ "$(count_matching '^spool: tasks\.ndjson:20: failed after 6 attempts: worker fw#0 \(pid [0-9]+\) killed by signal 9 \(SIGKILL\)$')" -eq 1 ]
	[ "$(count_matching 'tasks\.ndjson:[0-9]+: ')" -eq 1 ]
}

@test "blame: one poison task among 200 with inflight 4 costs no neighbour an attempt" {
	tasks_with 200 tasks.ndjson poison 100
	grep -v poison tasks.ndjson >healthy.ndjson
	fw_pool pool.json spool '' --poison poison --count count
	run --separate-stderr spool_t run -w pool.json -r 1 --inflight 4 --tag tasks.ndjson
	[ "$status" -eq 1 ]
	printf '%s\n' "$output" >out
	tag_complete 200 out
	# Only the poison failed; every other task succeeded at its first
	# charged attempt.
	[ "$(jq -c 'select(has("error")) | .seq' out)" = 100 ]
	same_set <(tag_results out) healthy.ndjson
	[ "$(jq -c 'select(has("error")) | .error.attempts' out)" = 2 ]
}

@test "blame with inflight 16: suspects run alone, each on an idle worker" {
	tasks_with 60 tasks.ndjson poison 30
	grep -v poison tasks.ndjson >healthy.ndjson
	fw_pool pool.json spool ',"replicas":2' --poison poison --count count --log log
	run --separate-stderr spool_t run -v -w pool.json -r 0 --inflight 16 --failed failed tasks.ndjson
	[ "$status" -eq 1 ]
	printf '%s\n' "$output" >out
	same_set healthy.ndjson out
	grep poison tasks.ndjson | diff failed -
	[ "$(nlines count)" -le 2 ]
	grep -q 'tasks in flight: each runs again alone' <<<"$stderr"
}

@test "poison task, -r 5, first task of every fresh lines worker: 6 attempts, the rest succeed" {
	# Each retry kills a fresh worker before it finishes a task.  That
	# looks like a failed spawn, but the task already killed a worker that
	# was serving fine: it is the task's fault, and the spec must not be
	# given up (which would fail every other task "no workers left").
	poison_setup
	run --separate-stderr spool_t run -w pool.json -r 5 --failed failed tasks.ndjson
	[ "$status" -eq 1 ]
	printf '%s\n' "$output" >out
	same_set healthy.ndjson out
	diff failed poison.ndjson
	[ "$(nlines count)" -eq 6 ]
	[ "$(count_matching '^spool: tasks\.ndjson:20: failed after 6 attempts: worker fw#0 \(pid [0-9]+\) killed by signal 9 \(SIGKILL\)$')" -eq 1 ]
	[ "$(count_matching 'giving up|no workers left')" -eq 0 ]
	accounted tasks.ndjson out failed
}

# ------------------------------------------------------------------ #
# Which tasks a death charges                                         #

@test "lines protocol: a death charges only the oldest task in flight" {
	seq_tasks 10 >tasks.ndjson
	fw_pool pool.json lines '' --hold 4 --once once
	run --separate-stderr spool_t run -w pool.json -r 0 --inflight 4 --failed failed tasks.ndjson
	[ "$status" -eq 1 ]
	printf '%s\n' "$output" >out
	diff failed <(seq_tasks 1)
	same_set <(seq_tasks 9 2) out
	[ "$(count_matching '^spool: tasks\.ndjson:1: failed: worker fw#0 \(pid [0-9]+\) killed by signal 9 \(SIGKILL\)$')" -eq 1 ]
	[ "$(count_matching 'tasks\.ndjson:[0-9]+: ')" -eq 1 ]
}

@test "spool protocol: a death with several tasks in flight charges none; each runs again alone" {
	seq_tasks 10 >tasks.ndjson
	fw_pool pool.json spool '' --hold 4 --once once --log log
	run --separate-stderr spool_t run -w pool.json -r 0 --inflight 4 --failed failed tasks.ndjson
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" >out
	same_set out tasks.ndjson
	[ ! -s failed ]
	[ "$(count_matching '^spool: worker fw#0 \(pid [0-9]+\) killed by signal 9')" -eq 1 ]
	[ "$(count_matching 'tasks\.ndjson:[0-9]+: ')" -eq 0 ]
	# The four it held were each sent twice: once together, once alone.
	local i
	for i in 1 2 3 4; do
		[ "$(grep -c "\"x\":$i}" log)" -eq 2 ]
	done

	rm -f once
	run --separate-stderr spool_t run -w pool.json -r 0 --inflight 4 --tag tasks.ndjson
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" >out
	tag_complete 10 out
	[ "$(jq -c 'select(has("error")) | .seq' out | wc -l)" -eq 0 ]
}

@test "spool protocol: charged tasks are retried and succeed" {
	seq_tasks 10 >tasks.ndjson
	fw_pool pool.json spool '' --hold 4 --once once
	run --separate-stderr spool_t run -w pool.json --inflight 4 -k tasks.ndjson
	[ "$status" -eq 0 ]
	diff <(printf '%s\n' "$output") tasks.ndjson
	[ "$(count_matching '^spool: worker fw#0 \(pid [0-9]+\) killed by signal 9 \(SIGKILL\)')" -eq 1 ]
}

# ------------------------------------------------------------------ #
# Task timeouts                                                       #

# hang_check PROTO ARGS... : 8 tasks, the first hangs for ever; -r 0.
hang_check() {
	local proto=$1
	shift
	tasks_with 8 tasks.ndjson hang 1
	grep -v hang tasks.ndjson >healthy.ndjson
	fw_pool pool.json "$proto" "${POOL_EXTRA:-}" --hang hang --count count "$@"
	run --separate-stderr spool_t run -w pool.json -r 0 --inflight 3 --failed failed \
		${TIMEOUT_FLAG:--t 0.5} tasks.ndjson
	echo "status $status; stderr: $stderr" >&2
	[ "$status" -eq 1 ]
	printf '%s\n' "$output" >out
	# The tasks in flight behind it were requeued uncharged (with -r 0 a
	# charge would have failed them).
	same_set healthy.ndjson out
	grep hang tasks.ndjson | diff failed -
	[ "$(nlines count)" -eq 1 ]
	[ "$(count_matching '^spool: tasks\.ndjson:1: failed: worker fw#0 \(pid [0-9]+\) stopped: task tasks\.ndjson:1 timed out after 0\.5s$')" -eq 1 ]
	[ "$(count_matching 'tasks\.ndjson:[0-9]+: ')" -eq 1 ]
	accounted tasks.ndjson out failed
	none_alive count
}

@test "timeout -t 0.5, spool protocol: the hung worker is killed and replaced, only its task charged" {
	SPOOL_T=10 hang_check spool
}

@test "timeout -t 0.5, lines protocol: the hung worker is killed and replaced, only its task charged" {
	SPOOL_T=10 hang_check lines
}

@test "timeout from the pool config's \"timeout\" key" {
	SPOOL_T=10 POOL_EXTRA=',"timeout":0.5' TIMEOUT_FLAG=' ' hang_check spool
}

@test "timeout: a worker that ignores SIGTERM gets SIGKILL" {
	SPOOL_T=12 hang_check spool --ignore-term termed
	# It was sent SIGTERM (and ignored it) before it was killed.
	diff termed count
}

@test "timeout: the clock does not run while the worker starts" {
	seq_tasks 5 >tasks.ndjson
	fw_pool pool.json spool '' --spawn-delay 1
	run --separate-stderr spool_t run -w pool.json -r 0 -t 0.5 tasks.ndjson
	[ "$status" -eq 0 ]
	same_set tasks.ndjson <(printf '%s\n' "$output")
	[ -z "$stderr" ]

	fw_pool pool.json lines ',"ready":"line"' --spawn-delay 1 --ready-line
	run --separate-stderr spool_t run -w pool.json -r 0 -t 0.5 tasks.ndjson
	[ "$status" -eq 0 ]
	same_set tasks.ndjson <(printf '%s\n' "$output")
	[ -z "$stderr" ]
}

@test "timeout: --tag gives the timed-out task an error envelope" {
	tasks_with 8 tasks.ndjson hang 1
	fw_pool pool.json spool '' --hang hang
	run --separate-stderr spool_t run -w pool.json -r 0 -t 0.5 --tag tasks.ndjson
	[ "$status" -eq 1 ]
	printf '%s\n' "$output" >out
	tag_complete 8 out
	jq -r 'select(.seq == 1) | .error.message' out | grep -q 'timed out after 0.5s'
}

# ------------------------------------------------------------------ #
# Workers that lie or go deaf                                         #

@test "garbage on stdout (spool protocol): protocol error logged, worker restarted, nothing lost" {
	seq_tasks 30 >tasks.ndjson
	fw_pool pool.json spool '' --garbage-after 5 --once once
	run --separate-stderr spool_t run -w pool.json --inflight 3 tasks.ndjson
	[ "$status" -eq 0 ]
	same_set tasks.ndjson <(printf '%s\n' "$output")
	[ "$(count_matching '^spool: worker fw#0 \(pid [0-9]+\) stopped: protocol error: .*; it wrote: this is not JSON$')" -eq 1 ]
	[ "$(wc -l <<<"$stderr")" -eq 1 ]
	# A fresh process took over.
	[ "$(sort -u once | wc -l)" -eq 1 ]
}

@test "a worker that closes stdout but keeps running is killed and replaced" {
	seq_tasks 30 >tasks.ndjson
	local proto
	for proto in lines spool; do
		rm -f once count
		fw_pool pool.json "$proto" '' --close-after 5 --once once --count count
		run --separate-stderr spool_t run -w pool.json --inflight 3 tasks.ndjson
		[ "$status" -eq 0 ]
		same_set tasks.ndjson <(printf '%s\n' "$output")
		[ "$(count_matching '^spool: worker fw#0 \(pid [0-9]+\) stopped: closed its stdout while running$')" -eq 1 ]
		[ "$(nlines count)" -eq 1 ]
		none_alive count
	done
}

# ------------------------------------------------------------------ #
# Spawn failures                                                      #

# gave_up N : stderr says the spec fw was given up after 5 failed spawns
# and that N tasks failed with "no workers left".
gave_up() {
	[ "$(count_matching '^spool: giving up on worker "fw" \(workers\[0\] in pool\.json\): 5 failed spawns in a row$')" -eq 1 ]
	[ "$(count_matching '^spool: no workers left')" -ge 1 ]
	[ "$(count_matching "^spool: $1 tasks failed with \"no workers left\"\$")" -eq 1 ]
}

@test "spawn failure: exits before ready; stderr tail logged; given up after 5; exit 3" {
	seq_tasks 8 >tasks.ndjson
	fw_pool pool.json spool '' --spawn-exit 4
	run --separate-stderr spool_t run -w pool.json --failed failed --tag tasks.ndjson
	[ "$status" -eq 3 ]
	printf '%s\n' "$output" >out
	# Its stderr is shown as it comes; the report names its last line.
	[ "$(count_matching '^spool: worker fw#0 \(pid [0-9]+\) exited with status 4 while starting \(its last stderr line: fw: cannot load the model.*\)$')" -eq 5 ]
	[ "$(count_matching '^\[fw#0\] fw: cannot load the model')" -eq 5 ]
	[ "$(count_matching '^  \| ')" -eq 0 ]
	gave_up 8
	same_set failed tasks.ndjson
	tag_complete 8 out
	[ "$(jq -r .error.message out | sort -u)" = "no workers left" ]
}

@test "spawn failure: an error answer to spawn; given up after 5; exit 3" {
	seq_tasks 8 >tasks.ndjson
	fw_pool pool.json spool '' --spawn-error no-GPU-here
	run --separate-stderr spool_t run -w pool.json --failed failed tasks.ndjson
	[ "$status" -eq 3 ]
	[ -z "$output" ]
	[ "$(count_matching '^spool: worker fw#0 \(pid [0-9]+\) spawn failed: no-GPU-here')" -eq 5 ]
	gave_up 8
	same_set failed tasks.ndjson
}

@test "spawn failure: not ready within startup_timeout; given up after 5; exit 3" {
	seq_tasks 8 >tasks.ndjson
	fw_pool pool.json spool ',"startup_timeout":0.3' --spawn-hang
	run --separate-stderr spool_t run -w pool.json --failed failed tasks.ndjson
	[ "$status" -eq 3 ]
	[ -z "$output" ]
	# (On a loaded machine a worker may be stopped before it wrote its
	# stderr line: the tail is shown when there is one.)
	[ "$(count_matching '^spool: worker fw#0 \(pid [0-9]+\) stopped: not ready after 0\.3s \(startup_timeout\) while starting$')" -eq 5 ]
	[ "$(count_matching '^\[fw#0\] fw: warming up for ever$')" -ge 1 ]
	gave_up 8
	same_set failed tasks.ndjson
}

@test "spawn failure: startup_timeout also applies to a silent worker after a restart" {
	seq_tasks 3 >tasks.ndjson
	write_pool pool.json '{"workers":[{"name":"fw","cmd":["sleep","30"],"ready":"line","startup_timeout":0.3}]}'
	SPOOL_T=10 run --separate-stderr spool_t run -w pool.json --failed failed tasks.ndjson
	echo "status $status; stderr: $stderr" >&2
	[ "$status" -eq 3 ]
	[ "$(count_matching '^spool: worker fw#0 \(pid [0-9]+\) stopped: not ready after 0\.3s \(startup_timeout\) while starting$')" -eq 5 ]
	gave_up 3
	same_set failed tasks.ndjson
}

@test "spawn failure: dies before finishing its first task (false); tasks charged; given up; exit 3" {
	seq_tasks 8 >tasks.ndjson
	write_pool pool.json '{"workers":[{"name":"fw","cmd":["false"]}]}'
	run --separate-stderr spool_t run -w pool.json --failed failed --tag tasks.ndjson
	[ "$status" -eq 3 ]
	printf '%s\n' "$output" >out
	[ "$(count_matching '^spool: worker fw#0 \(pid [0-9]+\) exited with status 1; it had not finished a task yet \(a spawn failure\)$')" -eq 5 ]
	# Each death charged the oldest task in flight; as the spec never
	# finished a task, a charged task waits behind the others, so five
	# different tasks were tried once each: the worker is at fault, and
	# no task ran out of attempts.
	[ "$(count_matching 'failed after')" -eq 0 ]
	gave_up 8
	same_set failed tasks.ndjson
	tag_complete 8 out
	[ "$(jq -c 'select(.error.attempts == 1) | .seq' out | wc -l)" -eq 5 ]
}

@test "spawn failure: a worker whose import crashes; traceback tail logged; exit 3" {
	seq_tasks 4 >tasks.ndjson
	write_pool pool.json '{"workers":[{"name":"fw","protocol":"spool",
		"cmd":["python3","-c","import spool_no_such_module_here"]}]}'
	run --separate-stderr spool_t run -w pool.json --failed failed tasks.ndjson
	[ "$status" -eq 3 ]
	[ -z "$output" ]
	[ "$(count_matching "^spool: worker fw#0 \\(pid [0-9]+\\) exited with status 1 while starting \\(its last stderr line: ModuleNotFoundError: No module named 'spool_no_such_module_here'\\)\$")" -eq 5 ]
	[ "$(count_matching "^\\[fw#0\\] ModuleNotFoundError")" -eq 5 ]
	gave_up 4
	same_set failed tasks.ndjson
}

@test "spawn failure counts reset when a task finishes: a worker crashing after each task runs on" {
	# Five deaths in a row, each after finishing a task, are not failed
	# spawns: the spec is not given up.
	seq_tasks 8 >tasks.ndjson
	fw_pool pool.json lines '' --crash 1:1
	run --separate-stderr spool_t run -w pool.json tasks.ndjson
	[ "$status" -eq 0 ]
	same_set tasks.ndjson <(printf '%s\n' "$output")
	[ "$(count_matching 'exited with status 7$')" -ge 7 ]
	[ "$(count_matching 'giving up')" -eq 0 ]
}

# ------------------------------------------------------------------ #
# Programs that cannot run at all                                     #

@test "a worker program that does not exist: named, exit 3" {
	seq_tasks 4 >tasks.ndjson
	write_pool pool.json '{"workers":[{"cmd":["/nonexistent/spool-prog"]}]}'
	run --separate-stderr spool_t run -w pool.json --failed failed tasks.ndjson
	[ "$status" -eq 3 ]
	[ -z "$output" ]
	[ "$(count_matching '^spool: worker spool-prog#0: cannot run /nonexistent/spool-prog: No such file or directory$')" -eq 1 ]
	same_set failed tasks.ndjson

	write_pool pool.json '{"workers":[{"cmd":["spool-no-such-program-on-path"]}]}'
	run --separate-stderr spool_t run -w pool.json tasks.ndjson
	[ "$status" -eq 3 ]
	[ "$(count_matching '^spool: worker spool-no-such-program-on-path#0: cannot run spool-no-such-program-on-path: No such file or directory$')" -eq 1 ]
}

@test "a worker program that is not executable: named, exit 3" {
	seq_tasks 4 >tasks.ndjson
	printf '#!/bin/sh\nexec cat\n' >noexec.sh
	chmod 644 noexec.sh
	write_pool pool.json '{"workers":[{"cmd":["./noexec.sh"]}]}'
	run --separate-stderr spool_t run -w pool.json tasks.ndjson
	[ "$status" -eq 3 ]
	[ -z "$output" ]
	[ "$(count_matching '^spool: worker noexec\.sh#0: cannot run .*noexec\.sh: Permission denied$')" -eq 1 ]
}

@test "-c with a command that is not found or not executable: named, exit 3" {
	seq_tasks 4 >tasks.ndjson
	run --separate-stderr spool_t run -c 'spool-no-such-program --flag' -j 2 --failed failed tasks.ndjson
	[ "$status" -eq 3 ]
	[ -z "$output" ]
	grep -q 'spool-no-such-program: not found' <<<"$stderr"
	grep -qE '^spool: worker spool-no-such-program#[01] \(pid [0-9]+\) exited with status 127 \(command not found\)' <<<"$stderr"
	same_set failed tasks.ndjson

	printf '#!/bin/sh\nexec cat\n' >noexec.sh
	chmod 644 noexec.sh
	run --separate-stderr spool_t run -c ./noexec.sh -j 1 tasks.ndjson
	[ "$status" -eq 3 ]
	grep -qE 'exited with status 126 \(command not executable\)' <<<"$stderr"
}

@test "-c with a command that is not found is given up at its first exit, every time" {
	# The engine gives a spec up at once on exit status 127/126 before a
	# first task; that must not depend on whether the stdout hang-up or
	# the exit is seen first.
	seq_tasks 4 >tasks.ndjson
	local i
	for i in 1 2 3 4 5 6 7 8 9 10; do
		run --separate-stderr spool_t run -c 'spool-no-such-program' -j 1 tasks.ndjson
		[ "$status" -eq 3 ]
		echo "run $i: $stderr" >&2
		[ "$(count_matching 'exited with status 127')" -eq 1 ]
		[ "$(count_matching 'giving up on worker .*: its command cannot be run')" -eq 1 ]
	done
}

# ------------------------------------------------------------------ #
# max_tasks recycling                                                 #

@test "max_tasks: no worker process handles more than N tasks; the old one exits by itself" {
	seq_tasks 30 >tasks.ndjson
	fw_pool pool.json lines ',"replicas":2,"max_tasks":3' --log log
	SPOOL_T=10 run --separate-stderr spool_t run -w pool.json -v tasks.ndjson
	echo "status $status; stderr: $stderr" >&2
	[ "$status" -eq 0 ]
	same_set tasks.ndjson <(printf '%s\n' "$output")
	# Per process (pid), at most 3 tasks; all 30 were received once.
	[ "$(cut -f1 log | sort | uniq -c | awk '$1 > 3' | wc -l)" -eq 0 ]
	[ "$(cut -f1 log | sort -u | wc -l)" -ge 10 ]
	same_set tasks.ndjson <(cut -f2 log)
	# Graceful: each old process ended on EOF with status 0, never killed.
	[ "$(count_matching 'killed by signal')" -eq 0 ]
	[ "$(count_matching '^spool: worker fw#[01] \(pid [0-9]+\) exited with status 0 \(recycled\)$')" -ge 8 ]
}

# ------------------------------------------------------------------ #
# --strict                                                            #

@test "tasks that come back after the input ended start again the workers that ended, not only the one that died" {
	# w#1 answers its share and ends at the end of input; then w#0 dies
	# holding a window of tasks: they are suspects, and both workers
	# start again to run them.
	write_pool pool.json "{\"workers\": [{\"name\": \"w\", \"replicas\": 2,
		\"inflight\": 8,
		\"cmd\": [\"$FAULTS/die_after_peer.py\", \"$PWD\"]}]}"
	{
		echo '{"die":1}'
		seq_tasks 40
	} >tasks.ndjson
	run --separate-stderr spool_t run -v -w pool.json tasks.ndjson
	assert_success
	same_set <(printf '%s\n' "$output") tasks.ndjson
	[ -e died ]
	# The worker that ended at the end of input started again for them
	# (the one that died waits out its backoff).
	local ended
	ended=$(grep -m1 -oE 'worker w#[01] \(pid [0-9]+\) exited with status 0' \
		<<<"$stderr" | cut -d' ' -f2)
	[ -n "$ended" ]
	(($(count_matching "^spool: worker $ended spawned") == 2)) || {
		echo "$stderr" >&2
		false
	}
}

@test "--strict: the first failure stops reading; tasks in flight finish; exit 1" {
	# Line 2 gets an error answer at once; 1, 3 and 4 are in flight and
	# answered after it.  -q 8: tasks 5-8 are read, never started; the
	# other 92 are never read.
	tasks_with 100 tasks.ndjson bad 2
	fw_pool pool.json spool '' --error bad --strict-hold 4 --log log
	run --separate-stderr spool_t run -w pool.json --strict --inflight 4 -q 8 --failed failed tasks.ndjson
	[ "$status" -eq 1 ]
	printf '%s\n' "$output" >out
	same_set out <(seq_tasks 1; seq_tasks 2 3)
	same_set failed <(sed -n '2p;5,8p' tasks.ndjson)
	[ "$(nlines log)" -eq 4 ]
	[ "$(count_matching '^spool: tasks\.ndjson:2: error from fw#0: bad task$')" -eq 1 ]
	[ "$(count_matching '^spool: --strict: stopped at the first failure; 4 tasks not started$')" -eq 1 ]
	# ok + failed = read (8).
	[ $(($(nlines out) + $(nlines failed))) -eq 8 ]

	run --separate-stderr spool_t run -w pool.json --strict --inflight 4 -q 8 --tag tasks.ndjson
	[ "$status" -eq 1 ]
	printf '%s\n' "$output" >out
	tag_complete 8 out
}

@test "--strict also stops a run whose input was all read already" {
	# 10 tasks fit in the window, so the input is read to its end before
	# the first answer: the failure must still stop what is not started.
	seq 10 >tasks.txt
	run --separate-stderr spool_t run --raw --strict -r 0 -j 1 --inflight 1 \
		-c 'while read l; do [ "$l" = 3 ] && exit 1; echo "$l"; done' tasks.txt
	[ "$status" -eq 1 ]
	[ "$output" = "$(printf '1\n2')" ]
	[ "$(count_matching '^spool: --strict: stopped at the first failure; 7 tasks not started$')" -eq 1 ]
}

@test "two poison tasks at the start of a one-worker run do not give the spec up" {
	# Both kill a fresh worker; until the spec has finished a task, a
	# charged task waits behind the others, so task 3 proves the worker
	# can work and the poison tasks alone fail.
	printf '{"bad":1}\n{"bad":2}\n{"x":3}\n{"x":4}\n{"x":5}\n' >tasks.ndjson
	run --separate-stderr spool_t run -j 1 \
		-c 'while read l; do case $l in *bad*) kill -SEGV $$;; esac; echo "$l"; done' tasks.ndjson
	[ "$status" -eq 1 ]
	same_set <(printf '%s\n' "$output") <(printf '{"x":3}\n{"x":4}\n{"x":5}\n')
	[ "$(count_matching 'giving up')" -eq 0 ]
	[ "$(count_matching '^spool: tasks\.ndjson:[12]: failed after 3 attempts')" -eq 2 ]
}

@test "a spec given up for one bad replica keeps its good one, and a run that finishes exits 0" {
	# Replica 1 can never start; replica 0 serves every task.  Giving
	# the spec up must not stop replica 0, nor make the run exit 3.
	# Replica 0 holds its first task until the spec has been given up
	# (a gate file), so the give-up happens mid-run; max_tasks then
	# recycles replica 0 too.
	write_pool pool.json "{\"workers\":[{\"name\":\"rep\",\"replicas\":2,\"ready\":\"line\",
		\"cmd\":[\"sh\",\"-c\",\"[ {replica} = 1 ] && exit 1; echo up; read l; until [ -e '$PWD/gate' ]; do sleep 0.05; done; echo \\\"\$l\\\"; exec cat\"],
		\"max_tasks\":2}]}"
	seq_tasks 6 >tasks.ndjson
	"$SPOOL" run -w pool.json -k tasks.ndjson >out 2>err 3>&- &
	local pid=$!
	wait_for 30 grep -q '^spool: giving up on worker "rep"' err
	touch gate
	local status=0
	wait "$pid" || status=$?
	[ "$status" -eq 0 ]
	diff out tasks.ndjson
	[ "$(grep -c '^spool: giving up on worker "rep"' err)" -eq 1 ]
	! grep -q 'no workers left' err
}

@test "timeout, spool protocol: a task queued behind others on its worker is not charged for the wait" {
	# Four tasks of 0.4 s go to one worker at once (--inflight 4); it runs
	# them one after another.  Timed from the send, the third and fourth
	# would pass -t 1; timed from when they become the oldest, none does.
	for i in 1 2 3 4; do printf '{"x":%d,"sleep":0.4}\n' "$i"; done >tasks.ndjson
	cat >sleeper.py <<'PY'
import time, spool_worker
class W(spool_worker.Worker):
    def execute(self, task):
        time.sleep(task["sleep"])
        return task
spool_worker.run(W)
PY
	write_pool pool.json "{\"workers\":[{\"cmd\":[\"python3\",\"$PWD/sleeper.py\"],\"protocol\":\"spool\"}]}"
	run --separate-stderr spool_t run -w pool.json --inflight 4 -t 1 -r 0 tasks.ndjson
	[ "$status" -eq 0 ]
	same_set <(printf '%s\n' "$output") tasks.ndjson
}
