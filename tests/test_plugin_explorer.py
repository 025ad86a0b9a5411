"""The explorer (issue 14 points 9-13): one-click links to cells, rules and rows, column
documentation one click away, rule pages, math and lists, through Datasette's in-process client."""

from __future__ import annotations

import asyncio
import html
import re
import sqlite3
import urllib.parse

import nbformat
import pytest
from datasette.app import Datasette

import nbsql
from nbsql.datasette_plugin import render
from nbsql.datasette_plugin.values import TABLE_LINES
from nbsql.serve import make_datasette

SHARED = "\n".join(f"total_{i} = sum(range({i}))" for i in range(6))
MATH = ("# Squares\n\nEach $x_i=i^2$, and\n\n$$\\frac{a}{b}$$\n\n- first\n- second\n\n1. one\n2. two\n\n"
        "It costs $5 and $10.")
LONG = "\n".join(f"line_{i} = {i}" for i in range(TABLE_LINES + 15))


def get(datasette: Datasette, path: str):
    return asyncio.run(datasette.client.get(path))


@pytest.fixture(scope="module")
def explorer(tmp_path_factory) -> tuple[Datasette, sqlite3.Connection]:
    """Two notebooks sharing a six-line cell (NB116), one with math, lists and a long cell."""
    root = tmp_path_factory.mktemp("explorer")
    folder = root / "notebooks"
    folder.mkdir()
    first = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(MATH), nbformat.v4.new_code_cell(SHARED),
                                            nbformat.v4.new_code_cell(LONG)])
    second = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Other"),
                                             nbformat.v4.new_code_cell("import os"), nbformat.v4.new_code_cell(SHARED)])
    nbformat.write(first, folder / "first.ipynb")
    nbformat.write(second, folder / "second.ipynb")
    db = root / "explorer.db"
    nbsql.load(folder, db)
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    yield make_datasette(db), conn
    conn.close()


def test_the_notebook_page_counts_in_words(explorer, tmp_path):
    """'3 cells', and '1 cell' for a notebook of one."""
    datasette, conn = explorer
    assert " · 3 cells · " in get(datasette, f"/-/nbsql/notebooks/{_ids(conn)['first.ipynb']}").text
    folder = tmp_path / "one"
    folder.mkdir()
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]), folder / "one.ipynb")
    nbsql.load(folder, tmp_path / "one.db")
    assert " · 1 cell · " in get(make_datasette(tmp_path / "one.db"), "/-/nbsql/notebooks/1").text


def _ids(conn) -> dict[str, int]:
    return dict(conn.execute("SELECT path, id FROM notebooks").fetchall())


def test_column_documentation_is_one_click_away(explorer):
    datasette, conn = explorer
    page = get(datasette, "/explorer/notebooks").text
    docs = re.search(r'<details class="nbsql-column-docs">(.*?)</details>', page, re.S)
    columns = [row[1] for row in conn.execute("PRAGMA table_info(notebooks)")]
    assert docs and f"What each of the {len(columns)} columns holds" in docs.group(1)
    assert re.findall(r"<dt>(\w+)</dt>", docs.group(1)) == columns
    assert page.count('<dl class="column-descriptions">') == 1  # only inside the collapsed details
    assert 'data-column-description="Path relative to the load root' in page  # headers keep their description


def test_positions_lead_to_the_cell_on_the_notebook_page(explorer):
    datasette, conn = explorer
    ids = _ids(conn)
    first = ids["first.ipynb"]
    cells = get(datasette, f"/explorer/cells?notebook={first}").text
    for position in range(3):
        assert f'href="/-/nbsql/notebooks/{first}?database=explorer#cell-{position}">{position}</a>' in cells
    findings = get(datasette, "/explorer/findings?rule=NB116").text
    assert re.search(rf'href="/-/nbsql/notebooks/{first}\?database=explorer#cell-1">1</a>', findings)
    canned = get(datasette, "/explorer/search_cells?q=total_3").text
    assert re.search(r'href="/-/nbsql/notebooks/\d+\?database=explorer#cell-[12]">[12]</a>', canned)


def test_rule_links_go_to_the_rule_pages(explorer):
    datasette, conn = explorer
    first = _ids(conn)["first.ipynb"]
    findings = get(datasette, "/explorer/findings?rule=NB116").text
    assert '<a href="/-/nbsql/rules/NB116?database=explorer">duplicate-across-notebooks</a>' in findings
    assert "/explorer/rules/NB116" not in findings
    notebook = get(datasette, f"/-/nbsql/notebooks/{first}").text
    assert 'href="/-/nbsql/rules/NB116?database=explorer"' in notebook and "/explorer/rules/" not in notebook
    by_rule = get(datasette, "/explorer/findings_by_rule").text
    assert '<a href="/-/nbsql/rules/NB116?database=explorer">NB116</a>' in by_rule
    rules = get(datasette, "/explorer/rules").text
    assert 'href="/-/nbsql/rules/NB116?database=explorer">duplicate-across-notebooks</a>' in rules


def test_the_example_notebook_of_nb116_is_a_link_to_its_copy(explorer):
    datasette, conn = explorer
    ids = _ids(conn)
    link = f'e.g. <a href="/-/nbsql/notebooks/{ids["second.ipynb"]}?database=explorer#cell-2">second.ipynb</a>'
    assert link in get(datasette, "/explorer/findings?rule=NB116").text
    assert link in get(datasette, f"/-/nbsql/notebooks/{ids['first.ipynb']}").text


def test_row_pages_link_foreign_keys(explorer):
    datasette, conn = explorer
    finding = conn.execute("SELECT id, notebook, cell, position FROM findings WHERE rule = 'NB116' "
                           "ORDER BY id LIMIT 1").fetchone()
    page = get(datasette, f"/explorer/findings/{finding['id']}").text
    notebook = f'/-/nbsql/notebooks/{finding["notebook"]}?database=explorer'
    assert f'<a href="{notebook}">{finding["notebook"]}</a>' in page
    assert f'<a href="/explorer/cells/{finding["cell"]}">{finding["cell"]}</a>' in page
    assert f'<a href="{notebook}#cell-{finding["position"]}">{finding["position"]}</a>' in page
    assert 'href="/-/nbsql/rules/NB116?database=explorer">NB116</a>' in page
    output = conn.execute("SELECT id, cell FROM outputs LIMIT 1").fetchone()
    if output is not None:
        page = get(datasette, f"/explorer/outputs/{output['id']}").text
        assert f'<a href="/explorer/cells/{output["cell"]}">' in page
    cell = get(datasette, f"/explorer/cells/{finding['cell']}").text
    assert f'<a href="{notebook}">{finding["notebook"]}</a>' in cell


def test_a_table_page_shows_the_start_of_a_long_cell_and_its_row_page_all_of_it(explorer):
    datasette, conn = explorer
    first = _ids(conn)["first.ipynb"]
    cell = conn.execute("SELECT id FROM cells WHERE notebook = ? AND position = 2", [first]).fetchone()[0]
    table = get(datasette, f"/explorer/cells?notebook={first}").text
    assert f'href="/-/nbsql/notebooks/{first}?database=explorer#cell-2">… 15 more lines</a>' in table
    assert f"line_{TABLE_LINES - 1}" in table and f"line_{TABLE_LINES}<" not in table.replace("</span>", "<")
    row = get(datasette, f"/explorer/cells/{cell}").text
    assert "more lines" not in row and f"line_{TABLE_LINES + 14}" in row


def test_rule_pages(explorer):
    datasette, conn = explorer
    rules = get(datasette, "/-/nbsql/rules")
    assert rules.status_code == 200 and "script-src 'none'" in rules.headers["content-security-policy"]
    codes = [row[0] for row in conn.execute("SELECT code FROM rules ORDER BY code")]
    assert re.findall(r'<td><a href="/-/nbsql/rules/(NB\d{3})\?database=explorer">\1</a>', rules.text) == codes
    page = get(datasette, "/-/nbsql/rules/NB102")
    assert page.status_code == 200 and "script-src 'none'" in page.headers["content-security-policy"]
    text = page.text
    for heading in ("What it does", "Why is this bad?", "Example", "Use instead"):
        assert f"<h2>{heading}</h2>" in text
    assert re.search(r'<pre class="nbsql-code"><span class="n">df</span>', text), "the example is not highlighted"
    assert "```" not in text and "## What it does" not in text
    assert get(datasette, "/-/nbsql/rules/undefined-name").text.count("<h2>") == text.count("<h2>")
    nb116 = get(datasette, "/-/nbsql/rules/NB116").text
    assert "<code>min_lines</code> = 5" in nb116 and "first.ipynb" in nb116
    for missing in ("NB999", "%3Cscript%3E", "NB001%2F"):
        assert get(datasette, f"/-/nbsql/rules/{missing}").status_code == 404, missing


def test_every_nbsql_page_links_to_the_others(explorer):
    datasette, conn = explorer
    first = _ids(conn)["first.ipynb"]
    for path in ("/", "/explorer", "/explorer/notebooks", "/explorer/cells/1", "/explorer/search_cells?q=x",
                 "/-/nbsql/rules", "/-/nbsql/rules/NB001", "/-/nbsql/gallery", "/-/nbsql/search",
                 f"/-/nbsql/notebooks/{first}"):
        nav = re.search(r'<nav class="nbsql-nav".*?</nav>', get(datasette, path).text, re.S)
        assert nav, path
        for page, label in (("", "Dashboard"), ("search", "Search"), ("gallery", "Image gallery"),
                            ("rules", "Rules")):
            assert f'href="/-/nbsql/{page}?database=explorer"' in nav.group() and f">{label}</a>" in nav.group(), path


def test_the_notebook_page_renders_math_and_lists(explorer):
    datasette, conn = explorer
    page = get(datasette, f"/-/nbsql/notebooks/{_ids(conn)['first.ipynb']}").text
    cell = page.split('id="cell-0"', 1)[1].split('id="cell-1"', 1)[0]
    assert '<math xmlns="http://www.w3.org/1998/Math/MathML" display="inline"><mrow><msub><mi>x</mi>' in cell
    assert 'display="block"' in cell and "<mfrac>" in cell and "$x_i" not in cell
    assert "<ul>" in cell and "<ol>" in cell and "costs $5 and $10." in cell


@pytest.mark.parametrize("tex", [r"\text{<script>alert(1)</script>}", r"\href{javascript:alert(1)}{x}",
                                 r"\text{<img src=x onerror=alert(1)>}", r"\style{color:red}{x}"])
def test_math_never_carries_script(tex):
    rendered = render.markdown(f"${tex}$ and $$\n{tex}\n$$")
    lowered = html.unescape(rendered).lower()
    assert "<script" not in rendered and "javascript:" not in lowered and "onerror" not in rendered
    assert "<math" in rendered or 'class="nbsql-tex"' in rendered


def test_mathml_in_a_notebooks_html_is_sanitised():
    payload = ('<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style></mglyph></table>'
               '</mtext><annotation-xml encoding="text/html"><script>alert(2)</script></annotation-xml>'
               '<mi href="javascript:alert(3)" style="background:url(http://127.0.0.1/)">x</mi></math>')
    for rendered in (render.sanitize(payload), render.markdown(payload)):
        for forbidden in ("<script", "onerror", "<style", "annotation-xml", "javascript:", "http://127.0.0.1"):
            assert forbidden not in rendered, (forbidden, rendered)
        assert "<mi>x</mi>" in rendered


def test_latex_outputs_are_mathml():
    assert render.latex(r"$\displaystyle x^{2}$").count("<math") == 1
    assert "<mfrac>" in render.latex("$$\\frac{1}{2}$$")


def test_a_query_string_cannot_smuggle_markup_into_a_rule_page(explorer):
    datasette, _ = explorer
    page = get(datasette, "/-/nbsql/rules/NB001?database=" + urllib.parse.quote('"><script>alert(1)</script>'))
    assert page.status_code == 404 and "<script>alert(1)" not in page.text


def test_the_dashboard_shows_the_corpus_at_a_glance(samples_db):
    datasette = make_datasette(samples_db)
    response = get(datasette, "/-/nbsql/")
    assert response.status_code == 200 and "script-src 'none'" in response.headers["content-security-policy"]
    page = response.text
    assert get(datasette, "/-/nbsql").status_code == 200
    with sqlite3.connect(samples_db) as conn:
        notebooks = conn.execute("SELECT count(*) FROM notebooks").fetchone()[0]
        scores = [row[0] for row in conn.execute("SELECT score FROM notebook_health")]
        top_rule, top_count = conn.execute("SELECT rule, count(*) FROM findings GROUP BY rule "
                                           "ORDER BY 2 DESC, 1 LIMIT 1").fetchone()
        package = conn.execute("SELECT package FROM imports WHERE NOT is_stdlib AND package IS NOT NULL AND kind "
                               "NOT IN ('pip', 'conda') GROUP BY package ORDER BY count(DISTINCT notebook) DESC, "
                               "package LIMIT 1").fetchone()[0]
        largest = conn.execute("SELECT id, path, size FROM notebooks ORDER BY size DESC LIMIT 1").fetchone()
        backwards = {row[0] for row in conn.execute("SELECT notebook FROM findings WHERE rule = 'NB001'")}
    histogram = [int(n) for n in re.findall(r'<span class="nbsql-count">([\d,]+)</span>', page)]
    assert histogram == [sum(1 for s in scores if min(s // 10, 9) == b) for b in range(10)]
    assert f'<a href="/-/nbsql/rules/{top_rule}?database=samples">{top_rule}</a>' in page
    assert f"{top_count:,} findings" in page
    assert f'href="/samples/notebooks_importing?package={package}">{package}</a>' in page
    assert f'<a href="/-/nbsql/notebooks/{largest[0]}?database=samples">{html.escape(largest[1])}</a>' in page
    orders = dict(re.findall(r'<tr class="nbsql-order-(\w+)">.*?<span class="nbsql-value">([\d,]+) ', page, re.S))
    assert set(orders) == {"in_order", "skips", "out_of_order", "never_executed", "empty"}
    assert sum(int(v.replace(",", "")) for v in orders.values()) == notebooks
    assert int(orders["out_of_order"]) == len(backwards) > 0  # the same notebooks NB001 finds
    assert 'style="height: 100.0%"' in page and 'style="width: 100.0%"' in page  # bars scaled to the largest
