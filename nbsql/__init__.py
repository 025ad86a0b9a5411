"""nbsql: Jupyter notebooks in a linked, documented SQLite database.

The public names are imported on first use, so that ``import nbsql`` (and each command of the
CLI) loads only what it needs.
"""

from __future__ import annotations

import sys
from importlib import import_module
from types import ModuleType
from typing import TYPE_CHECKING, Any

from .errors import NbsqlError

__version__ = "0.1.0"

#: Each public name and the module that defines it.
_PUBLIC = {"check": "api", "database": "api", "query": "api", "DEFAULT_DB": "database", "connect": "database",
           "LoadReport": "load", "load": "load", "process_bytes": "load", "cell_slice": "deps.slice", "run": "execute",
           "RunReport": "execute"}

if TYPE_CHECKING:
    from .api import check, database, query
    from .database import DEFAULT_DB, connect
    from .deps.slice import cell_slice
    from .execute import RunReport, run
    from .load import LoadReport, load, process_bytes


class _Package(ModuleType):
    """Keeps ``nbsql.load`` and ``nbsql.database`` the functions when their submodules are imported
    (the import system binds a submodule on its package): the public API wins, as it always has."""

    def __setattr__(self, name: str, value: Any) -> None:
        if not (name in _PUBLIC and isinstance(value, ModuleType)):
            super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'nbsql' has no attribute {name!r}")
    value = getattr(import_module(f".{_PUBLIC[name]}", __name__), name)
    globals()[name] = value
    return value


__all__ = ["DEFAULT_DB", "LoadReport", "NbsqlError", "RunReport", "__version__", "cell_slice", "check", "connect",
           "database", "load", "process_bytes", "query", "run"]
