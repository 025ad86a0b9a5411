"""Opening nbsql databases: the default file, validation, schema set-up, read-only connections."""

from __future__ import annotations

import glob
import os
import sqlite3
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Iterator

from . import schema

DEFAULT_DB = "notebooks.db"
DB_ENVIRONMENT_VARIABLE = "NBSQL_DB"
_SQLITE_HEADER = b"SQLite format 3\x00"


class NbsqlError(Exception):
    """A user-facing problem (bad path, not a database...): one line, no traceback."""


def default_db() -> str:
    """``$NBSQL_DB`` if set, else ``notebooks.db`` in the working directory."""
    return os.environ.get(DB_ENVIRONMENT_VARIABLE) or DEFAULT_DB


def check_sqlite_file(path: str | Path) -> None:
    """Raise :class:`NbsqlError` unless ``path`` is absent, empty or a SQLite database file."""
    path = Path(path)
    if not path.exists():
        return
    if path.is_dir():
        raise NbsqlError(f"{path} is a folder, not a database file")
    if not path.is_file():  # a pipe or a device: reading it could wait forever
        raise NbsqlError(f"{path} is not a regular file, so not a database file")
    try:
        with open(path, "rb") as handle:
            header = handle.read(len(_SQLITE_HEADER))
    except OSError as exc:
        raise NbsqlError(f"cannot read {path}: {exc.strerror}") from None
    if header and header != _SQLITE_HEADER:
        raise NbsqlError(f"{path} is not a SQLite database")


def open_for_writing(path: str | Path, rebuild: bool = False, journal: bool = True) -> sqlite3.Connection:
    """Open (creating if needed) a database with the current schema, in WAL mode.

    The tables are recreated when ``rebuild`` is set or the file holds another schema version.
    ``journal=False`` is for a file nobody else sees until it is complete (see :func:`building`).
    """
    check_sqlite_file(path)
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=60)
        conn.execute(f"PRAGMA journal_mode = {'WAL' if journal else 'OFF'}")
        conn.execute(f"PRAGMA synchronous = {'NORMAL' if journal else 'OFF'}")
        conn.execute("PRAGMA foreign_keys = ON")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        has_tables = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'notebooks'").fetchone() is not None
    except sqlite3.DatabaseError as exc:
        raise NbsqlError(f"cannot open {path} as a database: {exc}") from None
    if has_tables and version == 0:
        conn.close()
        raise NbsqlError(f"{path} has a 'notebooks' table that nbsql did not create")
    if has_tables and not rebuild and version == schema.SCHEMA_VERSION:
        return conn
    with transaction(conn):
        if has_tables:
            schema.drop(conn)
        schema.create(conn)
    return conn


@contextmanager
def building(path: str | Path) -> Iterator[str]:
    """Build a new database in a side file and move it over ``path`` when complete.

    Without a journal, writing is about a third cheaper; crash safety comes from the side file
    (``<path>.building-<pid>``): ``path`` first gets the empty schema (a killed build leaves that
    valid, empty database) and is replaced atomically only once the build has finished.
    """
    side = f"{path}.building-{os.getpid()}"
    for leftover in (side, f"{side}-journal"):  # a killed build's, when process ids come round again
        if os.path.exists(leftover):
            os.remove(leftover)
    with closing(sqlite3.connect(path, isolation_level=None)) as placeholder:
        if placeholder.execute("SELECT 1 FROM sqlite_master WHERE name = 'notebooks'").fetchone() is None:
            with transaction(placeholder):
                schema.create(placeholder)
    try:
        yield side
        with closing(sqlite3.connect(side, isolation_level=None)) as finished:
            finished.execute("PRAGMA journal_mode = WAL")
        os.replace(side, path)
    finally:
        if os.path.exists(side):
            os.remove(side)


@contextmanager
def one_load_at_a_time(path: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on ``<path>.lock`` while loading: concurrent loads of one database
    (parallel pre-commit runs, say) wait their turn instead of replacing each other's first build.

    The lock is released by the system if the process dies. Without ``fcntl`` (Windows), or when
    the lock file cannot be opened, loads go on unlocked.
    """
    try:
        import fcntl

        handle = open(f"{path}.lock", "a")
    except (ImportError, OSError):
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def another_load_running(path: str | Path) -> bool:
    """Whether another process holds :func:`one_load_at_a_time`'s lock on ``path`` now (for saying
    that a load waits; False when it cannot tell)."""
    try:
        import fcntl

        path = os.path.realpath(path) if os.path.islink(path) else path  # as the load locks it
        with open(f"{path}.lock") as handle:  # a load creates it; without it, none runs
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
    except (ImportError, OSError):
        pass
    return False


def remove_stale_builds(path: str | Path) -> None:
    """Delete side files that killed builds of ``path`` left behind (their process is gone)."""
    path = Path(path)
    for side in path.parent.glob(glob.escape(path.name) + ".building-*"):
        pid = side.name.rsplit("-", 1)[-1]
        if pid.isdigit() and (int(pid) == os.getpid() or not _alive(int(pid))):
            side.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, but belongs to someone else
        return True
    return True


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT on an autocommit connection; ROLLBACK on any exception."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:  # after some errors (a full disk) SQLite has rolled back already
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def connect(db: str | Path | None = None) -> sqlite3.Connection:
    """A read-only connection to an nbsql database (raises :class:`NbsqlError` if it is missing)."""
    path = Path(db or default_db())
    if not path.is_file():
        raise NbsqlError(f"no database at {path}: run 'nbsql load PATH' first")
    check_sqlite_file(path)
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    _no_attaching(conn)
    return conn


def _no_attaching(conn: sqlite3.Connection) -> None:
    """Refuse ATTACH: an attached file is opened writable (and created), whatever the main file's mode."""
    if hasattr(conn, "setlimit"):  # Python 3.11+
        conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
    else:
        conn.set_authorizer(lambda action, *_: sqlite3.SQLITE_DENY if action == sqlite3.SQLITE_ATTACH
                            else sqlite3.SQLITE_OK)
