"""The Python API for other scripts: read-only connections and queries into pandas."""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pandas
import pytest

import nbsql


def test_a_read_only_connection_writes_nowhere(samples_db, tmp_path):
    other = tmp_path / "other.db"
    with closing(nbsql.connect(samples_db)) as conn:
        assert conn.execute("SELECT count(*) FROM notebooks").fetchone()[0] > 0
        with pytest.raises(sqlite3.OperationalError):
            conn.execute("DELETE FROM notebooks")
        with pytest.raises(sqlite3.OperationalError):  # an attached file would be opened writable, and created
            conn.execute(f"ATTACH '{other}' AS other")
    with pytest.raises(pandas.errors.DatabaseError, match="too many attached"):  # pandas' reader wraps SQL errors
        nbsql.query(f"ATTACH '{other}' AS other", samples_db)
    assert not other.exists()


def test_query_builds_the_frame_pandas_would(samples_db):
    sql = "SELECT path, cell_count, title, max_execution_count FROM notebooks WHERE cell_count > ? ORDER BY path"
    frame = nbsql.query(sql, samples_db, params=(3,))
    with closing(sqlite3.connect(samples_db)) as conn:
        expected = pandas.read_sql_query(sql, conn, params=(3,))
    pandas.testing.assert_frame_equal(frame, expected)
    assert len(frame) > 0
    empty = nbsql.query("SELECT path FROM notebooks WHERE 0", samples_db)
    assert list(empty.columns) == ["path"] and empty.empty


@pytest.mark.parametrize("sql", ["", "-- nothing", "PRAGMA foreign_keys = OFF"])
def test_a_statement_without_results_is_a_one_line_error(samples_db, sql):
    with pytest.raises(nbsql.NbsqlError, match="returns no rows"):
        nbsql.query(sql, samples_db)


def test_load_reads_its_arguments_as_a_user_means_them(tmp_path, monkeypatch):
    """An adversarial review's findings: a single exclude pattern as a string had been split into
    characters (its '*' excluded everything, and pruning then emptied the database)."""
    from .conftest import SAMPLES

    db = tmp_path / "nb.db"
    everything = nbsql.load(SAMPLES, db).loaded
    legacy = conn_paths(db, "legacy/%")
    report = nbsql.load(SAMPLES, db, exclude="legacy/*")
    assert legacy and report.removed == len(legacy)
    assert not conn_paths(db, "legacy/%") and len(conn_paths(db, "%")) == everything - len(legacy)
    assert nbsql.load(bytes(SAMPLES), tmp_path / "bytes.db").loaded == everything
    monkeypatch.chdir(tmp_path)
    for arguments, message in [({"jobs": 0}, "jobs must be 1 or more"), ({"db": ":memory:"}, "needs a database file")]:
        with pytest.raises(nbsql.NbsqlError, match=message):
            nbsql.load(SAMPLES, **{"db": db, **arguments})
    monkeypatch.setenv("NBSQL_DB", ":memory:")
    with pytest.raises(nbsql.NbsqlError, match="needs a database file"):
        nbsql.load(SAMPLES)
    assert not (tmp_path / ":memory:").exists()


def conn_paths(db, like: str) -> list[str]:
    with closing(sqlite3.connect(db)) as conn:
        return [r[0] for r in conn.execute("SELECT path FROM notebooks WHERE path LIKE ?", (like,))]


def test_database_gives_sqlite_utils_read_only_by_default(samples_db):
    db = nbsql.database(samples_db)
    assert db["notebooks"].count == 10 and "cells" in db.table_names()
    legacy = list(db["notebooks"].rows_where("path LIKE ?", ["legacy/%"], select="path", order_by="path"))
    assert legacy and all(row["path"].startswith("legacy/") for row in legacy)
    assert [r["n"] for r in db.query("SELECT count(*) AS n FROM cells WHERE cell_type = 'code'")][0] > 0
    hits = list(db["cells"].search("plot", columns=["id", "source"], limit=3))
    assert hits and all("plot" in hit["source"].lower() for hit in hits)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        db["notebooks"].delete_where()
    db.close()


def test_database_writable_when_asked(tmp_path):
    from .conftest import SAMPLES

    path = tmp_path / "nb.db"
    nbsql.load(SAMPLES, path)
    db = nbsql.database(path, writable=True)
    db["my_labels"].insert({"notebook": 1, "label": "reviewed"})
    db.close()
    assert nbsql.query("SELECT label FROM my_labels", path)["label"].tolist() == ["reviewed"]
    assert nbsql.load(SAMPLES, path).unchanged == 10  # still nbsql's: it is marked
    with pytest.raises(nbsql.NbsqlError, match="no database"):
        nbsql.database(tmp_path / "missing.db", writable=True)
