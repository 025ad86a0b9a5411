"""The single writer: applies per-file results to the database, one transaction per batch.

A notebook is always replaced whole inside one transaction, so a killed load never leaves half
a notebook behind.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from operator import itemgetter
from typing import TYPE_CHECKING, Any

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


def _offset_plan(name: str) -> dict[str, str]:
    """Column -> the table whose id base is added to it, for the id and foreign keys of a content
    table (or the FTS index); ``notebook`` columns get the notebook's id instead of their 0."""
    if name == schema.FTS_TABLE:
        return {}  # its rowid is the text's id, which the writer gives it (Writer._store_texts)
    table = schema.TABLE[name]
    plan = {}
    for column in table.columns:
        if column.name == "id":
            plan[column.name] = table.name
        elif column.target and column.target[0] in ("notebooks",) + schema.CONTENT_TABLES:
            plan[column.name] = column.target[0]
    return plan


def _row_type(name: str) -> type[Any]:
    return schema.FTS_ROW if name == schema.FTS_TABLE else schema.TABLE[name].row


@dataclass(frozen=True)
class _Insert:
    """The INSERT of a content table (or the FTS index), which names the columns of its row type.

    Rows carry notebook-local ids; each is sent with ``bases``' id bases appended and SQLite adds
    them (NULL stays NULL), so the writer copies no row in Python. ``releasing`` is the same INSERT
    as an INSERT ... SELECT that inserts nothing for ``nothing``, a row whose key is NULL: SQLite keeps
    a statement's last values until it runs again, so a :data:`LARGE_VALUE` inserted by it would
    stay in memory after its batch (a second copy while the next table's rows are inserted and the
    next files are read). It is the slower form: a third slower, eight times for the FTS index.
    """

    sql: str
    bases: tuple[str, ...]
    releasing: str
    nothing: tuple[None, ...]

    @classmethod
    def of(cls, name: str) -> _Insert:
        fields = _row_type(name)._fields
        plan = _offset_plan(name)
        bases = tuple(dict.fromkeys(plan.values()))
        own = {field: f"?{number}" for number, field in enumerate(fields, 1)}
        base = {target: f"?{number}" for number, target in enumerate(bases, len(fields) + 1)}
        terms = []
        for field in fields:
            target = plan.get(field)
            if target is None:
                terms.append(own[field])
            elif target == "notebooks":  # rows hold 0: the notebook's id replaces it
                terms.append(base[target])
            else:
                terms.append(f"{own[field]} + {base[target]}")
        values = ", ".join(terms)
        key = own["rowid" if name == schema.FTS_TABLE else "id"]
        head = f"INSERT INTO {name}({', '.join(fields)})"
        return cls(f"{head} VALUES ({values})", bases, f"{head} SELECT {values} WHERE {key} IS NOT NULL",
                   (None,) * (len(fields) + len(bases)))


#: A text or blob this long is inserted by its table's ``releasing`` statement (see :class:`_Insert`).
#: Only the rows of files this large are looked at.
LARGE_VALUE = 1 << 20


#: Keys looked up by one query (SQLite allows 32,766 parameters; a few hundred is as fast).
_KEYS_PER_QUERY = 500


def _holds_large(row: tuple) -> bool:
    return any(isinstance(value, (str, bytes)) and len(value) >= LARGE_VALUE for value in row)


class Writer:
    """Writes batches of :class:`FileResult` for one load run."""

    def __init__(self, conn: sqlite3.Connection, load_id: int, known: dict[tuple[str, str], int]):
        self.conn = conn
        self.load_id = load_id
        self.known = known  # (root, path) -> notebooks.id of what is stored now
        # made from the schema as it is when the run starts (not at import: a test may reorder its columns)
        self.inserts = {name: _Insert.of(name) for name in schema.CONTENT_TABLES + (schema.FTS_TABLE,)}
        # the content tables with a notebook column; the others' rows go with their cells (ON DELETE CASCADE)
        self.by_notebook = tuple(name for name in schema.CONTENT_TABLES
                                 if "notebook" in schema.TABLE[name].column_names)
        self.text_field = schema.TABLE["cells"].row._fields.index("text")
        columns = schema.TABLE["notebooks"].column_names
        self.insert_notebook = (f"INSERT INTO notebooks({', '.join(columns)}) "
                                f"VALUES ({', '.join(':' + c for c in columns)})")
        self.update_notebook = ("UPDATE notebooks SET " + ", ".join(f"{c} = :{c}" for c in columns if c != "id")
                                + " WHERE id = :id")

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
            self._store_texts(pending, large)
            for name, rows in pending.items():
                insert = self.inserts[name]
                if rows:
                    conn.executemany(insert.sql, rows)
                if large[name]:
                    conn.executemany(insert.releasing, large[name] + [insert.nothing])

    def _store_texts(self, pending: dict[str, list[tuple]], large: dict[str, list[tuple]]) -> None:
        """Give the batch's texts their ids: its cells and FTS rows carry each text's key (a hash);
        a known key keeps its cell_texts id, a new one gets the next, in the order the batch
        holds them, and only new texts' rows go to the FTS index, each once. (Sequential rowids:
        FTS5 writes out what it holds whenever a rowid is not above the last one, and its tables
        grow at their end; random keys as rowids took the corpus's writer from 1.3 to 2.3 s.)"""
        fts, text = schema.FTS_TABLE, self.text_field
        keys = dict.fromkeys(row[text] for part in (pending, large) for row in part["cells"])
        ids = self._known_texts(list(keys))
        new = [key for key in keys if key not in ids]
        first = self._next_id("cell_texts")
        ids.update((key, first + number) for number, key in enumerate(new))
        self.conn.executemany("INSERT INTO cell_texts(id, key, cells) VALUES (?, ?, 0)",
                              [(ids[key], key) for key in new])
        fresh = set(new)
        for part in (pending, large):
            part["cells"] = [row[:text] + (ids[row[text]],) + row[text + 1:] for row in part["cells"]]
            rows = []
            for row in part[fts]:
                if row[0] in fresh:
                    fresh.discard(row[0])
                    rows.append((ids[row[0]],) + row[1:])
            part[fts] = sorted(rows, key=itemgetter(0))

    def _known_texts(self, keys: list[int]) -> dict[int, int]:
        """cell_texts' id of each of ``keys`` that it holds (after this batch's deletions)."""
        ids: dict[int, int] = {}
        for start in range(0, len(keys), _KEYS_PER_QUERY):
            chunk = keys[start:start + _KEYS_PER_QUERY]
            ids.update(self.conn.execute(f"SELECT key, id FROM cell_texts WHERE key IN ({', '.join('?' * len(chunk))})",
                                         chunk).fetchall())
        return ids

    def _next_id(self, table: str) -> int:
        return self.conn.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}").fetchone()[0]

    def _store_notebook(self, result: FileResult, rows: NotebookRows, existing: int | None,
                        bases: dict[str, int]) -> int:
        file_values = {"root": result.root, "path": result.path, "name": result.path.rsplit("/", 1)[-1],
                       "size": result.size, "mtime": result.mtime, "sha256": result.sha256, "loaded_at": now()}
        if existing is None:
            notebook_id = bases["notebooks"]
            bases["notebooks"] += 1
            self.conn.execute(self.insert_notebook, {**rows.notebook, **file_values, "id": notebook_id})
            return notebook_id
        for table in reversed(self.by_notebook):
            self.conn.execute(f"DELETE FROM {table} WHERE notebook = ?", (existing,))
        self.conn.execute(self.update_notebook, {**rows.notebook, **file_values, "id": existing})
        return existing

    def _queue_content(self, rows: NotebookRows, notebook_id: int, bases: dict[str, int],
                       pending: dict[str, list[tuple]], large: dict[str, list[tuple]] | None) -> None:
        """Queue the rows of one notebook; those holding a LARGE_VALUE in ``large``, when given."""
        for name, insert in self.inserts.items():
            local = rows.tables[name]
            if not local:
                continue
            extra = tuple(notebook_id if target == "notebooks" else bases[target] for target in insert.bases)
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
