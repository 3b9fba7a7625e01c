#!/usr/bin/env python3
"""The seed example's worker: started once per pool.spawn(gpu_ids=[...]),
it squares numbers.  It stands in for a model: spawn() claims its GPUs
(and would load the model onto them), execute() runs once per task."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "python"))
import spool_worker  # noqa: E402


class Square(spool_worker.Worker):
    def spawn(self, gpu_ids):
        self.gpu_ids = gpu_ids
        # Before any CUDA library is loaded, so this process sees only these.
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, gpu_ids))
        return {"gpu_ids": gpu_ids, "pid": os.getpid()}

    def execute(self, task):
        x = task["x"]
        if not isinstance(x, (int, float)):
            raise TypeError("x must be a number, got %r" % (x,))
        return {"x": x, "sq": x * x, "gpu_ids": self.gpu_ids}


if __name__ == "__main__":
    spool_worker.run(Square)
