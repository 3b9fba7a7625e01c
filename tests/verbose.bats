#!/usr/bin/env bats
# verbose.bats - -v and --quiet (SPEC section 2 and 7): with -v a line per
# worker event (spawned with its pid, ready with spawn time and result,
# exited with its status, restarting, recycled, given up); --quiet leaves
# only errors; the two together are a usage error.

bats_require_minimum_version 1.5.0

load test_helper
load helpers/watch

setup() {
	cd "$BATS_TEST_TMPDIR"
}

# pids_in PATTERN : the pids of the stderr lines matching the ERE (one
# capture group around the pid), in order.
pids_in() {
	printf '%s\n' "${stderr_lines[@]}" | sed -nE "s/$1/\\1/p"
}

@test "-v: spawned with its pid, ready, exited with its status" {
	write_pool pool.json "{\"workers\": [{\"name\": \"w\", \"cmd\": [\"$WW\"], \"replicas\": 2}]}"
	seq_tasks 4 >tasks.ndjson
	WW_PIDS=$PWD/pids run --separate-stderr spool run -w pool.json -v tasks.ndjson
	assert_success
	assert_equal "${#lines[@]}" 4
	local w pid
	for w in 'w#0' 'w#1'; do
		on_stderr assert_line --regexp "^spool: worker $w spawned \\(pid [0-9]+\\)$"
		pid=$(pids_in "^spool: worker $w spawned \\(pid ([0-9]+)\\)$")
		# The pid is the worker's own.
		grep -qx "$pid" pids || fail "$w: pid $pid is not one of: $(cat pids)"
		on_stderr assert_line --regexp "^spool: worker $w \\(pid $pid\\) ready in [0-9.]+[a-z]+$"
		on_stderr assert_line "spool: worker $w (pid $pid) exited with status 0"
	done
	# Nothing else: no restart, no failure.
	assert_equal "${#stderr_lines[@]}" 6
}

@test "-v: ready reports the spawn time and the spawn result" {
	write_pool pool.json "{\"workers\": [{\"name\": \"rpc\", \"protocol\": \"spool\",
		\"cmd\": [\"$WW\", \"--proto\", \"spool\"], \"spawn\": {\"gpu_ids\": [0, 1]}}]}"
	seq_tasks 2 >tasks.ndjson
	run --separate-stderr spool run -w pool.json -v tasks.ndjson
	assert_success
	on_stderr assert_line --regexp '^spool: worker rpc#0 \(pid [0-9]+\) ready in [0-9.]+(us|ms|s): \{"gpu_ids":\[0,1\]\}$'
}

@test "-v: a worker that died is restarting, then spawned again" {
	printf '{"x":1,"kill":true,"once":"%s/died"}\n{"x":2}\n' "$PWD" >tasks.ndjson
	write_pool pool.json "{\"workers\": [{\"name\": \"w\", \"cmd\": [\"$WW\"]}]}"
	WW_PIDS=$PWD/pids run --separate-stderr spool run -w pool.json -v tasks.ndjson
	assert_success
	local -a spawned
	mapfile -t spawned < <(pids_in '^spool: worker w#0 spawned \(pid ([0-9]+)\)$')
	assert_equal "${#spawned[@]}" 2
	assert_equal "$(printf '%s\n' "${spawned[@]}")" "$(cat pids)"
	on_stderr assert_line --regexp "^spool: worker w#0 \\(pid ${spawned[0]}\\) killed by signal 9 \\(SIGKILL\\)"
	on_stderr assert_line --regexp '^spool: tasks.ndjson:1: attempt 1 of 3 failed .*; retrying$'
	on_stderr assert_line --regexp '^spool: worker w#0 restarting in [0-9.]+s$'
	on_stderr assert_line "spool: worker w#0 (pid ${spawned[1]}) exited with status 0"
}

@test "-v: a worker is recycled after max_tasks tasks" {
	write_pool pool.json "{\"workers\": [{\"name\": \"w\", \"cmd\": [\"$WW\"], \"max_tasks\": 2}]}"
	seq_tasks 5 >tasks.ndjson
	WW_PIDS=$PWD/pids run --separate-stderr spool run -w pool.json -v tasks.ndjson
	assert_success
	assert_equal "${#lines[@]}" 5
	# 2 + 2 + 1 tasks: three processes, two recycled.
	assert_equal "$(wc -l <pids)" 3
	assert_equal "$(printf '%s\n' "${stderr_lines[@]}" | grep -c 'spool: worker w#0 recycled after 2 tasks$')" 2
	assert_equal "$(pids_in '^spool: worker w#0 spawned \(pid ([0-9]+)\)$')" "$(cat pids)"
	on_stderr refute_line --partial "restarting"
}

@test "-v: a spec whose spawns keep failing is given up" {
	write_pool pool.json "{\"workers\": [{\"name\": \"bad\", \"protocol\": \"spool\",
		\"cmd\": [\"sh\", \"-c\", \"echo cannot start >&2; exit 1\"]}]}"
	seq_tasks 2 >tasks.ndjson
	run --separate-stderr spool run -w pool.json -v tasks.ndjson
	assert_equal "$status" 3
	assert_equal "$(printf '%s\n' "${stderr_lines[@]}" | grep -c '^spool: worker bad#0 spawned (pid [0-9]*)$')" 5
	# The backoff doubles between attempts.
	assert_equal "$(pids_in '^spool: worker bad#0 restarting in ([0-9.]+s)$' | tr '\n' ' ')" "0.1s 0.2s 0.4s 0.8s "
	on_stderr assert_line "spool: worker bad#0 given up"
}

@test "without -v there is no worker event line" {
	write_pool pool.json "{\"workers\": [{\"name\": \"w\", \"cmd\": [\"$WW\"], \"max_tasks\": 2}]}"
	seq_tasks 5 >tasks.ndjson
	run --separate-stderr spool run -w pool.json tasks.ndjson
	assert_success
	assert_equal "$stderr" ""
}

@test "--quiet: errors are still printed, spool's other messages are not" {
	seq_tasks 3 >tasks.ndjson
	spool run -c "$WW" -j 1 --joblog jl.tsv tasks.ndjson >/dev/null
	# A malformed joblog row is worth a message, not an error.
	local n
	n=$(awk -F '\t' '$1 == 2 { print NR }' jl.tsv)
	sed -i "${n}s/\tok\t.*//" jl.tsv
	printf 'not json\n' >>tasks.ndjson
	run --separate-stderr spool run -c "$WW" -j 1 --joblog jl.tsv --resume tasks.ndjson
	assert_equal "$status" 1
	on_stderr assert_line --partial "jl.tsv:$n: "
	on_stderr assert_line --partial "tasks.ndjson:4: invalid JSON"
	# The same with --quiet: only the error.
	n=$(awk -F '\t' '$1 == 2 && $7 == "ok" { print NR }' jl.tsv)
	sed -i "${n}s/\tok\t.*//" jl.tsv
	run --separate-stderr spool run -c "$WW" -j 1 --joblog jl.tsv --resume --quiet tasks.ndjson
	assert_equal "$status" 1
	assert_equal "${#stderr_lines[@]}" 1
	on_stderr assert_line --index 0 --partial "tasks.ndjson:4: invalid JSON"
}

@test "--quiet: a failing worker is still reported" {
	printf '{"x":1,"kill":true}\n' >tasks.ndjson
	run --separate-stderr spool run -c "$WW" -j 1 -r 0 --quiet tasks.ndjson
	# Its only task killed it: no worker ever finished one (exit 3).
	assert_equal "$status" 3
	on_stderr assert_line --partial "tasks.ndjson:1: failed"
}

@test "-v with --quiet is a usage error" {
	run --separate-stderr spool run -c cat -v --quiet /dev/null
	assert_equal "$status" 2
	assert_equal "$output" ""
	on_stderr assert_output --partial "--quiet"
	run --separate-stderr spool run -c cat --quiet --verbose /dev/null
	assert_equal "$status" 2
}
