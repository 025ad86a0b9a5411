"""Cell dependencies in a loaded database, slices from the library and the CLI, and slices that run.

The slices of the sample notebooks run top to bottom with nbclient on a real ipykernel, each in a
fresh kernel: a slice that missed a cell it needs fails with a NameError.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from contextlib import closing

import nbformat
import pytest
from click.testing import CliRunner

import nbsql
from nbsql.cli import cli
from nbsql.deps.slice import CellSlice, SliceCell, run_metadata

from .conftest import SAMPLES, open_db

WORDS = "teaching/word_counts.ipynb"
#: Each code cell of the word counts lesson: the cells it needs directly, by name.
WORD_NEEDS = {
    1: {}, 2: {}, 3: {"re": 1}, 4: {"tokenize": 3, "text": 2}, 6: {"Counter": 1, "words": 4}, 7: {},
    8: {"Counter": 1, "words": 4, "STOPWORDS": 7}, 9: {"words": 4}, 10: {"words": 4},
    12: {"text": 2, "tokenize": 3, "Counter": 1}, 13: {"STOPWORDS": 7, "counts": 6},
    14: {"tokenize": 3, "text": 12, "words": 4},
}
#: Slices of the other samples that need nothing but the standard library and numpy.
OTHER_SLICES = {("teaching/intro_to_python.ipynb", 4): (3, 4), ("teaching/intro_to_python.ipynb", 7): (7,),
                ("teaching/Untitled1.ipynb", 2): (2,)}


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def notebook_id(db, path: str) -> int:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute("SELECT id FROM notebooks WHERE path = ?", [path]).fetchone()[0]


def dependencies(db, path: str) -> dict[int, dict[str, int]]:
    with closing(open_db(db)) as conn:
        rows = conn.execute("SELECT c.position AS cell, d.position AS needed, x.name FROM cell_dependencies x "
                            "JOIN cells c ON c.id = x.cell JOIN cells d ON d.id = x.depends_on "
                            "JOIN notebooks n ON n.id = c.notebook WHERE n.path = ?", [path]).fetchall()
    found: dict[int, dict[str, int]] = {}
    for row in rows:
        found.setdefault(row["cell"], {})[row["name"]] = row["needed"]
    return found


def test_the_load_links_each_use_to_the_nearest_earlier_definition(samples_db):
    expected = {cell: needs for cell, needs in WORD_NEEDS.items() if needs}
    assert dependencies(samples_db, WORDS) == expected
    assert dependencies(samples_db, "teaching/intro_to_python.ipynb")[4] == {"fizzbuzz": 3}
    sales = dependencies(samples_db, "analysis/sales_analysis.ipynb")
    assert sales[8] == {"os": 2, "pd": 3} and sales[11] == {"SalesReport": 10, "sales": 8, "json": 2}


def test_cell_names_of_a_loaded_notebook(samples_db):
    with closing(open_db(samples_db)) as conn:
        rows = conn.execute("SELECT c.position, x.kind, x.name FROM cell_names x JOIN cells c ON c.id = x.cell "
                            "JOIN notebooks n ON n.id = c.notebook WHERE n.path = ? ORDER BY x.id", [WORDS]).fetchall()
        names: dict[tuple[int, str], list[str]] = {}
        for position, kind, name in rows:
            names.setdefault((position, kind), []).append(name)
        assert names[1, "define"] == ["re", "Counter"]
        assert names[9, "define"] == ["lengths", "w"] and names[9, "modify"] == ["lengths"]
        assert names[9, "use"] == ["words"]  # len and sorted are builtins no cell shadows
        assert names[9, "call"] == ["lengths.get", "len", "sorted", "lengths.items"]  # as Python evaluates them
        assert names[10, "define"] == ["longest"]  # %time's statement is Python
        assert names[12, "use"] == ["text", "tokenize", "Counter"] and names[12, "define"] == ["text", "shouted"]
        assert names[13, "call"] == ["self.counter.most_common", "len", ".top", "Summary"]
        assert (13, "use") in names and "w" not in names[13, "use"] and "self" not in names[13, "use"]
        star = conn.execute("SELECT c.position FROM cell_names x JOIN cells c ON c.id = x.cell JOIN notebooks n "
                            "ON n.id = c.notebook WHERE n.path = 'analysis/sales_analysis.ipynb' AND x.name = '*' "
                            "AND x.kind = 'define'").fetchall()
        assert [row[0] for row in star] == [6]  # from math import *
        other = conn.execute("SELECT count(*) FROM cell_names x JOIN cells c ON c.id = x.cell JOIN notebooks n "
                             "ON n.id = c.notebook "
                             "WHERE n.language IN ('julia', 'r')").fetchone()[0]
        assert other == 0  # only Python cells are analysed
        kinds = {row[0] for row in conn.execute("SELECT DISTINCT kind FROM cell_names")}
        assert kinds == {"define", "modify", "use", "call"}


def test_a_reload_replaces_names_and_dependencies(tmp_path):
    folder = tmp_path / "notebooks"
    shutil.copytree(SAMPLES / "teaching", folder)
    db = tmp_path / "nb.db"
    nbsql.load(folder, db)
    first = dependencies(db, "word_counts.ipynb")
    notebook = json.loads((folder / "word_counts.ipynb").read_text())
    notebook["cells"][7]["source"] = "STOPWORDS = set()\nwords = []"  # cell 7 now also defines words
    (folder / "word_counts.ipynb").write_text(json.dumps(notebook))
    assert nbsql.load(folder, db).loaded == 1
    second = dependencies(db, "word_counts.ipynb")
    assert first[8]["words"] == 4 and second[8]["words"] == 7
    with closing(sqlite3.connect(db)) as conn:
        orphans = conn.execute("SELECT count(*) FROM cell_names WHERE cell NOT IN (SELECT id FROM cells)").fetchone()
        assert orphans[0] == 0


def test_the_library_gives_a_cells_slice(samples_db):
    found = nbsql.cell_slice(WORDS, 14, db=samples_db)
    assert found.positions == (1, 2, 3, 4, 12, 14) and found.cell == 14 and found.path == WORDS
    assert found.needs == {"tokenize": 3, "text": 12, "words": 4}
    assert found.cells[-1].source.startswith("words_now = tokenize(text)")
    by_id = nbsql.cell_slice(notebook_id(samples_db, WORDS), 14, db=samples_db)
    assert by_id == found
    assert nbsql.cell_slice(SAMPLES / WORDS, 14, db=samples_db) == found  # the path as loaded


@pytest.mark.parametrize("notebook, cell, message", [
    ("teaching/nothing.ipynb", 1, "no loaded notebook 'teaching/nothing.ipynb'"),
    (WORDS, 99, f"{WORDS} has no cell 99: it has 16 cells"),
    (WORDS, 0, "cell 0 of teaching/word_counts.ipynb is a markdown cell"),
    ("teaching/julia_intro.ipynb", 2, "is not a Python notebook (its language is julia)"),
    ("teaching/Untitled1.ipynb", 3, "cell 3 of teaching/Untitled1.ipynb does not parse (line 2:"),
    ("analysis/exploratory_scratch.ipynb", 7, "is not Python (a cell magic)"),
])
def test_cells_without_a_slice_are_one_line_errors(samples_db, notebook, cell, message):
    with pytest.raises(nbsql.NbsqlError, match=message.replace("(", r"\(").replace(")", r"\)")):
        nbsql.cell_slice(notebook, cell, db=samples_db)
    result = run("slice", notebook, str(cell), "--db", str(samples_db))
    assert result.exit_code == 2 and result.output.startswith("Error: ") and result.output.count("\n") == 1


def test_the_cli_prints_the_slice_and_writes_it(samples_db, tmp_path):
    result = run("slice", str(SAMPLES / WORDS), "13", "--db", str(samples_db))
    assert result.exit_code == 0 and result.output == "1 2 3 4 6 7 13\n"
    out = tmp_path / "slice.ipynb"
    result = run("slice", WORDS, "13", "--db", str(samples_db), "-o", str(out))
    assert result.exit_code == 0 and result.output == "1 2 3 4 6 7 13\n"
    written = nbformat.read(out, as_version=4)
    nbformat.validate(written)
    assert [c.metadata["nbsql"]["position"] for c in written.cells] == [1, 2, 3, 4, 6, 7, 13]
    assert written.metadata.kernelspec.name == "python3" and written.metadata.language_info.name == "python"
    assert written.metadata.nbsql == {"slice": {"path": WORDS, "cell": 13, "cells": [1, 2, 3, 4, 6, 7, 13]}}
    assert all(c.outputs == [] and c.execution_count is None for c in written.cells)
    to_stdout = run("slice", WORDS, "13", "--db", str(samples_db), "-o", "-")
    assert to_stdout.exit_code == 0 and json.loads(to_stdout.output) == json.loads(out.read_text())
    unwritable = run("slice", WORDS, "13", "--db", str(samples_db), "-o", str(tmp_path / "missing" / "x.ipynb"))
    assert unwritable.exit_code == 2 and unwritable.output.startswith("Error: cannot write")
    assert run("slice", WORDS, "-1", "--db", str(samples_db)).exit_code == 2


def test_slice_notebooks_are_valid_whatever_the_metadata():
    cells = (SliceCell(0, "x = 1", "same"), SliceCell(1, "y = x", "same"),
             SliceCell(2, "z = y\n", "bad id!", ("a", "a")), SliceCell(3, "print('\udcff')", None))
    for metadata, language in [({}, None), ({"kernelspec": "python3"}, "python"),
                               ({"kernelspec": {"name": 3}, "language_info": {"name": None}}, None),
                               ({"kernelspec": {"name": "ir", "display_name": "R", "env": {"X": 1}},
                                 "language_info": {"name": "R", "codemirror_mode": "r", "version": 4}}, "r")]:
        found = CellSlice(1, "/root", "a b/<x>.ipynb", 3, cells, {}, run_metadata(metadata, language))
        document = nbformat.reads(found.ipynb(), as_version=4)
        nbformat.validate(document)
        assert [c.id for c in document.cells] == ["same", "cell-1", "cell-2", "cell-3"]
        assert document.cells[2].metadata.tags == ["a"]
        assert found.filename == "x-cell-3-slice.ipynb"
    assert run_metadata({}, "julia") == {}  # no kernel to guess for another language


def _execute(document) -> None:
    from nbclient import NotebookClient

    NotebookClient(document, timeout=120, kernel_name="python3", allow_errors=False).execute()


@pytest.fixture(scope="module")
def kernel_ready():
    """A python3 kernel for nbclient (ipykernel installs its kernelspec; jupyter_client also finds it)."""
    pytest.importorskip("nbclient", reason="nbclient is a test dependency: pip install -e '.[test]'")
    pytest.importorskip("ipykernel", reason="ipykernel is a test dependency: pip install -e '.[test]'")
    from jupyter_client.kernelspec import KernelSpecManager

    assert "python3" in KernelSpecManager().find_kernel_specs()


@pytest.mark.parametrize("cell", sorted(WORD_NEEDS))
def test_slices_of_the_word_counts_run_top_to_bottom(samples_db, kernel_ready, tmp_path, cell):
    out = tmp_path / "slice.ipynb"
    assert run("slice", WORDS, str(cell), "--db", str(samples_db), "-o", str(out)).exit_code == 0
    document = nbformat.read(out, as_version=4)
    _execute(document)  # raises CellExecutionError (a NameError, say) when a needed cell is missing
    assert document.cells[-1].metadata["nbsql"]["position"] == cell


@pytest.mark.parametrize("notebook, cell", sorted(OTHER_SLICES))
def test_slices_of_other_samples_run_top_to_bottom(samples_db, kernel_ready, notebook, cell):
    found = nbsql.cell_slice(notebook, cell, db=samples_db)
    assert found.positions == OTHER_SLICES[notebook, cell]
    document = nbformat.reads(found.ipynb(), as_version=4)
    _execute(document)
    outputs = [o for c in document.cells for o in c.outputs]
    assert outputs and not any(o.output_type == "error" for o in outputs)
