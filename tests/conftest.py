"""Shared fixtures: paths to the sample notebooks and the shared corpus, loaded databases."""

from __future__ import annotations

import inspect
import os
import re
import sqlite3
from pathlib import Path

import pytest

import nbsql

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "sample_notebooks"
#: The sample that is broken on purpose (a notebook saved halfway): it fills load_errors.
BROKEN_SAMPLE = "legacy/half_saved.ipynb"
CORPUS = Path(os.environ.get("NBSQL_CORPUS", REPO.parent / "shared" / "corpus")).resolve()  # as loaded roots are
REAL = CORPUS / "real"
EDGE = CORPUS / "edge"


def notebook_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.ipynb") if p.is_file() and ".ipynb_checkpoints" not in p.parts)


def missing(what: str) -> None:
    """Fail in CI, where everything the tests need is installed; elsewhere, skip with a reason."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} (CI must provide it)")
    pytest.skip(what)


_CORPUS_NAMES = re.compile(r"\b(REAL|EDGE|CORPUS)\b")


def _source(function: object) -> str:
    try:
        return inspect.getsource(function)  # type: ignore[arg-type]
    except (OSError, TypeError):
        return ""


def _needs_corpus(item: pytest.Item) -> bool:
    """Whether a test uses the shared corpus: its fixtures, its own code or a helper of its module."""
    if {"corpus", "corpus_db"} & set(getattr(item, "fixturenames", ())):
        return True
    source = _source(getattr(item, "function", None))
    if _CORPUS_NAMES.search(source):
        return True
    helpers = {name for name, value in vars(item.module).items()  # type: ignore[attr-defined]
               if inspect.isfunction(value) and _CORPUS_NAMES.search(_source(value))}
    return any(re.search(rf"\b{name}\(", source) for name in helpers)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if not REAL.is_dir() and _needs_corpus(item):
        missing(f"the shared corpus is missing at {CORPUS} (set NBSQL_CORPUS)")


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not REAL.is_dir():
        missing(f"the shared corpus is missing at {CORPUS} (set NBSQL_CORPUS)")
    return CORPUS


@pytest.fixture(scope="session")
def samples_db(tmp_path_factory) -> Path:
    """sample_notebooks/ loaded once for the session (tests must not write to it)."""
    db = tmp_path_factory.mktemp("samples") / "samples.db"
    nbsql.load(SAMPLES, db)
    return db


@pytest.fixture(scope="session")
def corpus_db(tmp_path_factory, corpus) -> Path:
    """The whole shared corpus (real and edge) loaded once for the session."""
    db = tmp_path_factory.mktemp("corpus") / "corpus.db"
    nbsql.load(corpus, db)
    return db


def open_db(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    return conn


#: Columns that record when something happened rather than what the files hold.
VOLATILE = {"loaded_at", "at", "load"}


def table_dump(path: Path, ignore: tuple[str, ...] = ("loads",)) -> dict[str, list[tuple]]:
    """Every row of every nbsql table (volatile columns left out), sorted, to compare databases."""
    from nbsql import schema

    conn = sqlite3.connect(path)
    try:
        dump = {}
        for table in schema.TABLES:
            if table.name not in ignore:
                columns = ", ".join(c for c in table.column_names if c not in VOLATILE)
                dump[table.name] = sorted(conn.execute(f"SELECT {columns} FROM {table.name}").fetchall(), key=repr)
        dump[schema.FTS_TABLE] = sorted(conn.execute(f"SELECT rowid, * FROM {schema.FTS_TABLE}").fetchall())
        return dump
    finally:
        conn.close()
