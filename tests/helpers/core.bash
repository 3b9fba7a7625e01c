# core.bash - helpers for the core suites (cli, config, lines, input,
# stderr, env, process, memory).  Load after test_helper:
#   load test_helper
#   load helpers/core
# shellcheck disable=SC2034,SC2154  # bats sets status, output, stderr...

CORE_FIXTURES="$FIXTURES/core"
# The echo worker with side effects on request (see its header).
WORKER_PY="$CORE_FIXTURES/worker.py"
export CORE_FIXTURES WORKER_PY

# on_stderr ASSERTION ARGS... : run a bats-assert output or line assertion
# against the stderr captured by `run --separate-stderr`.
on_stderr() {
	local output=$stderr
	local -a lines=("${stderr_lines[@]}")
	"$@"
}

# assert_usage_error [HINT] : after `run --separate-stderr spool ...`: exit
# 2, nothing on stdout, the first stderr line is spool's message, the last
# is the hint (default: the one for `spool run`).
assert_usage_error() {
	local hint=${1:-"Try 'spool run --help'."}
	assert_equal "$status" 2
	assert_equal "$output" ""
	[[ ${stderr_lines[0]-} == "spool: "* ]] ||
		fail "stderr does not start with 'spool: ': $stderr"
	local n=${#stderr_lines[@]}
	assert_equal "${stderr_lines[n - 1]}" "$hint"
}

# count_lines FILE : lines in FILE (0 when it does not exist).
count_lines() {
	if [[ -e $1 ]]; then
		wc -l <"$1" | tr -d ' '
	else
		echo 0
	fi
}

# lines_at_least N FILE : true when FILE has at least N lines.
lines_at_least() {
	(($(count_lines "$2") >= $1))
}

# proc_state PID : the one-letter state of PID (R, S, D, Z...), or nothing.
proc_state() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	echo "${stat%% *}"
}

# sleeping PID... : true when every PID is blocked (state S).
sleeping() {
	local pid
	for pid in "$@"; do
		[[ $(proc_state "$pid") == S ]] || return 1
	done
}

# vm_kb PID FIELD : a /proc/PID/status memory field (VmHWM, VmRSS) in kB.
vm_kb() {
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}

# AWK_LINES : an awk that reads one line at a time from a pipe (mawk fills
# its whole input buffer first unless given -W interactive).
if awk -W version 2>/dev/null | grep -q mawk; then
	AWK_LINES="awk -W interactive"
else
	AWK_LINES="awk"
fi
export AWK_LINES
