"""The search engine (issue 13): code as written, where the match is, true totals, filters, copies
merged, JSON, and bad queries, on real notebooks."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3

import nbformat
import pytest
from click.testing import CliRunner

import nbsql
from nbsql import NbsqlError
from nbsql.cli import cli
from nbsql.search import Filters, parse_query, search

from .conftest import SAMPLES

CODE_TERMS = ["read_csv", "pd.read_csv", "df.groupby", "np.random.seed", "@time", "%timeit", "!pip"]


def cells_holding(db, pattern: str, flags: int = 0) -> set[tuple[str, int]]:
    """(path, position) of every cell whose source or indexed output text matches ``pattern``: the
    answer worked out without the search engine."""
    regex = re.compile(pattern, flags)
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT n.path, c.position, c.source, f.outputs FROM cells c JOIN notebooks n "
                            "ON n.id = c.notebook LEFT JOIN cells_fts f ON f.rowid = c.text").fetchall()
    return {(path, position) for path, position, source, outputs in rows
            if regex.search(source or "") or regex.search(outputs or "")}


def cells_named(db, name: str, kind: str) -> set[tuple[str, int]]:
    """(path, position) of the cells that define (a function or class, or any name where
    ``cell_names`` is recorded) or call ``name`` (alone or at the end of a dotted name)."""
    with sqlite3.connect(db) as conn:
        names = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'cell_names'").fetchone()
        sql = ("SELECT n.path, c.position FROM functions f JOIN cells c ON c.id = f.cell JOIN notebooks n "
               "ON n.id = c.notebook WHERE f.name = ? AND ? = 'define'")
        if names:
            sql += (" UNION SELECT n.path, c.position FROM cell_names k JOIN cells c ON c.id = k.cell JOIN notebooks n "
                    "ON n.id = c.notebook WHERE k.kind = ? AND (k.name = ? OR k.name LIKE '%.' || ?)")
        return set(conn.execute(sql, (name, kind) + ((kind, name, name) if names else ())).fetchall())


def every_hit(db, query: str, **filters):
    return search(query, db, filters=Filters(**filters), limit=100_000)


@pytest.mark.parametrize("term", CODE_TERMS)
def test_code_matches_as_written_and_the_totals_are_true(corpus_db, term):
    """Each code term finds exactly the cells that hold it, not inside a longer name, in any case
    (it has no capital): the totals are those cells and their notebooks."""
    start = r"(?<!\w)" if re.match(r"\w", term) else ""
    expected = cells_holding(corpus_db, start + re.escape(term) + r"(?!\w)", re.IGNORECASE)
    results = every_hit(corpus_db, term)
    assert expected, term
    assert results.total_cells == len(expected)
    assert results.total_notebooks == len({path for path, _ in expected})
    shown = {(hit.path, hit.position) for hit in results.hits}
    assert shown <= expected and len(shown) == results.total_results
    for hit in results.hits:
        marked = [hit.excerpt[i].text[s:e] for i, s, e in hit.highlights]
        assert marked and all(text.lower() == term.lower() for text in marked), (hit.path, marked)


def test_read_csv_is_not_read_dot_csv(corpus_db):
    dotted = cells_holding(corpus_db, r"read\.csv") - cells_holding(corpus_db, r"read_csv")
    assert dotted, "the corpus has spark.read.csv cells"
    found = {(hit.path, hit.position) for hit in every_hit(corpus_db, "read_csv").hits}
    assert found and not found & dotted


def test_julia_macros_are_not_python_calls(corpus_db):
    results = every_hit(corpus_db, "@time")
    assert results.hits and {hit.path.split("/")[1] for hit in results.hits} >= {"bkamins__Julia-DataFrames-Tutorial"}
    assert all(hit.excerpt[i].text[s:e] == "@time" for hit in results.hits for i, s, e in hit.highlights)


def test_a_prefix_finds_longer_names(corpus_db):
    marked = {hit.excerpt[i].text[s:e] for hit in every_hit(corpus_db, "read_*").hits for i, s, e in hit.highlights}
    assert {"read_csv", "read_json"} <= marked and all(text.lower().startswith("read_") for text in marked)


def test_what_the_readme_says_a_search_does_not_find(corpus_db):
    """The limits the README gives, with the way round each."""
    def found(query: str, regex: bool = False) -> set[tuple[str, int]]:
        return {(hit.path, hit.position) for hit in search(query, corpus_db, regex=regex, limit=100_000).hits}

    group_by_key = cells_holding(corpus_db, r"groupByKey")
    only_group_by_key = group_by_key - cells_holding(corpus_db, r"\bgroupby\b", re.IGNORECASE)
    assert only_group_by_key and not only_group_by_key & found("groupby") and group_by_key <= found("groupby*")
    pip3 = cells_holding(corpus_db, r"!pip3\b")
    assert pip3 and not pip3 & found("!pip") and pip3 <= found("!pip*")
    chinese = cells_holding(corpus_db, "言处")  # inside 自然语言处理
    assert chinese and not found("言处") and chinese <= found("言处", regex=True)


def test_words_match_in_any_case_and_accents(samples_db):
    assert parse_query("Café").fts == '"Cafe"'
    lower, upper = every_hit(samples_db, "import"), every_hit(samples_db, "IMPORT")
    assert lower.total_cells == upper.total_cells > 0


def test_the_excerpt_comes_from_where_the_match_is(corpus_db):
    """A match only in a cell's output shows the output (it showed the first source lines, with no
    highlight); every hit of a text search has highlights."""
    results = every_hit(corpus_db, "Epoch")
    in_outputs = [hit for hit in results.hits if hit.match_in == "outputs"]
    assert in_outputs and all({line.where for line in hit.excerpt} == {"outputs"} for hit in in_outputs)
    both = [hit for hit in results.hits if hit.match_in == "both"]
    assert both and all({line.where for line in hit.excerpt} == {"source", "outputs"} for hit in both)
    for query in ("Epoch", "plot", '"import numpy"', "read_*", "accuracy"):
        for hit in every_hit(corpus_db, query).hits:
            assert hit.highlights, (query, hit.path, hit.position)
    for hit in search(r"Epoch \d+/\d+", corpus_db, regex=True, limit=50).hits:
        assert hit.match_in in ("outputs", "both") and hit.highlights


def test_a_long_line_is_shown_around_its_match(tmp_path):
    line = "x = [" + ", ".join(map(str, range(3000))) + "]  # needle"
    notebook = tmp_path / "long.ipynb"
    notebook.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "id": "a", "metadata": {}, "execution_count": None, "source": line, "outputs": []}]}))
    nbsql.load(notebook, tmp_path / "long.db")
    (hit,) = search("needle", tmp_path / "long.db").hits
    (excerpt,) = hit.excerpt
    assert len(excerpt.text) <= 302 and excerpt.text.startswith("…") and excerpt.text.endswith("needle")
    assert [excerpt.text[s:e] for _, s, e in hit.highlights] == ["needle"]


def test_filters_combine_with_a_query_and_each_other(corpus_db):
    with sqlite3.connect(corpus_db) as conn:
        importing = {path for (path,) in conn.execute(
            "SELECT DISTINCT n.path FROM imports i JOIN notebooks n ON n.id = i.notebook "
            "WHERE i.kind IN ('import', 'from') AND (i.module = 'pandas' OR i.module LIKE 'pandas.%')")}
        with_images = {(path, position) for path, position in conn.execute(
            "SELECT DISTINCT n.path, c.position FROM output_data d JOIN cells c ON c.id = d.cell "
            "JOIN notebooks n ON n.id = c.notebook WHERE d.mime LIKE 'image/%'")}
    plots = every_hit(corpus_db, "plt.show")
    narrowed = every_hit(corpus_db, "plt.show", imports="pandas", has_image=True)
    assert 0 < narrowed.total_cells < plots.total_cells
    assert all(hit.path in importing and (hit.path, hit.position) in with_images for hit in narrowed.hits)
    only_filters = every_hit(corpus_db, "", imports="pandas", has_image=True, cell_type="code")
    assert only_filters.total_cells >= narrowed.total_cells and all(hit.match_in is None for hit in only_filters.hits)
    defined = every_hit(corpus_db, "", defines="train")
    assert defined.hits and {(hit.path, hit.position) for hit in defined.hits} <= cells_named(corpus_db, "train",
                                                                                                "define")
    assert every_hit(corpus_db, "", defines="train", path="zzz-no-such-path").total_cells == 0


def test_copies_are_one_result_shown_at_the_oldest(tmp_path):
    """Three notebooks hold the same cell: one result, at the oldest file, 'also in 2 others'."""
    for name, mtime in (("new.ipynb", 2_000_000_000), ("old.ipynb", 1_000_000_000), ("mid.ipynb", 1_500_000_000)):
        shutil.copy(SAMPLES / "analysis" / "sales_analysis.ipynb", tmp_path / name)
        os.utime(tmp_path / name, (mtime, mtime))
    nbsql.load(tmp_path, tmp_path / "copies.db")
    results = search("read_csv", tmp_path / "copies.db")
    assert results.total_cells == 3 * results.total_results and results.total_notebooks == 3
    assert {hit.path for hit in results.hits} == {"old.ipynb"} and {hit.copies for hit in results.hits} == {2}
    text = CliRunner().invoke(cli, ["search", "read_csv", "--db", str(tmp_path / "copies.db")]).output
    assert "old.ipynb:cell" in text and "(also in 2 other notebooks)" in text and "once copies are merged" in text


@pytest.mark.parametrize("query", ["import", "plot", "pd.read_csv", '"gradient descent"', "loss", "def"])
def test_reading_texts_finds_what_reading_cells_finds(corpus_db, query):
    """A search without filters reads each distinct text once; a filter that keeps every cell
    makes it read the cells. Both give the same totals, hits, copies and scores, page by page."""
    by_text = search(query, corpus_db, limit=100_000)
    by_cell = search(query, corpus_db, filters=Filters(path="*"), limit=100_000)
    assert by_text.total_cells > 0
    assert (by_text.total_cells, by_text.total_notebooks, by_text.total_results) == \
        (by_cell.total_cells, by_cell.total_notebooks, by_cell.total_results)
    assert [(h.path, h.position, h.copies, h.score, h.excerpt) for h in by_text.hits] == \
        [(h.path, h.position, h.copies, h.score, h.excerpt) for h in by_cell.hits]


def test_past_the_limit_the_notebooks_are_not_counted(samples_db, monkeypatch):
    from nbsql.search import engine

    counted = search("import", samples_db)
    monkeypatch.setattr(engine, "NOTEBOOK_COUNT_LIMIT", counted.total_cells - 1)
    uncounted = search("import", samples_db)
    assert counted.total_notebooks and uncounted.total_notebooks is None
    assert (uncounted.total_cells, uncounted.total_results) == (counted.total_cells, counted.total_results)
    command = ["search", "import", "--db", str(samples_db)]
    found = json.loads(CliRunner().invoke(cli, [*command, "--format", "json"]).output)
    assert found["total_notebooks"] is None and found["total_cells"] == counted.total_cells
    text = CliRunner().invoke(cli, command).output
    assert re.search(rf"\n{counted.total_cells} cells match; showing", text), text[-200:]


def test_the_same_markdown_in_two_notebooks_is_one_result(tmp_path):
    """Copies of a markdown cell (the same text) are one result too, 'also in 1 other notebook'."""
    for name in ("a.ipynb", "b.ipynb"):
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("## Gradient descent, by hand")])
        nbformat.write(notebook, tmp_path / name)
    nbsql.load(tmp_path, tmp_path / "nb.db")
    results = search("gradient", tmp_path / "nb.db")
    assert (results.total_cells, results.total_notebooks, results.total_results) == (2, 2, 1)
    assert [hit.copies for hit in results.hits] == [1]
    with sqlite3.connect(tmp_path / "nb.db") as conn:
        assert conn.execute("SELECT count(*), sum(cells) FROM cell_texts").fetchone() == (1, 2)
    (tmp_path / "a.ipynb").unlink()
    nbsql.load(tmp_path, tmp_path / "nb.db")
    assert search("gradient", tmp_path / "nb.db").total_cells == 1
    (tmp_path / "b.ipynb").unlink()
    nbsql.load(tmp_path, tmp_path / "nb.db")
    with sqlite3.connect(tmp_path / "nb.db") as conn:  # the last cell gone, the text leaves the index
        assert conn.execute("SELECT (SELECT count(*) FROM cell_texts), (SELECT count(*) FROM cells_fts)").fetchone() \
            == (0, 0)


def test_json_has_the_totals_and_each_hit_links_to_its_cell(samples_db):
    result = CliRunner().invoke(cli, ["search", "read_csv", "--db", str(samples_db), "--format", "json", "-n", "1"])
    found = json.loads(result.output)
    assert found["query"] == "read_csv" and found["total_cells"] > 1 and len(found["hits"]) == 1
    (hit,) = found["hits"]
    assert hit["url"] == f"/-/nbsql/notebooks/{hit['notebook']}#cell-{hit['position']}"
    assert hit["match_in"] in ("source", "outputs", "both") and hit["highlights"] and hit["copies"] >= 0
    assert all({"in", "line", "text"} == line.keys() for line in hit["excerpt"])


def test_pages_of_results(samples_db):
    first, second = (search("import", samples_db, limit=3, offset=offset) for offset in (0, 3))
    assert first.total_cells == second.total_cells and not {(h.path, h.position) for h in first.hits} & \
        {(h.path, h.position) for h in second.hits}


@pytest.mark.parametrize("query, message", [('"unbalanced', "unbalanced quote"), ("*", "no words"),
                                            ("== !=", "no words"), ("x " * 5000, "characters; at most")])
def test_a_query_that_cannot_be_searched_is_one_line(samples_db, query, message):
    result = CliRunner().invoke(cli, ["search", query, "--db", str(samples_db)])
    assert result.exit_code == 2 and result.output.count("\n") == 1 and message in result.output
    with pytest.raises(NbsqlError, match=message):
        search(query, samples_db)


def test_terms_without_letters_are_left_out(samples_db):
    """A pasted line of code is searched by its terms that have letters or digits."""
    pasted = search("df = pd.read_csv", samples_db)
    assert pasted.total_cells and pasted.total_cells == search("df pd.read_csv", samples_db).total_cells


def test_a_search_by_filters_shows_what_they_found(samples_db, corpus_db):
    (hit,) = search("", samples_db, filters=Filters(defines="revenue_by_region")).hits
    assert hit.match_in is None and [hit.excerpt[i].text[s:e] for i, s, e in hit.highlights] == ["revenue_by_region"]
    errors = search("", corpus_db, filters=Filters(has_error=True), limit=20).hits
    shown = [hit for hit in errors if "outputs" in {line.where for line in hit.excerpt} and hit.highlights]
    assert len(shown) >= 0.8 * len(errors)  # the error's name, where it ends in Error or Exception


def test_a_path_glob_matches_from_any_folder_down(corpus_db):
    below = search("import", corpus_db, filters=Filters(path="numpy/*"), limit=1000)
    assert below.total_cells and all("/numpy/" in f"/{hit.path}" for hit in below.hits)


@pytest.mark.parametrize("query", ["AND", "NEAR(", "OR NOT", "a AND", "col:umn", "^x", '"a phrase" "'])
def test_fts5_operators_are_searched_as_text(samples_db, query):
    """The command line has no FTS5 operators: they are words or code, found or not, never an error."""
    result = CliRunner().invoke(cli, ["search", query, "--db", str(samples_db)])
    assert result.exit_code in (0, 1, 2) and "Traceback" not in result.output
    assert result.exit_code != 2 or result.output.count("\n") == 1


def test_no_hit_exits_1_and_says_so(samples_db):
    result = CliRunner().invoke(cli, ["search", "zzzznotthere", "--db", str(samples_db)])
    assert result.exit_code == 1 and result.output == "No cell matches.\n"


def test_calls_need_a_database_that_records_them(samples_db):
    with sqlite3.connect(samples_db) as conn:
        recorded = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'cell_names'").fetchone()
    if recorded:
        hits = every_hit(samples_db, "", calls="read_csv").hits
        assert hits and {(hit.path, hit.position) for hit in hits} <= cells_named(samples_db, "read_csv", "call")
    else:
        with pytest.raises(NbsqlError, match="no record of calls"):
            search("", samples_db, filters=Filters(calls="read_csv"))
