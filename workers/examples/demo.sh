#!/bin/sh
# demo.sh SPOOL - what `make demo` runs: the model example, end to end.
#
# A pool of two "model" workers (workers/examples/model): each loads its
# model once (about a second, in spawn), then serves many tasks quickly.
# Works from any directory; SPOOL is the spool binary (default: spool on
# PATH).
set -eu

spool=${1:-spool}
here=$(cd "$(dirname "$0")" && pwd)
pool=$here/model/pool.json
tasks=$here/model/tasks.ndjson

say() {
	printf '\n==> %s\n' "$*"
}

say "The pool: $pool"
cat "$pool"

say "spool check -w model/pool.json: spawn every worker once, show its spawn result"
"$spool" check -w "$pool"

say "The tasks: $tasks"
cat "$tasks"

say "spool run -k -w model/pool.json model/tasks.ndjson: results in input order"
rc=0
"$spool" run -k -w "$pool" "$tasks" || rc=$?
if [ "$rc" -ne 0 ]; then
	echo "demo: spool run exited with status $rc" >&2
	exit "$rc"
fi

say "Done: each worker loaded the model once and then served its share of the tasks."
