"""``nbsql run``: load the notebooks, run each in a sandboxed job process of its own, N at a time,
and write each finished run in one transaction. The jobs are forked by a zygote (``zygote``), started
while the notebooks load, which has imported what they need.

Ctrl-C kills the running jobs (their kernels and every process they started) and keeps the runs
already written.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import closing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..database import NbsqlError, open_for_writing
from ..health.config import Settings
from ..roots import contains
from ..walk import resolved
from ..writer import now
from . import isolation
from .job import Request, Result
from .kernel import find_kernel
from .store import Run, Target, plan, ran_unchanged, targets, write_run
from .zygote import Job, Order, Zygote

ORDERS = ("cells", "counts")
#: Seconds a job may take beyond the notebook's timeout (starting the kernel, stopping) before it is
#: killed from outside.
GRACE = 60
#: Seconds to wait for a killed job to be reaped.
KILL_WAIT = 30


@dataclass(frozen=True)
class RunOptions:
    """How ``nbsql run`` runs notebooks: built once by the CLI or :func:`run`'s keywords."""

    jobs: int = 1
    cell_timeout: float | None = 600.0
    timeout: float | None = 3600.0
    kernel: str | None = None  # overrides each notebook's kernelspec
    parameters: tuple[tuple[str, Any], ...] = ()
    order: str = "cells"
    changed_only: bool = False
    network: bool = False  # True: the machine's network (no namespace)
    memory_limit: int | None = 8 * 1024 ** 3  # RLIMIT_AS of the kernel, in bytes
    settings: Settings | None = None  # the health checks of the load and of the rules that read runs

    def __post_init__(self) -> None:
        if self.jobs < 1:
            raise NbsqlError(f"jobs must be 1 or more, not {self.jobs}")
        if self.order not in ORDERS:
            raise NbsqlError(f"order must be cells or counts, not {self.order!r}")
        for value in (self.cell_timeout, self.timeout, self.memory_limit):
            if value is not None and value <= 0:
                raise NbsqlError(f"timeouts and the memory limit must be positive, not {value}")

    @property
    def parameters_dict(self) -> dict[str, Any] | None:
        return dict(self.parameters) or None


@dataclass
class RunReport:
    """What one ``nbsql run`` did."""

    db: str
    statuses: Counter = field(default_factory=Counter)
    unchanged: int = 0  # skipped by --changed-only
    ambiguous: int = 0  # skipped by --order counts
    seconds: float = 0.0
    notebooks: list[int] = field(default_factory=list)  # ids of the notebooks in scope

    @property
    def ran(self) -> int:
        return sum(self.statuses.values())

    @property
    def failed(self) -> int:
        return self.ran - self.statuses["ok"]

    def summary(self) -> str:
        parts = [f"{self.ran} run"] + [f"{count} {status}" for status, count in sorted(self.statuses.items())]
        if self.unchanged:
            parts.append(f"{self.unchanged} unchanged since their last run")
        if self.ambiguous:
            parts.append(f"{self.ambiguous} not run: ambiguous execution counts")
        per_minute = 60 * self.ran / self.seconds if self.seconds else 0.0
        return ", ".join(parts) + f" in {self.seconds:.1f}s ({per_minute:.0f} notebooks/min)"


class _Jobs:
    """The job processes running now, so that Ctrl-C can kill them and all they started."""

    def __init__(self, zygote: Zygote) -> None:
        self.zygote = zygote
        self.lock = threading.Lock()
        self.running: dict[int, tuple[Job, str]] = {}
        self.stopped = threading.Event()

    def start(self, order: Order, marker: str) -> Job:
        job = self.zygote.fork(order)
        with self.lock:
            self.running[job.number] = (job, marker)
        return job

    def kill(self, job: Job, marker: str) -> None:
        """SIGKILL the job's process group, then every process carrying its marker."""
        self.zygote.kill(job)
        isolation.kill_marked(marker)

    def finish(self, job: Job, marker: str) -> None:
        with self.lock:
            self.running.pop(job.number, None)
        self.kill(job, marker)

    def kill_all(self) -> None:
        self.stopped.set()
        with self.lock:
            running = list(self.running.values())
        for job, marker in running:
            self.kill(job, marker)


def run(paths: str | Path | Iterable[str | Path], db: str | Path | None = None,
        progress: Callable[[int, int], None] | None = None, **options: Any) -> RunReport:
    """Run every notebook below ``paths`` (loaded first, incrementally) and record the runs in
    ``db``; the keywords are :class:`RunOptions`' (``parameters`` a dict)."""
    parameters = options.pop("parameters", None) or {}
    return run_with(paths, db, RunOptions(parameters=tuple(parameters.items()), **options), progress)


def run_with(paths: str | Path | Iterable[str | Path], db: str | Path | None, options: RunOptions,
             progress: Callable[[int, int], None] | None = None) -> RunReport:
    """:func:`run` with its options in one object, as the CLI builds them."""
    check_dependencies()
    from ..database import default_db
    from ..health.store import run_corpus_rules
    from ..load import load

    started = time.perf_counter()
    chosen_paths = [os.fsdecode(p) for p in ([paths] if isinstance(paths, (str, bytes, os.PathLike)) else paths)]
    db = str(db or default_db())
    settings = options.settings or Settings()
    report = RunReport(db)
    with Zygote(papermill=bool(options.parameters)) as zygote:  # importing while the notebooks load
        load(chosen_paths, db, settings=settings)
        conn = open_for_writing(db)
        try:
            todo = _todo(conn, chosen_paths, options, report)
            with closing(_run_all(todo, options, zygote, progress)) as runs:  # closed on Ctrl-C: jobs killed
                for finished in runs:
                    write_run(conn, finished)
                    report.statuses[finished.result.status] += 1
            run_corpus_rules(conn, settings)  # the rules that read the latest runs
        finally:
            conn.close()
    report.seconds = time.perf_counter() - started
    return report


#: The distributions of the run extra (pip install 'nbsql[run]'), by the module each provides.
RUN_EXTRA = {"nbclient": "nbclient", "jupyter_client": "jupyter-client", "papermill": "papermill", "PIL": "Pillow"}


def check_dependencies() -> None:
    """Raise a one-line :class:`NbsqlError` unless the run extra is installed."""
    from importlib.util import find_spec

    missing = [name for module, name in RUN_EXTRA.items() if find_spec(module) is None]
    if missing:
        raise NbsqlError(f"nbsql run needs {', '.join(missing)}: pip install 'nbsql[run]'")


def _todo(conn: sqlite3.Connection, paths: list[str], options: RunOptions,
          report: RunReport) -> list[tuple[Target, list[int]]]:
    """The notebooks below ``paths`` to run, with their plans; counts the others in ``report``."""
    chosen = _in_scope(targets(conn), paths)
    report.notebooks = [target.id for target in chosen]
    todo = []
    for target in chosen:
        if options.changed_only and ran_unchanged(conn, target, options.order):
            report.unchanged += 1
        elif (positions := plan(conn, target.id, options.order)) is None:
            report.ambiguous += 1
        else:
            todo.append((target, positions))
    return todo


def _in_scope(stored: list[Target], paths: list[str]) -> list[Target]:
    prefixes = [resolved(path) for path in paths]
    return [t for t in stored if any(contains(prefix, os.path.join(t.root, t.path)) for prefix in prefixes)]


def _run_all(todo: list[tuple[Target, list[int]]], options: RunOptions, zygote: Zygote,
             progress: Callable[[int, int], None] | None):
    """The finished runs, as they finish, ``options.jobs`` at a time."""
    jobs = _Jobs(zygote)
    total = len(todo)
    if progress:
        progress(0, total)
    pending = iter(todo)
    finished = 0
    with ThreadPoolExecutor(options.jobs, thread_name_prefix="nbsql-run") as pool:
        running: set[Future] = set()
        try:
            while True:  # a bounded window: a few runs' results in memory at a time
                while len(running) < options.jobs and (item := next(pending, None)) is not None:
                    running.add(pool.submit(_run_one, *item, options, jobs))
                if not running:
                    break
                done, running = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    finished += 1
                    yield future.result()
                    if progress:
                        progress(finished, total)
        except BaseException:  # Ctrl-C, or the caller stopped: kill the kernels, write nothing more
            jobs.kill_all()
            for future in running:
                future.cancel()
            raise


def _run_one(target: Target, positions: list[int], options: RunOptions, jobs: _Jobs) -> Run:
    """Run one notebook in a throw-away copy of its folder, in a job process of its own."""
    started, clock = now(), time.perf_counter()
    kernel = find_kernel(target.kernel_name, options.kernel)
    parameters = options.parameters_dict

    def finished(result: Result, left_out: int = 0) -> Run:
        return Run(target, started, time.perf_counter() - clock, kernel.name, options.order, parameters, result,
                   left_out)

    if kernel.missing or kernel.name is None:
        return finished(Result("kernel-missing", False, exception_name="NoSuchKernel",
                               exception_value=kernel.missing))
    scratch = Path(tempfile.mkdtemp(prefix="nbsql-run-"))
    try:
        source = Path(target.root, target.path)
        copied = isolation.copy_folder(source.parent, scratch / "folder")
        notebook = copied.folder / source.name
        if not notebook.exists():  # left out by the size limit: the notebook itself always runs
            notebook.write_bytes(source.read_bytes())
        marker = secrets.token_hex(12)
        request = Request(str(notebook), positions, kernel.name, kernel.language, options.cell_timeout,
                          options.timeout, options.memory_limit, [str(copied.folder), str(source.parent)],
                          parameters)
        environment = isolation.scrubbed_environment(scratch / "home", marker, kernel.data_dir)
        isolate = not options.network and jobs.zygote.isolates()
        if jobs.stopped.is_set():
            raise KeyboardInterrupt
        job = jobs.start(Order(asdict(request), environment, str(scratch), isolate), marker)
        try:
            deadline = None if options.timeout is None else options.timeout + GRACE
            if job.ended.wait(deadline):
                result = _result(scratch, job)
            else:
                jobs.kill(job, marker)
                job.ended.wait(KILL_WAIT)
                result = Result("timeout", isolate, exception_name="TimeoutError",
                                exception_value=f"the run did not end within {deadline:g} seconds")
        finally:
            jobs.finish(job, marker)
        if jobs.stopped.is_set():
            raise KeyboardInterrupt  # killed by Ctrl-C: not a run to record
        return finished(result, copied.left_out)
    finally:
        isolation.remove_tree(scratch)


def _result(scratch: Path, job: Job) -> Result:
    """The job's result, or a crash when it wrote none (it was killed, or failed to start)."""
    try:
        return Result.from_json(json.loads((scratch / "result.json").read_bytes()))
    except (OSError, ValueError, TypeError, KeyError):
        try:
            lines = (scratch / "job.log").read_text("utf-8", "replace").strip().splitlines()
        except OSError:
            lines = []
        reason = lines[-1] if lines else job.reason or f"the run's process ended with code {job.code}"
        return Result("crashed", False, exception_name="JobFailed", exception_value=reason[:2000])
