"""spool_client - call a spool pool from Python code (standard library only).

Start a private pool of workers, or join a shared one, and run tasks from
any thread, as futures, or from asyncio::

    import spool_client

    with spool_client.Pool(cmd=["python3", "square_worker.py"]) as pool:
        pool.spawn(gpu_ids=[0, 1])        # one more worker -> its spawn result
        pool.spawn(gpu_ids=[2, 3])
        pool.execute({"x": 3})            # blocking, thread-safe
        fut = pool.submit({"x": 4})       # a concurrent.futures.Future
        for r in pool.map(tasks()):       # input order, bounded memory
            print(r)
        r = await pool.async_execute(t)   # inside a coroutine

    pool = spool_client.connect("/run/pool.sock")  # a `spool serve --listen`

A Pool is a ``spool serve`` process (see spool(1)): spool runs the workers,
with its retries, timeouts and blame, and this module talks JSON-RPC 2.0 to
it, one message a line, over the process's stdin and stdout (``Pool``) or a
Unix socket (``connect``).  One background thread reads the answers and
completes the calls waiting for them; requests are written under a lock, so
every method may be called from any thread.

A task that fails raises ``TaskError`` with the worker's own message (and,
for a Python worker, its exception type and traceback); a worker that cannot
start raises ``SpawnError``; a spool process that dies or a connection that
breaks fails every call waiting on it with ``ConnectionLostError`` (a
``ConnectionError``) instead of leaving it hanging.  Python 3.8 or later.
"""

import asyncio
import collections
import concurrent.futures
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import weakref

__all__ = [
    "Pool", "connect", "SpoolError", "TaskError", "SpawnError",
    "ConnectionLostError", "PoolClosedError", "WorkerTraceback",
]

# spool serve refuses a longer line and drops the connection; a task that
# big is refused here instead, before anything is sent.
MAX_LINE = 64 << 20
# map()'s window when neither it nor queue_size says otherwise: spool's
# own default queue size.
DEFAULT_WINDOW = 1024
# map() sends the tasks it pulls in a quick burst in one write: at most
# this many, or bytes, or seconds spent pulling them.
MAP_BURST = 256
MAP_BURST_BYTES = 1 << 20
MAP_BURST_S = 0.001
# How long the reader waits for an exited spool's status, to say how it
# ended; a process that closed its stdout and lives on is not waited for.
EXIT_STATUS_WAIT = 2.0

# allow_nan=False: NaN is not JSON, and spool would refuse the line.
_dumps = json.JSONEncoder(separators=(",", ":"), allow_nan=False,
                          ensure_ascii=False).encode

_raw_decode = json.JSONDecoder().raw_decode
_RESULT_HEAD = b'{"jsonrpc":"2.0","id":'
_RESULT_HEAD_N = len(_RESULT_HEAD)

# Options that have a short flag; any other option k is --k-with-dashes.
_FLAGS = {"queue_size": "-q", "retries": "-r", "timeout": "-t",
          "inflight": "--inflight"}


class SpoolError(Exception):
    """Base of this module's errors.  ``message``, and ``code`` and
    ``data`` when spool answered with a JSON-RPC error."""

    def __init__(self, message, code=None, data=None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.data = data

    def __reduce__(self):
        return (type(self), (self.message, self.code, self.data))


class WorkerTraceback(Exception):
    """The worker's own traceback, as text: the ``__cause__`` of a
    TaskError, so an uncaught one prints where the worker failed too."""

    def __str__(self):
        return "\n" + str(self.args[0]).rstrip("\n")


class TaskError(SpoolError):
    """A task failed: the worker answered an error, or spool gave up on
    it (its workers died or timed out until its attempts ran out, no
    worker was left, spool was stopped).

    ``str(e)`` is the worker's message (for a Python worker "ValueError:
    ..."), or spool's reason in words.  ``code`` and ``data`` are the
    error answer's; the properties read ``data``: ``reason`` ("error" when
    the worker answered, else "died", "no_workers", "interrupted" or
    "not_started"), ``attempts``, ``worker`` (its label, "name#i"),
    ``error`` (the worker's error data), and from that, when the worker
    sent them (the Python SDK does), ``type`` and ``traceback``."""

    def __init__(self, message, code=None, data=None):
        super().__init__(message, code, data)
        text = self.traceback
        if isinstance(text, str) and text:
            self.__cause__ = WorkerTraceback(text)

    def _get(self, key):
        return self.data.get(key) if isinstance(self.data, dict) else None

    @property
    def reason(self):
        return self._get("reason")

    @property
    def attempts(self):
        return self._get("attempts")

    @property
    def worker(self):
        return self._get("worker")

    @property
    def error(self):
        return self._get("error")

    def _error_get(self, key):
        error = self.error
        return error.get(key) if isinstance(error, dict) else None

    @property
    def type(self):
        return self._error_get("type")

    @property
    def traceback(self):
        return self._error_get("traceback")


class SpawnError(SpoolError):
    """A worker could not start: ``spawn()`` or ``add_worker()`` failed
    (``worker`` is its label, ``reason`` why), or, when a Pool starts, no
    configured worker came up (``workers`` lists each one's error)."""

    def __init__(self, message, worker=None, reason=None, code=None,
                 data=None):
        super().__init__(message, code, data)
        self.worker = worker
        self.reason = reason

    def __reduce__(self):
        return (type(self), (self.message, self.worker, self.reason,
                             self.code, self.data))

    @property
    def workers(self):
        if isinstance(self.data, dict) and isinstance(
                self.data.get("workers"), list):
            return self.data["workers"]
        return []


class ConnectionLostError(SpoolError, ConnectionError):
    """spool serve exited, or the connection to it broke, before the call
    was answered.  The pool cannot be used any more."""

    def __init__(self, message):
        super().__init__(message)

    def __reduce__(self):
        return (type(self), (self.message,))


class PoolClosedError(SpoolError, RuntimeError):
    """The pool was closed (close(), or the end of a ``with`` block)."""

    def __init__(self, message):
        super().__init__(message)

    def __reduce__(self):
        return (type(self), (self.message,))


def _json_bytes(value, what):
    """The UTF-8 JSON text of a value to send, or ValueError/TypeError
    before anything is sent: spool could only answer a line it cannot
    read with an error that names no request, and the call would hang."""
    try:
        return _dumps(value).encode("utf-8")
    except UnicodeEncodeError as exc:
        # A str with a lone surrogate ("\ud800"): no UTF-8 for it.
        raise ValueError("spool_client: the %s is not valid Unicode text: "
                         "%s" % (what, exc)) from None


def _task_params(task):
    params = b"[" + _json_bytes(task, "task") + b"]"
    if len(params) > MAX_LINE - 64:
        raise ValueError("spool_client: the task is %d bytes of JSON; "
                         "spool takes lines up to 64 MiB" % len(params))
    return params


def _task_error(message, code, data):
    return TaskError(message, code, data)


def _spawn_error(message, code, data):
    worker = reason = None
    if isinstance(data, dict):
        worker, reason = data.get("worker"), data.get("reason")
        failed = data.get("workers")
        if isinstance(failed, list) and failed:
            # The handshake's "no worker came up": say why each did not.
            why = "; ".join("%s: %s" % (w.get("worker"), w.get("error"))
                            for w in failed if isinstance(w, dict))
            message = "%s (%s)" % (message, why)
            if len(failed) == 1 and isinstance(failed[0], dict):
                worker = failed[0].get("worker")
                reason = failed[0].get("error")
    return SpawnError(message, worker, reason, code, data)


def _spool_error(message, code, data):
    return SpoolError(message, code, data)


def _loads(line):
    """json.loads of an answer line, in half its time: raw_decode skips
    the checks loads makes of bytes and of the text around the value."""
    text = line.decode("utf-8")
    try:
        value, end = _raw_decode(text)
    except ValueError:
        return json.loads(text)  # leading blanks, or the error to raise
    if text[end:].strip():
        raise ValueError("extra data after the JSON value: %r"
                         % text[end:end + 50])
    return value


def _settle(fut, value=None, exc=None):
    """Complete a future that its caller may have cancelled meanwhile."""
    try:
        if exc is None:
            fut.set_result(value)
        else:
            fut.set_exception(exc)
    except concurrent.futures.InvalidStateError:
        pass  # cancelled: the answer is dropped


class _MapSink:
    """Where the answers of one map() call go: cheaper than a Future per
    task (a Future is a Condition, a lock and a notify per answer).  The
    reader stores each answer by id and wakes the map only when it is the
    one the map waits for.

    Neither side takes the lock unless the map waits: the reader stores
    an answer, then looks at want; the map sets want, then looks for the
    answer (under the lock, then waits).  In either order one of them
    sees the other."""

    __slots__ = ("lock", "cond", "answers", "want")

    def __init__(self):
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.answers = {}   # id -> (value, exception)
        self.want = None    # the id the map waits for, if it waits

    def put(self, value, exc, msg_id):
        self.answers[msg_id] = (value, exc)
        if self.want == msg_id:
            with self.lock:
                self.cond.notify()

    def take(self, msg_id):
        got = self.answers.pop(msg_id, None)
        if got is None:
            with self.lock:
                self.want = msg_id
                while msg_id not in self.answers:
                    self.cond.wait()
                self.want = None
            got = self.answers.pop(msg_id)
        value, exc = got
        if exc is not None:
            raise exc
        return value


def _settle_entry(msg_id, entry, value=None, exc=None):
    """Answer a pending call: entry is (Future, error factory) or, for a
    map, (its _MapSink, None)."""
    target = entry[0]
    if type(target) is _MapSink:
        target.put(value, exc, msg_id)
    else:
        _settle(target, value, exc)


class _Conn:
    """One connection to a spool serve: the calls awaiting answers, the
    writer's lock and the reader thread.  Holds no reference to its Pool,
    so a Pool dropped without close() is collected and its finalizer runs.
    """

    def __init__(self, rfile, write, describe, on_eof):
        self.rfile = rfile
        self.write = write          # write(bytes): all of them, or raise
        self.describe = describe    # "spool serve (pid 12)", for messages
        self.on_eof = on_eof        # () -> how the connection ended
        self.lock = threading.Lock()
        self.idle = threading.Condition(self.lock)  # pending became empty
        self.wlock = threading.Lock()
        self.pending = {}           # id -> (future, error factory)
        self.next_id = 0
        self.closing = False        # close() began: no new calls
        self.lost = None            # why the connection ended, once it did
        self.stray = None           # the last error answered with id null
        self.reader = threading.Thread(target=self._read_loop,
                                       name="spool_client reader",
                                       daemon=True)
        self.reader.start()

    def _refusal(self, closing_ok=False):
        if self.closing and not closing_ok:
            return PoolClosedError("the pool is closed")
        return ConnectionLostError(self.lost)

    def check(self):
        with self.lock:
            if self.closing or self.lost is not None:
                raise self._refusal()

    def call(self, method, params, make_error, closing_ok=False):
        """Send a request; return the Future of its answer.  params is
        the params' JSON text in UTF-8, or None for none."""
        fut, line = self.prepare(method, params, make_error, closing_ok)
        try:
            self.send(line)
        except BaseException:
            # Interrupted before it was sent: nothing will answer it, and
            # a close() draining the connection must not wait for it.
            self.forget(fut)
            raise
        return fut

    def prepare(self, method, params, make_error, closing_ok=False):
        """A request's Future, awaiting its answer, and its line, to send."""
        fut = concurrent.futures.Future()
        with self.lock:
            if self.lost is not None or (self.closing and not closing_ok):
                raise self._refusal(closing_ok)
            msg_id = self.next_id
            self.next_id += 1
            self.pending[msg_id] = (fut, make_error)
        fut.spool_id = msg_id
        if params is None:
            return fut, b'{"jsonrpc":"2.0","id":%d,"method":"%s"}\n' % (
                msg_id, method)
        return fut, (b'{"jsonrpc":"2.0","id":%d,"method":"%s","params":%s}\n'
                     % (msg_id, method, params))

    def send(self, data):
        with self.wlock:
            try:
                self.write(data)
            except OSError:
                failed = True
            except BaseException:
                # Interrupted (KeyboardInterrupt) with part of a line
                # perhaps written: what follows would be read as garbage.
                self.lose("a request to %s was cut short; the connection "
                          "cannot be used any more" % self.describe)
                raise
            else:
                failed = False
        if failed:
            # spool went away: the reader sees the end of its output and
            # fails every pending call, this one too, saying how it ended.
            if threading.current_thread() is not self.reader:
                self.reader.join(EXIT_STATUS_WAIT + 1.0)
            self.lose("%s stopped reading requests" % self.describe)

    def forget(self, fut):
        """Drop a call nobody waits for any more; its answer, if it comes,
        is dropped."""
        fut.cancel()
        with self.lock:
            entry = self.pending.get(fut.spool_id)
            if entry is not None and entry[0] is fut:
                del self.pending[fut.spool_id]
                if not self.pending:
                    self.idle.notify_all()

    def prepare_map(self, sink, params):
        """Lines of execute requests, one per task's params, whose answers
        go to sink; returns (their first id, the bytes to send)."""
        n = len(params)
        with self.lock:
            if self.lost is not None or self.closing:
                raise self._refusal()
            first = self.next_id
            self.next_id += n
            entry = (sink, None)
            pending = self.pending
            for msg_id in range(first, first + n):
                pending[msg_id] = entry
        line = b'{"jsonrpc":"2.0","id":%d,"method":"execute","params":%s}\n'
        return first, b"".join([line % (first + k, p)
                                for k, p in enumerate(params)])

    def forget_ids(self, ids):
        """Drop map calls nobody waits for any more."""
        with self.lock:
            for msg_id in ids:
                self.pending.pop(msg_id, None)
            if not self.pending:
                self.idle.notify_all()

    def wait_idle(self, timeout):
        """Wait until no call is pending; False if timeout passed first."""
        with self.lock:
            return self.idle.wait_for(
                lambda: not self.pending or self.lost is not None, timeout)

    def _read_loop(self):
        reason = None
        try:
            for line in self.rfile:
                self._answer(line)
        except _Broken as exc:
            reason = str(exc)
        except (OSError, ValueError) as exc:
            # ValueError: the file was closed under the reader by close().
            if not self.closing:
                reason = "cannot read from %s: %s" % (self.describe, exc)
        except BaseException as exc:
            # Whatever it is, the calls waiting must hear of it, not hang.
            reason = "spool_client's reader failed: %r" % (exc,)
        if reason is None:
            reason = self.on_eof()
            if self.stray is not None:
                reason += " (its last error: %s)" % (
                    self.stray.get("message") if isinstance(self.stray, dict)
                    else self.stray)
        self.lose(reason)

    def _take(self, msg_id):
        """The pending call with this id, no longer pending (None if
        none).  A pop is atomic; the lock is for the idle waiters."""
        entry = self.pending.pop(msg_id, None)
        if entry is not None and not self.pending:
            with self.lock:
                if not self.pending:
                    self.idle.notify_all()
        return entry

    def _answer(self, line):
        # The common answer, as spool serve writes it, without building
        # the message object: {"jsonrpc":"2.0","id":N,"result":R}
        if line.startswith(_RESULT_HEAD) and line.endswith(b"}\n"):
            comma = line.find(b",", _RESULT_HEAD_N)
            if (comma > 0 and line.startswith(b',"result":', comma)
                    and line[_RESULT_HEAD_N:comma].isdigit()):
                msg_id = int(line[_RESULT_HEAD_N:comma])
                try:
                    text = line[comma + 10:-2].decode("utf-8")
                    value, end = _raw_decode(text)
                except ValueError:
                    end = -1
                if end == len(text):
                    entry = self._take(msg_id)
                    if entry is not None:
                        target = entry[0]
                        if type(target) is _MapSink:
                            target.put(value, None, msg_id)
                        else:
                            _settle(target, value)
                    return
        try:
            msg = _loads(line)
        except ValueError:
            raise _Broken("%s sent a line that is not JSON: %r"
                          % (self.describe, line[:200])) from None
        if not isinstance(msg, dict):
            raise _Broken("%s sent a line that is not a JSON-RPC answer: %r"
                          % (self.describe, line[:200]))
        msg_id = msg.get("id")
        entry = None
        if type(msg_id) is int:  # not True, which would equal 1
            entry = self._take(msg_id)
        if entry is None:
            # An answer to a call given up (timeout, cancel), or an error
            # about no request in particular: kept to explain a hang-up.
            if msg_id is None and "error" in msg:
                self.stray = msg["error"]
            return
        if "error" in msg:
            err = msg["error"]
            if not isinstance(err, dict):
                err = {"message": str(err)}
            make_error = entry[1] or _task_error
            _settle_entry(msg_id, entry,
                          exc=make_error(str(err.get("message")),
                                         err.get("code"), err.get("data")))
        else:
            _settle_entry(msg_id, entry, msg.get("result"))

    def lose(self, reason):
        """The connection ended: fail every pending call with reason."""
        with self.lock:
            if self.lost is None:
                self.lost = reason
            reason = self.lost
            pending, self.pending = self.pending, {}
            self.idle.notify_all()
        for msg_id, entry in pending.items():
            _settle_entry(msg_id, entry, exc=ConnectionLostError(reason))


class _Broken(Exception):
    """The answer stream cannot be read any further."""


def _status_words(status):
    if status < 0:
        try:
            name = signal.Signals(-status).name
        except ValueError:
            name = "an unknown signal"
        return "was killed by signal %d (%s)" % (-status, name)
    return "exited with status %d" % status


def _argv(cmd):
    if isinstance(cmd, (str, bytes)):
        raise TypeError("cmd is an argv list, not a string: "
                        "cmd=[\"python3\", \"worker.py\"]")
    argv = [os.fspath(a) for a in cmd]
    if not argv or not all(isinstance(a, str) for a in argv):
        raise TypeError("cmd must be a non-empty list of strings, got %r"
                        % (cmd,))
    # spool resolves a cmd[0] with a slash against the config's directory,
    # which is a temporary one here: make it the caller's.
    if "/" in argv[0]:
        argv[0] = os.path.abspath(argv[0])
    return argv


def _spool_argv(spool):
    if spool is None:
        spool = os.environ.get("SPOOL") or "spool"
    if isinstance(spool, (str, bytes, os.PathLike)):
        return [os.fsdecode(spool)]
    argv = [os.fsdecode(a) for a in spool]
    if not argv:
        raise TypeError("spool= is a program path or an argv list, got %r"
                        % (spool,))
    return argv


def _flag_value(value):
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def _flags(options):
    argv = []
    for key, value in options.items():
        if value is None or value is False:
            continue
        flag = _FLAGS.get(key) or "--" + key.replace("_", "-")
        if value is True:
            argv.append(flag)
        else:
            argv += [flag, _flag_value(value)]
    return argv


def _end_process(proc, conn, tmpdir):
    """Finalizer of a Pool never closed: stop its spool, quietly."""
    try:
        proc.stdin.close()  # end of input: spool finishes and exits
    except OSError:
        pass
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if threading.current_thread() is not conn.reader:
        conn.reader.join(EXIT_STATUS_WAIT + 1.0)
        if not conn.reader.is_alive():
            proc.stdout.close()
    conn.lose("the pool was closed when it was no longer used")
    if tmpdir is not None:
        shutil.rmtree(tmpdir, ignore_errors=True)


def _end_socket(sock, conn):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
    conn.lose("the pool was closed when it was no longer used")


class Pool:
    """A pool of workers run by a private ``spool serve``.

    Exactly one of ``cmd`` (the worker's argv list) or ``config`` (the path
    of a pool config, spool-config(5)).  With ``cmd``, the pool starts with
    ``replicas`` workers of that command speaking ``protocol`` ("spool" or
    "lines"); with the default 0 it starts empty and each ``spawn()`` adds
    one.  The worker runs in the current directory.  ``cmd`` is a config's
    cmd: {worker}, {replica} and {name} in it become each worker's own
    (spool-config(5)), as in ``cmd=["python3", "w.py", "--gpu",
    "{replica}"]``.

    ``queue_size`` (-q) is the most tasks spool holds unanswered; further
    sends wait.  Other options become flags of ``spool serve``: retries
    (-r), timeout (-t, seconds per task), inflight (--inflight), and any
    other ``key=value`` as ``--key VALUE`` (underscores as dashes; True: the
    bare flag).  ``spool`` is the spool program (a path, or an argv list);
    default $SPOOL, else ``spool`` on PATH.

    spool runs in its own session, so a Ctrl-C reaches this program only:
    ``close()`` (or leaving a ``with`` block) then drains the pool; a second
    Ctrl-C during close() kills it.  Worker stderr goes to this process's
    stderr.  The constructor returns once every configured worker is up,
    and raises SpawnError if none came up.
    """

    def __init__(self, cmd=None, config=None, protocol="spool",
                 queue_size=None, replicas=0, spool=None, **options):
        if (cmd is None) == (config is None):
            raise TypeError("Pool() takes exactly one of cmd=[ARGV...] or "
                            "config=\"pool.json\"")
        self._window = queue_size or DEFAULT_WINDOW
        self._sock = None
        self._close_lock = threading.Lock()
        self._closed = False
        tmpdir = None
        try:
            if cmd is not None:
                spec = {"cmd": _argv(cmd), "protocol": protocol,
                        "replicas": replicas, "cwd": os.getcwd()}
                tmpdir = tempfile.mkdtemp(prefix="spool-client-")
                config = os.path.join(tmpdir, "pool.json")
                with open(config, "w") as f:
                    json.dump({"workers": [spec]}, f)
            flags = dict(options)
            flags["queue_size"] = queue_size
            argv = (_spool_argv(spool) + ["serve", "-w", os.fspath(config)]
                    + _flags(flags))
            try:
                proc = subprocess.Popen(
                    argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                    bufsize=1 << 16, start_new_session=True)
            except FileNotFoundError:
                raise FileNotFoundError(
                    "spool_client: no program %r to run spool serve with: "
                    "pass spool=PATH or set $SPOOL" % argv[0]) from None
        except BaseException:
            if tmpdir is not None:
                shutil.rmtree(tmpdir, ignore_errors=True)
            raise
        self._proc = proc
        self._tmpdir = tmpdir
        describe = "spool serve (pid %d)" % proc.pid
        fd = proc.stdin.fileno()

        def write(data):
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]

        def on_eof():
            try:
                status = proc.wait(EXIT_STATUS_WAIT)
            except subprocess.TimeoutExpired:
                return "%s closed its output" % describe
            return "%s %s" % (describe, _status_words(status))

        self._conn = _Conn(proc.stdout, write, describe, on_eof)
        self._finalizer = weakref.finalize(self, _end_process, proc,
                                           self._conn, tmpdir)
        self._handshake()

    @classmethod
    def _connect(cls, path):
        self = cls.__new__(cls)
        self._window = DEFAULT_WINDOW
        self._proc = None
        self._tmpdir = None
        self._close_lock = threading.Lock()
        self._closed = False
        path = os.fspath(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
        except FileNotFoundError:
            sock.close()
            raise FileNotFoundError(
                "spool_client: no socket at %s: start one with `spool serve "
                "-w POOL.json --listen %s`" % (path, path)) from None
        except ConnectionRefusedError:
            sock.close()
            raise ConnectionRefusedError(
                "spool_client: nothing listens at %s: is its spool serve "
                "still running?" % path) from None
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        describe = "spool serve at %s" % path

        def on_eof():
            return "%s closed the connection" % describe

        self._conn = _Conn(sock.makefile("rb"), sock.sendall, describe, on_eof)
        self._finalizer = weakref.finalize(self, _end_socket, sock, self._conn)
        self._handshake()
        return self

    def _handshake(self):
        try:
            fut = self._conn.call(b"spawn", None, _spawn_error)
            self.spawn_results = fut.result()
        except BaseException:
            self._teardown()
            raise

    def __repr__(self):
        state = "closed" if self._closed else (
            "lost" if self._conn.lost is not None else "open")
        return "<spool_client.Pool %s, %s>" % (self._conn.describe, state)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _not_from_reader(self, what):
        if threading.current_thread() is self._conn.reader:
            raise RuntimeError(
                "spool_client: %s() in a future's done-callback would wait "
                "for the thread that runs it; submit() from there instead, "
                "or hand the work to another thread" % what)

    def submit(self, task):
        """Send a task; return a concurrent.futures.Future of its result
        (TaskError when it fails).  Waits while spool's queue is full.

        Done-callbacks run on the pool's reader thread: keep them short
        and never wait on the pool there."""
        return self._conn.call(b"execute", _task_params(task), _task_error)

    def execute(self, task, timeout=None):
        """Run a task and return its result; thread-safe.  Raises TaskError
        when it fails, TimeoutError when no answer came within timeout
        seconds of sending it (its answer is then dropped)."""
        self._not_from_reader("execute")
        fut = self.submit(task)
        try:
            return fut.result(timeout)
        except concurrent.futures.TimeoutError:
            self._conn.forget(fut)
            raise TimeoutError("spool_client: the task was not answered "
                               "within %g s" % timeout) from None

    async def async_execute(self, task):
        """Run a task from a coroutine: ``await pool.async_execute(t)``.
        Cancelling the await drops the answer (the task still runs).

        The task is sent from the event loop's thread, which waits while
        spool's queue is full: keep queue_size above the number of tasks
        awaited at once (or bound them with an asyncio.Semaphore)."""
        return await asyncio.wrap_future(self.submit(task))

    def map(self, tasks, *, window=None):
        """Run every task of an iterable; yield the results in its order.

        At most ``window`` tasks (default queue_size, else 1024) are
        outstanding: the iterable is read lazily, so a generator of
        millions of tasks runs in bounded memory.  A failed task raises
        TaskError at its place; the tasks still outstanding then, or when
        the loop stops early, run but their answers are dropped."""
        if window is None:
            window = self._window
        if window < 1:
            raise ValueError("map(): window must be at least 1")
        self._not_from_reader("map")
        self._conn.check()
        return self._map(iter(tasks), window)

    def _map(self, tasks, window):
        conn = self._conn
        clock = time.monotonic
        sink = _MapSink()
        # The ids sent and not yet yielded, oldest first: runs of
        # consecutive ids, as [first, count].
        runs = collections.deque()
        outstanding = 0
        more = True
        try:
            while more or outstanding:
                if more and outstanding < window:
                    # Tasks pulled in a quick burst go out in one write:
                    # a system call (and a wake-up of spool) per task would
                    # cost more than the task.  The burst ends once pulling
                    # took MAP_BURST_S, so from a slow iterable a task waits
                    # unsent only until the next one comes, and meanwhile
                    # this generator, waiting on it, could yield nothing.
                    params = []
                    size = 0
                    start = clock()
                    room = min(window - outstanding, MAP_BURST)
                    while len(params) < room:
                        try:
                            task = next(tasks)
                        except StopIteration:
                            more = False
                            break
                        p = _task_params(task)
                        params.append(p)
                        size += len(p)
                        if (size >= MAP_BURST_BYTES
                                or clock() - start >= MAP_BURST_S):
                            break
                    if params:
                        first, data = conn.prepare_map(sink, params)
                        runs.append([first, len(params)])
                        outstanding += len(params)
                        try:
                            conn.send(data)
                        except BaseException:
                            # Not sent: nothing will answer them.
                            runs.pop()
                            outstanding -= len(params)
                            conn.forget_ids(range(first,
                                                  first + len(params)))
                            raise
                # Yield what is answered; wait for the oldest only when
                # the window is full or the tasks ran out.
                while outstanding:
                    run = runs[0]
                    head = run[0]
                    if head not in sink.answers and more and \
                            outstanding < window:
                        break
                    run[0] += 1
                    run[1] -= 1
                    if not run[1]:
                        runs.popleft()
                    outstanding -= 1
                    yield sink.take(head)
        finally:
            if outstanding:
                conn.forget_ids([i for first, n in runs
                                 for i in range(first, first + n)])

    def spawn(self, *args, **kwargs):
        """Start one more worker like the pool's only spec, with these spawn
        arguments (keywords, or positional ones: a worker's spawn gets a
        JSON object or array); without any, with the spec's own.  Returns
        once it is up, with its spawn result; raises SpawnError."""
        if args and kwargs:
            raise TypeError("spawn() takes keyword or positional arguments, "
                            "not both: a worker's spawn gets an object or "
                            "an array")
        spec = {}
        if kwargs:
            spec["spawn"] = kwargs
        elif args:
            spec["spawn"] = list(args)
        return self.add_worker(spec)["result"]

    def add_worker(self, spec):
        """Start one more worker from a worker spec (spool-config(5); its
        cmd may be left out when the pool has one spec, the template).
        Returns {"worker": LABEL, "result": SPAWN_RESULT}; raises
        SpawnError."""
        self._not_from_reader("add_worker")
        params = _json_bytes(spec, "worker spec")
        return self._conn.call(b"add_worker", params, _spawn_error).result()

    def stats(self):
        """The run's statistics so far, as ``spool --stats=FILE`` writes
        them: tasks, wall_s, tasks_per_s, latency_s, cpu_s, workers."""
        self._not_from_reader("stats")
        return self._conn.call(b"stats", None, _spool_error).result()

    def close(self, timeout=None):
        """Drain and close: no new calls; the tasks sent are answered; a
        private spool is shut down and waited for, a connect()ed one is
        left running and only this connection closed.  Idempotent.

        With a timeout, after that many seconds a private spool is killed
        (a shared one disconnected), the calls still waiting fail with
        ConnectionLostError, and close() raises TimeoutError."""
        self._not_from_reader("close")
        with self._close_lock:
            if self._closed:
                return
            deadline = None if timeout is None else time.monotonic() + timeout
            with self._conn.lock:
                self._conn.closing = True
            try:
                drained = self._drain(deadline)
            finally:
                # Also when interrupted (a second Ctrl-C): nothing is left
                # running behind.
                self._teardown()
                self._closed = True
        if not drained:
            raise TimeoutError("spool_client: the pool did not drain within "
                               "%g s; it was stopped" % timeout)

    def _drain(self, deadline):
        conn = self._conn
        if self._proc is None:
            return conn.wait_idle(_left(deadline))
        try:
            fut = conn.call(b"shutdown", None, _spool_error, closing_ok=True)
        except ConnectionLostError:
            return True  # already gone: nothing to drain
        try:
            fut.result(_left(deadline))
        except concurrent.futures.TimeoutError:
            return False
        except SpoolError:
            pass  # lost meanwhile; its calls were failed with the reason
        try:
            self._proc.wait(_left(deadline))
        except subprocess.TimeoutExpired:
            return False
        return True

    def _teardown(self):
        """Stop the process or close the socket; fail what is pending."""
        conn = self._conn
        with conn.lock:
            conn.closing = True
        self._finalizer.detach()
        if self._proc is not None:
            proc = self._proc
            try:
                proc.stdin.close()
            except OSError:
                pass
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            # The end of spool's output follows its exit, unless a process
            # it started kept the pipe open: not worth a hang.
            conn.reader.join(EXIT_STATUS_WAIT + 1.0)
            if not conn.reader.is_alive():
                proc.stdout.close()
            if self._tmpdir is not None:
                shutil.rmtree(self._tmpdir, ignore_errors=True)
        else:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.reader.join()
            conn.rfile.close()
            self._sock.close()
        conn.lose("the pool was closed before the task was answered")


def connect(path):
    """Join a ``spool serve --listen PATH``: a Pool on that socket.  Its
    close() closes this connection and leaves the server running; other
    clients of the server are not disturbed."""
    return Pool._connect(path)


def _left(deadline):
    if deadline is None:
        return None
    return max(0.0, deadline - time.monotonic())
