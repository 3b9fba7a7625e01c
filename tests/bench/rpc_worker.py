#!/usr/bin/env python3
"""W3's worker: spool protocol through the Python SDK, a trivial execute."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "workers", "python"))
import spool_worker  # noqa: E402


class Plus(spool_worker.Worker):
    def execute(self, task):
        return {"y": task["x"] + 1}


if __name__ == "__main__":
    spool_worker.run(Plus)
