#!/usr/bin/env python3
"""The model worker: slow to spawn, fast to serve.

spawn() stands in for loading a model onto a device: it takes about a
second (load_s), once per worker process.  execute() is then cheap: a fake
sentiment "inference" over the task's text.  Run it with the pool.json
beside this file:

    spool check -w pool.json           # each worker loads once
    spool run -k -w pool.json tasks.ndjson
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
import spool_worker  # noqa: E402

POSITIVE = {"good", "great", "love", "fast", "happy", "nice", "excellent"}
NEGATIVE = {"bad", "slow", "hate", "broken", "sad", "awful", "terrible"}


class Model(spool_worker.Worker):
    def spawn(self, model, load_s=1.0):
        start = time.monotonic()
        print("loading %s on device %s..." % (model, os.environ.get("CUDA_VISIBLE_DEVICES", "cpu")))
        time.sleep(load_s)  # the expensive part, done once per worker
        self.model = model
        self.weights = {w: 1.0 for w in POSITIVE}
        self.weights.update({w: -1.0 for w in NEGATIVE})
        return {"model": model, "load_s": round(time.monotonic() - start, 3)}

    def execute(self, task):
        text = task["text"]
        if not isinstance(text, str):
            raise spool_worker.TaskError("text must be a string", code=-32602,
                                         data={"text": text})
        return self.infer(task, text)

    def infer(self, task, text):
        words = [w.strip(".,!?").lower() for w in text.split()]
        score = sum(self.weights.get(w, 0.0) for w in words)
        label = "positive" if score > 0 else "negative" if score < 0 else "neutral"
        return {"id": task.get("id"), "label": label, "score": score, "model": self.model}


if __name__ == "__main__":
    spool_worker.run(Model)
