#!/bin/sh
# valgrind.sh SPOOL - run spool through a few representative runs under
# valgrind's memcheck; any leak or memory error fails (exit 99).
set -eu
spool=$1
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
vg() {
	valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible \
		--errors-for-leak-kinds=definite,indirect,possible \
		--error-exitcode=99 --trace-children=no "$spool" "$@"
}
awk 'BEGIN { for (i = 1; i <= 2000; i++) printf "{\"x\":%d}\n", i; print "not json" }' >"$tmp/tasks"
status() { "$@" >/dev/null 2>&1 && echo 0 || echo $?; }
check() { # check EXPECTED-STATUS ARGS...
	want=$1; shift
	got=$(status vg "$@")
	if [ "$got" != "$want" ]; then
		echo "valgrind: spool $* -> exit $got (want $want)" >&2
		vg "$@" >/dev/null || true
		exit 1
	fi
	echo "ok - spool $*"
}
check 1 run -c cat -j 2 -k --tag "$tmp/tasks"
check 1 run -c cat -j 2 --failed "$tmp/failed" --joblog "$tmp/jl" --stats="$tmp/st" "$tmp/tasks"
check 1 run -c cat -j 1 --joblog "$tmp/jl" --resume "$tmp/tasks"
check 1 run -w "$here/../workers/examples/square/pool.json" "$here/../workers/examples/square/tasks.ndjson"
check 0 check -w "$here/../workers/examples/square/pool.json"
check 3 run -c 'read l; exit 1' -j 1 -r 1 "$tmp/tasks"
check 2 run -w /nonexistent.json
check 2 run -c cat --joblog "$tmp/jl" --resume "$tmp/nonexistent"
echo '{"workers":[{"cmd":["/nonexistent"]}]}' >"$tmp/pool.json"
check 3 run -w "$tmp/pool.json" "$tmp/tasks"
