"""NB301 and NB302 on folders (issue 14 point 3): manifests up to the repository's root, one finding a folder."""

from __future__ import annotations

import json
from pathlib import Path

from nbsql import check
from nbsql.health import Settings


def _notebook(*sources: str, **metadata) -> str:
    cells = [{"cell_type": "code", "execution_count": i + 1, "metadata": {}, "outputs": [], "source": s}
             for i, s in enumerate(sources)]
    metadata = {"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}, **metadata}
    return json.dumps({"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 4})


def _write(files: dict[Path, str]) -> None:
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _found(folder: Path, db: Path, code: str) -> list[tuple[str, object]]:
    report = check([folder], db=db, settings=Settings(select=(code,)))
    return [(Path(r.path).relative_to(folder).as_posix(), r.details) for r in report.rows if r.code == code]


def test_one_finding_per_folder_without_a_manifest(tmp_path):
    top = tmp_path / "course"
    _write({top / "week1" / name: _notebook("x = 1") for name in ("b.ipynb", "a.ipynb", "c.ipynb")})
    _write({top / "week2" / "d.ipynb": _notebook("x = 1"), top / "week3" / "e.ipynb": _notebook("x = 1"),
            top / "week3" / "requirements.txt": "pandas==2.2.2\n"})
    found = _found(top, tmp_path / "nb.db", "NB301")
    assert found == [("week1/a.ipynb", {"notebooks": ["week1/a.ipynb", "week1/b.ipynb", "week1/c.ipynb"]}),
                     ("week2/d.ipynb", {"notebooks": ["week2/d.ipynb"]})]


def test_manifests_are_looked_for_up_to_the_repository_root(tmp_path):
    outer = tmp_path / "outer"
    repo = outer / "repo"
    (repo / ".git").mkdir(parents=True)
    _write({repo / "notebooks" / "deep" / "a.ipynb": _notebook("import pandas"),
            repo / "requirements.txt": "pandas==2.2.2\n"})
    assert _found(repo / "notebooks", tmp_path / "in-repo.db", "NB301") == []  # above the loaded folder, in the repo
    (repo / "requirements.txt").unlink()
    _write({outer / "requirements.txt": "pandas==2.2.2\n"})  # beyond the repository's root: not its manifest
    found = _found(repo / "notebooks", tmp_path / "outside.db", "NB301")
    assert [path for path, _ in found] == ["deep/a.ipynb"]


def test_outside_a_repository_the_search_stops_at_the_loaded_folder(tmp_path):
    _write({tmp_path / "requirements.txt": "pandas==2.2.2\n", tmp_path / "work" / "a.ipynb": _notebook("x = 1")})
    assert [path for path, _ in _found(tmp_path / "work", tmp_path / "nb.db", "NB301")] == ["a.ipynb"]


def test_a_notebook_suppressing_nb301_leaves_the_finding_to_the_next(tmp_path):
    _write({tmp_path / "nbs" / "a.ipynb": _notebook("x = 1", nbsql={"ignore": ["NB301"]}),
            tmp_path / "nbs" / "b.ipynb": _notebook("x = 1", nbsql={"ignore": "*"}),
            tmp_path / "nbs" / "c.ipynb": _notebook("x = 1")})
    assert _found(tmp_path / "nbs", tmp_path / "nb.db", "NB301") == [("c.ipynb", {"notebooks": ["c.ipynb"]})]


def test_an_undeclared_package_is_one_finding_per_manifest(tmp_path):
    top = tmp_path / "project"
    _write({top / "requirements.txt": "pandas==2.2.2\n", top / "a.ipynb": _notebook("import pandas", "import seaborn"),
            top / "sub" / "b.ipynb": _notebook("import seaborn as sns"), top / "c.ipynb": _notebook("import seaborn")})
    report = check([top], db=tmp_path / "nb.db", settings=Settings(select=("NB302",)))
    assert [(Path(r.path).name, r.position, r.details["notebooks"]) for r in report.rows] == [("a.ipynb", 1, 3)]


def test_the_share_declaring_dependencies_counts_every_notebook_of_a_folder(tmp_path):
    _write({tmp_path / "nbs" / f"{name}.ipynb": _notebook("x = 1") for name in "abc"})
    _write({tmp_path / "nbs" / "done" / "d.ipynb": _notebook("x = 1"),
            tmp_path / "nbs" / "done" / "environment.yml": "dependencies:\n  - numpy\n"})
    report = check([tmp_path / "nbs"], db=tmp_path / "nb.db")
    declaring = next(f for f in report.figures if f["measure"] == "declaring dependencies")
    assert (declaring["notebooks"], declaring["of"]) == (1, 4)



def test_an_unchanged_rerun_keeps_the_corpus_findings_and_a_new_manifest_updates_them(tmp_path, monkeypatch):
    """Issue 15: an unchanged re-run does not compute the corpus rules again, but what they read
    beside the notebooks (a manifest, the rules' thresholds) still makes it do so."""
    import sqlite3

    import nbsql
    from nbsql.health import store

    computed: list[int] = []
    original = store.CorpusContext
    monkeypatch.setattr(store, "CorpusContext", lambda conn: computed.append(1) or original(conn))
    folder, db = tmp_path / "work", tmp_path / "nb.db"
    _write({folder / "a.ipynb": _notebook("import pandas"), folder / "b.ipynb": _notebook("x = 1")})

    def corpus_findings() -> list[tuple[str, str]]:
        with sqlite3.connect(db) as conn:
            return conn.execute("SELECT rule, path FROM findings JOIN notebooks n ON n.id = notebook "
                                "WHERE rule IN ('NB301', 'NB302') ORDER BY rule, path").fetchall()

    nbsql.load(folder, db)
    assert len(computed) == 1 and corpus_findings() == [("NB301", "a.ipynb")]
    nbsql.load(folder, db)  # nothing changed: the stored findings stand
    assert len(computed) == 1 and corpus_findings() == [("NB301", "a.ipynb")]
    nbsql.load(folder, db, settings=Settings(thresholds={"NB116": {"min_lines": 3}}))  # another threshold
    assert len(computed) == 2
    nbsql.load(folder, db, checks=False)  # a load without checks changes nothing here
    nbsql.load(folder, db, settings=Settings(thresholds={"NB116": {"min_lines": 3}}))
    assert len(computed) == 2
    _write({folder / "requirements.txt": "numpy==2.0\n"})
    nbsql.load(folder, db, settings=Settings(thresholds={"NB116": {"min_lines": 3}}))  # a manifest appeared
    assert len(computed) == 3 and corpus_findings() == [("NB302", "a.ipynb")]
    (folder / "requirements.txt").write_text("numpy==2.0\npandas==2.2.2\n")  # edited: pandas declared
    nbsql.load(folder, db, settings=Settings(thresholds={"NB116": {"min_lines": 3}}))
    assert len(computed) == 4 and corpus_findings() == []
