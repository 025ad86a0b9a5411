"""The start of a local cluster's worker process (``--dask local[:N]``), as a Dask worker preload.

On Linux the workers fork from the loading process (:func:`.connect.forked_workers`), so a pipe or a
lock file the loading process holds is open in them too, and Dask's own watch of its parent (a
pipe each worker inherits the others' ends of) cannot see the loading process die: each worker
asks Linux to kill it when the loading process dies, as the local pool's workers do.
"""

from __future__ import annotations

import os
import signal
from typing import Any

#: The environment variable that gives a worker the loading process's id.
PARENT = "NBSQL_LOAD_PID"


def dask_setup(worker: Any) -> None:
    """Called by Dask in each worker process as it starts (a worker restarted by its nanny too)."""
    from ..load import _die_with

    parent = os.environ.get(PARENT)
    if parent and parent.isdigit():
        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the loading process's: it closes the cluster
        except ValueError:  # not the main thread
            pass
        _die_with(int(parent))
