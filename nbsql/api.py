"""Query helpers for other scripts."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from .database import connect

if TYPE_CHECKING:
    import pandas


def query(sql: str, db: str | Path | None = None,
          params: Sequence[Any] | Mapping[str, Any] | None = None) -> "pandas.DataFrame":
    """Run ``sql`` on a read-only connection and return the rows as a pandas DataFrame."""
    import pandas

    with closing(connect(db)) as conn:
        return pandas.read_sql_query(sql, conn, params=params)
