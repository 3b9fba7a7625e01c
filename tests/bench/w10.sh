#!/bin/bash
# w10.sh - W10: workers on ssh hosts against the same workers run locally.
#
#   tests/bench/w10.sh SPOOL [ROUNDS] [TASKS]
#
# Standalone, and an external workload of tests/bench/run.sh (which runs it
# as `sh w10.sh SPOOL` with BENCH_ROUNDS, BENCH_SCALE and BENCH_TIMEOUT
# set).  It starts the test sshd of tests/remote/sshd.sh (root: it adds a
# test user), whose aliases host1..host4 are all this machine over
# loopback, and stops it at the end, also when interrupted.  Then:
#
#   wall   TASKS (1M / BENCH_SCALE) tasks {"x":i} through `cat` with -k,
#          on two ssh hosts with one worker each (-S host1,host2 -j 1)
#          against two local workers (-j 2): ROUNDS (BENCH_ROUNDS, 3)
#          rounds, the two alternating, each output compared with the
#          input; the median walls and their ratio (ssh / local).  The ssh
#          walls include connecting to both hosts (in parallel): that time
#          is given too.
#   floor  the same bytes through ssh alone: two `ssh hostN cat`, each on
#          half the tasks, at once (a fresh connection each, as spool's
#          run makes its own): what ssh itself costs, which spool's ssh
#          run is compared with.
#   start  16 workers on one host through its shared connection (spool
#          check of workers with a ready line): the connect time, the
#          slowest worker's time to ready, and check's wall; medians.
#
# Prints a Markdown table on stdout, progress on stderr.  Exit status 0; 1
# when an output was wrong or spool failed; 77 (skipped, the last stderr
# line says why) when not root or no sshd can be started; 2 on a usage
# error.

# run.sh starts it with sh: the rest is bash.
if [ -z "${BASH_VERSION:-}" ]; then
	exec bash "$0" "$@"
fi
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ $# -lt 1 ] || [ $# -gt 3 ]; then
	echo "usage: $0 SPOOL [ROUNDS] [TASKS]" >&2
	exit 2
fi
spool=$(realpath "$1")
rounds=${2:-${BENCH_ROUNDS:-3}}
n=${3:-$((1000000 / ${BENCH_SCALE:-1}))}
limit=${BENCH_TIMEOUT:-600}
[ -x "$spool" ] || {
	echo "w10.sh: $spool is not an executable" >&2
	exit 2
}
if [ "$(id -u)" != 0 ]; then
	echo "w10.sh: skipped: needs root (the test sshd adds a user and switches to it)" >&2
	exit 77
fi

# A user of its own: sshd.sh stop kills every process of its user.
export SPOOL_SSH_USER=${SPOOL_SSH_USER:-spoolw10}
tmp=$(mktemp -d /tmp/spool-w10.XXXXXX)
stop() {
	"$here/../remote/sshd.sh" stop "$tmp/sshd" >&2 || true
	rm -rf "$tmp"
}
trap stop EXIT
trap 'exit 130' INT TERM

if ! "$here/../remote/sshd.sh" start "$tmp/sshd" 3>&- >&2; then
	echo "w10.sh: skipped: the test sshd could not be started (see above)" >&2
	exit 77
fi
# shellcheck source=/dev/null
. "$tmp/sshd/env"

python3 "$here/gen.py" seq "$n" "$tmp/tasks"
half=$(((n + 1) / 2))
head -n "$half" "$tmp/tasks" >"$tmp/half1"
tail -n +"$((half + 1))" "$tmp/tasks" >"$tmp/half2"

# secs T0 : seconds since T0 (an $EPOCHREALTIME).
secs() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f\n", b - a }'; }
# median : the median of the numbers on stdin, one a line.
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# wall_of ARGS... : spool run -v ARGS -c cat -k over the tasks; prints the
# wall.  -v's lines (a few per worker and host) go to $tmp/err.
wall_of() {
	local t0 t
	t0=$EPOCHREALTIME
	if ! timeout -k 5 "$limit" "$spool" run -v "$@" -c cat -k "$tmp/tasks" \
		>"$tmp/out" 2>"$tmp/err"; then
		echo "w10.sh: spool run -v $* -c cat -k failed:" >&2
		tail -5 "$tmp/err" >&2
		exit 1
	fi
	t=$(secs "$t0")
	if ! cmp -s "$tmp/out" "$tmp/tasks"; then
		echo "w10.sh: spool run $* -c cat -k: the output is not the input" >&2
		exit 1
	fi
	echo "$t"
}

# bare_ssh : the floor, two ssh clients running cat on half each; prints
# the wall.
bare_ssh() {
	local t0 t p1 p2
	t0=$EPOCHREALTIME
	$SPOOL_SSH host1 cat <"$tmp/half1" >"$tmp/bare1" &
	p1=$!
	$SPOOL_SSH host2 cat <"$tmp/half2" >"$tmp/bare2" &
	p2=$!
	wait "$p1" && wait "$p2" || {
		echo "w10.sh: ssh hostN cat failed" >&2
		exit 1
	}
	t=$(secs "$t0")
	if ! cat "$tmp/bare1" "$tmp/bare2" | cmp -s - "$tmp/tasks"; then
		echo "w10.sh: ssh hostN cat: the output is not the input" >&2
		exit 1
	fi
	echo "$t"
}

: >"$tmp/local"
: >"$tmp/bare"
: >"$tmp/ssh"
: >"$tmp/ssh_conn"
for r in $(seq "$rounds"); do
	l=$(wall_of -j 2)
	s=$(wall_of -S host1,host2 -j 1)
	b=$(bare_ssh)
	echo "$b" >>"$tmp/bare"
	# The slower host's connect time: no task ran before it (the
	# other host's worker may have).
	c=$(sed -n 's/^spool: host host[12]: connected in \([0-9]*\) ms$/\1/p' \
		"$tmp/err" | sort -g | tail -1)
	echo "w10.sh: round $r: local $l s, ssh $s s (connected in ${c:-?} ms), bare ssh $b s" >&2
	echo "$l" >>"$tmp/local"
	echo "$s" >>"$tmp/ssh"
	echo "${c:-0}" >>"$tmp/ssh_conn"
done
lm=$(median <"$tmp/local")
sm=$(median <"$tmp/ssh")
bm=$(median <"$tmp/bare")

# 16 workers that say "up" once they run there: check reports, per worker,
# the time from its spawn to that line, and the host's connect time.
cat >"$tmp/pool16.json" <<-'EOF'
	{"workers": [{"cmd": ["sh", "-c", "echo '\"up\"'; exec cat"],
	  "ready": "line", "hosts": ["16/host4"]}]}
EOF
# ms : a duration as check prints it (250.1ms, 1.07s) in milliseconds.
ms() { awk '{ v = $1 + 0; if ($1 !~ /ms$/) v *= 1000; printf "%.1f\n", v }'; }
: >"$tmp/connect"
: >"$tmp/slowest"
: >"$tmp/check"
for r in $(seq "$rounds"); do
	t0=$EPOCHREALTIME
	timeout -k 5 "$limit" "$spool" check -w "$tmp/pool16.json" \
		>"$tmp/check.out" || true
	secs "$t0" >>"$tmp/check"
	if [ "$(grep -c $'\tready in .*\t"up"$' "$tmp/check.out")" != 16 ]; then
		echo "w10.sh: spool check: not 16 workers up:" >&2
		cat "$tmp/check.out" >&2
		exit 1
	fi
	sed -n 's/^host host4\treachable, connected in //p' "$tmp/check.out" |
		ms >>"$tmp/connect"
	grep -o 'ready in [0-9.]*m\?s' "$tmp/check.out" | cut -d' ' -f3 | ms |
		sort -g | tail -1 >>"$tmp/slowest"
	echo "w10.sh: start-up round $r: check took $(tail -1 "$tmp/check") s" >&2
done

ratio=$(awk -v a="$sm" -v b="$lm" 'BEGIN { printf "%.2f", a / b }')
echo "| W10: $n tasks through \`cat\`, \`-k\`, median of $rounds alternating rounds | |"
echo "|---|---:|"
echo "| local, \`-j 2\` | $lm s |"
echo "| 2 loopback ssh hosts, \`-S host1,host2 -j 1\` | $sm s |"
echo "| ratio ssh / local | $ratio |"
echo "| floor: the same bytes through two \`ssh hostN cat\` alone | $bm s |"
echo "| ratio spool over ssh / ssh alone | $(awk -v a="$sm" -v b="$bm" 'BEGIN { printf "%.2f", a / b }') |"
echo "| of the ssh wall: connecting (the slower host) | $(median <"$tmp/ssh_conn") ms |"
echo "| 16 workers on one host, shared connection (\`spool check\`): connected in | $(median <"$tmp/connect") ms |"
echo "| the slowest worker ready, after its spawn | $(median <"$tmp/slowest") ms |"
echo "| \`spool check\` wall, connection and 16 workers | $(median <"$tmp/check") s |"
