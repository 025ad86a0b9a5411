"""Running notebooks (``nbsql run``): each in a sandboxed, throw-away copy of its folder, its new
outputs compared with the saved ones, every run recorded in ``executions`` and ``execution_cells``.

Nothing else in nbsql ever executes a notebook.
"""

from __future__ import annotations

from .runner import RunOptions, RunReport, run, run_with

__all__ = ["RunOptions", "RunReport", "run", "run_with"]
