"""The single writer: applies per-file results to the database, one transaction per batch.

A notebook is always replaced whole inside one transaction, so a killed load never leaves half
a notebook behind.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from . import schema
from .database import transaction

if TYPE_CHECKING:
    from .rows import NotebookRows

_NONE_ADAPTER = (type(None), sqlite3.PrepareProtocol)
_NOTHING: dict[None, None] = {}  # stays empty: its ``get`` returns None for None


@contextmanager
def _none_binds_fast() -> Iterator[None]:
    """While the writer writes, an adapter for None. Python 3.11's sqlite3 binds a None only after
    looking for an adapter the slow way (a new tuple, a failed dict lookup, two attribute lookups);
    the rows of 1,000 notebooks hold some 500,000 of them, a sixth of the writer's time. With an
    adapter registered the lookup succeeds at once; an empty dict's ``get`` is a C callable that returns None,
    bound as NULL as before. It is taken away afterwards: importing or calling nbsql leaves the
    program's sqlite3 as it was."""
    previous = sqlite3.adapters.get(_NONE_ADAPTER)
    sqlite3.register_adapter(type(None), _NOTHING.get)
    try:
        yield
    finally:
        if previous is None:
            sqlite3.adapters.pop(_NONE_ADAPTER, None)
        else:
            sqlite3.adapters[_NONE_ADAPTER] = previous

_NOTEBOOK_FILE_COLUMNS = ("root", "path", "name", "size", "mtime", "sha256", "loaded_at")


@dataclass(slots=True)
class FileResult:
    """What the per-file step produced for one file."""

    root: str
    path: str
    size: int | None
    mtime: float | None
    sha256: str | None = None
    rows: NotebookRows | None = None
    error: tuple[str, str] | None = None  # (kind, message)
    unchanged: bool = False  # same bytes as the stored version (only the mtime moved)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _offset_plan(table: schema.Table) -> list[tuple[int, str]]:
    """(column index, what to add) for the id and foreign-key columns of a content table."""
    plan = []
    for index, column in enumerate(table.columns):
        if column.name == "id":
            plan.append((index, table.name))
        elif column.target and column.target[0] in ("notebooks",) + schema.CONTENT_TABLES:
            plan.append((index, column.target[0]))
    return plan


def _insert(table: schema.Table) -> tuple[str, tuple[str, ...]]:
    """The INSERT of a content table and the tables whose id bases follow each row's own values.

    Rows carry notebook-local ids; each is sent with the bases appended and SQLite adds them
    (NULL stays NULL), so the writer copies no row in Python.
    """
    plan = dict(_offset_plan(table))
    count = len(table.columns)
    bases = tuple(dict.fromkeys(plan.values()))
    values = []
    for index in range(count):
        own, target = f"?{index + 1}", plan.get(index)
        if target is None:
            values.append(own)
            continue
        base = f"?{count + 1 + bases.index(target)}"
        values.append(base if target == "notebooks" else f"{own} + {base}")
    return f"INSERT INTO {table.name} VALUES ({', '.join(values)})", bases


_INSERT = {name: _insert(schema.TABLE[name]) for name in schema.CONTENT_TABLES}
_INSERT_FTS = f"INSERT INTO {schema.FTS_TABLE}(rowid, source, outputs) VALUES (?1 + ?4, ?2, ?3)"
#: A text or blob this long is inserted by a statement of its own, which then runs a row that
#: inserts nothing: SQLite keeps a statement's last values until it runs again, so the value would
#: stay in memory after its batch (a second copy while the next table's rows are inserted and the
#: next files are read). Only the rows of files this large are looked at.
LARGE_VALUE = 1 << 20


def _releasing(sql: str) -> tuple[str, tuple[None, ...]]:
    """``sql`` (INSERT ... VALUES) as an INSERT ... SELECT that inserts nothing when ?1, the id, is
    NULL, and such a row. (It is the slower form: a third slower, eight times for the FTS index.)"""
    count = max(int(number) for number in re.findall(r"\?(\d+)", sql))
    return f"{sql.replace(' VALUES (', ' SELECT ', 1)[:-1]} WHERE ?1 IS NOT NULL", (None,) * count


_RELEASING = {name: _releasing(_INSERT[name][0]) for name in _INSERT} | {schema.FTS_TABLE: _releasing(_INSERT_FTS)}
_NOTEBOOK_COLUMNS = schema.TABLE["notebooks"].column_names
_INSERT_NOTEBOOK = f"INSERT INTO notebooks VALUES ({', '.join('?' * len(_NOTEBOOK_COLUMNS))})"
_UPDATE_NOTEBOOK = "UPDATE notebooks SET " + ", ".join(f"{c} = ?" for c in _NOTEBOOK_COLUMNS[1:]) + " WHERE id = ?"


def _holds_large(row: tuple) -> bool:
    return any(isinstance(value, (str, bytes)) and len(value) >= LARGE_VALUE for value in row)


class Writer:
    """Writes batches of :class:`FileResult` for one load run."""

    def __init__(self, conn: sqlite3.Connection, load_id: int, known: dict[tuple[str, str], int]):
        self.conn = conn
        self.load_id = load_id
        self.known = known  # (root, path) -> notebooks.id of what is stored now

    def write(self, batch: list[FileResult]) -> None:
        conn = self.conn
        with transaction(conn), _none_binds_fast():
            bases = {name: self._next_id(name) for name in ("notebooks",) + schema.CONTENT_TABLES}
            pending: dict[str, list[tuple]] = {name: [] for name in schema.CONTENT_TABLES + (schema.FTS_TABLE,)}
            large: dict[str, list[tuple]] = {name: [] for name in pending}  # rows holding a LARGE_VALUE
            for result in batch:
                key = (result.root, result.path)
                existing = self.known.get(key)
                if result.unchanged:
                    conn.execute("UPDATE notebooks SET size = ?, mtime = ? WHERE id = ?",
                                 (result.size, result.mtime, existing))
                elif result.error:
                    if existing is not None:
                        conn.execute("DELETE FROM notebooks WHERE id = ?", (existing,))
                        del self.known[key]
                    self._record_error(result, result.error)
                else:
                    contents = result.rows
                    assert contents is not None, "a result that is neither unchanged nor an error has its rows"
                    notebook_id = self._store_notebook(result, contents, existing, bases)
                    self.known[key] = notebook_id
                    self._queue_content(contents, notebook_id, bases, pending,
                                        large if (result.size or 0) >= LARGE_VALUE else None)
                    conn.execute("DELETE FROM load_errors WHERE root = ? AND path = ?", key)
            for name, rows in pending.items():
                if rows:
                    conn.executemany(_INSERT[name][0] if name in _INSERT else _INSERT_FTS, rows)
                if large[name]:
                    sql, nothing = _RELEASING[name]
                    conn.executemany(sql, large[name] + [nothing])

    def _next_id(self, table: str) -> int:
        return self.conn.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}").fetchone()[0]

    def _store_notebook(self, result: FileResult, rows: NotebookRows, existing: int | None,
                        bases: dict[str, int]) -> int:
        file_values = {"root": result.root, "path": result.path, "name": result.path.rsplit("/", 1)[-1],
                       "size": result.size, "mtime": result.mtime, "sha256": result.sha256, "loaded_at": now()}
        values = {**rows.notebook, **file_values}
        row = [values[c] for c in _NOTEBOOK_COLUMNS[1:]]
        if existing is None:
            notebook_id = bases["notebooks"]
            bases["notebooks"] += 1
            self.conn.execute(_INSERT_NOTEBOOK, [notebook_id, *row])
            return notebook_id
        for table in reversed(schema.CONTENT_TABLES):
            self.conn.execute(f"DELETE FROM {table} WHERE notebook = ?", (existing,))
        self.conn.execute(_UPDATE_NOTEBOOK, [*row, existing])
        return existing

    @staticmethod
    def _queue_content(rows: NotebookRows, notebook_id: int, bases: dict[str, int],
                       pending: dict[str, list[tuple]], large: dict[str, list[tuple]] | None) -> None:
        """Queue the rows of one notebook; those holding a LARGE_VALUE in ``large``, when given."""
        for name in schema.CONTENT_TABLES + (schema.FTS_TABLE,):
            local = rows.tables[name]
            if not local:
                continue
            targets = _INSERT[name][1] if name in _INSERT else ("cells",)
            extra = tuple(notebook_id if target == "notebooks" else bases[target] for target in targets)
            queued = [row + extra for row in local]
            if large is None:
                pending[name] += queued
                continue
            for row in queued:
                (large if _holds_large(row) else pending)[name].append(row)
        for name in schema.CONTENT_TABLES:
            bases[name] += len(rows.tables[name])

    def _record_error(self, result: FileResult, error: tuple[str, str]) -> None:
        kind, message = error
        stored = self.conn.execute("SELECT kind, message, size, mtime FROM load_errors WHERE root = ? AND path = ?",
                                   (result.root, result.path)).fetchone()
        if stored == (kind, message, result.size, result.mtime):
            return  # the same failure as last time: keep its row as it was
        self.conn.execute(
            "INSERT INTO load_errors(root, path, kind, message, size, mtime, load, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(root, path) DO UPDATE SET kind = excluded.kind, message = excluded.message,"
            " size = excluded.size, mtime = excluded.mtime, load = excluded.load, at = excluded.at",
            (result.root, result.path, kind, message, result.size, result.mtime, self.load_id, now()))

    def prune(self, vanished: list[int], vanished_errors: list[tuple[str, str]]) -> None:
        """Remove notebooks (and error rows) whose files are gone, in one transaction."""
        with transaction(self.conn):
            self.conn.executemany("DELETE FROM notebooks WHERE id = ?", [(i,) for i in vanished])
            self.conn.executemany("DELETE FROM load_errors WHERE root = ? AND path = ?", vanished_errors)
