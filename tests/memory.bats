#!/usr/bin/env bats
# memory.bats - spool's memory stays bounded (SPEC 2, -q): millions of tasks
# through fast workers, and -k with a first task that holds everything up.

bats_require_minimum_version 1.5.0

load test_helper
load helpers/core

LIMIT_KB=$((64 * 1024))

setup() {
	T=$BATS_TEST_TMPDIR
	cd "$T" || return 1
}

teardown() {
	if [[ -n ${PIPE_PID-} ]]; then
		[[ -e $T/rep.pid ]] && kill "$(cat "$T/rep.pid")" 2>/dev/null
		wait "$PIPE_PID" 2>/dev/null || true
	fi
}

# check_report FILE : spool exited 0 and its peak RSS was under the limit.
check_report() {
	local hwm maxrss rc
	read -r _ hwm _ maxrss _ rc <"$1"
	assert_equal "$rc" 0
	echo "# spool VmHWM ${hwm} kB; with its workers at most ${maxrss} kB" >&3
	((hwm > 0)) || fail "spool's VmHWM was never read"
	((hwm < LIMIT_KB)) || fail "spool's peak RSS ${hwm} kB is over 64 MiB"
	# wait4's figure also covers the workers, so it bounds spool's peak
	# including the moments between two polls.
	((maxrss < LIMIT_KB)) || fail "peak RSS ${maxrss} kB is over 64 MiB"
}

@test "2 million tasks through cat workers: spool's peak RSS stays under 64 MiB" {
	seq_tasks 2000000 >tasks.ndjson
	run --separate-stderr bash -c '"$CORE_FIXTURES/measure.py" rep "$SPOOL" run -c cat -j 2 tasks.ndjson |
		awk -F"[:}]" "{ n++; s += \$2 } END { printf \"%d %.0f\n\", n, s }"'
	assert_success
	assert_equal "$stderr" ""
	# Every task came back once: 2e6 lines, x summing to n(n+1)/2.
	assert_output "2000000 2000001000000"
	check_report rep
}

@test "2 million tasks with -k: spool's peak RSS stays under 64 MiB" {
	seq_tasks 2000000 >tasks.ndjson
	run --separate-stderr bash -c '"$CORE_FIXTURES/measure.py" rep "$SPOOL" run -k -c cat -j 2 tasks.ndjson | cksum'
	assert_success
	assert_output "$(cksum <tasks.ndjson)"
	check_report rep
}

# stalled : spool and all its workers are blocked, waiting.
stalled() {
	sleeping "$SPID" $(pgrep -P "$SPID")
}

# input_pos PID FD : the file offset of descriptor FD of PID.
input_pos() {
	awk '$1 == "pos:" { print $2 }' "/proc/$1/fdinfo/$2"
}

@test "-k with a blocked first task: reading stalls and memory stays bounded" {
	# 200000 tasks of about 500 bytes (100 MB); the first blocks its worker
	# until the test writes to a fifo, so with -k nothing can be written
	# out and spool must stop reading at its window.
	awk 'BEGIN {
		pad = sprintf("%480s", ""); gsub(/ /, "a", pad)
		printf "{\"x\":1,\"wait\":true,\"pad\":\"%s\"}\n", pad
		for (i = 2; i <= 200000; i++) printf "{\"x\":%d,\"pad\":\"%s\"}\n", i, pad
	}' >tasks.ndjson
	mkfifo release
	local size
	size=$(stat -c %s tasks.ndjson)
	# A worker answers each line at once, except the first task, which
	# waits for a line on the fifo; the other marks that it has been busy.
	local worker="$AWK_LINES -v f='$T/release' -v m='$T/busy' '
		/\"wait\"/ { getline go < f; close(f) }
		{ print; fflush() }
		++n == 100 { printf \"\" > m; close(m) }'"
	"$CORE_FIXTURES/measure.py" rep "$SPOOL" run -k -c "$worker" -j 2 tasks.ndjson 2>err 3>&- |
		awk -F'[:,]' 'NR != $2 { bad++ } END { print NR, bad + 0 }' >result 3>&- &
	PIPE_PID=$!
	wait_for 20 test -s rep.pid
	SPID=$(cat rep.pid)
	wait_for 30 test -e busy
	wait_for 30 stalled

	# Stalled: spool has read only about its window of the input ...
	local fd pos=
	for fd in "/proc/$SPID/fd"/*; do
		[[ $(readlink "$fd") == "$T/tasks.ndjson" ]] && pos=$(input_pos "$SPID" "${fd##*/}")
	done
	# (Closed: spool read all of it.)
	[[ -n $pos ]] || fail "spool read all of tasks.ndjson while stalled"
	echo "# stalled at input offset $pos of $size; VmRSS $(vm_kb "$SPID" VmRSS) kB" >&3
	((pos < size / 10)) || fail "spool read $pos of $size bytes while stalled"
	# ... and holds little memory.
	(($(vm_kb "$SPID" VmHWM) < LIMIT_KB)) || fail "VmHWM $(vm_kb "$SPID" VmHWM) kB while stalled"

	# Release the first task; everything completes, in input order.
	exec 5<>release
	echo go >&5
	exec 5>&-
	wait "$PIPE_PID"
	PIPE_PID=
	assert_equal "$(cat result)" "200000 0"
	assert_equal "$(cat err)" ""
	check_report rep
}
