"""A user's data is never lost: other programs' databases are refused, read-only copies can be read,
damaged databases are noticed (issue 11, points 1, 4 and 5)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

import nbsql
from nbsql import schema
from nbsql.database import one_load_at_a_time
from nbsql.serve import make_datasette

from .conftest import SAMPLES, open_db
from .test_cli import run


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def foreign_database(path: Path, notebooks_table: bool, user_version: int) -> Path:
    with closing(sqlite3.connect(path)) as conn:
        if notebooks_table:
            conn.execute("CREATE TABLE notebooks(id INTEGER PRIMARY KEY, title TEXT)")
            conn.execute("CREATE TABLE cells(id INTEGER PRIMARY KEY, source TEXT)")
            conn.execute("INSERT INTO notebooks(title) VALUES ('mine')")
        else:
            conn.execute("CREATE TABLE measurements(id INTEGER PRIMARY KEY, value REAL)")
            conn.execute("INSERT INTO measurements(value) VALUES (1.5)")
        conn.execute(f"PRAGMA user_version = {user_version}")
        conn.commit()
    return path


def pages(db: Path, *urls: str) -> list[tuple[int, str]]:
    datasette = make_datasette(db)

    async def fetch():
        return [(r.status_code, r.text) for r in [await datasette.client.get(url) for url in urls]]

    return asyncio.run(fetch())


@pytest.mark.parametrize("notebooks_table", [True, False])
@pytest.mark.parametrize("user_version", [0, 7])
def test_other_programs_databases_are_refused_and_left_unchanged(tmp_path, notebooks_table, user_version):
    db = foreign_database(tmp_path / "theirs.db", notebooks_table, user_version)
    before = sha256(db)
    result = run("load", str(SAMPLES), "--db", str(db))
    assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    assert result.output.startswith(f"Error: {db} is not an nbsql database (tables ")
    assert f"user_version {user_version}" in result.output
    assert sha256(db) == before and sorted(p.name for p in tmp_path.iterdir()) == ["theirs.db"]
    with pytest.raises(nbsql.NbsqlError, match="is not an nbsql database"):
        nbsql.load(SAMPLES, db, full=True)
    assert sha256(db) == before
    for command in (["health", "--db", str(db)], ["search", "plot", "--db", str(db)], ["serve", "--db", str(db)]):
        refused = run(*command)
        assert refused.exit_code == 2 and refused.output.count("\n") == 1, (command, refused.output)
        assert refused.output.startswith(f"Error: {db} is not an nbsql database")
    with pytest.raises(nbsql.NbsqlError, match="is not an nbsql database"):
        nbsql.query("SELECT 1", db)
    assert sha256(db) == before


def test_an_empty_database_file_is_filled(tmp_path):
    db = tmp_path / "empty.db"
    sqlite3.connect(db).close()
    db.touch()
    assert run("load", str(SAMPLES), "--db", str(db), "-q").exit_code == 0
    with closing(open_db(db)) as conn:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == schema.APPLICATION_ID
        assert conn.execute("SELECT count(*) FROM notebooks").fetchone()[0] == 10


def drop_tables_since_schema_5(conn: sqlite3.Connection) -> None:
    """Take away the tables nbsql added after databases were marked, as an older nbsql made none of them."""
    conn.execute("DROP TABLE cell_texts")
    conn.execute("DROP TABLE cell_dependencies")
    conn.execute("DROP TABLE cell_names")
    conn.execute("DROP TABLE execution_cells")
    conn.execute("DROP TABLE executions")


def test_an_unmarked_database_of_the_last_nbsql_is_upgraded(tmp_path):
    db = tmp_path / "nb.db"
    nbsql.load(SAMPLES, db)
    with closing(sqlite3.connect(db)) as conn:  # as nbsql made it before databases were marked (schema 3)
        drop_tables_since_schema_5(conn)
        conn.execute("PRAGMA application_id = 0")
        conn.execute("PRAGMA user_version = 3")
        conn.commit()
    older = run("search", "plot", "--db", str(db))
    assert older.exit_code == 2 and "made by an older nbsql (schema 3" in older.output
    report = nbsql.load(SAMPLES, db)
    assert report.loaded == 10  # rebuilt
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == schema.APPLICATION_ID
        assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
    assert nbsql.load(SAMPLES, db).unchanged == 10


@pytest.mark.parametrize("marked", [True, False])
def test_an_older_nbsql_schema_is_rebuilt(tmp_path, marked):
    db = tmp_path / "nb.db"
    nbsql.load(SAMPLES, db)
    with closing(sqlite3.connect(db, isolation_level=None)) as conn:  # schema 1 had no health tables
        drop_tables_since_schema_5(conn)
        conn.execute("DROP VIEW notebook_health")
        conn.execute("DROP TABLE findings")
        conn.execute("DROP TABLE rules")
        conn.execute("PRAGMA user_version = 1")
        conn.execute(f"PRAGMA application_id = {schema.APPLICATION_ID if marked else 0}")
    report = nbsql.load(SAMPLES, db)
    assert report.loaded == 10
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
        assert conn.execute("PRAGMA application_id").fetchone()[0] == schema.APPLICATION_ID
        assert conn.execute("SELECT count(*) FROM findings").fetchone()[0] > 0


def test_a_table_beside_nbsqls_makes_it_foreign(tmp_path):
    """An unmarked database is nbsql's only with exactly nbsql's tables: one more is someone's data."""
    db = tmp_path / "nb.db"
    nbsql.load(SAMPLES, db)
    with closing(sqlite3.connect(db, isolation_level=None)) as conn:
        drop_tables_since_schema_5(conn)
        conn.execute("PRAGMA application_id = 0")
        conn.execute("PRAGMA user_version = 3")
        conn.execute("CREATE TABLE annotations(note TEXT)")
    before = sha256(db)
    result = run("load", str(SAMPLES), "--db", str(db), "--full")
    assert result.exit_code == 2 and "annotations" in result.output and sha256(db) == before


@contextmanager
def read_only_folder(folder: Path):
    """Make ``folder`` really read-only, for root too: the immutable attribute (ext4, xfs, btrfs...)."""
    made = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, text=True) \
        if shutil.which("chattr") else None
    if made is None or made.returncode != 0:
        message = f"cannot make a read-only folder here (chattr +i: {made.stderr.strip() if made else 'missing'})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield folder
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_a_database_in_a_read_only_folder_can_be_read(tmp_path):
    folder = tmp_path / "published"
    folder.mkdir()
    db = folder / "nb.db"
    assert run("load", str(SAMPLES), "--db", str(db), "-q").exit_code == 0
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with read_only_folder(folder):
        with pytest.raises(OSError):
            (folder / "probe").touch()  # it really cannot be written
        health = run("health", "--db", str(db), "--fail-on", "never")
        assert health.exit_code == 0 and "problem(s)" in health.output, health.output
        search = run("search", "plot", "--db", str(db))
        assert search.exit_code == 0 and "notebooks match; showing" in search.output, search.output
        with closing(nbsql.connect(db)) as conn:
            assert conn.execute("SELECT count(*) FROM notebooks").fetchone()[0] == 10
        assert nbsql.query("SELECT count(*) AS n FROM cells", db)["n"][0] > 50
        notebook, table = pages(db, "/-/nbsql/notebooks/1", "/nb/cells.json?_size=1")
        assert notebook[0] == 200 and "nbsql-cell" in notebook[1] and table[0] == 200
        refused = run("load", str(SAMPLES), "--db", str(db))  # a load cannot write there: one line
        assert refused.exit_code == 2 and refused.output.count("\n") == 1, refused.output


def flip_middle(db: Path, count: int = 2000) -> None:
    data = bytearray(db.read_bytes())
    middle = len(data) // 2
    data[middle:middle + count] = bytes(b ^ 0xFF for b in data[middle:middle + count])
    db.write_bytes(bytes(data))


def test_a_damaged_database_is_refused_before_a_load_writes(tmp_path):
    db = tmp_path / "nb.db"
    nbsql.load(SAMPLES, db)
    flip_middle(db)
    with closing(sqlite3.connect(db)) as conn:
        try:
            integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        except sqlite3.DatabaseError as exc:  # damage in the schema's own pages
            integrity = str(exc)
    assert integrity != "ok"
    before = sha256(db)
    for extra in ([], ["--full"]):
        result = run("load", str(SAMPLES), "--db", str(db), *extra)
        assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
        assert result.output.startswith(f"Error: {db} is damaged (") and "--full --db NEW.db" in result.output
        assert sha256(db) == before


def test_reads_report_the_damage_sqlite_finds(tmp_path):
    db = tmp_path / "nb.db"
    nbsql.load(SAMPLES, db)
    flip_middle(db, count=len(db.read_bytes()) // 3)  # the cells' pages: every regex search reads them
    result = run("search", ".", "--regex", "--db", str(db))
    assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    assert "is damaged (" in result.output and "--full --db NEW.db" in result.output  # SQLite's words vary
    assert "match; showing" not in result.output


def test_a_load_verifies_only_a_file_changed_since_the_last_complete_load(tmp_path):
    db = tmp_path / "nb.db"
    nbsql.load(SAMPLES, db)
    with one_load_at_a_time(db) as lock:
        assert lock.unchanged_since_last_load()
    os.utime(db)  # touched by another program, or left by a load that did not finish
    with one_load_at_a_time(db) as lock:
        assert not lock.unchanged_since_last_load()
    nbsql.load(SAMPLES, db)  # verified, then recorded again
    with one_load_at_a_time(db) as lock:
        assert lock.unchanged_since_last_load()


def wal_database(path: Path) -> Path:
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE t(x)")
        conn.commit()
    return path


def test_nothing_is_made_beside_another_programs_wal_database(tmp_path):
    db = wal_database(tmp_path / "theirs.db")
    before = sha256(db)
    for command in (["load", str(SAMPLES)], ["health"], ["search", "plot"]):
        assert run(*command, "--db", str(db)).exit_code == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["theirs.db"] and sha256(db) == before


def test_a_newer_nbsql_database_is_refused_unless_rebuilt(tmp_path):
    db = tmp_path / "nb.db"
    nbsql.load(SAMPLES, db)
    with closing(sqlite3.connect(db, isolation_level=None)) as conn:
        conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 1}")
    before = sha256(db)
    for command in (["load", str(SAMPLES)], ["health"], ["search", "plot"]):
        refused = run(*command, "--db", str(db))
        assert refused.exit_code == 2 and "made by a newer nbsql" in refused.output, refused.output
    assert sha256(db) == before
    assert run("load", str(SAMPLES), "--db", str(db), "--full", "-q").exit_code == 0
    assert nbsql.query("SELECT count(*) AS n FROM notebooks", db)["n"][0] == 10


def test_reads_name_an_older_schema_and_an_empty_file(tmp_path):
    db = tmp_path / "nb.db"
    nbsql.load(SAMPLES, db)
    with closing(sqlite3.connect(db, isolation_level=None)) as conn:
        conn.execute("PRAGMA user_version = 2")
    older = run("health", "--db", str(db))
    assert older.exit_code == 2 and "made by an older nbsql (schema 2" in older.output, older.output
    empty = tmp_path / "empty.db"
    empty.touch()
    result = run("search", "plot", "--db", str(empty))
    assert result.exit_code == 2 and result.output == f"Error: {empty} is empty: run 'nbsql load PATH --db {empty}' " \
        "first\n"


def test_a_lock_file_that_is_a_link_or_a_pipe_is_not_used(tmp_path):
    """A link's target is never overwritten, a pipe never waited on: the load goes on unlocked."""
    db = tmp_path / "nb.db"
    nbsql.load(SAMPLES, db)
    (tmp_path / "nb.db.lock").unlink()
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes")
    (tmp_path / "nb.db.lock").symlink_to(notes)
    assert run("load", str(SAMPLES), "--db", str(db)).exit_code == 0
    assert notes.read_text() == "my notes"
    (tmp_path / "nb.db.lock").unlink()
    os.mkfifo(tmp_path / "nb.db.lock")
    process = subprocess.run([sys.executable, "-m", "nbsql", "load", str(SAMPLES), "--db", str(db)],
                             capture_output=True, text=True, timeout=120)
    assert process.returncode == 0, process.stderr


def test_a_read_only_folder_with_a_leftover_empty_wal_can_be_read(tmp_path):
    folder = tmp_path / "copy"
    folder.mkdir()
    db = folder / "nb.db"
    nbsql.load(SAMPLES, db)
    (folder / "nb.db.lock").unlink()
    (folder / "nb.db-wal").touch()  # what a reader leaves; copies often skip the -shm
    with read_only_folder(folder):
        result = run("search", "plot", "--db", str(db))
        assert result.exit_code == 0 and "notebooks match; showing" in result.output, result.output
    (folder / "nb.db-wal").write_bytes(b"\0" * 4096)  # changes the main file does not have: say so
    with read_only_folder(folder):
        result = run("search", "plot", "--db", str(db))
        assert result.exit_code == 2 and "its -wal file holds changes" in result.output, result.output


def test_first_loads_without_the_lock_do_not_build_aside(tmp_path, corpus):
    """Where the lock cannot be had, a first load writes in place (SQLite's own locking keeps two
    loads apart) instead of building aside and replacing a file another load has open."""
    for attempt in range(3):
        folder = tmp_path / str(attempt)
        folder.mkdir()
        (folder / "nb.db.lock").mkdir()  # cannot be opened as the lock
        db = folder / "nb.db"
        loads = [subprocess.Popen([sys.executable, "-m", "nbsql", "load", str(source), "--db", str(db), "-q"],
                                  stderr=subprocess.PIPE, text=True) for source in (SAMPLES, corpus / "edge")]
        assert [load.wait(300) for load in loads] == [0, 0], [load.stderr.read() for load in loads]
        with closing(sqlite3.connect(db)) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            roots = {row[0] for row in conn.execute("SELECT DISTINCT root FROM notebooks")}
        assert roots == {str(SAMPLES), str(corpus / "edge")}
