#!/usr/bin/env python3
"""w8.py - W8: a pool called from Python code, and a pool nested in a pool.

    python3 tests/bench/w8.py SPOOL [--rounds N] [--scale N] [--only A,B]

The seed's users call a pool from their own code.  Here the same trivial
task ({"x": i} -> {"y": i + 1}, tests/bench/rpc_worker.py) runs through
spool_client (a private `spool serve` with 2 Python SDK workers) and
through concurrent.futures.ProcessPoolExecutor(2) with one submit() per
task (the seed's architecture), three ways:

  map     pool.map over the tasks, results in order, against submit() of
          every task then result() of each in order: tasks/s (target: at
          least 10x the executor's)
  threads 8 threads, each calling execute(task) (or submit(task).result())
          in a loop: tasks/s (target: at least 2x)
  rtt     one thread, one task at a time: the round trip's median, in us

and the cost of nesting (nest): 1M W1-like tasks (`cat`, -j 2, -k) through
a pool whose one worker is a `spool serve -c cat -j 2` (the spool
protocol, 256 in flight) against the same through `spool run -c cat -j 2`
directly: the ratio of wall times.

Each figure is the median of --rounds rounds (3), spool and its anchor
alternating.  --scale N divides the task counts by N (a smoke run; the
figures are then not the targets').  Every result is checked.  Prints a
table; exit status 0, or 1 when a result was wrong (a missed target is
reported, not an error).  Standard library only.
"""
import argparse
import concurrent.futures
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "workers", "python"))
import spool_client  # noqa: E402

WORKER = [sys.executable, os.path.join(HERE, "rpc_worker.py")]

# Task counts at scale 1: enough for each measurement to last a second or
# more on a small machine, for spool and for its (slower) anchor.
N_MAP = 200000
N_MAP_ANCHOR = 20000
N_THREADS = 8
N_THREAD_TASKS = 10000      # per thread
N_THREAD_TASKS_ANCHOR = 2000
N_RTT = 5000
N_NEST = 1000000


class Wrong(Exception):
    pass


def execute(task):
    """The anchor's task, in a pool process: what rpc_worker.py does."""
    return {"y": task["x"] + 1}


def init():
    # Stands for the worker's one-time set-up (spool's spawn).
    pass


def check_results(results, first, n):
    if len(results) != n:
        raise Wrong("%d results for %d tasks" % (len(results), n))
    for i, r in enumerate(results):
        if r != {"y": first + i + 1}:
            raise Wrong("task %d: got %r" % (first + i, r))


# --- map -------------------------------------------------------------

def map_spool(pool, n):
    t = time.perf_counter()
    results = list(pool.map({"x": i} for i in range(n)))
    wall = time.perf_counter() - t
    check_results(results, 0, n)
    return n / wall


def map_anchor(ex, n):
    t = time.perf_counter()
    futs = [ex.submit(execute, {"x": i}) for i in range(n)]
    results = [f.result() for f in futs]
    wall = time.perf_counter() - t
    check_results(results, 0, n)
    return n / wall


# --- 8 threads -------------------------------------------------------

def threads_run(call, n_threads, n_each):
    errors = []
    start = threading.Barrier(n_threads + 1)

    def work(k):
        first = k * n_each
        results = []
        start.wait()
        try:
            for i in range(first, first + n_each):
                results.append(call({"x": i}))
            check_results(results, first, n_each)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,))
               for k in range(n_threads)]
    for th in threads:
        th.start()
    start.wait()
    t = time.perf_counter()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t
    if errors:
        raise Wrong("8 threads: %s" % errors[0])
    return n_threads * n_each / wall


# --- one round trip --------------------------------------------------

def rtt_run(call, n):
    times = []
    clock = time.perf_counter_ns
    for i in range(n):
        t = clock()
        r = call({"x": i})
        times.append(clock() - t)
        if r != {"y": i + 1}:
            raise Wrong("round trip %d: got %r" % (i, r))
    return statistics.median(times) / 1000.0


# --- nesting ---------------------------------------------------------

def nest_round(spool, tmp, n, nested):
    src = os.path.join(tmp, "nest_%d.ndjson" % n)
    if not os.path.exists(src):
        with open(src + ".tmp", "w") as f:
            for lo in range(1, n + 1, 100000):
                f.write("".join('{"x":%d}\n' % i
                                for i in range(lo, min(n, lo + 99999) + 1)))
        os.replace(src + ".tmp", src)
    if nested:
        config = os.path.join(tmp, "nest.json")
        with open(config, "w") as f:
            json.dump({"workers": [{
                "name": "node", "protocol": "spool", "inflight": 256,
                "cmd": [spool, "serve", "-c", "cat", "-j", "2"]}]}, f)
        argv = [spool, "run", "-w", config, "-k"]
    else:
        argv = [spool, "run", "-c", "cat", "-j", "2", "-k"]
    out = os.path.join(tmp, "nest.out")
    with open(src, "rb") as fin, open(out, "wb") as fout:
        t = time.perf_counter()
        rc = subprocess.call(argv, stdin=fin, stdout=fout)
        wall = time.perf_counter() - t
    if rc != 0:
        raise Wrong("%s exited %d" % (" ".join(argv), rc))
    if digest(out) != digest(src):
        raise Wrong("%s: the output is not the input" % " ".join(argv))
    return wall


def digest(path):
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ---------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description="W8: spool_client and nesting")
    ap.add_argument("spool", help="the spool binary to measure")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--scale", type=int, default=1)
    ap.add_argument("--only", default="map,threads,rtt,nest")
    args = ap.parse_args()
    spool = os.path.abspath(args.spool)
    if not os.access(spool, os.X_OK):
        ap.error("%s is not an executable" % args.spool)
    if args.rounds < 1 or args.scale < 1:
        ap.error("--rounds and --scale are at least 1")
    only = set(args.only.split(","))
    unknown = only - {"map", "threads", "rtt", "nest"}
    if unknown:
        ap.error("--only: unknown %s (map, threads, rtt, nest)"
                 % ", ".join(sorted(unknown)))

    def count(n, least=100):
        return max(least, n // args.scale)

    figures = {}  # name -> (spool values, anchor values)

    def note(name, spool_v, anchor_v):
        s, a = figures.setdefault(name, ([], []))
        s.append(spool_v)
        a.append(anchor_v)
        print("  %-8s round %d: spool %.6g, anchor %.6g"
              % (name, len(s), spool_v, anchor_v), flush=True)

    try:
        if only & {"map", "threads", "rtt"}:
            pool = spool_client.Pool(cmd=WORKER, replicas=2, spool=spool)
            ex = concurrent.futures.ProcessPoolExecutor(2, initializer=init)
            try:
                # Both warm: workers up, code paths run once.
                list(pool.map({"x": i} for i in range(1000)))
                [f.result() for f in [ex.submit(execute, {"x": i})
                                      for i in range(1000)]]
                for _ in range(args.rounds):
                    if "map" in only:
                        note("map", map_spool(pool, count(N_MAP)),
                             map_anchor(ex, count(N_MAP_ANCHOR)))
                    if "threads" in only:
                        note("threads",
                             threads_run(pool.execute, N_THREADS,
                                         count(N_THREAD_TASKS, 10)),
                             threads_run(
                                 lambda t: ex.submit(execute, t).result(),
                                 N_THREADS, count(N_THREAD_TASKS_ANCHOR, 10)))
                    if "rtt" in only:
                        note("rtt", rtt_run(pool.execute, count(N_RTT)),
                             rtt_run(lambda t: ex.submit(execute, t).result(),
                                     count(N_RTT)))
            finally:
                pool.close()
                ex.shutdown()
        if "nest" in only:
            with tempfile.TemporaryDirectory(prefix="spool-w8-") as tmp:
                n = count(N_NEST)
                for _ in range(args.rounds):
                    note("nest", nest_round(spool, tmp, n, True),
                         nest_round(spool, tmp, n, False))
    except Wrong as exc:
        print("w8: WRONG: %s" % exc, file=sys.stderr)
        return 1

    med = {k: (statistics.median(s), statistics.median(a))
           for k, (s, a) in figures.items()}
    rows = []
    if "map" in med:
        s, a = med["map"]
        rows.append(("pool.map, tasks/s", "%.0f" % s, "%.0f" % a,
                     "%.1fx" % (s / a), ">= 10x", s / a >= 10))
    if "threads" in med:
        s, a = med["threads"]
        rows.append(("execute from 8 threads, tasks/s", "%.0f" % s,
                     "%.0f" % a, "%.1fx" % (s / a), ">= 2x", s / a >= 2))
    if "rtt" in med:
        s, a = med["rtt"]
        rows.append(("1 thread's round trip, median us", "%.1f" % s,
                     "%.1f" % a, "%.2f" % (s / a), "(reported)", None))
    if "nest" in med:
        s, a = med["nest"]
        rows.append(("%d cat tasks -k, wall s (nested | flat)"
                     % count(N_NEST), "%.3f" % s, "%.3f" % a,
                     "%.2f" % (s / a), "(reported)", None))
    print()
    print("W8: spool_client, 2 Python SDK workers, against "
          "ProcessPoolExecutor(2).submit; nesting against a flat pool")
    print("medians of %d rounds%s" % (args.rounds, "" if args.scale == 1
                                      else "; scale 1/%d (smoke run)"
                                      % args.scale))
    head = ("figure", "spool", "anchor", "ratio", "target", "result")
    table = [head] + [r[:5] + ("PASS" if r[5] else "FAIL" if r[5] is False
                               else "-",) for r in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(head))]
    for r in table:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(r, widths))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
