# faults.bash - helpers for faults.bats, signals.bats and soak.bats.
# Load after test_helper:  load helpers/faults

FAULTS="$FIXTURES/faults"
FW="$FAULTS/fw.py"
export FAULTS FW

# fw_cmd ARG... : the JSON cmd array that runs fw.py with ARGs (no quotes
# or backslashes in ARGs).
fw_cmd() {
	local s="[\"python3\",\"$FW\"" a
	for a in "$@"; do
		s+=",\"$a\""
	done
	printf '%s]' "$s"
}

# fw_pool FILE PROTO 'EXTRA' ARG... : a one-spec pool named fw running
# fw.py --proto PROTO ARG...; EXTRA is more spec keys (',"replicas":2').
fw_pool() {
	local file=$1 proto=$2 extra=$3
	shift 3
	write_pool "$file" "{\"workers\":[{\"name\":\"fw\",\"protocol\":\"$proto\",\"cmd\":$(fw_cmd --proto "$proto" "$@")$extra}]}"
}

# same_set A B : files A and B hold the same lines, in any order, with
# the same multiplicities (nothing lost, nothing duplicated).
same_set() {
	if ! diff <(LC_ALL=C sort "$1") <(LC_ALL=C sort "$2") >"$BATS_TEST_TMPDIR/set.diff"; then
		echo "lines differ between $1 and $2 (< only in $1, > only in $2):" >&2
		head -20 "$BATS_TEST_TMPDIR/set.diff" >&2
		return 1
	fi
}

# nlines FILE : its number of lines (0 when it does not exist).
nlines() {
	if [[ -e $1 ]]; then
		wc -l <"$1" | tr -d ' '
	else
		echo 0
	fi
}

# accounted INPUT OUT FAILED : for a worker that echoes its tasks, every
# input line is exactly once in OUT or in FAILED: ok + failed = read.
accounted() {
	cat "$2" >"$BATS_TEST_TMPDIR/acc.all"
	[[ -e $3 ]] && cat "$3" >>"$BATS_TEST_TMPDIR/acc.all"
	same_set "$1" "$BATS_TEST_TMPDIR/acc.all"
}

# tag_complete N FILE : a --tag output with exactly one line per seq 1..N.
tag_complete() {
	local n=$1 file=$2
	if ! diff <(jq -r .seq "$file" | sort -n) <(seq 1 "$n") >"$BATS_TEST_TMPDIR/tag.diff"; then
		echo "--tag output $file: seqs are not exactly 1..$n:" >&2
		head -20 "$BATS_TEST_TMPDIR/tag.diff" >&2
		return 1
	fi
}

# tag_results FILE : the results of a --tag output, one per line.
tag_results() {
	jq -c 'select(has("result")) | .result' "$1"
}

# file_has_lines FILE N : FILE exists with at least N lines.
file_has_lines() {
	[[ -e $1 ]] && (($(nlines "$1") >= $2))
}

# file_exists FILE
file_exists() {
	[[ -e $1 ]]
}

# none_alive FILE : no pid listed in FILE (one a line, first field) runs.
none_alive() {
	local pid
	while read -r pid _; do
		[[ -z $pid ]] && continue
		if pid_alive "$pid"; then
			echo "pid $pid is still running: $(ps -o args= -p "$pid")" >&2
			return 1
		fi
	done <"$1"
}

# not_running PID
not_running() {
	! kill -0 "$1" 2>/dev/null
}

# tasks_with N FILE [TEXT LINE] : N tasks {"x":i} in FILE; the task on
# line LINE (if given) gets TEXT added as a key: {"x":i,"TEXT":true}.
tasks_with() {
	local n=$1 file=$2 text=${3:-} at=${4:-0}
	awk -v n="$n" -v t="$text" -v at="$at" 'BEGIN {
		for (i = 1; i <= n; i++)
			if (i == at) printf "{\"x\":%d,\"%s\":true}\n", i, t
			else printf "{\"x\":%d}\n", i
	}' >"$file"
}
