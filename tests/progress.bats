#!/usr/bin/env bats
# progress.bats - --progress (SPEC section 7): the live status line on
# stderr, drawn by default on a terminal, cleared at exit, never mixed
# with other stderr lines.  A terminal is a pseudo-terminal from script(1);
# screen.py shows what it would display at the end.

bats_require_minimum_version 1.5.0

load test_helper
load helpers/watch

SCREEN="$FIXTURES/watch/screen.py"

teardown() {
	open_gate
}

setup() {
	cd "$BATS_TEST_TMPDIR"
	command -v script >/dev/null || skip "script(1) (bsdutils) is not installed"
}

# on_tty COMMAND : run the shell command with a pseudo-terminal as its
# stdin, stdout and stderr; everything it shows goes to the file tty.out.
# The command's exit status is returned.
on_tty() {
	script -qfec "$1" /dev/null </dev/null >tty.out
}

# gated_tasks N K : N tasks; task K tells when it starts (file started)
# and waits for the file gate.
gated_tasks() {
	local i
	for ((i = 1; i <= $1; i++)); do
		if ((i == $2)); then
			printf '{"x":%d,"started":"%s/started","wait":"%s/gate"}\n' "$i" "$PWD" "$PWD"
		else
			printf '{"x":%d}\n' "$i"
		fi
	done
}

# STATUS: the progress line with a known total of 5.
STATUS='spool: [0-9]+/5 [0-9]+% [0-9.]+/s ETA [^ ]+( \| [0-9]+ failed)? \| [0-9]+/1 workers up'

@test "on a terminal the progress line is drawn by default, redrawn, and cleared at exit" {
	gated_tasks 5 3 >tasks.ndjson
	on_tty '"$SPOOL" run -c "$WW" -j 1 tasks.ndjson >out' 3>&- &
	local pid=$!
	wait_for 30 test -e started
	# Two tasks are done while the third blocks: the line says so.
	wait_for 30 grep -qE 'spool: 2/5 40% [0-9.]+/s ETA [^ ]+ \| 1/1 workers up' tty.out
	touch gate
	wait "$pid"
	assert_equal "$(wc -l <out)" 5
	run grep -cE "$STATUS" tty.out
	assert_success
	# Nothing is left on the screen: the line was erased at exit.
	run python3 "$SCREEN" tty.out
	assert_output ""
}

@test "the progress line counts failures" {
	printf '{"x":1}\nnot json\n' >tasks.ndjson
	gated_tasks 3 3 | tail -n 3 >>tasks.ndjson
	on_tty '"$SPOOL" run -c "$WW" -j 1 tasks.ndjson >out' 3>&- &
	local pid=$!
	wait_for 30 test -e started
	wait_for 30 grep -qE 'spool: 4/5 80% .* \| 1 failed \| 1/1 workers up' tty.out
	touch gate
	wait "$pid" || true
	# The failure's message stays on the screen, whole, on its own line.
	run python3 "$SCREEN" tty.out
	assert_line --regexp '^spool: tasks.ndjson:2: invalid JSON'
	refute_line --partial "workers up"
}

@test "without a terminal nothing is drawn by default" {
	seq_tasks 5 >tasks.ndjson
	run --separate-stderr spool run -c "$WW" -j 1 tasks.ndjson
	assert_success
	assert_equal "$stderr" ""
}

@test "--progress draws the line even when stderr is not a terminal" {
	gated_tasks 5 3 >tasks.ndjson
	"$SPOOL" run -c "$WW" -j 1 --progress tasks.ndjson >out 2>err 3>&- &
	local pid=$!
	wait_for 30 test -e started
	wait_for 30 grep -qE 'spool: 2/5 40%' err
	touch gate
	wait "$pid"
	grep -qE "$STATUS" err || fail "no progress line in: $(cat -A err)"
	# Cleared at exit: the last thing written is the erase sequence.
	assert_equal "$(tail -c 4 err | od -An -c | tr -s ' ')" ' \r 033 [ K'
	run python3 "$SCREEN" err
	assert_output ""
}

@test "--no-progress: no progress line on a terminal" {
	gated_tasks 5 0 >tasks.ndjson
	on_tty '"$SPOOL" run -c "$WW" -j 1 --no-progress tasks.ndjson >out'
	assert_equal "$(wc -l <out)" 5
	run grep -c 'workers up' tty.out
	assert_output 0
	run grep -c $'\033' tty.out
	assert_output 0
}

@test "--quiet: no progress line on a terminal" {
	gated_tasks 5 0 >tasks.ndjson
	on_tty '"$SPOOL" run -c "$WW" -j 1 --quiet tasks.ndjson >out'
	assert_equal "$(wc -l <out)" 5
	run grep -c 'workers up' tty.out
	assert_output 0
	run grep -c $'\033' tty.out
	assert_output 0
}

@test "input from a pipe: the total is unknown" {
	gated_tasks 5 3 >tasks.ndjson
	on_tty 'cat tasks.ndjson | "$SPOOL" run -c "$WW" -j 1 >out' 3>&- &
	local pid=$!
	wait_for 30 test -e started
	wait_for 30 grep -qE 'spool: 2 done [0-9.]+/s \| 1/1 workers up' tty.out
	touch gate
	wait "$pid"
	assert_equal "$(wc -l <out)" 5
	# No N/TOTAL, no percentage, no ETA anywhere.
	run grep -cE 'spool: [0-9]+/[0-9]+ |%|ETA' tty.out
	assert_output 0
}

@test "stdin redirected from a regular file: the total is known" {
	gated_tasks 5 3 >tasks.ndjson
	on_tty '"$SPOOL" run -c "$WW" -j 1 <tasks.ndjson >out' 3>&- &
	local pid=$!
	wait_for 30 test -e started
	wait_for 30 grep -qE 'spool: 2/5 40%' tty.out
	touch gate
	wait "$pid"
	assert_equal "$(wc -l <out)" 5
}

@test "worker stderr lines are never mixed with the progress line" {
	local i
	{
		for i in 1 2 3; do
			printf '{"x":%d,"stderr":"line %d of the worker"}\n' "$i" "$i"
		done
		# Half a line, then (after a redraw) the rest of it.
		printf '{"x":4,"stderr_head":"first half,","started":"%s/started",' "$PWD"
		printf '"wait":"%s/gate","stderr":" second half"}\n' "$PWD"
		for i in 5 6; do
			printf '{"x":%d,"stderr":"line %d of the worker"}\n' "$i" "$i"
		done
	} >tasks.ndjson
	on_tty '"$SPOOL" run -c "$WW" -j 1 tasks.ndjson >out' 3>&- &
	local pid=$!
	wait_for 30 test -e started
	# The line is drawn again while half of the worker's line is pending.
	local draws
	draws=$(grep -o 'workers up' tty.out | wc -l)
	wait_for 30 eval '(($(grep -o "workers up" tty.out | wc -l) > draws))'
	touch gate
	wait "$pid"
	run python3 "$SCREEN" tty.out
	assert_equal "${#lines[@]}" 6
	assert_line --index 0 '[ww.py#0] line 1 of the worker'
	assert_line --index 1 '[ww.py#0] line 2 of the worker'
	assert_line --index 2 '[ww.py#0] line 3 of the worker'
	assert_line --index 3 '[ww.py#0] first half, second half'
	assert_line --index 4 '[ww.py#0] line 5 of the worker'
	assert_line --index 5 '[ww.py#0] line 6 of the worker'
	# Each was written as a whole line: erase, the line, newline.
	run grep -c $'\r\033\\[K\\[ww.py#0\\] line 2 of the worker\r$' tty.out
	assert_output 1
}
