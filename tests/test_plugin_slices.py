"""Cell dependencies on the notebook page and slice downloads, through Datasette's own client."""

from __future__ import annotations

import asyncio
import re
import shutil
import sqlite3
from contextlib import closing

import nbformat
import pytest
from datasette.app import Datasette

from nbsql.serve import make_datasette

WORDS = "teaching/word_counts.ipynb"


def get(datasette: Datasette, path: str):
    return asyncio.run(datasette.client.get(path))


@pytest.fixture(scope="module")
def samples(samples_db) -> Datasette:
    return make_datasette(samples_db)


def _id(db, path: str) -> int:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute("SELECT id FROM notebooks WHERE path = ?", [path]).fetchone()[0]


def test_the_notebook_page_shows_what_each_code_cell_needs(samples, samples_db):
    notebook = _id(samples_db, WORDS)
    page = get(samples, f"/-/nbsql/notebooks/{notebook}?database=samples").text
    anchors = set(re.findall(r'id="(cell-\d+)"', page))
    needs = dict(re.findall(r'<div class="nbsql-cell nbsql-code" id="cell-(\d+)">.*?<p class="nbsql-needs">(.*?)</p>',
                            page, re.S))
    assert set(needs) == {"1", "2", "3", "4", "6", "7", "8", "9", "10", "12", "13", "14"}  # every code cell
    links = {cell: re.findall(r'<a href="#(cell-\d+)" title="([^"]*)">(\d+)</a>', text) for cell, text in needs.items()}
    assert [number for _, _, number in links["14"]] == ["1", "2", "3", "4", "12"]
    assert all(anchor in anchors for found in links.values() for anchor, _, _ in found)  # anchors of the page
    assert ("cell-12", "uses text", "12") in links["14"] and ("cell-1", "needed by a cell it needs", "1") in links["14"]
    assert "needs cells" in needs["14"] and "needs no other cell" in needs["1"]
    assert f'href="/-/nbsql/notebooks/{notebook}/slice/14.ipynb?database=samples" download' in needs["14"]
    julia = get(samples, f"/-/nbsql/notebooks/{_id(samples_db, 'teaching/julia_intro.ipynb')}?database=samples")
    assert julia.status_code == 200 and "nbsql-needs" not in julia.text  # Julia cells are not analysed
    untitled = get(samples, f"/-/nbsql/notebooks/{_id(samples_db, 'teaching/Untitled1.ipynb')}?database=samples").text
    assert not re.search(r'id="cell-3">(?:(?!id="cell-4").)*nbsql-needs', untitled, re.S)  # cell 3 does not parse


def test_the_slice_download_is_a_valid_notebook(samples, samples_db):
    notebook = _id(samples_db, WORDS)
    response = get(samples, f"/-/nbsql/notebooks/{notebook}/slice/14.ipynb?database=samples")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ipynb+json")
    assert response.headers["content-disposition"] == 'attachment; filename="word_counts-cell-14-slice.ipynb"'
    assert "sandbox" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    document = nbformat.reads(response.text, as_version=4)
    nbformat.validate(document)
    assert [c.metadata["nbsql"]["position"] for c in document.cells] == [1, 2, 3, 4, 12, 14]
    assert document.metadata.kernelspec == {"display_name": "Python 3 (ipykernel)", "language": "python",
                                            "name": "python3"}
    assert document.metadata.language_info.name == "python"


@pytest.mark.parametrize("path, status", [
    ("{id}/slice/0.ipynb", 404),  # a markdown cell
    ("{id}/slice/99.ipynb", 404),
    ("{id}/slice/01.ipynb", 404),
    ("{id}/slice/-1.ipynb", 404),
    ("{id}/slice/x.ipynb", 404),
    ("99999/slice/1.ipynb", 404),
    ("{id}/slice/1.json", 404),
])
def test_cells_without_a_slice_are_404s(samples, samples_db, path, status):
    response = get(samples, "/-/nbsql/notebooks/" + path.format(id=_id(samples_db, WORDS)) + "?database=samples")
    assert response.status_code == status


def test_a_database_of_an_older_nbsql_shows_no_dependencies(samples_db, tmp_path):
    db = tmp_path / "older.db"
    shutil.copy(samples_db, db)
    with closing(sqlite3.connect(db, isolation_level=None)) as conn:  # as schema 4 made it
        conn.execute("DROP TABLE cell_dependencies")
        conn.execute("DROP TABLE cell_names")
        conn.execute("PRAGMA user_version = 4")
    older = Datasette([str(db)])  # as a plain `datasette older.db` serves it (nbsql serve refuses it)
    notebook = _id(db, WORDS)
    page = get(older, f"/-/nbsql/notebooks/{notebook}?database=older")
    assert page.status_code == 200 and "words_now" in page.text and "nbsql-needs" not in page.text
    download = get(older, f"/-/nbsql/notebooks/{notebook}/slice/14.ipynb?database=older")
    assert download.status_code == 404 and "load it again" in download.text


def test_canned_queries_answer_what_a_cell_needs_and_who_uses_a_name(samples, samples_db):
    needs = get(samples, f"/samples/cell_needs.json?_shape=array&notebook={WORDS}&cell=14").json()
    assert [row["cell"] for row in needs] == [1, 2, 3, 4, 12]
    assert {row["cell"]: row["used_directly"] for row in needs} == {1: None, 2: None, 3: "tokenize", 4: "words",
                                                                    12: "text"}
    by_id = get(samples, f"/samples/cell_needs.json?_shape=array&notebook={_id(samples_db, WORDS)}&cell=14").json()
    assert by_id == needs
    users = get(samples, "/samples/cells_using_name.json?_shape=array&name=tokenize").json()
    assert [(row["path"], row["cell"], row["defined_in"]) for row in users] == [(WORDS, 4, 3), (WORDS, 12, 3),
                                                                                (WORDS, 14, 3)]


def test_a_long_slice_shows_its_first_cells_and_counts_the_others(tmp_path):
    import nbsql

    cells = [nbformat.v4.new_code_cell("x0 = 0")] + [nbformat.v4.new_code_cell(f"x{n} = x{n - 1} + 1")
                                                     for n in range(1, 41)]
    folder = tmp_path / "chain"
    folder.mkdir()
    nbformat.write(nbformat.v4.new_notebook(cells=cells), folder / "chain.ipynb")
    db = tmp_path / "chain.db"
    nbsql.load(folder, db)
    page = get(make_datasette(db), f"/-/nbsql/notebooks/{_id(db, 'chain.ipynb')}?database=chain").text
    last = re.search(r'id="cell-40">.*?<p class="nbsql-needs">(.*?)</p>', page, re.S).group(1)
    assert re.findall(r'href="#cell-(\d+)"', last) == [str(n) for n in range(30)] and "and 10 more" in last
