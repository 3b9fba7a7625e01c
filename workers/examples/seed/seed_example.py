#!/usr/bin/env python3
"""What the seed library's users do, with spool_client: start a pool, spawn
a worker per pair of GPUs, then call it from threads, map over many tasks,
and await it from asyncio.

    python3 workers/examples/seed/seed_example.py

spool is $SPOOL, else `spool` on PATH (make builds build/spool:
SPOOL=build/spool)."""
import asyncio
import os
import sys
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
import spool_client  # noqa: E402


def tasks(n):
    for x in range(n):
        yield {"x": x}


async def squares_async(pool, xs):
    results = await asyncio.gather(*(pool.async_execute({"x": x})
                                     for x in xs))
    return [r["sq"] for r in results]


def main():
    worker = os.path.join(HERE, "square_worker.py")
    with spool_client.Pool(cmd=[sys.executable, worker]) as pool:
        print("spawned:", pool.spawn(gpu_ids=[0, 1]))
        print("spawned:", pool.spawn(gpu_ids=[2, 3]))

        print("execute:", pool.execute({"x": 3})["sq"])

        with ThreadPoolExecutor(max_workers=8) as threads:
            squares = threads.map(lambda x: pool.execute({"x": x})["sq"],
                                  range(10))
            print("threads:", *squares)

        total = 0
        first = []
        for r in pool.map(tasks(10000)):  # in order, bounded memory
            total += r["sq"]
            if len(first) < 5:
                first.append(r["sq"])
        print("map:", *first, "... sum", total)

        print("async:", *asyncio.run(squares_async(pool, [7, 8])))

        try:
            pool.execute({"x": "four"})
        except spool_client.TaskError as e:
            print("failed:", e, "(on worker %s)" % e.worker)

        print("stats:", pool.stats()["tasks"])


if __name__ == "__main__":
    main()
