#!/usr/bin/env bats
# joblog.bats - --joblog FILE (SPEC section 7): a TSV file with a header
# line and a row per finished task (bad input lines included), appended
# across runs, written as tasks finish.

bats_require_minimum_version 1.5.0

load test_helper
load helpers/watch

HEADER=$'seq\tsource\tworker\tattempts\tstart\truntime\tstatus\tmessage\thash'

teardown() {
	open_gate
}

setup() {
	cd "$BATS_TEST_TMPDIR"
}

# row_of FILE SEQ : the latest row of task SEQ.
row_of() {
	awk -F '\t' -v s="$2" 'NR > 1 && $1 == s { r = $0 } END { print r }' "$1"
}

# field ROW N : column N (1-based) of a row.
field() {
	cut -f "$2" <<<"$1"
}

@test "--joblog: the header, then a row of 9 columns per task" {
	seq_tasks 4 >tasks.ndjson
	run --separate-stderr spool run -c "$WW" -j 2 --joblog jl.tsv tasks.ndjson
	assert_success
	assert_equal "$(head -n 1 jl.tsv)" "$HEADER"
	assert_equal "$(grep -c . jl.tsv)" 5
	run awk -F '\t' 'NF != 9 { print NR": "NF" fields" }' jl.tsv
	assert_output ""
	# One row per seq.
	assert_equal "$(jl_field jl.tsv 1 | sort -n | tr '\n' ' ')" "1 2 3 4 "
	# The file ends with a newline: the next run appends whole rows.
	assert_equal "$(tail -c 1 jl.tsv | od -An -c | tr -d ' ')" '\n'
}

@test "--joblog: source, worker, attempts, status, message of ok and bad rows" {
	printf '{"x":1}\nnot json\n{"x":2}\n' >a.ndjson
	# A blank line is not a task, but it counts as a line of its file.
	printf '{"x":3}\n\n{"x":4}\n' >b.ndjson
	run --separate-stderr spool run -c "$WW" -j 1 --joblog jl.tsv a.ndjson b.ndjson
	assert_equal "$status" 1
	assert_equal "$(jl_count jl.tsv)" 5

	local r
	r=$(row_of jl.tsv 1)
	assert_equal "$(field "$r" 2)" "a.ndjson:1"
	assert_equal "$(field "$r" 3)" "ww.py#0"
	assert_equal "$(field "$r" 4)" "1"
	assert_equal "$(field "$r" 7)" "ok"
	assert_equal "$(field "$r" 8)" ""

	# The bad line: failed, never sent to a worker.
	r=$(row_of jl.tsv 2)
	assert_equal "$(field "$r" 2)" "a.ndjson:2"
	assert_equal "$(field "$r" 3)" "-"
	assert_equal "$(field "$r" 4)" "0"
	assert_equal "$(field "$r" 7)" "failed"
	[[ $(field "$r" 8) == *"invalid JSON"* ]] || fail "message: $(field "$r" 8)"

	assert_equal "$(field "$(row_of jl.tsv 3)" 2)" "a.ndjson:3"
	assert_equal "$(field "$(row_of jl.tsv 4)" 2)" "b.ndjson:1"
	assert_equal "$(field "$(row_of jl.tsv 5)" 2)" "b.ndjson:3"
	# Status is ok or failed, the message empty exactly when ok.
	run awk -F '\t' 'NR > 1 && !(($7 == "ok" && $8 == "") || ($7 == "failed" && $8 != ""))' jl.tsv
	assert_output ""
}

@test "--joblog: stdin is -:LINE, also between files" {
	printf '{"x":1}\n' >a.ndjson
	printf '{"x":2}\n{"x":3}\n' >b.ndjson
	seq_tasks 2 10 | spool run -c "$WW" -j 1 --joblog jl.tsv a.ndjson - b.ndjson >out
	assert_equal "$(sort -t $'\t' -k1,1n jl.tsv | tail -n +2 | cut -f 1,2 | tr '\t\n' ': ')" \
		"1:a.ndjson:1 2:-:1 3:-:2 4:b.ndjson:1 5:b.ndjson:2 "
	# Alone, too.
	seq_tasks 2 | spool run -c "$WW" -j 1 --joblog jl2.tsv >out
	assert_equal "$(jl_field jl2.tsv 2 | sort | tr '\n' ' ')" "-:1 -:2 "
}

@test "--joblog: start is Unix time, runtime is seconds" {
	seq_tasks 3 >tasks.ndjson
	local t0 t1
	t0=$(date +%s)
	run --separate-stderr spool run -c "$WW" -j 1 --joblog jl.tsv tasks.ndjson
	t1=$(date +%s)
	assert_success
	local start runtime
	while IFS=$'\t' read -r _ _ _ _ start runtime _; do
		[[ $start =~ ^[0-9]+(\.[0-9]+)?$ ]] || fail "start: $start"
		[[ $runtime =~ ^[0-9]+(\.[0-9]+)?$ ]] || fail "runtime: $runtime"
		((${start%.*} >= t0 - 1 && ${start%.*} <= t1 + 1)) ||
			fail "start $start is not between $t0 and $t1"
	done < <(jl_rows jl.tsv)
}

@test "--joblog: the hash is 16 hex digits, equal exactly for equal line bytes" {
	# Lines 1 and 3 are the same bytes; line 4 is the same JSON value
	# written differently; a CR before the newline is not part of a line.
	printf '{"x":1}\n{"x":2}\n{"x":1}\n{"x": 1}\n{"x":2}\r\n' >tasks.ndjson
	run --separate-stderr spool run -c "$WW" -j 1 --joblog jl.tsv tasks.ndjson
	assert_success
	run awk -F '\t' 'NR > 1 && (length($9) != 16 || $9 ~ /[^0-9a-f]/) { print $9 }' jl.tsv
	assert_output ""
	local h1 h2 h3 h4 h5
	h1=$(field "$(row_of jl.tsv 1)" 9)
	h2=$(field "$(row_of jl.tsv 2)" 9)
	h3=$(field "$(row_of jl.tsv 3)" 9)
	h4=$(field "$(row_of jl.tsv 4)" 9)
	h5=$(field "$(row_of jl.tsv 5)" 9)
	assert_equal "$h3" "$h1"
	assert_equal "$h5" "$h2"
	assert_not_equal "$h2" "$h1"
	assert_not_equal "$h4" "$h1"
	# The same line in another run, at another place, has the same hash.
	printf '{"x":5}\n{"x":1}\n' >other.ndjson
	spool run -c "$WW" -j 1 --joblog jl2.tsv other.ndjson >/dev/null
	assert_equal "$(field "$(row_of jl2.tsv 2)" 9)" "$h1"
}

@test "--joblog: a task that finally failed: its attempts, worker and reason" {
	printf '{"x":1}\n{"x":2,"kill":true}\n' >tasks.ndjson
	run --separate-stderr spool run -c "$WW" -j 1 -r 1 --joblog jl.tsv tasks.ndjson
	assert_equal "$status" 1
	local r
	r=$(row_of jl.tsv 2)
	assert_equal "$(field "$r" 3)" "ww.py#0"
	assert_equal "$(field "$r" 4)" "2"
	assert_equal "$(field "$r" 7)" "failed"
	[[ $(field "$r" 8) == "failed after 2 attempts: worker ww.py#0 "* ]] || fail "message: $(field "$r" 8)"
	assert_equal "$(field "$(row_of jl.tsv 1)" 7)" "ok"
}

@test "--joblog: tabs and newlines in a failure message do not break the row" {
	write_pool pool.json "{\"workers\": [{\"name\": \"rpc\", \"protocol\": \"spool\",
		\"cmd\": [\"$WW\", \"--proto\", \"spool\"]}]}"
	printf '{"x":1,"error":"one\\ttwo\\nthree"}\n{"x":2}\n' >tasks.ndjson
	run --separate-stderr spool run -w pool.json --joblog jl.tsv tasks.ndjson
	assert_equal "$status" 1
	assert_equal "$(grep -c . jl.tsv)" 3
	run awk -F '\t' 'NF != 9' jl.tsv
	assert_output ""
	local r
	r=$(row_of jl.tsv 1)
	assert_equal "$(field "$r" 7)" "failed"
	[[ $(field "$r" 8) == *"one two three"* ]] || fail "message: $(field "$r" 8)"
}

@test "--joblog: rows are appended across runs, the header written once" {
	seq_tasks 3 >tasks.ndjson
	spool run -c "$WW" -j 1 --joblog jl.tsv tasks.ndjson >/dev/null
	spool run -c "$WW" -j 1 --joblog jl.tsv tasks.ndjson >/dev/null
	assert_equal "$(grep -c . jl.tsv)" 7
	assert_equal "$(grep -cxF "$HEADER" jl.tsv)" 1
	assert_equal "$(head -n 1 jl.tsv)" "$HEADER"
	run awk -F '\t' 'NF != 9' jl.tsv
	assert_output ""
}

@test "--joblog: an empty existing file gets the header" {
	: >jl.tsv
	seq_tasks 2 >tasks.ndjson
	spool run -c "$WW" -j 1 --joblog jl.tsv tasks.ndjson >/dev/null
	assert_equal "$(head -n 1 jl.tsv)" "$HEADER"
	assert_equal "$(jl_count jl.tsv)" 2
}

@test "--joblog: an existing file that is not a joblog is refused, not appended to" {
	seq_tasks 2 >tasks.ndjson
	printf 'some notes\n' >notes.txt
	run --separate-stderr spool run -c "touch '$PWD/worker-ran'; exec cat" -j 1 \
		--joblog notes.txt tasks.ndjson
	assert_equal "$status" 2
	on_stderr assert_output --partial "notes.txt"
	assert_equal "$(cat notes.txt)" "some notes"
	[[ ! -e worker-ran ]] || fail "a worker was started"
}

@test "--joblog: rows are written as tasks finish, not at exit" {
	seq_tasks 4 >tasks.ndjson
	printf '{"x":5,"started":"%s/started","wait":"%s/gate"}\n' "$PWD" "$PWD" >>tasks.ndjson
	"$SPOOL" run -c "$WW" -j 1 --joblog jl.tsv tasks.ndjson >out 2>err 3>&- &
	local pid=$!
	wait_for 30 test -e started
	wait_for 30 jl_rows_at_least 4 jl.tsv
	# spool is still running, blocked on the last task, which has no row.
	pid_alive "$pid" || fail "spool has exited"
	assert_equal "$(jl_field jl.tsv 1 | sort -n | tr '\n' ' ')" "1 2 3 4 "
	touch gate
	wait "$pid"
	assert_equal "$(jl_field jl.tsv 1 | sort -n | tr '\n' ' ')" "1 2 3 4 5 "
}

@test "--joblog: after SIGTERM the rows of the tasks not started are written at once" {
	seq_tasks 2 >tasks.ndjson
	printf '{"x":3,"started":"%s/started","wait":"%s/gate"}\n' "$PWD" "$PWD" >>tasks.ndjson
	seq_tasks 3 4 >>tasks.ndjson
	"$SPOOL" run -c "$WW" -j 1 --joblog jl.tsv tasks.ndjson >out 2>err 3>&- &
	local pid=$!
	wait_for 30 test -e started
	kill -TERM "$pid"
	# Tasks 4 to 6 end now, as "interrupted: not started": their rows
	# are due while task 3 is still running (it has up to 5 s).
	wait_for 30 eval '(($(grep_count "interrupted: not started" jl.tsv) == 3))'
	assert_equal "$(row_of jl.tsv 3)" ""
	touch gate
	local rc=0
	wait "$pid" || rc=$?
	assert_equal "$rc" 143
	assert_equal "$(field "$(row_of jl.tsv 3)" 7)" "ok"
}

@test "--joblog in a directory that does not exist: exit 2, no worker started" {
	seq_tasks 2 >tasks.ndjson
	run --separate-stderr spool run -c "touch '$PWD/worker-ran'; exec cat" -j 1 \
		--joblog no/such/dir/jl.tsv tasks.ndjson
	assert_equal "$status" 2
	assert_equal "$output" ""
	on_stderr assert_output --partial "no/such/dir/jl.tsv"
	[[ ! -e worker-ran ]] || fail "a worker was started"
}

@test "--joblog: a task is logged ok only once its result is written" {
	# stdout cannot be written (/dev/full): no result is out, so no row
	# may say ok, or --resume would skip tasks whose results were lost.
	seq_tasks 5 >tasks.ndjson
	run --separate-stderr bash -c "'$SPOOL' run -c cat -j 1 --joblog jl.tsv tasks.ndjson >/dev/full"
	assert_equal "$status" 1
	on_stderr assert_output --partial "stdout: write error"
	# Every task has its row, and none says ok: the run stopped at the
	# first result it could not write, and what was left never started.
	assert_equal "$(jl_count jl.tsv)" 5
	assert_equal "$(awk -F'\t' 'NR > 1 && $7 == "ok"' jl.tsv | wc -l)" 0
	assert_equal "$(awk -F'\t' 'NR > 1 && $8 ~ /stdout/' jl.tsv | wc -l)" 5
	# So resuming runs them all.
	run --separate-stderr spool run -c cat -j 1 --joblog jl.tsv --resume tasks.ndjson
	assert_success
	assert_equal "${#lines[@]}" 5
}

@test "--joblog with -k: results held for their turn are not logged yet" {
	# Task 1 blocks; 2 to 4 finish but wait behind it (-k), unwritten.
	# Their rows must not be in the joblog while they wait.  With one
	# task in flight per worker, the other worker is sent task 5 only
	# after spool has read the answers to 2, 3 and 4.
	printf '{"x":1,"started":"%s/started","wait":"%s/gate"}\n' "$PWD" "$PWD" >tasks.ndjson
	seq_tasks 3 2 >>tasks.ndjson
	printf '{"x":5,"started":"%s/started5"}\n' "$PWD" >>tasks.ndjson
	"$SPOOL" run -c "$WW" -j 2 -k --inflight 1 --joblog jl.tsv tasks.ndjson >out 2>err 3>&- &
	local pid=$!
	wait_for 30 test -e started
	wait_for 30 test -e started5
	assert_equal "$(jl_count jl.tsv)" 0
	touch gate
	local rc=0
	wait "$pid" || rc=$?
	assert_equal "$rc" 0
	assert_equal "$(jl_count jl.tsv)" 5
}
