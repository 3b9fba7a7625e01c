"""Tests for spool_worker: drive real worker processes through stdin/stdout.

Run with:  python3 -m unittest discover -s workers/python -p 'test_*.py'
"""

import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TIMEOUT = 20.0


def spawn_req(params=None, msg_id=0):
    msg = {"jsonrpc": "2.0", "id": msg_id, "method": "spawn"}
    if params is not None:
        msg["params"] = params
    return json.dumps(msg, separators=(",", ":"))


def exec_req(msg_id, task):
    """The request exactly as spool frames it."""
    return ('{"jsonrpc":"2.0","id":%d,"method":"execute","params":[%s]}'
            % (msg_id, json.dumps(task, separators=(",", ":"))))


def batch_req(first_id, tasks):
    """A JSON-RPC batch of execute requests, ids from first_id, as spool
    frames it: one line."""
    return "[" + ",".join(exec_req(first_id + i, t)
                          for i, t in enumerate(tasks)) + "]"


def by_id(answers):
    """A batch's answers keyed by id (any order is allowed)."""
    got = {}
    for msg in answers:
        if msg["id"] in got:
            raise AssertionError("id %r answered twice" % (msg["id"],))
        got[msg["id"]] = msg
    return got


class Proc:
    """A worker process, its stdin open until close()."""

    def __init__(self, path):
        env = dict(os.environ)
        env["PYTHONPATH"] = HERE + os.pathsep + env.get("PYTHONPATH", "")
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        self.errpath = path + ".stderr"
        self.err = open(self.errpath, "wb")
        self.p = subprocess.Popen([sys.executable, path], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=self.err,
                                  env=env)
        self.buf = b""
        self.writer = None

    def send(self, *lines, close=False):
        """Write lines to its stdin from a thread, so that a batch larger
        than the pipes cannot deadlock against unread answers; wait for
        the write to finish only while reading (see line())."""
        self.write(("".join(l + "\n" for l in lines)).encode(), close)

    def write(self, data, close=False):
        self.join_writer()

        def feed():
            try:
                self.p.stdin.write(data)
                self.p.stdin.flush()
                if close:
                    self.p.stdin.close()
            except (BrokenPipeError, ValueError):
                pass
        self.writer = threading.Thread(target=feed, daemon=True)
        self.writer.start()

    def join_writer(self):
        if self.writer is not None:
            self.writer.join(TIMEOUT)
            self.writer = None

    def close(self):
        self.join_writer()
        if not self.p.stdin.closed:
            self.p.stdin.close()

    def line(self, timeout=TIMEOUT):
        """The next stdout line, waiting at most timeout seconds."""
        deadline = time.monotonic() + timeout
        fd = self.p.stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no answer within %gs; stderr: %s"
                                     % (timeout, self.stderr()))
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                raise AssertionError("worker closed stdout; stderr: %s"
                                     % self.stderr())
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.decode()

    def expect_eof(self, timeout=TIMEOUT):
        """Assert that stdout ends (nothing more) within timeout."""
        fd = self.p.stdout.fileno()
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            raise AssertionError("stdout still open after %gs" % timeout)
        self.assertEmpty(os.read(fd, 65536))

    @staticmethod
    def assertEmpty(data):
        if data:
            raise AssertionError("unexpected output: %r" % data[:200])

    def answer(self, timeout=TIMEOUT):
        text = self.line(timeout)
        msg = json.loads(text)
        return msg

    def rest(self):
        """Close stdin (once what is being written is written), read
        stdout to its end and wait for the exit; the remaining bytes."""
        writer = self.writer

        def closer():
            if writer is not None:
                writer.join()
            try:
                self.p.stdin.close()
            except (BrokenPipeError, ValueError):
                pass
        self.writer = threading.Thread(target=closer, daemon=True)
        self.writer.start()
        out = self.buf + self.p.stdout.read()
        self.buf = b""
        self.join_writer()
        self.p.wait(TIMEOUT)
        return out

    def stderr(self):
        self.err.flush()
        with open(self.errpath, "rb") as f:
            return f.read().decode(errors="replace")

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()
        if self.writer is not None:
            self.writer.join(TIMEOUT)
        self.p.stdout.close()
        self.err.close()
        if not self.p.stdin.closed:
            try:
                self.p.stdin.close()
            except BrokenPipeError:
                pass


HEADER = "import os, subprocess, sys, spool_worker\n"


class WorkerTest(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="spool_worker_test.")
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            p.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def worker(self, body):
        """Start a worker whose module text is HEADER + body (dedented);
        the body defines class W and ends by serving it."""
        path = os.path.join(self.dir, "w%d.py" % len(self.procs))
        with open(path, "w") as f:
            f.write(HEADER + textwrap.dedent(body) +
                    "\nspool_worker.run(W)\n")
        p = Proc(path)
        self.procs.append(p)
        return p

    ECHO = """
        class W(spool_worker.Worker):
            def spawn(self, *args, **kwargs):
                self.args = args
                self.kwargs = kwargs
                return {"args": list(args), "kwargs": kwargs}

            def execute(self, task):
                return {"task": task, "pid": os.getpid()}
        """

    # -- spawn ------------------------------------------------------------

    def test_spawn_keyword_params(self):
        p = self.worker("""
            class W(spool_worker.Worker):
                def spawn(self, gpu_ids, model="small"):
                    self.gpu_ids = gpu_ids
                    return {"gpu_ids": gpu_ids, "model": model}

                def execute(self, task):
                    return self.gpu_ids
            """)
        p.send(spawn_req({"gpu_ids": [0, 1]}))
        self.assertEqual(p.line(),
                         '{"jsonrpc":"2.0","id":0,"result":'
                         '{"gpu_ids":[0,1],"model":"small"}}')
        p.send(exec_req(1, {}))
        self.assertEqual(p.answer(), {"jsonrpc": "2.0", "id": 1,
                                      "result": [0, 1]})

    def test_spawn_positional_params(self):
        p = self.worker("""
            class W(spool_worker.Worker):
                def spawn(self, model, size):
                    return "%s/%d" % (model, size)

                def execute(self, task):
                    return task
            """)
        p.send(spawn_req(["big", 7]))
        self.assertEqual(p.answer(), {"jsonrpc": "2.0", "id": 0,
                                      "result": "big/7"})

    def test_spawn_empty_and_absent_params(self):
        p = self.worker(self.ECHO)
        p.send(spawn_req({}))
        self.assertEqual(p.answer()["result"], {"args": [], "kwargs": {}})
        q = self.worker(self.ECHO)
        q.send('{"jsonrpc":"2.0","id":0,"method":"spawn"}')
        self.assertEqual(q.answer()["result"], {"args": [], "kwargs": {}})

    def test_default_spawn_returns_null(self):
        p = self.worker("""
            class W(spool_worker.Worker):
                def execute(self, task):
                    return task
            """)
        p.send(spawn_req({}))
        self.assertEqual(p.line(), '{"jsonrpc":"2.0","id":0,"result":null}')

    def test_spawn_exception_answers_error_and_exits_1(self):
        p = self.worker("""
            class W(spool_worker.Worker):
                def spawn(self, path):
                    raise FileNotFoundError("no model at " + path)

                def execute(self, task):
                    return task
            """)
        p.send(spawn_req({"path": "/nonexistent"}))
        msg = p.answer()
        self.assertEqual(msg["id"], 0)
        self.assertNotIn("result", msg)
        err = msg["error"]
        self.assertIn("no model at /nonexistent", err["message"])
        self.assertEqual(err["data"]["type"], "FileNotFoundError")
        self.assertIn("raise FileNotFoundError", err["data"]["traceback"])
        self.assertEqual(p.p.wait(TIMEOUT), 1)
        self.assertEqual(p.rest(), b"")
        self.assertIn("FileNotFoundError", p.stderr())

    def test_spawn_with_wrong_arguments_is_an_error(self):
        p = self.worker("""
            class W(spool_worker.Worker):
                def spawn(self, gpu_ids):
                    return gpu_ids

                def execute(self, task):
                    return task
            """)
        p.send(spawn_req({"gpus": [0]}))
        err = p.answer()["error"]
        self.assertEqual(err["data"]["type"], "TypeError")
        self.assertEqual(p.p.wait(TIMEOUT), 1)

    def test_started_as_a_lines_worker_exits_2_with_a_message(self):
        # A lines worker is sent its tasks as they are: the first message
        # is a task, not spawn.  Whatever it is, nothing is answered.
        firsts = ['{"x":3}', "plain text", exec_req(1, {"x": 3}), "[]",
                  '{"jsonrpc":"2.0","id":0,"method":"execute"}']
        for first in firsts:
            p = self.worker(self.ECHO)
            p.send("", first, spawn_req({}), exec_req(2, 2))
            self.assertEqual(p.rest(), b"", first)
            self.assertEqual(p.p.returncode, 2, first)
            err = p.stderr()
            self.assertIn("the first message is not a spawn request", err)
            self.assertIn('set "protocol": "spool" in its pool config', err)
            self.assertEqual(err.count("\n"), 1, err)

    def test_blank_lines_before_spawn_are_skipped(self):
        p = self.worker(self.ECHO)
        p.send("", "  ", spawn_req({"a": 1}), exec_req(1, 1))
        self.assertEqual(p.answer()["result"]["kwargs"], {"a": 1})
        self.assertEqual(p.answer()["result"]["task"], 1)
        self.assertEqual(p.rest(), b"")
        self.assertEqual(p.p.returncode, 0)

    # -- execute ----------------------------------------------------------

    def test_execute_result(self):
        p = self.worker(self.ECHO)
        p.send(spawn_req({}), exec_req(1, {"x": 1, "s": "\u00e9\u4e2d"}))
        p.answer()
        line = p.line()
        self.assertNotIn(" ", line)
        msg = json.loads(line)
        self.assertEqual(msg["id"], 1)
        self.assertEqual(msg["result"]["task"], {"x": 1, "s": "\u00e9\u4e2d"})
        self.assertEqual(msg["result"]["pid"], p.p.pid)
        self.assertEqual(p.rest(), b"")
        self.assertEqual(p.p.returncode, 0)

    def test_execute_any_json_value(self):
        p = self.worker(self.ECHO)
        p.send(spawn_req({}))
        p.answer()
        tasks = [None, True, 0, -1.5, "s", [], {}, [1, [2, {"a": None}]],
                 1e300, 12345678901234567890]
        for i, t in enumerate(tasks, 1):
            p.send(exec_req(i, t))
        for i, t in enumerate(tasks, 1):
            msg = p.answer()
            self.assertEqual((msg["id"], msg["result"]["task"]), (i, t))

    def test_exception_becomes_error_answer(self):
        p = self.worker("""
            class W(spool_worker.Worker):
                def execute(self, task):
                    if task["x"] == 2:
                        return {"bad": 1 / 0}
                    return task["x"]
            """)
        p.send(spawn_req({}), exec_req(1, {"x": 1}), exec_req(2, {"x": 2}),
               exec_req(3, {"x": 3}))
        p.answer()
        self.assertEqual(p.answer()["result"], 1)
        msg = p.answer()
        self.assertEqual(msg["id"], 2)
        self.assertNotIn("result", msg)
        err = msg["error"]
        self.assertEqual(err["code"], -32000)
        self.assertEqual(err["message"], "ZeroDivisionError: division by zero")
        self.assertEqual(err["data"]["type"], "ZeroDivisionError")
        self.assertEqual(err["data"]["message"], "division by zero")
        self.assertIn("Traceback (most recent call last)",
                      err["data"]["traceback"])
        self.assertIn("1 / 0", err["data"]["traceback"])
        # The worker goes on.
        self.assertEqual(p.answer(), {"jsonrpc": "2.0", "id": 3, "result": 3})

    def test_worker_error_code_and_data(self):
        p = self.worker("""
            class W(spool_worker.Worker):
                def execute(self, task):
                    if task.get("plain"):
                        raise spool_worker.WorkerError("plain")
                    raise spool_worker.WorkerError(
                        "no such user", code=404, data={"user": task["u"]})
            """)
        p.send(spawn_req({}), exec_req(5, {"u": 7}), exec_req(6, {"plain": 1}))
        p.answer()
        self.assertEqual(p.line(), '{"jsonrpc":"2.0","id":5,"error":'
                         '{"code":404,"message":"no such user",'
                         '"data":{"user":7}}}')
        self.assertEqual(p.answer()["error"],
                         {"code": -32000, "message": "plain"})

    def test_worker_error_with_non_json_data(self):
        p = self.worker("""
            class W(spool_worker.Worker):
                def execute(self, task):
                    raise spool_worker.WorkerError("odd", code=3,
                                                   data={"o": object()})
            """)
        p.send(spawn_req({}), exec_req(1, {}))
        p.answer()
        err = p.answer()["error"]
        self.assertEqual((err["code"], err["message"]), (3, "odd"))
        self.assertIn("object", err["data"])

    def test_non_json_result_fails_the_task_only(self):
        p = self.worker("""
            class W(spool_worker.Worker):
                def execute(self, task):
                    kind = task["kind"]
                    if kind == "object":
                        return {"o": object()}
                    if kind == "nan":
                        return float("nan")
                    if kind == "inf":
                        return [float("inf")]
                    if kind == "circular":
                        a = []
                        a.append(a)
                        return a
                    if kind == "key":
                        return {(1, 2): 3}
                    return "fine"
            """)
        kinds = ["object", "nan", "inf", "circular", "key", "ok"]
        p.send(spawn_req({}),
               *[exec_req(i, {"kind": k}) for i, k in enumerate(kinds, 1)])
        p.answer()
        for i, k in enumerate(kinds, 1):
            line = p.line()
            msg = json.loads(line)  # always valid JSON: no NaN, no Infinity
            self.assertEqual(msg["id"], i)
            if k == "ok":
                self.assertEqual(msg["result"], "fine")
            else:
                self.assertNotIn("result", msg, k)
                self.assertIn("result is not JSON", msg["error"]["message"])

    def test_lone_surrogate_is_escaped_not_fatal(self):
        p = self.worker(self.ECHO)
        p.send(spawn_req({}),
               '{"jsonrpc":"2.0","id":1,"method":"execute","params":'
               '[{"s":"\\ud800"}]}', exec_req(2, 2))
        p.answer()
        raw = p.line()
        raw.encode("utf-8")  # valid UTF-8
        self.assertEqual(json.loads(raw)["result"]["task"], {"s": "\ud800"})
        self.assertEqual(p.answer()["result"]["task"], 2)

    def test_unknown_method(self):
        p = self.worker(self.ECHO)
        p.send(spawn_req({}),
               '{"jsonrpc":"2.0","id":9,"method":"frobnicate","params":[]}',
               exec_req(10, 1))
        p.answer()
        msg = p.answer()
        self.assertEqual(msg["id"], 9)
        self.assertEqual(msg["error"]["code"], -32601)
        self.assertIn("frobnicate", msg["error"]["message"])
        self.assertEqual(p.answer()["id"], 10)

    def test_second_spawn_is_refused(self):
        p = self.worker(self.ECHO)
        p.send(spawn_req({"a": 1}), spawn_req({"a": 2}, msg_id=5))
        self.assertEqual(p.answer()["result"]["kwargs"], {"a": 1})
        self.assertEqual(p.answer()["error"]["code"], -32601)

    def test_bad_requests(self):
        p = self.worker(self.ECHO)
        p.send(spawn_req({}), "not json", '"a string"',
               '{"jsonrpc":"2.0","id":3,"method":"execute","params":{"x":1}}',
               '{"jsonrpc":"2.0","id":4,"method":"execute","params":[1,2]}',
               "", "   ", exec_req(5, 5))
        p.answer()
        for _ in range(2):
            msg = p.answer()
            self.assertIsNone(msg["id"])
            self.assertEqual(msg["error"]["code"], -32700)
        for want in (3, 4):
            msg = p.answer()
            self.assertEqual((msg["id"], msg["error"]["code"]), (want, -32602))
        self.assertEqual(p.answer()["id"], 5)  # blank lines: no answer

    def test_string_ids_and_spacing_are_accepted(self):
        p = self.worker(self.ECHO)
        p.send(spawn_req({}),
               '{ "id": "a", "jsonrpc": "2.0", "method": "execute", '
               '"params": [ {"x": 1} ] }')
        p.answer()
        self.assertEqual(p.line(), '{"jsonrpc":"2.0","id":"a","result":'
                         '{"task":{"x":1},"pid":%d}}' % p.p.pid)

    def test_last_line_without_newline(self):
        p = self.worker(self.ECHO)
        p.write((spawn_req({}) + "\n" + exec_req(1, 1)).encode(), close=True)
        out = p.rest().decode().splitlines()
        self.assertEqual([json.loads(l)["id"] for l in out], [0, 1])

    # -- JSON-RPC batches -------------------------------------------------

    BATCHED = """
        class W(spool_worker.Worker):
            def spawn(self):
                self.calls = []

            def execute_batch(self, tasks):
                self.calls.append(len(tasks))
                first = tasks[0]
                mode = first.get("mode") if isinstance(first, dict) else None
                if mode == "raise":
                    raise KeyError("the whole batch")
                if mode == "short":
                    return [1] * (len(tasks) - 1)
                if mode == "notlist":
                    return {"a": 1}
                if mode == "taskerror":
                    raise spool_worker.TaskError("all of it", code=7, data=[1])
                out = []
                for t in tasks:
                    if t.get("fail"):
                        out.append(spool_worker.TaskError(
                            t["fail"], code=422, data={"t": t}))
                    elif t.get("exc"):
                        try:
                            1 / 0
                        except ZeroDivisionError as exc:
                            out.append(exc)
                    elif t.get("nan"):
                        out.append(float("nan"))
                    else:
                        out.append({"x": t["x"], "calls": list(self.calls)})
                return out
        """

    def batch(self, p, first_id, tasks):
        """Send one batch; its answers, keyed by id, after checking that
        they came as one line holding an array, one per request."""
        p.send(batch_req(first_id, tasks))
        line = p.line()
        answers = json.loads(line)
        self.assertIsInstance(answers, list, line)
        self.assertNotIn("\n", line)
        got = by_id(answers)
        self.assertEqual(sorted(got), list(range(first_id,
                                                 first_id + len(tasks))))
        for msg in answers:
            self.assertEqual(msg["jsonrpc"], "2.0")
            self.assertEqual(len([k for k in ("result", "error")
                                  if k in msg]), 1, msg)
        return got

    def test_batch_in_array_out(self):
        p = self.worker(self.BATCHED)
        p.send(spawn_req())
        p.answer()
        got = self.batch(p, 5, [{"x": i} for i in range(5, 9)])
        for i in range(5, 9):
            self.assertEqual(got[i]["result"], {"x": i, "calls": [4]})
        got = self.batch(p, 9, [{"x": 9}, {"x": 10}])
        self.assertEqual(got[10]["result"], {"x": 10, "calls": [4, 2]})
        # Single requests still come one line each.
        p.send(exec_req(11, {"x": 11}))
        self.assertEqual(p.answer()["result"], {"x": 11, "calls": [4, 2, 1]})
        self.assertEqual(p.rest(), b"")
        self.assertEqual(p.p.returncode, 0)

    def test_batch_answers_matched_by_id_not_position(self):
        p = self.worker(self.BATCHED)
        p.send(spawn_req())
        p.answer()
        ids = [42, 7, 1000, 3]
        p.send("[" + ",".join(exec_req(i, {"x": i}) for i in ids) + "]")
        got = by_id(json.loads(p.line()))
        self.assertEqual(sorted(got), sorted(ids))
        for i in ids:
            self.assertEqual(got[i]["result"]["x"], i)

    def test_batch_task_error_item_fails_that_task_alone(self):
        p = self.worker(self.BATCHED)
        p.send(spawn_req())
        p.answer()
        got = self.batch(p, 1, [{"x": 1}, {"fail": "bad row"}, {"x": 3},
                                {"exc": 1}, {"nan": 1}, {"x": 6}])
        for i in (1, 3, 6):
            self.assertEqual(got[i]["result"]["x"], i)
        self.assertEqual(got[2]["error"], {"code": 422, "message": "bad row",
                                           "data": {"t": {"fail": "bad row"}}})
        err = got[4]["error"]
        self.assertEqual(err["code"], -32000)
        self.assertEqual(err["data"]["type"], "ZeroDivisionError")
        self.assertIn("1 / 0", err["data"]["traceback"])
        self.assertIn("result is not JSON", got[5]["error"]["message"])

    def test_batch_exception_fails_every_task(self):
        p = self.worker(self.BATCHED)
        p.send(spawn_req())
        p.answer()
        got = self.batch(p, 1, [{"mode": "raise"}, {"x": 2}, {"x": 3}])
        for i in (1, 2, 3):
            err = got[i]["error"]
            self.assertEqual(err["code"], -32000)
            self.assertEqual(err["message"], "KeyError: 'the whole batch'")
            self.assertEqual(err["data"]["type"], "KeyError")
            self.assertIn('raise KeyError("the whole batch")',
                          err["data"]["traceback"])
        got = self.batch(p, 4, [{"mode": "taskerror"}, {"x": 5}])
        for i in (4, 5):
            self.assertEqual(got[i]["error"],
                             {"code": 7, "message": "all of it", "data": [1]})
        # The worker goes on.
        got = self.batch(p, 6, [{"x": 6}])
        self.assertEqual(got[6]["result"]["x"], 6)

    def test_batch_of_the_wrong_length_fails_every_task(self):
        p = self.worker(self.BATCHED)
        p.send(spawn_req())
        p.answer()
        got = self.batch(p, 1, [{"mode": "short"}, {"x": 2}, {"x": 3}])
        for i in (1, 2, 3):
            self.assertEqual(got[i]["error"]["message"],
                             "execute_batch returned 2 results for 3 tasks: "
                             "it must return a list of one result per task")
        got = self.batch(p, 4, [{"mode": "notlist"}, {"x": 5}])
        for i in (4, 5):
            self.assertIn("returned a dict, not a list,",
                          got[i]["error"]["message"])
        got = self.batch(p, 6, [{"x": 6}])
        self.assertEqual(got[6]["result"]["x"], 6)

    def test_default_execute_batch_behaves_as_unbatched(self):
        body = """
            class W(spool_worker.Worker):
                def execute(self, task):
                    if task == 2:
                        raise ValueError("two")
                    if task == 3:
                        raise spool_worker.WorkerError("three", code=3,
                                                       data="d")
                    return task * 10
            """
        tasks = [1, 2, 3, 4]
        single = self.worker(body)
        single.send(spawn_req(), *[exec_req(i, t)
                                   for i, t in enumerate(tasks, 1)])
        single.answer()
        want = [single.answer() for _ in tasks]
        batched = self.worker(body)
        batched.send(spawn_req())
        batched.answer()
        got = self.batch(batched, 1, tasks)

        def user_frames(msg):
            # The SDK's own frames differ; the user's code is the tail.
            err = msg.get("error", {}).get("data")
            if isinstance(err, dict):
                tb = err.pop("traceback")
                err["tail"] = tb[tb.index('in execute\n'):]
            return msg
        for msg in want:
            self.assertEqual(user_frames(got[msg["id"]]), user_frames(msg))
        self.assertEqual(want[0]["result"], 10)
        self.assertEqual(want[1]["error"]["data"]["type"], "ValueError")
        self.assertEqual(want[2]["error"],
                         {"code": 3, "message": "three", "data": "d"})

    def test_batch_only_worker_serves_single_requests(self):
        p = self.worker("""
            class W(spool_worker.Worker):
                def execute_batch(self, tasks):
                    if tasks == ["short"]:
                        return []
                    return [t if t != "bad" else
                            spool_worker.TaskError("bad task", code=9)
                            for t in tasks]
            """)
        p.send(spawn_req(), exec_req(1, "a"), exec_req(2, "bad"),
               exec_req(3, "short"), batch_req(4, ["b", "c"]))
        p.answer()
        self.assertEqual(p.answer()["result"], "a")
        self.assertEqual(p.answer()["error"],
                         {"code": 9, "message": "bad task"})
        self.assertIn("returned 0 results for 1 task",
                      p.answer()["error"]["message"])
        got = by_id(json.loads(p.line()))
        self.assertEqual((got[4]["result"], got[5]["result"]), ("b", "c"))

    def test_worker_error_is_task_error(self):
        p = self.worker("""
            class W(spool_worker.Worker):
                def execute(self, task):
                    return spool_worker.WorkerError is spool_worker.TaskError
            """)
        p.send(spawn_req(), exec_req(1, 1))
        p.answer()
        self.assertIs(p.answer()["result"], True)

    def test_malformed_batches(self):
        p = self.worker(self.BATCHED)
        p.send(spawn_req())
        p.answer()
        # An empty batch: one error, not an array (JSON-RPC 2.0, 6).
        p.send("[]")
        self.assertEqual(p.answer(), {"jsonrpc": "2.0", "id": None, "error": {
            "code": -32600, "message": "invalid request: an empty batch"}})
        # Items that are not requests: one Invalid Request each.
        p.send("[1, \"x\", {\"id\": 3}, null]")
        answers = json.loads(p.line())
        self.assertEqual(len(answers), 4)
        for msg in answers:
            self.assertIsNone(msg["id"])
            self.assertEqual(msg["error"]["code"], -32600)
        # A mixed batch: the valid requests run, each bad item gets its
        # error, a notification (no id) no answer.
        p.send("[" + ",".join([
            exec_req(1, {"x": 1}),
            '{"jsonrpc":"2.0","id":2,"method":"frobnicate","params":[]}',
            '{"jsonrpc":"2.0","id":3,"method":"execute","params":[1,2]}',
            '{"jsonrpc":"2.0","id":4,"method":"spawn","params":{}}',
            '{"jsonrpc":"2.0","method":"execute","params":[{"x":5}]}',
            '"junk"',
            exec_req(7, {"x": 7})]) + "]")
        answers = json.loads(p.line())
        self.assertEqual([m["id"] for m in answers], [1, 2, 3, 4, None, 7])
        got = by_id(answers)
        self.assertEqual(got[1]["result"], {"x": 1, "calls": [2]})
        self.assertEqual(got[7]["result"], {"x": 7, "calls": [2]})
        self.assertEqual(got[2]["error"]["code"], -32601)
        self.assertEqual(got[3]["error"]["code"], -32602)
        self.assertEqual(got[4]["error"]["code"], -32601)
        self.assertEqual(got[None]["error"]["code"], -32600)
        # Only notifications: nothing at all is answered.
        p.send('[{"jsonrpc":"2.0","method":"execute","params":[{"x":1}]}]',
               "[1,", exec_req(8, {"x": 8}))
        msg = p.answer()  # the broken batch is a parse error
        self.assertEqual((msg["id"], msg["error"]["code"]), (None, -32700))
        self.assertEqual(p.answer()["result"], {"x": 8, "calls": [2, 1]})
        self.assertEqual(p.rest(), b"")
        self.assertEqual(p.p.returncode, 0)

    def test_batches_between_single_requests_in_one_read(self):
        p = self.worker(self.ECHO)
        p.send(spawn_req(), exec_req(1, 1), batch_req(2, [2, 3]),
               exec_req(4, 4), batch_req(5, [5]))
        p.answer()
        self.assertEqual(p.answer()["id"], 1)
        self.assertEqual([m["id"] for m in json.loads(p.line())], [2, 3])
        self.assertEqual(p.answer()["id"], 4)
        self.assertEqual([m["result"]["task"] for m in json.loads(p.line())],
                         [5])

    # -- stdout protection ------------------------------------------------

    def test_print_goes_to_stderr(self):
        p = self.worker("""
            class W(spool_worker.Worker):
                def spawn(self):
                    print("loading", flush=True)
                    sys.stdout.write("half a line")
                    return "up"

                def execute(self, task):
                    print("task", task)
                    sys.stdout.write("no newline")
                    sys.stdout.flush()
                    return task
            """)
        p.send(spawn_req({}), exec_req(1, 1), exec_req(2, 2))
        self.assertEqual(p.line(), '{"jsonrpc":"2.0","id":0,"result":"up"}')
        self.assertEqual(p.line(), '{"jsonrpc":"2.0","id":1,"result":1}')
        self.assertEqual(p.line(), '{"jsonrpc":"2.0","id":2,"result":2}')
        self.assertEqual(p.rest(), b"")
        err = p.stderr()
        for text in ("loading", "half a line",
                     "task 1", "task 2", "no newline"):
            self.assertIn(text, err)

    def test_fd_1_writes_and_children_go_to_stderr(self):
        p = self.worker("""
            class W(spool_worker.Worker):
                def execute(self, task):
                    os.write(1, b"raw write to fd 1\\n")
                    subprocess.run(["sh", "-c", "echo child on stdout"],
                                   check=True)
                    os.system("echo system on stdout")
                    return task
            """)
        p.send(spawn_req({}), exec_req(1, "a"), exec_req(2, "b"))
        self.assertEqual(p.line(), '{"jsonrpc":"2.0","id":0,"result":null}')
        self.assertEqual(p.line(), '{"jsonrpc":"2.0","id":1,"result":"a"}')
        self.assertEqual(p.line(), '{"jsonrpc":"2.0","id":2,"result":"b"}')
        self.assertEqual(p.rest(), b"")
        err = p.stderr()
        self.assertEqual(err.count("raw write to fd 1"), 2)
        self.assertEqual(err.count("child on stdout"), 2)
        self.assertEqual(err.count("system on stdout"), 2)

    def test_child_process_does_not_inherit_the_protocol_pipe(self):
        # A child left running must not hold the answers pipe open, or
        # spool would not see the worker's stdout close when it exits.
        pidfile = os.path.join(self.dir, "child.pid")
        p = self.worker("""
            class W(spool_worker.Worker):
                def execute(self, task):
                    os.system("sleep 30 </dev/null >/dev/null 2>&1 & "
                              "echo $! > " + task)
                    return "started"
            """)
        p.send(spawn_req({}), exec_req(1, pidfile))
        p.answer()
        self.assertEqual(p.answer()["result"], "started")
        with open(pidfile) as f:
            child = int(f.read())
        try:
            p.close()
            p.expect_eof()  # although the child still runs
        finally:
            os.kill(child, 9)

    # -- batching and flushing --------------------------------------------

    def test_batch_answered_in_order(self):
        p = self.worker("""
            class W(spool_worker.Worker):
                def execute(self, task):
                    if task % 7 == 0:
                        raise ValueError(task)
                    return task * 2
            """)
        n = 5000
        p.send(spawn_req({}), *[exec_req(i, i) for i in range(1, n + 1)])
        out = p.rest().decode().splitlines()
        self.assertEqual(len(out), n + 1)
        for i, line in enumerate(out[1:], 1):
            msg = json.loads(line)
            self.assertEqual(msg["id"], i)
            if i % 7 == 0:
                self.assertEqual(msg["error"]["data"]["type"], "ValueError")
            else:
                self.assertEqual(msg["result"], i * 2)

    def test_answers_flushed_without_eof(self):
        p = self.worker(self.ECHO)
        p.send(spawn_req({}))
        self.assertEqual(p.answer()["id"], 0)
        for i in range(1, 4):
            p.send(exec_req(i, i))  # stdin stays open
            self.assertEqual(p.answer()["id"], i)
        p.send(*[exec_req(i, i) for i in range(4, 104)])
        self.assertEqual([p.answer()["id"] for _ in range(100)],
                         list(range(4, 104)))

    def test_long_request_line(self):
        p = self.worker("""
            class W(spool_worker.Worker):
                def execute(self, task):
                    return len(task)
            """)
        big = "x" * (3 << 20)  # over several reads
        p.send(spawn_req({}), exec_req(1, big), exec_req(2, "y"))
        p.answer()
        self.assertEqual(p.answer()["result"], len(big))
        self.assertEqual(p.answer()["result"], 1)

    def test_throughput_of_a_pipelined_batch(self):
        p = self.worker("""
            class W(spool_worker.Worker):
                def execute(self, task):
                    return task
            """)
        p.send(spawn_req({}))
        p.answer()
        n = 200000
        data = "".join(exec_req(i, {"x": i}) + "\n"
                       for i in range(1, n + 1)).encode()
        start = time.monotonic()
        p.write(data, close=True)
        out = p.rest()
        secs = time.monotonic() - start
        self.assertEqual(out.count(b"\n"), n)
        self.assertTrue(out.endswith(b'{"jsonrpc":"2.0","id":%d,"result":'
                                     b'{"x":%d}}\n' % (n, n)))
        rate = n / secs
        sys.stderr.write("\n[spool_worker throughput: %.0f tasks/s, "
                         "one process, %d pipelined tasks] " % (rate, n))
        # A sanity floor far below the target (well over 100k/s), so a
        # busy machine never makes this fail.
        self.assertGreater(rate, 20000)


if __name__ == "__main__":
    unittest.main()
