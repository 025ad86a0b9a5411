"""Opening nbsql databases: the default file, validation, schema set-up, read-only connections."""

from __future__ import annotations

import glob
import os
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from . import schema
from .errors import NbsqlError

DEFAULT_DB = "notebooks.db"
DB_ENVIRONMENT_VARIABLE = "NBSQL_DB"
_SQLITE_HEADER = b"SQLite format 3\x00"
_DAMAGE_CODES = (11, 26)  # SQLITE_CORRUPT, SQLITE_NOTADB


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


@dataclass(frozen=True)
class Contents:
    """What a SQLite file holds, as far as nbsql must know before it writes into it."""

    application_id: int
    user_version: int
    tables: frozenset[str]  # tables and views, without SQLite's own and the full-text index's shadow tables
    objects: int  # tables, indexes, views and triggers

    @property
    def is_empty(self) -> bool:
        return self.objects == 0 and self.application_id in (0, schema.APPLICATION_ID)

    @property
    def is_nbsql(self) -> bool:
        """Marked as nbsql's, or unmarked from before the mark but holding exactly nbsql's tables."""
        return self.application_id == schema.APPLICATION_ID or (
            self.application_id == 0 and schema.unmarked_tables(self.user_version) == self.tables)

    def describe(self) -> str:
        names = sorted(self.tables)
        held = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
        return (f"tables and views {held}" if names else "no tables") + \
            f"; application_id {self.application_id}, user_version {self.user_version}"


def read_contents(conn: sqlite3.Connection) -> Contents:
    """What the database open on ``conn`` holds (the Datasette plugin asks it which databases are nbsql's)."""
    rows = conn.execute("SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view')").fetchall()
    names = {name for name, _ in rows if not name.startswith("sqlite_")}
    if schema.FTS_TABLE in names:  # FTS5's shadow tables
        names -= {f"{schema.FTS_TABLE}_{part}" for part in ("data", "idx", "content", "docsize", "config")}
    objects = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    return Contents(conn.execute("PRAGMA application_id").fetchone()[0],
                    conn.execute("PRAGMA user_version").fetchone()[0], frozenset(names), objects)


def inspect(path: str | Path, verify: bool = False) -> Contents:
    """What the SQLite file ``path`` holds, read without changing anything beside it: ``immutable``
    when no ``-journal`` file and no ``-wal`` file with content is there (a WAL database opened
    read-only would get both made), else as :func:`read_only_uri` says. With ``verify``,
    SQLite's ``quick_check`` must pass too. Raises :class:`NbsqlError` for a damaged file or one
    SQLite cannot open."""
    quiet = not os.path.exists(f"{path}-journal") and _empty_or_absent(f"{path}-wal")
    uri = Path(path).resolve().as_uri() + "?immutable=1" if quiet else read_only_uri(path)
    try:
        with closing(sqlite3.connect(uri, uri=True)) as conn:
            contents = read_contents(conn)
            if verify:
                problem = conn.execute("PRAGMA quick_check(1)").fetchone()[0]  # 'ok', or lines of problems
                if problem != "ok":
                    lines = [line for line in problem.splitlines() if not line.startswith("***")]
                    raise damaged(path, lines[0] if lines else problem)
            return contents
    except sqlite3.DatabaseError as exc:
        if is_damage(exc):
            raise damaged(path, str(exc)) from None
        raise NbsqlError(f"cannot open {path} as a database: {exc}") from None


def _not_ours(path: str | Path, contents: Contents) -> NbsqlError:
    return NbsqlError(f"{path} is not an nbsql database ({contents.describe()}); nbsql writes only into a new "
                      "file, an empty database or one it made: give another --db")


def damaged(path: str | Path, detail: str) -> NbsqlError:
    """The one-line error for a database that SQLite reports damaged."""
    return NbsqlError(f"{path} is damaged ({detail}): restore it from a backup, or rebuild it into a new file "
                      "with 'nbsql load PATH --full --db NEW.db'")


def is_damage(exc: sqlite3.DatabaseError) -> bool:
    """Whether SQLite reports a damaged file (SQLITE_CORRUPT, SQLITE_NOTADB; the codes are on the
    exception from Python 3.11, the messages always)."""
    return getattr(exc, "sqlite_errorcode", None) in _DAMAGE_CODES or \
        any(message in str(exc) for message in ("malformed", "file is not a database"))


def check_loadable(path: str | Path, verify: bool = False, rebuild: bool = False) -> None:
    """Raise :class:`NbsqlError` unless a load may write into ``path``: absent, empty, or an nbsql
    database (of this schema version or an older one, any with ``rebuild``), which ``verify``
    checks with SQLite's ``quick_check``. A refused file is left as it was, and nothing is made
    beside it."""
    check_sqlite_file(path)
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return
    contents = inspect(path, verify)
    if not (contents.is_empty or contents.is_nbsql):
        raise _not_ours(path, contents)
    if contents.is_nbsql and contents.user_version > schema.SCHEMA_VERSION and not rebuild:
        raise NbsqlError(f"{path} was made by a newer nbsql (schema {contents.user_version}; this one writes "
                         f"{schema.SCHEMA_VERSION}): upgrade nbsql, or rebuild it with --full")


def open_for_writing(path: str | Path, rebuild: bool = False, aside: bool = False,
                     verify: bool = False) -> sqlite3.Connection:
    """Open (creating if needed) an nbsql database with the current schema, in WAL mode.

    Refuses any other SQLite file (see :func:`check_loadable`, which ``verify`` passes on). The
    tables are recreated when ``rebuild`` is set or the file holds another schema version.
    ``aside`` is for a new file nobody else sees until it is complete (see :func:`building`): it
    has no journal, and its late indexes are left for :func:`~nbsql.schema.create_late_indexes`.
    """
    check_loadable(path, verify, rebuild)
    if not os.access(os.path.dirname(os.path.abspath(path)), os.W_OK):
        raise NbsqlError(f"cannot write {path}: its folder is read-only")
    conn = sqlite3.connect(path, isolation_level=None, timeout=60)
    try:
        with transaction(conn):  # decided and done at once: another load may be opening the same new file
            contents = read_contents(conn)  # again, on the connection that writes, before it writes
            if not (contents.is_empty or contents.is_nbsql):
                raise _not_ours(path, contents)
            if contents.tables and not rebuild and contents.user_version == schema.SCHEMA_VERSION:
                if contents.application_id != schema.APPLICATION_ID:  # made before databases were marked
                    conn.execute(f"PRAGMA application_id = {schema.APPLICATION_ID}")
            else:
                if contents.tables:
                    schema.drop(conn)
                schema.create(conn, late_indexes=not aside)
        conn.execute(f"PRAGMA journal_mode = {'OFF' if aside else 'WAL'}")
        conn.execute(f"PRAGMA synchronous = {'OFF' if aside else 'NORMAL'}")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise NbsqlError(f"cannot open {path} as a database: {exc}") from None
    except BaseException:
        conn.close()
        raise
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


class LoadLock:
    """The lock file of a database's loads (``<path>.lock``). It also keeps the database file's size
    and modification time as the last complete load left them: a file changed since (by another
    program, a copy, a crash) is verified before the next load writes into it."""

    def __init__(self, path: str | Path, handle: IO[str] | None):
        self.path = path
        self._handle = handle

    @property
    def held(self) -> bool:
        """Whether the lock is held (else loads of this database may run at the same time)."""
        return self._handle is not None

    def _stamp(self) -> str:
        stat = os.stat(self.path)
        return f"{stat.st_size} {stat.st_mtime_ns} {stat.st_ino}\n"

    def unchanged_since_last_load(self) -> bool:
        if self._handle is None:
            return False
        try:
            self._handle.seek(0)
            return self._handle.read(64) == self._stamp()
        except (OSError, ValueError):
            return False

    def record(self) -> None:
        """Note the database as a complete load leaves it."""
        if self._handle is None:
            return
        try:
            stamp = self._stamp()
            self._handle.seek(0)
            self._handle.truncate()
            self._handle.write(stamp)
            self._handle.flush()
        except (OSError, ValueError):
            pass  # without it, the next load verifies the database


@contextmanager
def one_load_at_a_time(path: str | Path) -> Iterator[LoadLock]:
    """Hold an exclusive lock on ``<path>.lock`` while loading: concurrent loads of one database
    (parallel pre-commit runs, say) wait their turn instead of replacing each other's first build.

    The lock is released by the system if the process dies. Without ``fcntl`` (Windows), or when
    the lock file cannot be opened or is not a regular file (a link, a pipe), loads go on unlocked:
    they always verify the database and never build it aside.
    """
    try:
        import fcntl

        handle = _open_lock(path, os.O_RDWR | os.O_CREAT | os.O_APPEND)
    except (ImportError, OSError):
        yield LoadLock(path, None)
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield LoadLock(path, handle)


def another_load_running(path: str | Path) -> bool:
    """Whether another process holds :func:`one_load_at_a_time`'s lock on ``path`` now (for saying
    that a load waits; False when it cannot tell)."""
    try:
        import fcntl

        path = os.path.realpath(path) if os.path.islink(path) else path  # as the load locks it
        with _open_lock(path, os.O_RDONLY) as handle:  # a load creates it; without it, none runs
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
    except (ImportError, OSError):
        pass
    return False


def _open_lock(path: str | Path, flags: int) -> IO[str]:
    """``<path>.lock`` opened with ``flags``, if it is a regular file: never through a link (whose
    target a load would overwrite) nor a pipe (which would block)."""
    descriptor = os.open(f"{path}.lock", flags | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        raise OSError(f"{path}.lock is not a regular file")
    return os.fdopen(descriptor, "r+" if flags & os.O_RDWR else "r", encoding="ascii")


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


def read_only_uri(path: str | Path) -> str:
    """A URI that opens ``path`` read-only. Where its folder cannot be written (a read-only mount, a
    published copy), SQLite cannot make the ``-shm`` file a WAL database needs, and the file is
    opened ``immutable``: a load ends with everything in the main file."""
    uri = Path(path).resolve().as_uri()
    if os.access(os.path.dirname(os.path.abspath(path)), os.W_OK):
        return f"{uri}?mode=ro"
    try:  # the -shm may be there already (a writer elsewhere): then the file may still change
        with closing(sqlite3.connect(f"{uri}?mode=ro", uri=True)) as probe:
            probe.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return f"{uri}?mode=ro"
    except sqlite3.OperationalError:
        pass
    if not _empty_or_absent(f"{path}-wal"):
        raise NbsqlError(f"cannot read {path}: its folder is read-only and its -wal file holds changes the "
                         "database file does not have yet; open it once where it can be written")
    return f"{uri}?immutable=1"


def _empty_or_absent(path: str) -> bool:
    return not os.path.exists(path) or os.path.getsize(path) == 0


def opens_immutable(path: str | Path) -> bool:
    """Whether :func:`read_only_uri` opens ``path`` immutable."""
    return read_only_uri(path).endswith("?immutable=1")


def existing_database(db: str | Path | None) -> Path:
    """The database file ``db`` names (default :func:`default_db`); raise :class:`NbsqlError` when
    there is none or it is not a SQLite file (whose contents :func:`connect` checks)."""
    path = Path(db or default_db())
    if not path.is_file():
        where = "" if str(path) == DEFAULT_DB else f" --db {path}"
        raise NbsqlError(f"no database at {path}: run 'nbsql load PATH{where}' first")
    check_sqlite_file(path)
    return path


def connect(db: str | Path | None = None, factory: type[sqlite3.Connection] = sqlite3.Connection) -> sqlite3.Connection:
    """A read-only connection (of class ``factory``) to an nbsql database of this schema version;
    raises :class:`NbsqlError` if it is missing, empty, not nbsql's, of another version or damaged."""
    path = existing_database(db)
    if path.stat().st_size == 0:
        raise NbsqlError(f"{path} is empty: run 'nbsql load PATH --db {path}' first")
    contents = inspect(path)  # before opening it for good, which could make files beside another's database
    if not contents.is_nbsql:
        raise NbsqlError(f"{path} is not an nbsql database ({contents.describe()})")
    if contents.user_version != schema.SCHEMA_VERSION:
        age = "an older" if contents.user_version < schema.SCHEMA_VERSION else "a newer"
        raise NbsqlError(f"{path} was made by {age} nbsql (schema {contents.user_version}; this one reads "
                         f"{schema.SCHEMA_VERSION}): load it again to rebuild it")
    conn = sqlite3.connect(read_only_uri(path), uri=True, check_same_thread=False, factory=factory)
    conn.row_factory = sqlite3.Row
    _no_attaching(conn)
    return conn


def _no_attaching(conn: sqlite3.Connection) -> None:
    """Refuse ATTACH: an attached file is opened writable (and created), whatever the main file's mode."""
    if hasattr(conn, "setlimit"):  # Python 3.11+
        conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)  # type: ignore[attr-defined]
    else:
        conn.set_authorizer(lambda action, *_: sqlite3.SQLITE_DENY if action == sqlite3.SQLITE_ATTACH
                            else sqlite3.SQLITE_OK)
