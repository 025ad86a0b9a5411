"""The loader on real SQLite files: reconciliation with the JSON, incremental runs, pruning, kills."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing, suppress
from pathlib import Path

import pytest

import nbsql
from nbsql import schema
from nbsql.code import analyze

from .conftest import BROKEN_SAMPLE, EDGE, REAL, SAMPLES, notebook_files, open_db, table_dump


def check_database(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        # no half notebooks: every stored notebook has all its cells and outputs
        assert conn.execute("SELECT count(*) FROM notebooks n WHERE cell_count != "
                            "(SELECT count(*) FROM cells c WHERE c.notebook = n.id) OR output_count != "
                            "(SELECT count(*) FROM outputs o WHERE o.notebook = n.id)").fetchone()[0] == 0
        # the index holds each text that cells hold, once, and cell_texts counts its cells
        assert conn.execute(f"SELECT count(*) FROM {schema.FTS_TABLE}").fetchone()[0] == \
            conn.execute("SELECT count(DISTINCT text) FROM cells").fetchone()[0] == \
            conn.execute("SELECT count(*) FROM cell_texts").fetchone()[0]
        assert conn.execute(f"SELECT count(*) FROM cells c WHERE NOT EXISTS "
                            f"(SELECT 1 FROM {schema.FTS_TABLE} f WHERE f.rowid = c.text)").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM cell_texts t WHERE cells != "
                            "(SELECT count(*) FROM cells c WHERE c.text = t.id)").fetchone()[0] == 0


def independent_counts(path: Path) -> dict[str, int] | None:
    """Cells, outputs and (v4) mime entries counted straight from the JSON, without nbsql."""
    raw = json.loads(path.read_bytes())
    if raw.get("nbformat", 4) < 4:
        cells = [c for sheet in raw.get("worksheets") or [] for c in sheet.get("cells") or []]
        return {"cells": len(cells), "outputs": sum(len(c.get("outputs") or []) for c in cells)}
    cells = raw["cells"]
    outputs = [o for c in cells if c.get("cell_type") == "code" for o in c.get("outputs") or []]
    return {"cells": len(cells), "outputs": len(outputs),
            "output_data": sum(len(o.get("data") or {}) for o in outputs),
            "code": sum(c.get("cell_type") == "code" for c in cells),
            "errors": sum(o.get("output_type") == "error" for o in outputs),
            "images": sum(m.startswith("image/") for o in outputs for m in o.get("data") or {})}


@pytest.mark.parametrize("folder", [SAMPLES, REAL, EDGE], ids=["samples", "real", "edge"])
def test_counts_reconcile_with_the_json(folder, corpus_db, samples_db):
    db = samples_db if folder == SAMPLES else corpus_db
    root = str(folder if folder == SAMPLES else folder.parent)
    with open_db(db) as conn:
        stored = {(r["path"]): r for r in conn.execute(
            "SELECT n.*, (SELECT count(*) FROM cells c WHERE c.notebook = n.id) AS cells_rows,"
            " (SELECT count(*) FROM outputs o WHERE o.notebook = n.id) AS output_rows,"
            " (SELECT count(*) FROM output_data d WHERE d.notebook = n.id) AS data_rows"
            " FROM notebooks n WHERE root = ?", (root,))}
        errors = {r["path"] for r in conn.execute("SELECT path FROM load_errors WHERE root = ?", (root,))}
    files = notebook_files(folder)
    assert len(files) > 5
    for path in files:
        relative = path.relative_to(root).as_posix()
        assert (relative in stored) != (relative in errors), relative  # every file accounted for, once
        if relative in errors:
            continue
        row, expected = stored[relative], independent_counts(path)
        assert (row["cells_rows"], row["cell_count"]) == (expected["cells"],) * 2, relative
        assert (row["output_rows"], row["output_count"]) == (expected["outputs"],) * 2, relative
        if "output_data" in expected:
            assert row["data_rows"] == expected["output_data"], relative
            assert (row["code_cell_count"], row["error_count"], row["image_count"]) == \
                (expected["code"], expected["errors"], expected["images"]), relative


def test_corpus_database_is_sound(corpus_db):
    check_database(corpus_db)
    with open_db(corpus_db) as conn:
        assert conn.execute("SELECT count(*) FROM notebooks").fetchone()[0] + \
            conn.execute("SELECT count(*) FROM load_errors").fetchone()[0] == len(notebook_files(REAL)) + \
            len(notebook_files(EDGE))
        assert conn.execute("SELECT count(*) FROM imports").fetchone()[0] > 5000
        assert conn.execute("SELECT count(*) FROM notebooks WHERE orig_nbformat = 3").fetchone()[0] >= 14
        assert conn.execute("SELECT count(DISTINCT language) FROM notebooks").fetchone()[0] > 10


def test_what_scales_with_the_corpus_reads_an_index(samples_db):
    """Issue 15 (40,000 notebooks): the notebooks page's sort and facets, and NB116's and a search
    result's copies, are read from indexes alone, never from the rows."""
    from nbsql.metadata import FACETS, SORTS

    with open_db(samples_db) as conn:
        def plan(sql: str) -> str:
            return " ".join(row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + sql))

        assert "TEMP B-TREE" not in plan(f"SELECT * FROM notebooks ORDER BY {SORTS['notebooks']} LIMIT 50")
        for column in FACETS["notebooks"]:
            assert "COVERING INDEX" in plan(f"SELECT {column}, count(*) FROM notebooks GROUP BY {column}")
        assert "COVERING INDEX" in plan("SELECT notebook, position, coalesce(sloc, line_count) FROM cells "
                                        "WHERE source_hash = 'x'")


def test_samples_fill_every_table(samples_db):
    check_database(samples_db)
    with open_db(samples_db) as conn:
        for table in schema.TABLES:
            if table.name in schema.RUN_TABLES:  # nbsql run fills them (tests/test_run.py)
                continue
            assert conn.execute(f"SELECT count(*) FROM {table.name}").fetchone()[0] > 0, table.name
        for view in schema.VIEWS:
            assert conn.execute(f"SELECT count(*) FROM {view.name}").fetchone()[0] > 0, view.name
        assert {r[0] for r in conn.execute("SELECT DISTINCT language FROM notebooks")} >= {"python", "r", "julia"}
        assert conn.execute("SELECT count(*) FROM imports WHERE kind = 'pip'").fetchone()[0] >= 2
        assert conn.execute("SELECT count(*) FROM parameters WHERE source = 'papermill'").fetchone()[0] >= 2
        assert conn.execute("SELECT count(*) FROM cells WHERE papermill_status = 'completed'").fetchone()[0] > 0
        assert conn.execute("SELECT count(*) FROM cells WHERE attachments IS NOT NULL").fetchone()[0] > 0
        assert conn.execute("SELECT count(*) FROM cells WHERE parse_error IS NOT NULL").fetchone()[0] > 0
        # None is stored as NULL (the writer registers an adapter for None, to bind it faster)
        assert {r[0] for r in conn.execute("SELECT DISTINCT typeof(sloc) || typeof(execution_count) FROM cells "
                                           "WHERE cell_type = 'markdown'")} == {"nullnull"}


def test_images_are_stored_as_decoded_bytes(samples_db):
    with open_db(samples_db) as conn:
        rows = conn.execute("SELECT mime, data, size FROM output_data WHERE mime IN ('image/png', 'image/jpeg')")
        rows = rows.fetchall()
    assert rows
    for row in rows:
        signature = b"\x89PNG\r\n\x1a\n" if row["mime"] == "image/png" else b"\xff\xd8"
        assert row["data"].startswith(signature) and row["size"] == len(row["data"])


def test_full_text_search_covers_sources_and_outputs(samples_db):
    with open_db(samples_db) as conn:
        by_source = conn.execute(f"SELECT count(*) FROM {schema.FTS_TABLE} WHERE source MATCH 'import'")
        by_output = conn.execute(f"SELECT count(*) FROM {schema.FTS_TABLE} WHERE outputs MATCH 'Error'")
        assert by_source.fetchone()[0] > 0 and by_output.fetchone()[0] > 0


def copy_tree(source: Path, target: Path, limit: int | None = None) -> list[Path]:
    files = notebook_files(source)[:limit]
    for path in files:
        destination = target / path.relative_to(source)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination)
    return [target / p.relative_to(source) for p in files]


def test_rerun_changes_nothing_and_only_changed_files_reload(tmp_path):
    files = copy_tree(REAL, tmp_path / "repo", limit=60)
    db = tmp_path / "nb.db"
    first = nbsql.load(tmp_path / "repo", db)
    assert (first.loaded, first.failed) == (60, 0)
    before = table_dump(db)
    again = nbsql.load(tmp_path / "repo", db)
    assert (again.loaded, again.unchanged) == (0, 60)
    assert table_dump(db) == before

    touched, edited, deleted = files[3], files[5], files[7]
    os.utime(touched, (time.time() + 5, time.time() + 5))  # new mtime, same bytes
    raw = json.loads(edited.read_text())
    raw["cells"].append({"cell_type": "markdown", "metadata": {}, "source": "# appended"})
    edited.write_text(json.dumps(raw))
    deleted.unlink()
    with open_db(db) as conn:
        edited_id = conn.execute("SELECT id FROM notebooks WHERE path LIKE ?", ("%" + edited.name,)).fetchone()[0]
    report = nbsql.load(tmp_path / "repo", db)
    assert (report.loaded, report.unchanged, report.removed, report.failed) == (1, 58, 1, 0)
    check_database(db)
    with open_db(db) as conn:
        row = conn.execute("SELECT id, cell_count FROM notebooks WHERE path LIKE ?", ("%" + edited.name,)).fetchone()
        assert row["id"] == edited_id and row["cell_count"] == len(raw["cells"])
        mtime = conn.execute("SELECT mtime FROM notebooks WHERE path LIKE ?", ("%" + touched.name,)).fetchone()[0]
        assert mtime == touched.stat().st_mtime
        assert conn.execute("SELECT count(*) FROM notebooks").fetchone()[0] == 59
    # the incremental result equals a clean load of the same files
    clean = tmp_path / "clean.db"
    nbsql.load(tmp_path / "repo", clean)
    assert {k: len(v) for k, v in table_dump(db).items()} == {k: len(v) for k, v in table_dump(clean).items()}


def test_no_prune_keeps_vanished_notebooks_and_full_rebuilds(tmp_path):
    files = copy_tree(SAMPLES, tmp_path / "repo")
    db = tmp_path / "nb.db"
    nbsql.load(tmp_path / "repo", db)
    files[0].unlink()
    assert nbsql.load(tmp_path / "repo", db, prune=False).removed == 0
    valid = len(files) - 1  # the broken sample is a load error
    assert nbsql.load(tmp_path / "repo", db, full=True).loaded == valid - 1
    with open_db(db) as conn:
        assert conn.execute("SELECT count(*) FROM notebooks").fetchone()[0] == valid - 1


def _two_level_repo(tmp_path: Path) -> tuple[Path, Path]:
    """repo/ with sample notebooks at the top and in repo/sub/ (plus a broken one there)."""
    repo = tmp_path / "repo"
    copy_tree(SAMPLES, repo, limit=3)
    copy_tree(SAMPLES, repo / "sub", limit=3)
    (repo / "sub" / "broken.ipynb").write_text("{")
    return repo, repo / "sub"


def _stored(db: Path) -> dict[str, list]:
    with open_db(db) as conn:
        return {"notebooks": sorted(tuple(r) for r in conn.execute("SELECT root, path, id FROM notebooks")),
                "errors": sorted(tuple(r) for r in conn.execute("SELECT root, path FROM load_errors"))}


def test_overlapping_roots_in_one_run_store_each_file_once(tmp_path):
    repo, sub = _two_level_repo(tmp_path)
    report = nbsql.load([repo, sub], tmp_path / "nb.db")
    assert (report.seen, report.loaded, report.failed) == (7, 6, 1)
    stored = _stored(tmp_path / "nb.db")
    assert {root for root, _, _ in stored["notebooks"]} == {str(repo)}
    assert stored["errors"] == [(str(repo), "sub/broken.ipynb")]
    check_database(tmp_path / "nb.db")


def test_an_outer_load_takes_over_an_inner_root_keeping_ids(tmp_path):
    repo, sub = _two_level_repo(tmp_path)
    db = tmp_path / "nb.db"
    nbsql.load(sub, db)
    inner_ids = {path: i for _, path, i in _stored(db)["notebooks"]}
    report = nbsql.load(repo, db)
    assert (report.loaded, report.unchanged, report.failed) == (3, 3, 1)  # sub's notebooks were not reloaded
    stored = _stored(db)
    assert {root for root, _, _ in stored["notebooks"]} == {str(repo)} and len(stored["notebooks"]) == 6
    assert {path: i for _, path, i in stored["notebooks"] if path.startswith("sub/")} == \
        {f"sub/{path}": i for path, i in inner_ids.items()}
    assert stored["errors"] == [(str(repo), "sub/broken.ipynb")]
    check_database(db)


def test_an_inner_load_refreshes_and_prunes_only_its_folder(tmp_path):
    repo, sub = _two_level_repo(tmp_path)
    db = tmp_path / "nb.db"
    nbsql.load(repo, db)
    before = _stored(db)
    gone = sorted(sub.rglob("*.ipynb"))[0]
    gone.unlink()
    (sub / "broken.ipynb").unlink()
    report = nbsql.load(sub, db)
    assert (report.seen, report.unchanged, report.removed) == (2, 2, 1)
    after = _stored(db)
    gone_path = "sub/" + gone.relative_to(sub).as_posix()
    assert after["notebooks"] == [row for row in before["notebooks"] if row[1] != gone_path]
    assert after["errors"] == []
    # a single file below a loaded root is refreshed in place too
    top = sorted(p for p in repo.rglob("*.ipynb") if sub not in p.parents)[0]
    top.write_bytes(top.read_bytes().replace(b'"cells": [', b'"cells": [{"cell_type": "raw", "metadata": {}, '
                                                             b'"source": "new"}, ', 1))
    assert nbsql.load(top, db).loaded == 1
    assert _stored(db)["notebooks"] == after["notebooks"]
    check_database(db)


def test_a_file_stored_under_two_roots_keeps_the_outer_row(tmp_path):
    repo, sub = _two_level_repo(tmp_path)
    db = tmp_path / "nb.db"
    nbsql.load(sub, db)
    with sqlite3.connect(db) as conn:  # as an older nbsql could leave it: the same file under repo too
        conn.execute("CREATE TEMP TABLE copy AS SELECT * FROM notebooks")
        conn.execute("UPDATE copy SET id = id + 1000, root = ?, path = 'sub/' || path, mtime = 0, sha256 = ''",
                     (str(repo),))
        conn.execute("INSERT INTO notebooks SELECT * FROM copy")
    nbsql.load(repo, db)
    stored = _stored(db)
    assert len(stored["notebooks"]) == 6
    assert sorted(i for _, path, i in stored["notebooks"] if path.startswith("sub/")) == [1001, 1002, 1003]
    check_database(db)


def test_a_single_file_load_does_not_split_a_folders_notebooks(tmp_path):
    repo, sub = _two_level_repo(tmp_path)
    db = tmp_path / "nb.db"
    nbsql.load(sub, db)
    top = repo / "top.ipynb"
    shutil.copy(sorted(sub.rglob("*.ipynb"))[0], top)
    nbsql.load(top, db)  # its folder, repo, becomes a root holding sub
    report = nbsql.load(sub, db)
    assert (report.loaded, report.unchanged) == (0, 3)
    stored = _stored(db)
    assert len(stored["notebooks"]) == 4 and {root for root, _, _ in stored["notebooks"]} == {str(repo)}
    assert stored["errors"] == [(str(repo), "sub/broken.ipynb")]
    check_database(db)


def test_a_folder_that_could_not_be_listed_is_cleared_once_it_can(tmp_path, monkeypatch):
    repo, sub = _two_level_repo(tmp_path)
    db = tmp_path / "nb.db"
    nbsql.load(repo, db)
    listing = os.scandir

    def refuse(path="."):
        if str(path) == str(sub):
            raise PermissionError(13, "Permission denied")
        return listing(path)

    with monkeypatch.context() as patched:
        patched.setattr(os, "scandir", refuse)
        report = nbsql.load(sub, db)
    assert report.failed == 1 and report.removed == 3
    assert (str(repo), "sub") in _stored(db)["errors"]
    report = nbsql.load(sub, db)
    assert (report.loaded, report.failed) == (3, 1)  # the broken notebook only
    assert _stored(db)["errors"] == [(str(repo), "sub/broken.ipynb")]


def test_a_side_file_left_under_our_own_process_id_is_not_reused(tmp_path):
    """Process ids come round again (in containers, often the same one): such a file is stale."""
    repo, sub = _two_level_repo(tmp_path)
    db = tmp_path / "nb.db"
    nbsql.load(sub, f"{db}.building-{os.getpid()}")
    nbsql.load(repo / "analysis", db)
    assert all(path.startswith("analysis/") or "/" not in path for _, path, _ in _stored(db)["notebooks"])
    assert {root for root, _, _ in _stored(db)["notebooks"]} == {str(repo / "analysis")}
    assert not (tmp_path / f"nb.db.building-{os.getpid()}").exists()


def test_a_database_built_aside_gets_the_whole_schema(tmp_path):
    """A first load creates the late indexes once its rows are in; the file ends as schema.create
    makes one, and the queries that need those indexes use them."""
    db = tmp_path / "nb.db"
    nbsql.load(SAMPLES, db)
    made = sqlite3.connect(":memory:")
    schema.create(made)
    objects = "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name"
    with open_db(db) as conn:
        assert [tuple(row) for row in conn.execute(objects)] == made.execute(objects).fetchall()
        plan = conn.execute("EXPLAIN QUERY PLAN SELECT cell FROM cell_names WHERE name = 'pd' AND kind = 'use'")
        assert "idx_cell_names_name" in " ".join(row[-1] for row in plan)
    assert schema.LATE_INDEXES and all(statement in schema.schema_sql() for statement in schema.LATE_INDEXES)
    assert not any(statement in schema.schema_sql(late_indexes=False) for statement in schema.LATE_INDEXES)


def test_copies_are_analysed_once_and_the_database_is_the_same(tmp_path, monkeypatch):
    """A source met again is taken from the process's analyses (without measuring or walking it
    again), with or without the checks; the database is the one of a load that analyses every cell."""
    from nbsql import rows

    copy_tree(REAL, tmp_path / "repo", limit=80)
    copy_tree(REAL, tmp_path / "repo" / "copy", limit=80)  # every code cell twice
    analyses = []
    monkeypatch.setattr(rows, "analyze", lambda source: analyses.append(source) or analyze(source))
    for checks in (True, False):
        rows._analysed.clear()
        analyses.clear()
        nbsql.load(tmp_path / "repo", tmp_path / f"once-{checks}.db", jobs=1, checks=checks)
        assert analyses and len(analyses) == len(set(analyses))
        monkeypatch.setattr(rows, "ANALYSED_SOURCES", 0)
        nbsql.load(tmp_path / "repo", tmp_path / f"every-{checks}.db", jobs=1, checks=checks)
        monkeypatch.setattr(rows, "ANALYSED_SOURCES", 4096)
        assert table_dump(tmp_path / f"once-{checks}.db") == table_dump(tmp_path / f"every-{checks}.db")


def test_concurrent_first_loads_of_one_database_keep_both(tmp_path):
    """Two loads into a database that does not exist yet (parallel pre-commit runs): one waits."""
    first = copy_tree(REAL, tmp_path / "first", limit=40)
    second = copy_tree(REAL, tmp_path / "second", limit=40)
    db = tmp_path / "nb.db"
    runs = [subprocess.Popen([sys.executable, "-m", "nbsql", "load", str(folder), "--db", str(db), "--quiet"])
            for folder in (tmp_path / "first", tmp_path / "second")]
    assert [run.wait(timeout=300) for run in runs] == [0, 0]
    with open_db(db) as conn:
        roots = dict(conn.execute("SELECT root, count(*) FROM notebooks GROUP BY root").fetchall())
        failed = dict(conn.execute("SELECT root, count(*) FROM load_errors GROUP BY root").fetchall())
    for folder, files in (("first", first), ("second", second)):
        root = str(tmp_path / folder)
        assert roots.get(root, 0) + failed.get(root, 0) == len(files)
    check_database(db)


def test_a_reader_of_an_empty_database_sees_the_first_load(tmp_path):
    """A server opened on an empty database keeps its file: the first load must write into it."""
    (tmp_path / "empty").mkdir()
    db = tmp_path / "nb.db"
    nbsql.load(tmp_path / "empty", db)
    with closing(nbsql.connect(db)) as reader:
        assert reader.execute("SELECT count(*) FROM notebooks").fetchone()[0] == 0
        report = nbsql.load(SAMPLES, db)
        assert reader.execute("SELECT count(*) FROM notebooks").fetchone()[0] == report.loaded > 0
    check_database(db)


def test_a_notebook_that_breaks_moves_to_load_errors_and_back(tmp_path):
    files = copy_tree(SAMPLES, tmp_path / "repo")
    db = tmp_path / "nb.db"
    nbsql.load(tmp_path / "repo", db)
    good = files[0].read_bytes()
    files[0].write_bytes(good[: len(good) // 2])
    report = nbsql.load(tmp_path / "repo", db)
    assert report.failed == 2 and {kind for _, kind, _ in report.errors} == {"truncated"}  # with the broken sample
    broken = {str(files[0].relative_to(tmp_path / "repo")), BROKEN_SAMPLE}
    with open_db(db) as conn:
        assert conn.execute("SELECT count(*) FROM notebooks").fetchone()[0] == len(files) - 2
        assert {r[0] for r in conn.execute("SELECT path FROM load_errors WHERE kind = 'truncated'")} == broken
    files[0].write_bytes(good)
    nbsql.load(tmp_path / "repo", db)
    with open_db(db) as conn:
        assert conn.execute("SELECT count(*) FROM notebooks").fetchone()[0] == len(files) - 1
        assert [r[0] for r in conn.execute("SELECT path FROM load_errors")] == [BROKEN_SAMPLE]
    check_database(db)


def test_loads_of_single_files_prune_what_is_gone(tmp_path, monkeypatch):
    """As the pre-commit hook loads: only the files named, from the repository's top folder. A
    renamed or deleted notebook (or broken file) must leave, or corpus rules keep counting it."""
    repo = tmp_path / "repo"
    repo.mkdir()
    first, second = notebook_files(SAMPLES)[:2]
    shutil.copy(first, repo / "a.ipynb")
    shutil.copy(second, repo / "b.ipynb")
    (repo / "broken.ipynb").write_text("{", encoding="utf-8")
    monkeypatch.chdir(repo)
    nbsql.load(["a.ipynb", "b.ipynb", "broken.ipynb"], "hook.db")
    (repo / "a.ipynb").rename(repo / "renamed.ipynb")
    (repo / "broken.ipynb").unlink()
    kept = nbsql.load(["renamed.ipynb"], "hook.db", prune=False)
    assert kept.removed == 0
    report = nbsql.load(["renamed.ipynb"], "hook.db")
    assert report.removed == 1
    with closing(open_db(repo / "hook.db")) as conn:
        assert [r[0] for r in conn.execute("SELECT path FROM notebooks ORDER BY path")] == ["b.ipynb", "renamed.ipynb"]
        assert conn.execute("SELECT count(*) FROM load_errors").fetchone()[0] == 0


def test_serial_and_parallel_loads_are_identical(tmp_path):
    copy_tree(REAL, tmp_path / "repo", limit=40)
    nbsql.load(tmp_path / "repo", tmp_path / "serial.db", jobs=1)
    nbsql.load(tmp_path / "repo", tmp_path / "parallel.db", jobs=2)
    assert table_dump(tmp_path / "serial.db") == table_dump(tmp_path / "parallel.db")


def test_the_pool_waits_for_the_writer(tmp_path, monkeypatch):
    """Backpressure (issue 15: flat memory): a worker is sent at most IN_FLIGHT_PER_WORKER files
    the writer has not taken, however slow the writer; the database is the same as without it."""
    import importlib

    load_module = importlib.import_module("nbsql.load")
    copy_tree(REAL, tmp_path / "repo", limit=40)
    monkeypatch.setattr(load_module, "IN_FLIGHT_PER_WORKER", 2)
    sent = []
    original = load_module._Bounded.__iter__

    def counted(feed):
        for task in original(feed):
            sent.append(task)
            yield task

    monkeypatch.setattr(load_module._Bounded, "__iter__", counted)
    ahead = []

    def slow_writer(done: int, total: int) -> None:  # called as the writer takes each result
        time.sleep(0.02)
        ahead.append(len(sent) - done)

    nbsql.load(tmp_path / "repo", tmp_path / "bounded.db", jobs=2, progress=slow_writer)
    assert len(sent) == 40 and max(ahead) <= 2 * 2 + 1  # the one being written, and the slots
    monkeypatch.undo()
    nbsql.load(tmp_path / "repo", tmp_path / "free.db", jobs=2)
    assert table_dump(tmp_path / "bounded.db") == table_dump(tmp_path / "free.db")


def _kill_when(command: list[str], ready, seconds: float = 60) -> None:
    """Run ``command`` and SIGKILL its whole process group once ``ready()`` holds."""
    process = subprocess.Popen(command, start_new_session=True)
    deadline = time.time() + seconds
    try:
        while time.time() < deadline and process.poll() is None:
            time.sleep(0.05)
            if ready():
                break
        assert process.poll() is None, "the load finished before it could be killed"
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _count(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return conn.execute("SELECT count(*) FROM notebooks").fetchone()[0]
    except sqlite3.Error:
        return 0


def _load_command(db: Path) -> list[str]:
    return [sys.executable, "-m", "nbsql", "load", str(REAL), "--db", str(db), "--jobs", "2", "--quiet"]


def test_killed_load_leaves_a_sound_database_and_a_rerun_completes_it(tmp_path):
    """A load into a database that holds notebooks commits batch by batch (WAL): kill it part-way."""
    db, clean = tmp_path / "killed.db", tmp_path / "clean.db"
    for target in (db, clean):
        nbsql.load(SAMPLES, target)
    samples = _count(db)
    _kill_when(_load_command(db), lambda: _count(db) >= samples + 100)
    assert samples + 100 <= _count(db) < samples + len(notebook_files(REAL)), "the load must be killed part-way"
    check_database(db)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT finished FROM loads ORDER BY id DESC").fetchone()[0] is None
    nbsql.load(REAL, db)
    nbsql.load(REAL, clean)
    check_database(db)
    assert table_dump(db) == table_dump(clean)


def test_killed_fresh_build_leaves_an_empty_database(tmp_path):
    """A first load builds in a side file: killed, it leaves the empty schema and no half notebook."""
    db, clean = tmp_path / "fresh.db", tmp_path / "clean.db"
    def side_size() -> int:  # the side file's -journal comes and goes while its schema is made
        sizes = []
        for side in tmp_path.glob("fresh.db.building-*"):
            with suppress(FileNotFoundError):
                sizes.append(side.stat().st_size)
        return sum(sizes)

    _kill_when(_load_command(db), lambda: side_size() > 5_000_000)
    check_database(db)
    assert _count(db) == 0
    nbsql.load(REAL, db)
    assert not list(tmp_path.glob("fresh.db.building-*")), "the killed build's side file is cleaned up"
    nbsql.load(REAL, clean)
    check_database(db)
    assert table_dump(db) == table_dump(clean)


def assert_killed_alone_leaves_nothing(process: subprocess.Popen) -> None:
    """SIGKILL the loading process alone: within 10 s no process of its group is left, and nothing
    printed a traceback."""
    os.kill(process.pid, signal.SIGKILL)
    stderr = process.communicate()[1].decode()
    deadline = time.time() + 10
    while _live_members(process.pid) and time.time() < deadline:
        time.sleep(0.05)
    assert not _live_members(process.pid)
    assert "Traceback" not in stderr


def _live_members(group: int) -> list[int]:
    """Processes of a process group that are still running (zombies awaiting their reaper are not)."""
    live = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after "pid (name)": state, ppid, pgrp, ...
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            live.append(int(stat.parent.name))
    return live


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; workers follow their parent on Linux")
def test_workers_die_with_a_killed_load_without_a_word(tmp_path):
    """SIGKILL of the loading process alone: its workers go at once, printing no traceback."""
    db = tmp_path / "orphans.db"
    process = subprocess.Popen(_load_command(db), start_new_session=True, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline and not any(tmp_path.glob("orphans.db.building-*")):
        time.sleep(0.05)
    time.sleep(0.5)  # the workers are busy
    assert process.poll() is None, "the load finished before it could be killed"
    assert_killed_alone_leaves_nothing(process)


def test_ctrl_c_stops_a_load_with_one_line_and_a_rerun_completes_it(tmp_path):
    """SIGINT to the whole process group, as a terminal's Ctrl-C sends it."""
    db, clean = tmp_path / "interrupted.db", tmp_path / "clean.db"
    nbsql.load(SAMPLES, db)
    samples = _count(db)
    process = subprocess.Popen(_load_command(db), start_new_session=True, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline and _count(db) < samples + 50:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGINT)
    stderr = process.communicate()[1].decode()
    assert process.returncode == 130
    assert stderr.strip() == ("Interrupted: the database keeps what was committed (a first load commits only at "
                              "its end); the same command run again finishes the load.")
    check_database(db)
    nbsql.load(SAMPLES, clean)
    for target in (db, clean):
        nbsql.load(REAL, target)
    assert table_dump(db) == table_dump(clean)


def test_only_a_database_built_aside_is_written_back_early(tmp_path, monkeypatch):
    import threading

    db = tmp_path / "nb.db"
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(threading.Thread, "start", lambda thread: thread.run())  # jobs=1: no other threads
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(os.readlink(f"/proc/self/fd/{fd}")) or real_fsync(fd))
    nbsql.load(SAMPLES, db, jobs=1)
    assert f"{db}.building-{os.getpid()}" in synced  # the first load builds aside and starts its write-back
    synced.clear()
    nbsql.load(SAMPLES, db, jobs=1, full=True)
    assert not any(".building-" in path for path in synced)  # later loads write in place


@pytest.fixture
def small_disk(tmp_path):
    """A 3 MB file system (tmpfs), where the system allows mounting one."""
    folder = tmp_path / "small"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode:
        pytest.skip("cannot mount a small file system here")
    yield folder
    subprocess.run(["umount", "--lazy", str(folder)], check=True)  # detached now, freed once nothing holds it


@pytest.mark.parametrize("first", [True, False], ids=["first-build", "incremental"])
def test_a_full_disk_is_named_and_the_database_stays_sound(tmp_path, small_disk, first):
    """SQLite rolls back by itself on a full disk; rolling back again had hidden the cause behind
    'cannot rollback - no transaction is active'."""
    copy_tree(REAL, tmp_path / "repo", limit=150)
    db = small_disk / "nb.db"
    if not first:
        nbsql.load(SAMPLES, db)
    command = [sys.executable, "-m", "nbsql", "load", str(tmp_path / "repo"), "--db", str(db), "--quiet"]
    done = subprocess.run(command, capture_output=True, text=True)
    assert (done.returncode, done.stderr) == (2, "Error: database: database or disk is full\n")
    check_database(db)
    assert not list(small_disk.glob("nb.db.building-*"))


def test_a_database_in_a_folder_that_does_not_exist_is_a_one_line_error(tmp_path, monkeypatch):
    """SQLite reads 'missing/..' as text and would create files one level up; the system would not."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(nbsql.NbsqlError, match="no such folder missing/.."):
        nbsql.load(SAMPLES, "missing/../nb.db")
    assert list(tmp_path.iterdir()) == []


_FAILING_WRITER = """
import multiprocessing, sys
import nbsql, nbsql.writer

def fail(self, batch):
    raise OSError("the disk is gone")

nbsql.writer.Writer.write = fail
try:
    nbsql.load(sys.argv[1], sys.argv[2], jobs=2)
except OSError as exc:
    print(exc, len(multiprocessing.active_children()))
"""


def test_an_error_while_writing_stops_the_workers_at_once(tmp_path):
    """multiprocessing's orderly shutdown waits forever when a worker it kills was sending a result
    (it keeps the pipe's lock): a load that hit a full disk hung so. Workers are killed instead."""
    for attempt in range(3):
        done = subprocess.run([sys.executable, "-c", _FAILING_WRITER, str(REAL), str(tmp_path / f"{attempt}.db")],
                              capture_output=True, text=True, timeout=120)
        assert done.stdout == "the disk is gone 0\n", done.stderr[-2000:]


@pytest.mark.parametrize("command", [["load"], ["health", "--fail-on", "never"]], ids=["load", "health"])
def test_a_load_waiting_for_another_says_so(tmp_path, command):
    """Loads of one database take turns; the one that waits says why it is silent."""
    import fcntl
    import select

    db, link = tmp_path / "nb.db", tmp_path / "link.db"
    nbsql.load(SAMPLES, db)
    link.symlink_to(db)  # the load locks the file the link names
    with open(f"{db}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as a running load holds it
        waiting = subprocess.Popen([sys.executable, "-m", "nbsql", *command, str(SAMPLES), "--db", str(link)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        said = select.select([waiting.stderr], [], [], 60)[0]  # never wait for a line that does not come
        first_line = waiting.stderr.readline() if said else ""
        assert waiting.poll() is None, "the load must wait for the lock"
    assert first_line == f"Waiting for another load of {link} to finish...\n"
    assert waiting.wait(timeout=120) == 0 and ("10 unchanged" in waiting.stderr.read() or command[0] == "health")


def test_one_options_object_reaches_the_workers(tmp_path, corpus):
    """The options go down to the pool's workers with their tasks; no module global carries them."""
    import ast

    from nbsql.health import Settings
    from nbsql.load import LoadOptions, run

    settings = Settings(thresholds={"NB113": {"max_lines": 1}})  # long-cell: every cell of two lines is long
    options = LoadOptions.of(jobs=2, settings=settings)
    report = run(corpus / "edge", tmp_path / "nb.db", options)
    assert report.loaded > 16  # more than the in-process threshold: the pool ran
    default = tmp_path / "default.db"
    nbsql.load(corpus / "edge", default, jobs=2)
    counts = []
    for db in (tmp_path / "nb.db", default):
        with open_db(db) as conn:
            counts.append(conn.execute("SELECT count(*) FROM findings WHERE rule = 'NB113'").fetchone()[0])
            fingerprints = {r[0] for r in conn.execute("SELECT DISTINCT checked_with FROM notebooks")}
            assert fingerprints == {settings.fingerprint if db.name == "nb.db" else Settings().fingerprint}
    assert counts[0] > 10 * counts[1]
    tree = ast.parse(Path(nbsql.load.__code__.co_filename).read_text())
    assert not [node for node in ast.walk(tree) if isinstance(node, ast.Global)]
