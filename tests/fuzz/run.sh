#!/bin/sh
# run.sh - fuzz each libFuzzer target for a while (make fuzz-run).
#   sh tests/fuzz/run.sh SECONDS FUZZER...
#
# FUZZER is a target built by `make fuzz` (build/libfuzzer/fuzz_NAME).  It
# runs in DIR = FUZZER's folder/run/fuzz_NAME/, from DIR/corpus, a fresh
# copy of tests/fuzz/corpus (never written: new inputs stay in the copy),
# one after the other, for SECONDS each.  libFuzzer writes what it finds
# to DIR (crash-*, leak-*, timeout-*, oom-*) and its output to DIR/log.
# tests/fuzz/fuzz_NAME.dict, where there is one, is its dictionary.
# Any finding, any sanitizer report, or a fuzzer that fails fails the run,
# with the path of the input that reproduces it.  FUZZ_TIMEOUT (10) is how
# many seconds one input may take before it counts as a hang.
set -u
if [ $# -lt 2 ]; then
	echo "usage: sh tests/fuzz/run.sh SECONDS FUZZER..." >&2
	exit 2
fi
# libFuzzer takes 0 seconds as no limit at all.
if ! [ "$1" -gt 0 ] 2>/dev/null; then
	echo "fuzz-run: FUZZ_SECONDS must be a whole number of seconds" \
		">= 1, got '$1'" >&2
	exit 2
fi
secs=$1
shift
corpus=$(cd "$(dirname "$0")" && pwd)/corpus
passed=0
failed=0

for bin in "$@"; do
	name=$(basename "$bin")
	dir=$(dirname "$bin")/run/$name
	rm -rf "$dir"
	mkdir -p "$dir/corpus" || exit 1
	cp "$corpus"/* "$dir/corpus/" || exit 1
	echo "# $name: fuzzing for ${secs}s from a copy of tests/fuzz/corpus"
	dict=$(dirname "$corpus")/$name.dict
	[ -f "$dict" ] && dict="-dict=$dict" || dict=""
	# -timeout: an input that takes seconds is a hang to report, not to
	# wait out; UBSan stops at its first report (built without recovery).
	ASAN_OPTIONS=detect_leaks=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		"$bin" -max_total_time="$secs" -timeout="${FUZZ_TIMEOUT:-10}" \
		-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$dir/" \
		${dict:+"$dict"} "$dir/corpus" >"$dir/log" 2>&1
	rc=$?
	found=$(find "$dir" -maxdepth 1 -type f \( -name 'crash-*' \
		-o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) |
		sort)
	report=$(grep -E -e 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)' \
		-e 'runtime error:' -e 'check failed:' "$dir/log" | head -n 5)
	if [ "$rc" -eq 0 ] && [ -z "$found" ] && [ -z "$report" ]; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' \
			"$dir/log")
		cov=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$dir/log" |
			sed -n 's/.* cov: \([0-9]*\).* corp: \([0-9]*\).*/\1 \2/p' |
			awk '{ printf "coverage %s, corpus %s", $1, $2 }')
		echo "ok $name: ${runs:-?} runs, ${cov:-no stats}"
		passed=$((passed + 1))
		continue
	fi
	failed=$((failed + 1))
	echo "not ok $name: the fuzzer exited $rc; its output, from the end:"
	tail -n 40 "$dir/log" | sed 's/^/#   /'
	[ -n "$report" ] && printf '%s\n' "$report" | sed 's/^/# report: /'
	for f in $found; do
		echo "# reproducer: $f"
		echo "#   run it:   $bin $f"
		echo "#   or:       build/fuzz/$name $f  (no libFuzzer; make first)"
	done
	[ -z "$found" ] && echo "# no reproducer was written; the log is $dir/log"
done

echo "fuzz-run: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
