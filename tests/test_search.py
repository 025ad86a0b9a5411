"""nbsql search: full-text and regex search through the library and the command line."""

from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner

from nbsql import NbsqlError
from nbsql.cli import cli
from nbsql.search import fts_query, search


def test_fts_query_is_always_valid_syntax():
    assert fts_query('read_csv("x") AND -- "quote') == '"read_csv" "x" "AND" "quote"'
    assert fts_query("plot*") == '"plot"*'
    assert fts_query("(*)") == ""


def test_full_text_hits_are_ranked_and_highlighted(samples_db):
    hits = search("read_csv", samples_db)
    assert hits and all(h.cell_type in ("code", "markdown") for h in hits)
    first = hits[0]
    assert any("read_csv" in first.excerpt[i][s:e] for i, s, e in first.highlights)
    assert [h.score for h in hits] == sorted(h.score for h in hits)  # bm25: lower is better
    with sqlite3.connect(samples_db) as conn:
        source = conn.execute("SELECT source FROM cells c JOIN notebooks n ON n.id = c.notebook "
                              "WHERE n.path = ? AND c.position = ?", (first.path, first.position)).fetchone()[0]
    assert first.excerpt == source.splitlines()[first.first_line - 1:first.first_line - 1 + len(first.excerpt)]


def test_outputs_are_searched_too(samples_db):
    hits = search("ZeroDivisionError", samples_db)
    assert any(h.path == "teaching/intro_to_python.ipynb" for h in hits)


def test_filters(samples_db):
    assert {h.cell_type for h in search("import", samples_db, cell_type="markdown")} <= {"markdown"}
    assert all(h.path.startswith("teaching/") for h in search("import", samples_db, path="teaching/*"))
    assert {h.path for h in search("x", samples_db, language="r", regex=True)} == {"teaching/r_basics.ipynb"}
    errors = search("print", samples_db, has_error=True, limit=50)
    no_errors = search("print", samples_db, has_error=False, limit=50)
    assert errors and no_errors and not {(h.path, h.position) for h in errors} & {(h.path, h.position) for h in no_errors}
    with sqlite3.connect(samples_db) as conn:
        tag = conn.execute("SELECT value FROM cells, json_each(cells.tags) LIMIT 1").fetchone()[0]
    tagged = search(".", samples_db, regex=True, tag=tag)
    assert tagged and len(tagged) < len(search(".", samples_db, regex=True, limit=1000))


def test_regex_search(samples_db):
    hits = search(r"np\.random\.\w+\(", samples_db, regex=True)
    assert hits and all("np.random." in "\n".join(h.excerpt) for h in hits)
    with pytest.raises(NbsqlError, match="invalid regular expression"):
        search("(", samples_db, regex=True)
    with pytest.raises(NbsqlError, match="invalid regular expression"):
        search("a{99999999999}", samples_db, regex=True)  # overflows the engine's repeat count


def test_text_that_is_not_utf8_is_a_user_error(samples_db):
    not_utf8 = "\udcff"  # how Python keeps a command-line byte that is not UTF-8
    for options in ({"path": not_utf8}, {"tag": not_utf8}, {"language": not_utf8}):
        with pytest.raises(NbsqlError, match="is not valid UTF-8"):
            search("plot", samples_db, **options)
    with pytest.raises(NbsqlError, match="the query is not valid UTF-8"):
        search(not_utf8, samples_db, regex=True)


def test_cli_text_json_and_exit_codes(samples_db):
    runner = CliRunner()
    text = runner.invoke(cli, ["search", "read_csv", "--db", str(samples_db), "--context", "0"])
    assert text.exit_code == 0 and "[read_csv]" in text.output and text.output.endswith("cell(s) found.\n")
    assert ":cell " in text.output.splitlines()[0]
    rows = json.loads(runner.invoke(cli, ["search", "plot", "--db", str(samples_db), "--format", "json",
                                          "-n", "3"]).output)
    assert len(rows) == 3 and {"path", "position", "cell_id", "excerpt", "highlights", "score"} <= rows[0].keys()
    assert runner.invoke(cli, ["search", "zzzznotthere", "--db", str(samples_db)]).exit_code == 1
    assert runner.invoke(cli, ["search", "x", "--db", "missing.db"]).exit_code == 2
    assert runner.invoke(cli, ["search", "(", "--regex", "--db", str(samples_db)]).exit_code == 2
