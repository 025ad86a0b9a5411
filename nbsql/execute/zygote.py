"""The zygote: one process per ``nbsql run`` that imports what a job needs once (nbclient,
jupyter_client, zmq, nbformat, ipykernel's kernelspec, papermill when parameters are injected) and
forks one job process per notebook, so that no job pays for a fresh interpreter and those imports.

It is started with only the allow-listed variables (:func:`isolation.allowed_environment`), so that
no job inherits the user's secrets, and stays single-threaded, so that a job it forks may enter new
namespaces. The runner's :class:`Zygote` talks to it over its stdin and stdout, one JSON object a
line: it sends ``{"fork": number, "order": ...}`` and ``{"kill": number}``; the zygote answers
``{"ready": isolates}`` once (whether a job can have a network namespace, tried by a forked probe),
then ``{"ended": number, "code": exit code}`` for each job.

A job (:func:`_job`) starts a session of its own, enters the namespace when told to, dies with the
zygote, replaces its whole environment with the run's scrubbed one, moves to the run's HOME, runs
the notebook, and writes its result to ``result.json`` in the run's folder, its stderr to ``job.log``.
When a job ends, or is killed, the zygote kills its process group before reaping it (until then the
job's pid, and so its group's id, cannot be reused). When its stdin closes (the runner ended, however
it ended) it kills every job left, with all the processes they started, removes their folders, and
exits.
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import itertools
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, NoReturn

from . import isolation

#: What the zygote imports before it forks: a job finds them imported. ipykernel's kernelspec is what
#: jupyter_client imports to find the python3 kernel (IPython with it: 0.3 s).
PRELOAD = ("nbsql.execute.job", "nbsql.execute.compare", "nbsql.execute.kernel", "nbclient", "nbclient.exceptions",
           "nbformat", "jupyter_client", "jupyter_client.manager", "zmq", "zmq.asyncio", "ipykernel.kernelspec")
#: Imported too when parameters are injected.
PAPERMILL = ("papermill.iorw", "papermill.parameterize")
#: Seconds the runner waits for the zygote to end once told to.
CLOSE_WAIT = 30
#: Where the zygote's code is found: the folder holding the nbsql package, first on its path (in place
#: of the current folder).
_BOOT = "import sys; sys.path[0] = sys.argv[1]; from nbsql.execute.zygote import serve; serve(sys.argv[2:])"
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Order:
    """What one job needs besides what the zygote imported."""

    request: dict[str, Any]  # the fields of job.Request
    environment: dict[str, str]  # the run's whole environment; its HOME is where the job runs
    folder: str  # the run's folder: the job writes result.json and job.log there
    isolate: bool  # enter a network namespace of its own


@dataclass
class Job:
    """A forked job, as the runner sees it: ``ended`` is set when the zygote has reaped it."""

    number: int
    ended: threading.Event = field(default_factory=threading.Event)
    code: int | None = None  # its exit code (negative: killed by that signal)
    reason: str | None = None  # why it ended without one (the zygote ended)


class Zygote:
    """The runner's end: starts the zygote, forks jobs in it, kills them, learns when they end."""

    def __init__(self, papermill: bool = False) -> None:
        self._log = tempfile.TemporaryFile()  # the zygote's stderr: its last line says why it ended
        package_parent = str(Path(__file__).resolve().parents[2])
        self._process = subprocess.Popen([sys.executable, "-c", _BOOT, package_parent, *["papermill"] * papermill],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log,
                                         env=isolation.allowed_environment(), cwd="/", start_new_session=True)
        self._lock = threading.Lock()  # the jobs and the reason the zygote is gone
        self._write_lock = threading.Lock()
        self._jobs: dict[int, Job] = {}
        self._numbers = itertools.count()
        self._forked = False
        self._gone: str | None = None
        self._ready = threading.Event()
        self._isolates = False
        self._reader = threading.Thread(target=self._read, name="nbsql-zygote", daemon=True)
        self._reader.start()

    def __enter__(self) -> Zygote:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def isolates(self) -> bool:
        """Whether a job can have a network namespace of its own (waits for the zygote to be ready)."""
        self._ready.wait()
        return self._isolates

    def fork(self, order: Order) -> Job:
        """Start a job; it has ended (with a reason) at once if the zygote is gone."""
        job = Job(next(self._numbers))
        with self._lock:
            if self._gone is not None:
                job.reason = self._gone
                job.ended.set()
                return job
            self._jobs[job.number] = job
            self._forked = True
        self._send({"fork": job.number, "order": asdict(order)})
        return job

    def kill(self, job: Job) -> None:
        """SIGKILL the job and its process group (not what left the group: see isolation.kill_marked)."""
        if not job.ended.is_set():
            self._send({"kill": job.number})

    def close(self) -> None:
        """Let the zygote end (killing any job left), or kill it when it never forked."""
        with self._write_lock:
            assert self._process.stdin is not None
            try:
                self._process.stdin.close()
            except OSError:
                pass
        if not self._forked:
            self._process.kill()  # maybe still importing: nothing to wait for
        try:
            self._process.wait(CLOSE_WAIT)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._reader.join()
        self._log.close()

    def _send(self, message: dict[str, Any]) -> None:
        with self._write_lock:
            assert self._process.stdin is not None
            try:
                self._process.stdin.write(json.dumps(message).encode() + b"\n")
                self._process.stdin.flush()
            except (OSError, ValueError):  # gone (or closed): the reader ends every job
                pass

    def _read(self) -> None:
        """Take the zygote's answers until it ends; then every job left has ended, with the reason."""
        assert self._process.stdout is not None
        try:
            for line in self._process.stdout:
                self._answer(json.loads(line))
        finally:
            last = _last_line(self._log)
            with self._lock:
                self._gone = f"the zygote ended with code {self._process.wait()}" + (f": {last}" if last else "")
                left, self._jobs = list(self._jobs.values()), {}
            self._ready.set()
            for job in left:
                job.reason = self._gone
                job.ended.set()

    def _answer(self, message: dict[str, Any]) -> None:
        if "ready" in message:
            self._isolates = message["ready"]
            self._ready.set()
            return
        with self._lock:
            job = self._jobs.pop(message["ended"])
        job.code, job.reason = message["code"], message.get("reason")
        job.ended.set()


def _last_line(log: IO[bytes]) -> str | None:
    log.seek(0)
    lines = log.read().decode("utf-8", "replace").strip().splitlines()
    return lines[-1] if lines else None


def serve(options: list[str]) -> None:
    """The zygote (run by :data:`_BOOT`): import, probe the namespace, then fork jobs as told until
    stdin closes."""
    for name in PRELOAD + (PAPERMILL if "papermill" in options else ()):
        try:
            importlib.import_module(name)
        except ImportError:  # a job that needs it fails as it would have, with the reason
            pass
    gc.freeze()  # the imported objects stay shared with the jobs, not copied as they are touched
    _Server().serve()


class _Server:
    """The zygote's loop: orders on stdin, answers on what was stdout, children reaped on SIGCHLD."""

    def __init__(self) -> None:
        self.answers = os.dup(1)
        os.dup2(2, 1)  # what a library prints goes to stderr, not into the answers
        self.jobs: dict[int, tuple[int, Order]] = {}  # pid -> (number, order)

    def serve(self) -> None:
        self.tell({"ready": _probe()})
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_write, False)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so that the wake-up fd is written
        signal.set_wakeup_fd(wake_write)
        pending = b""
        while True:
            readable = select.select([0, wake_read], [], [])[0]
            if wake_read in readable:
                os.read(wake_read, 4096)
            self.reap()
            if 0 not in readable:
                continue
            data = os.read(0, 1 << 16)
            if not data:
                break
            *lines, pending = (pending + data).split(b"\n")
            for line in lines:
                message = json.loads(line)
                if "fork" in message:
                    self.fork(message["fork"], Order(**message["order"]))
                else:
                    self.kill(message["kill"])
        for pid, (_, order) in self.jobs.items():  # the runner is gone: so are its jobs, and their folders
            _kill_group(pid)
            isolation.kill_marked(order.environment[isolation.MARKER])
            os.waitpid(pid, 0)
            isolation.remove_tree(Path(order.folder))

    def tell(self, message: dict[str, Any]) -> None:
        os.write(self.answers, json.dumps(message).encode() + b"\n")  # unbuffered: nothing for a child to flush

    def fork(self, number: int, order: Order) -> None:
        try:
            pid = os.fork()
        except OSError as exc:
            self.tell({"ended": number, "code": None, "reason": f"the zygote could not fork: {exc}"})
            return
        if pid == 0:
            _job(order)
        self.jobs[pid] = (number, order)

    def kill(self, number: int) -> None:
        for pid, (forked, _) in self.jobs.items():
            if forked == number:
                _kill_group(pid)

    def reap(self) -> None:
        """Report each job that ended, after killing what is left of its process group."""
        while True:
            try:
                ended = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return
            if ended is None:
                return
            _kill_group(ended.si_pid)
            status = os.waitpid(ended.si_pid, 0)[1]
            if ended.si_pid in self.jobs:
                number, _ = self.jobs.pop(ended.si_pid)
                self.tell({"ended": number, "code": os.waitstatus_to_exitcode(status)})


def _probe() -> bool:
    """Whether a forked child can enter a network namespace of its own."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = 0 if isolation.enter_network_namespace() and isolation.network_isolated() else 1
        finally:
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0


def _kill_group(pid: int) -> None:
    """SIGKILL ``pid`` (not reaped yet: still ours) and its process group (its session's, once it
    called setsid: the group's id is its pid, which nothing else can hold until it is reaped)."""
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _job(order: Order) -> NoReturn:
    """The forked job: sandbox itself, run the notebook, write the result, exit."""
    code = 1
    try:
        _sandboxed_run(order)
        code = 0
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(code)


def _sandboxed_run(order: Order) -> None:
    folder = Path(order.folder)
    _redirect(folder / "job.log")
    zygote = os.getppid()
    os.setsid()  # a session of its own: the zygote kills its whole group
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    # isolated: in a namespace of its own, which shows no interface but its loopback (a machine with
    # only a loopback would show the same, but its 127.0.0.1 services would still be reachable)
    isolated = order.isolate and isolation.enter_network_namespace() and isolation.network_isolated()
    _die_with(zygote)
    os.environ.clear()
    os.environ.update(order.environment)
    tempfile.tempdir = None  # read again, from TMPDIR
    os.chdir(order.environment["HOME"])
    from . import job

    result = job.execute(job.Request(**order.request), isolated)
    (folder / "result.json").write_text(json.dumps(asdict(result)))


def _redirect(log: Path) -> None:
    """stdin and stdout to /dev/null, stderr to ``log``, every other descriptor (the zygote's) closed."""
    null = os.open(os.devnull, os.O_RDWR)
    written = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.dup2(written, 2)
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))


def _die_with(zygote: int) -> None:
    """SIGKILL this process when the zygote dies (then the runner's sweep finds what it started)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != zygote:  # it died already
        os._exit(1)
