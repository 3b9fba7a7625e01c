#!/bin/sh
# halves.sh - W2b's floor: a command on each half of the input, both at once.
#
#   sh tests/bench/halves.sh PART0 PART1 OUT0 OUT1 COMMAND [ARG...]
#
# Runs COMMAND <PART0 >OUT0 and COMMAND <PART1 >OUT1 at the same time: two
# bare processes reading and writing files, nothing between them, so the
# least wall time the job can take on two cores.  Exit 0 when both exit 0.
set -u
[ $# -ge 5 ] || {
	echo "usage: sh halves.sh PART0 PART1 OUT0 OUT1 COMMAND [ARG...]" >&2
	exit 2
}
part0=$1 part1=$2 out0=$3 out1=$4
shift 4
"$@" <"$part0" >"$out0" &
first=$!
"$@" <"$part1" >"$out1"
second=$?
wait "$first"
first=$?
[ "$first" -eq 0 ] && [ "$second" -eq 0 ]
