#!/usr/bin/env python3
"""W3's anchors: the same task as rpc_worker.py through a Python process pool.

    pool_anchor.py ppe  < tasks > results   concurrent.futures.ProcessPoolExecutor(2),
                                            one submit() per task
    pool_anchor.py imap < tasks > results   multiprocessing.Pool(2).imap(chunksize=1)

Each task line is decoded and its result encoded in the pool's processes, as
spool's workers do; results are written in input order.
"""
import concurrent.futures
import json
import multiprocessing
import sys

_dumps = json.JSONEncoder(separators=(",", ":")).encode
_state = {}


def init():
    # Stands for the worker's one-time set-up (spool's spawn).
    _state["ready"] = True


def execute(line):
    task = json.loads(line)
    return _dumps({"y": task["x"] + 1})


def main():
    mode = sys.argv[1]
    lines = sys.stdin.buffer.read().decode().splitlines()
    out = sys.stdout
    if mode == "ppe":
        with concurrent.futures.ProcessPoolExecutor(2, initializer=init) as ex:
            futs = [ex.submit(execute, line) for line in lines if line]
            for f in futs:
                out.write(f.result())
                out.write("\n")
    elif mode == "imap":
        with multiprocessing.Pool(2, initializer=init) as pool:
            for r in pool.imap(execute, (l for l in lines if l), chunksize=1):
                out.write(r)
                out.write("\n")
    else:
        sys.exit("pool_anchor.py: unknown mode %r" % mode)
    out.flush()


if __name__ == "__main__":
    main()
