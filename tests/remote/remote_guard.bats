#!/usr/bin/env bats
# remote_guard.bats - SPEC section 10: workers over a real ssh.  The command
# lines lib/remote.c builds (printed by build/unit/remote_cmd) run against a
# private sshd on loopback (tests/remote/sshd.sh): arguments arrive byte
# for byte, env and cwd apply, stdin EOF and exit codes pass through, and
# lib/remote_guard.pl leaves nothing behind when the ssh client or its
# connection master dies.  Remote processes are checked as the test user's
# processes, waiting on conditions with deadlines.

bats_require_minimum_version 1.5.0
load ../test_helper
load daemon

setup_file() {
	export SSHD_DIR=$BATS_FILE_TMPDIR/sshd
	daemon_start sshd "$SSHD_DIR" "the test sshd switches to a test user"
}

teardown_file() {
	daemon_stop sshd "${SSHD_DIR:-}"
}

setup() {
	cd "$BATS_TEST_TMPDIR" || return 1
	# shellcheck source=/dev/null
	. "$SSHD_DIR/env"
	REMOTE_CMD=$SPOOL_BUILD/unit/remote_cmd
	[[ -x $REMOTE_CMD ]] || fail "$REMOTE_CMD is not built (make)"
	BG=()
}

teardown() {
	# Local clients a failed test left running.
	local p
	for p in "${BG[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
	done
}

# rcmd REMOTE_CMD-ARGS... : CMD becomes the argv remote_cmd prints.
rcmd() {
	local f=$BATS_TEST_TMPDIR/argv
	"$REMOTE_CMD" "$@" >"$f" || fail "remote_cmd $* failed"
	mapfile -d '' -t CMD <"$f"
}

# bg COMMAND... : start COMMAND in the background, remember its pid in BG
# and in BG_PID.
bg() {
	"$@" </dev/null >/dev/null 2>&1 3>&- &
	BG_PID=$!
	BG+=("$BG_PID")
}

# remote_count TEXT : live processes of the test user whose command line
# contains TEXT (zombies are dead, whatever init makes of them).
remote_count() {
	ps -u "$SSH_TEST_USER" -o stat=,args= |
		awk -v t="$1" '$1 !~ /^Z/ && index($0, t)' | wc -l
}
remote_at_least() { (($(remote_count "$1") >= $2)); }
# remote_running ARGS : a process of the test user runs with exactly this
# command line (the guard's own line holds its worker's words too).
remote_running() { ps -u "$SSH_TEST_USER" -o args= | grep -qxF -- "$1"; }
remote_none() { (($(remote_count "$1") == 0)); }

# gone PID... : none of these local processes is left.
gone() {
	local p
	for p in "$@"; do
		pid_alive "$p" && return 1
	done
	return 0
}

# A worker that outlives EOF and TERM, with a child that does too.
STUBBORN='trap "" TERM HUP; sleep $0 & sleep $0'

@test "arguments arrive byte for byte" {
	local args=(plain '' 'two words' "it's" "''" '"dq"' '$HOME' '${x:-y}'
		'`id`' '$(id)' 'back\slash' '\' $'new\nline' $'tab\there'
		' lead and trail ' '*' '~' '-n' ';exit 1' 'a|b&c>d<e' '{1,2}' '!'
		'#c' '%s' 'ünïcødé ✓' $'\x01')
	rcmd host1 -- printf '%s\000' "${args[@]}"
	"${CMD[@]}" </dev/null >got
	printf '%s\0' "${args[@]}" >want
	cmp want got
}

@test "env and cwd apply remotely, and nothing else of ours arrives" {
	local home
	home=$(getent passwd "$SSH_TEST_USER" | cut -d: -f6)
	export SPOOL_LOCAL_ONLY=1
	rcmd -C / -E 'GREETING=hello world' -E 'EMPTY=' -E "Q=it's \$x" \
		host2 -- sh -c 'printf "%s|%s|%s|%s|%s" "$GREETING" "$EMPTY" \
			"$Q" "$PWD" "${SPOOL_LOCAL_ONLY-unset}"'
	run -0 "${CMD[@]}" </dev/null
	assert_output "hello world||it's \$x|/|unset"
	# Without -C the worker starts in the login directory.
	rcmd host2 -- sh -c 'pwd'
	run -0 "${CMD[@]}" </dev/null
	assert_output "$home"
}

@test "a missing cwd is a clear error, exit 126" {
	rcmd -C /nonexistent/spool-wd host1 -- true
	run -126 --separate-stderr "${CMD[@]}" </dev/null
	assert_equal "$output" ""
	[[ $stderr == *"cannot change to directory '/nonexistent/spool-wd'"* ]]
	[[ $stderr == *"No such file or directory"* ]]
	[[ $stderr == *"on $(uname -n):"* ]]
}

@test "a worker that is not there exits 127, one that cannot run 126" {
	rcmd host1 -- spool-no-such-worker arg
	run -127 --separate-stderr "${CMD[@]}" </dev/null
	[[ $stderr == *"cannot run 'spool-no-such-worker': No such file"* ]]
	rcmd host1 -- /etc/passwd
	run -126 --separate-stderr "${CMD[@]}" </dev/null
	[[ $stderr == *"cannot run '/etc/passwd': Permission denied"* ]]
}

@test "stdin EOF reaches the worker; stdout and stderr stay apart" {
	rcmd host3 -- cat
	printf 'one\ntwo\n' >in
	run -0 timeout 20 "${CMD[@]}" <in
	assert_output $'one\ntwo'
	rcmd host3 -- sh -c 'echo out; echo err >&2; echo out2'
	run -0 --separate-stderr "${CMD[@]}" </dev/null
	assert_output $'out\nout2'
	assert_equal "$stderr" "err"
}

@test "1 MB of lines through cat arrive intact" {
	awk 'BEGIN { for (i = 0; i < 40000; i++) printf "{\"x\":%d,\"pad\":\"%s\"}\n", i, "abcdefghijklmn" }' >in
	(($(wc -c <in) > 1000000))
	rcmd host4 -- cat
	timeout 30 "${CMD[@]}" <in >out
	cmp in out
}

@test "-R: the guard says on stderr when the worker runs, and only then" {
	rcmd -R host2 -- sh -c 'echo out; echo err >&2'
	run -0 --separate-stderr "${CMD[@]}" </dev/null
	assert_output out
	# The worker's own lines may come first: it runs by then.
	assert_equal "$(grep -c . <<<"$stderr")" 2
	[[ $stderr =~ (^|$'\n')"spool-guard: started "[0-9]+" on $(uname -n)"($'\n'|$) ]]
	[[ $stderr =~ (^|$'\n')err($'\n'|$) ]]
	rcmd -R host2 -- spool-no-such-worker
	run -127 --separate-stderr "${CMD[@]}" </dev/null
	[[ $stderr == *"cannot run 'spool-no-such-worker'"* ]]
	[[ $stderr != *"spool-guard: started"* ]]
}

@test "exit status passes through, 128+signal for a killed worker" {
	rcmd host1 -- sh -c 'exit 3'
	run -3 "${CMD[@]}" </dev/null
	rcmd host1 -- sh -c 'kill -USR1 $$'
	run -138 "${CMD[@]}" </dev/null
	rcmd host1 -- sh -c 'kill -KILL $$'
	run -137 "${CMD[@]}" </dev/null
}

@test "a worker that exits leaves no children behind" {
	rcmd host2 -- sh -c 'sleep 1004 & echo started'
	run -0 timeout 20 "${CMD[@]}" </dev/null
	assert_output started
	wait_for 10 remote_none 'sleep 1004'
}

@test "SIGTERM to the ssh client: the worker and its child are gone" {
	rcmd host1 -- sh -c "$STUBBORN" 1001
	bg "${CMD[@]}"
	wait_for 10 remote_at_least 'sleep 1001' 2
	kill -TERM "$BG_PID"
	wait_for 10 remote_none 'sleep 1001'
	wait_for 10 remote_none "$STUBBORN"
	wait_for 10 remote_none 'perl -e'
}

@test "SIGKILL to the ssh client: the worker and its child are gone" {
	rcmd host2 -- sh -c "$STUBBORN" 1002
	bg "${CMD[@]}"
	wait_for 10 remote_at_least 'sleep 1002' 2
	kill -KILL "$BG_PID"
	wait_for 10 remote_none 'sleep 1002'
	wait_for 10 remote_none 'perl -e'
}

@test "SIGTERM to the guard stops the worker; its status comes back" {
	rcmd host3 -- sleep 1005
	"${CMD[@]}" </dev/null >/dev/null 2>&1 3>&- &
	local client=$!
	BG+=("$client")
	# The worker itself: a guard killed before it has set up its
	# handlers dies of the signal, as any program would.
	wait_for 10 remote_running 'sleep 1005'
	pkill -TERM -u "$SSH_TEST_USER" -f '^perl -e '
	wait_for 10 gone "$client"
	local status=0
	wait "$client" || status=$?
	assert_equal "$status" 143
	wait_for 10 remote_none 'sleep 1005'
}

@test "ControlMaster: sessions share it; killing it ends every worker" {
	local sock=$BATS_TEST_TMPDIR/cm accepted t0 t1 p pids=()
	mapfile -d '' -t master < <("$REMOTE_CMD" -S "$sock" -M host1)
	mapfile -d '' -t check < <("$REMOTE_CMD" -S "$sock" -O check host1)
	accepted=$(grep -c 'Accepted publickey' "$SSHD_DIR/sshd.log" || true)
	t0=$EPOCHREALTIME
	bg "${master[@]}"
	local mpid=$BG_PID
	wait_for 10 "${check[@]}"
	t1=$EPOCHREALTIME
	echo "# master up in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }') s" >&3

	rcmd -S "$sock" host1 -- true
	t0=$EPOCHREALTIME
	for _ in $(seq 16); do
		"${CMD[@]}" </dev/null 3>&- &
		pids+=($!)
	done
	for p in "${pids[@]}"; do
		wait "$p"
	done
	t1=$EPOCHREALTIME
	echo "# 16 sessions through one master in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }') s" >&3

	pids=()
	rcmd -S "$sock" host1 -- sh -c "$STUBBORN" 1003
	for _ in $(seq 16); do
		bg "${CMD[@]}"
		pids+=("$BG_PID")
	done
	wait_for 20 remote_at_least 'sleep 1003' 32
	# One login for the master; every session went through it.
	assert_equal "$(grep -c 'Accepted publickey' "$SSHD_DIR/sshd.log")" \
		$((accepted + 1))
	kill -TERM "$mpid"
	wait_for 10 remote_none 'sleep 1003'
	wait_for 10 remote_none 'perl -e'
	wait_for 10 gone "${pids[@]}"
}

@test "ssh -O exit stops the master" {
	local sock=$BATS_TEST_TMPDIR/cm
	mapfile -d '' -t master < <("$REMOTE_CMD" -S "$sock" -M host4)
	mapfile -d '' -t check < <("$REMOTE_CMD" -S "$sock" -O check host4)
	mapfile -d '' -t stop < <("$REMOTE_CMD" -S "$sock" -O exit host4)
	bg "${master[@]}"
	wait_for 10 "${check[@]}"
	run -0 "${stop[@]}"
	wait_for 10 gone "$BG_PID"
	run -255 "${check[@]}"
}

@test "deadhost fails fast with ssh's own message" {
	rcmd deadhost -- true
	local t0=$EPOCHREALTIME
	run -255 --separate-stderr timeout 20 "${CMD[@]}" </dev/null
	echo "# deadhost failed in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }') s" >&3
	[[ $stderr == "ssh: connect to host 127.0.0.1 port "*": Connection refused"* ]]
}
