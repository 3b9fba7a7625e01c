#!/usr/bin/env bats
# remote_ssh.bats - SPEC section 10: spool runs workers on ssh hosts.
# A private sshd on loopback (tests/remote/sshd.sh) stands for several
# machines (host1..host4 are all this sshd, deadhost is a closed port).
# Remote processes are the test user's: they are looked at with ps as
# that user, waiting on conditions with deadlines, never with sleeps.

bats_require_minimum_version 1.5.0
load ../test_helper
load daemon

setup_file() {
	# A user of this file's own: sshd.sh stop kills all its processes.
	export SPOOL_SSH_USER=${SPOOL_SSH_USER:-spoolssh}
	export SSHD_DIR=$BATS_FILE_TMPDIR/sshd
	daemon_start sshd "$SSHD_DIR" "the test sshd switches to a test user"
	# Files the remote user reads and writes (the test's own
	# directories are private to root).
	SHARED=$(mktemp -d /tmp/spool-ssh-test.XXXXXX)
	chmod 1777 "$SHARED"
	export SHARED
}

teardown_file() {
	daemon_stop sshd "${SSHD_DIR:-}"
	if [[ -n ${SHARED:-} && -d $SHARED ]]; then
		rm -rf "$SHARED"
	fi
}

setup() {
	cd "$BATS_TEST_TMPDIR" || return 1
	# shellcheck source=/dev/null
	. "$SSHD_DIR/env"
	BG=()
	T=$SHARED/$BATS_TEST_NUMBER
	mkdir -p "$T"
	chmod 1777 "$T"
}

teardown() {
	local p
	exec 7>&- 2>/dev/null || true
	for p in "${BG[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
	done
	# Nothing of a test may outlive it; what one left is killed here so
	# the next starts clean (and the test that left it has failed).
	for p in $(ps -o pid= -u "$SSH_TEST_USER" 2>/dev/null); do
		kill -KILL "$p" 2>/dev/null || true
	done
}

# spool_t ARGS... : spool with a deadline, so a hang fails the test.
spool_t() {
	timeout -k 2 "${SPOOL_T:-60}" "$SPOOL" "$@"
}

# remote_count TEXT : live processes of the test user whose command line
# contains TEXT.
remote_count() {
	ps -u "$SSH_TEST_USER" -o stat=,args= |
		awk -v t="$1" '$1 !~ /^Z/ && index($0, t)' | wc -l
}
remote_at_least() { (($(remote_count "$1") >= $2)); }
remote_none() { (($(remote_count "$1") == 0)); }
# remote_running ARGS : a process of the test user runs exactly ARGS (the
# guard's own command line holds its worker's words too).
remote_running() { ps -u "$SSH_TEST_USER" -o args= | grep -qxF -- "$1"; }
remote_not_running() { ! remote_running "$1"; }

# logins : publickey logins sshd has accepted so far.
logins() {
	grep -c 'Accepted publickey' "$SSHD_DIR/sshd.log" || true
}

# start_bg SPOOL-ARGS... : spool in the background, stdin from the fifo
# `in` held open on fd 7 (close it with `exec 7>&-`), stdout to out,
# stderr to err; its pid in SPID.
start_bg() {
	rm -f in
	mkfifo in
	"$SPOOL" "$@" <in >out 2>err 3>&- &
	SPID=$!
	BG+=("$SPID")
	exec 7>in
}

# on_stderr ASSERTION ARGS... : a bats-assert line assertion on the
# stderr that `run --separate-stderr` kept.
on_stderr() {
	local output=$stderr
	local -a lines
	mapfile -t lines <<<"$stderr"
	"$@"
}

# in_err TEXT : spool's stderr so far has TEXT.
in_err() { grep -qF -- "$1" err; }
connected_twice() { (($(grep -c 'host host1: connected in' err) == 2)); }

# gone PID... : none of these local processes is left.
gone() {
	local p
	for p in "$@"; do
		pid_alive "$p" && return 1
	done
	return 0
}

# A worker that prints its argv as JSON for each task.
ARGV_PY='import json, sys
for _ in sys.stdin:
    print(json.dumps(sys.argv[1:], ensure_ascii=False), flush=True)'

@test "arguments arrive byte for byte through a remote worker" {
	local args=(plain '' 'two words' "it's" "''" '"dq"' '$HOME' '${x:-y}'
		'`id`' '$(id)' 'back\slash' '\' $'new\nline' $'tab\there'
		' lead ' '*' '~' '-n' ';exit 1' 'a|b&c>d<e' '{1,2}' '!' '#c'
		'%s' 'ünïcødé ✓' '{name}x')
	jq -n --arg py "$ARGV_PY" '$ARGS.positional as $a |
		{workers: [{cmd: (["python3", "-c", $py] + $a),
		            hosts: ["host1"]}]}' --args "${args[@]}" >pool.json
	run -0 --separate-stderr spool_t run -w pool.json <<<'{"x":1}'
	local want
	want=$(jq -cn '$ARGS.positional' --args "${args[@]}")
	# {name} becomes the spec's name, as for a local worker.
	want=${want/\{name\}x/python3x}
	assert_equal "$(jq -c . <<<"$output")" "$want"
}

@test "env, SPOOL_*, {host}, {slot} and cwd apply remotely; spool's own environment does not" {
	local home
	home=$(getent passwd "$SSH_TEST_USER" | cut -d: -f6)
	cat >pool.json <<-'EOF'
		{"workers": [{
		  "name": "probe",
		  "cmd": ["sh", "-c", "printf '%s|%s|%s|%s|%s|%s|%s|%s|%s\\n' \"$GREETING\" \"$EMPTY\" \"$SPOOL_WORKER\" \"$SPOOL_REPLICA\" \"$SPOOL_HOST\" \"$SPOOL_SLOT\" \"$PWD\" \"${SPOOL_LOCAL_ONLY-unset}\" \"$0\"; exec cat", "{host}-{slot}"],
		  "env": {"GREETING": "hi {host}/{slot} #{worker}", "EMPTY": ""},
		  "cwd": "/",
		  "ready": "line",
		  "hosts": ["host1", "2/host2"]
		}, {
		  "name": "home",
		  "cmd": ["sh", "-c", "echo \"$PWD\"; exec cat"],
		  "cwd": ".",
		  "ready": "line",
		  "hosts": ["host3"]
		}]}
	EOF
	export SPOOL_LOCAL_ONLY=1
	# Each worker's ready line is its spawn result: spool check shows it.
	run -0 --separate-stderr spool_t check -w pool.json
	assert_line --partial $'probe#0\tpid '
	# (A ready line that is not JSON is shown as a JSON string.)
	assert_line --regexp $'^probe#0\tpid [0-9]+\ton host1\tready in [^\t]*\t"hi host1/0 #0\\|\\|0\\|0\\|host1\\|0\\|/\\|unset\\|host1-0"$'
	assert_line --regexp $'^probe#1\tpid [0-9]+\ton host2\tready in [^\t]*\t"hi host2/0 #1\\|\\|1\\|1\\|host2\\|0\\|/\\|unset\\|host2-0"$'
	assert_line --regexp $'^probe#2\tpid [0-9]+\ton host2\tready in [^\t]*\t"hi host2/1 #2\\|\\|2\\|2\\|host2\\|1\\|/\\|unset\\|host2-1"$'
	# A relative cwd is a directory on the remote host, as written.
	assert_line --regexp $'^home#0\tpid [0-9]+\ton host3\tready in [^\t]*\t"'"$home"'"$'
}

@test "several hosts share the work; each answer once" {
	seq_tasks 60 >tasks
	run -0 --separate-stderr spool_t run -S host1,host2,host3 -j 2 -k \
		--stats=stats.json \
		-c 'while read -r l; do sleep 0.05; echo "$l"; done' tasks
	assert_equal "$output" "$(cat tasks)"
	local h n
	for h in host1 host2 host3; do
		n=$(jq --arg h "$h" '[.workers[] | select(.host == $h) | .tasks] | add' stats.json)
		echo "# $h: $n tasks" >&3
		((n > 0))
	done
	assert_equal "$(jq '[.workers[].tasks] | add' stats.json)" 60
}

@test "-S with -c and -j: -j workers on each host, N/ on one" {
	run -0 --separate-stderr spool_t check -S host1,3/host2 -j 2 -c cat
	assert_equal "$(grep -c $'\ton host1\tready' <<<"$output")" 2
	assert_equal "$(grep -c $'\ton host2\tready' <<<"$output")" 3
	assert_line --index 0 --regexp $'^host host1\treachable, connected in '
	assert_line --regexp $'^host host2\treachable, connected in '
	# The labels count across hosts.
	assert_line --regexp $'^cat#4\tpid [0-9]+\ton host2\t'
	# -S is for -c.
	echo '{"workers": [{"cmd": ["cat"]}]}' >pool.json
	run -2 --separate-stderr spool_t check -w pool.json -S host1
	[[ $stderr == *"-S/--hosts is for -c"* ]]
	run -2 --separate-stderr spool_t check -S 'host1,bad host' -c cat
	[[ $stderr == *'-S/--hosts: host "bad host" contains a blank'* ]]
}

@test "--ssh and SPOOL_SSH choose the client; --ssh wins" {
	cat >myssh <<-EOF
		#!/bin/sh
		echo "\$*" >>"$PWD/myssh.log"
		exec ssh "\$@"
	EOF
	chmod +x myssh
	seq_tasks 3 >tasks
	# SPOOL_SSH, from the environment.
	SPOOL_SSH="$PWD/myssh -F $SSH_CONFIG" run -0 --separate-stderr \
		spool_t run -S host1 -j 1 -c cat -k tasks
	assert_equal "$output" "$(cat tasks)"
	grep -q -- '-M -N -T' myssh.log
	grep -q -- 'ControlMaster=no' myssh.log
	# --ssh wins over a broken SPOOL_SSH.
	: >myssh.log
	SPOOL_SSH="false" run -0 --separate-stderr \
		spool_t run --ssh "$PWD/myssh -F '$SSH_CONFIG'" -S host2 -j 1 \
		-c cat -k tasks
	assert_equal "$output" "$(cat tasks)"
	grep -q -- 'host2' myssh.log
	# Bad words are named where they came from.
	run -2 --separate-stderr spool_t run --ssh "ssh 'open" -S host1 -c cat </dev/null
	[[ $stderr == *"--ssh: has a quote that is not closed"* ]]
	SPOOL_SSH='ssh; rm -rf /' run -2 --separate-stderr \
		spool_t run -S host1 -c cat </dev/null
	[[ $stderr == *"SPOOL_SSH: has ';', but no shell runs the ssh command"* ]]
}

@test "one connection per host: one login each, however many workers" {
	local before
	# check brings up every worker: both hosts log in, once each.
	before=$(logins)
	run -0 --separate-stderr spool_t check -S 4/host1,4/host2 -c cat
	assert_equal "$(grep -c $'\ton host1\tready in ' <<<"$output")" 4
	assert_equal "$(grep -c $'\ton host2\tready in ' <<<"$output")" 4
	assert_equal "$(logins)" $((before + 2))
	# A run may end before the slower host has logged in (the other
	# did the work), so: at most one login each.
	before=$(logins)
	seq_tasks 200 >tasks
	run -0 --separate-stderr spool_t run -S 4/host1,4/host2 -c cat -k tasks
	assert_equal "$output" "$(cat tasks)"
	(($(logins) >= before + 1 && $(logins) <= before + 2))
}

@test "16 workers on one host start through the shared connection" {
	cat >pool.json <<-'EOF'
		{"workers": [{"cmd": ["sh", "-c", "echo '\"up\"'; exec cat"],
		  "ready": "line", "hosts": ["16/host4"]}]}
	EOF
	local before t0 t1
	before=$(logins)
	t0=$EPOCHREALTIME
	run -0 --separate-stderr spool_t check -w pool.json
	t1=$EPOCHREALTIME
	assert_equal "$(grep -c $'\tready in .*\t"up"$' <<<"$output")" 16
	assert_equal "$(logins)" $((before + 1))
	local connect slowest
	connect=$(sed -n 's/^host host4\treachable, connected in //p' <<<"$output")
	slowest=$(grep -o 'ready in [0-9.]*m\?s' <<<"$output" | sort -t' ' -k3 -g | tail -1)
	echo "# 16 workers on one host: connected in $connect, slowest worker $slowest," \
		"spool check took $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }') s" >&3
}

@test "a dead host: its workers fail with ssh's message and it is given up; the others do the work" {
	seq_tasks 300 >tasks
	start_bg run -S host1,deadhost -j 2 -c cat -k
	cat tasks >&7
	# The run goes on until the host is given up.
	wait_for 30 in_err 'giving up on host deadhost'
	exec 7>&-
	wait_for 30 gone "$SPID"
	local status=0
	wait "$SPID" || status=$?
	assert_equal "$status" 0
	cmp tasks out
	run cat err
	# The master's failure, each worker's with ssh's own words, the
	# host given up, and the summary.
	assert_line --regexp '^spool: host deadhost: cannot connect: ssh: connect to host 127.0.0.1 port [0-9]+: Connection refused'
	assert_line --regexp '^spool: worker cat#[23] on deadhost \(pid [0-9]+\) exited with status 255 while starting \(its last stderr line: ssh: connect to host .*Connection refused\)$'
	assert_line --regexp '^spool: giving up on host deadhost for worker "cat" \(workers\[0\] in --cmd\): 5 failed spawns in a row; the last: exited with status 255 .*Connection refused'
	assert_line --regexp '^spool: host deadhost was given up for worker "cat": '
	refute_line --partial 'host1'
}

@test "a refused login: ssh's own words, that host given up; the other does the work" {
	# host2 as a user the sshd does not know: the key is refused.
	seq_tasks 100 >tasks
	start_bg run -S host1,nosuchuser@host2 -j 1 -c cat -k
	cat tasks >&7
	wait_for 30 in_err 'giving up on host nosuchuser@host2'
	exec 7>&-
	wait_for 30 gone "$SPID"
	local status=0
	wait "$SPID" || status=$?
	assert_equal "$status" 0
	cmp tasks out
	run cat err
	assert_line --regexp '^spool: host nosuchuser@host2: cannot connect: .*Permission denied'
	assert_line --regexp '^spool: giving up on host nosuchuser@host2 for worker "cat" .*Permission denied'
	refute_line --partial 'on host1'
}

@test "every host dead: exit 3, no workers left" {
	seq_tasks 5 >tasks
	run -3 --separate-stderr spool_t run -S deadhost -j 1 -c cat tasks
	[[ $stderr == *'giving up on host deadhost for worker "cat"'* ]]
	[[ $stderr == *'giving up on worker "cat" (workers[0] in --cmd): every one of its hosts was given up'* ]]
	[[ $stderr == *'5 tasks failed with "no workers left"'* ]]
}

@test "a dropped connection: the host's workers die, their tasks run again, every result comes" {
	# Each worker notes what it took, and answers once go exists.
	cat >"$T/w.sh" <<-'EOF'
		while read -r l; do
			echo "$l" >>"$0.seen.$SPOOL_WORKER"
			while [ ! -e "$0.go" ]; do sleep 0.02; done
			echo "$l"
		done
	EOF
	seq_tasks 40 >tasks
	start_bg run -v --stats=stats.json -S host1,host2 -j 1 -k \
		-c "sh $T/w.sh"
	cat tasks >&7
	# Both workers hold tasks.
	wait_for 20 test -s "$T/w.sh.seen.0"
	wait_for 20 test -s "$T/w.sh.seen.1"
	# Drop host1's connection: kill its master, spool's child.
	local master
	master=$(pgrep -P "$SPID" -f -- '-M -N -T .* host1$')
	[[ -n $master ]]
	kill -KILL "$master"
	wait_for 20 in_err 'host host1: the connection was lost'
	# It connects again and its worker comes back.
	wait_for 20 connected_twice
	touch "$T/w.sh.go"
	exec 7>&-
	wait_for 30 gone "$SPID"
	local status=0
	wait "$SPID" || status=$?
	assert_equal "$status" 0
	cmp tasks out
	run cat err
	assert_line --regexp '^spool: worker sh#0 on host1 \(pid [0-9]+\) exited with status 255'
	(($(jq .tasks.retried stats.json) >= 1))
	(($(jq '.workers[0].restarts' stats.json) >= 1))
	# Nothing of the dropped session is left there.
	wait_for 10 remote_none "$T/w.sh"
}

@test "a timeout on a remote worker kills it there, child and all" {
	local w='trap "" TERM; while read -r l; do case $l in *slow*) sleep 1006 & wait;; esac; echo "$l"; done'
	printf '%s\n' '{"x":1}' '{"slow":1}' '{"x":2}' >tasks
	start_bg run -t 1 -r 0 -S host1 -j 1 -k -c "$w"
	cat tasks >&7
	# The slow task runs there, then its clock runs out.
	wait_for 20 remote_running 'sleep 1006'
	wait_for 20 in_err 'timed out after 1s'
	# The local ssh is ended at once; the guard then takes the group
	# down there (TERM, which it ignores, KILL 2 s later), while the
	# run and its connection go on.
	wait_for 10 remote_not_running 'sleep 1006'
	pid_alive "$SPID"
	exec 7>&-
	wait_for 30 gone "$SPID"
	local status=0
	wait "$SPID" || status=$?
	assert_equal "$status" 1
	assert_equal "$(cat out)" $'{"x":1}\n{"x":2}'
	wait_for 10 remote_none 'perl -e'
}

@test "SIGKILL of spool: its remote workers and their children are gone within 5 s" {
	local stubborn='trap "" TERM HUP; sleep 1007 & sleep 1007'
	start_bg run -S host1,host2 -j 1 -c "$stubborn"
	echo '{"x":1}' >&7
	# Two workers, each with its two sleeps, that ignore EOF and TERM.
	wait_for 20 remote_at_least 'sleep 1007' 4
	local locals
	locals=$(pgrep -P "$SPID" | tr '\n' ' ')
	kill -KILL "$SPID"
	local t0=$SECONDS
	wait_for 5 remote_none 'sleep 1007'
	wait_for 5 remote_none 'perl -e'
	echo "# remote workers gone $((SECONDS - t0)) s after SIGKILL" >&3
	# The local ssh clients and masters too.
	# shellcheck disable=SC2086
	wait_for 5 gone $locals
}

@test "exit statuses come back from the remote side" {
	echo '{"x":1}' >tasks
	run -1 --separate-stderr spool_t run -r 0 -S host1 -j 1 \
		-c 'read -r l; echo "$l"; read -r l; exit 3' <<<$'{"x":1}\n{"x":2}'
	[[ $stderr == *"worker read#0 on host1 (pid "*") exited with status 3"* ]]
	run -1 --separate-stderr spool_t run -r 0 -S host1 -j 1 \
		-c 'read -r l; echo "$l"; read -r l; kill -USR1 $$' <<<$'{"x":1}\n{"x":2}'
	[[ $stderr == *"exited with status 138 (128+10: killed by SIGUSR1?)"* ]]
	# A command that is not there: 127, and the host is given up.
	run -3 --separate-stderr spool_t run -S host1 -j 1 -c 'exec spool-no-such-worker' tasks
	[[ $stderr == *"giving up on host host1 for worker \"exec\""*"its command cannot be run there (exit status 126/127)"* ]]
}

@test "spool check: each host reachable or not, its connect time, each worker's result" {
	run -1 --separate-stderr spool_t check -S host1,deadhost -j 1 -c cat
	assert_line --index 0 --regexp $'^host host1\treachable, connected in [0-9.]+m?s$'
	assert_line --index 1 --regexp $'^cat#0\tpid [0-9]+\ton host1\tready in '
	assert_line --index 2 --regexp $'^host deadhost\tUNREACHABLE: ssh: connect to host 127.0.0.1 port [0-9]+: Connection refused$'
	assert_line --index 3 --regexp $'^cat#1\tpid [0-9]+\ton deadhost\tFAILED: exited with status 255'
	run -3 --separate-stderr spool_t check -S deadhost -j 1 -c cat
	# Every host up: 0.
	run -0 --separate-stderr spool_t check -S host1,host2 -j 1 -c cat
}

@test "--dry-run: each worker's host and the local command that runs it" {
	cat >pool.json <<-'EOF'
		{"workers": [{"cmd": ["sh", "-c", "echo \"$GREETING\" {slot}"],
		  "env": {"GREETING": "hi {host}"}, "hosts": ["2/host1"]}]}
	EOF
	run -0 --separate-stderr spool_t run --dry-run -w pool.json
	assert_line --index 0 $'sh#0\tlines\tsh -c \'echo "$GREETING" 0\''
	assert_line $'\tenv \'GREETING=hi host1\''
	assert_line $'\tenv SPOOL_HOST=host1'
	assert_line $'\tenv SPOOL_SLOT=1'
	assert_line $'\thost host1'
	local cmd
	cmd=$(grep -m1 $'^\tlocal ' <<<"$output")
	cmd=${cmd#$'\tlocal '}
	[[ $cmd == "ssh -F $SSH_CONFIG -T -o BatchMode=yes -o ControlMaster=no -o ControlPath=/tmp/spool-XXXXXX/h0 -e none host1 'exec perl -e "* ]]
	# It is the whole command: run as printed, it runs the worker there
	# (no master: ssh connects on its own).
	run -0 --separate-stderr eval "$cmd" </dev/null
	assert_output 'hi host1 0'
	[[ $stderr == "spool-guard: started "* ]]
	# Nothing was started.
	assert_equal "$(remote_count 'perl -e')" 0
}

@test "--stats: each worker's host (null when local) and a line per host" {
	seq_tasks 20 >tasks
	run -0 --separate-stderr spool_t run -S host1,host2 -j 1 -k \
		--stats=stats.json -c cat tasks
	assert_equal "$(jq -c '[.workers[].host]' stats.json)" '["host1","host2"]'
	# (A worker may not be up yet when 20 tasks are done.)
	on_stderr assert_line --regexp '^spool: host host1: [01] of 1 workers came up, [0-9]+ tasks, 0 restarts, connected in '
	on_stderr assert_line --regexp '^spool: host host2: [01] of 1 workers came up, '
	run -0 --separate-stderr spool_t run -j 1 --stats=local.json -c cat tasks
	assert_equal "$(jq -c '[.workers[].host]' local.json)" '[null]'
	[[ $stderr != *"spool: host "* ]]
}

@test "serve composition: a pool per host behind one connection each, exactly once, in order" {
	echo '{"workers": [{"cmd": ["cat"], "replicas": 2}]}' >"$T/node.json"
	jq -n --arg spool "$SPOOL" --arg node "$T/node.json" \
		'{workers: [{name: "node", cmd: [$spool, "serve", "-w", $node],
		  protocol: "spool", hosts: ["host1", "host2"], inflight: 256}]}' >pool.json
	local before
	before=$(logins)
	seq_tasks 3000 >tasks
	run -0 --separate-stderr spool_t run -w pool.json -k --stats=stats.json tasks
	assert_equal "$output" "$(cat tasks)"
	assert_equal "$(logins)" $((before + 2))
	assert_equal "$(jq -c '[.workers[].host]' stats.json)" '["host1","host2"]'
	assert_equal "$(jq '[.workers[].tasks] | add' stats.json)" 3000
	assert_equal "$(jq '.tasks.retried' stats.json)" 0
	# The remote pools' spawn results name their own workers.
	[[ $(jq -r '.workers[0].spawn_result | map(.worker) | join(",")' stats.json) == "cat#0,cat#1" ]]
	wait_for 10 remote_none "spool serve"
}
