"""Runs as rows: ``executions`` and ``execution_cells``, a run written whole in one transaction,
and what the runner asks the database (the notebooks to run, their plans, their last runs)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from .. import __version__
from ..database import transaction
from ..schema import TABLE
from .compare import COMPARISON
from .failures import classify
from .job import Result


@dataclass(frozen=True)
class Target:
    """A stored notebook to run."""

    id: int
    root: str
    path: str
    sha256: str | None
    kernel_name: str | None


@dataclass(frozen=True)
class Run:
    """One finished run, as the runner hands it to :func:`write_run`."""

    target: Target
    started: str
    seconds: float
    kernel_name: str | None
    order: str
    parameters: dict | None
    result: Result
    files_left_out: int = 0


def _insert_sql(table: str) -> str:
    """The INSERT of ``table``'s row type, naming its columns."""
    fields = TABLE[table].row._fields
    return f"INSERT INTO {table}({', '.join(fields)}) VALUES ({', '.join('?' * len(fields))})"


def write_run(conn: sqlite3.Connection, run: Run) -> int:
    """Store one run and its cells in one transaction; returns the run's id."""
    result = run.result
    failure = classify(result.status, result.exception_name, result.exception_value)
    different = sum(cell.comparison != "same" for cell in result.cells)
    execution = TABLE["executions"].row(
        id=None, notebook=run.target.id, sha256=run.target.sha256, started=run.started, seconds=round(run.seconds, 3),
        status=result.status, failure_class=failure and failure.failure_class,
        missing_module=failure and failure.missing_module, failing_cell=result.failing_cell,
        exception_name=result.exception_name, exception_value=result.exception_value, kernel_name=run.kernel_name,
        language_version=result.language_version, isolated=int(result.isolated),
        parameters=json.dumps(run.parameters) if run.parameters else None, cell_order=run.order,
        same_results=None if result.status != "ok" else int(different == 0), cells_run=len(result.cells),
        cells_different=different, comparison=COMPARISON, files_left_out=run.files_left_out,
        nbsql_version=__version__)
    row = TABLE["execution_cells"].row
    with transaction(conn):
        execution_id = conn.execute(_insert_sql("executions"), execution).lastrowid
        assert execution_id is not None
        conn.executemany(_insert_sql("execution_cells"), [row(
            id=None, execution=execution_id, notebook=run.target.id, position=cell.position, step=cell.step,
            status=cell.status, seconds=cell.seconds, execution_count=cell.execution_count,
            output_count=len(cell.outputs), outputs=json.dumps(cell.outputs, ensure_ascii=False),
            outputs_cut=cell.outputs_cut, comparison=cell.comparison,
            differences=json.dumps(cell.differences) if cell.differences else None) for cell in result.cells])
    return execution_id


def targets(conn: sqlite3.Connection) -> list[Target]:
    """Every stored notebook, by root and path."""
    return [Target(*row) for row in conn.execute(
        "SELECT id, root, path, sha256, kernel_name FROM notebooks ORDER BY root, path")]


def plan(conn: sqlite3.Connection, notebook: int, order: str) -> list[int] | None:
    """Positions of the code cells to execute, in ``order``: ``cells`` top to bottom, ``counts``
    by saved execution count; None when the counts are ambiguous (a non-empty code cell without
    one, or one count twice), as Pimentel et al. skipped those."""
    cells = conn.execute("SELECT position, execution_count FROM cells WHERE notebook = ? AND cell_type = 'code' "
                         "AND trim(coalesce(source, '')) != '' ORDER BY position", (notebook,)).fetchall()
    if order == "cells":
        return [position for position, _ in cells]
    counts = [count for _, count in cells]
    if None in counts or len(set(counts)) != len(counts):
        return None
    return [position for position, _ in sorted(cells, key=lambda cell: cell[1])]


def ran_unchanged(conn: sqlite3.Connection, target: Target, order: str) -> bool:
    """Whether the notebook's latest run in ``order`` ran the file as it is now."""
    latest = conn.execute("SELECT sha256 FROM executions WHERE notebook = ? AND cell_order = ? ORDER BY id DESC "
                          "LIMIT 1", (target.id, order)).fetchone()
    return latest is not None and latest[0] == target.sha256
