# watch.bash - helpers for the suites about watching and resuming a run
# (stats, joblog, resume, progress, verbose).  Load after test_helper:
#   load test_helper
#   load helpers/watch

# The test worker (see its header): echoes tasks (lines) or answers them
# (spool protocol), logs what it receives ($WW_LOG) and its pid ($WW_PIDS),
# and blocks, dies or fails on request.
WW="$FIXTURES/watch/ww.py"
export WW

# on_stderr ASSERTION ARGS... : a bats-assert output or line assertion
# against the stderr captured by `run --separate-stderr`.
on_stderr() {
	local output=$stderr
	# assert_line needs a set array: empty stderr is one empty line.
	local -a lines=("")
	[[ -z ${stderr_lines[0]+set} ]] || lines=("${stderr_lines[@]}")
	"$@"
}

# jl_rows FILE : the rows of a joblog, without its header.
jl_rows() {
	tail -n +2 "$1"
}

# jl_field FILE N : column N (1-based) of every row of a joblog.
jl_field() {
	tail -n +2 "$1" | cut -f "$2"
}

# jl_count FILE : number of rows (0 when the file does not exist).
jl_count() {
	if [[ -e $1 ]]; then
		tail -n +2 "$1" | wc -l | tr -d ' '
	else
		echo 0
	fi
}

# jl_rows_at_least N FILE : true when FILE holds at least N rows.
jl_rows_at_least() {
	(($(jl_count "$2") >= $1))
}

# jl_latest_ok FILE : the seqs whose latest row says ok, sorted.
jl_latest_ok() {
	awk -F '\t' 'NR > 1 && NF == 9 { st[$1] = $7 }
		END { for (s in st) if (st[s] == "ok") print s }' "$1" | sort -n
}

# grep_count PATTERN FILE : lines of FILE matching the fixed string (0 if none).
grep_count() {
	if [[ -e $2 ]]; then grep -cF -- "$1" "$2" || true; else echo 0; fi
}

# open_gate : let any task still waiting for the file gate go on, so that
# a failed test leaves no spool behind (call it from teardown).
open_gate() {
	touch "$BATS_TEST_TMPDIR/gate" 2>/dev/null || true
}
