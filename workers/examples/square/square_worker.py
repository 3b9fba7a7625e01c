#!/usr/bin/env python3
"""The square worker: spawned with gpu_ids, squares numbers.

Stands in for a model pinned to GPUs: spawn() gets its devices once,
execute() runs per task.  See pool.json beside this file."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
import spool_worker  # noqa: E402


class Square(spool_worker.Worker):
    def spawn(self, gpu_ids=()):
        self.gpu_ids = gpu_ids
        return {"gpu_ids": gpu_ids, "pid": os.getpid()}

    def execute(self, task):
        x = task["x"]
        if not isinstance(x, (int, float)):
            raise TypeError("x must be a number, got %r" % (x,))
        return {"x": x, "square": x * x, "gpus": self.gpu_ids}


if __name__ == "__main__":
    spool_worker.run(Square)
