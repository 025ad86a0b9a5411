"""distributed's offload thread, made anew in a worker process forked from the loading process.

Checked against distributed 2024.1.0 and 2025.1.0 (their source) and 2026.8.0 (installed, tested):
``SUPPORTED``, within which ``pyproject.toml``'s ``dask`` extra pins distributed. What it relies on:
``distributed.utils._offload_executor``, the module's executor of one thread through which
``distributed.utils.offload`` runs work off the event loop (serialising a message over 10 MiB: a
task's results, say), looked up when called, and which a ``Worker`` takes as its ``"offload"``
executor when it is made. A process forked after that thread started has the executor but not the
thread, and the executor starts no other: the first large result would wait forever.
``tests/test_cluster.py`` forks workers from a process whose offload thread runs and takes a large
result from them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from . import require

SUPPORTED = ">=2024.1,<2026.9"
require("distributed", SUPPORTED)

_forking = False


@contextmanager
def fresh_offload_thread() -> Iterator[None]:
    """A process forked within gets distributed's offload executor anew (its thread starts when
    first needed); forks elsewhere are left as they are."""
    global _forking
    _forking = True
    try:
        yield
    finally:
        _forking = False


def _after_fork_in_child() -> None:
    if _forking:  # as it was in the parent when it forked
        from distributed import utils

        utils._offload_executor = type(utils._offload_executor)(max_workers=1, thread_name_prefix="Dask-Offload")


os.register_at_fork(after_in_child=_after_fork_in_child)
