"""The per-file step on a Dask cluster: a bounded window of files in flight, results in order.

The writer takes results in the order the files were sent, as a local load's pool gives them, so
a load on a cluster writes the same database, ids included. Files go in tasks of :data:`CHUNK`, and
at most :data:`AHEAD` tasks per worker thread are sent before their results are taken: the
writer's backpressure, which keeps memory flat on both sides however many files there are.
Workers read the files by their paths (a filesystem they share with the loading process).
"""

from __future__ import annotations

import gc
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ..errors import NbsqlError
from ..writer import FileResult

if TYPE_CHECKING:
    from distributed import Client, Future

#: Files a worker is sent in one task: a task's round trip through the scheduler costs more than a
#: small notebook's processing.
CHUNK = 8
#: The garbage collector's thresholds in a worker, of the local pool or of a cluster: a cell's syntax
#: tree is thousands of objects, freed by reference counting, so collecting young objects every 700
#: allocations (Python's default) mostly finds live ones.
WORKER_GC_THRESHOLD = (10_000, 10, 10)
#: Tasks in flight per worker thread.
AHEAD = 3
#: Seconds between checks that the cluster still has a worker, while a result is awaited.
POLL = 5.0
#: Seconds without any worker after which the load stops (the cluster's nannies restart dead
#: workers within seconds).
NO_WORKER_LIMIT = 60.0


def results(client: Client, step: Callable[[Any], FileResult], tasks: list[Any]) -> Iterator[FileResult]:
    """``step(task)`` of every task on the cluster's workers, in the tasks' order. A file whose
    worker died while processing it (and again on as many other workers as the scheduler allows,
    ``distributed.scheduler.allowed-failures``) is a load error of its own; a cluster that lost
    every worker, or its scheduler, stops the load with an :class:`NbsqlError`."""
    from distributed import KilledWorker

    threads = max(1, sum(client.nthreads().values()))
    pending: deque[tuple[list[Any], Future]] = deque()
    chunks = (tasks[first:first + CHUNK] for first in range(0, len(tasks), CHUNK))

    def send(count: int) -> None:
        for chunk in chunks:
            pending.append((chunk, client.submit(_each, step, chunk, pure=False)))
            count -= 1
            if not count:
                return

    send(AHEAD * threads)
    try:
        while pending:
            chunk, future = pending.popleft()
            try:
                done = _awaited(client, future)
            except KilledWorker:  # which of its files kills workers: each is tried on its own
                done = [_alone(client, step, task) for task in chunk]
            future.release()
            send(1)
            yield from done
    finally:
        if pending:
            client.cancel([future for _, future in pending])


def _each(step: Callable[[Any], FileResult], chunk: list[Any]) -> list[FileResult]:
    """The files of one task, with the local pool's workers' collector thresholds, set back after
    (a cluster's workers may run other work)."""
    thresholds = gc.get_threshold()
    gc.set_threshold(*WORKER_GC_THRESHOLD)
    try:
        return [step(task) for task in chunk]
    finally:
        gc.set_threshold(*thresholds)


def _alone(client: Client, step: Callable[[Any], FileResult], task: Any) -> FileResult:
    """``step(task)`` in a task of its own; a load error when it kills every worker it is tried on."""
    from distributed import KilledWorker

    future = client.submit(step, task, pure=False)
    try:
        return _awaited(client, future)
    except KilledWorker as exc:
        return FileResult(task.root, task.path, task.size, task.mtime,
                          error=("worker_died", f"a Dask worker died while processing this file, each time it "
                                                f"was tried ({exc})"))
    finally:
        future.release()


def _awaited(client: Client, future: Future) -> Any:
    """The future's result, checking every :data:`POLL` seconds that the cluster can still give it."""
    from distributed import TimeoutError as DaskTimeout
    from distributed.client import FutureCancelledError

    alone_since = None
    while True:
        try:
            return future.result(timeout=POLL)
        except (DaskTimeout, TimeoutError):
            if client.status != "running":
                raise NbsqlError("the connection to the Dask scheduler was lost") from None
            if client.nthreads():
                alone_since = None
            elif alone_since is None:
                alone_since = time.monotonic()
            elif time.monotonic() - alone_since > NO_WORKER_LIMIT:
                raise NbsqlError(f"the Dask cluster has had no worker for {NO_WORKER_LIMIT:g} s") from None
        except FutureCancelledError:
            raise NbsqlError("the Dask scheduler cancelled the load's work (restarted, or lost)") from None
