"""``nbsql load``: walk -> parallel per-file step -> one writer; incremental and pruning.

The per-file step (:func:`process_bytes`) is a pure function of the file's bytes, so it can run in
worker processes here or on a distributed engine elsewhere.
"""

from __future__ import annotations

import ctypes
import gc
import hashlib
import json
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__
from ._compat.multiprocessing import Pool
from .cluster.connect import Cluster, check_address, with_jobs
from .cluster.dispatch import WORKER_GC_THRESHOLD
from .cluster.dispatch import results as on_cluster
from .database import (
    NbsqlError,
    building,
    check_loadable,
    default_db,
    one_load_at_a_time,
    open_for_writing,
    remove_stale_builds,
    transaction,
)
from .health.config import Settings
from .health.store import clear_corpus_findings, run_corpus_rules, store_rules
from .model import JSON, NotebookError
from .read import parse_buffer, parse_json_repaired
from .roots import absorb, below, outermost, relative, stored_roots
from .schema import create_late_indexes
from .walk import Found, escaped, find_notebooks, is_text, resolved
from .writer import FileResult, Writer, now

if TYPE_CHECKING:
    from .rows import NotebookRows

#: Files below this count are parsed in-process: starting workers (or a local Dask cluster) would cost more.
PARALLEL_THRESHOLD = 16
#: Files a worker of the local pool may be sent before the writer has taken their results: the
#: results wait in the loading process, so a pool faster than the writer (without the checks)
#: would fill its memory (a load of 10,000 notebooks peaked at 263 MB, against 96 MB with checks).
IN_FLIGHT_PER_WORKER = 16
BATCH_FILES = 50
BATCH_BYTES = 32 * 1024 * 1024
_PR_SET_PDEATHSIG = 1  # prctl(2)


@dataclass
class LoadReport:
    """What one run did; ``errors`` lists (path, kind, message) of files that failed this run."""

    db: str
    load_id: int
    seen: int = 0
    loaded: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: int = 0
    seconds: float = 0.0
    errors: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def notebooks_per_second(self) -> float:
        return (self.loaded + self.unchanged) / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        return (f"{self.loaded} loaded, {self.unchanged} unchanged, {self.removed} removed, {self.failed} failed "
                f"in {self.seconds:.2f}s ({self.notebooks_per_second:.0f} notebooks/s)")


@dataclass(frozen=True)
class LoadOptions:
    """How one run loads: built once, by the CLI or :func:`load`, and passed down unchanged to the
    run, its pool and its workers (``settings`` None: without the health checks)."""

    full: bool = False
    jobs: int | None = None
    exclude: tuple[str, ...] = ()
    prune: bool = True
    follow_symlinks: bool = False
    settings: Settings | None = None
    dask: str | None = None  # a Dask scheduler's address, or local[:N]: the per-file work runs there

    @classmethod
    def of(cls, *, full: bool = False, jobs: int | None = None, exclude: str | Iterable[str] = (),
           prune: bool = True, follow_symlinks: bool = False, checks: bool = True,
           settings: Settings | None = None, dask: str | None = None) -> LoadOptions:
        """The options :func:`load`'s keywords say: a single exclude pattern may be a string, and
        ``checks`` runs the health rules with ``settings`` (the defaults when None)."""
        if jobs is not None and jobs < 1:
            raise NbsqlError(f"jobs must be 1 or more, not {jobs}")
        if dask is not None:
            dask, jobs = with_jobs(dask, jobs), None
            check_address(dask)
        patterns = (exclude,) if isinstance(exclude, str) else tuple(exclude)  # one pattern, not its characters
        return cls(full, jobs, patterns, prune, follow_symlinks, (settings or Settings()) if checks else None, dask)

    def as_json(self) -> dict:
        return {"full": self.full, "jobs": self.jobs, "exclude": list(self.exclude), "prune": self.prune,
                "follow_symlinks": self.follow_symlinks,
                "checks": self.settings.fingerprint if self.settings else None, "dask": self.dask}


@dataclass(frozen=True, slots=True)
class Task:
    root: str
    path: str
    size: int | None  # as the walk found them (known for every file it could stat)
    mtime: float | None
    known_sha256: str | None


def process_bytes(data: bytes, path: str = "", settings: Settings | None = None) -> NotebookRows:
    """The pure per-file step: notebook bytes -> rows and, with ``settings``, findings.

    Raises :class:`NotebookError` for bytes that are not a notebook.
    """
    return process_json(*parse_json_repaired(data), path=path, size=len(data), settings=settings)


def process_json(raw: JSON, repairs: list[str], path: str = "", size: int = 0,
                 settings: Settings | None = None) -> NotebookRows:
    """:func:`process_bytes` after parsing: ``raw`` is the file's JSON, ``size`` its length in bytes."""
    from .health.check import check_notebook
    from .health.store import finding_rows
    from .read import normalise
    from .rows import analyses_python, code_facts, notebook_rows

    notebook = normalise(raw, repairs)
    facts = code_facts(notebook, trees=settings is not None)
    rows = notebook_rows(notebook, facts)
    if settings is not None:
        findings = check_notebook(notebook, facts, settings, path=path, size=size, raw=raw,
                                  python=analyses_python(notebook))
        rows.tables["findings"] = finding_rows(findings, notebook)
        rows.notebook["checked_with"] = settings.fingerprint
    return rows


def _start_worker(parent: int) -> None:
    """A worker process's initializer."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the loading process's to handle: it stops the pool
    _die_with(parent)
    gc.set_threshold(*WORKER_GC_THRESHOLD)  # a twentieth of the work with the default thresholds


def _die_with(parent: int) -> None:
    """Have Linux kill this worker when the loading process dies, even by SIGKILL: left alone, it
    would finish its file and fail, with a traceback, to send the result down a closed pipe."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError, TypeError):  # not Linux
        return
    if os.getppid() != parent:  # it died before the request was made
        os._exit(1)


def process_task(task: Task, options: LoadOptions) -> FileResult:
    """Read one file and run the per-file step; every failure becomes an error result."""
    result = FileResult(task.root, task.path, task.size, task.mtime)
    try:
        data = _read(os.path.join(task.root, task.path))
    except OSError as exc:
        result.error = ("unreadable", f"cannot read: {exc.strerror}")
        return result
    result.size = len(data)
    result.sha256 = hashlib.sha256(data).hexdigest()
    if result.sha256 == task.known_sha256:
        result.unchanged = True
        return result
    try:
        parsed = parse_buffer(data)  # a large file's buffer is emptied once decoded
        del data  # not held while the notebook is analysed
        result.rows = process_json(*parsed, path=task.path, size=result.size, settings=options.settings)
    except NotebookError as exc:
        result.error = (exc.kind, exc.message)
    except RecursionError:
        result.error = ("too_complex", "nested too deeply to analyse")
    except MemoryError:
        result.error = ("too_large", "not enough memory to load this file")
    except Exception as exc:  # a bug of ours must not abort the run: record it and go on
        result.error = ("internal", f"nbsql could not process this file: {type(exc).__name__}: {exc}")
    return result


def _read(path: str) -> bytearray:
    """A file's bytes, in a buffer :func:`~nbsql.read.parse_buffer` may empty."""
    data = bytearray()
    with open(path, "rb") as handle:
        while chunk := handle.read(_READ_CHUNK):
            data += chunk
    return data


_READ_CHUNK = 1 << 20


def load(paths: str | Path | Iterable[str | Path], db: str | Path | None = None, *, full: bool = False,
         jobs: int | None = None, exclude: str | Iterable[str] = (), prune: bool = True,
         follow_symlinks: bool = False, checks: bool = True, settings: Settings | None = None,
         dask: str | None = None, progress: Callable[[int, int], None] | None = None) -> LoadReport:
    """Load (or refresh) every notebook below ``paths`` into ``db`` and return what happened.

    Unchanged files (same size and mtime, else same SHA-256) are skipped; ``full`` rebuilds from
    scratch; ``prune`` removes notebooks whose files vanished below a loaded folder. With
    ``checks`` the health rules run with ``settings`` (defaults when None); notebooks checked with
    other rules or thresholds are checked again. ``progress(done, total)`` is called as files are
    processed. ``dask`` runs the per-file work on a Dask cluster (a scheduler's address, or
    ``local[:N]`` for N local worker processes; ``local`` with ``jobs``: that many) instead of a local
    pool of ``jobs`` processes. The
    keywords make one :class:`LoadOptions` (see :func:`run`).
    """
    options = LoadOptions.of(full=full, jobs=jobs, exclude=exclude, prune=prune, follow_symlinks=follow_symlinks,
                             checks=checks, settings=settings, dask=dask)
    return run(paths, db, options, progress)


def run(paths: str | Path | Iterable[str | Path], db: str | Path | None, options: LoadOptions,
        progress: Callable[[int, int], None] | None = None) -> LoadReport:
    """:func:`load` with its options in one object, as the CLI builds them."""
    started = time.perf_counter()
    paths = [os.fsdecode(p) for p in ([paths] if isinstance(paths, (str, bytes, os.PathLike)) else paths)]
    if not paths:
        raise NbsqlError("no path given")
    for path in paths:
        if not os.path.lexists(path):
            raise NbsqlError(f"no such file or folder: {path}")
        if not is_text(absolute := resolved(path)):
            raise NbsqlError(f"the path is not valid UTF-8: {escaped(absolute)}")
    db = str(db or default_db())
    if db == ":memory:":
        raise NbsqlError("a load needs a database file (':memory:' would be gone when it ends)")
    if not os.path.isdir(os.path.dirname(db) or "."):  # SQLite reads 'missing/..' as text; the system would not
        raise NbsqlError(f"cannot create the database {db}: no such folder {os.path.dirname(db)}")
    if os.path.islink(db):  # write the file it points to (the database is replaced whole on a first build)
        db = os.path.realpath(db)
    check_loadable(db, rebuild=options.full)  # before the lock file is made beside a file that is not ours
    with ExitStack() as stack:
        cluster = stack.enter_context(Cluster(options.dask)) if options.dask else None  # before the database
        lock = stack.enter_context(one_load_at_a_time(db))
        remove_stale_builds(db)
        if not os.path.exists(db) and lock.held:  # nobody can have it open yet: build it aside, without a journal
            with building(db) as side:
                report = _load(paths, db, open_for_writing(side, aside=True), options, started, progress, cluster,
                               side)
        else:
            conn = open_for_writing(db, rebuild=options.full, verify=not lock.unchanged_since_last_load())
            report = _load(paths, db, conn, options, started, progress, cluster)
        lock.record()
        return report


def _load(paths: list, db: str, conn, options: LoadOptions, started: float,
          progress: Callable[[int, int], None] | None, cluster: Cluster | None, aside: str | None = None) -> LoadReport:
    """One run into ``conn``, its per-file work on ``cluster`` when given; ``aside`` is the side file
    it writes when the database is built aside."""
    settings = options.settings
    try:
        scanned = [(root, found, os.path.isdir(path)) for path in paths
                   for root, found in [find_notebooks(path, options.exclude, options.follow_symlinks)]]
        with transaction(conn):
            store_rules(conn)
            load_id = conn.execute(
                "INSERT INTO loads(started, roots, options, nbsql_version) VALUES (?, ?, ?, ?)",
                (now(), json.dumps([resolved(p) for p in paths]), json.dumps(options.as_json()), __version__),
            ).lastrowid
        report = LoadReport(db=db, load_id=load_id)
        notebooks_before = _notebook_count(conn)
        _run(conn, report, scanned, options, progress, cluster)
        if aside:
            with transaction(conn):
                create_late_indexes(conn)
            _start_writing_back(aside)
        notebooks_changed = report.loaded or report.removed or _notebook_count(conn) != notebooks_before
        if settings is not None:  # (a file that now fails changes the count)
            run_corpus_rules(conn, settings, load_id, notebooks_changed=bool(notebooks_changed))
        elif notebooks_changed:
            clear_corpus_findings(conn, load_id)
        report.seconds = time.perf_counter() - started
        with transaction(conn):
            conn.execute("UPDATE loads SET finished = ?, seconds = ?, seen = ?, loaded = ?, unchanged = ?, "
                         "removed = ?, failed = ? WHERE id = ?",
                         (now(), round(report.seconds, 3), report.seen, report.loaded, report.unchanged,
                          report.removed, report.failed, load_id))
        if conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
    finally:
        conn.close()
    return report


def _notebook_count(conn) -> int:
    return conn.execute("SELECT count(*) FROM notebooks").fetchone()[0]


def _start_writing_back(path: str) -> None:
    """Start writing a database built aside to disk in a thread, while the last steps run: the
    fsync that makes it durable before it replaces the target then waits less."""

    def write_back() -> None:
        try:
            descriptor = os.open(path, os.O_RDONLY)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
        except OSError:
            pass  # only an early start is lost: the switch to WAL syncs the file anyway

    threading.Thread(target=write_back, name="nbsql-write-back", daemon=True).start()


def _run(conn, report: LoadReport, scanned: list[tuple[str, list[Found], bool]], options: LoadOptions,
         progress: Callable[[int, int], None] | None, cluster: Cluster | None) -> None:
    settings = options.settings
    scanned, scopes = _anchored(conn, scanned)
    roots = sorted({root for root, _, _ in scanned})
    wanted = settings.fingerprint if settings else None
    stored = {}
    for root in roots:
        for i, path, size, mtime, sha, checked in conn.execute(
                "SELECT id, path, size, mtime, sha256, checked_with FROM notebooks WHERE root = ?", (root,)):
            current = wanted is None or checked == wanted  # else: check again, whatever the file
            stored[(root, path)] = (i, size, mtime, sha if current else None, current)
    writer = Writer(conn, report.load_id, {key: value[0] for key, value in stored.items()})
    tasks: list[Task] = []
    failed_early: list[FileResult] = []
    seen_keys: set[tuple[str, str]] = set()
    for _, found, _ in scanned:
        for item in found:
            key = (item.root, item.path)
            if key in seen_keys:
                continue
            seen_keys.add(key)
            report.seen += 1
            known = stored.get(key)
            if item.error:
                failed_early.append(FileResult(item.root, item.path, item.size, item.mtime, error=item.error))
            elif known and known[4] and known[1] == item.size and known[2] == item.mtime and \
                    os.access(item.absolute, os.R_OK):  # a permission change leaves both as they were
                report.unchanged += 1
            else:
                tasks.append(Task(item.root, item.path, item.size, item.mtime, known[3] if known else None))
    total = len(tasks) + len(failed_early)
    batch: list[FileResult] = list(failed_early)
    batch_bytes = 0
    for result in failed_early:
        _count(report, result)
    for done, result in enumerate(_results(tasks, options, cluster), len(failed_early) + 1):
        _count(report, result)
        batch.append(result)
        batch_bytes += result.size or 0
        # batches shrink near the end, so that little is left to write once the last file is processed
        if len(batch) >= min(BATCH_FILES, max(1, (total - done) // 4)) or batch_bytes >= BATCH_BYTES:
            writer.write(batch)
            batch, batch_bytes = [], 0
        if progress:
            progress(done, total)
        del result  # its rows are not held while the next file is processed
    writer.write(batch)
    if progress:
        progress(total, total)
    if options.prune:
        def vanished(key: tuple[str, str], named: bool = True) -> bool:
            """Not seen this run, and below a loaded folder or with nothing left at its path (a key that is not
            ``named`` holds an escaped path, which names no file)."""
            return key not in seen_keys and (any(key[0] == root and below(key[1], prefix) for root, prefix in scopes)
                                             or named and not os.path.lexists(os.path.join(*key)))

        removed = [key for key in stored if vanished(key)]
        stale_errors = [(root, path) for loaded_root in roots for root, path, kind in conn.execute(
            "SELECT root, path, kind FROM load_errors WHERE root = ?", (loaded_root,)).fetchall()
            if vanished((root, path), named=kind != "bad_name")]
        writer.prune([stored[key][0] for key in removed], stale_errors)
        report.removed = len(removed)


def _anchored(conn, scanned: list[tuple[str, list[Found], bool]]):
    """Re-root each scan under the outermost loaded folder holding it (see :mod:`nbsql.roots`).

    Returns the re-rooted scans and the (root, relative folder) scopes that pruning may empty.
    """
    with transaction(conn):
        known = stored_roots(conn) | {root for root, _, _ in scanned}
        absorb(conn, known)
    anchored, scopes = [], []
    for root, found, is_folder in scanned:
        anchor = outermost(root, known)
        prefix = relative(root, anchor)
        if prefix:
            found = [replace(f, root=anchor, path=prefix if f.path == "." else f"{prefix}/{f.path}") for f in found]
        anchored.append((anchor, found, is_folder))
        if is_folder:
            scopes.append((anchor, prefix))
    return anchored, scopes


def _count(report: LoadReport, result: FileResult) -> None:
    if result.error:
        report.failed += 1
        report.errors.append((os.path.join(result.root, result.path), *result.error))
    elif result.unchanged:
        report.unchanged += 1
    else:
        report.loaded += 1


class _Bounded:
    """The pool's tasks, at most ``limit`` of them sent and not yet taken by the writer: the
    pool's task thread waits for a slot before it sends the next (backpressure)."""

    def __init__(self, tasks: Iterable[Task], limit: int):
        self.tasks = tasks
        self.slots = threading.Semaphore(limit)
        self.stopped = False

    def __iter__(self) -> Iterator[Task]:
        for task in self.tasks:
            self.slots.acquire()
            if self.stopped:
                return
            yield task

    def taken(self) -> None:
        self.slots.release()

    def stop(self) -> None:
        """Send nothing more; a task thread waiting for a slot ends."""
        self.stopped = True
        self.slots.release()


def _results(tasks: list[Task], options: LoadOptions, cluster: Cluster | None) -> Iterator[FileResult]:
    if not tasks:  # an unchanged re-run: the per-file step and its libraries are not even imported
        return
    # imported here, in the loading process: a library outside the range nbsql was checked against
    # is then one error for the run (see nbsql._compat), not one per file
    from ._compat import nbformat  # noqa: F401  (its version only: nbformat itself is imported to upgrade)
    from .health.check import prepare_checks
    from .rows import notebook_rows  # noqa: F401

    step = partial(process_task, options=options)  # the options go to the workers with their tasks
    jobs = options.jobs or os.cpu_count() or 1
    if len(tasks) < PARALLEL_THRESHOLD or (cluster is None and jobs <= 1):
        yield from map(step, tasks)
        return
    if cluster is not None:
        if options.settings is not None and cluster.forks:
            prepare_checks()  # compiled once here, inherited by the forked workers
        yield from on_cluster(cluster.client, step, tasks)
        return
    if options.settings is not None:
        prepare_checks()  # compiled once here, inherited by the forked workers
    method = "fork" if sys.platform.startswith("linux") else None
    # Objects from before the fork are never collected in the workers: collecting one (an SQLite
    # connection of another thread of the caller, say) could wait forever on a lock that thread
    # held when the process forked.
    gc.freeze()
    try:
        pool = Pool(jobs, _start_worker, (os.getpid(),), context=multiprocessing.get_context(method))
        feed = _Bounded(tasks, jobs * IN_FLIGHT_PER_WORKER)
        try:
            for result in pool.imap(step, feed, chunksize=2):
                yield result
                feed.taken()
        except BaseException:  # an error while writing, Ctrl-C, or the caller stopped reading
            feed.stop()
            pool.abandon()
            raise
        pool.terminate()  # every result is in: the workers wait for tasks, holding no lock
    finally:
        gc.unfreeze()
