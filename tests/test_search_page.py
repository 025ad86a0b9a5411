"""The search page of the plugin, /-/nbsql/search, and the report downloads, in a real Datasette
(the browser's view, hostile notebooks included, is in test_browser.py)."""

from __future__ import annotations

import json
import re
import sqlite3
import urllib.parse

import nbformat
import pytest
from datasette.app import Datasette

from nbsql.search import Filters, search
from nbsql.serve import make_datasette

from .test_plugin import get


@pytest.fixture(scope="module")
def corpus_site(corpus_db) -> Datasette:
    return make_datasette(corpus_db)


def page(site: Datasette, **args) -> tuple[int, str, dict]:
    response = get(site, "/-/nbsql/search?" + urllib.parse.urlencode(args))
    return response.status_code, response.text, response.headers


def test_the_page_shows_true_totals_and_links_each_result_to_its_cell(corpus_site, corpus_db):
    status, html, headers = page(corpus_site, q="pd.read_csv")
    expected = search("pd.read_csv", corpus_db)
    assert status == 200 and "script-src 'none'" in headers["content-security-policy"]
    assert f"{expected.total_cells} cells in {expected.total_notebooks} notebooks match" in html
    links = re.findall(r'<h2><a href="([^"]+)">', html)
    assert len(links) == len(expected.hits) == 20
    for link, hit in zip(links, expected.hits, strict=True):
        assert link == f"/-/nbsql/notebooks/{hit.notebook}?database=corpus#cell-{hit.position}"
    assert html.count('class="hll"') >= 20  # the matched lines are marked in the highlighted code


def test_each_result_gives_its_notebooks_health_score(corpus_site, corpus_db):
    """The score the notebook_health view gives, and the findings by severity."""
    html = page(corpus_site, q="pd.read_csv")[1]
    expected = search("pd.read_csv", corpus_db)
    with sqlite3.connect(corpus_db) as conn:
        scores = [conn.execute("SELECT score FROM notebook_health WHERE id = ?", (hit.notebook,)).fetchone()[0]
                  for hit in expected.hits]
    assert re.findall(r'<span class="nbsql-score">health (\d+)/100</span>', html) == [str(s) for s in scores]
    assert len(set(scores)) > 1
    with sqlite3.connect(corpus_db) as conn:
        counts = [dict(conn.execute("SELECT severity, count(*) FROM findings WHERE notebook = ? GROUP BY severity",
                                    (hit.notebook,))) for hit in expected.hits]
    expected_text = [", ".join(f"{c[s]} {s}{'' if c[s] == 1 else 's'}" for s in ("error", "warning", "info") if s in c)
                     or "no findings" for c in counts]
    assert re.findall(r'health \d+/100</span> \(([^)]*)\)', html) == expected_text


def test_copies_are_one_click_away(corpus_site, corpus_db):
    hits = search("read_csv", corpus_db, limit=1000).hits
    first = next(index for index, hit in enumerate(hits) if hit.copies)
    status, html, _ = page(corpus_site, q="read_csv", page=str(first // 20 + 1))
    copies = re.search(r'<a href="(/corpus/cells\?source_hash=[0-9a-f]+)&amp;_col=[^"]*">also in (\d+) other notebook',
                       html)
    assert status == 200 and copies and int(copies.group(2)) == hits[first].copies
    listed = get(corpus_site, copies.group(1).replace("/cells?", "/cells.json?_shape=array&"))
    assert len({row["notebook"] for row in listed.json()}) == hits[first].copies + 1


def test_outputs_images_and_markdown_are_shown(corpus_site):
    status, html, _ = page(corpus_site, q="Epoch", has_image="1")
    assert status == 200 and ("<mark>" in html or 'class="hll"' in html)
    assert '<div class="nbsql-thumbs">' in html and "/-/nbsql/images/" in html
    status, html, _ = page(corpus_site, q="Epoch", type="code", errors="no")
    assert status == 200 and "<mark>Epoch</mark>" in html and "match in outputs" in html
    status, html, _ = page(corpus_site, q='"decision tree"', type="markdown")
    assert status == 200 and "<h" in html.split("nbsql-where", 2)[-1]  # markdown rendered


def test_filters_are_fields_and_combine(corpus_site, corpus_db):
    status, html, _ = page(corpus_site, q="plt.show", imports="pandas", has_image="1", path="real/*")
    expected = search("plt.show", corpus_db, filters=Filters(imports="pandas", has_image=True, path="real/*"))
    assert status == 200 and f"{expected.total_cells} cells in" in html
    assert 'name="imports" value="pandas"' in html and 'name="has_image" value="1" checked' in html
    status, html, _ = page(corpus_site, q="", defines="train")
    assert status == 200 and "match" in html


def test_pages_of_results(corpus_site, corpus_db):
    total = search("import", corpus_db).total_results
    status, html, _ = page(corpus_site, q="import", page="2")
    assert status == 200 and f"page 2 of {-(-total // 20)}" in html
    assert "page=1" in html and "page=3" in html
    status, html, _ = page(corpus_site, q="import", page="99999")
    assert status == 200 and "none from" in html
    status, _, _ = page(corpus_site, q="import", page="-1")
    assert status == 200  # not a page number: the first page


@pytest.mark.parametrize("query, status, message", [('"unbalanced', 400, "unbalanced quote"),
                                                    ("*", 400, "no words"), ("x " * 5000, 400, "characters"),
                                                    ("zzzznotthere", 404, "No cell matches")])
def test_what_cannot_be_searched_or_finds_nothing_says_so(corpus_site, query, status, message):
    got, html, _ = page(corpus_site, q=query)
    assert got == status and message in html


def test_a_bad_regex_is_a_message(corpus_site):
    got, html, _ = page(corpus_site, q="(", regex="1")
    assert got == 400 and "invalid regular expression" in html


def test_report_downloads_are_valid_notebooks(corpus_site):
    for path, word in (("/-/nbsql/search.ipynb?q=plt.show&has_image=1", "Search report"),
                       ("/-/nbsql/gallery.ipynb?q=accuracy", "Gallery")):
        response = get(corpus_site, path)
        assert response.status_code == 200 and response.headers["content-type"] == "application/x-ipynb+json"
        assert response.headers["content-disposition"].startswith("attachment; filename=\"nbsql-")
        report = nbformat.reads(response.text, as_version=4)
        nbformat.validate(report)
        assert word in report.cells[0].source and len(report.cells) > 3
        assert "http://localhost/-/nbsql/notebooks/" in json.dumps(report.cells[1].source)
    assert get(corpus_site, "/-/nbsql/search.ipynb?q=%22x").status_code == 400


def test_the_page_is_in_datasettes_menu(corpus_site):
    for path in ("/", "/corpus", "/-/nbsql/gallery", "/-/nbsql/search"):
        assert 'href="/-/nbsql/search">Search notebooks</a>' in get(corpus_site, path).text, path
