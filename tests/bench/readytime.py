#!/usr/bin/env python3
"""readytime.py - run spool -v and time its start-up and its whole run (W11).

    readytime.py JSON_FILE COMMAND [ARG...]

COMMAND runs with this program's stdin and stdout.  Its stderr is read here
as it comes and copied to this program's stderr; each line in which spool -v
says a worker is ready ("spool: worker NAME (pid N) ready in ...") is
timestamped as it is read.  JSON_FILE then gets

    {"ready": N, "startup_s": S, "wall_s": W, "rc": RC}

N the ready lines seen, S the time from just before COMMAND is started to
the read of the last ready line, W the time from the same start to COMMAND's
exit (this program's own start-up is in neither).  A line is stamped after
spool wrote it and the pipe carried it, so S is an upper bound.

Exits with COMMAND's status (128+N for signal N).  SIGTERM and SIGINT are
passed on to COMMAND, as timeout(1) --foreground signals only this program.
"""
import json
import os
import re
import signal
import subprocess
import sys
import time

READY = re.compile(rb"^spool: worker .+ ready in ")


def main(argv):
    if len(argv) < 3:
        sys.stderr.write("usage: readytime.py JSON_FILE COMMAND [ARG...]\n")
        return 2
    out_file, cmd = argv[1], argv[2:]
    t0 = time.monotonic()
    try:
        child = subprocess.Popen(cmd, stderr=subprocess.PIPE)
    except OSError as e:
        sys.stderr.write("readytime.py: %s: %s\n" % (cmd[0], e.strerror))
        return 127

    def forward(signum, _frame):
        child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)

    fd = child.stderr.fileno()
    err = sys.stderr.buffer
    ready, last, tail = 0, None, b""
    while True:
        chunk = os.read(fd, 65536)
        now = time.monotonic()
        if not chunk:
            break
        err.write(chunk)
        lines = (tail + chunk).split(b"\n")
        tail = lines.pop()
        for line in lines:
            if READY.match(line):
                ready += 1
                last = now
    err.flush()
    rc = child.wait()
    wall = time.monotonic() - t0
    if rc < 0:
        rc = 128 - rc
    with open(out_file + ".tmp", "w") as f:
        json.dump({"ready": ready,
                   "startup_s": None if last is None else last - t0,
                   "wall_s": wall, "rc": rc}, f)
        f.write("\n")
    os.replace(out_file + ".tmp", out_file)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv))
