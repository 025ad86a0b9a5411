"""nbsql: Jupyter notebooks in a linked, documented SQLite database."""

from __future__ import annotations

__version__ = "0.1.0"

from .api import check, database, query  # noqa: E402
from .database import DEFAULT_DB, connect  # noqa: E402
from .errors import NbsqlError  # noqa: E402
from .load import LoadReport, load, process_bytes  # noqa: E402

__all__ = ["DEFAULT_DB", "LoadReport", "NbsqlError", "__version__", "check", "connect", "database", "load", "process_bytes", "query"]
