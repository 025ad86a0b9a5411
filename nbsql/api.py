"""Query helpers for other scripts: pandas frames and sqlite-utils databases."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from contextlib import closing
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .database import connect, existing_database
from .errors import NbsqlError
from .schema import FTS_TABLE, TABLE

if TYPE_CHECKING:
    import pandas
    import sqlite_utils

    from .health import HealthReport, Settings


def check(paths: Iterable[str | Path] = (), db: str | Path | None = None, *, settings: Settings | None = None,
          severity: str = "info", load: bool = True, jobs: int | None = None) -> HealthReport:
    """Check notebooks: load ``paths`` first (incrementally, with the checks of ``settings``), then
    report their findings; without paths (or without ``load``), report what the database holds."""
    from .health import Settings, read_report
    from .load import load as load_notebooks

    paths = list(paths)  # used twice
    settings = settings or Settings()
    if paths and load:
        load_notebooks(paths, db, jobs=jobs, settings=settings)
    return read_report(paths, db, settings=settings, severity=severity)


def query(sql: str, db: str | Path | None = None,
          params: Sequence[Any] | Mapping[str, Any] | None = None) -> pandas.DataFrame:
    """Run ``sql`` on a read-only connection and return the rows as a pandas DataFrame."""
    import pandas

    with closing(connect(db, factory=_ResultsOnly)) as conn:
        return pandas.read_sql_query(sql, conn, params=params)


class _ResultsOnly(sqlite3.Connection):
    """A connection whose cursors refuse a statement without results in one line (pandas, which
    reads the columns from ``cursor.description``, would fail obscurely on it)."""

    def cursor(self, factory=None):  # type: ignore[override]
        return super().cursor(factory or _ResultsCursor)


class _ResultsCursor(sqlite3.Cursor):
    def execute(self, sql: str, parameters: Any = (), /) -> _ResultsCursor:  # type: ignore[override]
        super().execute(sql, parameters)
        if self.description is None:
            raise NbsqlError("the SQL returns no rows: give a SELECT (or another statement with results)")
        return self


def database(db: str | Path | None = None, *, writable: bool = False) -> sqlite_utils.Database:
    """The nbsql database as a :class:`sqlite_utils.Database` (``db["notebooks"].rows_where(...)``,
    ``db.query(...)``, ``db["cells"].search(...)`` over sources and outputs): read-only unless
    ``writable``."""
    if not writable:
        conn = connect(db)
        conn.row_factory = None
        return _database_class()(conn)
    connect(db).close()  # the same checks: there, nbsql's, readable
    return _database_class()(existing_database(db))


@cache
def _database_class() -> type[sqlite_utils.Database]:
    """sqlite-utils' Database, told that ``cells_fts`` indexes ``cells`` (it finds only indexes it
    made); made on first use, so that importing nbsql does not import sqlite-utils."""
    import sqlite_utils

    class NbsqlDatabase(sqlite_utils.Database):
        def table(self, table_name: str, **kwargs: Any) -> sqlite_utils.db.Table:
            table = super().table(table_name, **kwargs)
            if table_name == "cells":
                table.detect_fts = lambda: FTS_TABLE  # type: ignore[method-assign]
                table.search_sql = _cells_search_sql  # type: ignore[method-assign]
            return table

    return NbsqlDatabase


def _cells_search_sql(columns: Iterable[str] | None = None, order_by: str | None = None, limit: int | None = None,
                      offset: int | None = None, where: str | None = None, include_rank: bool = False) -> str:
    """sqlite-utils' ``Table.search_sql`` for ``cells``, whose rows meet the FTS index by their
    text (``cells.text``), not their rowid; the same arguments and the same ``:query``."""
    from sqlite_utils.db import quote_identifier

    chosen = ", ".join(f"original.{quote_identifier(c)}" for c in (columns or TABLE["cells"].column_names))
    rank = f"{FTS_TABLE}.rank"
    sql = (f"WITH original AS (SELECT * FROM cells{f' WHERE {where}' if where else ''}) "
           f"SELECT {chosen}{f', {rank} AS rank' if include_rank else ''} FROM original "
           f"JOIN {FTS_TABLE} ON {FTS_TABLE}.rowid = original.text WHERE {FTS_TABLE} MATCH :query "
           f"ORDER BY {order_by or rank}")
    if limit is not None or offset is not None:
        sql += f" LIMIT {-1 if limit is None else int(limit)}"
    return sql + (f" OFFSET {int(offset)}" if offset is not None else "")
