#!/usr/bin/env python3
"""report.py - turn a bench run's raw rows into RESULTS.md and chart data.

    report.py OUT_DIR RESULTS.md RATIOS.dat

Reads OUT_DIR/results.tsv (a row per measured run), w11.tsv (W11's figures
per run), ext.tsv and W8.table ... (the external scripts), wrong.tsv (failed
commands and wrong outputs), commands.tsv and meta.txt, all written by
run.sh; writes OUT_DIR/w11.dat for w11.gp too.  Exit status: 0 every target
met, 1 a command failed or an output was wrong, 3 outputs right but a
target missed.
"""
import csv
import os
import statistics
import sys

WORKLOADS = {
    "W1": ("cat, 10M tasks, -j 2 -k, against GNU parallel --pipe",
           ["spool", "parallel"]),
    "W2": ("jq, 1M tasks, -j 2 -k, against GNU parallel --pipe",
           ["spool", "parallel"]),
    "W2b": ("stdio filters, buffered: plain jq, 1M tasks, --buffered -j 2 "
            "-k, against GNU parallel --pipe, and the floor",
            ["spool", "parallel", "floor"]),
    "W3": ("Python SDK workers (spool protocol), 100k tasks, against "
           "Python process pools", ["spool", "ppe", "imap"]),
    "W4": ("uneven tasks (1 ms or 80-160 ms), 400 tasks, 4 workers: "
           "load balance", ["spool", "parallel"]),
    "W5": ("W1 in -k mode: peak RSS of spool itself", ["spool"]),
    "W6": ("1000 tasks through workers that take 1 s to start, -j 2",
           ["spool", "parallel"]),
    "W7": ("one task at a time (--inflight 1), 10k tasks, cat, -j 1, "
           "against a C ping-pong", ["spool", "pingpong"]),
    "W8": ("spool serve and the Python client against "
           "ProcessPoolExecutor", []),
    "W9": ("dynamic batching", []),
    "W10": ("cat on 2 loopback ssh hosts against the same run local", []),
    "W11": ("a thousand workers: 1M cat tasks, -k, at -j 2 to 1000",
            ["j%d" % j for j in (2, 16, 64, 256, 1000)]),
}

# W11's -j values, and its targets: spool's own CPU per task (us) by -j,
# the wall time at -j 256 (s), the start-up of -j 1000 (s).
W11_J = (2, 16, 64, 256, 1000)
W11_CPU_TARGET = {256: 1.0, 1000: 1.5}
W11_WALL_J, W11_WALL_TARGET = 256, 2.0
W11_UP_J, W11_UP_TARGET = 1000, 1.0

TOOL_NAMES = {
    "spool": "spool",
    "parallel": "GNU parallel",
    "ppe": "ProcessPoolExecutor",
    "imap": "Pool.imap",
    "pingpong": "C ping-pong",
    "spool-tasks": "spool (tasks only)",
    "floor": "floor: 2 bare jq",
}
TOOL_NAMES.update(("j%d" % j, "spool -j %d" % j) for j in W11_J)


def workload_key(w):
    """W1 < W2 < W2b < W3 ... < W10 < W11."""
    digits = w[1:].rstrip("abcdefghijklmnopqrstuvwxyz")
    return (int(digits) if digits.isdigit() else 999, w)


def read_meta(path):
    meta = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                key, _, value = line.rstrip("\n").partition("=")
                meta[key] = value
    return meta


def read_rows(path):
    rows = {}
    with open(path) as f:
        for r in csv.DictReader(f, delimiter="\t"):
            rows.setdefault(r["workload"], []).append(r)
    return rows


def read_pairs(path):
    out = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                parts = line.rstrip("\n").split("\t", 2)
                if len(parts) == 2:
                    out.setdefault(parts[0], []).append(parts[1])
                elif len(parts) == 3:
                    out.setdefault(parts[0], []).append((parts[1], parts[2]))
    return out


class Metric:
    """One figure compared with its target.  ``op`` is "<=", ">=" or None
    (reported only).  ``score`` <= 1 means the target is met."""

    def __init__(self, key, label, value, target, op, fmt, unit=""):
        self.key, self.label, self.value = key, label, value
        self.target, self.op, self.fmt, self.unit = target, op, fmt, unit

    @property
    def score(self):
        if self.op is None or self.value is None or self.value <= 0:
            return None
        if self.op == "<=":
            return self.value / self.target
        return self.target / self.value

    @property
    def met(self):
        if self.op is None or self.value is None:
            return None
        if self.op == "<=":
            return self.value <= self.target
        return self.value >= self.target

    def shown(self):
        if self.value is None:
            return "-"
        return (self.fmt % self.value) + self.unit

    def target_shown(self):
        if self.op is None:
            return "(reported)"
        return "%s %s%s" % (self.op, self.fmt % self.target, self.unit)


def walls(rows, tool):
    return [float(r["wall_s"]) for r in rows if r["tool"] == tool]


def med(values):
    return statistics.median(values) if values else None


def tasks_of(rows, tool):
    for r in rows:
        if r["tool"] == tool:
            return int(r["tasks"])
    return None


def read_w11(path):
    """w11.tsv: a row per run, as dicts with numbers (startup_s None when
    no worker said ready)."""
    out = []
    if os.path.exists(path):
        with open(path) as f:
            for r in csv.DictReader(f, delimiter="\t"):
                out.append({
                    "j": int(r["j"]), "round": int(r["round"]),
                    "tasks": int(r["tasks"]), "ready": int(r["ready"]),
                    "startup_s": (None if r["startup_s"] == "-"
                                  else float(r["startup_s"])),
                    "cpu_s": float(r["cpu_s"])})
    return out


class W11Figures:
    """W11's figures for one -j: medians over rounds (and their range),
    the largest peak RSS."""

    def __init__(self, j, rows, w11):
        mine = [r for r in w11 if r["j"] == j]
        self.j = j
        self.cpu_us = [r["cpu_s"] / r["tasks"] * 1e6 for r in mine
                       if r["tasks"]]
        self.startup = [r["startup_s"] for r in mine
                        if r["startup_s"] is not None]
        self.wall = walls(rows, "j%d" % j)
        kbs = [int(r["self_kb"]) for r in rows if r["tool"] == "j%d" % j
               and r["self_kb"] not in ("-", "")]
        self.rss_mib = max(kbs) / 1024.0 if kbs else None
        self.tasks = mine[0]["tasks"] if mine else tasks_of(rows, "j%d" % j)


def w11_figures(rows, w11):
    return [W11Figures(j, rows, w11) for j in W11_J
            if any(r["tool"] == "j%d" % j for r in rows)]


def metrics_for(w, rows, w11=()):
    """The figures of workload w, from its rows (and W11's own rows)."""
    ms = []
    sp = med(walls(rows, "spool"))
    if w == "W2b":
        an = med(walls(rows, "parallel"))
        fl = med(walls(rows, "floor"))
        ms.append(Metric(w, "W2b wall time spool --buffered / parallel",
                         sp / an if sp and an else None, 0.9, "<=", "%.3f"))
        ms.append(Metric(w + "-floor", "W2b floor (2 bare jq) / parallel",
                         fl / an if fl and an else None, None, None, "%.3f"))
        ms.append(Metric(w + "-gap", "W2b spool --buffered / floor",
                         sp / fl if sp and fl else None, None, None, "%.3f"))
    elif w == "W11":
        figs = {f.j: f for f in w11_figures(rows, w11)}
        for j, target in sorted(W11_CPU_TARGET.items()):
            f = figs.get(j)
            ms.append(Metric("%s-cpu%d" % (w, j),
                             "W11 spool's CPU per task at -j %d" % j,
                             med(f.cpu_us) if f else None, target, "<=",
                             "%.3f", " us"))
        f = figs.get(W11_WALL_J)
        ms.append(Metric(w + "-wall", "W11 wall time at -j %d" % W11_WALL_J,
                         med(f.wall) if f else None, W11_WALL_TARGET, "<=",
                         "%.3f", " s"))
        f = figs.get(W11_UP_J)
        ms.append(Metric(w + "-up",
                         "W11 start-up to %d workers ready" % W11_UP_J,
                         med(f.startup) if f else None, W11_UP_TARGET, "<=",
                         "%.3f", " s"))
    elif w in ("W1", "W2"):
        an = med(walls(rows, "parallel"))
        ratio = sp / an if sp and an else None
        ms.append(Metric(w, "%s wall time spool / parallel" % w, ratio,
                         1.0 if w == "W1" else 1.1, "<=", "%.3f"))
    elif w == "W3":
        n = tasks_of(rows, "spool")
        tps = {t: (n / med(walls(rows, t)) if walls(rows, t) else None)
               for t in ("spool", "ppe", "imap")}
        for anchor, target, name in (("ppe", 10.0, "ProcessPoolExecutor"),
                                     ("imap", 2.0, "Pool.imap")):
            ratio = (tps["spool"] / tps[anchor]
                     if tps["spool"] and tps[anchor] else None)
            ms.append(Metric("%s-%s" % (w, anchor),
                             "W3 tasks/s spool / %s" % name, ratio, target,
                             ">=", "%.2f", "x"))
    elif w == "W4":
        ideal = med(walls(rows, "ideal"))
        an = med(walls(rows, "parallel"))
        tk = med(walls(rows, "spool-tasks"))
        ms.append(Metric(w, "W4 makespan spool (tasks, joblog) / ideal",
                         tk / ideal if tk and ideal else None, 1.10, "<=",
                         "%.3f"))
        ms.append(Metric(w + "-wall", "W4 whole run spool (with start-up) / ideal",
                         sp / ideal if sp and ideal else None, None, None,
                         "%.3f"))
        ms.append(Metric(w + "-parallel", "W4 makespan parallel / ideal",
                         an / ideal if an and ideal else None, None, None,
                         "%.3f"))
    elif w == "W5":
        kbs = [int(r["self_kb"]) for r in rows
               if r["tool"] == "spool" and r["self_kb"] not in ("-", "")]
        mib = max(kbs) / 1024.0 if kbs else None
        ms.append(Metric(w, "W5 peak RSS of spool (max over rounds)", mib,
                         16.0, "<=", "%.1f", " MiB"))
    elif w == "W6":
        n_s, n_a = tasks_of(rows, "spool"), tasks_of(rows, "parallel")
        an = med(walls(rows, "parallel"))
        ratio = ((sp / n_s) / (an / n_a)
                 if sp and an and n_s and n_a else None)
        ms.append(Metric(w, "W6 per-task cost spool / parallel", ratio, None,
                         None, "%.4f"))
    elif w == "W7":
        n = tasks_of(rows, "spool")
        an = med(walls(rows, "pingpong"))
        us = (sp - an) / n * 1e6 if sp and an and n else None
        ms.append(Metric(w, "W7 spool overhead per round trip", us, 20.0,
                         "<=", "%.1f", " us"))
    return ms


def per_round_table(rows, tools, rounds):
    lines = ["| tool | tasks | " +
             " | ".join("round %d" % (i + 1) for i in range(rounds)) +
             " | median |",
             "|---|---:|" + "---:|" * rounds + "---:|"]
    for tool in tools:
        mine = [r for r in rows if r["tool"] == tool]
        if not mine:
            continue
        cells = []
        for i in range(rounds):
            r = next((r for r in mine if r["round"] == str(i + 1)), None)
            cells.append("%.3f s" % float(r["wall_s"]) if r else "-")
        lines.append("| %s | %s | %s | %.3f s |" % (
            TOOL_NAMES.get(tool, tool), mine[0]["tasks"], " | ".join(cells),
            med([float(r["wall_s"]) for r in mine])))
    return lines


def span(values, fmt):
    """The median of values, with their range when there are several."""
    if not values:
        return "-"
    if len(values) == 1:
        return fmt % values[0]
    return "%s (%s to %s)" % (fmt % med(values), fmt % min(values),
                              fmt % max(values))


def w11_lines(rows, w11, meta):
    figs = w11_figures(rows, w11)
    out = ["Medians over rounds (range in brackets); peak RSS is the "
           "largest over rounds:", "",
           "| -j | tasks | wall | spool's CPU per task | start-up to all "
           "ready | peak RSS of spool |",
           "|---:|---:|---:|---:|---:|---:|"]
    for f in figs:
        out.append("| %d | %s | %s | %s | %s | %s |" % (
            f.j, f.tasks if f.tasks is not None else "-",
            span(f.wall, "%.3f s"), span(f.cpu_us, "%.3f us"),
            span(f.startup, "%.3f s"),
            "%.1f MiB" % f.rss_mib if f.rss_mib is not None else "-"))
    out += [
        "",
        "![W11: spool's CPU per task against -j](w11.png)",
        "",
        "- wall: from just before spool is started to its exit, timed by "
        "tests/bench/readytime.py (the wrapper's own Python start-up is not "
        "in it); the run has -v and --stats=FILE, as the other figures come "
        "from it.",
        "- spool's CPU per task: `cpu_s.user + cpu_s.sys` of the "
        "--stats=FILE JSON (spool's own CPU, not its workers') divided by "
        "the tasks.",
        "- start-up: from just before spool is started to the read of the "
        "last \"ready\" line of -v on spool's stderr, timestamped by "
        "readytime.py as it reads them: an upper bound, as a line is "
        "stamped after spool wrote it.  A `cat` worker has no ready line of "
        "its own, so spool says it is ready once it has exec'd; every run "
        "is checked to have one ready line per worker.",
    ]
    if meta.get("rss_method") == "sampled":
        out.append("- peak RSS: VmHWM sampled every 1 ms (ptrace was "
                   "refused here, tests/bench/peakrss.c).")
    else:
        out.append("- peak RSS: spool's own VmHWM at its exit "
                   "(tests/bench/peakrss.c), its workers not included.")
    return out


def extra_lines(w, rows, meta, w11=()):
    out = []
    if w == "W2b":
        for t in ("spool", "parallel", "floor"):
            m = med(walls(rows, t))
            n = tasks_of(rows, t)
            if m and n:
                out.append("- %s: %.0f tasks/s (median)" %
                           (TOOL_NAMES[t], n / m))
        out.append("- the floor: the input split once into two halves at a "
                   "line boundary (`split -n l/2`), then one bare jq on "
                   "each half, both at once, reading and writing files "
                   "(tests/bench/halves.sh); its output is the two halves' "
                   "outputs joined, checked like the others.")
    elif w == "W11":
        out += w11_lines(rows, w11, meta)
    elif w == "W3":
        n = tasks_of(rows, "spool")
        for t in ("spool", "ppe", "imap"):
            m = med(walls(rows, t))
            if m:
                out.append("- %s: %.0f tasks/s (median)" %
                           (TOOL_NAMES[t], n / m))
    elif w == "W4":
        ideal = med(walls(rows, "ideal"))
        if ideal:
            out.append("- ideal makespan (sum of sleeps / 4 workers): %.3f s"
                       % ideal)
        tk = walls(rows, "spool-tasks")
        if tk:
            out.append("- spool tasks' makespan per round (first task sent to "
                       "last answer, from --joblog; the workers wait for a "
                       "ready line, so interpreter start-up is not in it): " +
                       ", ".join("%.3f s" % t for t in tk))
    elif w == "W5":
        for r in rows:
            if r["tool"] == "spool":
                out.append("- round %s: spool alone %s kB; largest process "
                           "of the tree (GNU time %%M) %s kB"
                           % (r["round"], r["self_kb"], r["tree_kb"]))
        if meta.get("rss_method") == "sampled":
            out.append("- spool's own figure is VmHWM sampled every 1 ms "
                       "(ptrace was refused here, tests/bench/peakrss.c), so "
                       "a last spike may be missed; GNU time's %M is the "
                       "largest of spool and the workers it reaped.")
        else:
            out.append("- spool's own figure is VmHWM read at its exit "
                       "(ptrace exit stop, tests/bench/peakrss.c); GNU "
                       "time's %M is the largest of spool and the workers "
                       "it reaped, so it is not used for the target.")
    elif w == "W6":
        for t in ("spool", "parallel"):
            m, n = med(walls(rows, t)), tasks_of(rows, t)
            if m and n:
                out.append("- %s: %.4f s per task (median wall %.3f s / %d "
                           "tasks)" % (TOOL_NAMES[t], m / n, m, n))
    elif w == "W7":
        n = tasks_of(rows, "spool")
        for t in ("spool", "pingpong"):
            m = med(walls(rows, t))
            if m:
                out.append("- %s: %.1f us per round trip" %
                           (TOOL_NAMES[t], m / n * 1e6))
    return out


def read_ext(out_dir):
    """The external scripts' runs: workload -> dict(script, rc, elapsed,
    note, table), from ext.tsv and the W8.table ... files."""
    out = {}
    path = os.path.join(out_dir, "ext.tsv")
    if not os.path.exists(path):
        return out
    with open(path) as f:
        for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            table = ""
            tpath = os.path.join(out_dir, r["workload"] + ".table")
            if r["rc"] != "-" and os.path.exists(tpath):
                with open(tpath, errors="replace") as t:
                    table = t.read().strip("\n")
            out[r["workload"]] = dict(r, table=table)
    return out


def ext_verdict(e, wrong):
    if wrong:
        return "FAIL (wrong output or failed script)"
    if e["rc"] == "-":
        return "skipped: %s" % e["note"]
    if e["rc"] == "77":
        return "skipped by the script: %s" % (e["note"] or "no reason given")
    return "reported (the script's own table)"


def ext_section(w, e, wrong):
    """RESULTS.md lines for an external workload: its table as printed."""
    md = ["## %s: %s" % (w, WORKLOADS[w][0]), "",
          "Result: **%s**" % ext_verdict(e, wrong), ""]
    if e["rc"] == "-":
        md += ["The script is not there yet: run.sh runs tests/bench/%s.py "
               "(or .sh) when it is, and puts its table here." % w.lower(),
               ""]
        return md
    md += ["Command (paths relative to the repository root; the script "
           "measures and checks its own outputs): `%s`, %s s" %
           (e["script"], e["elapsed_s"]), ""]
    if e["table"]:
        if any(line.startswith("|") for line in e["table"].splitlines()):
            md += [e["table"], ""]
        else:
            md += ["```", e["table"], "```", ""]
    if wrong:
        md.append("- **FAILED**")
        md += ["  - %s" % msg for msg in wrong]
        md.append("")
    return md


def main(argv):
    out_dir, results_md, ratios_dat = argv[1], argv[2], argv[3]
    meta = read_meta(os.path.join(out_dir, "meta.txt"))
    rows = read_rows(os.path.join(out_dir, "results.tsv"))
    w11 = read_w11(os.path.join(out_dir, "w11.tsv"))
    ext = read_ext(out_dir)
    wrong = read_pairs(os.path.join(out_dir, "wrong.tsv"))
    cmds = read_pairs(os.path.join(out_dir, "commands.tsv"))
    rounds = int(meta.get("rounds", "3"))
    scale = int(meta.get("scale", "1"))
    order = sorted(set(rows) | set(ext), key=workload_key)

    all_metrics = []
    verdicts = {}
    for w in order:
        if w in ext:
            verdicts[w] = ext_verdict(ext[w], wrong.get(w))
            continue
        ms = metrics_for(w, rows[w], w11)
        all_metrics.extend((w, m) for m in ms)
        if wrong.get(w):
            verdicts[w] = "FAIL (wrong output or failed command)"
        elif any(m.met is False for m in ms):
            verdicts[w] = "FAIL"
        elif any(m.met is None and m.op for m in ms):
            verdicts[w] = "FAIL (no figure)"
        elif all(m.op is None for m in ms):
            verdicts[w] = "reported"
        else:
            verdicts[w] = "PASS"

    md = ["# spool benchmark results", ""]
    md.append("Written by `make bench` (`tests/bench/run.sh`); rewritten on "
              "every run.  Raw rows: `tests/bench/out/results.tsv`.")
    md.append("")
    if scale != 1 or rounds < 3:
        md.append("**Smoke run** (BENCH_SCALE=%d, BENCH_ROUNDS=%d): task "
                  "counts divided by %d; these figures check the harness, "
                  "they do not judge spool against its targets."
                  % (scale, rounds, scale))
        md.append("")
    md += [
        "- date: %s" % meta.get("date", "?"),
        "- CPU: %s; nproc %s; %s" % (meta.get("cpu", "?"),
                                    meta.get("nproc", "?"),
                                    meta.get("kernel", "?")),
        "- load average before / after: %s / %s" % (
            meta.get("load_before", "?"), meta.get("load_after", "?")),
        "- %s; %s; %s; %s" % (meta.get("spool", "?"),
                              meta.get("parallel", "?"), meta.get("jq", "?"),
                              meta.get("python", "?")),
        "- rounds: %d per workload, spool and its anchors alternating "
        "(A B A B ...); figures are medians over rounds" % rounds,
        "- scale: 1/%d; workloads: %s; run time %s s" % (
            scale, meta.get("only", "?"), meta.get("elapsed_s", "?")),
        "",
        "## Summary",
        "",
        "| workload | figure | value | target | result |",
        "|---|---|---:|---|---|",
    ]
    by_w = {}
    for w, m in all_metrics:
        by_w.setdefault(w, []).append(m)
    for w in order:
        if w in ext:
            md.append("| %s | its own table, below | - | - | %s |" % (
                w, verdicts[w]))
            continue
        for m in by_w.get(w, []):
            if m.op is None:
                result = "(reported)"
            elif wrong.get(w):
                result = "FAIL (wrong output)"
            else:
                result = {True: "PASS", False: "FAIL",
                          None: "FAIL (no figure)"}[m.met]
            md.append("| %s | %s | %s | %s | %s |" % (
                w, m.label, m.shown(), m.target_shown(), result))
    md += ["", "![each figure against its target](ratios.png)", ""]

    for w in order:
        if w in ext:
            md += ext_section(w, ext[w], wrong.get(w))
            continue
        desc, tools = WORKLOADS[w]
        md += ["## %s: %s" % (w, desc), "", "Result: **%s**" % verdicts[w],
               ""]
        if cmds.get(w):
            md.append("Commands (paths relative to the repository root):")
            md.append("")
            md.append("```")
            for tool, line in cmds[w]:
                md.append("%-9s %s" % (tool + ":", line))
            md.append("```")
            md.append("")
        md += per_round_table(rows[w], tools, rounds)
        md.append("")
        md += extra_lines(w, rows[w], meta, w11)
        for m in by_w.get(w, []):
            if m.op is None:
                md.append("- %s: %s (reported; no target)"
                          % (m.label, m.shown()))
            else:
                md.append("- %s: %s (target %s)" % (m.label, m.shown(),
                                                     m.target_shown()))
        if wrong.get(w):
            md.append("- output check: **FAILED**")
            md += ["  - %s" % msg for msg in wrong[w]]
        else:
            md.append("- output check: ok (every run: line count and "
                      "checksum equal to the expected output)")
        md.append("")

    with open(results_md + ".tmp", "w") as f:
        f.write("\n".join(md))
    os.replace(results_md + ".tmp", results_md)

    # Chart data: one bar per figure with a target, as the share of the
    # target used (<= 1 is met; for ">=" targets, target / value).
    with open(ratios_dat, "w") as f:
        f.write("# label score met text\n")
        for w, m in all_metrics:
            if m.score is None:
                continue
            met = 1 if m.met and not wrong.get(w) else 0
            text = "%s (%s)" % (m.shown(), m.target_shown())
            f.write('"%s" %.6f %d "%s"\n' % (
                m.label.replace('"', "'"), m.score, met, text))

    # W11's chart: spool's CPU per task by -j, median and range over
    # rounds, and the target where there is one.
    w11_dat = os.path.join(out_dir, "w11.dat")
    if os.path.exists(w11_dat):
        os.remove(w11_dat)
    figs = [f for f in w11_figures(rows.get("W11", []), w11) if f.cpu_us]
    if figs:
        with open(w11_dat, "w") as f:
            f.write("# j median_us min_us max_us target_us\n")
            for g in figs:
                f.write("%d %.6f %.6f %.6f %s\n" % (
                    g.j, med(g.cpu_us), min(g.cpu_us), max(g.cpu_us),
                    W11_CPU_TARGET.get(g.j, "NaN")))

    print("")
    print("bench summary%s:" % (" (smoke run, scale 1/%d)" % scale
                                if scale != 1 else ""))
    for w, m in all_metrics:
        print("  %-42s %12s  target %-12s %s" % (
            m.label, m.shown(), m.target_shown(),
            "WRONG OUTPUT" if wrong.get(w) else
            {True: "PASS", False: "FAIL", None: "-"}[m.met]))
    for w in order:
        if w in ext:
            print("  %-42s %s" % (w + " (external script)", verdicts[w]))
    if any(wrong.values()):
        return 1
    if any(v.startswith("FAIL") for v in verdicts.values()):
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
