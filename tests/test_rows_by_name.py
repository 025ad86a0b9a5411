"""Rows by name: under a schema whose columns are in another order, a load stores every value in its column."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

import nbsql
from nbsql import schema

from .conftest import CORPUS, SAMPLES

NORMAL = schema.TABLES
#: The tables a load fills (nbsql run fills the others).
FILLED = tuple(t for t in NORMAL if t.name not in schema.RUN_TABLES)
#: Columns that say when a load ran, not what the files hold.
WHEN = {"loaded_at", "at", "started", "finished", "seconds"}
#: The notebook that changes before the second load (replaced whole: its row is updated).
CHANGED = "analysis/model_training_papermill.ipynb"


def reversed_columns(table: schema.Table) -> tuple[schema.Column, ...]:
    """Every column moves: ``id`` goes last, columns of one type trade places."""
    return table.columns[::-1]


def swapped_columns(table: schema.Table) -> tuple[schema.Column, ...]:
    """The issue's case: two columns of one type (cells.sloc and cells.lloc, INTEGER) trade places."""
    names = table.column_names
    if table.name != "cells":
        return table.columns
    sloc, lloc = names.index("sloc"), names.index("lloc")
    columns = list(table.columns)
    columns[sloc], columns[lloc] = columns[lloc], columns[sloc]
    return tuple(columns)


Reorder = Callable[[schema.Table], tuple[schema.Column, ...]]
#: (how the columns move, whether the row types follow the tables or keep the normal order)
ALL = [(reversed_columns, True), (reversed_columns, False), (swapped_columns, True), (swapped_columns, False)]


def reorder(monkeypatch: pytest.MonkeyPatch, how: Reorder, rows_too: bool) -> tuple[schema.Table, ...]:
    """Reorder the columns of the schema's tables: the tables a load creates follow; with
    ``rows_too`` the row types (so the rows and the writer's statements) do as well."""
    tables = tuple(dataclasses.replace(t, columns=how(t)) for t in NORMAL)
    monkeypatch.setattr(schema, "TABLES", tables)  # what schema.create makes
    if rows_too:
        for table in tables:
            monkeypatch.setitem(schema.TABLE, table.name, table)  # what rows, the checks and the writer use
    return tables


def load_twice(paths: list[Path], db: Path, changed: Path) -> None:
    """Load ``paths``, change one notebook (a cell more), load again; then put it back."""
    original = changed.read_bytes()
    os.utime(changed, (1_600_000_000, 1_600_000_000))
    nbsql.load(paths, db)
    notebook = json.loads(original)
    notebook["cells"].append({"cell_type": "code", "execution_count": None, "metadata": {"tags": ["extra"]},
                              "outputs": [], "source": "import json\nvalue = json.dumps({'a': 1})"})
    changed.write_text(json.dumps(notebook))
    os.utime(changed, (1_700_000_000, 1_700_000_000))
    try:
        nbsql.load(paths, db)
    finally:
        changed.write_bytes(original)


def values_by_column(db: Path) -> dict[str, list]:
    """Each column of the normal schema, read by name, its values in the order of the table's key."""
    values = {}
    with closing(sqlite3.connect(db)) as conn:
        for table in NORMAL:
            key = next(c.name for c in table.columns if "PRIMARY KEY" in c.constraint)
            for column in table.column_names:
                if column not in WHEN:
                    values[f"{table.name}.{column}"] = conn.execute(
                        f"SELECT {column} FROM {table.name} ORDER BY {key}").fetchall()
        for column in ("rowid",) + schema.FTS_COLUMNS:
            values[f"{schema.FTS_TABLE}.{column}"] = conn.execute(
                f"SELECT {column} FROM {schema.FTS_TABLE} ORDER BY rowid").fetchall()
    return values


def columns_on_disk(db: Path, table: str) -> list[str]:
    with closing(sqlite3.connect(db)) as conn:
        return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]


def compare_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reorderings: list[tuple[Reorder, bool]],
                  *more: Path) -> dict[str, list]:
    """Load a copy of the samples (and ``more``) twice under the normal schema, then under each
    reordering; return the normal load's values after checking that each other load holds every
    one of them in its column."""
    samples = tmp_path / "samples"
    shutil.copytree(SAMPLES, samples)
    paths = [samples, *more]
    load_twice(paths, tmp_path / "normal.db", samples / CHANGED)
    normal = values_by_column(tmp_path / "normal.db")
    misplaced = []
    for how, rows_too in reorderings:
        db = tmp_path / f"{how.__name__}-{'rows-too' if rows_too else 'tables-only'}.db"
        with monkeypatch.context() as patch:
            tables = reorder(patch, how, rows_too)
            cells = next(t for t in (tables if rows_too else NORMAL) if t.name == "cells")
            assert schema.TABLE["cells"].row._fields == cells.column_names  # the row types are made afresh
            load_twice(paths, db, samples / CHANGED)
        for table in tables:  # the load did make its tables in the new order
            assert columns_on_disk(db, table.name) == list(table.column_names)
        reordered = values_by_column(db)
        assert normal.keys() == reordered.keys()
        misplaced += [f"{db.stem}: {column}" for column in normal if normal[column] != reordered[column]]
    assert misplaced == []
    return normal


def count(values: dict[str, list], table: str) -> int:
    return len(values[f"{table}.{'code' if table == 'rules' else 'id'}"])


def test_reordered_columns_hold_the_same_values(tmp_path, monkeypatch):
    values = compare_loads(tmp_path, monkeypatch, ALL)
    # every kind of row was written (the first load, the updated notebook, a load error, the findings)
    assert all(count(values, table.name) for table in FILLED)
    assert (2,) in values["loads.id"] and values["load_errors.kind"] == [("truncated",)]
    assert ('["extra"]',) in values["cells.tags"]


def test_reordered_columns_hold_the_same_values_over_the_corpus(tmp_path, monkeypatch):
    # in worker processes, with values of 1 MiB and more
    values = compare_loads(tmp_path, monkeypatch, [(reversed_columns, True), (reversed_columns, False)], CORPUS)
    assert count(values, "cells") > 30_000 and count(values, "findings") > 8_000  # 8,676 since issue 14


def test_row_types_are_made_from_the_schema():
    for table in NORMAL:
        assert table.row._fields == table.column_names
    row = schema.TABLE["parameters"].row(id=0, notebook=0, cell=None, source="papermill", name="n", value="1")
    assert (row.name, row.value, row) == ("n", "1", (0, 0, None, "papermill", "n", "1"))
    with pytest.raises(TypeError):
        schema.TABLE["parameters"].row(id=0, notebook=0, cell=None, source="papermill", name="n")
