#!/usr/bin/env bats
# config.bats - the pool config (SPEC section 3), key by key, through real
# runs; every bad config is exit 2 with the exact place in the message.

bats_require_minimum_version 1.5.0

load test_helper
load helpers/core

setup() {
	T=$BATS_TEST_TMPDIR
	REAL_T=$(cd "$T" && pwd -P)
	cd "$T" || return 1
	printf '{"x":1}\n' >tasks.ndjson
	# A spec whose worker leaves a marker when it starts.
	M='"cmd": ["sh", "-c", "touch started; exec cat"]'
}

refute_worker_started() {
	[[ ! -e $T/started ]] || fail "a worker was started"
}

# stderr_line_matching REGEX : print the first stderr line matching REGEX.
stderr_line_matching() {
	local l
	for l in "${stderr_lines[@]}"; do
		if [[ $l =~ $1 ]]; then
			printf '%s\n' "$l"
			return 0
		fi
	done
	return 1
}

# bad_config JSON PREFIX [SUFFIX] : spool rejects the config: exit 2,
# nothing on stdout, no worker started, and the first stderr line starts
# with "spool: pool.json: PREFIX" and ends with SUFFIX.
bad_config() {
	printf '%s\n' "$1" >pool.json
	run --separate-stderr spool run -w pool.json tasks.ndjson
	assert_equal "$status" 2
	assert_equal "$output" ""
	local first=${stderr_lines[0]-}
	[[ $first == "spool: pool.json: $2"* ]] ||
		fail "expected 'spool: pool.json: $2...', got: $stderr"
	[[ $first == *"${3-}" ]] || fail "expected the message to end with '$3', got: $first"
	refute_worker_started
}

# ------------------------------------------------------------- replicas

@test "replicas starts that many copies of a spec" {
	write_pool pool.json '{"workers": [{"cmd": ["sh", "-c", "echo $$ >>spawned; exec cat"], "replicas": 3},
		{"cmd": ["sh", "-c", "echo $$ >>spawned; exec cat"]}]}'
	run --separate-stderr spool run -w pool.json tasks.ndjson
	assert_success
	assert_output '{"x":1}'
	assert_equal "$(count_lines spawned)" 4
	assert_equal "$(sort -u spawned | wc -l)" 4
}

@test "replicas defaults to 1" {
	write_pool pool.json '{"workers": [{"cmd": ["sh", "-c", "echo $$ >>spawned; exec cat"]}]}'
	run --separate-stderr spool run -w pool.json tasks.ndjson
	assert_success
	assert_equal "$(count_lines spawned)" 1
}

# ----------------------------------------------------- names and labels

@test "name defaults to the basename of cmd[0]" {
	write_pool pool.json '{"workers": [{"cmd": ["/bin/cat"], "replicas": 2}]}'
	run --separate-stderr spool run -v -w pool.json tasks.ndjson
	assert_success
	on_stderr assert_line --regexp '^spool: worker cat#0 spawned \(pid [0-9]+\)$'
	on_stderr assert_line --regexp '^spool: worker cat#1 spawned \(pid [0-9]+\)$'
}

@test "with -c the name is the command's first word (its basename)" {
	run --separate-stderr spool run -v -c '/bin/cat -u' -j 2 tasks.ndjson
	assert_success
	assert_output '{"x":1}'
	on_stderr assert_line --regexp '^spool: worker cat#0 spawned'
	on_stderr assert_line --regexp '^spool: worker cat#1 spawned'

	run --separate-stderr spool run -v -c '  sed -u "s/1/2/"' -j 1 tasks.ndjson
	assert_success
	assert_output '{"x":2}'
	on_stderr assert_line --regexp '^spool: worker sed#0 spawned'

	run --separate-stderr spool run -v -c 'cat;echo done >&2' -j 1 tasks.ndjson
	assert_success
	on_stderr assert_line --regexp '^spool: worker cat#0 spawned'
	on_stderr assert_line '[cat#0] done'
}

@test "labels are name#i, i counting workers that share a name across specs" {
	write_pool pool.json '{"workers": [
		{"name": "embed", "cmd": ["sh", "-c", "echo up >&2; exec cat"], "replicas": 2},
		{"name": "other", "cmd": ["sh", "-c", "echo up >&2; exec cat"]},
		{"name": "embed", "cmd": ["sh", "-c", "echo up >&2; exec cat"]},
		{"cmd": ["sh", "-c", "echo up >&2; exec cat"]}]}'
	run --separate-stderr spool run -w pool.json </dev/null
	assert_success
	local l
	for l in '[embed#0] up' '[embed#1] up' '[embed#2] up' '[other#0] up' '[sh#0] up'; do
		on_stderr assert_line "$l"
	done
	assert_equal "${#stderr_lines[@]}" 5
}

# --------------------------------------------------------- placeholders

@test "{worker} {replica} {name} are replaced in cmd, env and cwd" {
	mkdir d0 d1
	cat >pool.json <<'EOF'
{"workers": [
  {"name": "a", "replicas": 2,
   "cmd": ["sh", "-c", "echo \"cmd=$0 env=$E u=$U cwd=$(pwd -P)\" >&2; exec cat", "{worker}-{replica}-{name}"],
   "env": {"E": "{worker}-{replica}-{name}", "U": "{nope}{worker"},
   "cwd": "d{replica}"},
  {"name": "b",
   "cmd": ["sh", "-c", "echo \"cmd=$0 env=$E u=$U cwd=$(pwd -P)\" >&2; exec cat", "{worker}-{replica}-{name}"],
   "env": {"E": "{worker}-{replica}-{name}", "U": "{nope}{worker"},
   "cwd": "d{replica}"}
]}
EOF
	cd /
	run --separate-stderr spool run -w "$T/pool.json" </dev/null
	assert_success
	on_stderr assert_line "[a#0] cmd=0-0-a env=0-0-a u={nope}{worker cwd=$REAL_T/d0"
	on_stderr assert_line "[a#1] cmd=1-1-a env=1-1-a u={nope}{worker cwd=$REAL_T/d1"
	on_stderr assert_line "[b#0] cmd=2-0-b env=2-0-b u={nope}{worker cwd=$REAL_T/d0"
}

# ------------------------------------------------------------------ env

@test "env values may be strings or numbers" {
	cat >pool.json <<'EOF'
{"workers": [{"name": "e",
  "cmd": ["sh", "-c", "echo \"S=[$S] N=[$N] F=[$F] NEG=[$NEG] EMPTY=[$EMPTY]\" >&2; exec cat"],
  "env": {"S": "two words", "N": 42, "F": 1.5, "NEG": -7, "EMPTY": ""}}]}
EOF
	run --separate-stderr spool run -w pool.json </dev/null
	assert_success
	on_stderr assert_line "[e#0] S=[two words] N=[42] F=[1.5] NEG=[-7] EMPTY=[]"
}

# ------------------------------------------------------------------ cwd

@test "a relative cwd is resolved against the config file's directory" {
	mkdir -p conf/work
	write_pool conf/pool.json '{"workers": [{"name": "w", "cmd": ["sh", "-c", "pwd -P >&2; exec cat"], "cwd": "work"}]}'
	cd /
	run --separate-stderr spool run -w "$T/conf/pool.json" </dev/null
	assert_success
	on_stderr assert_line "[w#0] $REAL_T/conf/work"

	# The config named by a relative path: still its own directory.
	cd "$T" || return 1
	run --separate-stderr spool run -w conf/pool.json </dev/null
	assert_success
	on_stderr assert_line "[w#0] $REAL_T/conf/work"
}

@test "cwd \".\" is the config file's directory; an absolute cwd is kept" {
	mkdir -p conf abs
	write_pool conf/pool.json "{\"workers\": [
		{\"name\": \"dot\", \"cmd\": [\"sh\", \"-c\", \"pwd -P >&2; exec cat\"], \"cwd\": \".\"},
		{\"name\": \"abs\", \"cmd\": [\"sh\", \"-c\", \"pwd -P >&2; exec cat\"], \"cwd\": \"$T/abs\"},
		{\"name\": \"none\", \"cmd\": [\"sh\", \"-c\", \"pwd -P >&2; exec cat\"]}]}"
	cd /tmp
	run --separate-stderr spool run -w "$T/conf/pool.json" </dev/null
	assert_success
	on_stderr assert_line "[dot#0] $REAL_T/conf"
	on_stderr assert_line "[abs#0] $REAL_T/abs"
	# Without cwd, a worker runs where spool runs.
	on_stderr assert_line "[none#0] $(pwd -P)"
}

@test "a cwd that does not exist fails the spawn, naming the directory" {
	write_pool pool.json '{"workers": [{"name": "w", "cmd": ["cat"], "cwd": "nowhere"}]}'
	run --separate-stderr spool run -w pool.json tasks.ndjson
	assert_equal "$status" 3
	assert_output ""
	on_stderr assert_line --partial "cannot change to directory"
	on_stderr assert_line --partial "nowhere"
}

# --------------------------------------------------------------- cmd[0]

@test "a cmd[0] with a slash is resolved against the config file's directory" {
	mkdir -p conf/bin
	printf '#!/bin/sh\necho "ran with [$*]" >&2\nexec cat\n' >conf/bin/w.sh
	chmod +x conf/bin/w.sh
	write_pool conf/pool.json '{"workers": [
		{"name": "dot", "cmd": ["./bin/w.sh", "./arg"]},
		{"name": "rel", "cmd": ["bin/w.sh"]}]}'
	cd /
	run --separate-stderr spool run -w "$T/conf/pool.json" "$T/tasks.ndjson"
	assert_success
	assert_output '{"x":1}'
	# Only cmd[0] is resolved; other arguments are passed as written.
	on_stderr assert_line "[dot#0] ran with [./arg]"
	on_stderr assert_line "[rel#0] ran with []"

	# The config named by a relative path.
	cd "$T" || return 1
	run --separate-stderr spool run -w conf/pool.json tasks.ndjson
	assert_success
	on_stderr assert_line "[dot#0] ran with [./arg]"
	on_stderr assert_line "[rel#0] ran with []"
}

@test "a cmd[0] with a slash is found when cwd is set too" {
	mkdir -p conf/bin conf/work
	printf '#!/bin/sh\necho "ran in $(pwd -P)" >&2\nexec cat\n' >conf/bin/w.sh
	chmod +x conf/bin/w.sh
	write_pool conf/pool.json '{"workers": [{"name": "w", "cmd": ["./bin/w.sh"], "cwd": "work"}]}'
	cd /
	run --separate-stderr spool run -w "$T/conf/pool.json" "$T/tasks.ndjson"
	assert_success
	on_stderr assert_line "[w#0] ran in $REAL_T/conf/work"

	# The same config named by a relative path: both are resolved against
	# the config's directory, so the cwd must not change what cmd[0] is.
	cd "$T" || return 1
	run --separate-stderr spool run -w conf/pool.json tasks.ndjson
	assert_success
	on_stderr assert_line "[w#0] ran in $REAL_T/conf/work"
}

@test "a cmd[0] without a slash is looked up on PATH, not in the config's directory" {
	mkdir -p conf pathbin
	printf '#!/bin/sh\necho "from PATH" >&2\nexec cat\n' >pathbin/myworker
	printf '#!/bin/sh\necho "decoy" >&2\nexec cat\n' >conf/myworker
	chmod +x pathbin/myworker conf/myworker
	write_pool conf/pool.json '{"workers": [{"cmd": ["myworker"], "cwd": "."}]}'
	cd conf
	PATH="$T/pathbin:$PATH" run --separate-stderr spool run -w pool.json "$T/tasks.ndjson"
	assert_success
	assert_output '{"x":1}'
	on_stderr assert_line "[myworker#0] from PATH"
	on_stderr refute_line "[myworker#0] decoy"
}

# ---------------------------------------------------------------- order

# Six tasks: the first blocks until the last has run, so with two workers
# at one task each, the first completes last.
gated_tasks() {
	printf '{"x":1,"wait":"%s/go"}\n' "$T"
	seq_tasks 4 2
	printf '{"x":6,"touch":"%s/go"}\n' "$T"
}

gated_pool() { # gated_pool ORDER-KEY-OR-NOTHING
	write_pool pool.json "{\"workers\": [{\"name\": \"g\", \"cmd\": [\"$WORKER_PY\"],
		\"replicas\": 2, \"inflight\": 1}]$1}"
}

@test "order \"input\" writes results in input order" {
	gated_tasks >gated.ndjson
	gated_pool ', "order": "input"'
	run --separate-stderr timeout 30 "$SPOOL" run -w pool.json gated.ndjson
	assert_success
	assert_output "$(cat gated.ndjson)"
}

@test "order \"completion\" (and no order) writes results as they complete" {
	gated_tasks >gated.ndjson
	local order
	for order in ', "order": "completion"' ''; do
		rm -f go
		gated_pool "$order"
		run --separate-stderr timeout 30 "$SPOOL" run -w pool.json gated.ndjson
		assert_success
		# The blocked first task comes out last.
		assert_output "$(tail -n +2 gated.ndjson; head -n 1 gated.ndjson)"
	done
}

@test "-k overrides order \"completion\"" {
	gated_tasks >gated.ndjson
	gated_pool ', "order": "completion"'
	run --separate-stderr timeout 30 "$SPOOL" run -k -w pool.json gated.ndjson
	assert_success
	assert_output "$(cat gated.ndjson)"
}

# ----------------------------------------------------------- queue_size

# stalled_window N SPOOL-ARGS... : run 10 tasks, the first blocked until
# $T/go exists, through the pool in pool.json (two workers, one task
# each, input order); once the workers have received N tasks and spool
# waits, print how many they had received (N, unless spool read past its
# window).  Then release the first task and finish the run.
stalled_window() {
	local n=$1
	shift
	{
		printf '{"x":1,"wait":"%s/go"}\n' "$T"
		seq_tasks 9 2
	} >win.ndjson
	WORKER_LOG=$T/received "$SPOOL" run "$@" win.ndjson >win.out 2>win.err 3>&- &
	local pid=$!
	wait_for 20 lines_at_least "$n" received
	wait_for 20 sleeping "$pid"
	count_lines received
	touch go
	wait "$pid"
	cmp win.ndjson win.out >&2
}

@test "queue_size bounds the tasks read but not yet written out" {
	write_pool pool.json "{\"workers\": [{\"cmd\": [\"$WORKER_PY\"], \"replicas\": 2, \"inflight\": 1}],
		\"order\": \"input\", \"queue_size\": 3}"
	run --separate-stderr stalled_window 3 -w pool.json
	assert_success
	# The blocked head and the two after it; nothing beyond the window.
	assert_output 3
}

@test "-q overrides queue_size" {
	write_pool pool.json "{\"workers\": [{\"cmd\": [\"$WORKER_PY\"], \"replicas\": 2, \"inflight\": 1}],
		\"order\": \"input\", \"queue_size\": 100}"
	run --separate-stderr stalled_window 4 -w pool.json -q 4
	assert_success
	assert_output 4
}

# -------------------------------------------------------------- retries

# The second task kills its worker every time it is tried.
dying_tasks() {
	printf '{"x":1}\n{"x":2,"die":1}\n{"x":3}\n'
}

@test "retries sets the extra attempts for a task whose worker died" {
	dying_tasks >die.ndjson
	write_pool pool.json "{\"workers\": [{\"name\": \"d\", \"cmd\": [\"$WORKER_PY\"]}], \"retries\": 1}"
	WORKER_LOG=$T/received run --separate-stderr spool run -k --tag -w pool.json die.ndjson
	assert_failure 1
	assert_line --index 0 '{"seq":1,"result":{"x":1}}'
	assert_line --index 1 --regexp '^\{"seq":2,"error":\{"message":"[^"]+","attempts":2,"worker":"d#0"\}\}$'
	assert_line --index 2 '{"seq":3,"result":{"x":3}}'
	assert_equal "$(grep -c '"die"' received)" 2
	on_stderr assert_line --regexp '^spool: die\.ndjson:2: failed after 2 attempts: '
}

@test "retries 0 means one attempt; -r overrides the config; the default is 2" {
	dying_tasks >die.ndjson
	write_pool pool.json "{\"workers\": [{\"name\": \"d\", \"cmd\": [\"$WORKER_PY\"]}], \"retries\": 0}"
	WORKER_LOG=$T/r0 run --separate-stderr spool run -w pool.json die.ndjson
	assert_failure 1
	assert_equal "$(grep -c '"die"' r0)" 1

	WORKER_LOG=$T/r2 run --separate-stderr spool run -r 2 -w pool.json die.ndjson
	assert_failure 1
	assert_equal "$(grep -c '"die"' r2)" 3

	write_pool pool.json "{\"workers\": [{\"name\": \"d\", \"cmd\": [\"$WORKER_PY\"]}]}"
	WORKER_LOG=$T/rdef run --separate-stderr spool run -w pool.json die.ndjson
	assert_failure 1
	assert_equal "$(grep -c '"die"' rdef)" 3
	assert_equal "$(grep -c '"x":3' rdef)" 1
}

# ------------------------------------------------------------- inflight

@test "inflight N lets a worker hold N tasks at once, and no more" {
	seq_tasks 9 >nine.ndjson
	write_pool pool.json "{\"workers\": [{\"cmd\": [\"$CORE_FIXTURES/batch.py\", \"3\", \"$T/most\"],
		\"inflight\": 3}]}"
	# batch.py answers only when it holds 3 tasks: with fewer in flight
	# the run would never finish.
	run --separate-stderr timeout 30 "$SPOOL" run -k -w pool.json nine.ndjson
	assert_success
	assert_output "$(cat nine.ndjson)"
	assert_equal "$(cat most)" 3
}

@test "--inflight overrides the config's inflight" {
	seq_tasks 6 >six.ndjson
	write_pool pool.json "{\"workers\": [{\"cmd\": [\"$CORE_FIXTURES/batch.py\", \"2\", \"$T/most\"],
		\"inflight\": 1}]}"
	run --separate-stderr timeout 30 "$SPOOL" run -k --inflight 2 -w pool.json six.ndjson
	assert_success
	assert_output "$(cat six.ndjson)"
	assert_equal "$(cat most)" 2
}

@test "inflight \"auto\" is accepted and runs every task" {
	seq_tasks 500 >many.ndjson
	write_pool pool.json '{"workers": [{"cmd": ["cat"], "inflight": "auto", "replicas": 2}]}'
	run --separate-stderr spool run -k -w pool.json many.ndjson
	assert_success
	assert_output "$(cat many.ndjson)"
}

# ---------------------------------------------------------------- ready

@test "ready \"line\": no task before the first line, which is the spawn result" {
	seq_tasks 3 >three.ndjson
	jq -n --arg py "$CORE_FIXTURES/ready.py" --arg d "$T" \
		'{workers: [{name: "rdy", cmd: [$py, $d, "{ \"model\" : \"small\" }"], ready: "line"}]}' >pool.json
	"$SPOOL" run -v -w pool.json three.ndjson >out 2>err 3>&- &
	local pid=$!
	wait_for 20 test -e started
	wait_for 20 sleeping "$pid"
	touch go
	local rc=0
	wait "$pid" || rc=$?
	assert_equal "$rc" 0
	assert_equal "$(cat early)" no
	# The ready line is not a result.
	assert_equal "$(cat out)" "$(cat three.ndjson)"
	grep -Eq '^spool: worker rdy#0 \(pid [0-9]+\) ready in [^:]+: \{"model":"small"\}$' err ||
		fail "no ready line with the spawn result in: $(cat err)"
}

@test "ready \"line\": a line that is not JSON is reported as a JSON string" {
	write_pool pool.json '{"workers": [{"name": "r", "cmd": ["sh", "-c", "echo loading done; exec cat"], "ready": "line"}]}'
	run --separate-stderr spool run -v -w pool.json tasks.ndjson
	assert_success
	assert_output '{"x":1}'
	on_stderr assert_line --regexp '^spool: worker r#0 \(pid [0-9]+\) ready in [^:]+: "loading done"$'
}

@test "ready \"start\" (the default) sends tasks at once" {
	write_pool pool.json '{"workers": [{"name": "r", "cmd": ["cat"], "ready": "start"}]}'
	run --separate-stderr spool run -w pool.json tasks.ndjson
	assert_success
	assert_output '{"x":1}'
}

# ---------------------------------------------------------- bad configs

@test "config: invalid JSON names the line and column" {
	printf '{"workers": [\n  {%s},}\n]}\n' "$M" >pool.json
	run --separate-stderr spool run -w pool.json tasks.ndjson
	assert_equal "$status" 2
	assert_output ""
	on_stderr assert_line --index 0 --regexp '^spool: pool\.json:2:[0-9]+: invalid JSON: '
	# The column is that of the "}" after the trailing comma.
	local col
	col=$(sed -n 2p pool.json | cut -d'}' -f1-2 | wc -c)
	on_stderr assert_line --index 0 --partial "spool: pool.json:2:$col: invalid JSON"
	refute_worker_started
}

@test "config: truncated or empty JSON names the line and column" {
	printf '{"workers": [\n  {"cmd": ["cat"]}\n' >pool.json
	run --separate-stderr spool run -w pool.json tasks.ndjson
	assert_equal "$status" 2
	on_stderr assert_line --index 0 --regexp '^spool: pool\.json:3:1: invalid JSON: '
	: >pool.json
	run --separate-stderr spool run -w pool.json tasks.ndjson
	assert_equal "$status" 2
	on_stderr assert_line --index 0 --regexp '^spool: pool\.json:1:1: invalid JSON'
	printf '{"workers": [\n\n   {cmd: 1}]}' >pool.json
	run --separate-stderr spool run -w pool.json tasks.ndjson
	assert_equal "$status" 2
	on_stderr assert_line --index 0 --regexp '^spool: pool\.json:3:5: invalid JSON'
}

@test "config: an error in a later spec names it and starts no worker" {
	bad_config "{\"workers\": [{$M}, {$M, \"replicas\": \"two\"}]}" \
		'workers[1].replicas: expected an integer' ', got "two"'
}

@test "config: replicas must be an integer >= 0; a pool of templates only is refused by run" {
	write_pool pool.json "{\"workers\": [{$M, \"replicas\": 0}]}"
	run --separate-stderr spool run -w pool.json tasks.ndjson
	assert_equal "$status" 2
	on_stderr assert_output --partial 'has no workers: every spec has "replicas": 0'
	bad_config "{\"workers\": [{$M, \"replicas\": -1}]}" 'workers[0].replicas: expected an integer' ', got -1'
	bad_config "{\"workers\": [{$M, \"replicas\": 1.5}]}" 'workers[0].replicas: expected an integer' ', got 1.5'
	bad_config "{\"workers\": [{$M, \"replicas\": null}]}" 'workers[0].replicas: expected an integer' ', got null'
}

@test "config: unknown keys are named" {
	bad_config "{\"workers\": [{$M}], \"colour\": 1}" 'colour: unknown key'
	bad_config "{\"workers\": [{$M}, {$M, \"replica\": 2}]}" 'workers[1].replica: unknown key'
}

@test "config: workers must be a non-empty array of objects" {
	bad_config '{"workers": []}' 'workers: expected a non-empty array' ', got []'
	bad_config '{"workers": {}}' 'workers: expected a non-empty array' ', got {}'
	bad_config '{"order": "input"}' 'workers: missing'
	bad_config '[]' 'top level: expected an object' ', got []'
	bad_config "{\"workers\": [{$M}, \"cat\"]}" 'workers[1]: expected an object' ', got "cat"'
}

@test "config: cmd is required and must be a non-empty array of strings" {
	bad_config "{\"workers\": [{$M}, {\"name\": \"x\"}]}" 'workers[1]: missing "cmd"'
	bad_config '{"workers": [{"cmd": []}]}' 'workers[0].cmd: expected a non-empty array' ', got []'
	bad_config '{"workers": [{"cmd": "cat"}]}' 'workers[0].cmd: expected a non-empty array' ', got "cat"'
	bad_config '{"workers": [{"cmd": ["sh", 3]}]}' 'workers[0].cmd[1]: expected a string' ', got 3'
	bad_config '{"workers": [{"cmd": [""]}]}' 'workers[0].cmd[0]: expected a non-empty string' ', got ""'
}

@test "config: name, protocol, spawn, cwd with wrong types" {
	bad_config "{\"workers\": [{$M, \"name\": 7}]}" 'workers[0].name: expected a non-empty string' ', got 7'
	bad_config "{\"workers\": [{$M, \"name\": \"\"}]}" 'workers[0].name: expected a non-empty string' ', got ""'
	bad_config "{\"workers\": [{$M, \"protocol\": \"http\"}]}" 'workers[0].protocol: expected "lines" or "spool"' ', got "http"'
	bad_config "{\"workers\": [{$M, \"spawn\": \"x\"}]}" 'workers[0].spawn: expected an object' ', got "x"'
	bad_config "{\"workers\": [{$M, \"cwd\": 3}]}" 'workers[0].cwd: expected a non-empty string' ', got 3'
	bad_config "{\"workers\": [{$M, \"cwd\": \"\"}]}" 'workers[0].cwd: expected a non-empty string' ', got ""'
}

@test "config: env must be an object of strings or numbers with valid names" {
	bad_config "{\"workers\": [{$M, \"env\": []}]}" 'workers[0].env: expected an object' ', got []'
	bad_config "{\"workers\": [{$M, \"env\": {\"A\": true}}]}" 'workers[0].env.A: expected a string' ', got true'
	bad_config "{\"workers\": [{$M, \"env\": {\"A\": [1]}}]}" 'workers[0].env.A: expected a string' ', got [1]'
	bad_config "{\"workers\": [{$M, \"env\": {\"A=B\": \"x\"}}]}" 'workers[0].env: "A=B" is not a valid variable name'
}

@test "config: inflight, timeout, startup_timeout, max_tasks, ready with bad values" {
	bad_config "{\"workers\": [{$M, \"inflight\": 0}]}" 'workers[0].inflight: expected an integer >= 1 or "auto"' ', got 0'
	bad_config "{\"workers\": [{$M, \"inflight\": \"fast\"}]}" 'workers[0].inflight: expected an integer >= 1 or "auto"' ', got "fast"'
	bad_config "{\"workers\": [{$M, \"timeout\": -1}]}" 'workers[0].timeout: expected a number of seconds' ', got -1'
	bad_config "{\"workers\": [{$M, \"timeout\": \"5\"}]}" 'workers[0].timeout: expected a number of seconds' ', got "5"'
	bad_config "{\"workers\": [{$M, \"startup_timeout\": \"x\"}]}" 'workers[0].startup_timeout: expected a number of seconds' ', got "x"'
	bad_config "{\"workers\": [{$M, \"max_tasks\": -1}]}" 'workers[0].max_tasks: expected an integer' ', got -1'
	bad_config "{\"workers\": [{$M, \"max_tasks\": 2.5}]}" 'workers[0].max_tasks: expected an integer' ', got 2.5'
	bad_config "{\"workers\": [{$M, \"ready\": \"soon\"}]}" 'workers[0].ready: expected "line" or "start"' ', got "soon"'
}

@test "config: ready with the spool protocol is named at its key" {
	bad_config "{\"workers\": [{$M}, {$M, \"protocol\": \"spool\", \"ready\": \"line\"}]}" \
		'workers[1].ready: only for the lines protocol'
}

@test "config: order, queue_size, retries with bad values" {
	bad_config "{\"workers\": [{$M}], \"order\": \"random\"}" 'order: expected "input" or "completion"' ', got "random"'
	bad_config "{\"workers\": [{$M}], \"queue_size\": 0}" 'queue_size: expected an integer' ', got 0'
	bad_config "{\"workers\": [{$M}], \"queue_size\": \"big\"}" 'queue_size: expected an integer' ', got "big"'
	bad_config "{\"workers\": [{$M}], \"retries\": -1}" 'retries: expected an integer' ', got -1'
	bad_config "{\"workers\": [{$M}], \"retries\": 1.5}" 'retries: expected an integer' ', got 1.5'
}

@test "config: a key written twice is an error wherever spool reads keys" {
	local dup='duplicate key (each key may appear once)'
	bad_config "{\"workers\": [{$M}], \"order\": \"input\", \"order\": \"completion\"}" "order: $dup"
	bad_config "{\"workers\": [{$M}], \"workers\": [{$M}]}" "workers: $dup"
	bad_config "{\"workers\": [{$M, \"timeout\": 5, \"timeout\": 0}]}" "workers[0].timeout: $dup"
	bad_config "{\"workers\": [{$M}, {$M, \"cmd\": [\"cat\"]}]}" "workers[1].cmd: $dup"
	bad_config "{\"workers\": [{$M, \"env\": {\"A\": \"1\", \"A\": \"2\"}}]}" "workers[0].env.A: $dup"
	# The same key spelled with an escape.
	bad_config "{\"workers\": [{$M, \"replicas\": 2, \"r\\u0065plicas\": 3}]}" "workers[0].replicas: $dup"
}

@test "config: spawn is the worker's own and may repeat a key" {
	write_pool pool.json '{"workers": [{"cmd": ["sh", "-c", "echo \"$SPOOL_SPAWN\" >spawn; exec cat"],
		"spawn": {"k": 1, "k": 2}}]}'
	run --separate-stderr spool run -w pool.json tasks.ndjson
	assert_success
	assert_output '{"x":1}'
	assert_equal "$(cat spawn)" '{"k":1,"k":2}'
}

@test "config: a number beyond a double is shown as written, not as null" {
	bad_config "{\"workers\": [{$M, \"timeout\": 1e999}]}" \
		'workers[0].timeout: expected a number of seconds' ', got 1e999'
	bad_config "{\"workers\": [{$M, \"replicas\": -1E400}]}" \
		'workers[0].replicas: expected an integer' ', got -1E400'
	bad_config "{\"workers\": [{$M}], \"retries\": 1e999}" \
		'retries: expected an integer' ', got 1e999'
	# Nor is it an environment value ("inf"): it must be quoted.
	bad_config "{\"workers\": [{$M, \"env\": {\"N\": 1e999}}]}" \
		'workers[0].env.N: expected a string' ', got 1e999'
}

@test "config: the place is named with the path as given" {
	mkdir sub
	printf '{"workers": [{%s, "replicas": "two"}]}\n' "$M" >sub/p.json
	run --separate-stderr spool run -w sub/p.json tasks.ndjson
	assert_equal "$status" 2
	on_stderr assert_line --index 0 --partial 'spool: sub/p.json: workers[0].replicas: '
	refute_worker_started
}
