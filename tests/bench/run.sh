#!/bin/sh
# run.sh - spool's benchmarks against GNU parallel and Python process pools.
#
#   sh tests/bench/run.sh /absolute/path/to/spool      (what `make bench` runs)
#
# Environment:
#   BENCH_ROUNDS=N   rounds per workload, spool and its anchor alternating
#                    (A B A B ...); default 3
#   BENCH_SCALE=N    divide every task count by N, for quick smoke runs;
#                    default 1 (the figures the targets are about)
#   BENCH_ONLY=W1,W3 run only these workloads (W1..W8); default all
#   BENCH_STRICT=1   exit 1 when a target is missed, not only on wrong output
#   BENCH_TIMEOUT=S  wall-clock limit per measured command; default 600
#
# Inputs and expected outputs are generated once into tests/bench/out/ and
# reused.  Every run's output is checked (line count, and a checksum against
# an independently computed expected output: in order where the output is
# ordered, sorted where it is not), so a fast but wrong run cannot pass.
# Results: tests/bench/RESULTS.md and tests/bench/ratios.png, rewritten;
# W8 (tests/bench/w8.py, runnable alone) prints its own table, kept in
# tests/bench/out/W8.txt.
#
# Exit status: 0 when every command ran and every output was right (missed
# targets are reported, and fail the run only with BENCH_STRICT=1); 1 when a
# command failed or an output was wrong; 2 on a usage error.
set -eu

usage() {
	echo "usage: sh tests/bench/run.sh /absolute/path/to/spool" >&2
	echo "       env: BENCH_ROUNDS=3 BENCH_SCALE=1 BENCH_ONLY=W1,...,W8 BENCH_STRICT=0" >&2
	exit 2
}

[ $# -eq 1 ] || usage
SPOOL=$1
[ -x "$SPOOL" ] || { echo "bench: $SPOOL: not an executable" >&2; usage; }
case $SPOOL in /*) ;; *) SPOOL=$(pwd)/$SPOOL ;; esac

B=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$B/../.." && pwd)
OUT=$B/out
ROUNDS=${BENCH_ROUNDS:-3}
SCALE=${BENCH_SCALE:-1}
ONLY=$(printf '%s' "${BENCH_ONLY:-W1,W2,W3,W4,W5,W6,W7,W8}" | tr 'a-z ' 'A-Z,')
STRICT=${BENCH_STRICT:-0}
LIMIT=${BENCH_TIMEOUT:-600}

is_count() {
	case $1 in '' | *[!0-9]*) return 1 ;; esac
	[ "$1" -ge 1 ]
}
is_count "$ROUNDS" || { echo "bench: BENCH_ROUNDS must be an integer >= 1" >&2; exit 2; }
is_count "$SCALE" || { echo "bench: BENCH_SCALE must be an integer >= 1" >&2; exit 2; }
is_count "$LIMIT" || { echo "bench: BENCH_TIMEOUT must be an integer >= 1" >&2; exit 2; }
for w in $(printf '%s' "$ONLY" | tr ',' ' '); do
	case $w in
	W[1-8]) ;;
	*) echo "bench: BENCH_ONLY: unknown workload '$w' (W1..W8)" >&2; exit 2 ;;
	esac
done

selected() {
	case ",$ONLY," in *",$1,"*) return 0 ;; esac
	return 1
}

for tool in parallel jq python3 cc md5sum timeout; do
	command -v "$tool" >/dev/null 2>&1 ||
		{ echo "bench: $tool not found (make bench installs it)" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time not found (Debian: time)" >&2; exit 1; }

mkdir -p "$OUT"
RES=$OUT/results.tsv
WRONG=$OUT/wrong.tsv
CMDS=$OUT/commands.tsv
META=$OUT/meta.txt
printf 'workload\ttool\tround\ttasks\twall_s\ttree_kb\tself_kb\trc\n' >"$RES"
: >"$WRONG"
: >"$CMDS"
export LC_ALL=C
export PYTHONDONTWRITEBYTECODE=1

say() { printf '%s\n' "$*"; }

# count BASE MIN: BASE divided by BENCH_SCALE, at least MIN.
count() {
	c=$(($1 / SCALE))
	[ "$c" -ge "$2" ] || c=$2
	echo "$c"
}

# newer A B: A was modified after B (test's -nt is not POSIX).
newer() { [ -n "$(find "$1" -newer "$2" 2>/dev/null)" ]; }

# ------------------------------------------------------------------
# Helpers: the two C programs, built into out/ when missing or stale.

build_c() { # build_c NAME
	src=$B/$1.c bin=$OUT/$1
	if [ ! -x "$bin" ] || newer "$src" "$bin"; then
		say "build: $1"
		cc -std=gnu11 -O2 -Wall -o "$bin.tmp" "$src"
		mv "$bin.tmp" "$bin"
	fi
}
build_c pingpong
build_c peakrss

# ------------------------------------------------------------------
# Inputs and expected checksums, made once and reused.

sum_of() { md5sum | cut -d' ' -f1; }

# input KIND N: prints the path of the input file, generating it if needed.
input() {
	f=$OUT/$1_$2.ndjson
	if [ ! -s "$f" ]; then
		say "generate: $(basename "$f")" >&2
		python3 "$B/gen.py" "$1" "$2" "$f"
		rm -f "$f".*.md5
	fi
	echo "$f"
}

# expect FILE WHAT: the expected checksum of an output, cached beside FILE.
#   same: the file itself; sorted: the file sorted; jq, rpc: the worker's output.
expect() {
	m=$1.$2.md5
	if [ ! -s "$m" ] || newer "$1" "$m"; then
		case $2 in
		same) sum_of <"$1" ;;
		sorted) sort "$1" | sum_of ;;
		jq | rpc) python3 "$B/gen.py" "$2" "$1" | sum_of ;;
		esac >"$m.tmp"
		mv "$m.tmp" "$m"
	fi
	cat "$m"
}

# ------------------------------------------------------------------
# Measuring and checking.

# show ARG...: the command line as a shell would take it, paths in the
# repository shown relative to its root.
show() {
	line=""
	for a in "$@"; do
		case $a in
		"$REPO"/*) a=${a#"$REPO"/} ;;
		esac
		case $a in
		'' | *[!A-Za-z0-9_./=,:%+-]*)
			case $a in
			*[\"\$\`\\]*)
				a="'$(printf '%s' "$a" | sed "s/'/'\\\\''/g")'" ;;
			*\'*) a="\"$a\"" ;;
			*) a="'$a'" ;;
			esac
			;;
		esac
		line="$line${line:+ }$a"
	done
	printf '%s' "$line" | sed "s#$REPO/##g"
}

# note W TOOL INPUT ARG...: record the exact command line once per run.
note() {
	n_w=$1 n_tool=$2 n_in=$3
	shift 3
	if ! grep -q "^$n_w	$n_tool	" "$CMDS"; then
		printf '%s\t%s\t%s < %s\n' "$n_w" "$n_tool" "$(show "$@")" \
			"$(show "$n_in")" >>"$CMDS"
	fi
}

wrong() { # wrong W MESSAGE
	printf '%s\t%s\n' "$1" "$2" >>"$WRONG"
	say "    WRONG: $2"
}

# measure W TOOL ROUND TASKS INPUT OUTPUT [SELF_KB_FILE] -- ARG...
# Runs ARG... < INPUT > OUTPUT under /usr/bin/time, appends a row to
# results.tsv; sets LAST_RC.
measure() {
	m_w=$1 m_tool=$2 m_round=$3 m_tasks=$4 m_in=$5 m_out=$6 m_self=""
	shift 6
	if [ "$1" != "--" ]; then
		m_self=$1
		shift
	fi
	shift
	note "$m_w" "$m_tool" "$m_in" "$@"
	m_err=$OUT/$m_w.$m_tool.stderr
	rm -f "$OUT/time.kb"
	m_t0=$(date +%s%N)
	set +e
	/usr/bin/time -f %M -o "$OUT/time.kb" \
		timeout --foreground -k 10 "$LIMIT" "$@" <"$m_in" >"$m_out" 2>"$m_err"
	LAST_RC=$?
	set -e
	m_t1=$(date +%s%N)
	m_wall=$(awk -v d=$((m_t1 - m_t0)) 'BEGIN { printf "%.4f", d / 1e9 }')
	m_tree=$(tail -n 1 "$OUT/time.kb" 2>/dev/null || echo -)
	m_kb=-
	if [ -n "$m_self" ] && [ -s "$m_self" ]; then
		m_kb=$(cut -d' ' -f1 "$m_self")
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$m_w" "$m_tool" "$m_round" \
		"$m_tasks" "$m_wall" "$m_tree" "$m_kb" "$LAST_RC" >>"$RES"
	m_extra=""
	[ "$m_kb" = - ] || m_extra="  (spool peak RSS $m_kb kB)"
	printf '  %s round %s/%s  %-9s %9s s%s\n' "$m_w" "$m_round" "$ROUNDS" \
		"$m_tool" "$m_wall" "$m_extra"
	if [ "$LAST_RC" -eq 124 ]; then
		wrong "$m_w" "$m_tool round $m_round: timed out (BENCH_TIMEOUT=$LIMIT s)"
	elif [ "$LAST_RC" -ne 0 ]; then
		wrong "$m_w" "$m_tool round $m_round: exit status $LAST_RC"
		tail -n 5 "$m_err" | sed 's/^/      /'
	fi
}

# verify W TOOL ROUND FILE TASKS same|sorted EXPECTED_SUM
verify() {
	lines=$(wc -l <"$4")
	if [ "$lines" -ne "$5" ]; then
		wrong "$1" "$2 round $3: $lines output lines, expected $5"
		return 0
	fi
	case $6 in
	same) got=$(sum_of <"$4") ;;
	sorted) got=$(sort "$4" | sum_of) ;;
	esac
	if [ "$got" != "$7" ]; then
		wrong "$1" "$2 round $3: output checksum $got, expected $7 ($6)"
	fi
}

warm() { cat "$@" >/dev/null; } # read inputs into the page cache first

# ------------------------------------------------------------------
# The workloads.

N1=$(count 10000000 1000)
N2=$(count 1000000 1000)
N3=$(count 100000 1000)
N4=$(count 400 40)
N6=$(count 1000 20)
N6A=$(count 40 4)
N7=$(count 10000 100)

w1() { # cat, -k, throughput against parallel --pipe
	in=$(input seq "$N1")
	want=$(expect "$in" same)
	warm "$in"
	say "W1: $N1 tasks, cat, -j 2 -k; anchor parallel --pipe -k -j2 cat"
	r=1
	while [ "$r" -le "$ROUNDS" ]; do
		o=$OUT/W1.spool.out
		measure W1 spool "$r" "$N1" "$in" "$o" -- "$SPOOL" run -c cat -j 2 -k
		verify W1 spool "$r" "$o" "$N1" same "$want"
		o=$OUT/W1.parallel.out
		measure W1 parallel "$r" "$N1" "$in" "$o" -- parallel --pipe -k -j2 cat
		verify W1 parallel "$r" "$o" "$N1" same "$want"
		r=$((r + 1))
	done
}

w2() { # jq workers, -k
	in=$(input seq "$N2")
	want=$(expect "$in" jq)
	warm "$in"
	say "W2: $N2 tasks, jq, -j 2 -k; anchor parallel --pipe -k -j2 jq"
	r=1
	while [ "$r" -le "$ROUNDS" ]; do
		o=$OUT/W2.spool.out
		measure W2 spool "$r" "$N2" "$in" "$o" -- \
			"$SPOOL" run -c "jq -c --unbuffered '{sq:(.x*.x)}'" -j 2 -k
		verify W2 spool "$r" "$o" "$N2" same "$want"
		o=$OUT/W2.parallel.out
		measure W2 parallel "$r" "$N2" "$in" "$o" -- \
			parallel -q --pipe -k -j2 jq -c '{sq:(.x*.x)}'
		verify W2 parallel "$r" "$o" "$N2" same "$want"
		r=$((r + 1))
	done
}

w3() { # Python SDK workers against Python process pools
	in=$(input seq "$N3")
	want=$(expect "$in" rpc)
	warm "$in"
	say "W3: $N3 tasks, 2 Python SDK workers (spool protocol); anchors" \
		"ProcessPoolExecutor(2).submit, multiprocessing.Pool(2).imap(chunksize=1)"
	r=1
	while [ "$r" -le "$ROUNDS" ]; do
		o=$OUT/W3.spool.out
		measure W3 spool "$r" "$N3" "$in" "$o" -- \
			"$SPOOL" run -w "$B/w3_pool.json" -k
		verify W3 spool "$r" "$o" "$N3" same "$want"
		o=$OUT/W3.ppe.out
		measure W3 ppe "$r" "$N3" "$in" "$o" -- python3 "$B/pool_anchor.py" ppe
		verify W3 ppe "$r" "$o" "$N3" same "$want"
		o=$OUT/W3.imap.out
		measure W3 imap "$r" "$N3" "$in" "$o" -- python3 "$B/pool_anchor.py" imap
		verify W3 imap "$r" "$o" "$N3" same "$want"
		r=$((r + 1))
	done
}

w4() { # uneven task times: load balance against the ideal makespan
	in=$(input sleep "$N4")
	want=$(expect "$in" sorted)
	ideal=$(python3 "$B/gen.py" ideal 4 "$in")
	printf 'W4\tideal\t0\t%s\t%s\t-\t-\t0\n' "$N4" "$ideal" >>"$RES"
	warm "$in"
	say "W4: $N4 tasks sleeping 1 ms (80%) or 80-160 ms, 4 workers;" \
		"ideal makespan ${ideal} s; anchor parallel --pipe --round-robin -N 10 -j4"
	r=1
	while [ "$r" -le "$ROUNDS" ]; do
		o=$OUT/W4.spool.out
		jl=$OUT/W4.joblog
		rm -f "$jl"
		measure W4 spool "$r" "$N4" "$in" "$o" -- \
			"$SPOOL" run -w "$B/w4_pool.json" --joblog "$jl"
		verify W4 spool "$r" "$o" "$N4" sorted "$want"
		# The tasks' makespan, from the first task sent to the last
		# answer (the ideal's terms: workers already up), per the joblog.
		span=$(awk -F'\t' 'NR > 1 { e = $5 + $6; if (!n++ || $5 < lo) lo = $5;
			if (e > hi) hi = e } END { if (n) printf "%.4f", hi - lo }' "$jl")
		printf 'W4\tspool-tasks\t%s\t%s\t%s\t-\t-\t0\n' "$r" "$N4" "$span" >>"$RES"
		say "  W4 round $r/$ROUNDS  tasks' makespan (joblog) $span s"
		o=$OUT/W4.parallel.out
		measure W4 parallel "$r" "$N4" "$in" "$o" -- \
			parallel --pipe --round-robin -N 10 -j4 python3 "$B/sleeper.py"
		verify W4 parallel "$r" "$o" "$N4" sorted "$want"
		r=$((r + 1))
	done
}

w5() { # W1 in -k mode: peak RSS of spool itself
	in=$(input seq "$N1")
	want=$(expect "$in" same)
	warm "$in"
	say "W5: $N1 tasks, cat, -j 2 -k; peak RSS of the spool process alone"
	r=1
	while [ "$r" -le "$ROUNDS" ]; do
		o=$OUT/W5.spool.out
		rm -f "$OUT/W5.self.kb"
		measure W5 spool "$r" "$N1" "$in" "$o" "$OUT/W5.self.kb" -- \
			"$OUT/peakrss" "$OUT/W5.self.kb" "$SPOOL" run -c cat -j 2 -k
		verify W5 spool "$r" "$o" "$N1" same "$want"
		if [ ! -s "$OUT/W5.self.kb" ]; then
			wrong W5 "spool round $r: no peak RSS figure"
		elif grep -q sampled "$OUT/W5.self.kb"; then
			echo "rss_method=sampled" >>"$META"
		fi
		r=$((r + 1))
	done
}

w6() { # expensive worker start: paid once per worker, or once per task
	in=$(input seq "$N6")
	ina=$(input seq "$N6A")
	want=$(expect "$in" sorted)
	wanta=$(expect "$ina" sorted)
	warm "$in" "$ina"
	say "W6: $N6 tasks through 2 workers that take 1 s to start;" \
		"anchor parallel -j2 --pipe -N1, one start per task, $N6A tasks"
	r=1
	while [ "$r" -le "$ROUNDS" ]; do
		o=$OUT/W6.spool.out
		measure W6 spool "$r" "$N6" "$in" "$o" -- \
			"$SPOOL" run -c "python3 '$B/slow_spawn.py'" -j 2
		verify W6 spool "$r" "$o" "$N6" sorted "$want"
		o=$OUT/W6.parallel.out
		measure W6 parallel "$r" "$N6A" "$ina" "$o" -- \
			parallel -j2 --pipe -N1 python3 "$B/slow_spawn.py"
		verify W6 parallel "$r" "$o" "$N6A" sorted "$wanta"
		r=$((r + 1))
	done
}

w7() { # one task in flight: spool's cost per round trip
	in=$(input seq "$N7")
	want=$(expect "$in" same)
	warm "$in"
	say "W7: $N7 tasks one at a time (--inflight 1), cat, -j 1;" \
		"anchor a C ping-pong over two pipes with cat"
	r=1
	while [ "$r" -le "$ROUNDS" ]; do
		o=$OUT/W7.spool.out
		measure W7 spool "$r" "$N7" "$in" "$o" -- \
			"$SPOOL" run -c cat -j 1 --inflight 1
		verify W7 spool "$r" "$o" "$N7" same "$want"
		o=$OUT/W7.pingpong.out
		measure W7 pingpong "$r" "$N7" "$in" "$o" -- "$OUT/pingpong" cat
		verify W7 pingpong "$r" "$o" "$N7" same "$want"
		r=$((r + 1))
	done
}

w8() { # spool serve from Python code (spool_client), and nesting
	say "W8: spool_client with 2 Python SDK workers against" \
		"ProcessPoolExecutor(2).submit; 1M cat tasks nested against flat"
	if ! python3 "$B/w8.py" "$SPOOL" --rounds "$ROUNDS" --scale "$SCALE" \
		>"$OUT/W8.txt" 2>&1; then
		wrong W8 "tests/bench/w8.py failed: see $OUT/W8.txt"
	fi
	cat "$OUT/W8.txt"
}

# ------------------------------------------------------------------

started=$(date +%s)
{
	echo "date=$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "cpu=$(sed -n 's/^model name[[:space:]]*: *//p' /proc/cpuinfo | head -n 1)"
	echo "nproc=$(nproc)"
	echo "kernel=$(uname -sr)"
	echo "load_before=$(cut -d' ' -f1-3 /proc/loadavg)"
	echo "rounds=$ROUNDS"
	echo "scale=$SCALE"
	echo "only=$ONLY"
	echo "spool=$("$SPOOL" --version 2>&1 | head -n 1)"
	echo "parallel=$(parallel --version 2>/dev/null | head -n 1)"
	echo "jq=$(jq --version 2>&1)"
	echo "python=$(python3 --version 2>&1)"
} >"$META"

say "bench: spool $SPOOL; rounds $ROUNDS, scale 1/$SCALE, workloads $ONLY"
[ "$ROUNDS" -ge 3 ] || say "bench: note: fewer than 3 rounds; medians are weak"
[ "$SCALE" -eq 1 ] || say "bench: note: scaled down (smoke run); figures are not the targets' figures"

for wl in W1 W2 W3 W4 W5 W6 W7 W8; do
	if selected "$wl"; then
		t=$(date +%s)
		case $wl in
		W1) w1 ;; W2) w2 ;; W3) w3 ;; W4) w4 ;; W5) w5 ;; W6) w6 ;; W7) w7 ;;
		W8) w8 ;;
		esac
		say "  $wl took $(($(date +%s) - t)) s"
	fi
done

{
	echo "load_after=$(cut -d' ' -f1-3 /proc/loadavg)"
	echo "elapsed_s=$(($(date +%s) - started))"
} >>"$META"

rm -f "$OUT/time.kb" "$OUT/ratios.dat"
verdict=0
python3 "$B/report.py" "$OUT" "$B/RESULTS.md" "$OUT/ratios.dat" || verdict=$?
if command -v gnuplot >/dev/null 2>&1; then
	if [ -s "$OUT/ratios.dat" ]; then
		chart_note=""
		[ "$SCALE" -eq 1 ] || chart_note="smoke run: task counts / $SCALE"
		gnuplot -e "datafile='$OUT/ratios.dat'; outfile='$B/ratios.png'; note='$chart_note'" \
			"$B/ratios.gp" && say "bench: chart tests/bench/ratios.png"
	fi
else
	say "bench: gnuplot not found; no chart"
fi
say "bench: results tests/bench/RESULTS.md ($(($(date +%s) - started)) s)"

# report.py: 0 all good, 1 wrong output or a failed command, 3 a target missed.
case $verdict in
0) exit 0 ;;
3) [ "$STRICT" = 1 ] && exit 1; exit 0 ;;
*) exit 1 ;;
esac
