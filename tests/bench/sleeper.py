#!/usr/bin/env python3
"""W4's worker (lines protocol): per line {"i":..,"ms":M}, sleep M ms, then
echo the line.  The same program serves spool and parallel --pipe.  With
--ready it first writes a "ready" line, for a pool with "ready": "line"
(spool then sends no task before the interpreter is up)."""
import json
import sys
import time


def main():
    read = sys.stdin.buffer.readline
    out = sys.stdout.buffer
    if "--ready" in sys.argv[1:]:
        out.write(b"ready\n")
        out.flush()
    while True:
        line = read()
        if not line:
            break
        if not line.strip():
            continue
        time.sleep(json.loads(line)["ms"] / 1000.0)
        out.write(line if line.endswith(b"\n") else line + b"\n")
        out.flush()


if __name__ == "__main__":
    main()
