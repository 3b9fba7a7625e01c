#!/usr/bin/env bats
# firstcontact.bats - what a new user meets first (SPEC sections 2, 4.1,
# 6, 7): spool check that tells a worker that died from one that is up,
# a lines worker that says too much, -c commands that reach the shell as
# typed, -p, -j with -w, --dry-run, and the hints of the command line.

bats_require_minimum_version 1.5.0

load test_helper
load helpers/faults
load helpers/watch
load helpers/hygiene

setup() {
	T=$BATS_TEST_TMPDIR
	cd "$T" || return 1
}

teardown() {
	hyg_teardown
}

# ------------------------------------------------------------------ #
# spool check                                                         #

@test "spool check: a lines worker that exits at once did not come up (false, a failed import): exit 3" {
	write_pool false.json '{"workers":[{"cmd":["false"]}]}'
	run --separate-stderr spool_t check -w false.json
	echo "stdout: $output; stderr: $stderr" >&2
	[ "$status" -eq 3 ]
	[[ $output =~ ^false#0$'\t'pid\ [0-9]+$'\t'FAILED:\ exited\ with\ status\ 1 ]]

	write_pool import.json "{\"workers\":[{\"cmd\":[\"python3\",\"$HYG/import_error.py\"]}]}"
	run --separate-stderr spool_t check -w import.json
	echo "stdout: $output; stderr: $stderr" >&2
	[ "$status" -eq 3 ]
	[[ ${lines[0]} =~ ^python3#0$'\t'pid\ [0-9]+$'\t'FAILED: ]]
	# Why: the traceback's last line.
	grep -q "ModuleNotFoundError: No module named 'spool_no_such_module'" <<<"$output"
}

@test "spool check -c 'cat' -j 2: both workers ready, exit 0, as with -w" {
	run --separate-stderr spool_t check -c cat -j 2
	echo "stdout: $output; stderr: $stderr" >&2
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	[[ ${lines[0]} =~ ^cat#0$'\t'pid\ [0-9]+$'\t'ready ]]
	[[ ${lines[1]} =~ ^cat#1$'\t'pid\ [0-9]+$'\t'ready ]]
	local c=$output

	write_pool cat.json '{"workers":[{"cmd":["cat"],"replicas":2}]}'
	run --separate-stderr spool_t check -w cat.json
	[ "$status" -eq 0 ]
	# The same report but for the pids.
	[ "$(sed 's/pid [0-9]*/pid N/' <<<"$output")" = "$(sed 's/pid [0-9]*/pid N/' <<<"$c")" ]
}

# ------------------------------------------------------------------ #
# -c and -p                                                           #

@test "a lines worker that writes a line with no task in flight (a banner): said, and the run does not exit 0" {
	seq_tasks 3 >tasks.ndjson
	run --separate-stderr spool_t run -c 'echo banner; cat' -j 1 tasks.ndjson
	echo "status $status; stderr: $stderr" >&2
	[ "$status" -ne 0 ]
	[ "$(err_count 'no task in flight')" -ge 1 ]
}

@test "-c reaches the shell as typed: jq's {name} and the shell's \${name}" {
	command -v jq >/dev/null || skip "jq is not installed"
	run --separate-stderr spool_t run -c 'jq -c --unbuffered "{name}"' -j 1 <<<'{"name":"ann","x":1}'
	[ "$status" -eq 0 ]
	[ "$output" = '{"name":"ann"}' ]

	run --separate-stderr spool_t run -k -c 'while read -r t; do echo "${name:-unset} {name}"; name=typed; done' -j 1 <<<$'{"x":1}\n{"x":2}'
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'unset {name}\ntyped {name}')" ]
}

@test "-p spool runs the Python SDK square worker given by -c" {
	seq_tasks 4 >tasks.ndjson
	run --separate-stderr spool_t run -p spool -c "python3 '$REPO_DIR/workers/examples/square/square_worker.py'" -j 2 -k tasks.ndjson
	echo "stderr: $stderr" >&2
	[ "$status" -eq 0 ]
	[ "$(jq -c '[.x, .square]' <<<"$output" | tr '\n' ';')" = '[1,1];[2,4];[3,9];[4,16];' ]
}

# ------------------------------------------------------------------ #
# -j with -w, --dry-run                                               #

@test "-j 3 -w with a one-spec pool gives 3 workers; with two specs it is a usage error" {
	write_pool one.json '{"workers":[{"name":"w","cmd":["cat"]}]}'
	run --separate-stderr spool_t run -j 3 -w one.json --dry-run
	[ "$status" -eq 0 ]
	[ "$(grep -E '^w#[0-9]+'$'\t' <<<"$output" | cut -f1 | tr '\n' ' ')" = 'w#0 w#1 w#2 ' ]

	# And a real run uses them: three pids.
	seq_tasks 3 >tasks.ndjson
	run --separate-stderr spool_t run -j 3 -w one.json --stats=stats.json tasks.ndjson
	[ "$status" -eq 0 ]
	[ "$(jq '.workers | length' stats.json)" -eq 3 ]

	write_pool two.json '{"workers":[{"cmd":["cat"]},{"cmd":["cat"]}]}'
	run --separate-stderr spool_t run -j 3 -w two.json tasks.ndjson
	[ "$status" -eq 2 ]
	[ -z "$output" ]
	[ "$(err_count '^spool: .*-j')" -ge 1 ]
}

@test "--dry-run prints each worker's argv, SPOOL_* env and cwd, and starts nothing" {
	mkdir conf
	write_pool conf/pool.json "{\"workers\":[{\"name\":\"w\",\"replicas\":2,\"cwd\":\".\",
		\"cmd\":[\"sh\",\"-c\",\"touch $T/started; cat\",\"a b\"],\"env\":{\"FOO\":\"bar\"}}]}"
	seq_tasks 3 >tasks.ndjson
	run --separate-stderr spool_t run -w conf/pool.json --dry-run tasks.ndjson
	echo "stdout: $output; stderr: $stderr" >&2
	[ "$status" -eq 0 ]
	[ ! -e started ]
	grep -q "^w#0"$'\t'".*sh -c .*touch $T/started; cat.* 'a b'" <<<"$output"
	grep -q "^w#1"$'\t' <<<"$output"
	grep -q 'SPOOL_WORKER=0' <<<"$output"
	grep -q 'SPOOL_WORKER=1' <<<"$output"
	grep -q 'SPOOL_REPLICA=1' <<<"$output"
	grep -q 'SPOOL_NAME=w' <<<"$output"
	grep -q 'FOO=bar' <<<"$output"
	# The cwd resolved against the config's directory.
	grep -qE "cwd $T/conf(/\.?)?\$" <<<"$output"

	run --separate-stderr spool_t run -c "touch $T/started; cat" -j 2 --dry-run tasks.ndjson
	[ "$status" -eq 0 ]
	[ ! -e started ]
	grep -q "/bin/sh -c .*touch $T/started; cat" <<<"$output"
	grep -q 'SPOOL_REPLICA=1' <<<"$output"
}

# ------------------------------------------------------------------ #
# Hints                                                               #

@test "an unknown option names the closest: --keep-ordr, did you mean --keep-order?" {
	run --separate-stderr spool_t run -c cat --keep-ordr
	[ "$status" -eq 2 ]
	[ "$(err_count 'did you mean --keep-order\?')" -eq 1 ]
}

@test "--stats out.json (a space) with no such file says to write --stats=FILE" {
	seq_tasks 2 >tasks.ndjson
	run --separate-stderr spool_t run -c cat --stats out.json tasks.ndjson
	echo "stderr: $stderr" >&2
	[ "$status" -eq 2 ]
	[ "$(err_count 'out\.json.*--stats=out\.json')" -eq 1 ]
	[ ! -e out.json ]
}

@test "a run with failures says how many of how many failed, without --stats" {
	printf '{"x":1}\nnot json\n{"x":3}\nnor this\n' >tasks.ndjson
	run --separate-stderr spool_t run -c cat -j 1 tasks.ndjson
	echo "stderr: $stderr" >&2
	[ "$status" -eq 1 ]
	[ "${stderr_lines[${#stderr_lines[@]} - 1]}" = 'spool: 2 of 4 tasks failed' ]
}

@test "after SIGINT with --joblog, spool says to go on with --resume, and that finishes the rest" {
	fw_pool pool.json lines ',"replicas":2' --gate gate --started started
	seq_tasks 20 >tasks.ndjson
	start_bg -- run -w pool.json --inflight 1 --joblog jl tasks.ndjson
	wait_for 20 file_has_lines started 2
	kill -INT "$SPID"
	touch gate
	finish
	[ "$STATUS" -eq 130 ]
	grep -q -- '--resume' err
	grep -vxF -f <(cut -f2 started) tasks.ndjson >left.ndjson

	run --separate-stderr spool_t run -w pool.json --inflight 1 --joblog jl --resume tasks.ndjson
	[ "$status" -eq 0 ]
	same_set <(printf '%s\n' "$output") left.ndjson
	[ "$(jl_latest_ok jl | tr '\n' ' ')" = "$(seq 1 20 | tr '\n' ' ')" ]
}

@test "--stats=FILE: tasks.not_started and cpu_s user and sys as numbers" {
	seq_tasks 3 >tasks.ndjson
	run --separate-stderr spool_t run -c cat -j 1 --stats=stats.json tasks.ndjson
	[ "$status" -eq 0 ]
	[ "$(jq -c '[.tasks.read, .tasks.ok, .tasks.not_started]' stats.json)" = '[3,3,0]' ]
	[ "$(jq -c '[.cpu_s.user, .cpu_s.sys] | map(type)' stats.json)" = '["number","number"]' ]
}

@test "stdin a terminal: spool says it reads tasks from the terminal" {
	command -v script >/dev/null || skip "script(1) (bsdutils) is not installed"
	on_tty '"$SPOOL" run -c cat -j 1'
	cat -v tty.out >&2
	grep -q 'tasks from the terminal' tty.out
}
