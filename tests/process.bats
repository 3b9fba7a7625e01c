#!/usr/bin/env bats
# process.bats - worker processes (SPEC 6): only descriptors 0, 1, 2, their
# own process group, and spool's exit statuses 0 / 1 / 2 / 3.

bats_require_minimum_version 1.5.0

load test_helper
load helpers/core

setup() {
	T=$BATS_TEST_TMPDIR
	cd "$T" || return 1
}

teardown() {
	# Let a spool still held by a test see the end of its input.
	exec 6>&- 2>/dev/null || true
	if [[ -n ${SPID-} ]]; then
		kill "$SPID" 2>/dev/null || true
		wait "$SPID" 2>/dev/null || true
	fi
}

# start_held ARGS... : start `spool run ARGS... - later.ndjson` in the
# background, reading a fifo the test holds open on fd 6, with extra
# descriptors of its own open (7, 8 and 9, not close-on-exec), and wait
# until its three workers exist.  Sets SPID.
start_held() {
	mkfifo in
	printf '{"x":2}\n' >later.ndjson
	(
		exec 7</dev/null 8>"$T/extra" 9<"$T/later.ndjson"
		exec "$SPOOL" run "$@" --failed "$T/failed" - "$T/later.ndjson" <in >out 2>err
	) 3>&- &
	SPID=$!
	exec 6>in
	printf '{"x":1}\n' >&6
	wait_for 20 lines_at_least 1 out
	wait_for 20 workers_up 3
	# The descriptors the workers must not get are open in spool.
	[[ -e /proc/$SPID/fd/7 && -e /proc/$SPID/fd/8 && -e /proc/$SPID/fd/9 ]] ||
		fail "spool was not started with descriptors 7, 8 and 9"
}

# worker_pids : spool's children, but for its guard process.
worker_pids() {
	ps --ppid "$SPID" -o pid=,comm= | awk '$2 != "spool-guard" { print $1 }'
}

workers_up() {
	(($(worker_pids | wc -l) == $1))
}

# finish_held : end the held spool's input; it must exit 0.
finish_held() {
	exec 6>&-
	local rc=0
	wait "$SPID" || rc=$?
	SPID=
	assert_equal "$rc" 0
	assert_equal "$(cat out)" "$(printf '{"x":1}\n{"x":2}')"
}

@test "each worker gets exactly descriptors 0, 1 and 2" {
	write_pool pool.json '{"workers": [{"cmd": ["cat"], "replicas": 3}]}'
	start_held -w pool.json
	local pid fds
	for pid in $(worker_pids); do
		fds=$(ls "/proc/$pid/fd" | sort -n | paste -sd' ')
		assert_equal "$fds" "0 1 2"
	done
	# ... and they are its own pipes, not spool's stdin, stdout or stderr.
	for pid in $(worker_pids); do
		local fd
		for fd in 0 1 2; do
			[[ $(readlink "/proc/$pid/fd/$fd") == pipe:* ]] ||
				fail "worker $pid fd $fd is $(readlink "/proc/$pid/fd/$fd")"
			[[ $(readlink "/proc/$pid/fd/$fd") != "$(readlink "/proc/$SPID/fd/$fd")" ]] ||
				fail "worker $pid shares spool's fd $fd"
		done
	done
	finish_held
}

@test "a worker sees only its three descriptors from the inside too" {
	# The worker lists its own descriptors, without a shell in between.
	write_pool pool.json "{\"workers\": [{\"name\": \"fds\", \"replicas\": 3,
		\"cmd\": [\"python3\", \"-c\", \"import os, sys; fds = sorted(int(f) for f in os.listdir('/proc/self/fd') if os.path.exists('/proc/self/fd/' + f)); sys.stderr.write(' '.join(map(str, fds)) + '\\\\n'); sys.stderr.flush(); os.execvp('cat', ['cat'])\"]}]}"
	exec 7</dev/null 8>"$T/extra"
	run --separate-stderr spool run -w pool.json - <<<'{"x":1}'
	exec 7<&- 8>&-
	assert_success
	assert_output '{"x":1}'
	# os.listdir's own descriptor is gone by the time it is checked.
	on_stderr assert_line '[fds#0] 0 1 2'
	on_stderr assert_line '[fds#1] 0 1 2'
	on_stderr assert_line '[fds#2] 0 1 2'
}

@test "each worker is in its own process group" {
	write_pool pool.json '{"workers": [{"cmd": ["cat"], "replicas": 3}]}'
	start_held -w pool.json
	local spool_pgid pid pgid
	spool_pgid=$(ps -o pgid= -p "$SPID" | tr -d ' ')
	for pid in $(worker_pids); do
		pgid=$(ps -o pgid= -p "$pid" | tr -d ' ')
		assert_equal "$pgid" "$pid"
		assert_not_equal "$pgid" "$spool_pgid"
	done
	finish_held
}

# ---------------------------------------------------------- exit status

@test "exit 0 when every task succeeded" {
	seq_tasks 20 >tasks.ndjson
	run --separate-stderr spool run -c cat -j 2 tasks.ndjson
	assert_success
	assert_equal "${#lines[@]}" 20
	assert_equal "$stderr" ""
}

@test "exit 1 when a task failed: a bad line, or a worker that died on it" {
	printf '{"x":1}\nnope\n' >bad.ndjson
	run --separate-stderr spool run -c cat -j 1 bad.ndjson
	assert_failure 1
	printf '{"x":1}\n{"x":2,"die":9}\n{"x":3}\n' >die.ndjson
	run --separate-stderr spool run -k -r 0 -c "$WORKER_PY" -j 1 die.ndjson
	assert_failure 1
	assert_output "$(printf '{"x":1}\n{"x":3}')"
	on_stderr assert_line --regexp '^spool: die\.ndjson:2: failed: .*exited with status 9'
}

@test "exit 2 for a usage error, a config error or an unreadable input" {
	run --separate-stderr spool run -c cat -j 0
	assert_failure 2
	write_pool pool.json '{"workers": []}'
	run --separate-stderr spool run -w pool.json </dev/null
	assert_failure 2
	run --separate-stderr spool run -c cat nosuch.ndjson
	assert_failure 2
}

# no_workers_left TASKS-FILE ARGS... : spool cannot start any worker:
# exit 3, every task failed (in --failed and --tag), those never tried
# as "no workers left"; with NO_TRY set, that is every task.
no_workers_left() {
	local tasks=$1
	shift
	run --separate-stderr spool run --tag -k --failed "$T/failed" "$@" "$tasks"
	assert_failure 3
	on_stderr assert_line --regexp '^spool: no workers left'
	local n
	n=$(grep -c . "$tasks")
	assert_equal "${#lines[@]}" "$n"
	jq -se --argjson n "$n" '[.[].seq] == [range(1; $n + 1)]
		and all(.[]; (.error.message | type) == "string" and (has("result") | not))
		and all(.[]; .error.attempts > 0 or .error.message == "no workers left")' \
		<<<"$output" >/dev/null || fail "not every task failed: $output"
	if [[ -n ${NO_TRY-} ]]; then
		jq -se 'all(.[]; .error.message == "no workers left" and .error.attempts == 0)' \
			<<<"$output" >/dev/null || fail "a task was tried: $output"
	fi
	assert_equal "$(sort failed)" "$(sort "$tasks")"
	rm -f failed
}

@test "exit 3 when no worker can start: a command that does not exist" {
	seq_tasks 5 >tasks.ndjson
	write_pool abs.json '{"workers": [{"cmd": ["/nonexistent/worker"], "replicas": 2}]}'
	NO_TRY=1 no_workers_left tasks.ndjson -w abs.json
	on_stderr assert_line --partial "/nonexistent/worker"
	write_pool path.json '{"workers": [{"cmd": ["no-such-spool-worker"]}]}'
	NO_TRY=1 no_workers_left tasks.ndjson -w path.json
	on_stderr assert_line --partial "no-such-spool-worker"
	no_workers_left tasks.ndjson -c 'no-such-spool-worker --flag' -j 2
	# A command that is not executable.
	printf '#!/bin/sh\nexec cat\n' >notexec.sh
	chmod -x notexec.sh
	write_pool noexec.json '{"workers": [{"cmd": ["./notexec.sh"]}]}'
	NO_TRY=1 no_workers_left tasks.ndjson -w noexec.json
}

@test "exit 3 when every worker dies at start until its spec is given up" {
	seq_tasks 3 >tasks.ndjson
	write_pool pool.json '{"workers": [{"name": "crash", "cmd": ["sh", "-c", "echo crashing >&2; exit 1"]}]}'
	no_workers_left tasks.ndjson -w pool.json
	on_stderr assert_line --regexp '^spool: giving up on worker "crash"'
	on_stderr assert_line '[crash#0] crashing'
}

@test "exit 3 wins over 1; 2 wins over 3" {
	printf '{"x":1}\nnot json\n' >tasks.ndjson
	run --separate-stderr spool run -c 'no-such-spool-worker' -j 1 tasks.ndjson
	assert_failure 3
	on_stderr assert_line --regexp '^spool: tasks\.ndjson:2: invalid JSON'
	# An unreadable input is found before any worker is tried.
	run --separate-stderr spool run -c 'no-such-spool-worker' -j 1 tasks.ndjson nosuch.ndjson
	assert_failure 2
	on_stderr refute_line --partial "no workers left"
}

@test "exit 0, not 3, when one spec cannot start but another runs every task" {
	seq_tasks 10 >tasks.ndjson
	write_pool pool.json '{"workers": [{"cmd": ["/nonexistent/worker"]}, {"cmd": ["cat"]}]}'
	run --separate-stderr spool run -k -w pool.json tasks.ndjson
	# Every task succeeded on cat; the run is not failed.
	assert_output "$(cat tasks.ndjson)"
	assert_success
	on_stderr assert_line --regexp '^spool: giving up on worker "worker"'
}

@test "a usage or config error leaves the caller's descriptors as they were" {
	# A non-blocking stdin pipe (as some callers hand down) must keep its
	# flags when spool stops before running anything.
	run python3 - "$SPOOL" <<'PY'
import fcntl, os, subprocess, sys
r, w = os.pipe()
fcntl.fcntl(r, fcntl.F_SETFL, fcntl.fcntl(r, fcntl.F_GETFL) | os.O_NONBLOCK)
for args in (["run", "-c", "cat", "no-such-input"], ["run", "-w", "no-such-pool.json"]):
    p = subprocess.run([sys.argv[1]] + args, stdin=r, capture_output=True)
    assert p.returncode == 2, (args, p.returncode)
    assert fcntl.fcntl(r, fcntl.F_GETFL) & os.O_NONBLOCK, ("flags lost", args)
print("kept")
PY
	assert_success
	assert_output kept
}
