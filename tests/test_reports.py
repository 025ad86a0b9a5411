"""Search and gallery reports: valid notebooks that carry each cell with its saved outputs and
where it comes from; nothing is run to make them."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import sqlite3

import nbformat
import pytest
from click.testing import CliRunner

import nbsql
from nbsql import NbsqlError
from nbsql.cli import cli
from nbsql.reports import ReportOptions, gallery_report, search_report, write_report
from nbsql.reports.build import code_span, escape
from nbsql.search import Filters, search_connection

from .conftest import SAMPLES


def read_report(path) -> nbformat.NotebookNode:
    report = nbformat.read(path, as_version=4)
    nbformat.validate(report)
    assert (report.nbformat, report.nbformat_minor) == (4, 5)
    return report


def stored(conn: sqlite3.Connection, notebook: int, position: int) -> tuple[str, int | None, list]:
    """A cell's source, execution count and image bytes as the database holds them."""
    cell, source, count = conn.execute("SELECT id, source, execution_count FROM cells WHERE notebook = ? AND "
                                       "position = ?", (notebook, position)).fetchone()
    images = [data for (data,) in conn.execute("SELECT data FROM output_data WHERE cell = ? AND data IS NOT NULL "
                                               "AND mime GLOB 'image/*' ORDER BY id", (cell,))]
    return source, count, images


def report_images(cell) -> list[bytes]:
    return [base64.b64decode(value) for output in cell.get("outputs", []) for mime, value in
            output.get("data", {}).items() if mime.startswith("image/") and mime != "image/svg+xml"]


def test_a_search_report_holds_each_result_with_its_outputs_and_provenance(corpus_db, tmp_path):
    out = tmp_path / "report.ipynb"
    result = CliRunner().invoke(cli, ["search", "plt.show", "--has-image", "--db", str(corpus_db), "-n", "40",
                                      "--report", str(out)])
    assert result.exit_code == 0 and result.output.endswith(f"showing 40.\nReport written to {out}.\n")
    report = read_report(out)
    title, *rest = report.cells
    assert "`` plt.show ``" in title.source or "` plt.show `" in title.source
    assert "cells in" in title.source and "nothing was run" in title.source
    assert len(rest) == 80
    with sqlite3.connect(corpus_db) as conn:
        hits = search_connection(conn, "plt.show", filters=Filters(has_image=True), limit=40).hits
        for hit, (where, cell) in zip(hits, zip(rest[::2], rest[1::2], strict=True), strict=True):
            assert where.cell_type == "markdown" and f"cell {hit.position}" in where.source
            assert f"/-/nbsql/notebooks/{hit.notebook}#cell-{hit.position}" in where.source
            source, count, images = stored(conn, hit.notebook, hit.position)
            assert (cell.source, cell.execution_count) == (source, count)
            assert report_images(cell) == images and images
    assert len({cell.id for cell in report.cells}) == len(report.cells)


def test_a_report_of_many_real_cells_is_valid(corpus_db):
    """Every kind of saved output the corpus holds goes back into a valid notebook."""
    with sqlite3.connect(corpus_db) as conn:
        for query, filters in (("", Filters(has_error=True)), ("", Filters(has_image=True)), ("display", Filters())):
            results = search_connection(conn, query, filters=filters, limit=300)
            report = nbformat.from_dict(search_report(conn, results))
            nbformat.validate(report)
            assert len(report.cells) == 1 + 2 * len(results.hits)


def test_the_gallery_report_pulls_the_charts_out(corpus_db, tmp_path):
    out = tmp_path / "gallery.ipynb"
    result = CliRunner().invoke(cli, ["gallery", "accuracy", "--db", str(corpus_db), "--report", str(out)])
    assert result.exit_code == 0 and "report written" in result.output
    report = read_report(out)
    charts = [cell for cell in report.cells if cell.cell_type == "code"]
    assert charts and all(cell.outputs and all(
        any(mime.startswith("image/") for mime in output.get("data", {})) for output in cell.outputs)
        for cell in charts)
    assert any("markdown above it matches" in cell.source for cell in report.cells if cell.cell_type == "markdown")
    with sqlite3.connect(corpus_db) as conn:
        _, every = gallery_report(conn, "accuracy")
    listed = CliRunner().invoke(cli, ["gallery", "accuracy", "--db", str(corpus_db)]).output
    assert len(listed.splitlines()) == len(every) + 1 and listed.endswith(f"showing {len(every)} cells.\n")


def test_hostile_text_stays_text(tmp_path):
    assert escape("<script>alert(1)</script> *x* [a](b)") == \
        "&lt;script&gt;alert(1)&lt;/script&gt; \\*x\\* \\[a\\](b)"
    assert code_span("a ``b`` c") == "``` a ``b`` c ```"
    notebook = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "markdown", "id": "t", "metadata": {}, "source": "# <img src=x onerror=alert(1)> *t*"},
        {"cell_type": "code", "id": "c", "metadata": {}, "execution_count": 1, "source": "needle = 1",
         "outputs": [{"output_type": "display_data", "metadata": {},
                      "data": {"text/html": "<script>alert(1)</script>"}}]}]}
    (tmp_path / "<img src=x>.ipynb").write_text(json.dumps(notebook))
    nbsql.load(tmp_path / "<img src=x>.ipynb", tmp_path / "x.db")
    with sqlite3.connect(tmp_path / "x.db") as conn:
        report = search_report(conn, search_connection(conn, "needle"))
    _, where, cell = report["cells"]
    assert "<img" not in where["source"] and "**&lt;img src=x&gt;.ipynb**" in where["source"]
    assert "*\\*t\\**" in where["source"]
    assert cell["outputs"][0]["data"]["text/html"] == "<script>alert(1)</script>"  # as saved: Jupyter sanitises


def test_a_report_that_cannot_be_written_is_one_line(samples_db, tmp_path):
    target = tmp_path / "missing" / "r.ipynb"
    result = CliRunner().invoke(cli, ["search", "import", "--db", str(samples_db), "--report", str(target)])
    assert result.exit_code == 2 and result.output == f"Error: cannot write the report {target}: there is no " \
        f"folder {target.parent}\n"
    for command in ("search", "gallery"):
        result = CliRunner().invoke(cli, [command, "import", "--db", str(samples_db), "--report", str(tmp_path)])
        assert result.exit_code == 2 and result.output == f"Error: cannot write the report {tmp_path}: it is a " \
            f"folder; name a file, such as {tmp_path / 'report.ipynb'}\n"
    (tmp_path / "locked").mkdir(mode=0o500)
    result = CliRunner().invoke(cli, ["search", "import", "--db", str(samples_db), "--report",
                                      str(tmp_path / "locked" / "r.ipynb")])
    if os.geteuid() != 0:  # root writes anywhere
        assert result.exit_code == 2 and result.output == f"Error: cannot write the report " \
            f"{tmp_path / 'locked' / 'r.ipynb'}: Permission denied\n"
    with sqlite3.connect(samples_db) as conn, pytest.raises(NbsqlError, match="cannot write the report"):
        write_report(search_report(conn, search_connection(conn, "import")), tmp_path / "missing" / "r.ipynb")
    assert not list(tmp_path.glob(".*.tmp"))


def test_no_hit_writes_no_report(samples_db, tmp_path):
    out = tmp_path / "none.ipynb"
    result = CliRunner().invoke(cli, ["search", "zzzznotthere", "--db", str(samples_db), "--report", str(out)])
    assert result.exit_code == 1 and not out.exists() and result.output == "No cell matches.\nNo report written.\n"
    result = CliRunner().invoke(cli, ["search", "import", "--db", str(samples_db), "--runnable"])
    assert result.exit_code == 2 and "--runnable needs --report" in result.output


def test_a_runnable_report_runs_top_to_bottom_in_a_fresh_kernel(tmp_path):
    """Each result is preceded by the cells of its slice the report does not hold yet, marked as
    context; the report then runs in a real ipykernel, although its results come from the middle
    of their notebooks (without --runnable, it fails: their names are not defined)."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    db = tmp_path / "samples.db"
    nbsql.load(SAMPLES / "teaching", db)
    for runnable in (True, False):
        out = tmp_path / f"report-{runnable}.ipynb"
        options = ["--runnable"] if runnable else []
        result = CliRunner().invoke(cli, ["search", "most_common", "--path", "word_counts", "--type", "code",
                                          "--db", str(db), "--report", str(out), *options])
        assert result.exit_code == 0, result.output
        report = read_report(out)
        context = [cell for cell in report.cells if "nbsql-context" in cell.metadata.get("tags", [])]
        assert bool(context) is runnable
        client = NotebookClient(report, timeout=60, kernel_name="python3", resources={"metadata": {"path": tmp_path}})
        if runnable:
            client.execute()
            results = [cell for cell in report.cells if cell.id.startswith("result")]
            assert results and all(cell.outputs and cell.outputs[-1].output_type == "execute_result"
                                   for cell in results)
        else:
            with pytest.raises(CellExecutionError, match="NameError"):
                client.execute()


def test_a_runnable_report_reruns_a_slice_after_another_notebooks_cells(tmp_path):
    """Two notebooks bind the same name to different things: each result runs after its own slice,
    again when another notebook's cells ran in between (they took the other's value)."""
    from nbclient import NotebookClient

    def code(source: str) -> dict:
        return {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": source}

    sources = {"a.ipynb": ["x = [1, 2, 3]", "total = sum(x) + 1\ntotal", "total = sum(x) * 2\ntotal"],
               "b.ipynb": ["x = 'abc'", "total = x.upper() + 'total'\ntotal"]}
    for name, cells in sources.items():
        notebook = {"nbformat": 4, "nbformat_minor": 4, "metadata": {"kernelspec": {
            "name": "python3", "display_name": "Python 3", "language": "python"}}, "cells": [code(c) for c in cells]}
        (tmp_path / name).write_text(json.dumps(notebook))
    nbsql.load(tmp_path, tmp_path / "t.db")
    with sqlite3.connect(tmp_path / "t.db") as conn:
        results = search_connection(conn, "total")
        order = sorted(results.hits, key=lambda hit: (hit.position, hit.path))  # a 1, b 1, a 2
        assert [(hit.path, hit.position) for hit in order] == [("a.ipynb", 1), ("b.ipynb", 1), ("a.ipynb", 2)]
        made = search_report(conn, dataclasses.replace(results, hits=order), ReportOptions(runnable=True))
    report = nbformat.from_dict(made)
    nbformat.validate(report)
    NotebookClient(report, timeout=60, kernel_name="python3", resources={"metadata": {"path": tmp_path}}).execute()
    shown = {cell.source: cell.outputs[-1]["data"]["text/plain"] for cell in report.cells
             if cell.id.startswith("result")}
    assert shown == {"total = sum(x) + 1\ntotal": "7", "total = sum(x) * 2\ntotal": "12",
                     "total = x.upper() + 'total'\ntotal": "'ABCtotal'"}
