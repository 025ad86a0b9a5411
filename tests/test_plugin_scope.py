"""The plugin acts only on nbsql databases (issue 12 point 8): one Datasette serves an nbsql
database and a plain one whose tables have nbsql's names; the plain one's pages are stock
Datasette's, byte for byte and header for header, and the nbsql one keeps everything."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
import urllib.parse
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
from datasette.app import Datasette
from datasette.plugins import pm

import nbsql
from nbsql.datasette_plugin import recognise
from nbsql.metadata import datasette_metadata

from .conftest import SAMPLES

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
#: Every page of the plain database that a hook of the plugin could touch.
PLAIN_PAGES = ("/plain", "/plain/cells", "/plain/cells/1", "/plain/cells/2", "/plain/notebooks",
               "/plain/output_data", "/plain/output_data/1", "/plain/outputs",
               "/plain?sql=" + urllib.parse.quote("SELECT source AS source_snippet, 1 AS notebook, data FROM cells"),
               "/plain.json?sql=" + urllib.parse.quote("SELECT nbsql_match('plt.show') AS q"),
               "/", "/-/plugins")
CSS = "/-/static-plugins/nbsql/nbsql.css"
#: Datasette's menu, which a stock Datasette shows only when a plugin gives it links.
NAV_MENU = re.compile(r'<details class="nav-menu.*?</details>', re.S)
#: The links to nbsql's pages above the index of a Datasette serving an nbsql database.
NBSQL_NAV = re.compile(r'<nav class="nbsql-nav".*?</nav>', re.S)
TIMING = re.compile(r'Queries took [0-9.]+ms|"query_ms": [0-9.e-]+')


def get(datasette: Datasette, path: str):
    return asyncio.run(datasette.client.get(path))


@pytest.fixture(scope="module")
def plain_db(tmp_path_factory) -> Path:
    """Another program's database with tables called cells, notebooks, output_data and outputs."""
    path = tmp_path_factory.mktemp("plain") / "plain.db"
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("CREATE TABLE cells (id INTEGER PRIMARY KEY, source TEXT, cell_type TEXT, language TEXT, "
                     "data BLOB)")
        conn.executemany("INSERT INTO cells VALUES (?, ?, ?, ?, ?)", [
            (1, "# A heading\n<b>bold</b> \u27e6marked\u27e7", "markdown", None, None),
            (2, "import os\nx = 1", "code", "python", PNG)])
        conn.execute("CREATE TABLE notebooks (id INTEGER PRIMARY KEY, path TEXT)")
        conn.execute("INSERT INTO notebooks VALUES (1, 'a/b.ipynb')")
        conn.execute("CREATE TABLE output_data (id INTEGER PRIMARY KEY, mime TEXT, text TEXT, data BLOB)")
        conn.executemany("INSERT INTO output_data VALUES (?, ?, ?, ?)", [
            (1, "image/png", None, PNG), (2, "text/html", "<i>html</i>", None),
            (3, "image/svg+xml", "<svg></svg>", None)])
        conn.execute("CREATE TABLE outputs (id INTEGER PRIMARY KEY, text TEXT, traceback_text TEXT)")
        conn.execute("INSERT INTO outputs VALUES (1, 'out', 'Traceback\x1b[31m')")
    return path


@contextmanager
def stock_datasette():
    """Datasette without the nbsql plugin, while the block runs."""
    plugin = pm.unregister(name="nbsql")
    try:
        yield
    finally:
        pm.register(plugin, name="nbsql")


def served(paths: list[str]) -> Datasette:
    """Datasette on ``paths`` with nbsql's metadata for the samples database (its canned queries)."""
    return Datasette(paths, metadata=datasette_metadata("samples"))


def pages(paths: list[str], urls) -> dict[str, tuple[int, dict, str]]:
    """Status, headers and text of each page; the time queries took (and so the length) left out."""
    datasette = served(paths)
    answers = {}
    for url in urls:
        response = get(datasette, url)
        headers = {name: value for name, value in response.headers.items() if name != "content-length"}
        answers[url] = (response.status_code, headers, TIMING.sub("", response.text))
    return answers


def test_a_plain_database_is_served_as_stock_datasette_serves_it(samples_db, plain_db):
    paths = [str(samples_db), str(plain_db)]
    with stock_datasette():
        stock = pages(paths, PLAIN_PAGES)
    ours = pages(paths, PLAIN_PAGES)
    for url in PLAIN_PAGES:
        if url == "/-/plugins":
            continue
        if url == "/":  # the index, of both databases, links to nbsql's pages, in the menu and above
            status, headers, text = ours[url]
            menu, nav = NAV_MENU.search(text), NBSQL_NAV.search(text)
            assert menu and 'href="/-/nbsql/search">Search notebooks' in menu.group()
            assert nav and 'href="/-/nbsql/gallery?database=samples">Image gallery' in nav.group()
            assert not NAV_MENU.search(stock[url][2])
            ours[url] = (status, headers, " ".join(NBSQL_NAV.sub("", NAV_MENU.sub("", text)).split()))
            stock[url] = (*stock[url][:2], " ".join(stock[url][2].split()))
        assert ours[url] == stock[url], url
        _, headers, text = ours[url]
        assert "content-security-policy" not in headers and CSS not in text and "nbsql-" not in text, url
    assert "&lt;b&gt;bold&lt;/b&gt;" in ours["/plain/cells/1"][2]  # escaped text, not markdown
    assert "&lt;Binary:&nbsp;24&nbsp;bytes&gt;" in ours["/plain/output_data"][2]  # not an <img>
    assert "no such function: nbsql_match" in ours[PLAIN_PAGES[-3]][2]
    assert "nbsql" not in stock["/-/plugins"][2] and "nbsql" in ours["/-/plugins"][2]


def test_the_nbsql_database_beside_it_gets_everything(samples_db, plain_db):
    datasette = served([str(samples_db), str(plain_db)])
    for url in ("/samples", "/samples/cells?cell_type=code&_size=3", "/samples/cells/1", "/samples/search_cells?q=plot",
                "/samples/output_data?mime=image/png"):
        response = get(datasette, url)
        assert response.status_code == 200, url
        assert "object-src 'none'" in response.headers["content-security-policy"] and CSS in response.text, url
    assert 'class="nbsql-code"' in get(datasette, "/samples/cells?cell_type=code&_size=3").text
    assert '<img class="nbsql-image"' in get(datasette, "/samples/output_data?mime=image/png").text
    assert get(datasette, "/samples.json?sql=SELECT+nbsql_match('plt.show')+AS+q&_shape=array").json() == [
        {"q": '"plt" "show"'}]
    for url in ("/-/nbsql/notebooks/1", "/-/nbsql/gallery", "/-/nbsql/notebooks/1?database=samples"):
        response = get(datasette, url)
        assert response.status_code == 200 and "script-src 'none'" in response.headers["content-security-policy"]
    assert get(datasette, "/-/nbsql/notebooks/1?database=plain").status_code == 404


def test_the_plugin_routes_pick_the_first_nbsql_database(samples_db, plain_db):
    """The plain database comes first and has notebooks and cells tables: the pages use samples."""
    datasette = Datasette([str(plain_db), str(samples_db)])
    page = get(datasette, "/-/nbsql/gallery")
    assert page.status_code == 200 and 'name="database" value="samples"' in page.text
    assert get(datasette, "/-/nbsql/notebooks/1").status_code == 200
    only_plain = Datasette([str(plain_db)])
    assert get(only_plain, "/-/nbsql/gallery").status_code == 404
    index = get(only_plain, "/")
    assert "content-security-policy" not in index.headers and CSS not in index.text


def test_an_empty_file_served_before_its_first_load_becomes_nbsql(tmp_path, monkeypatch):
    """Datasette keeps its connections; a load writes nbsql's schema into the served empty file,
    and the plugin notices at most RECHECK_EMPTY seconds later (the function is there already)."""
    monkeypatch.setattr(recognise, "RECHECK_EMPTY", 0.2)
    db = tmp_path / "later.db"
    db.touch()
    datasette = Datasette([str(db)])
    before = get(datasette, "/later")
    assert before.status_code == 200 and "content-security-policy" not in before.headers and CSS not in before.text
    nbsql.load(SAMPLES, db)
    time.sleep(0.3)
    cells = get(datasette, "/later/cells?cell_type=code&_size=3")
    assert 'class="nbsql-code"' in cells.text and CSS in cells.text and "content-security-policy" in cells.headers
    assert get(datasette, "/later.json?sql=SELECT+nbsql_match('a.b')+AS+q&_shape=array").json() == [
        {"q": '"a" "b"'}]


def test_a_foreign_answer_is_kept(plain_db):
    """Only an empty database is asked again: nbsql never writes into another program's."""
    datasette = Datasette([str(plain_db)])
    db = datasette.get_database("plain")
    assert asyncio.run(recognise.is_nbsql(db)) is False and recognise.known(db) is False
    assert recognise.known(None) is False and asyncio.run(recognise.is_nbsql(None)) is False


def test_the_policy_follows_the_base_url(samples_db, plain_db):
    datasette = Datasette([str(samples_db), str(plain_db)], settings={"base_url": "/under/"})  # the client adds it
    assert "object-src 'none'" in get(datasette, "/samples/cells").headers["content-security-policy"]
    assert "script-src 'none'" in get(datasette, "/-/nbsql/gallery").headers["content-security-policy"]
    assert "content-security-policy" not in get(datasette, "/plain/cells").headers
