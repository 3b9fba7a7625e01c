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
it cannot corrupt the protocol: print(), sys.stdout, C extensions and child
processes writing to file descriptor 1 alike, from the moment run() is
called (print nothing to stdout before).  Python 3.8 or later.

The first message must be the spawn request.  When it is anything else,
the worker was started with spool's lines protocol, which would take its
JSON-RPC answers for task results: it says so on stderr and exits 2.

A worker that is faster on many tasks at once (a model's forward pass)
defines ``execute_batch(self, tasks)`` too, or instead of ``execute``: it
gets the tasks of a JSON-RPC batch (spool's "batch" option) and returns a
list of as many results.  An item that is an exception (``TaskError`` for a
chosen code and data) fails that task alone; an exception it raises fails
every task of the batch.  The default calls ``execute`` for each task; a
worker with only ``execute_batch`` gets single tasks as batches of one.

The answers to all the requests of one read of stdin go out in one write,
so pipelined requests cost one system call.  Between requests, answers
waiting longer than FLUSH_AFTER seconds (since the read or the last write)
go out at once, so a slow task does not hold back the answers before it
for longer than it takes.
"""

import itertools
import json
import os
import sys
import time
import traceback

__all__ = ["Worker", "run", "TaskError", "WorkerError"]

FLUSH_AFTER = 0.005
READ_SIZE = 1 << 20


class TaskError(Exception):
    """A task's failure with a chosen code and data.

    Raise it from ``execute``, or put it in the list ``execute_batch``
    returns, in the place of the task it fails:
    ``TaskError("no such user", code=404, data={"user": 7})``
    """

    def __init__(self, message, code=-32000, data=None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.data = data


WorkerError = TaskError  # its first name, kept for existing workers


class Worker:
    """Subclass and define ``spawn`` (optional) and ``execute`` or
    ``execute_batch`` (or both)."""

    def spawn(self, *args, **kwargs):
        """Set up once.  Receives the config's ``spawn`` value: an object
        as keyword arguments, an array as positional ones.  Returns the
        spawn result (any JSON value), reported by ``spool check``."""
        return None

    def execute(self, task):
        """Run one task (the decoded JSON value); return its result."""
        raise NotImplementedError("define execute(self, task) in your Worker")

    def execute_batch(self, tasks):
        """Run a batch of tasks (a list); return a list of as many
        results, in the same order.  An item that is an exception
        (a ``TaskError`` for a chosen code and data) fails that task
        alone; an exception raised fails every task of the batch.
        By default, ``execute`` for each task: a task whose execute
        raises fails alone, as it would unbatched."""
        execute = self.execute
        results = []
        for task in tasks:
            try:
                results.append(execute(task))
            except Exception as exc:
                # Formatted now: a kept exception would keep its frames,
                # and this list with them, alive until the cycle collector.
                results.append(_task_error(exc))
        return results


def _make_dumps():
    """Compact JSON text of a value; NaN and infinities refused (they are
    not JSON).  json.dumps builds a new encoder per call; on CPython the C
    encoder is built once here, which is over twice as fast per answer."""
    enc = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False,
                           allow_nan=False)
    slow = enc.encode
    try:
        from json.encoder import c_make_encoder, encode_basestring
        fast = c_make_encoder(None, enc.default, encode_basestring, None,
                              ":", ",", False, False, False)
        sample = {"a": [1, 2.5, None, True], "b": "\u00e9\"\n"}
        if "".join(fast(sample, 0)) != slow(sample):
            return slow
    except Exception:  # not CPython, or another signature
        return slow
    join = "".join

    def dumps(value):
        return join(fast(value, 0))
    return dumps


_dumps = _make_dumps()
_loads = json.loads
# A circular structure makes the C encoder recurse until RecursionError.
_NOT_JSON = (TypeError, ValueError, RecursionError, OverflowError)


def _error_obj(exc):
    if isinstance(exc, TaskError):
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


def _task_error(exc):
    if isinstance(exc, TaskError):
        return exc
    err = _error_obj(exc)
    return TaskError(err["message"], err["code"], err["data"])


def _id_text(msg_id):
    try:
        return _dumps(msg_id)
    except _NOT_JSON:
        return "null"


def _error(id_text, err):
    try:
        body = _dumps(err)
    except _NOT_JSON:
        code = err.get("code", -32000)
        if not isinstance(code, int) or isinstance(code, bool):
            code = -32000
        body = _dumps({"code": code, "message": str(err.get("message")),
                       "data": repr(err.get("data"))})
    return '{"jsonrpc":"2.0","id":' + id_text + ',"error":' + body + '}\n'


def _result(id_text, result):
    try:
        body = _dumps(result)
    except _NOT_JSON as exc:
        return _error(id_text, {"code": -32000, "message":
                                "result is not JSON: %s: %s"
                                % (type(exc).__name__, exc)})
    return '{"jsonrpc":"2.0","id":' + id_text + ',"result":' + body + '}\n'


class _Out:
    """The protocol channel: a private copy of the original stdout."""

    def __init__(self, fd):
        self.fd = fd
        self.parts = []

    def flush(self):
        if not self.parts:
            return
        # Lone surrogates (a task's "\ud800", echoed back) cannot be
        # UTF-8; they only occur inside JSON strings, where the escape
        # backslashreplace writes is the same JSON text.
        data = "".join(self.parts).encode("utf-8", "backslashreplace")
        self.parts.clear()
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]


def _protect_stdout():
    """Keep fd 1 for the protocol; point everything else at stderr."""
    try:
        sys.stdout.flush()
    except (AttributeError, ValueError, OSError):
        pass
    proto = os.dup(1)  # not inherited by child processes (PEP 446)
    os.dup2(2, 1)  # C code and child processes writing to fd 1 -> stderr
    sys.stdout = sys.stderr  # print() -> stderr
    return proto


def _reads(fd):
    """Yield the complete lines of each read of fd, as a list of str."""
    tail = b""
    while True:
        chunk = os.read(fd, READ_SIZE)
        if not chunk:
            if tail.strip():
                yield [tail.decode("utf-8", "surrogateescape")]
            return
        data = tail + chunk if tail else chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            tail = data
            continue
        tail = data[cut + 1:]
        # Cut at a newline, so never inside a UTF-8 sequence.
        yield data[:cut].decode("utf-8", "surrogateescape").split("\n")


_HEAD = '{"jsonrpc":"2.0","id":'
_EXECUTE = ',"method":"execute","params":['


def _make_fast_execute():
    """Parse spool's own execute framing without building the envelope:
    returns (id text, task) or None (then the general path decides)."""
    scan = json.JSONDecoder().scan_once
    head_n = len(_HEAD)
    exec_n = len(_EXECUTE)

    def parse(line):
        if not line.startswith(_HEAD):
            return None
        j = line.find(_EXECUTE, head_n)
        if j <= head_n or line[-2:] != "]}":
            return None
        id_text = line[head_n:j]
        if not (id_text.isascii() and id_text.isdigit()):
            return None
        try:
            task, end = scan(line, j + exec_n)
        except (StopIteration, ValueError):
            return None
        if end != len(line) - 2:
            return None
        return id_text, task
    return parse


_fast_execute = _make_fast_execute()


def _batch_answer(execute_batch, items):
    """The answer line to a JSON-RPC batch (a decoded array): an array of
    responses in request order, or "" when no item is owed one."""
    if not items:
        return _error("null", {"code": -32600, "message":
                               "invalid request: an empty batch"})
    answers = [None] * len(items)  # None: a notification, not answered
    slots = []  # (index, id text) of each task, in order
    tasks = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("method"),
                                                        str):
            answers[i] = _error("null", {"code": -32600, "message":
                                         "invalid request: item [%d] of the "
                                         "batch is not a request object" % i})
            continue
        if "id" not in item:
            continue
        id_text = _id_text(item["id"])
        method = item["method"]
        params = item.get("params")
        if method != "execute":
            answers[i] = _error(id_text, {"code": -32601, "message":
                                          "unknown method %r" % (method,)})
        elif not isinstance(params, list) or len(params) != 1:
            answers[i] = _error(id_text, {"code": -32602, "message":
                                          "execute takes params [TASK]"})
        else:
            slots.append((i, id_text))
            tasks.append(params[0])
    if tasks:
        try:
            results = execute_batch(tasks)
            if (not isinstance(results, (list, tuple)) or
                    len(results) != len(tasks)):
                raise TaskError("execute_batch returned %s for %d tasks: "
                                "it must return a list of one result per "
                                "task" % (_what(results), len(tasks)))
        except Exception as exc:
            err = _error_obj(exc)
            for i, id_text in slots:
                answers[i] = _error(id_text, err)
        else:
            for (i, id_text), result in zip(slots, results):
                if isinstance(result, Exception):
                    answers[i] = _error(id_text, _error_obj(result))
                else:
                    answers[i] = _result(id_text, result)
    # Each answer is a line: joined into one, without their newlines.
    parts = [a[:-1] for a in answers if a is not None]
    if not parts:
        return ""
    return "[" + ",".join(parts) + "]\n"


def _what(results):
    if isinstance(results, (list, tuple)):
        return "%d results" % len(results)
    return "a %s, not a list," % type(results).__name__


def _execute_via_batch(execute_batch):
    """execute for a worker that defines only execute_batch, so that it
    serves single requests too."""
    def execute(task):
        results = execute_batch([task])
        if not isinstance(results, (list, tuple)) or len(results) != 1:
            raise TaskError("execute_batch returned %s for 1 task: it "
                            "must return a list of one result per task"
                            % _what(results))
        if isinstance(results[0], Exception):
            raise results[0]
        return results[0]
    return execute


def _spawn(worker, params):
    if params is None:
        return worker.spawn()
    if isinstance(params, dict):
        return worker.spawn(**params)
    if isinstance(params, list):
        return worker.spawn(*params)
    return worker.spawn(params)


LINES_WORKER_MESSAGE = (
    "spool_worker: the first message is not a spawn request, so this worker "
    "was started as a lines worker; it speaks the spool protocol: set "
    "\"protocol\": \"spool\" in its pool config (or use -p spool with -c)\n")


def _spawn_request(line):
    """The decoded spawn request on this line, or None."""
    try:
        msg = _loads(line)
    except Exception:  # RecursionError too, when too deep
        return None
    if isinstance(msg, dict) and msg.get("method") == "spawn":
        return msg
    return None


def _serve_spawn(worker, reads, out):
    """Answer the first message, which must be spawn's.  Returns the lines
    of its read that came after it, or None at end of input."""
    for lines in reads:
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            msg = _spawn_request(line)
            if msg is None:
                # A lines worker's task: answering it with a JSON-RPC error
                # would pass for its result, so refuse to run at all.
                sys.stderr.write(LINES_WORKER_MESSAGE)
                sys.stderr.flush()
                sys.exit(2)
            id_text = _id_text(msg.get("id"))
            try:
                result = _spawn(worker, msg.get("params"))
            except Exception as exc:
                # The traceback first: spool ends the worker when it
                # reads the error, and reports its stderr tail.
                traceback.print_exc(file=sys.stderr)
                sys.stderr.flush()
                out.parts.append(_error(id_text, _error_obj(exc)))
                out.flush()
                sys.exit(1)
            out.parts.append(_result(id_text, result))
            out.flush()
            return lines[i + 1:]
    return None


def run(worker_cls, stdin_fd=0):
    """Serve the spool protocol until stdin closes."""
    out = _Out(_protect_stdout())
    worker = worker_cls()
    reads = _reads(stdin_fd)
    try:
        rest = _serve_spawn(worker, reads, out)
        if rest is not None:
            _serve(worker, itertools.chain((rest,), reads), out)
    except BrokenPipeError:
        # spool went away: nobody is left to answer.
        sys.exit(1)
    except KeyboardInterrupt:
        out.flush()


def _serve(worker, reads, out):
    """Answer requests after the spawn until the input ends."""
    execute = worker.execute
    execute_batch = worker.execute_batch
    cls = type(worker)
    if (cls.execute is Worker.execute and
            cls.execute_batch is not Worker.execute_batch):
        execute = _execute_via_batch(execute_batch)
    fast = _fast_execute
    add = out.parts.append
    monotonic = time.monotonic
    for lines in reads:
        # Answers go out at the end of the read, or as soon as
        # FLUSH_AFTER has passed since the read or the last write: a
        # slow task does not hold back the answers before it.
        mark = monotonic()
        for line in lines:
            got = fast(line)
            if got is not None:
                id_text, task = got
                try:
                    add(_result(id_text, execute(task)))
                except Exception as exc:
                    add(_error(id_text, _error_obj(exc)))
                now = monotonic()
                if now - mark >= FLUSH_AFTER:
                    out.flush()
                    mark = now
                continue
            if not line.strip():
                continue
            try:
                msg = _loads(line)
            except Exception as exc:  # RecursionError too, when too deep
                add(_error("null", {"code": -32700,
                                    "message": "bad request: %s" % exc}))
                continue
            if isinstance(msg, list):
                add(_batch_answer(execute_batch, msg))
                now = monotonic()
                if now - mark >= FLUSH_AFTER:
                    out.flush()
                    mark = now
                continue
            try:
                method = msg["method"]
                id_text = _id_text(msg["id"])
                params = msg.get("params")
            except Exception as exc:  # not a request spool would send
                add(_error("null", {"code": -32700,
                                    "message": "bad request: %s" % exc}))
                continue
            if method == "execute":
                try:
                    if not isinstance(params, list) or len(params) != 1:
                        raise TaskError("execute takes params [TASK]",
                                        code=-32602)
                    add(_result(id_text, execute(params[0])))
                except Exception as exc:
                    add(_error(id_text, _error_obj(exc)))
            else:
                # spawn included: it comes once, first.
                add(_error(id_text, {"code": -32601, "message":
                                     "unknown method %r" % (method,)}))
        out.flush()
