"""Which of Datasette's databases are nbsql's: the plugin acts on those and leaves the others alone.

A database is nbsql's when :attr:`nbsql.database.Contents.is_nbsql` says so (the ``application_id``
mark, or exactly the tables of an nbsql schema from before the mark). The answer is asked once per
Datasette ``Database`` object and kept while it lives, except for an empty database: a load may
write nbsql's schema into it while it is served (Datasette keeps its connections, which see the
change), so its "no", like that of a database that could not be read, is asked again after
:data:`RECHECK_EMPTY` seconds. No other answer changes: nbsql writes only into new, empty or
nbsql databases, and never makes one of its own foreign.
"""

from __future__ import annotations

import inspect
import sqlite3
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar
from weakref import WeakKeyDictionary

from datasette.database import Database
from datasette.utils import tilde_decode

from ..database import read_contents

if TYPE_CHECKING:
    from datasette.app import Datasette

#: Seconds the "not nbsql" of an empty (or unreadable) database is kept before it is asked again.
RECHECK_EMPTY = 1.0
_ANSWERS: WeakKeyDictionary[Database, tuple[bool, float]] = WeakKeyDictionary()  # (answer, kept until)
T = TypeVar("T")


def judge(conn: sqlite3.Connection) -> tuple[bool, bool]:
    """(nbsql's, may become nbsql's) for the database open on ``conn``: an empty one may, and so may
    one that cannot be read now (damaged, busy), which is not nbsql's meanwhile."""
    try:
        contents = read_contents(conn)
    except sqlite3.Error:
        return False, True
    return contents.is_nbsql, not contents.is_nbsql and contents.is_empty


def known(db: Database | None) -> bool | None:
    """Whether ``db`` is nbsql's, when that is known without asking SQLite (None otherwise)."""
    if db is None:
        return False
    answer = _ANSWERS.get(db)
    return None if answer is None or answer[1] < time.monotonic() else answer[0]


async def is_nbsql(db: Database | None) -> bool:
    """Whether ``db`` (None: no such database) is an nbsql database."""
    answer = known(db)
    if answer is not None or db is None:
        return bool(answer)
    try:
        ours, may_become = await db.execute_fn(judge)
    except sqlite3.Error:  # Datasette could not open it (gone, say): its own pages will say so
        ours, may_become = False, True
    _ANSWERS[db] = (ours, (time.monotonic() + RECHECK_EMPTY) if may_become else float("inf"))
    return ours


def when_nbsql(datasette: Datasette, database: str | None, make: Callable[[], T],
               otherwise: T | None = None) -> T | None | Awaitable[T | None]:
    """For a hook: ``make()`` when ``database`` (a name) is nbsql's, else None. When that is not known
    yet, an awaitable of ``make()`` or ``otherwise`` (a hook whose results Datasette concatenates
    needs ``[]``: only a plain None is dropped)."""
    db = datasette.databases.get(database) if database is not None else None
    answer = known(db)
    if answer is not None:
        return make() if answer else None

    async def later() -> T | None:
        if not await is_nbsql(db):
            return otherwise
        made = make()
        return await made if inspect.isawaitable(made) else made  # Datasette awaits one level only

    return later()


def database_at(datasette: Datasette, path: str) -> Database | None:
    """The database whose pages ``path`` (after the base URL, tilde-encoded as Datasette routes it) is under."""
    route = tilde_decode(path[1:].split("/", 1)[0].split(".", 1)[0]) if path.startswith("/") else ""
    return next((db for db in datasette.databases.values() if db.route == route), None) if route else None


async def nbsql_database(datasette: Datasette, name: str | None) -> Database | None:
    """The nbsql database called ``name``, or with None the first nbsql database served; None when
    there is no such nbsql database."""
    for db in [datasette.databases.get(name)] if name else list(datasette.databases.values()):
        if await is_nbsql(db):
            return db
    return None
