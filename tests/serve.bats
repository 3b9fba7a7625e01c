#!/usr/bin/env bats
# serve.bats - `spool serve` (SPEC section 9, spool-protocol(7)): every
# method, every kind of bad input, ids and order, notifications, clients
# that disconnect, fairness, backpressure, --listen, signals and the end of
# stdin.  The client is tests/fixtures/serve/converse.py, a script of
# steps: what each connection receives lands in NAME.out (and, in arrival
# order across connections, in `events`).  Workers hold tasks at gate
# files and note when they start one, so the tests wait on conditions and
# compare orders of events, never times.

bats_require_minimum_version 1.5.0

load test_helper
load helpers/faults
load helpers/hygiene

TW="$FIXTURES/serve/task_worker.py"
LW="$FIXTURES/serve/lines_worker.py"

setup() {
	T=$BATS_TEST_TMPDIR
	cd "$T" || return 1
}

teardown() {
	hyg_teardown
	# Reaped here, a server killed above is not reported by bash.
	[[ -z ${SPID-} ]] || wait "$SPID" 2>/dev/null || true
}

# converse [--timeout SECS] : run the steps on stdin (converse.py).
converse() {
	python3 "$FIXTURES/serve/converse.py" "$@"
}

# sq_pool FILE [MEMBERS] : a pool of one spool-protocol spec "sq" running
# task_worker.py; MEMBERS are more keys of the spec ("replicas": 2, ...).
sq_pool() {
	write_pool "$1" "{\"workers\":[{\"name\":\"sq\",\"protocol\":\"spool\",\"cmd\":[\"python3\",\"$TW\"]${2:+,$2}}]}"
}

# answer_of FILE ID : the answer with this id (JSON), compact.
answer_of() {
	jq -c --argjson id "$2" 'select(.id == $id)' "$1"
}

# check FILE ID JQ-FILTER : the answer with this id passes the filter
# (shown when it does not).
check() {
	local got
	got=$(answer_of "$1" "$2")
	if ! jq -e "$3" <<<"$got" >/dev/null; then
		echo "answer $2 in $1 fails $3: ${got:-(none)}" >&2
		return 1
	fi
}

# line_of FILE ID : the line number of the answer with this id.
line_of() {
	jq -c .id "$1" | grep -nxF -- "$(jq -c . <<<"$2")" | cut -d: -f1
}

# listen ARGS... : `spool serve ARGS... --listen s.sock` in the background
# (stderr in srv.err); its pid in SPID.  Clients connect once it listens.
listen() {
	"$SPOOL" serve "$@" --listen s.sock >srv.out 2>srv.err 3>&- &
	SPID=$!
	track "$SPID"
}

# server_exit : wait for the server started by listen; its status in STATUS.
server_exit() {
	STATUS=0
	wait "$SPID" || STATUS=$?
	echo "spool serve exited $STATUS; stderr:" >&2
	cat srv.err >&2
}

# ------------------------------------------------------------------ #
# spawn: the handshake                                                #

@test "spawn: answered once every worker is up, with each worker's spawn result" {
	write_pool pool.json "{\"workers\":[
		{\"name\":\"fast\",\"protocol\":\"spool\",\"cmd\":[\"python3\",\"$TW\"],\"spawn\":{\"gpu_ids\":[0,1]}},
		{\"name\":\"slow\",\"protocol\":\"spool\",\"cmd\":[\"python3\",\"$TW\"],\"spawn\":{\"gate\":\"$T/gate\"}}]}"
	converse <<-'EOF'
		serve c -w pool.json
		call c 1 spawn
		# The fast worker is up (stats says so) and the slow one is not.
		poll c stats r["workers"][0]["spawn_result"] is not None
		touch gate
		answer c 1
		close c
		exit c
	EOF
	# The handshake's answer came after the stats that saw one worker up.
	assert_equal "$(line_of c.out 1)" "$(wc -l <c.out)"
	run answer_of c.out 1
	assert_output "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":[{\"worker\":\"fast#0\",\"result\":{\"args\":[],\"kwargs\":{\"gpu_ids\":[0,1]}}},{\"worker\":\"slow#0\",\"result\":{\"args\":[],\"kwargs\":{\"gate\":\"$T/gate\"}}}]}"
	assert_equal "$(cat c.status)" 0
}

@test "spawn: a lines worker's ready line is its spawn result (JSON, or a string); without one, null" {
	write_pool pool.json '{"workers":[
		{"name":"js","cmd":["sh","-c","echo \"{\\\"model\\\": \\\"small\\\"}\"; exec cat"],"ready":"line"},
		{"name":"txt","cmd":["sh","-c","echo loaded; exec cat"],"ready":"line"},
		{"name":"plain","cmd":["cat"]}]}'
	converse <<-'EOF'
		serve c -w pool.json
		call c 1 spawn
		answer c 1
	EOF
	run answer_of c.out 1
	assert_output '{"jsonrpc":"2.0","id":1,"result":[{"worker":"js#0","result":{"model":"small"}},{"worker":"txt#0","result":"loaded"},{"worker":"plain#0","result":null}]}'
}

@test "spawn: no worker came up: error -32001 with each worker's reason" {
	sq_pool pool.json '"replicas":2,"spawn":{"fail":"CUDA out of memory"}'
	converse <<-'EOF'
		serve c -w pool.json
		call c 1 spawn
		answer c 1
		call c 2 execute [{"x":1}]
		answer c 2
	EOF
	check c.out 1 '.error.code == -32001 and .error.message == "no worker came up"'
	check c.out 1 '[.error.data.workers[].worker] == ["sq#0", "sq#1"]'
	check c.out 1 'all(.error.data.workers[].error; test("RuntimeError: CUDA out of memory"))'
	# And a task has nowhere to go.
	check c.out 2 '.error.code == -32002 and .error.data.reason == "no_workers"'
}

@test "spawn: a template pool (replicas 0) answers [] at once; a task then finds no workers" {
	sq_pool pool.json '"replicas":0'
	converse <<-'EOF'
		serve c -w pool.json
		call c "hello" spawn {}
		call c 2 execute [{"x":1}]
		lines c 2
		close c
		exit c
	EOF
	run answer_of c.out '"hello"'
	assert_output '{"jsonrpc":"2.0","id":"hello","result":[]}'
	check c.out 2 '.error == {"code":-32002,"message":.error.message,"data":{"reason":"no_workers","attempts":0,"worker":null,"error":null}}'
	assert_equal "$(cat c.status)" 0
}

# ------------------------------------------------------------------ #
# execute                                                             #

@test "execute: a spool worker's result, and a lines worker's answer as JSON or as a string" {
	sq_pool pool.json
	write_pool lines.json '{"workers":[{"name":"ln","cmd":["sh","-c","while read -r l; do case $l in *json*) echo \"{\\\"a\\\": [1, 2]}\";; *) echo \"plain $l\";; esac; done"]}]}'
	converse <<-'EOF'
		serve s -w pool.json
		call s 1 execute [{"x":12}]
		call s 2 execute ["a string"]
		call s 3 execute [null]
		call s 4 execute [[1,{"é":"ü"}]]
		serve l -w lines.json
		call l 1 execute ["json"]
		call l 2 execute [{"t":"x"}]
		lines s 4
		lines l 2
	EOF
	run answer_of s.out 1
	assert_output '{"jsonrpc":"2.0","id":1,"result":{"x":12,"sq":144}}'
	run answer_of s.out 2
	assert_output '{"jsonrpc":"2.0","id":2,"result":"a string"}'
	run answer_of s.out 3
	assert_output '{"jsonrpc":"2.0","id":3,"result":null}'
	run answer_of s.out 4
	assert_output '{"jsonrpc":"2.0","id":4,"result":[1,{"é":"ü"}]}'
	run answer_of l.out 1
	assert_output '{"jsonrpc":"2.0","id":1,"result":{"a":[1,2]}}'
	run answer_of l.out 2
	assert_output '{"jsonrpc":"2.0","id":2,"result":"plain {\"t\":\"x\"}"}'
}

@test "execute: a worker's error answer keeps its code, message and data (type, traceback)" {
	sq_pool pool.json
	converse <<-'EOF'
		serve c -w pool.json
		call c 7 execute [{"fail":"bad input 42"}]
		answer c 7
		call c 8 execute [{"x":2}]
		answer c 8
	EOF
	check c.out 7 '.error.code == -32000 and .error.message == "ValueError: bad input 42"'
	check c.out 7 '.error.data | .reason == "error" and .attempts == 1 and .worker == "sq#0"'
	check c.out 7 '.error.data.error | .type == "ValueError" and .message == "bad input 42"'
	check c.out 7 '.error.data.error.traceback | test("Traceback") and test("raise ValueError")'
	# The worker stays up: the next task is answered.
	check c.out 8 '.result == {"x":2,"sq":4}'
}

@test "execute: a task whose worker dies: -32002, reason died, its attempts (-r)" {
	sq_pool pool.json
	converse <<-'EOF'
		serve c -w pool.json
		call c 1 execute [{"die":true}]
		serve once -w pool.json -r 0
		call once 1 execute [{"die":true}]
		answer c 1
		answer once 1
	EOF
	check c.out 1 '.error.code == -32002 and .error.data == {"reason":"died","attempts":3,"worker":"sq#0","error":null}'
	check c.out 1 '.error.message | test("^failed after 3 attempts: worker sq#0 \\(pid [0-9]+\\) exited with status 1")'
	check once.out 1 '.error.data.reason == "died" and .error.data.attempts == 1'
}

@test "execute: every worker given up: no_workers" {
	# The worker never finishes its spawn: given up after 5 failed
	# starts, a task then fails for want of workers.
	sq_pool pool.json '"spawn":{"gate":"/nonexistent/never"},"startup_timeout":0.05'
	converse <<-'EOF'
		serve c -w pool.json -r 100
		call c 1 spawn
		answer c 1
		call c 2 execute [{"x":1}]
		answer c 2
	EOF
	check c.out 1 '.error.code == -32001'
	check c.out 2 '.error.code == -32002 and .error.data.reason == "no_workers" and .error.data.attempts == 0'
}

@test "execute: answers come in completion order, matched by ids of any JSON kind" {
	sq_pool pool.json '"replicas":2'
	converse <<-EOF
		serve c -w pool.json --inflight 1
		call c "slow" execute [{"x":1,"gate":"$T/gate"}]
		call c 2.5 execute [{"x":2}]
		call c -7 execute [{"x":3}]
		call c "ünï\"q\"" execute [{"x":4}]
		call c 1e3 execute [{"x":5}]
		lines c 4
		touch gate
		answer c "slow"
	EOF
	# The held task comes last, the others with their own ids.
	run jq -c '[.id, .result.x]' c.out
	assert_line --index 4 '["slow",1]'
	assert_line '[2.5,2]'
	assert_line '[-7,3]'
	assert_line '["ünï\"q\"",4]'
	assert_line '[1000,5]'
	# Ids come back as they were written.
	grep -qF '"id":1e3,' c.out
}

@test "a notification (no id) runs and is never answered" {
	sq_pool pool.json
	converse <<-EOF
		serve c -w pool.json
		send c {"jsonrpc":"2.0","method":"execute","params":[{"x":1,"started":"$T/ran"}]}
		wait $T/ran
		send c {"jsonrpc":"2.0","method":"execute","params":[{"fail":"unheard"}]}
		send c {"jsonrpc":"2.0","method":"stats"}
		send c {"jsonrpc":"2.0","method":"spawn"}
		call c 1 execute [{"x":2}]
		answer c 1
		poll c stats r["tasks"]["ok"] == 2 and r["tasks"]["failed"] == 1
		close c
		exit c
	EOF
	# One answer only (and the polled stats): the request with an id.
	run jq -c 'select(.id | type != "string")' c.out
	assert_output '{"jsonrpc":"2.0","id":1,"result":{"x":2,"sq":4}}'
	assert_equal "$(cat c.status)" 0
}

@test "a notification of add_worker starts a worker; of shutdown, shuts down" {
	sq_pool pool.json '"replicas":0'
	converse --timeout 15 <<-EOF
		serve c -w pool.json
		send c {"jsonrpc":"2.0","method":"add_worker","params":{"spawn":{"n":1}}}
		poll c stats len(r["workers"]) == 1
		call c 1 execute [{"x":1,"gate":"$T/gate"}]
		send c {"jsonrpc":"2.0","method":"shutdown"}
		call c 2 execute [{"x":2}]
		answer c 2
		touch gate
		answer c 1
		exit c
	EOF
	check c.out 2 '.error.code == -32004'
	check c.out 1 '.result.x == 1'
	assert_equal "$(cat c.status)" 0
}

# ------------------------------------------------------------------ #
# add_worker                                                          #

@test "add_worker: without cmd, one more worker like the template; its spawn arguments reach it" {
	sq_pool pool.json '"replicas":0,"spawn":{"model":"small"}'
	converse <<-'EOF'
		serve c -w pool.json
		call c 1 spawn
		call c 2 add_worker {"spawn":{"gpu_ids":[0,1]}}
		answer c 2
		call c 3 execute [{"whoami":1}]
		answer c 3
	EOF
	check c.out 1 '.result == []'
	check c.out 2 '.result.worker == "sq#0"'
	# Only the given keys are overridden: spawn as a whole.
	check c.out 3 '.result.spawn == {"args":[],"kwargs":{"gpu_ids":[0,1]}}'
}

@test "add_worker: the answer carries the new worker's spawn result" {
	sq_pool pool.json '"replicas":1'
	converse <<-'EOF'
		serve c -w pool.json
		call c 1 spawn
		answer c 1
		call c 2 add_worker {"spawn":{"gpu_ids":[2,3]}}
		call c 3 add_worker {"spawn":[7]}
		lines c 3
	EOF
	run answer_of c.out 2
	assert_output '{"jsonrpc":"2.0","id":2,"result":{"worker":"sq#1","result":{"args":[],"kwargs":{"gpu_ids":[2,3]}}}}'
	run answer_of c.out 3
	assert_output '{"jsonrpc":"2.0","id":3,"result":{"worker":"sq#2","result":{"args":[7],"kwargs":{}}}}'
}

@test "add_worker: with cmd, any worker, also in a pool of several specs" {
	write_pool pool.json "{\"workers\":[{\"name\":\"a\",\"cmd\":[\"cat\"]},{\"name\":\"b\",\"cmd\":[\"cat\"]}]}"
	converse <<-EOF
		serve c -w pool.json
		call c 1 spawn
		answer c 1
		call c 2 add_worker {"name":"sq","cmd":["python3","$TW"],"protocol":"spool","spawn":{"k":1}}
		answer c 2
		call c 3 add_worker {"spawn":{"k":1}}
		answer c 3
	EOF
	check c.out 2 '.result.worker == "sq#0"'
	# Two specs: no template, so cmd is needed.
	check c.out 3 '.error.code == -32602 and (.error.message | test("cmd"))'
}

@test "add_worker: a worker that fails to spawn is the answer: -32003, and the pool goes on" {
	sq_pool pool.json '"replicas":1'
	converse <<-'EOF'
		serve c -w pool.json
		call c 1 spawn
		answer c 1
		call c 2 add_worker {"spawn":{"fail":"no GPU 7"}}
		answer c 2
		call c 3 execute [{"x":3}]
		answer c 3
	EOF
	check c.out 2 '.error.code == -32003 and .error.data.worker == "sq#1"'
	check c.out 2 '.error.data.reason | test("RuntimeError: no GPU 7")'
	# Said once: "spawn failed: " and the reason.
	check c.out 2 '.error.message == "spawn failed: RuntimeError: no GPU 7"'
	check c.out 3 '.result == {"x":3,"sq":9}'
}

@test "add_worker: a program that cannot run: -32003 says why" {
	sq_pool pool.json '"replicas":1'
	converse <<-'EOF'
		serve c -w pool.json
		call c 1 add_worker {"cmd":["/nonexistent/worker"]}
		answer c 1
	EOF
	check c.out 1 '.error.code == -32003 and (.error.message | startswith("spawn failed: "))'
	check c.out 1 '.error.data.reason | test("/nonexistent/worker") and test("No such file or directory")'
}

@test "add_worker: a bad spec is -32602 naming the key; the pool is not disturbed" {
	sq_pool pool.json '"replicas":1'
	converse <<-'EOF'
		serve c -w pool.json
		call c 1 add_worker {"replicass":2}
		call c 2 add_worker {"protocol":"nope"}
		call c 3 add_worker {"spawn":5}
		call c 4 add_worker [{"spawn":{}}]
		call c 5 add_worker
		call c 6 execute [{"x":6}]
		lines c 6
	EOF
	check c.out 1 '.error.code == -32602 and (.error.message | test("replicass: unknown key"))'
	check c.out 2 '.error.code == -32602 and (.error.message | test("protocol") and test("nope"))'
	check c.out 3 '.error.code == -32602 and (.error.message | test("spawn"))'
	check c.out 4 '.error.code == -32602 and (.error.message | test("worker spec object"))'
	check c.out 5 '.error.code == -32602'
	check c.out 6 '.result == {"x":6,"sq":36}'
}

# ------------------------------------------------------------------ #
# stats and shutdown                                                  #

@test "stats: the --stats object of the run so far, with the serve counts" {
	sq_pool pool.json '"replicas":2'
	converse <<-'EOF'
		serve c -w pool.json
		call c 1 execute [{"x":1}]
		call c 2 execute [{"x":2}]
		call c 3 execute [{"fail":"no"}]
		lines c 3
		call c 4 stats
		answer c 4
	EOF
	check c.out 4 '.result | has("tasks") and has("wall_s") and has("tasks_per_s") and has("latency_s") and has("cpu_s") and has("workers")'
	check c.out 4 '.result.tasks | .ok == 2 and .failed == 1'
	check c.out 4 '.result.serve == {"clients":1,"disconnected":0,"discarded":0}'
	check c.out 4 '[.result.workers[].name] == ["sq","sq"]'
}

@test "shutdown: tasks accepted finish and are answered, later ones get -32004, then null and exit 0" {
	sq_pool pool.json '"replicas":2'
	converse <<-EOF
		serve c -w pool.json
		call c 1 execute [{"x":1,"gate":"$T/gate"}]
		call c 2 execute [{"x":2,"gate":"$T/gate"}]
		call c 3 execute [{"x":3,"gate":"$T/gate"}]
		call c 4 shutdown
		call c 5 execute [{"x":5}]
		answer c 5
		mark gate opens
		touch gate
		answer c 4
		exit c
	EOF
	check c.out 5 '.error == {"code":-32004,"message":"shutting down"}'
	check c.out 4 '.result == null'
	# Every accepted task answered, and before the shutdown's answer.
	run sh -c "jq -c 'select(.result != null) | .result.x' c.out | sort"
	assert_output $'1\n2\n3'
	(($(line_of c.out 4) == 5))
	grep -q '^- gate opens' events
	assert_equal "$(cat c.status)" 0
}

@test "the end of stdin ends the serve once what it accepted is answered" {
	sq_pool pool.json '"replicas":3'
	converse <<-EOF
		serve c -w pool.json --inflight 1
		call c 1 execute [{"x":1,"gate":"$T/gate"}]
		call c 2 execute [{"x":2,"gate":"$T/gate"}]
		call c 3 execute [{"x":3}]
		answer c 3
		close c
		mark stdin closed
		touch gate
		exit c
	EOF
	assert_equal "$(wc -l <c.out)" 3
	check c.out 1 '.result.x == 1'
	check c.out 2 '.result.x == 2'
	assert_equal "$(cat c.status)" 0
}

@test "SIGTERM: a queued task is not_started at once, one in flight gets its time, then interrupted; exit 143" {
	sq_pool pool.json
	converse <<-EOF
		serve c -w pool.json --inflight 1
		call c 1 execute [{"x":1,"gate":"$T/gate","started":"$T/started"}]
		call c 2 execute [{"x":2,"gate":"$T/gate","started":"$T/started"}]
		wait_lines $T/started 1
		signal c TERM
		answer c 2
		answer c 1
		exit c
	EOF
	check c.out 2 '.error.code == -32002 and .error.data == {"reason":"not_started","attempts":0,"worker":null,"error":null}'
	check c.out 1 '.error.code == -32002 and .error.data.reason == "interrupted" and .error.data.attempts == 1'
	(($(line_of c.out 2) < $(line_of c.out 1)))
	assert_equal "$(cat c.status)" 143
}

# ------------------------------------------------------------------ #
# Bad input: answered, and nothing else disturbed                     #

@test "bad input: a line that is not JSON is -32700 with id null; the next request is served" {
	sq_pool pool.json
	converse <<-'EOF'
		serve c -w pool.json
		send c {"jsonrpc":"2.0","id":1,"method":"execute","params":[{"x":1}
		send c garbage
		call c 2 execute [{"x":2}]
		answer c 2
	EOF
	run cat c.out
	assert_line --index 0 '{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}'
	assert_line --index 1 '{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}'
	assert_line --index 2 '{"jsonrpc":"2.0","id":2,"result":{"x":2,"sq":4}}'
}

@test "bad input: not a request object is -32600, with the id when it could be read" {
	sq_pool pool.json
	converse <<-'EOF'
		serve c -w pool.json
		send c []
		send c "execute"
		send c {"jsonrpc":"1.0","id":3,"method":"stats"}
		send c {"id":4,"method":"stats"}
		send c {"jsonrpc":"2.0","id":5,"method":["stats"]}
		send c {"jsonrpc":"2.0","id":6}
		send c {"jsonrpc":"2.0","id":{"a":1},"method":"stats"}
		send c {"jsonrpc":"2.0","id":true,"method":"stats"}
		call c 9 execute [{"x":9}]
		answer c 9
	EOF
	run jq -c '[.id, .error.code]' c.out
	assert_output $'[null,-32600]\n[null,-32600]\n[3,-32600]\n[4,-32600]\n[5,-32600]\n[6,-32600]\n[null,-32600]\n[null,-32600]\n[9,null]'
}

@test "a batch of requests is taken; its answers come one a line, an empty batch is -32600" {
	sq_pool pool.json
	converse <<-'EOF'
		serve c -w pool.json
		send c [{"jsonrpc":"2.0","id":1,"method":"execute","params":[{"x":1}]},{"jsonrpc":"2.0","id":2,"method":"execute","params":[{"x":2}]},{"jsonrpc":"2.0","method":"stats"}]
		answer c 1
		answer c 2
		send c []
		call c 3 stats
		answer c 3
	EOF
	run jq -c '[.id, (.error.code // "ok")]' c.out
	assert_line --index 0 --regexp '^\[[12],"ok"\]$'
	assert_line --index 1 --regexp '^\[[12],"ok"\]$'
	assert_line --index 2 '[null,-32600]'
	assert_line --index 3 '[3,"ok"]'
	assert_equal "${#lines[@]}" 4
}

@test "bad input: an unknown method is -32601 naming it" {
	sq_pool pool.json
	converse <<-'EOF'
		serve c -w pool.json
		call c 1 run [{"x":1}]
		answer c 1
	EOF
	check c.out 1 '.error.code == -32601 and (.error.message | test("run"))'
}

@test "bad input: execute with params other than [TASK] is -32602" {
	sq_pool pool.json
	converse <<-'EOF'
		serve c -w pool.json
		call c 1 execute
		call c 2 execute {"x":1}
		call c 3 execute []
		call c 4 execute [{"x":1},{"x":2}]
		call c 5 execute "x"
		call c 6 execute [{"x":6}]
		lines c 6
	EOF
	run jq -c '[.id, .error.code]' c.out
	assert_output $'[1,-32602]\n[2,-32602]\n[3,-32602]\n[4,-32602]\n[5,-32602]\n[6,null]'
}

@test "bad input: an id still in flight is -32600 duplicate id; once answered it may be used again" {
	sq_pool pool.json
	converse <<-EOF
		serve c -w pool.json
		call c 1 execute [{"x":1,"gate":"$T/gate"}]
		call c 1 execute [{"x":2}]
		lines c 1
		touch gate
		lines c 2
		call c 1 execute [{"x":3}]
		lines c 3
	EOF
	run cat c.out
	assert_line --index 0 '{"jsonrpc":"2.0","id":1,"error":{"code":-32600,"message":"duplicate id: a request with this id is still in flight"}}'
	assert_line --index 1 '{"jsonrpc":"2.0","id":1,"result":{"x":1,"sq":1}}'
	assert_line --index 2 '{"jsonrpc":"2.0","id":1,"result":{"x":3,"sq":9}}'
}

@test "bad input: a line over 64 MiB is refused (id null) and closes that connection; others go on" {
	sq_pool pool.json
	listen -w pool.json
	converse <<-'EOF'
		connect big s.sock
		connect other s.sock
		call other 1 execute [{"x":1}]
		answer other 1
		big big 67200000
		eof big
		call other 2 execute [{"x":2}]
		answer other 2
		connect later s.sock
		call later 1 execute [{"x":3}]
		answer later 1
	EOF
	run cat big.out
	assert_output '{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Invalid Request: a line longer than 64 MiB; closing the connection"}}'
	check other.out 2 '.result.x == 2'
	check later.out 1 '.result.x == 3'
}

# ------------------------------------------------------------------ #
# Clients that leave, fairness, backpressure                          #

@test "a client that disconnects: its queued tasks are dropped, those in flight finish unanswered, counted in stats" {
	sq_pool pool.json '"replicas":2'
	listen -w pool.json --inflight 1
	converse --timeout 15 <<-EOF
		connect gone s.sock
		connect stays s.sock
		call gone 1 execute [{"x":1,"gate":"$T/gate","started":"$T/started"}]
		call gone 2 execute [{"x":2,"gate":"$T/gate","started":"$T/started"}]
		call gone 3 execute [{"x":3,"gate":"$T/gate","started":"$T/started"}]
		call gone 4 execute [{"x":4,"gate":"$T/gate","started":"$T/started"}]
		call gone 5 execute [{"x":5,"gate":"$T/gate","started":"$T/started"}]
		wait_lines $T/started 2
		drop gone
		# Seen while its two tasks still run: the three queued dropped.
		poll stays stats r["serve"]["disconnected"] == 1
		poll stays stats r["serve"]["discarded"] == 3
		touch gate
		# The two in flight finish; their answers are dropped.
		poll stays stats r["tasks"]["ok"] == 2 and r["serve"]["discarded"] == 5
		call stays 1 execute [{"x":9}]
		answer stays 1
	EOF
	# Only the two in flight ever ran.
	assert_equal "$(nlines started)" 2
	[[ ! -s gone.out ]]
	check stays.out 1 '.result.x == 9'
}

@test "fairness: a client sending one task is served long before a bulk client's 100k queued tasks are done" {
	# One worker, held after its first 2000 answers, logs the order in
	# which it is sent tasks.  While it is held the bulk client fills the
	# queue (1024) and its socket; the single task is sent then.
	write_pool pool.json "{\"workers\":[{\"name\":\"lw\",\"cmd\":[\"python3\",\"$LW\",\"--log\",\"$T/log\",\"--gate\",\"$T/gate\",\"--hold-after\",\"2000\"]}]}"
	listen -w pool.json -q 1024
	converse --timeout 60 <<-'EOF'
		connect bulk s.sock
		flood bulk 100000
		wait_lines log 2000
		stalled bulk
		run wc -l <log >sent_at
		connect one s.sock
		call one "me" execute ["interactive"]
		touch gate
		answer one "me"
		flooded bulk
		lines bulk 100000
	EOF
	local at sent
	at=$(grep -nxF '"interactive"' log | cut -d: -f1)
	sent=$(cat sent_at)
	echo "the single task was dispatched as number $at of 100001; the worker had been sent $sent when it was sent" >&2
	# At most a queue's worth (and a few turns' reads) after it was sent,
	# not after the bulk's 98000 others.
	((at - sent <= 1024 + 512))
	assert_equal "$(nlines log)" 100001
}

@test "backpressure: with -q 4 spool stops reading a client while 4 tasks are unanswered" {
	# One worker that reads ahead (--inflight 256) and holds its answers:
	# it is sent every task spool accepted.
	write_pool pool.json "{\"workers\":[{\"name\":\"lw\",\"cmd\":[\"python3\",\"$LW\",\"--log\",\"$T/log\",\"--gate\",\"$T/gate\"]}]}"
	converse <<-'EOF'
		serve c -w pool.json -q 4 --inflight 256
		flood c 20000
		wait_lines log 4
		# The client's writes block: spool reads no more of them.
		stalled c
		run test "$(wc -l <log)" -eq 4
		touch gate
		flooded c
		lines c 20000
		close c
		exit c
	EOF
	assert_equal "$(nlines log)" 20000
	# Completion order is input order for one worker: all answered, once.
	run jq -r .result c.out
	assert_output "$(seq 1 20000)"
}

# ------------------------------------------------------------------ #
# --listen                                                            #

@test "--listen: the socket is mode 0600; two clients at once, each with its own ids" {
	sq_pool pool.json '"replicas":2'
	listen -w pool.json --inflight 1
	converse <<-EOF
		connect a s.sock
		connect b s.sock
		call a 1 execute [{"x":1,"gate":"$T/gate"}]
		call b 1 execute [{"x":2}]
		answer b 1
		touch gate
		answer a 1
	EOF
	assert_equal "$(stat -c %a s.sock)" 600
	check a.out 1 '.result.x == 1'
	check b.out 1 '.result.x == 2'
}

@test "--listen: a stale socket is replaced; a live one is refused with exit 2 and left alone" {
	python3 -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.close()' s.sock
	[[ -S s.sock ]]
	sq_pool pool.json
	listen -w pool.json
	converse <<-'EOF'
		connect a s.sock
		call a 1 execute [{"x":1}]
		answer a 1
	EOF
	run -2 --separate-stderr spool_t serve -w pool.json --listen s.sock
	assert_equal "$status" 2
	on_err assert_output --partial 'a server is listening there already'
	converse <<-'EOF'
		connect b s.sock
		call b 1 execute [{"x":2}]
		answer b 1
	EOF
	check b.out 1 '.result.x == 2'
}

@test "--listen: a path that is not a socket is refused with exit 2 and kept" {
	echo precious >s.sock
	sq_pool pool.json
	run -2 --separate-stderr spool_t serve -w pool.json --listen s.sock
	on_err assert_output --partial 'not a socket'
	assert_equal "$(cat s.sock)" precious
}

@test "--listen: SIGTERM drains (tasks in flight answered, new ones refused), removes the socket, exit 143" {
	# The third worker, idle, is stopped at the signal: once it exited
	# (-v says so), spool has seen the signal.
	sq_pool pool.json '"replicas":3'
	listen -w pool.json -v --inflight 1
	converse <<-EOF
		connect a s.sock
		connect b s.sock
		call a 1 execute [{"x":1,"gate":"$T/gate","started":"$T/started"}]
		call b 1 execute [{"x":2,"gate":"$T/gate","started":"$T/started"}]
		wait_lines $T/started 2
		run kill -TERM $SPID
		grep srv.err exited
		call a 2 execute [{"x":3}]
		answer a 2
		touch gate
		answer a 1
		answer b 1
		eof a
		eof b
	EOF
	server_exit
	assert_equal "$STATUS" 143
	check a.out 2 '.error.code == -32004'
	check a.out 1 '.result.x == 1'
	check b.out 1 '.result.x == 2'
	[[ ! -e s.sock ]]
}

@test "--listen: shutdown from one client waits for every client's tasks, then exit 0" {
	sq_pool pool.json '"replicas":2'
	listen -w pool.json
	converse <<-EOF
		connect a s.sock
		connect b s.sock
		call a 1 execute [{"x":1,"gate":"$T/gate"}]
		poll b stats r["tasks"]["read"] == 1
		call b 1 shutdown
		call b 2 execute [{"x":2}]
		answer b 2
		mark gate opens
		touch gate
		answer a 1
		answer b 1
		eof a
		eof b
	EOF
	server_exit
	assert_equal "$STATUS" 0
	check b.out 2 '.error.code == -32004'
	check a.out 1 '.result.x == 1'
	check b.out 1 '.result == null'
	[[ ! -e s.sock ]]
}
