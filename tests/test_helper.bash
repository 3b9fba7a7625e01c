# test_helper.bash - shared by every bats file: load it with
#   load test_helper
#
# SPOOL is the binary under test (make bats sets it; default build/spool).
# Tests never sleep to synchronise: wait_for polls a condition with a
# deadline.  Background children must close fd 3 (cmd 3>&-) or bats hangs.

TESTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$TESTS_DIR/.." && pwd)"
FIXTURES="$TESTS_DIR/fixtures"
: "${SPOOL:=$REPO_DIR/build/spool}"
: "${SPOOL_BUILD:=$REPO_DIR/build}"
: "${BATS_TEST_TIMEOUT:=120}"
export SPOOL SPOOL_BUILD FIXTURES REPO_DIR BATS_TEST_TIMEOUT
export PYTHONPATH="$REPO_DIR/workers/python${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1

bats_load_library bats-support
bats_load_library bats-assert

# spool ARGS... : run the binary under test.
spool() {
	"$SPOOL" "$@"
}

# wait_for SECONDS COMMAND... : poll COMMAND until it succeeds or the
# deadline passes (then fail, saying what was awaited).
wait_for() {
	local limit=$1
	shift
	local deadline=$((SECONDS + limit))
	until "$@"; do
		if ((SECONDS >= deadline)); then
			echo "wait_for: timed out after ${limit}s waiting for: $*" >&2
			return 1
		fi
		sleep 0.02
	done
}

# seq_tasks N [START] : N task lines {"x":i}, i from START (default 1).
seq_tasks() {
	local n=$1 start=${2:-1}
	awk -v n="$n" -v s="$start" 'BEGIN { for (i = s; i < s + n; i++) printf "{\"x\":%d}\n", i }'
}

# pid_alive PID : true while PID exists and is not a zombie.
pid_alive() {
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	[[ -n $st && $st != Z* ]]
}

# write_pool FILE JSON : write a pool config.
write_pool() {
	printf '%s\n' "$2" >"$1"
}
