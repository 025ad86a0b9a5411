"""Query helpers for other scripts."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from .database import NbsqlError, connect

if TYPE_CHECKING:
    import pandas


def query(sql: str, db: str | Path | None = None,
          params: Sequence[Any] | Mapping[str, Any] | None = None) -> "pandas.DataFrame":
    """Run ``sql`` on a read-only connection and return the rows as a pandas DataFrame."""
    import pandas

    with closing(connect(db)) as conn:
        cursor = conn.cursor()
        cursor.row_factory = None
        cursor.execute(sql, params or ())
        if cursor.description is None:
            raise NbsqlError("the SQL returns no rows: give a SELECT (or another statement with results)")
        # as pandas.read_sql_query builds it, which fails obscurely on a statement without results
        return pandas.DataFrame.from_records(cursor.fetchall(), columns=[d[0] for d in cursor.description],
                                             coerce_float=True)
