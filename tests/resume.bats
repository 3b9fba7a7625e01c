#!/usr/bin/env bats
# resume.bats - --resume (SPEC section 7): tasks the joblog records as ok
# are skipped (not sent to a worker, no output, counted as skipped), the
# rest run again; resuming after failures, after SIGTERM and after
# SIGKILL of spool; changed input and bad joblogs are refused.

bats_require_minimum_version 1.5.0

load test_helper
load helpers/watch

teardown() {
	open_gate
}

setup() {
	cd "$BATS_TEST_TMPDIR"
	# A spool-protocol pool: a task with "fail_unless" fails (an error
	# answer, no restart) until its file exists.
	write_pool rpc.json "{\"workers\": [{\"name\": \"rpc\", \"protocol\": \"spool\",
		\"cmd\": [\"$WW\", \"--proto\", \"spool\"]}]}"
}

# refute_worker_started : the marker worker (see marker_cmd) never ran.
refute_worker_started() {
	[[ ! -e $BATS_TEST_TMPDIR/worker-ran ]] || fail "a worker was started"
}

# marker_cmd : a -c command that leaves a marker when a worker starts.
marker_cmd() {
	echo "touch '$BATS_TEST_TMPDIR/worker-ran'; exec '$WW'"
}

# lines_of FILE N... : lines N... of FILE, sorted.
lines_of() {
	local f=$1
	shift
	local n
	for n in "$@"; do
		sed -n "${n}p" "$f"
	done | sort
}

@test "--resume without --joblog is a usage error" {
	seq_tasks 2 >tasks.ndjson
	run --separate-stderr spool run -c "$(marker_cmd)" --resume tasks.ndjson
	assert_equal "$status" 2
	assert_equal "$output" ""
	on_stderr assert_output --partial "--joblog"
	refute_worker_started
}

@test "--resume after failures runs only the failed tasks again" {
	local fixed=$PWD/fixed
	{
		seq_tasks 2
		printf '{"x":3,"fail_unless":"%s"}\n' "$fixed"
		seq_tasks 2 4
		printf '{"x":6,"fail_unless":"%s"}\n' "$fixed"
	} >tasks.ndjson
	run --separate-stderr spool run -w rpc.json --joblog jl.tsv tasks.ndjson
	assert_equal "$status" 1
	assert_equal "$(jl_count jl.tsv)" 6
	assert_equal "$(jl_latest_ok jl.tsv | tr '\n' ' ')" "1 2 4 5 "

	touch "$fixed"
	WW_LOG=$PWD/recv run --separate-stderr \
		spool run -w rpc.json --joblog jl.tsv --resume --stats=stats.json tasks.ndjson
	assert_success
	# Only tasks 3 and 6 reached a worker, and only they have output.
	assert_equal "$(sort recv)" "$(lines_of tasks.ndjson 3 6)"
	assert_equal "$(printf '%s\n' "${lines[@]}" | sort)" "$(lines_of tasks.ndjson 3 6)"
	run jq -c '.tasks' stats.json
	assert_output '{"read":6,"ok":2,"failed":0,"retried":0,"skipped":4,"not_started":0}'
	# Their rows were appended; the header is still the only one.
	assert_equal "$(jl_count jl.tsv)" 8
	assert_equal "$(grep -c '^seq' jl.tsv)" 1
	assert_equal "$(jl_rows jl.tsv | tail -n 2 | cut -f 1,7 | sort -n | tr '\t\n' ': ')" "3:ok 6:ok "
	assert_equal "$(jl_latest_ok jl.tsv | tr '\n' ' ')" "1 2 3 4 5 6 "
}

@test "--resume of a finished run runs nothing" {
	# CRLF line ends: the same lines for --resume as for the first run.
	seq_tasks 5 | sed 's/$/\r/' >tasks.ndjson
	spool run -c "$WW" -j 2 --joblog jl.tsv tasks.ndjson >/dev/null
	WW_LOG=$PWD/recv run --separate-stderr \
		spool run -c "$WW" -j 2 --joblog jl.tsv --resume --stats=stats.json tasks.ndjson
	assert_success
	assert_equal "$output" ""
	[[ ! -e recv ]] || fail "a worker received: $(cat recv)"
	run jq -c '.tasks' stats.json
	assert_output '{"read":5,"ok":0,"failed":0,"retried":0,"skipped":5,"not_started":0}'
	# Nothing ran, so no row was added.
	assert_equal "$(jl_count jl.tsv)" 5
}

@test "--resume: the latest row of a task decides" {
	local fixed=$PWD/fixed
	printf '{"x":1}\n{"x":2,"fail_unless":"%s"}\n' "$fixed" >tasks.ndjson
	# ok, then failed (a run without --resume logs it again): runs again.
	touch "$fixed"
	spool run -w rpc.json --joblog jl.tsv tasks.ndjson >/dev/null
	rm "$fixed"
	spool run -w rpc.json --joblog jl.tsv tasks.ndjson >/dev/null 2>&1 || true
	WW_LOG=$PWD/recv spool run -w rpc.json --joblog jl.tsv --resume tasks.ndjson \
		>/dev/null 2>&1 || true
	assert_equal "$(cat recv)" "$(sed -n 2p tasks.ndjson)"
	# failed, then ok: skipped.
	rm recv
	touch "$fixed"
	spool run -w rpc.json --joblog jl.tsv --resume tasks.ndjson >/dev/null
	WW_LOG=$PWD/recv run spool run -w rpc.json --joblog jl.tsv --resume tasks.ndjson
	assert_success
	[[ ! -e recv ]] || fail "a worker received: $(cat recv)"
}

@test "--resume: a bad input line logged as failed is checked again" {
	printf '{"x":1}\nnot json\n{"x":3}\n' >tasks.ndjson
	run --separate-stderr spool run -c "$WW" -j 1 --joblog jl.tsv tasks.ndjson
	assert_equal "$status" 1
	WW_LOG=$PWD/recv run --separate-stderr \
		spool run -c "$WW" -j 1 --joblog jl.tsv --resume --stats=stats.json tasks.ndjson
	assert_equal "$status" 1
	on_stderr assert_line --partial "tasks.ndjson:2: invalid JSON"
	[[ ! -e recv ]] || fail "a worker received: $(cat recv)"
	run jq -c '.tasks' stats.json
	assert_output '{"read":3,"ok":0,"failed":1,"retried":0,"skipped":2,"not_started":0}'
	assert_equal "$(jl_rows jl.tsv | tail -n 1 | cut -f 1,2,7)" $'2\ttasks.ndjson:2\tfailed'
}

@test "--resume: lines added to the input since the run are run" {
	seq_tasks 3 >tasks.ndjson
	spool run -c "$WW" -j 1 --joblog jl.tsv tasks.ndjson >/dev/null
	seq_tasks 2 4 >>tasks.ndjson
	WW_LOG=$PWD/recv run --separate-stderr \
		spool run -c "$WW" -j 1 --joblog jl.tsv --resume tasks.ndjson
	assert_success
	assert_equal "$(sort recv)" "$(lines_of tasks.ndjson 4 5)"
	assert_equal "$(jl_latest_ok jl.tsv | tr '\n' ' ')" "1 2 3 4 5 "
}

@test "--resume -k: the tasks that run again are written in input order" {
	write_pool rpc3.json "{\"workers\": [{\"name\": \"rpc\", \"protocol\": \"spool\",
		\"cmd\": [\"$WW\", \"--proto\", \"spool\"], \"replicas\": 3}]}"
	local i
	for i in $(seq 12); do
		if ((i % 3 == 0)); then
			printf '{"x":%d,"fail_unless":"%s/fixed"}\n' "$i" "$PWD"
		else
			printf '{"x":%d}\n' "$i"
		fi
	done >tasks.ndjson
	spool run -w rpc3.json -k --joblog jl.tsv tasks.ndjson >/dev/null 2>&1 || true
	touch fixed
	run --separate-stderr spool run -w rpc3.json -k --tag --joblog jl.tsv --resume tasks.ndjson
	assert_success
	assert_equal "$(printf '%s\n' "${lines[@]}" | jq -r .seq | tr '\n' ' ')" "3 6 9 12 "
}

@test "--resume with a joblog that does not exist yet runs everything" {
	seq_tasks 3 >tasks.ndjson
	run --separate-stderr spool run -c "$WW" -j 1 --joblog jl.tsv --resume tasks.ndjson
	assert_success
	assert_equal "${#lines[@]}" 3
	assert_equal "$(head -n 1 jl.tsv | cut -f 1)" "seq"
	assert_equal "$(jl_count jl.tsv)" 3
}

@test "--resume after SIGTERM: the two runs together run every task exactly once" {
	{
		seq_tasks 3
		printf '{"x":4,"started":"%s/started","wait":"%s/gate"}\n' "$PWD" "$PWD"
		seq_tasks 6 5
	} >tasks.ndjson
	# Beside the worker, one that never gets ready (so never gets a task)
	# and leaves a marker when its stdin is closed: spool does that on
	# SIGTERM, which tells the test that spool has taken the signal.
	write_pool pool.json "{\"workers\": [
		{\"name\": \"w\", \"cmd\": [\"$WW\"]},
		{\"name\": \"idle\", \"ready\": \"line\",
		 \"cmd\": [\"sh\", \"-c\", \"cat >/dev/null; touch '$PWD/drained'\"]}]}"
	"$SPOOL" run -w pool.json --joblog jl.tsv tasks.ndjson >out1 2>err1 3>&- &
	local pid=$!
	wait_for 30 test -e started
	kill -TERM "$pid"
	wait_for 30 test -e drained
	# Task 4, in flight, may now finish; the rest were not started.
	touch gate
	local rc=0
	wait "$pid" || rc=$?
	assert_equal "$rc" 143
	assert_equal "$(sort out1)" "$(lines_of tasks.ndjson 1 2 3 4)"
	assert_equal "$(grep_count "interrupted: not started" jl.tsv)" 6

	WW_LOG=$PWD/recv run --separate-stderr \
		spool run -c "$WW" -j 1 --joblog jl.tsv --resume --stats=stats.json tasks.ndjson
	assert_success
	printf '%s\n' "${lines[@]}" >out2
	assert_equal "$(sort recv)" "$(lines_of tasks.ndjson 5 6 7 8 9 10)"
	assert_equal "$(sort out1 out2)" "$(sort tasks.ndjson)"
	run jq -c '.tasks' stats.json
	assert_output '{"read":10,"ok":6,"failed":0,"retried":0,"skipped":4,"not_started":0}'
	assert_equal "$(jl_latest_ok jl.tsv | tr '\n' ' ')" "1 2 3 4 5 6 7 8 9 10 "
}

@test "--resume after SIGKILL of spool: tasks with an ok row are skipped, the rest run" {
	{
		seq_tasks 5
		printf '{"x":6,"started":"%s/started","wait":"%s/gate"}\n' "$PWD" "$PWD"
		seq_tasks 4 7
	} >tasks.ndjson
	"$SPOOL" run -c "$WW" -j 1 --joblog jl.tsv tasks.ndjson >out1 2>err1 3>&- &
	local pid=$!
	wait_for 30 test -e started
	# Rows are written as tasks finish: those of tasks 1 to 4 at least
	# are on disk while task 6 is in flight.
	wait_for 30 jl_rows_at_least 4 jl.tsv
	kill -KILL "$pid"
	wait "$pid" || true
	touch gate

	local ok
	ok=$(jl_latest_ok jl.tsv)
	local -a okseq
	mapfile -t okseq <<<"$ok"
	((${#okseq[@]} >= 4)) || fail "only ${#okseq[@]} ok rows: $ok"
	# Every task left to run: not logged ok.
	local -a todo=()
	local i
	for i in $(seq 10); do
		grep -qx "$i" <<<"$ok" || todo+=("$i")
	done
	[[ " ${todo[*]} " == *" 6 "* ]] || fail "task 6 (in flight at the kill) is logged ok"

	WW_LOG=$PWD/recv run --separate-stderr \
		spool run -c "$WW" -j 1 --joblog jl.tsv --resume --stats=stats.json tasks.ndjson
	assert_success
	printf '%s\n' "${lines[@]}" >out2
	# Skipped are exactly the tasks with an ok row; the rest were sent.
	assert_equal "$(sort recv)" "$(lines_of tasks.ndjson "${todo[@]}")"
	run jq '.tasks.skipped' stats.json
	assert_output "${#okseq[@]}"
	# Every task has an output line in one run or the other.
	run comm -23 <(sort -u tasks.ndjson) <(sort -u out1 out2)
	assert_output ""
	assert_equal "$(jl_latest_ok jl.tsv | tr '\n' ' ')" "1 2 3 4 5 6 7 8 9 10 "
}

@test "--resume: a changed input file is refused before any worker starts" {
	seq_tasks 3 >a.ndjson
	seq_tasks 3 4 >b.ndjson
	spool run -c "$WW" -j 1 --joblog jl.tsv a.ndjson b.ndjson >/dev/null
	local before
	before=$(cksum <jl.tsv)
	printf '{"x":4}\n{"x":55}\n{"x":6}\n' >b.ndjson
	run --separate-stderr spool run -c "$(marker_cmd)" -j 1 --joblog jl.tsv --resume \
		a.ndjson b.ndjson
	assert_equal "$status" 2
	assert_equal "$output" ""
	on_stderr assert_line --partial "b.ndjson:2"
	refute_worker_started
	assert_equal "$(cksum <jl.tsv)" "$before"
}

@test "--resume: a changed line on stdin is refused as it is read" {
	seq_tasks 6 | spool run -c "$WW" -j 1 --joblog jl.tsv >/dev/null
	{
		seq_tasks 3
		printf '{"x":44}\n'
		seq_tasks 2 5
	} >changed.ndjson
	# A pipe: it cannot be checked before the run, only as it is read.
	WW_LOG=$PWD/recv run --separate-stderr \
		bash -c 'cat changed.ndjson | "$SPOOL" run -c "$WW" -j 1 --joblog jl.tsv --resume'
	assert_equal "$status" 2
	on_stderr assert_line --regexp '(stdin|-):4: '
	# Neither the changed line nor any after it reached a worker or stdout.
	[[ ! -e recv ]] || fail "a worker received: $(cat recv)"
	assert_equal "$output" ""
}

@test "--resume: a joblog whose first line is not the header is refused" {
	seq_tasks 2 >tasks.ndjson
	printf '{"x":1}\n{"x":2}\n' >jl.tsv
	run --separate-stderr spool run -c "$(marker_cmd)" -j 1 --joblog jl.tsv --resume tasks.ndjson
	assert_equal "$status" 2
	assert_equal "$output" ""
	on_stderr assert_output --partial "jl.tsv"
	refute_worker_started
	# The file is left as it was.
	assert_equal "$(cat jl.tsv)" "$(cat tasks.ndjson)"
}

@test "--resume: a malformed row is skipped with a message and its task runs again" {
	seq_tasks 4 >tasks.ndjson
	spool run -c "$WW" -j 1 --joblog jl.tsv tasks.ndjson >/dev/null
	# Spoil the row of task 2: a row cut short, then the next row.
	local n
	n=$(awk -F '\t' '$1 == 2 { print NR }' jl.tsv)
	sed -i "${n}s/\tok\t.*//" jl.tsv
	WW_LOG=$PWD/recv run --separate-stderr \
		spool run -c "$WW" -j 1 --joblog jl.tsv --resume tasks.ndjson
	assert_success
	on_stderr assert_line --partial "jl.tsv:$n: "
	assert_equal "$(cat recv)" "$(sed -n 2p tasks.ndjson)"
	assert_equal "$(jl_latest_ok jl.tsv | tr '\n' ' ')" "1 2 3 4 "
}

@test "--resume: a row cut at the end of the joblog: its task runs again" {
	seq_tasks 4 >tasks.ndjson
	spool run -c "$WW" -j 1 --joblog jl.tsv tasks.ndjson >/dev/null
	# A crash while the last row (task 4's) was being written.
	assert_equal "$(tail -n 1 jl.tsv | cut -f 1)" 4
	truncate -s -12 jl.tsv
	WW_LOG=$PWD/recv run --separate-stderr \
		spool run -c "$WW" -j 1 --joblog jl.tsv --resume tasks.ndjson
	assert_success
	assert_equal "$(cat recv)" "$(sed -n 4p tasks.ndjson)"
	# The new row starts on a line of its own.
	assert_equal "$(jl_latest_ok jl.tsv | tr '\n' ' ')" "1 2 3 4 "
	rm recv
	WW_LOG=$PWD/recv run --separate-stderr \
		spool run -c "$WW" -j 1 --joblog jl.tsv --resume tasks.ndjson
	assert_success
	[[ ! -e recv ]] || fail "a worker received: $(cat recv)"
}

@test "--resume: a row cut at the end of the joblog is reported" {
	seq_tasks 2 >tasks.ndjson
	spool run -c "$WW" -j 1 --joblog jl.tsv tasks.ndjson >/dev/null
	truncate -s -12 jl.tsv
	run --separate-stderr spool run -c "$WW" -j 1 --joblog jl.tsv --resume tasks.ndjson
	assert_success
	# The message names the joblog and the line.
	on_stderr assert_line --partial "jl.tsv:3: "
}
