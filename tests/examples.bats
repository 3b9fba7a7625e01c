#!/usr/bin/env bats
# examples.bats - every example in workers/examples runs with its bundled
# tasks and gives the expected output; `make demo`'s script runs.

bats_require_minimum_version 1.5.0
load test_helper

EXAMPLES="$REPO_DIR/workers/examples"

setup() {
	cd "$BATS_TEST_TMPDIR" || return 1
}

# The examples' labelled stderr, without the lines their workers print.
spool_lines() {
	grep '^spool: ' <<<"$1" || true
}

@test "every example has a pool.json and tasks, and answers each task once" {
	local dir n=0
	for dir in "$EXAMPLES"/*/; do
		[[ -f $dir/pool.json && -f $dir/tasks.ndjson ]] ||
			fail "$dir: needs pool.json and tasks.ndjson"
		run --separate-stderr spool run --tag -w "$dir/pool.json" "$dir/tasks.ndjson"
		((status == 0 || status == 1)) || fail "$dir: exit $status: $stderr"
		assert_equal "${#lines[@]}" "$(grep -c . "$dir/tasks.ndjson")"
		assert_equal "$(jq -c .seq <<<"$output" | sort -n | paste -sd' ')" \
			"$(seq "${#lines[@]}" | paste -sd' ')"
		n=$((n + 1))
	done
	((n >= 4)) || fail "only $n examples"
}

@test "square (Python): results in input order, the non-number fails" {
	run --separate-stderr spool run -w "$EXAMPLES/square/pool.json" "$EXAMPLES/square/tasks.ndjson"
	assert_failure 1
	# "order": "input" in its pool.json.
	assert_equal "$(jq -c '[.x, .square]' <<<"$output" | paste -sd' ')" "[1,1] [2,4] [3,9] [5,25]"
	jq -se 'all(.gpus == [0,1] or .gpus == [2,3])' <<<"$output" >/dev/null ||
		fail "gpus: $output"
	[[ $stderr == *"tasks.ndjson:4: error from square#"?": TypeError: x must be a number, got 'four'"* ]] ||
		fail "$stderr"
}

@test "square (Python): check shows both specs' gpu_ids" {
	run --separate-stderr spool check -w "$EXAMPLES/square/pool.json"
	assert_success
	assert_line --index 0 --regexp $'^square#0\tpid [0-9]+\tready in .*\t\\{"gpu_ids":\\[0,1\\],"pid":[0-9]+\\}$'
	assert_line --index 1 --regexp $'^square#1\tpid [0-9]+\tready in .*\t\\{"gpu_ids":\\[2,3\\],"pid":[0-9]+\\}$'
}

@test "square (C): the same results from the C SDK worker" {
	local sq=$SPOOL_BUILD/workers/square
	[[ -x $sq ]] || fail "$sq is not built (make BUILD=$SPOOL_BUILD)"
	# pool-c.json names build/workers/square; point it at this build.
	jq --arg sq "$sq" '.workers[].cmd[0] = $sq' "$EXAMPLES/square/pool-c.json" >pool.json
	run --separate-stderr spool check -w pool.json
	assert_success
	assert_line --index 0 --regexp $'^square#0\tpid [0-9]+\tready in .*\t\\{"gpu_ids":\\[0,1\\],"pid":[0-9]+\\}$'
	assert_line --index 1 --regexp $'^square#1\tpid [0-9]+\tready in .*\t\\{"gpu_ids":\\[2,3\\],"pid":[0-9]+\\}$'
	run --separate-stderr spool run -w pool.json "$EXAMPLES/square/tasks.ndjson"
	assert_failure 1
	assert_equal "$(jq -c '[.x, .square]' <<<"$output" | paste -sd' ')" "[1,1] [2,4] [3,9] [5,25]"
	[[ $stderr == *"tasks.ndjson:4: error from square#"?": x must be a number"* ]] || fail "$stderr"
}

@test "square (C): pool-c.json works as shipped when build/ is the build" {
	[[ -x $REPO_DIR/build/workers/square ]] || skip "build/workers/square not built"
	run --separate-stderr spool check -w "$EXAMPLES/square/pool-c.json"
	assert_success
}

@test "model: slow spawn once per worker, then results" {
	run --separate-stderr spool check -w "$EXAMPLES/model/pool.json"
	assert_success
	assert_equal "${#lines[@]}" 2
	local i
	for i in 0 1; do
		assert_line --index "$i" --regexp $'^model#'"$i"$'\tpid [0-9]+\tready in [0-9][0-9hmsu.]*\t\\{"model":"sentiment-small","load_s":[0-9.]+\\}$'
	done
	# Its "loading" print went to stderr, labelled, not into the protocol.
	[[ $stderr == *"[model#0] loading sentiment-small on device 0..."* ]] || fail "$stderr"
	[[ $stderr == *"[model#1] loading sentiment-small on device 1..."* ]] || fail "$stderr"

	run --separate-stderr spool run -k -w "$EXAMPLES/model/pool.json" "$EXAMPLES/model/tasks.ndjson"
	assert_success
	cat >want <<-'EOF'
	{"id":1,"label":"positive","score":2.0,"model":"sentiment-small"}
	{"id":2,"label":"negative","score":-2.0,"model":"sentiment-small"}
	{"id":3,"label":"neutral","score":0.0,"model":"sentiment-small"}
	{"id":4,"label":"positive","score":3.0,"model":"sentiment-small"}
	{"id":5,"label":"negative","score":-1.0,"model":"sentiment-small"}
	{"id":6,"label":"positive","score":2.0,"model":"sentiment-small"}
	EOF
	diff want <(printf '%s\n' "$output")
	assert_equal "$(spool_lines "$stderr")" ""
}

@test "model (batched): pool-batch.json runs the tasks in batches; a bad task fails alone" {
	# The same answers as the unbatched model, each saying its batch size.
	run --separate-stderr spool run -k -w "$EXAMPLES/model/pool.json" "$EXAMPLES/model/tasks.ndjson"
	assert_success
	local want=$output
	run --separate-stderr spool run -k -w "$EXAMPLES/model/pool-batch.json" "$EXAMPLES/model/tasks.ndjson"
	assert_success
	diff <(jq -c . <<<"$want") <(jq -c 'del(.batch)' <<<"$output")
	jq -se 'all(.batch >= 1 and .batch <= 32)' <<<"$output" >/dev/null || fail "$output"
	# Many tasks: batches fill, none over max_size 32; a text that is not
	# a string fails alone, its batch-mates answered.
	awk 'BEGIN { for (i = 1; i <= 300; i++) printf "{\"id\":%d,\"text\":\"good %d\"}\n", i, i }
		END { print "{\"id\":301,\"text\":7}" }' </dev/null >many.ndjson
	run --separate-stderr spool run -k -w "$EXAMPLES/model/pool-batch.json" --stats=st.json many.ndjson
	assert_failure 1
	assert_equal "${#lines[@]}" 300
	assert_equal "$(jq -c .id <<<"$output" | paste -sd' ')" "$(seq 300 | paste -sd' ')"
	[[ $stderr == *"many.ndjson:301: error from model#"?": text must be a string"* ]] || fail "$stderr"
	local most
	most=$(jq '[.workers[].batch.max] | max' st.json)
	((most > 1 && most <= 32)) || fail "largest batch: $most"
}

@test "jq: a lines pool of two jq workers" {
	run --separate-stderr spool run -k -w "$EXAMPLES/jq/pool.json" "$EXAMPLES/jq/tasks.ndjson"
	assert_success
	local i want=""
	for i in 1 2 3 4 5 6 7 8; do
		want+="{\"x\":$i,\"square\":$((i * i)),\"even\":$( ((i % 2 == 0)) && echo true || echo false)}"$'\n'
	done
	assert_equal "$output" "${want%$'\n'}"
	run --separate-stderr spool check -w "$EXAMPLES/jq/pool.json"
	assert_success
	assert_line --index 0 --regexp $'^jq#0\tpid [0-9]+\tready in '
	assert_line --index 1 --regexp $'^jq#1\tpid [0-9]+\tready in '
}

@test "shell: a sh while-read pool with a ready line" {
	run --separate-stderr spool check -w "$EXAMPLES/shell/pool.json"
	assert_success
	assert_line --index 0 --regexp $'^shell#0\tpid [0-9]+\tready in .*\t\\{"shell":"sh","worker":0\\}$'
	assert_line --index 1 --regexp $'^shell#1\tpid [0-9]+\tready in .*\t\\{"shell":"sh","worker":1\\}$'
	run --separate-stderr spool run -k -w "$EXAMPLES/shell/pool.json" "$EXAMPLES/shell/tasks.ndjson"
	assert_success
	cat >want <<-'EOF'
	{"task":{"name":"alpha"},"bytes":16}
	{"task":[1,2,3],"bytes":7}
	{"task":"a string","bytes":10}
	{"task":42,"bytes":2}
	{"task":{"nested":{"list":[true,false,null]}},"bytes":37}
	EOF
	diff want <(printf '%s\n' "$output")
}

@test "an example copied elsewhere runs with a relative -w path" {
	# cmd and cwd resolve against the config file's directory, not spool's.
	mkdir -p copy/run && cp -r "$EXAMPLES/shell" copy/
	cd copy/run
	run --separate-stderr spool run -k -w ../shell/pool.json ../shell/tasks.ndjson
	assert_success
	assert_equal "${#lines[@]}" 5
	assert_line --index 0 '{"task":{"name":"alpha"},"bytes":16}'
}

@test "demo.sh (make demo) runs from any directory and exits 0" {
	mkdir -p somewhere/else && cd somewhere/else
	run --separate-stderr sh "$EXAMPLES/demo.sh" "$SPOOL"
	assert_success
	# It says what it does, checks the pool and shows the results.
	assert_output --partial "==> "
	assert_output --regexp $'model#0\tpid [0-9]+\tready in '
	assert_output --regexp $'model#1\tpid [0-9]+\tready in '
	assert_output --partial '{"id":1,"label":"positive","score":2.0,"model":"sentiment-small"}'
	assert_output --partial '{"id":6,"label":"positive","score":2.0,"model":"sentiment-small"}'
	assert_equal "$(spool_lines "$stderr")" ""
}

@test "demo.sh fails when spool fails" {
	printf '#!/bin/sh\nexit 3\n' >fake-spool
	chmod +x fake-spool
	run --separate-stderr sh "$EXAMPLES/demo.sh" "$PWD/fake-spool"
	assert_failure
}
