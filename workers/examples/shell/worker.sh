#!/bin/sh
# A shell worker (lines protocol): one JSON line in, one JSON line out.
# Its first line is its ready line (pool.json says "ready": "line"); then,
# for each task line, the task and its length in bytes.
printf '{"shell":"sh","worker":%s}\n' "${SPOOL_WORKER:-0}"
while IFS= read -r line; do
	printf '{"task":%s,"bytes":%d}\n' "$line" "${#line}"
done
