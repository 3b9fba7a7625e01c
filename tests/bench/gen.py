#!/usr/bin/env python3
"""gen.py - benchmark inputs and their expected outputs.

    gen.py seq N FILE      N lines {"x":i}, i = 1..N
    gen.py sleep N FILE    N lines {"i":i,"ms":M}: M is 1 for 80% of the tasks,
                           80..160 for the rest (seeded, the same file each time)
    gen.py jq FILE         the expected output of jq -c '{sq:(.x*.x)}' on a seq file
    gen.py rpc FILE        the expected output of the W3 worker on a seq file
    gen.py ideal N FILE    sum of a sleep file's ms / N workers, in seconds

Files are written to FILE.tmp and renamed, so a run cut short never leaves a
half-written input behind to be reused.
"""
import json
import os
import random
import sys

CHUNK = 100000


def write(path, lines):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        for chunk in lines:
            f.write(chunk)
    os.replace(tmp, path)


def seq(n):
    for lo in range(1, n + 1, CHUNK):
        hi = min(n, lo + CHUNK - 1)
        yield "".join('{"x":%d}\n' % i for i in range(lo, hi + 1))


def sleeps(n):
    rnd = random.Random(20240401)
    out = []
    for i in range(1, n + 1):
        ms = 1 if rnd.random() < 0.8 else rnd.randint(80, 160)
        out.append('{"i":%d,"ms":%d}\n' % (i, ms))
    yield "".join(out)


def mapped(src, fmt):
    def gen():
        with open(src) as f:
            buf = []
            for line in f:
                x = json.loads(line)["x"]
                buf.append(fmt(x))
                if len(buf) >= CHUNK:
                    yield "".join(buf)
                    buf = []
            yield "".join(buf)
    return gen()


def main(argv):
    kind = argv[1]
    if kind == "seq":
        write(argv[3], seq(int(argv[2])))
    elif kind == "sleep":
        write(argv[3], sleeps(int(argv[2])))
    elif kind == "jq":
        for chunk in mapped(argv[2], lambda x: '{"sq":%d}\n' % (x * x)):
            sys.stdout.write(chunk)
    elif kind == "rpc":
        for chunk in mapped(argv[2], lambda x: '{"y":%d}\n' % (x + 1)):
            sys.stdout.write(chunk)
    elif kind == "ideal":
        with open(argv[3]) as f:
            total = sum(json.loads(line)["ms"] for line in f)
        print("%.6f" % (total / 1000.0 / int(argv[2])))
    else:
        sys.exit("gen.py: unknown kind %r" % kind)


if __name__ == "__main__":
    main(sys.argv)
