"""What ``--dask`` names, checked before a load begins, and a client connected to it."""

from __future__ import annotations

import gc
import logging
import os
import re
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING

from ..errors import NbsqlError

if TYPE_CHECKING:
    from distributed import Client

_LOCAL = re.compile(r"local(?::([1-9][0-9]{0,3}))?")
_REMOTE = re.compile(r"(?:tcp|tls|ucx|ws|wss|inproc)://\S+")
#: Seconds to wait for a scheduler to answer.
CONNECT_TIMEOUT = 10


def with_jobs(address: str, jobs: int | None) -> str:
    """``--dask`` and ``--jobs`` together: ``local`` takes its worker count from ``jobs``; any other
    address (a cluster's, or ``local:N``) already says how many workers run, and ``jobs`` is refused."""
    if jobs is None:
        return address
    if address == "local":
        return f"local:{jobs}"
    raise NbsqlError(f"--jobs does not apply with --dask {address}: the cluster's workers do the work "
                     f"(for N local workers, use --dask local:N)")


def check_address(address: str) -> None:
    """A one-line :class:`NbsqlError` unless ``address`` is ``local``, ``local:N`` or a scheduler's
    address (``tcp://HOST:PORT``)."""
    if not (_LOCAL.fullmatch(address) or _REMOTE.fullmatch(address)):
        raise NbsqlError(f"--dask takes a scheduler's address (tcp://HOST:PORT) or local[:N] (N worker processes "
                         f"on this machine), not {address!r}")


@contextmanager
def connected(address: str) -> Iterator[Client]:
    """A Dask client of the scheduler at ``address``, or of a new local cluster of worker processes
    (one thread each) for ``local[:N]`` (N: this machine's cores by default; see
    :func:`forked_workers`), which takes the results from the workers directly; closed afterwards."""
    check_address(address)
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise NbsqlError("--dask needs Dask's distributed scheduler: pip install 'nbsql[dask]'") from None
    local = _LOCAL.fullmatch(address)
    if local:
        from .worker import PARENT

        workers = int(local.group(1) or os.cpu_count() or 1)
        # Objects from before the workers start are frozen while the cluster runs, as during a load on
        # the local pool: a forked worker's collector never frees one (an SQLite connection another
        # thread holds, say) nor copies the pages holding them, and this process's own full
        # collections, while it takes the results, skip them.
        gc.freeze()
        try:
            with forked_workers():
                cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", silence_logs=logging.ERROR,
                                       preload=["nbsql.cluster.worker"], env={PARENT: str(os.getpid())})
            try:  # results straight from the workers, on this machine, not relayed by the scheduler
                with Client(cluster, direct_to_workers=True) as client:
                    yield client
            finally:
                cluster.close()
        finally:
            gc.unfreeze()
        return
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT)
    except (OSError, ValueError) as exc:  # refused, timed out, an address Dask cannot parse
        raise NbsqlError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    with client:
        yield client


#: Whether a local cluster's workers fork from the loading process (see :func:`forked_workers`).
FORKS = sys.platform.startswith("linux")


@contextmanager
def forked_workers() -> Iterator[None]:
    """Worker processes started within: forked from this process on Linux, as the local pool's are,
    rather than spawned. They start in a tenth of the time, with nbsql's modules imported and the
    checks' set-up made (:func:`nbsql.health.check.prepare_checks`, called before), where a spawned
    worker imports them all again. Only the first workers: a nanny's restart of a worker, later,
    spawns it. Each gets distributed's offload executor anew (see :mod:`nbsql._compat.distributed`).

    Forking with other threads running (Dask's event loop, its nannies' watchers) is what Dask's
    ``fork`` method does. A lock another thread holds at the fork stays held in the worker: the
    locks that matter are the import's, and the modules a worker imports as it starts (a worker's
    HTTP routes, ``numpy.random`` when numpy is loaded) are not those this process's event loop
    imports then (the scheduler's routes, before the forks; package metadata, as workers join).
    """
    if not FORKS:
        yield
        return
    import dask

    from .._compat.distributed import fresh_offload_thread

    with dask.config.set({"distributed.worker.multiprocessing-method": "fork"}), fresh_offload_thread():
        yield


class Cluster:
    """Where a load sends its per-file work: a scheduler, connected at once (so that one that cannot
    be reached is an error before the database is touched), or a local cluster, started only when
    there is work to send (an unchanged re-run starts none)."""

    def __init__(self, address: str):
        check_address(address)
        self.address = address
        self._stack = ExitStack()
        self._client: Client | None = None

    def __enter__(self) -> Cluster:
        if not _LOCAL.fullmatch(self.address):
            self.client  # noqa: B018  (connects)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()

    @property
    def forks(self) -> bool:
        """Whether the workers will fork from this process (a local cluster not started yet, on Linux):
        what they need is best made before :attr:`client` starts them."""
        return FORKS and self._client is None and bool(_LOCAL.fullmatch(self.address))

    @property
    def client(self) -> Client:
        """The client, connected (or its local cluster started) on first use."""
        if self._client is None:
            self._client = self._stack.enter_context(connected(self.address))
        return self._client
