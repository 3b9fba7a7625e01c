"""Tests for spool_client: a Pool against a spool serve, and the seed example.

Run with:  python3 -m unittest discover -s workers/python -p 'test_*.py'

The tasks are task_worker.py's (tests/fixtures/serve/): {"x": N} squares,
{"sleep": S} sleeps first (so answers come out of order), {"fail": MSG}
raises in the worker, {"die": true} kills it.  They run under the real
`spool serve`: $SPOOL_CLIENT_SERVE, else $SPOOL (as the bats suite sets
it), else build/spool of this tree (run `make` first).  Servers that
misbehave (garbage answers, an early exit) are small inline programs.
"""

import asyncio
import concurrent.futures
import gc
import itertools
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "serve")
sys.path.insert(0, HERE)
import spool_client  # noqa: E402

# The program run as `spool`.
SPOOL_SERVE = (os.environ.get("SPOOL_CLIENT_SERVE")
               or os.environ.get("SPOOL")
               or os.path.join(ROOT, "build", "spool"))
if not os.access(SPOOL_SERVE, os.X_OK):
    raise RuntimeError("test_spool_client: no spool to test against at %s: "
                       "run `make` first, or set SPOOL_CLIENT_SERVE to a "
                       "spool binary" % SPOOL_SERVE)
WORKER = [sys.executable, os.path.join(FIXTURES, "task_worker.py")]
SEED = os.path.join(ROOT, "workers", "examples", "seed")
# A deadline for what should take far less: only a broken client hits it.
TIMEOUT = 20.0


def wait_for(cond, timeout=TIMEOUT, what="the condition"):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("%s did not hold within %g s" % (what,
                                                                   timeout))
        time.sleep(0.01)


def child_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = HERE + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def readline_within(proc, timeout=TIMEOUT):
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        raise AssertionError("no line from pid %d within %g s"
                             % (proc.pid, timeout))
    return proc.stdout.readline()


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="spool-client-test-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def pool(self, replicas=4, **options):
        pool = spool_client.Pool(cmd=WORKER, replicas=replicas,
                                 spool=SPOOL_SERVE, **options)
        self.addCleanup(self.stop, pool)
        return pool

    @staticmethod
    def stop(pool):
        try:
            pool.close(TIMEOUT)
        except TimeoutError:
            pass

    def config(self, **spec):
        spec.setdefault("cmd", WORKER)
        spec.setdefault("protocol", "spool")
        path = os.path.join(self.tmp, "pool.json")
        with open(path, "w") as f:
            json.dump({"workers": [spec]}, f)
        return path


class TestPool(Base):
    def test_spawn_then_execute(self):
        pool = self.pool(replicas=0)
        self.assertEqual(pool.spawn_results, [])
        self.assertEqual(pool.spawn(gpu_ids=[0, 1]),
                         {"args": [], "kwargs": {"gpu_ids": [0, 1]}})
        self.assertEqual(pool.spawn(2, 3), {"args": [2, 3], "kwargs": {}})
        self.assertEqual(pool.execute({"x": 3}), {"x": 3, "sq": 9})
        self.assertEqual(pool.execute("a string"), "a string")
        self.assertEqual(pool.execute(None), None)

    def test_replicas_come_up_at_start(self):
        pool = self.pool(replicas=3)
        labels = [w["worker"] for w in pool.spawn_results]
        self.assertEqual(len(labels), 3)
        self.assertEqual(len(set(labels)), 3)

    def test_config_file(self):
        pool = spool_client.Pool(config=self.config(spawn={"gpu_ids": [7]},
                                                    replicas=2),
                                 spool=SPOOL_SERVE)
        self.addCleanup(self.stop, pool)
        self.assertEqual([w["result"]["kwargs"] for w in pool.spawn_results],
                         [{"gpu_ids": [7]}, {"gpu_ids": [7]}])
        self.assertEqual(pool.execute({"x": -4}), {"x": -4, "sq": 16})

    def test_spawn_failure(self):
        pool = self.pool(replicas=1)
        with self.assertRaises(spool_client.SpawnError) as cm:
            pool.spawn(fail="no GPU 7")
        e = cm.exception
        self.assertIn("no GPU 7", str(e))
        self.assertIn("no GPU 7", e.reason)
        self.assertIsInstance(e.worker, str)
        self.assertEqual(pool.execute({"x": 2}), {"x": 2, "sq": 4})

    def test_no_worker_came_up(self):
        with self.assertRaises(spool_client.SpawnError) as cm:
            spool_client.Pool(config=self.config(
                spawn={"fail": "CUDA out of memory"}), spool=SPOOL_SERVE)
        e = cm.exception
        self.assertIn("no worker came up", str(e))
        self.assertIn("CUDA out of memory", str(e))
        self.assertEqual(len(e.workers), 1)

    def test_bad_arguments(self):
        with self.assertRaises(TypeError):
            spool_client.Pool()
        with self.assertRaises(TypeError):
            spool_client.Pool(cmd=WORKER, config="pool.json")
        with self.assertRaises(TypeError) as cm:
            spool_client.Pool(cmd="python3 worker.py")
        self.assertIn("argv list", str(cm.exception))
        with self.assertRaises(FileNotFoundError) as cm:
            spool_client.Pool(cmd=WORKER,
                              spool=os.path.join(self.tmp, "no-spool"))
        self.assertIn("$SPOOL", str(cm.exception))
        pool = self.pool(replicas=1)
        with self.assertRaises(TypeError):
            pool.spawn(1, gpu_ids=[0])

    def test_task_error_carries_the_workers_words(self):
        pool = self.pool()
        with self.assertRaises(spool_client.TaskError) as cm:
            pool.execute({"fail": "bad input 42"})
        e = cm.exception
        self.assertIn("bad input 42", str(e))
        self.assertEqual(e.code, -32000)
        self.assertEqual(e.reason, "error")
        self.assertEqual(e.attempts, 1)
        self.assertIsInstance(e.worker, str)
        self.assertEqual(e.type, "ValueError")
        self.assertIn("Traceback", e.traceback)
        self.assertIn("raise ValueError", e.traceback)
        # Printed uncaught, it shows where the worker failed.
        printed = "".join(traceback.format_exception(type(e), e,
                                                     e.__traceback__))
        self.assertIn("raise ValueError", printed)
        self.assertIsInstance(e.__cause__, spool_client.WorkerTraceback)

    def test_died_and_retries_option(self):
        pool = self.pool()
        with self.assertRaises(spool_client.TaskError) as cm:
            pool.execute({"die": True})
        e = cm.exception
        self.assertEqual((e.code, e.reason, e.attempts), (-32002, "died", 3))
        self.assertIsNone(e.type)
        self.assertIsNone(e.traceback)
        self.assertIsNone(e.__cause__)
        # retries=0 becomes -r 0: one attempt.
        with self.assertRaises(spool_client.TaskError) as cm:
            self.pool(retries=0).execute({"die": True})
        self.assertEqual(cm.exception.attempts, 1)

    def test_task_that_is_not_json_is_refused_before_sending(self):
        pool = self.pool(replicas=1)
        with self.assertRaises(TypeError):
            pool.submit({1, 2})
        with self.assertRaises(ValueError):
            pool.execute(float("nan"))
        with self.assertRaises(ValueError) as cm:
            pool.execute({"text": "half a pair: \ud83d"})
        self.assertIn("not valid Unicode", str(cm.exception))
        self.assertEqual(pool.execute({"text": "\u00e9\U0001f600"}),
                         {"text": "\u00e9\U0001f600"})
        with self.assertRaises(ValueError) as cm:
            pool.execute("x" * (64 << 20))
        self.assertIn("64 MiB", str(cm.exception))
        self.assertEqual(pool.execute({"x": 5}), {"x": 5, "sq": 25})

    def test_stats(self):
        pool = self.pool()
        for i in range(10):
            pool.execute({"x": i})
        stats = pool.stats()
        self.assertGreaterEqual(stats["tasks"]["ok"], 10)
        for key in ("wall_s", "tasks_per_s", "latency_s", "cpu_s",
                    "workers"):
            self.assertIn(key, stats)


class TestConcurrency(Base):
    def test_threads_hammering_execute(self):
        pool = self.pool()
        errors = []

        def hammer(t):
            try:
                for i in range(300):
                    n = t * 1000 + i
                    if i % 50 == 7:
                        try:
                            pool.execute({"fail": "task %d" % n})
                        except spool_client.TaskError as e:
                            if "task %d" % n not in str(e):
                                errors.append("wrong error %s for %d" % (e, n))
                        else:
                            errors.append("task %d did not fail" % n)
                        continue
                    task = {"x": n}
                    if i % 25 == 3:
                        task["sleep"] = 0.01
                    got = pool.execute(task)
                    if got != {"x": n, "sq": n * n}:
                        errors.append("task %d got %r" % (n, got))
            except Exception as e:
                errors.append(repr(e))

        threads = [threading.Thread(target=hammer, args=(t,))
                   for t in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(TIMEOUT)
        self.assertFalse(any(t.is_alive() for t in threads))
        self.assertEqual(errors, [])

    def test_backpressure(self):
        # Far more than a pipe holds, while spool takes 4 at a time: sends
        # wait for room while the reader keeps taking answers.
        pool = self.pool(queue_size=4)
        pad = "p" * 4000
        futs = [pool.submit({"x": n, "pad": pad, "sleep": 0.001})
                for n in range(300)]
        for n, fut in enumerate(futs):
            self.assertEqual(fut.result(TIMEOUT), {"x": n, "sq": n * n})
        got = pool.map(({"x": n, "pad": pad} for n in range(300)), window=64)
        self.assertEqual([r["x"] for r in got], list(range(300)))

    def test_futures_complete_out_of_order(self):
        pool = self.pool()
        done = []
        futs = {}
        for n in range(2000):
            task = {"x": n, "sleep": 0.2} if n == 0 else {"x": n}
            fut = pool.submit(task)
            fut.add_done_callback(lambda f, n=n: done.append(n))
            futs[fut] = n
        for fut in concurrent.futures.as_completed(futs, TIMEOUT):
            n = futs[fut]
            self.assertEqual(fut.result(), {"x": n, "sq": n * n})
        self.assertEqual(sorted(done), list(range(2000)))
        self.assertNotEqual(done[0], 0)

    def test_asyncio_many(self):
        pool = self.pool()

        async def main():
            tasks = []
            for n in range(2000):
                if n % 100 == 1:
                    tasks.append({"fail": "n%d" % n})
                elif n % 100 == 2:
                    tasks.append({"x": n, "sleep": 0.05})
                else:
                    tasks.append({"x": n})
            return await asyncio.wait_for(asyncio.gather(
                *(pool.async_execute(t) for t in tasks),
                return_exceptions=True), TIMEOUT)

        results = asyncio.run(main())
        for n, got in enumerate(results):
            if n % 100 == 1:
                self.assertIsInstance(got, spool_client.TaskError)
                self.assertIn("n%d" % n, str(got))
            else:
                self.assertEqual(got, {"x": n, "sq": n * n})

    def test_asyncio_cancel_drops_the_answer(self):
        pool = self.pool()

        async def main():
            with self.assertRaises(asyncio.TimeoutError):
                await asyncio.wait_for(
                    pool.async_execute({"sleep": 0.5, "x": 1}), 0.05)
            return await pool.async_execute({"x": 6})

        self.assertEqual(asyncio.run(main()), {"x": 6, "sq": 36})

    def test_callbacks_may_not_wait_on_the_pool(self):
        pool = self.pool()
        seen = []

        def callback(fut):
            try:
                pool.execute({"x": 1})
            except RuntimeError as e:
                seen.append(str(e))
        pool.submit({"x": 1}).add_done_callback(callback)
        wait_for(lambda: seen, what="the callback's RuntimeError")
        self.assertIn("done-callback", seen[0])
        self.assertEqual(pool.execute({"x": 2}), {"x": 2, "sq": 4})


class TestMap(Base):
    def test_results_in_input_order(self):
        pool = self.pool()
        tasks = [{"x": n, "sleep": (20 - n) * 0.005} for n in range(20)]
        self.assertEqual([r["x"] for r in pool.map(tasks)], list(range(20)))

    def test_200k_tasks_in_bounded_memory(self):
        pool = self.pool()
        window = 1024  # the default: queue_size's
        pulled = [0]

        def tasks():
            for n in range(200000):
                pulled[0] += 1
                yield {"x": n}

        most_ahead = most_pending = 0
        n = 0
        for r in pool.map(tasks()):
            if r["x"] != n or r["sq"] != n * n:
                self.fail("result %d is %r" % (n, r))
            n += 1
            most_ahead = max(most_ahead, pulled[0] - n)
            if n % 64 == 0:
                most_pending = max(most_pending, len(pool._conn.pending))
        self.assertEqual(n, 200000)
        self.assertLessEqual(most_ahead, window)
        self.assertLessEqual(most_pending, window)

    def test_window(self):
        pool = self.pool()
        pulled = [0]
        most_ahead = 0

        def tasks():
            for n in range(300):
                pulled[0] += 1
                yield {"x": n}
        for i, r in enumerate(pool.map(tasks(), window=7)):
            most_ahead = max(most_ahead, pulled[0] - (i + 1))
        self.assertLessEqual(most_ahead, 7)
        with self.assertRaises(ValueError):
            pool.map([], window=0)

    def test_lazy_on_an_endless_iterable(self):
        pool = self.pool()
        gen = pool.map({"x": n} for n in itertools.count())
        self.assertEqual([r["x"] for r in itertools.islice(gen, 5)],
                         [0, 1, 2, 3, 4])
        gen.close()  # what is outstanding is dropped
        self.assertEqual(pool.execute({"x": 9}), {"x": 9, "sq": 81})

    def test_error_raises_at_its_place(self):
        pool = self.pool()
        tasks = [{"x": n} if n != 5 else {"fail": "five"} for n in range(10)]
        got = []
        with self.assertRaises(spool_client.TaskError) as cm:
            for r in pool.map(tasks):
                got.append(r["x"])
        self.assertEqual(got, [0, 1, 2, 3, 4])
        self.assertIn("five", str(cm.exception))


class TestLifecycle(Base):
    def test_close_drains(self):
        pool = self.pool()
        futs = [pool.submit({"x": n, "sleep": 0.2}) for n in range(50)]
        pool.close()
        for n, fut in enumerate(futs):
            self.assertTrue(fut.done())
            self.assertEqual(fut.result(), {"x": n, "sq": n * n})
        self.assertEqual(pool._proc.returncode, 0)
        with self.assertRaises(spool_client.PoolClosedError):
            pool.execute({"x": 1})
        with self.assertRaises(spool_client.PoolClosedError):
            pool.submit({"x": 1})
        pool.close()  # again: nothing happens

    def test_context_manager(self):
        with spool_client.Pool(cmd=WORKER, replicas=2,
                               spool=SPOOL_SERVE) as pool:
            fut = pool.submit({"x": 2, "sleep": 0.2})
        self.assertEqual(fut.result(0), {"x": 2, "sq": 4})
        with self.assertRaises(spool_client.PoolClosedError):
            pool.stats()

    def test_close_with_timeout_stops_the_server(self):
        pool = self.pool()
        fut = pool.submit({"sleep": 30})
        with self.assertRaises(TimeoutError):
            pool.close(0.2)
        with self.assertRaises(spool_client.ConnectionLostError):
            fut.result(0)
        self.assertIsNotNone(pool._proc.poll())

    def test_execute_timeout(self):
        pool = self.pool()
        with self.assertRaises(TimeoutError):
            pool.execute({"sleep": 1.0, "x": 1}, timeout=0.05)
        self.assertEqual(len(pool._conn.pending), 0)
        self.assertEqual(pool.execute({"x": 3}, timeout=TIMEOUT),
                         {"x": 3, "sq": 9})
        pool.close()  # the late answer comes, and is dropped

    def test_server_death_fails_pending_calls(self):
        pool = self.pool()
        futs = [pool.submit({"sleep": 30, "x": n}) for n in range(3)]
        os.kill(pool._proc.pid, signal.SIGKILL)
        for fut in futs:
            with self.assertRaises(spool_client.ConnectionLostError) as cm:
                fut.result(TIMEOUT)
            self.assertIsInstance(cm.exception, ConnectionError)
            self.assertIn("killed by signal 9", str(cm.exception))
        with self.assertRaises(ConnectionError):
            pool.execute({"x": 1})
        with self.assertRaises(ConnectionError):
            list(pool.map([{"x": 1}]))
        pool.close()

    def test_server_that_exits_at_once(self):
        with self.assertRaises(spool_client.ConnectionLostError) as cm:
            spool_client.Pool(cmd=WORKER, spool=[
                sys.executable, "-c", "import sys; sys.exit(2)"])
        self.assertIn("exited with status 2", str(cm.exception))

    def test_dropped_pool_stops_its_server(self):
        pool = spool_client.Pool(cmd=WORKER, replicas=1, spool=SPOOL_SERVE)
        proc = pool._proc
        del pool
        gc.collect()
        wait_for(lambda: proc.poll() is not None,
                 what="the server of a dropped pool exiting")


# A stand-in for spool serve that answers the handshake, then each
# request as its argument says: "garbage" (a line that is not JSON) or
# "refuse" (an error with id null, as for a line it could not read, and
# then it exits).
MISBEHAVING = """if 1:
    import json, sys
    how = sys.argv[1]
    for line in sys.stdin:
        msg = json.loads(line)
        if msg["method"] == "spawn":
            answer = {"jsonrpc": "2.0", "id": msg["id"], "result": []}
            print(json.dumps(answer), flush=True)
        elif how == "garbage":
            print("this is not json", flush=True)
        else:
            print(json.dumps({"jsonrpc": "2.0", "id": None, "error": {
                "code": -32700, "message": "Parse error"}}), flush=True)
            sys.exit(0)
"""


class TestMisbehavingServer(Base):
    def server(self, how):
        pool = spool_client.Pool(cmd=WORKER, spool=[
            sys.executable, "-c", MISBEHAVING, how])
        self.addCleanup(self.stop, pool)
        return pool

    def test_garbage_answer_fails_the_calls(self):
        pool = self.server("garbage")
        fut = pool.submit({"x": 1})
        with self.assertRaises(spool_client.ConnectionLostError) as cm:
            fut.result(TIMEOUT)
        self.assertIn("not JSON", str(cm.exception))
        self.assertIn("this is not json", str(cm.exception))
        with self.assertRaises(ConnectionError):
            pool.execute({"x": 2})

    def test_error_with_id_null_is_told_when_the_server_leaves(self):
        pool = self.server("refuse")
        with self.assertRaises(spool_client.ConnectionLostError) as cm:
            pool.execute({"x": 1}, timeout=TIMEOUT)
        self.assertIn("exited with status 0", str(cm.exception))
        self.assertIn("Parse error", str(cm.exception))


class TestSocket(Base):
    def listen(self):
        path = os.path.join(self.tmp, "pool.sock")
        server = subprocess.Popen(
            [SPOOL_SERVE, "serve", "-w", self.config(replicas=4),
             "--listen", path], stdin=subprocess.DEVNULL)
        self.addCleanup(self.kill, server)

        def up():
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                try:
                    probe.connect(path)
                except OSError:
                    return False
            return True
        wait_for(up, what="spool serve --listen")
        return server, path

    @staticmethod
    def kill(proc):
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()

    def connect(self, path):
        pool = spool_client.connect(path)
        self.addCleanup(self.stop, pool)
        return pool

    def test_two_processes_share_one_server(self):
        server, path = self.listen()
        pool = self.connect(path)
        child = subprocess.Popen([sys.executable, "-c", """if 1:
            import sys, spool_client
            pool = spool_client.connect(sys.argv[1])
            print(sum(pool.execute({"x": n})["sq"] for n in range(300)))
            pool.close()
            """, path], stdout=subprocess.PIPE, env=child_env(),
            universal_newlines=True)
        self.addCleanup(self.kill, child)
        with concurrent.futures.ThreadPoolExecutor(8) as threads:
            got = list(threads.map(lambda n: pool.execute({"x": n}),
                                   range(300)))
        self.assertEqual(got, [{"x": n, "sq": n * n} for n in range(300)])
        self.assertEqual(readline_within(child).strip(),
                         str(sum(n * n for n in range(300))))
        self.assertEqual(child.wait(TIMEOUT), 0)
        pool.close()  # a connect()ed pool leaves the server running
        self.assertIsNone(server.poll())
        again = self.connect(path)
        self.assertEqual(again.execute({"x": 7}), {"x": 7, "sq": 49})

    def test_a_client_that_disconnects_mid_flight(self):
        server, path = self.listen()
        child = subprocess.Popen([sys.executable, "-c", """if 1:
            import sys, time, spool_client
            pool = spool_client.connect(sys.argv[1])
            futs = [pool.submit({"x": n, "sleep": 0.3}) for n in range(8)]
            print("sent", flush=True)
            time.sleep(60)
            """, path], stdout=subprocess.PIPE, env=child_env(),
            universal_newlines=True)
        self.addCleanup(self.kill, child)
        self.assertEqual(readline_within(child), "sent\n")
        pool = self.connect(path)
        child.kill()
        child.wait()
        # Outlasts the child's tasks: their answers have nowhere to go.
        self.assertEqual(pool.execute({"x": 3, "sleep": 0.5}),
                         {"x": 3, "sq": 9})
        self.assertEqual(list(pool.map({"x": n} for n in range(100))),
                         [{"x": n, "sq": n * n} for n in range(100)])
        self.assertIsNone(server.poll())

    def test_close_with_timeout_disconnects_only_this_client(self):
        server, path = self.listen()
        leaving = self.connect(path)
        staying = self.connect(path)
        fut = leaving.submit({"sleep": 0.5})
        with self.assertRaises(TimeoutError):
            leaving.close(0)
        with self.assertRaises(spool_client.ConnectionLostError):
            fut.result(0)
        self.assertEqual(staying.execute({"x": 4}), {"x": 4, "sq": 16})
        self.assertIsNone(server.poll())

    def test_sigterm_ends_the_server(self):
        server, path = self.listen()
        pool = self.connect(path)
        fut = pool.submit({"x": 1, "sleep": 0.2})
        pool.stats()  # answered after spool read the task: it is accepted
        server.terminate()
        self.assertEqual(fut.result(TIMEOUT), {"x": 1, "sq": 1})
        server.wait(TIMEOUT)
        with self.assertRaises(spool_client.ConnectionLostError) as cm:
            pool.execute({"x": 1})
        self.assertIn("closed the connection", str(cm.exception))
        self.assertFalse(os.path.exists(path))

    def test_connect_errors(self):
        missing = os.path.join(self.tmp, "none.sock")
        with self.assertRaises(FileNotFoundError) as cm:
            spool_client.connect(missing)
        self.assertIn("spool serve", str(cm.exception))
        stale = os.path.join(self.tmp, "stale.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(stale)
        sock.close()
        with self.assertRaises(ConnectionRefusedError) as cm:
            spool_client.connect(stale)
        self.assertIn("still running", str(cm.exception))


class TestSeedExample(Base):
    def test_seed_example_runs(self):
        env = child_env()
        env["SPOOL"] = SPOOL_SERVE
        run = subprocess.run(
            [sys.executable, os.path.join(SEED, "seed_example.py")],
            stdout=subprocess.PIPE, env=env, timeout=TIMEOUT * 3,
            universal_newlines=True)
        self.assertEqual(run.returncode, 0)
        self.assertIn("execute: 9", run.stdout)
        self.assertIn("map: 0 1 4 9", run.stdout)
        self.assertIn("async: 49", run.stdout)
        self.assertIn("failed:", run.stdout)


if __name__ == "__main__":
    unittest.main()
