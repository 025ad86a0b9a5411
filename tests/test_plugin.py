"""The Datasette plugin and nbsql serve, through Datasette's own test client on real databases."""

from __future__ import annotations

import asyncio
import html
import json
import re
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

import pytest
from datasette.app import Datasette
from markupsafe import Markup

import nbsql
from nbsql.datasette_plugin import cell_html, render
from nbsql.metadata import CANNED_QUERIES, FACETS
from nbsql.reports.gallery import GALLERY_IMAGE, gallery_cells, gallery_totals
from nbsql.search import MAX_TERMS
from nbsql.serve import make_datasette

from .conftest import REAL, SAMPLES


def get(datasette: Datasette, path: str):
    return asyncio.run(datasette.client.get(path))


@pytest.fixture(scope="module")
def samples(samples_db) -> Datasette:
    return make_datasette(samples_db)


def test_plugin_is_registered_by_entry_point(samples_db):
    plain = Datasette([str(samples_db)])  # no metadata: a bare `datasette notebooks.db`
    plugins = json.loads(get(plain, "/-/plugins.json").text)
    assert any(p["name"] == "nbsql" and "render_cell" in p["hooks"] for p in plugins)
    assert get(plain, "/-/nbsql/notebooks/1").status_code == 200


def test_render_cell_leaves_other_values_alone():
    row = {"id": 1, "cell_type": "code"}
    for value, column, table in [(1, "source", "cells"), ("x", "other", "cells"), ("x", "source", "mytable"),
                                 (b"not an image", "data", "output_data"), (None, "source", "cells")]:
        assert cell_html(row, value, column, table, "db", None) is None


def test_render_cell_renders_our_columns():
    code = cell_html({"cell_type": "code"}, "import os\nx = 1", "source", "cells", "db", None)
    assert isinstance(code, Markup) and "nbsql-code" in code and "<span" in code
    md = cell_html({"cell_type": "markdown"}, "# Title\n<script>alert(1)</script>", "source", "cells", "db", None)
    assert "<h1>Title</h1>" in md and "<script" not in md
    html = cell_html({"mime": "text/html"}, '<table class="dataframe"><tr><td onclick="x()">1</td></tr></table>',
                       "text", "output_data", "db", None)
    assert '<table class="dataframe">' in html and "<td>1</td>" in html and "onclick" not in html
    svg = cell_html({"mime": "image/svg+xml"}, "<svg><script>alert(1)</script></svg>", "text", "output_data",
                      "db", None)
    assert svg.startswith('<img class="nbsql-image" src="data:image/svg+xml;base64,') and "<svg" not in svg
    snippet = cell_html({}, "a \u27e6b<\u27e7 c", "source_snippet", None, "db", None)
    assert snippet == '<span class="nbsql-snippet">a <mark>b&lt;</mark> c</span>'


@pytest.mark.parametrize("payload", [
    "<script>alert(1)</script>", '<img src=x onerror="alert(1)">', '<a href="javascript:alert(1)">x</a>',
    "<svg><script>alert(1)</script></svg>", "<svg onload=alert(1)>", '<iframe src="http://127.0.0.1/"></iframe>',
    "<style>body{background:url(http://127.0.0.1/css)}</style>", '<img src="http://127.0.0.1/beacon">',
    '<object data="x"></object>', '<meta http-equiv="refresh" content="0;url=http://127.0.0.1/">',
    '<a href="data:text/html,<script>alert(1)</script>">x</a>', '<form action="http://127.0.0.1/"><input></form>',
])
def test_sanitizer_removes_active_content(payload):
    for rendered in (render.sanitize(payload), render.markdown(payload)):
        lowered = rendered.lower()
        for forbidden in ("<script", "onerror", "onload", "javascript:", "<iframe", "<style", "<object", "<meta",
                          "http://127.0.0.1", "<svg", "data:text", "<form"):
            assert forbidden not in lowered, (payload, rendered)


def test_markdown_attachments_become_inline_images():
    attachments = {"chart.png": {"image/png": "iVBORw0KGgo="}}
    rendered = render.markdown("![chart](attachment:chart.png)", attachments)
    assert 'src="data:image/png;base64,iVBORw0KGgo="' in rendered


def test_markdown_attachments_that_are_not_bundles_are_ignored():
    for attachments in ({"chart.png": "not a bundle"}, ["a list"], {"chart.png": {"image/png": 5}}):
        rendered = render.markdown("![chart](attachment:chart.png)", attachments)
        assert "<img" in rendered and "data:" not in rendered


def test_megabytes_of_text_are_shown_plain_and_cut():
    source = "x = [" + ",".join(map(str, range(300_000))) + "]"
    for rendered in (render.code(source), render.markdown(source), render.sanitize(source),
                     render.preformatted(source)):
        assert len(rendered) < render.MAX_RENDERED + 200 and f"of {len(source):,} characters" in rendered
    assert "<script" not in render.sanitize("<script>" * 50_000)


def test_every_nbsql_page_has_a_baseline_content_security_policy(samples):
    policy = get(samples, "/samples/cells").headers["content-security-policy"]
    assert "object-src 'none'" in policy and "base-uri 'none'" in policy and "img-src 'self' data:" in policy
    assert "script-src 'none'" in get(samples, "/-/nbsql/notebooks/1?database=samples").headers[
        "content-security-policy"]  # the plugin's own pages keep their strict one


def test_table_pages_render_notebooks(samples):
    cells = get(samples, "/samples/cells?cell_type=markdown&_size=5").text
    assert "<h1>" in cells and "nbsql-code" not in cells
    code = get(samples, "/samples/cells?cell_type=code&_size=5").text
    assert 'class="nbsql-code"' in code
    images = get(samples, "/samples/output_data?mime=image/png").text
    first = re.search(r'<img class="nbsql-image" src="(/-/nbsql/images/\d+)\?database=samples"', images)
    assert first and "_blob_column=data" in images and "base64," not in images  # fetched, not inlined
    assert get(samples, first.group(1) + "?database=samples").headers["content-type"] == "image/png"
    notebooks = get(samples, "/samples/notebooks").text
    assert 'href="/-/nbsql/notebooks/1?database=samples"' in notebooks
    outputs = get(samples, "/samples/outputs?output_type=error").text
    assert "\x1b[" not in outputs and "pre class=\"nbsql-text\"" in outputs


def test_metadata_labels_facets_and_descriptions(samples):
    cells = get(samples, "/samples/cells.json?_size=1&_labels=on&_extra=facet_results").json()
    assert isinstance(cells["rows"][0]["notebook"], dict) and cells["rows"][0]["notebook"]["label"].endswith(".ipynb")
    page = get(samples, "/samples/findings").text
    for facet in FACETS["findings"]:
        assert f'data-column="{facet}"' in page
    assert "Health findings: one row per problem found by a rule" in page


@pytest.mark.parametrize("q, found", [("", False), ("plt.show", True), ("pd.read_csv(", True), ("don't", None),
                                      ('"import pandas"', True), ("plot OR zzzz", True), ("NOT", None)])
def test_canned_searches_take_any_text(samples, q, found):
    """FTS5 syntax when valid, else the words (a bare FTS5 query of 'plt.show' is a syntax error)."""
    for name in ("search_cells", "image_gallery"):
        response = get(samples, f"/samples/{name}.json?_shape=array&q={urllib.parse.quote(q)}")
        assert response.status_code == 200, response.text
        assert found is None or name == "image_gallery" or bool(response.json()) == found, (name, q)


def test_match_query_keeps_fts5_syntax_and_reads_other_text_as_words():
    from nbsql.search import match_query

    assert match_query('"import pandas" OR plot*') == '"import pandas" OR plot*'
    assert match_query("source:read_csv") == "source:read_csv"
    assert match_query("plt.show") == '"plt" "show"'
    assert match_query("") == match_query(None) == match_query("  ") == '""'


def test_the_scraps_table_is_not_hidden_by_a_canned_query(samples):
    page = get(samples, "/samples/scraps").text
    assert "rows-and-columns" in page and "Custom SQL query" not in page


#: The canned queries over nbsql run's tables (test_run.py asks them of a database with runs).
RUN_QUERIES = ("latest_runs", "run_outcomes", "missing_modules", "cells_that_differ")


@pytest.mark.parametrize("name", sorted(CANNED_QUERIES))
def test_canned_queries_answer(samples, name):
    assert len(CANNED_QUERIES) >= 12
    response = get(samples, f"/samples/{name}.json?_shape=array&q=plot&package=pandas&name=pd"
                            "&notebook=analysis/sales_analysis.ipynb&cell=8")
    assert response.status_code == 200, response.text
    rows = response.json()
    if name not in ("duplicate_cells", "load_problems") + RUN_QUERIES:  # nothing ran: test_run.py checks those
        assert rows, f"{name} found nothing in the sample notebooks"


def test_search_box_on_cells_table(samples):
    rows = get(samples, "/samples/cells.json?_search=dataframe&_shape=array").json()
    assert rows and all("dataframe" in (r["source"] or "").lower() or r["cell_type"] for r in rows)


def test_notebook_page_shows_findings_beside_cells(samples, samples_db):
    with sqlite3.connect(samples_db) as conn:
        notebook, position, rule = conn.execute(
            "SELECT notebook, position, rule FROM findings WHERE position IS NOT NULL LIMIT 1").fetchone()
    response = get(samples, f"/-/nbsql/notebooks/{notebook}")
    assert response.status_code == 200
    assert "script-src 'none'" in response.headers["content-security-policy"]
    page = response.text
    cell = page.split(f'id="cell-{position}"', 1)[1].split('class="nbsql-cell ', 1)[0]
    assert rule in cell and "nbsql-finding" in cell
    assert get(samples, "/-/nbsql/notebooks/99999").status_code == 404


@pytest.mark.parametrize("row_id", [
    "5" * 5000, "9" * 4301, "99999999999999999999999", "9223372036854775808", "-1", "+1", "1.0", "1e3", "0x1",
    "007", "%EF%BC%91%EF%BC%92",  # full-width digits, as a browser sends them
    "%2F", "1%2F2", "%31", "1%20", "~31", "1_0"])
def test_any_id_that_is_not_a_row_is_a_404(samples, row_id):
    """Only the ASCII decimal a row id is written in (no sign, no leading zero, within 64 bits) names
    a row; anything else is a 404 at once: not a 500 (int() refuses over 4,300 digits), nor
    Datasette's redirect of a path with '%' in it."""
    for route in ("notebooks", "images"):
        response = get(samples, f"/-/nbsql/{route}/{row_id}")
        assert response.status_code == 404, (route, row_id[:20])
        assert "script-src 'none'" in response.headers["content-security-policy"]
    assert get(samples, "/-/nbsql/notebooks/7").status_code == 200


def test_gallery_and_images(samples, samples_db):
    page = get(samples, "/-/nbsql/gallery").text
    ids = [int(i) for i in re.findall(r"/-/nbsql/images/(\d+)", page)]
    with sqlite3.connect(samples_db) as conn:
        svgs = {row[0] for row in conn.execute("SELECT id FROM output_data WHERE mime = 'image/svg+xml'")}
    assert ids and svgs & set(ids) and "data:image/" not in page  # SVG fetched as rasters are, never inlined
    image = get(samples, f"/-/nbsql/images/{ids[0]}?database=samples")
    assert image.status_code == 200 and image.content.startswith((b"\x89PNG", b"\xff\xd8", b"GIF8"))
    assert "sandbox" in image.headers["content-security-policy"]
    svg = get(samples, f"/-/nbsql/images/{min(svgs)}?database=samples")
    assert svg.headers["content-type"] == "image/svg+xml" and svg.content.lstrip().startswith(b"<")
    assert svg.headers["content-disposition"].startswith("attachment;")  # opened alone: a download, not a page
    assert "sandbox" in svg.headers["content-security-policy"] and "script-src" not in svg.headers[
        "content-security-policy"] and svg.headers["x-content-type-options"] == "nosniff"
    filtered = get(samples, "/-/nbsql/gallery?q=regression&path=legacy/*").text
    assert "legacy/" in filtered and "teaching/" not in filtered.split("nbsql-gallery\">", 1)[1]
    for odd in ("9" * 5000, "%C2%B2", "-3", "0"):  # '²' is a digit to str.isdigit, not to int()
        assert get(samples, f"/-/nbsql/gallery?limit={odd}").status_code == 200


def test_the_gallery_page_shows_what_nbsql_gallery_finds_page_by_page(samples, samples_db):
    """The page and the command find the same cells (a match in the cell, or in the markdown
    above), say how many, and page through them."""
    with sqlite3.connect(samples_db) as conn:
        every = gallery_cells(conn, "figure")
        images = conn.execute(f"SELECT COUNT(*) FROM output_data d WHERE {GALLERY_IMAGE}").fetchone()[0]
        all_cells = gallery_cells(conn, "")
        below_markdown = gallery_cells(conn, "sales")
    assert len(every) >= 2 and [g.via_markdown for g in below_markdown] == [True]
    cell = below_markdown[0]
    assert f"{cell.notebook}?database=samples#cell-{cell.position}" in get(samples, "/-/nbsql/gallery?q=sales").text
    page = get(samples, "/-/nbsql/gallery?q=figure&limit=1").text
    assert f"{gallery_totals(every)}; showing 1 cell." in page and "next page" in page and "previous page" not in page
    second = get(samples, "/-/nbsql/gallery?q=figure&limit=1&page=2").text
    assert "showing cells 2-2" in second and "previous page" in second
    cell = every[1]
    assert f"{cell.notebook}?database=samples#cell-{cell.position}" in second
    assert f"{cell.notebook}?database=samples#cell-{cell.position}" not in page
    whole = get(samples, "/-/nbsql/gallery").text
    assert sum(g.images for g in all_cells) == images and f"{gallery_totals(all_cells)}; showing" in whole
    report = get(samples, "/-/nbsql/gallery.ipynb?q=figure&limit=1&page=2").json()
    assert "showing cells 2-2" in report["cells"][0]["source"] and len(report["cells"]) == 3
    nothing = get(samples, "/-/nbsql/gallery?q=zzzznotthere").text
    assert "No image matches." in nothing


@pytest.mark.parametrize("sort, key", [("path", lambda g: (g.path, g.position)),
                                       ("size", lambda g: (-g.size, g.path, g.position)),
                                       ("images", lambda g: (-g.images, g.path, g.position))])
def test_the_gallery_sorts(samples, samples_db, sort, key):
    """Each order shows the cells in that order, page after page, and the report follows it."""
    with sqlite3.connect(samples_db) as conn:
        every = gallery_cells(conn, "", sort=sort)
        sizes = dict(conn.execute(f"SELECT d.cell, SUM(d.size) FROM output_data d WHERE {GALLERY_IMAGE} "
                                  "GROUP BY d.cell").fetchall())
    assert [g.size for g in every] == [sizes[g.cell] for g in every] and every == sorted(every, key=key)
    shown = []
    for page in (1, 2, 3):
        text = get(samples, f"/-/nbsql/gallery?sort={sort}&limit=2&page={page}").text
        assert f'<option value="{sort}" selected>' in text
        shown += [(int(n), int(p)) for n, p in dict.fromkeys(re.findall(r'<figure class="nbsql-figure">\s*<a href='
                                                                         r'"/-/nbsql/notebooks/(\d+)\?database='
                                                                         r'samples#cell-(\d+)"', text))]
    assert shown == [(g.notebook, g.position) for g in every[:6]]
    report = get(samples, f"/-/nbsql/gallery.ipynb?sort={sort}&limit=2&page=2").json()
    assert [c["id"] for c in report["cells"] if c["id"].startswith("chart-")] == \
        [f"chart-{number}-{g.position}" for number, g in enumerate(every[2:4], 1)]
    assert get(samples, "/-/nbsql/gallery?sort=bogus").status_code == 200  # an unknown order is the default


def test_the_images_view_shows_thumbnails_linked_to_their_cells(samples, samples_db):
    with sqlite3.connect(samples_db) as conn:
        image_id, notebook, position = conn.execute(
            "SELECT id, notebook, cell_position FROM images WHERE mime = 'image/png' ORDER BY id LIMIT 1").fetchone()
    page = get(samples, "/samples/images").text
    assert (f'<a href="/-/nbsql/notebooks/{notebook}?database=samples#cell-{position}"><img class="nbsql-image" '
            f'src="/-/nbsql/images/{image_id}?database=samples"') in page
    thumbnails = re.findall(r'src="/-/nbsql/images/(\d+)\?database=samples"', page)
    assert len(thumbnails) == page.count("<tr") - 1  # every image of the view


def test_a_cell_type_the_page_does_not_know_is_a_message(samples):
    for path in ("/-/nbsql/search?q=import&type=bogus", "/-/nbsql/search.ipynb?q=import&type=bogus",
                 "/-/nbsql/gallery.ipynb?q=import&type=bogus"):
        response = get(samples, path)
        assert response.status_code == 400 and "the cell type must be code, markdown or raw, not 'bogus'" in \
            html.unescape(response.text), path


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_pathological_searches_answer_promptly_on_the_pages(corpus_db):
    """A query beyond the bounds is a message above the gallery's form, or the canned search's
    error, at once (a word repeated 1,000 times took 4 s against a 3 s limit: the quadratic
    ranking is checked between rows only). The canned search's error is SQLite's 'user-defined
    function raised exception' (Datasette turns on sqlite3's callback tracebacks, so the server's
    log also gets nbsql_match's one-line NbsqlError, with its traceback)."""
    datasette = make_datasette(corpus_db)
    repeated, distinct = " ".join(["plot"] * 1000), " ".join(f"w{i}" for i in range(MAX_TERMS + 1))
    for q, message in ((repeated, "characters; at most"), (distinct, "distinct words; at most")):
        start = time.monotonic()
        page = get(datasette, "/-/nbsql/gallery?q=" + urllib.parse.quote(q))
        assert page.status_code == 400 and message in page.text and time.monotonic() - start < 5
        start = time.monotonic()
        canned = get(datasette, f"/{corpus_db.stem}/search_cells.json?_shape=array&q=" + urllib.parse.quote(q))
        assert canned.status_code == 400 and time.monotonic() - start < 5
    merged = get(datasette, "/-/nbsql/gallery?q=" + urllib.parse.quote(" ".join(["plot"] * 150)))
    assert merged.status_code == 200 and "nbsql-figure" in merged.text


def test_pages_past_the_time_limit_say_so(corpus_db):
    hurried = Datasette([str(corpus_db)], settings={"sql_time_limit_ms": 1})
    with sqlite3.connect(corpus_db) as conn:
        biggest = conn.execute("SELECT id FROM notebooks ORDER BY cell_count DESC LIMIT 1").fetchone()[0]
    for path in ("/-/nbsql/gallery?q=plot", "/-/nbsql/search?q=plot", f"/-/nbsql/notebooks/{biggest}"):
        page = get(hurried, path)
        assert page.status_code == 400 and "took longer than the time limit of 1 ms" in page.text, path


def test_serve_reads_only(samples_db):
    datasette = make_datasette(samples_db)
    write = get(datasette, "/samples.json?sql=" + urllib.request.quote("DELETE FROM notebooks"))
    assert write.status_code == 400
    slow = get(datasette, "/samples.json?sql=" + urllib.request.quote(
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"))
    assert slow.status_code == 400 and "interrupted" in slow.text.lower()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, seconds: float = 20) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} never answered")


def test_serve_binds_localhost_and_warns_for_all_interfaces(samples_db):
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "nbsql", "serve", "--db", str(samples_db), "--port", str(port)],
                              stderr=subprocess.PIPE, text=True)
    try:
        _wait(f"http://127.0.0.1:{port}/-/versions.json")
        listening = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True).stdout
        if listening:  # ss is in iproute2; where it is missing the bind address is still checked below
            assert [line.split()[3] for line in listening.splitlines()] == [f"127.0.0.1:{port}"]
    finally:
        server.terminate()
        server.wait(10)
    result = subprocess.run([sys.executable, "-m", "nbsql", "serve", "--db", "missing.db"], capture_output=True,
                            text=True)
    assert result.returncode == 2 and "no database at missing.db" in result.stderr
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "nbsql", "serve", "--db", str(samples_db), "--host", "0.0.0.0",
                               "--port", str(port)], stderr=subprocess.PIPE, text=True)
    try:
        _wait(f"http://127.0.0.1:{port}/-/versions.json")
    finally:
        server.terminate()
        server.wait(10)
    assert "Warning: serving on 0.0.0.0" in server.stderr.read()


def test_serve_on_a_busy_port_says_so_alone(samples_db):
    """A taken port is one line and exit code 2, with no "Serving at ..." before it."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "nbsql", "serve", "--db", str(samples_db), "--port", str(port)],
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == (f"Error: cannot serve on 127.0.0.1 port {port}: Address already in use (another "
                             "program is listening there: choose another with --port)\n")


def test_serving_while_loading_stays_consistent(tmp_path):
    """Readers see whole notebooks only: the cell count always matches the notebooks' own counts."""
    db = tmp_path / "live.db"
    nbsql.load(SAMPLES, db)
    datasette = make_datasette(db)
    sql = ("SELECT (SELECT count(*) FROM cells) = (SELECT coalesce(sum(cell_count), 0) FROM notebooks) AS whole, "
           "(SELECT count(*) FROM notebooks) AS notebooks")
    loader = threading.Thread(target=nbsql.load, args=(REAL,), kwargs={"db": db, "jobs": 2})
    loader.start()
    answers = []
    while loader.is_alive():
        answers.append(get(datasette, "/live.json?_shape=array&sql=" + urllib.request.quote(sql)).json()[0])
    loader.join()
    assert len(answers) > 3 and all(a["whole"] == 1 for a in answers)
    assert len({a["notebooks"] for a in answers}) > 1, "the load was not observed in progress"


def test_serve_uses_the_repository_metadata_json(samples_db):
    from .conftest import REPO

    datasette = make_datasette(samples_db, REPO / "metadata.json")  # written for notebooks.db: renamed to samples
    page = get(datasette, "/samples/findings").text
    assert "Health findings: one row per problem found by a rule" in page
    assert get(datasette, "/samples/findings_by_rule.json?_shape=array").status_code == 200
    with pytest.raises(nbsql.NbsqlError, match="cannot read metadata"):
        make_datasette(samples_db, REPO / "README.md")


def test_the_local_server_answers_only_to_local_host_names(samples):
    import httpx

    from nbsql.serve import local_only

    async def status(host: str) -> int:
        transport = httpx.ASGITransport(app=local_only(samples.app()))
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{host}") as client:
            return (await client.get("/samples/notebooks.json")).status_code

    for host, expected in (("127.0.0.1:8001", 200), ("localhost:8001", 200), ("[::1]:8001", 200),
                           ("attacker.example:8001", 421), ("localhost.attacker.example", 421)):
        assert asyncio.run(status(host)) == expected, host
