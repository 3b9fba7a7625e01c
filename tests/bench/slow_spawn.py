#!/usr/bin/env python3
"""W6's worker (lines protocol): an expensive start (sleep 1 s, as a model
load would take), then echo each line.  spool starts it once per worker;
parallel starts it once per task."""
import sys
import time


def main():
    time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0)
    read = sys.stdin.buffer.readline
    out = sys.stdout.buffer
    while True:
        line = read()
        if not line:
            break
        out.write(line if line.endswith(b"\n") else line + b"\n")
        out.flush()


if __name__ == "__main__":
    main()
