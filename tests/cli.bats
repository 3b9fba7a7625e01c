#!/usr/bin/env bats
# cli.bats - the command line (SPEC section 2): help, version, usage
# errors (exit 2, a message on stderr and a hint), unreadable inputs.

bats_require_minimum_version 1.5.0

load test_helper
load helpers/core

setup() {
	cd "$BATS_TEST_TMPDIR" || return 1
	printf '{"x":1}\n' >tasks.ndjson
	# A worker that leaves a marker when it starts: proof that one ran.
	MARK_CMD="touch '$BATS_TEST_TMPDIR/started'; exec cat"
	write_pool pool.json "{\"workers\": [{\"cmd\": [\"sh\", \"-c\", \"$MARK_CMD\"]}]}"
}

refute_worker_started() {
	[[ ! -e $BATS_TEST_TMPDIR/started ]] || fail "a worker was started"
}

# ---------------------------------------------------------------- help

@test "spool --help prints the overview on stdout and exits 0" {
	run --separate-stderr spool --help
	assert_success
	assert_equal "$stderr" ""
	assert_line --index 0 --partial "usage: spool run"
	assert_line --partial "spool check (-w POOL.json | -c COMMAND)"
}

@test "spool -h is --help" {
	run --separate-stderr spool -h
	assert_success
	assert_line --index 0 --partial "usage: spool run"
}

@test "spool --version prints one line with the version" {
	run --separate-stderr spool --version
	assert_success
	assert_equal "$stderr" ""
	assert_equal "${#lines[@]}" 1
	assert_output --regexp '^spool [0-9]+\.[0-9]+\.[0-9]+'
}

@test "spool help run is spool run --help" {
	run --separate-stderr spool run --help
	assert_success
	assert_equal "$stderr" ""
	local run_help=$output
	assert_line --index 0 --partial "usage: spool run"

	run --separate-stderr spool help run
	assert_success
	assert_equal "$output" "$run_help"
}

@test "spool help check is spool check --help" {
	run --separate-stderr spool check --help
	assert_success
	assert_equal "$stderr" ""
	local check_help=$output
	assert_line --index 0 --partial "usage: spool check"

	run --separate-stderr spool help check
	assert_success
	assert_equal "$output" "$check_help"
}

@test "spool run --help lists every flag of the run command" {
	run --separate-stderr spool run --help
	assert_success
	local flag
	for flag in -w --workers -c --cmd -j --jobs -k --keep-order \
		-q --queue-size --inflight -r --retries -t --timeout --failed \
		--tag --raw --strict --joblog --resume --progress --stats \
		-v --verbose --quiet; do
		# The flag as a word of its own (not a prefix of another).
		[[ $output =~ (^|[^-a-z])"$flag"([^-a-z]|$) ]] ||
			fail "spool run --help does not list $flag"
	done
}

@test "spool help for an unknown topic is a usage error" {
	run --separate-stderr spool help frobnicate
	assert_usage_error "Try 'spool --help'."
	on_stderr assert_line --index 0 --partial '"frobnicate"'
}

@test "spool with no arguments prints usage on stderr and exits 2" {
	run --separate-stderr spool
	assert_equal "$status" 2
	assert_equal "$output" ""
	on_stderr assert_line --index 0 --partial "usage: spool run"
}

# ------------------------------------------------------- usage errors

@test "an unknown command is a usage error naming it" {
	run --separate-stderr spool frobnicate
	assert_usage_error "Try 'spool --help'."
	on_stderr assert_line --index 0 --partial 'unknown command "frobnicate"'
}

@test "run without -w or -c is a usage error" {
	run --separate-stderr spool run tasks.ndjson
	assert_usage_error
	on_stderr assert_line --index 0 --partial "-w POOL.json or -c COMMAND"
}

@test "run with both -w and -c is a usage error" {
	run --separate-stderr spool run -w pool.json -c cat tasks.ndjson
	assert_usage_error
	on_stderr assert_line --index 0 --partial "-w and -c cannot be used together"
	refute_worker_started
}

@test "-j with -w sets the replicas of a one-spec pool; with more specs it is a usage error" {
	write_pool one.json '{"workers": [{"name": "w", "cmd": ["cat"]}]}'
	seq_tasks 4 >four.ndjson
	run --separate-stderr spool run -w one.json -j 3 --dry-run
	assert_success
	assert_equal "$(grep -c '^w#' <<<"$output")" 3
	run --separate-stderr spool run -w one.json -j 2 -k four.ndjson
	assert_success
	assert_output "$(cat four.ndjson)"
	write_pool two.json '{"workers": [{"cmd": ["cat"]}, {"cmd": ["cat"]}]}'
	run --separate-stderr spool run -w two.json -j 2 tasks.ndjson
	assert_equal "$status" 2
	refute_worker_started
	on_stderr assert_line --index 0 --partial "-j"
	on_stderr assert_line --index 0 --partial "replicas"
	on_stderr assert_line --index 0 --partial "two.json has 2"
}

@test "bad -j values are usage errors naming the flag and the value" {
	local v
	for v in 0 -1 abc 1.5 "" 99999999999999999999; do
		run --separate-stderr spool run -c "$MARK_CMD" -j "$v" tasks.ndjson
		assert_usage_error
		on_stderr assert_line --index 0 --partial "-j/--jobs"
		on_stderr assert_line --index 0 --partial "\"$v\""
	done
	run --separate-stderr spool run -c "$MARK_CMD" --jobs=x tasks.ndjson
	assert_usage_error
	refute_worker_started
}

@test "bad -q values are usage errors naming the flag and the value" {
	local v
	for v in 0 -3 many 2.5; do
		run --separate-stderr spool run -c "$MARK_CMD" -q "$v" tasks.ndjson
		assert_usage_error
		on_stderr assert_line --index 0 --partial "-q/--queue-size"
		on_stderr assert_line --index 0 --partial "\"$v\""
	done
	run --separate-stderr spool run -c "$MARK_CMD" --queue-size=0 tasks.ndjson
	assert_usage_error
	refute_worker_started
}

@test "bad -r values are usage errors naming the flag and the value" {
	local v
	for v in -1 two 1.5; do
		run --separate-stderr spool run -c "$MARK_CMD" -r "$v" tasks.ndjson
		assert_usage_error
		on_stderr assert_line --index 0 --partial "-r/--retries"
		on_stderr assert_line --index 0 --partial "\"$v\""
	done
	refute_worker_started
}

@test "bad -t values are usage errors naming the flag and the value" {
	local v
	for v in -1 abc 1s 0x10 inf ""; do
		run --separate-stderr spool run -c "$MARK_CMD" -t "$v" tasks.ndjson
		assert_usage_error
		on_stderr assert_line --index 0 --partial "-t/--timeout"
		on_stderr assert_line --index 0 --partial "\"$v\""
	done
	refute_worker_started
}

@test "bad --inflight values are usage errors naming the flag and the value" {
	local v
	for v in 0 -2 fast AUTO 1.5; do
		run --separate-stderr spool run -c "$MARK_CMD" --inflight "$v" tasks.ndjson
		assert_usage_error
		on_stderr assert_line --index 0 --partial "--inflight"
		on_stderr assert_line --index 0 --partial "\"$v\""
	done
	refute_worker_started
}

@test "good flag values are accepted" {
	run --separate-stderr spool run -c cat -j 1 -q 5 -r 0 -t 2.5 --inflight auto tasks.ndjson
	assert_success
	assert_output '{"x":1}'
	run --separate-stderr spool run -c cat --jobs=1 --queue-size=1 --retries=3 --timeout=10 --inflight=2 tasks.ndjson
	assert_success
	assert_output '{"x":1}'
}

@test "an unknown long option is a usage error naming it" {
	run --separate-stderr spool run -c "$MARK_CMD" --frobnicate tasks.ndjson
	assert_usage_error
	on_stderr assert_line --index 0 --partial "unknown option --frobnicate"
	refute_worker_started
}

@test "an unknown short option is a usage error naming it" {
	run --separate-stderr spool run -c "$MARK_CMD" -Z tasks.ndjson
	assert_usage_error
	on_stderr assert_line --index 0 --partial "unknown option -Z"
	refute_worker_started
}

@test "an option missing its value is a usage error" {
	run --separate-stderr spool run -c
	assert_usage_error
	on_stderr assert_line --index 0 --partial "-c needs a value"
}

@test "a long option missing its value is named as typed" {
	run --separate-stderr spool run -c cat --failed
	assert_usage_error
	on_stderr assert_line --index 0 --partial "--failed needs a value"
	run --separate-stderr spool run -c cat --joblog
	assert_usage_error
	on_stderr assert_line --index 0 --partial "--joblog needs a value"
}

@test "--resume without --joblog is a usage error" {
	run --separate-stderr spool run -c "$MARK_CMD" --resume tasks.ndjson
	assert_usage_error
	on_stderr assert_line --index 0 --partial "--resume needs --joblog"
	refute_worker_started
}

@test "--raw with a spool-protocol config is a usage error naming the spec" {
	write_pool rpc.json "{\"workers\": [{\"cmd\": [\"sh\", \"-c\", \"$MARK_CMD\"]},
		{\"cmd\": [\"sh\", \"-c\", \"$MARK_CMD\"], \"protocol\": \"spool\"}]}"
	run --separate-stderr spool run -w rpc.json --raw tasks.ndjson
	assert_equal "$status" 2
	assert_equal "$output" ""
	on_stderr assert_line --index 0 --regexp '^spool: .*--raw.*workers\[1\].*rpc\.json'
	refute_worker_started
}

@test "spool check rejects run options and extra arguments" {
	run --separate-stderr spool check -w pool.json -k
	assert_usage_error "Try 'spool check --help'."
	run --separate-stderr spool check -w pool.json extra
	assert_usage_error "Try 'spool check --help'."
	on_stderr assert_line --index 0 --partial '"extra"'
	run --separate-stderr spool check
	assert_usage_error "Try 'spool check --help'."
	refute_worker_started
}

# ---------------------------------------------------- unreadable inputs

@test "an input FILE that does not exist is exit 2 naming it; no worker starts" {
	run --separate-stderr spool run -c "$MARK_CMD" -j 1 tasks.ndjson missing.ndjson
	assert_equal "$status" 2
	assert_equal "$output" ""
	on_stderr assert_line --index 0 "spool: missing.ndjson: cannot read input: No such file or directory"
	refute_worker_started
}

@test "an input FILE that is a directory is exit 2 naming it; no worker starts" {
	mkdir adir
	run --separate-stderr spool run -w pool.json tasks.ndjson adir
	assert_equal "$status" 2
	assert_equal "$output" ""
	on_stderr assert_line --index 0 --regexp '^spool: adir: .*[Ii]s a directory'
	refute_worker_started
}

@test "the first unreadable FILE is named even after stdin" {
	run --separate-stderr spool run -c "$MARK_CMD" -j 1 - nope1 nope2 <tasks.ndjson
	assert_equal "$status" 2
	on_stderr assert_line --index 0 --partial "nope1"
	refute_worker_started
}

@test "a missing pool config is exit 2 naming it; no worker starts" {
	run --separate-stderr spool run -w nosuch.json tasks.ndjson
	assert_equal "$status" 2
	assert_equal "$output" ""
	on_stderr assert_line --index 0 "spool: nosuch.json: cannot read the pool config: No such file or directory"
}
