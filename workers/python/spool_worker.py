"""spool_worker - write a stateful spool worker in Python (standard library only).

A worker is spawned once, does its expensive setup in ``spawn`` (load a
model, open a database), then runs many tasks in ``execute``::

    import spool_worker

    class Square(spool_worker.Worker):
        def spawn(self, gpu_ids):
            self.gpus = gpu_ids
            return {"gpus": gpu_ids}          # the spawn result spool reports

        def execute(self, task):
            return {"x": task["x"], "sq": task["x"] ** 2}

    if __name__ == "__main__":
        spool_worker.run(Square)

The worker speaks spool's protocol (JSON-RPC 2.0, one message per line, see
spool-protocol(7)) on its stdin and stdout.  An exception in ``execute``
fails that task only (an error answer with its type, message and traceback);
an exception in ``spawn`` answers the spawn with an error and exits 1.
Anything the worker's own code prints to stdout goes to stderr instead, so
it cannot corrupt the protocol.  Python 3.8 or later.
"""

import json
import os
import sys
import time
import traceback

__all__ = ["Worker", "run", "WorkerError"]

# Answers are written in batches: all the tasks of one read, or sooner
# when this many seconds have passed since the first unwritten answer.
FLUSH_AFTER = 0.005
READ_SIZE = 1 << 20


class WorkerError(Exception):
    """Raise to fail a task with a chosen code and data.

    ``WorkerError("no such user", code=404, data={"user": 7})``
    """

    def __init__(self, message, code=-32000, data=None):
        super().__init__(message)
        self.code = code
        self.data = data


class Worker:
    """Subclass and define ``spawn`` (optional) and ``execute``."""

    def spawn(self, *args, **kwargs):
        """Set up once.  Receives the config's ``spawn`` value: an object
        as keyword arguments, an array as positional ones.  Returns the
        spawn result (any JSON value), reported by ``spool check``."""
        return None

    def execute(self, task):
        """Run one task (the decoded JSON value); return its result."""
        raise NotImplementedError("define execute(self, task) in your Worker")


_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _error_obj(exc):
    if isinstance(exc, WorkerError):
        code, data = exc.code, exc.data
        message = str(exc)
    else:
        code = -32000
        message = "%s: %s" % (type(exc).__name__, exc)
        data = {
            "type": type(exc).__name__,
            "message": str(exc),
            "traceback": "".join(
                traceback.format_exception(type(exc), exc, exc.__traceback__)
            ),
        }
    err = {"code": code, "message": message}
    if data is not None:
        err["data"] = data
    return err


def _answer(msg_id, result):
    try:
        body = _dumps(result)
    except (TypeError, ValueError) as exc:
        return _error(msg_id, {"code": -32000,
                               "message": "result is not JSON: %s" % exc})
    return '{"jsonrpc":"2.0","id":%s,"result":%s}\n' % (_dumps(msg_id), body)


def _error(msg_id, err):
    try:
        body = _dumps(err)
    except (TypeError, ValueError):
        err = {"code": err.get("code", -32000), "message": str(err.get("message"))}
        body = _dumps(err)
    return '{"jsonrpc":"2.0","id":%s,"error":%s}\n' % (_dumps(msg_id), body)


class _Out:
    """The protocol channel: a private copy of the original stdout."""

    def __init__(self, fd):
        self.fd = fd
        self.parts = []
        self.since = 0.0

    def add(self, text):
        if not self.parts:
            self.since = time.monotonic()
        self.parts.append(text)

    def due(self):
        return self.parts and time.monotonic() - self.since >= FLUSH_AFTER

    def flush(self):
        if not self.parts:
            return
        data = "".join(self.parts).encode("utf-8", "surrogateescape")
        self.parts = []
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]


def _protect_stdout():
    """Keep fd 1 for the protocol; point everything else at stderr."""
    sys.stdout.flush()
    proto = os.dup(1)
    os.dup2(2, 1)  # C code and child processes writing to fd 1 -> stderr
    sys.stdout = sys.stderr  # print() -> stderr
    return proto


def _lines(fd):
    """Yield batches of complete lines read from fd."""
    tail = b""
    while True:
        chunk = os.read(fd, READ_SIZE)
        if not chunk:
            if tail.strip():
                yield [tail]
            return
        data = tail + chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            tail = data
            continue
        tail = data[cut + 1:]
        yield data[:cut].split(b"\n")


def run(worker_cls, stdin_fd=0):
    """Serve the spool protocol until stdin closes."""
    out = _Out(_protect_stdout())
    worker = worker_cls()
    execute = worker.execute
    loads = json.loads
    spawned = False
    try:
        for batch in _lines(stdin_fd):
            for line in batch:
                if not line.strip():
                    continue
                try:
                    msg = loads(line)
                    method = msg["method"]
                    msg_id = msg["id"]
                    params = msg.get("params", [])
                except Exception as exc:  # not a request spool would send
                    out.add(_error(None, {"code": -32700,
                                          "message": "bad request: %s" % exc}))
                    continue
                if method == "execute":
                    try:
                        out.add(_answer(msg_id, execute(params[0])))
                    except Exception as exc:
                        out.add(_error(msg_id, _error_obj(exc)))
                    if out.due():
                        out.flush()
                elif method == "spawn" and not spawned:
                    spawned = True
                    try:
                        if isinstance(params, dict):
                            result = worker.spawn(**params)
                        else:
                            result = worker.spawn(*params)
                    except Exception as exc:
                        out.add(_error(msg_id, _error_obj(exc)))
                        out.flush()
                        traceback.print_exc(file=sys.stderr)
                        sys.exit(1)
                    out.add(_answer(msg_id, result))
                    out.flush()
                else:
                    out.add(_error(msg_id, {"code": -32601,
                                            "message": "unknown method %r" % (method,)}))
            out.flush()
    except KeyboardInterrupt:
        pass
    finally:
        out.flush()
