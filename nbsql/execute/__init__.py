"""Running notebooks (``nbsql run``): each in a sandboxed, throw-away copy of its folder, its new
outputs compared with the saved ones, every run recorded in ``executions`` and ``execution_cells``.

Nothing else in nbsql ever executes a notebook. The runner is imported on first use; what the jobs
need (nbclient, zmq, ``job``, ``compare``) is imported once per run command, by the zygote that
forks them (``zygote``), not by the command's own process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .runner import RunOptions, RunReport, run, run_with

__all__ = ["RunOptions", "RunReport", "run", "run_with"]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'nbsql.execute' has no attribute {name!r}")
    from . import runner

    return getattr(runner, name)
