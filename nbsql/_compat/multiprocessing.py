"""multiprocessing's Pool, made to wait without polling and to stop without waiting.

Checked against CPython 3.10 to 3.13 (``SUPPORTED``, Python's own version: the pool is the
standard library's). What it relies on: ``Pool._get_sentinels`` (what the worker-handler thread
waits on), ``_change_notifier``, ``_worker_handler._state``, ``_state``, ``_terminate`` (the
finalizer that runs the orderly shutdown) and ``_pool`` (the worker processes).
``tests/test_compat_multiprocessing.py`` compares it with the stock pool; ``tests/test_load.py``
fails the writer mid-load and kills loads, where :meth:`Pool.abandon` must not hang.
"""

from __future__ import annotations

import multiprocessing.pool
import platform

from . import require

SUPPORTED = ">=3.10,<3.14"
require("Python", SUPPORTED, platform.python_version())


class Pool(multiprocessing.pool.Pool):
    """multiprocessing's Pool, minus a busy loop.

    Its worker-handler thread also waits on the results pipe, so while a large result is being
    read it wakes up again and again to poll every worker: a third of a second of the parent's
    time per 1,000 notebooks. Worker exits and state changes have sentinels of their own.
    """

    def _get_sentinels(self) -> list:  # type: ignore[override]
        return [self._change_notifier._reader]  # type: ignore[attr-defined]

    def abandon(self) -> None:
        """Kill the workers and leave the pool's threads behind, without the orderly shutdown of
        :meth:`terminate`: a worker killed while sending a result keeps the results pipe's lock,
        and that shutdown then waits for it forever (a load that hit a full disk hung so)."""
        # first, or the worker-handler thread would start new workers in place of the killed ones
        self._worker_handler._state = self._state = multiprocessing.pool.TERMINATE  # type: ignore[attr-defined]
        self._terminate.cancel()  # type: ignore[attr-defined]  # no shutdown when the pool is collected or the program exits
        workers = self._pool  # type: ignore[attr-defined]
        for process in workers:
            process.kill()
        for process in workers:
            process.join()
