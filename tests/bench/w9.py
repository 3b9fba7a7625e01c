#!/usr/bin/env python3
"""w9.py - W9: dynamic batching with a GPU-like worker (SPEC 11).

    python3 tests/bench/w9.py build/spool [--rounds N] [--tasks N] [--quick]

The worker (this file, run with --worker; Python SDK) stands in for a model
on a GPU: every call costs a fixed 5 ms plus 0.05 ms per task, so a batch of
32 costs 6.6 ms where 32 single calls cost 161.6 ms.  execute_batch sleeps
0.005 + 0.00005 * len(tasks); execute (one task) the same with n = 1.

Measured, each configuration N rounds (default 3), rounds interleaved, and
the median reported:

  1. Throughput: 2 workers, 3000 tasks from a file, without batching and
     with "batch": {"max_size": 32, "max_delay": 0.005}.  Target: >= 10x,
     on --stats' tasks_per_s (the whole run, start-up included); the
     figure from the first worker up to the end is printed beside it.
  2. A sweep of max_size 1, 2, 4, ..., 128 (max_delay 0.005): throughput
     and latency p99 from --stats JSON (latency_s: from a task's send to
     its answer, so the time it queued is not in it; batch_wait_s says how
     long tasks waited to be batched).  Chart: tests/bench/w9.png.
  3. Light load: one task every 50 ms for about 5 s, written to spool
     through a pipe, each task's latency measured here from the write of
     its line to the read of its result (end to end, holding included),
     with batching (max_delay 0.005) and without.  Target: batching adds
     no more than max_delay to p50 and p99.  Batching with max_delay 0 is
     measured too: what the batch path costs without any hold.

Every run's output is checked (one result per task, each task once).
Files: tests/bench/out/w9/ (configs, --stats JSON, rows.tsv, w9.dat).
Exit status: 0 when every run was right (missed targets are printed as
MISS), 1 when a run failed or gave a wrong output, 2 on a usage error.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time

CALL_S = 0.005
TASK_S = 0.00005
WORKERS = 2
MAX_DELAY = 0.005
SWEEP = [1, 2, 4, 8, 16, 32, 64, 128]
LIGHT_GAP = 0.050
LIGHT_TASKS = 100  # about 5 s at one every 50 ms
TARGET_SPEEDUP = 10.0

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(HERE, "out", "w9")
PNG = os.path.join(HERE, "w9.png")


# --- The worker ------------------------------------------------------------

def worker_main():
    sys.path.insert(0, os.path.join(REPO, "workers", "python"))
    import spool_worker

    class GpuLike(spool_worker.Worker):
        def spawn(self):
            return {"call_s": CALL_S, "task_s": TASK_S}

        def execute_batch(self, tasks):
            time.sleep(CALL_S + TASK_S * len(tasks))
            return [{"i": t["i"], "n": len(tasks)} for t in tasks]

        def execute(self, task):
            time.sleep(CALL_S + TASK_S)
            return {"i": task["i"], "n": 1}

    spool_worker.run(GpuLike)


# --- Runs ------------------------------------------------------------------

def write_pool(path, max_size, max_delay=MAX_DELAY):
    spec = {
        "name": "gpu",
        "cmd": [sys.executable, os.path.abspath(__file__), "--worker"],
        "protocol": "spool",
        "replicas": WORKERS,
    }
    if max_size:
        spec["batch"] = {"max_size": max_size, "max_delay": max_delay}
    with open(path, "w") as f:
        json.dump({"workers": [spec]}, f, indent=1)
        f.write("\n")


def config_name(max_size, max_delay=MAX_DELAY):
    if not max_size:
        return "none"
    if max_delay != MAX_DELAY:
        return "b%d-d%g" % (max_size, max_delay)
    return "b%d" % max_size


def check_output(text, n):
    """None when text has exactly one result per task 0..n-1."""
    seen = set()
    for line in text.splitlines():
        try:
            i = json.loads(line)["i"]
        except (ValueError, KeyError, TypeError):
            return "not a result: %r" % line[:80]
        if i in seen:
            return "task %d answered twice" % i
        seen.add(i)
    if len(seen) != n:
        return "%d results for %d tasks" % (len(seen), n)
    return None


def throughput_run(spool, max_size, tasks_path, n, tag):
    pool = os.path.join(OUT, "pool-%s.json" % config_name(max_size))
    stats = os.path.join(OUT, "stats-%s.json" % tag)
    write_pool(pool, max_size)
    cmd = [spool, "run", "-w", pool, "--stats=" + stats, tasks_path]
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=600)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), p.returncode,
                                                p.stderr[-2000:]))
    why = check_output(p.stdout, n)
    if why:
        raise RuntimeError("%s: wrong output: %s" % (" ".join(cmd), why))
    with open(stats) as f:
        st = json.load(f)
    batches = [w.get("batch") for w in st["workers"] if w.get("batch")]
    # From the first worker up to the end: start-up (a Python interpreter
    # and the SDK) is a large share of a run this short.
    up = min(w["spawn_s"] for w in st["workers"] if w["spawn_s"] is not None)
    nb = sum(b["batches"] for b in batches)
    return {
        "wall_s": wall,
        "tasks_per_s": st["tasks_per_s"],
        "up_tasks_per_s": n / (st["wall_s"] - up),
        "p50_s": st["latency_s"]["p50"],
        "p99_s": st["latency_s"]["p99"],
        "batch_mean": (sum(b["mean"] * b["batches"] for b in batches) / nb
                       if nb else 1.0),
        "batch_max": max((b["max"] for b in batches), default=1),
        "wait_p99_s": st.get("batch_wait_s", {}).get("p99", 0.0),
    }


def light_run(spool, max_size, max_delay, tag):
    """One task every LIGHT_GAP s through a pipe; end-to-end latencies."""
    pool = os.path.join(OUT, "pool-%s.json" % config_name(max_size, max_delay))
    stats = os.path.join(OUT, "stats-%s.json" % tag)
    write_pool(pool, max_size, max_delay)
    cmd = [spool, "run", "-w", pool, "--stats=" + stats]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, bufsize=0)
    sent = {}
    got = {}
    errs = []

    def read_err():
        errs.append(p.stderr.read())

    def send(i):
        sent[i] = time.monotonic()
        p.stdin.write(b'{"i":%d}\n' % i)

    def recv():
        line = p.stdout.readline()
        if not line:
            return None
        i = json.loads(line)["i"]
        got[i] = time.monotonic()
        return i

    te = threading.Thread(target=read_err, daemon=True)
    te.start()
    # Warm up: both workers up and answering before the clock runs.
    for i in (-1, -2):
        send(i)
    while len(got) < 2:
        if recv() is None:
            break
    reader_done = threading.Event()

    def read_all():
        while recv() is not None:
            pass
        reader_done.set()

    tr = threading.Thread(target=read_all, daemon=True)
    tr.start()
    start = time.monotonic()
    for i in range(LIGHT_TASKS):
        due = start + i * LIGHT_GAP
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        send(i)
    p.stdin.close()
    rc = p.wait(timeout=120)
    reader_done.wait(10)
    te.join(10)
    if rc != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), rc,
                                                errs[0][-2000:] if errs else ""))
    lat = [got[i] - sent[i] for i in range(LIGHT_TASKS) if i in got]
    if len(lat) != LIGHT_TASKS:
        raise RuntimeError("%s: %d results for %d tasks" % (
            " ".join(cmd), len(lat), LIGHT_TASKS))
    lat.sort()
    with open(stats) as f:
        st = json.load(f)
    return {
        "p50_s": quantile(lat, 0.50),
        "p99_s": quantile(lat, 0.99),
        "stats_p50_s": st["latency_s"]["p50"],
        "stats_p99_s": st["latency_s"]["p99"],
        "wait_p50_s": st.get("batch_wait_s", {}).get("p50", 0.0),
        "wait_p99_s": st.get("batch_wait_s", {}).get("p99", 0.0),
    }


def quantile(sorted_values, q):
    """Nearest rank, as a latency percentile is usually given."""
    k = max(0, min(len(sorted_values) - 1,
                   int(q * len(sorted_values) + 0.999999) - 1))
    return sorted_values[k]


def median_of(rows, key):
    return statistics.median(r[key] for r in rows)


# --- Chart -----------------------------------------------------------------

GNUPLOT = r"""
if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
	set terminal pngcairo size 900,760 font "sans,11" noenhanced
} else {
	set terminal png size 900,760 noenhanced
}
set output outfile
set multiplot layout 2,1 title title
set lmargin 12
set logscale x 2
set xrange [0.7:181]
set xtics (1, 2, 4, 8, 16, 32, 64, 128)
set grid
set key top left
set ylabel "tasks/s"
set yrange [0:*]
set xlabel ""
plot datafile using 1:2 with linespoints lw 2 pt 7 lc rgb "#1f77b4" title "batched (max_delay 5 ms)", \
     nobatch with lines dt 2 lw 2 lc rgb "#d62728" title "no batching"
set ylabel "latency p99 (ms, send to answer)"
set xlabel "max_size"
set yrange [0:*]
plot datafile using 1:($3 * 1000) with linespoints lw 2 pt 7 lc rgb "#ff7f0e" title "batched: p99", \
     nobatch_p99 * 1000 with lines dt 2 lw 2 lc rgb "#d62728" title "no batching: p99"
unset multiplot
"""


def chart(dat, none_tps, none_p99, title):
    gp = os.path.join(OUT, "w9.gp")
    with open(gp, "w") as f:
        f.write(GNUPLOT)
    if not shutil.which("gnuplot"):
        print("w9: gnuplot not found (Debian: gnuplot-nox): no chart",
              file=sys.stderr)
        return False
    r = subprocess.run(
        ["gnuplot", "-e",
         "datafile='%s'; outfile='%s'; nobatch=%r; nobatch_p99=%r; "
         "title='%s'" % (dat, PNG, none_tps, none_p99, title), gp],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True)
    if r.returncode != 0:
        print("w9: gnuplot failed: %s" % r.stderr, file=sys.stderr)
        return False
    return True


# --- Main ------------------------------------------------------------------

def usage():
    print("usage: python3 tests/bench/w9.py SPOOL [--rounds N] [--tasks N] "
          "[--quick]", file=sys.stderr)
    sys.exit(2)


def main(argv):
    if len(argv) >= 1 and argv[0] == "--worker":
        worker_main()
        return 0
    if not argv or argv[0].startswith("-"):
        usage()
    spool = os.path.abspath(argv[0])
    rounds, ntasks, light = 3, 3000, True
    i = 1
    while i < len(argv):
        if argv[i] == "--rounds" and i + 1 < len(argv):
            rounds = int(argv[i + 1])
            i += 2
        elif argv[i] == "--tasks" and i + 1 < len(argv):
            ntasks = int(argv[i + 1])
            i += 2
        elif argv[i] == "--quick":
            rounds, ntasks, light = 1, 600, False
            i += 1
        else:
            usage()
    if not (os.path.isfile(spool) and os.access(spool, os.X_OK)):
        print("w9: %s: not an executable" % spool, file=sys.stderr)
        usage()
    os.makedirs(OUT, exist_ok=True)
    tasks_path = os.path.join(OUT, "tasks-%d.ndjson" % ntasks)
    with open(tasks_path, "w") as f:
        for k in range(ntasks):
            f.write('{"i":%d}\n' % k)

    configs = [0] + SWEEP
    thr = {c: [] for c in configs}
    # Light load: no batching; batching as in the sweep; and batching that
    # holds nothing (max_delay 0), which tells the cost of the batch path
    # from the cost of the hold.
    light_configs = [(0, MAX_DELAY), (32, MAX_DELAY), (32, 0.0)]
    lite = {lc: [] for lc in light_configs}
    rows = open(os.path.join(OUT, "rows.tsv"), "w")
    rows.write("round\tworkload\tconfig\ttasks_per_s\twall_s\tp50_s\tp99_s"
               "\tbatch_mean\tbatch_max\twait_p99_s\tup_tasks_per_s\n")
    t_all = time.monotonic()
    try:
        for r in range(1, rounds + 1):
            for c in configs:
                row = throughput_run(spool, c, tasks_path, ntasks,
                                     "%s-r%d" % (config_name(c), r))
                thr[c].append(row)
                rows.write("%d\tthroughput\t%s\t%.1f\t%.3f\t%.6f\t%.6f\t%.2f"
                           "\t%d\t%.6f\t%.1f\n" % (
                               r, config_name(c), row["tasks_per_s"],
                               row["wall_s"], row["p50_s"], row["p99_s"],
                               row["batch_mean"], row["batch_max"],
                               row["wait_p99_s"], row["up_tasks_per_s"]))
                rows.flush()
                print("w9: round %d %-5s %8.0f tasks/s" % (
                    r, config_name(c), row["tasks_per_s"]), file=sys.stderr)
            if light:
                for lc in light_configs:
                    name = config_name(*lc)
                    row = light_run(spool, lc[0], lc[1],
                                    "light-%s-r%d" % (name, r))
                    lite[lc].append(row)
                    rows.write("%d\tlight\t%s\t\t\t%.6f\t%.6f\t\t\t%.6f\n" % (
                        r, name, row["p50_s"], row["p99_s"],
                        row["wait_p99_s"]))
                    rows.flush()
                    print("w9: round %d light %-7s p50 %.2f ms p99 %.2f ms" % (
                        r, name, row["p50_s"] * 1e3, row["p99_s"] * 1e3),
                        file=sys.stderr)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        print("w9: %s" % exc, file=sys.stderr)
        return 1
    finally:
        rows.close()
    took = time.monotonic() - t_all

    med = {c: {k: median_of(thr[c], k) for k in thr[c][0]} for c in configs}
    dat = os.path.join(OUT, "w9.dat")
    with open(dat, "w") as f:
        f.write("# max_size tasks_per_s p99_s p50_s batch_mean (medians)\n")
        for c in SWEEP:
            f.write("%d %.3f %.6f %.6f %.3f\n" % (
                c, med[c]["tasks_per_s"], med[c]["p99_s"], med[c]["p50_s"],
                med[c]["batch_mean"]))
    title = ("W9: %d GPU-like workers (%g ms a call + %g ms a task), %d "
             "tasks, medians of %d" % (WORKERS, CALL_S * 1e3, TASK_S * 1e3,
                                        ntasks, rounds))
    charted = chart(dat, med[0]["tasks_per_s"], med[0]["p99_s"], title)

    print(title)
    print()
    print("| config | tasks/s | tasks/s from first worker up | wall s "
          "| latency p50 ms | latency p99 ms | batch mean | batch max "
          "| batch wait p99 ms |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for c in configs:
        m = med[c]
        print("| %s | %.0f | %.0f | %.3f | %.2f | %.2f | %s | %s | %s |" % (
            "no batching" if not c else "max_size %d" % c,
            m["tasks_per_s"], m["up_tasks_per_s"], m["wall_s"],
            m["p50_s"] * 1e3,
            m["p99_s"] * 1e3,
            "%.1f" % m["batch_mean"] if c else "-",
            "%d" % m["batch_max"] if c else "-",
            "%.2f" % (m["wait_p99_s"] * 1e3) if c else "-"))
    speedup = med[32]["tasks_per_s"] / med[0]["tasks_per_s"]
    speedup_up = med[32]["up_tasks_per_s"] / med[0]["up_tasks_per_s"]
    print()
    print("throughput, max_size 32 / no batching: %.1fx (target >= %.0fx): "
          "%s; from the first worker up: %.1fx" % (
              speedup, TARGET_SPEEDUP,
              "PASS" if speedup >= TARGET_SPEEDUP else "MISS", speedup_up))
    if light:
        lm = {lc: {k: median_of(lite[lc], k) for k in lite[lc][0]}
              for lc in lite}
        none, held, bare = light_configs
        add50 = lm[held]["p50_s"] - lm[none]["p50_s"]
        add99 = lm[held]["p99_s"] - lm[none]["p99_s"]
        ok = add50 <= MAX_DELAY and add99 <= MAX_DELAY
        print()
        print("light load: one task every %g ms for %g s, end-to-end latency "
              "(write of the task to read of its result)" % (
                  LIGHT_GAP * 1e3, LIGHT_GAP * LIGHT_TASKS))
        print()
        print("| config | p50 ms | p99 ms | --stats latency p50 / p99 ms "
              "| batch wait p50 / p99 ms |")
        print("|---|---:|---:|---:|---:|")
        for lc in light_configs:
            m = lm[lc]
            print("| %s | %.2f | %.2f | %.2f / %.2f | %s |" % (
                "no batching" if not lc[0] else
                "max_size %d, max_delay %g ms" % (lc[0], lc[1] * 1e3),
                m["p50_s"] * 1e3, m["p99_s"] * 1e3, m["stats_p50_s"] * 1e3,
                m["stats_p99_s"] * 1e3,
                "%.2f / %.2f" % (m["wait_p50_s"] * 1e3, m["wait_p99_s"] * 1e3)
                if lc[0] else "-"))
        print()
        print("batching added p50 %+.2f ms, p99 %+.2f ms (target: at most "
              "max_delay, %g ms): %s" % (add50 * 1e3, add99 * 1e3,
                                         MAX_DELAY * 1e3,
                                         "PASS" if ok else "MISS"))
        print("the batch path alone (max_delay 0) added p50 %+.2f ms, "
              "p99 %+.2f ms" % (
                  (lm[bare]["p50_s"] - lm[none]["p50_s"]) * 1e3,
                  (lm[bare]["p99_s"] - lm[none]["p99_s"]) * 1e3))
    print()
    print("rounds: %d, run time %.0f s; rows: %s%s" % (
        rounds, took, os.path.relpath(os.path.join(OUT, "rows.tsv"), REPO),
        "; chart: %s" % os.path.relpath(PNG, REPO) if charted else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
