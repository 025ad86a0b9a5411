"""The plugin's own pages: a whole notebook with its findings, an image gallery, image bytes."""

from __future__ import annotations

import json
import re
from functools import wraps
from urllib.parse import urlencode

from datasette.database import Database, QueryInterrupted
from datasette.utils.asgi import NotFound, Response
from markupsafe import Markup

from ..database import NbsqlError
from ..errors import TimeLimitReached
from ..read import is_integer
from ..search import Filters
from . import render
from .links import duplicate_example, image_src, notebook_url, rule_url
from .recognise import nbsql_database
from .runs import latest_run
from .slices import cell_needs, slice_download

#: Our pages run no script at all; images only from this server or data: URLs.
CSP = ("default-src 'none'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
       "script-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
_SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                     "Referrer-Policy": "no-referrer"}


async def _database(datasette, request) -> Database:
    """The nbsql database named by ``?database=``, else the first nbsql database served."""
    db = await nbsql_database(datasette, request.args.get("database"))
    if db is None:
        raise NotFound("no nbsql database here")
    return db


def _render_output(output: dict, bundle: list[dict], src) -> Markup:
    if output["output_type"] == "stream":
        css = "nbsql-stderr" if output["stream_name"] == "stderr" else "nbsql-stream"
        return render.preformatted(output["text"] or "", css)
    if output["output_type"] == "error":
        return render.preformatted(output["traceback_text"] or output["text"] or "", "nbsql-error")
    by_mime = {d["mime"]: d for d in bundle}
    for mime in render.BUNDLE_ORDER:
        entry = by_mime.get(mime)
        if entry is None:
            continue
        if (mime in render.RASTER_MIMES and entry["has_data"]) or (mime == "image/svg+xml" and entry["text"]):
            return render.linked_image(src(entry["id"]), f"output of cell {output['cell_position']}")
        if mime == "text/html" and entry["text"]:
            return Markup('<div class="nbsql-html">') + render.sanitize(entry["text"]) + Markup("</div>")
        if mime == "text/markdown" and entry["text"]:
            return render.markdown(entry["text"])
        if mime == "text/latex" and entry["text"]:
            return render.latex(entry["text"])
        if entry["text"]:
            return render.preformatted(entry["text"])
    return render.preformatted(output["text"] or "")


#: A row id as SQLite stores it: ASCII decimal digits without leading zeros, at most 19 of them.
_ROW_ID = re.compile(r"0|[1-9][0-9]{0,18}")


def _row_id(request) -> int | None:
    """The row id in the URL, or None when it is not one (signed, decimal, other digits, too long:
    checked on the text, since int() refuses more than 4,300 digits)."""
    text = request.url_vars["id"]
    if not _ROW_ID.fullmatch(text):
        return None
    row_id = int(text)
    return row_id if is_integer(row_id) else None


async def _error_page(datasette, request, status: int, message: str) -> Response:
    """Datasette's error page, sent as it is: raising NotFound for a path with '%' in it would
    make Datasette redirect to a tilde-encoded path first."""
    context = {"ok": False, "error": message, "status": status, "title": None}
    page = await datasette.render_template([f"{status}.html", "error.html"], context, request=request)
    return Response.html(page, status=status, headers=_SECURITY_HEADERS)


def _time_limited(page):
    """A page past Datasette's time limit (``sql_time_limit_ms``) says so (400) rather than failing (500)."""
    @wraps(page)
    async def answer(request, datasette):
        try:
            return await page(request, datasette)
        except QueryInterrupted:
            return await _error_page(datasette, request, 400, _too_long(datasette))

    return answer


def _too_long(datasette) -> str:
    return f"This page took longer than the time limit of {datasette.setting('sql_time_limit_ms')} ms."


@_time_limited
async def notebook_page(request, datasette):
    """``/-/nbsql/notebooks/<id>``: the notebook top to bottom, findings beside their cells."""
    notebook_id = _row_id(request)
    if notebook_id is None:
        return await _error_page(datasette, request, 404, "No such notebook")
    db = await _database(datasette, request)
    notebook = (await db.execute("SELECT * FROM notebooks WHERE id = ?", [notebook_id])).first()
    if notebook is None:
        return await _error_page(datasette, request, 404, "No such notebook")
    cells = (await db.execute("SELECT id, position, cell_type, source, execution_count, cell_id, attachments "
                              "FROM cells WHERE notebook = ? ORDER BY position", [notebook_id])).rows
    outputs = (await db.execute("SELECT o.*, c.position AS cell_position FROM outputs o JOIN cells c ON c.id = o.cell "
                                "WHERE o.notebook = ? ORDER BY c.position, o.position", [notebook_id])).rows
    data = (await db.execute("SELECT id, output, mime, text, data IS NOT NULL AS has_data FROM output_data "
                             "WHERE notebook = ?", [notebook_id])).rows  # images are fetched by the browser
    findings = (await db.execute("SELECT f.*, r.slug FROM findings f LEFT JOIN rules r ON r.code = f.rule "
                                 "WHERE f.notebook = ? ORDER BY f.position, f.line, f.rule", [notebook_id])).rows
    bundles: dict[int, list[dict]] = {}
    for row in data:
        bundles.setdefault(row["output"], []).append(dict(row))
    outputs_by_cell: dict[int, list] = {}
    for output in outputs:
        outputs_by_cell.setdefault(output["cell"], []).append(output)
    findings_by_cell: dict[int | None, list] = {}
    for finding in findings:
        shown = {**dict(finding), "rule_url": rule_url(datasette, db.name, finding["rule"])}
        if finding["rule"] == "NB116":
            shown["message"] = await duplicate_example(datasette, db, finding["message"], finding["details"]) \
                or finding["message"]
        findings_by_cell.setdefault(finding["position"], []).append(shown)
    language = notebook["language"]
    needs = await cell_needs(datasette, db, dict(notebook))
    run = await latest_run(db, dict(notebook))

    rendered = []
    for cell in cells:
        if cell["cell_type"] == "markdown":
            attachments = json.loads(cell["attachments"]) if cell["attachments"] else None
            body = render.markdown(cell["source"] or "", attachments)
        elif cell["cell_type"] == "code":
            body = render.code(cell["source"] or "", language)
        else:
            body = render.preformatted(cell["source"] or "", "nbsql-raw")
        rendered.append({
            "position": cell["position"], "cell_type": cell["cell_type"], "cell_id": cell["cell_id"],
            "execution_count": cell["execution_count"], "body": body,
            "outputs": [_render_output(dict(o), bundles.get(o["id"], []),
                                       lambda data_id: image_src(datasette, db.name, data_id))
                        for o in outputs_by_cell.get(cell["id"], [])],
            "findings": findings_by_cell.get(cell["position"], []),
            "slice": needs.get(cell["position"]),
            "run": run["cells"].get(cell["position"]),
        })
    context = {"notebook": dict(notebook), "cells": rendered, "notebook_findings": findings_by_cell.get(None, []),
               "database": db.name, "counts": _severity_counts(findings), "run": run}
    page = await datasette.render_template("nbsql_notebook.html", context, request=request)
    return Response.html(page, headers=_SECURITY_HEADERS)


def _severity_counts(findings) -> dict[str, int]:
    counts = {"error": 0, "warning": 0, "info": 0}
    for finding in findings:
        counts[finding["severity"]] = counts.get(finding["severity"], 0) + 1
    return counts


#: Cells of images on a page of the gallery.
GALLERY_PAGE = 60
_PAGE = re.compile(r"[1-9][0-9]{0,4}")


def page_number(args) -> int:
    """The ``page`` of a query string: 1 unless it is a number from 1 to 99999."""
    text = args.get("page", "")
    return int(text) if _PAGE.fullmatch(text) else 1


def gallery_limit(args) -> int:
    """The ``limit`` of a query string: cells on a page of the gallery, from 1 to 500."""
    text = args.get("limit", "")
    return max(1, min(int(text), 500)) if re.fullmatch(r"[0-9]{1,9}", text) else GALLERY_PAGE  # ASCII: '²' is a digit


def link_to(request, **changes) -> str:
    """This page's address with some query string fields changed (None: left out)."""
    args = {key: request.args.get(key) for key in request.args.keys() if key not in changes}
    args.update({key: str(value) for key, value in changes.items() if value is not None})
    return "?" + urlencode(args)


#: The gallery's orders, as its form offers them (reports.gallery.GALLERY_SORTS).
GALLERY_ORDERS = {"path": "notebook path", "size": "largest images first", "images": "most images first"}


def gallery_sort(args) -> str:
    """The ``sort`` of a query string: one of :data:`GALLERY_ORDERS`, else ``path``."""
    sort = args.get("sort", "")
    return sort if sort in GALLERY_ORDERS else "path"


@_time_limited
async def gallery_page(request, datasette):
    """``/-/nbsql/gallery?q=&path=&sort=&page=``: the images of many notebooks, each linking to its
    cell: those of the cells that match ``q`` or follow matching markdown (as ``nbsql gallery``
    finds them), or all of them, fetched from the image route (SVG too: never inlined). A query
    that cannot be searched, or past the time limit, is a message above the form (400)."""
    from ..reports.gallery import GALLERY_IMAGE, gallery_cells, gallery_totals, showing

    db = await _database(datasette, request)
    term, path = request.args.get("q", "").strip(), request.args.get("path", "").strip()
    limit, page, sort = gallery_limit(request.args), page_number(request.args), gallery_sort(request.args)
    timeout = datasette.setting("sql_time_limit_ms") / 1000

    def gallery(conn):
        every = gallery_cells(conn, term, Filters(path=path or None), timeout, sort)
        cells = every[(page - 1) * limit:page * limit]
        marks = ", ".join("?" * len(cells))
        rows = conn.execute(f"SELECT d.cell, d.id FROM output_data d WHERE d.cell IN ({marks}) AND {GALLERY_IMAGE} "
                            "ORDER BY d.id", [g.cell for g in cells]).fetchall()
        return every, cells, rows

    every, cells, rows, error = [], [], [], None
    try:
        every, cells, rows = await db.execute_fn(gallery)
    except TimeLimitReached:
        error = _too_long(datasette) + " Narrow the search."
    except NbsqlError as exc:
        error = f"Not searched: {exc}."
    by_cell: dict[int, list[int]] = {}
    for cell, image_id in rows:
        by_cell.setdefault(cell, []).append(image_id)
    images = [{"tag": render.linked_image(image_src(datasette, db.name, image_id), f"image from {g.path}"),
               "path": g.path, "position": g.position, "url": notebook_url(datasette, db.name, g.notebook, g.position)}
              for g in cells for image_id in by_cell.get(g.cell, [])]
    last = max(1, -(-len(every) // limit))
    summary = f"{gallery_totals(every)}; {showing((page - 1) * limit, len(cells))}" if every else "No image matches"
    context = {"images": images, "q": term, "path": path, "database": db.name, "error": error, "summary": summary,
               "sort": sort, "orders": GALLERY_ORDERS,
               "report": datasette.urls.path("/-/nbsql/gallery.ipynb") + link_to(request),
               "previous": link_to(request, page=page - 1) if page > 1 else None,
               "next": link_to(request, page=page + 1) if page < last else None}
    html = await datasette.render_template("nbsql_gallery.html", context, request=request)
    return Response.html(html, status=400 if error else 200, headers=_SECURITY_HEADERS)


#: A cell position in a URL: ASCII decimal digits without leading zeros.
_POSITION = re.compile(r"0|[1-9][0-9]{0,8}")


@_time_limited
async def slice_route(request, datasette):
    """``/-/nbsql/notebooks/<id>/slice/<position>.ipynb``: a code cell's slice (the cells it needs,
    then the cell) as a notebook to download; a 404 says why a cell has none."""
    notebook_id = _row_id(request)
    position = request.url_vars["position"]
    if notebook_id is None or not _POSITION.fullmatch(position):
        return await _error_page(datasette, request, 404, "No such cell")
    db = await _database(datasette, request)
    found = await slice_download(db, notebook_id, int(position))
    if isinstance(found, str):
        return await _error_page(datasette, request, 404, found)
    filename, text = found
    headers = {**_SECURITY_HEADERS, "Content-Security-Policy": "default-src 'none'; sandbox",
               "Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(text, content_type="application/x-ipynb+json; charset=utf-8", headers=headers)


#: Image types the image route serves: rasters, and SVG (as an image only, see image_route).
IMAGE_MIMES = (*render.RASTER_MIMES, "image/svg+xml")


@_time_limited
async def image_route(request, datasette):
    """``/-/nbsql/images/<id>``: an output image's bytes, for ``<img>`` elements. An SVG may carry
    script, which browsers never run in an image; opened on its own it is a download (attachment)
    under a policy that runs nothing (sandbox, no script, no fetch), never a document."""
    image_id = _row_id(request)
    if image_id is None:
        return await _error_page(datasette, request, 404, "No such image")
    db = await _database(datasette, request)
    row = (await db.execute("SELECT mime, data, CASE WHEN mime = 'image/svg+xml' THEN text END AS svg "
                            "FROM output_data WHERE id = ? AND invalid_base64 = 0", [image_id])).first()
    body = None if row is None else row["data"] if row["mime"] in render.RASTER_MIMES else \
        row["svg"].encode("utf-8", "surrogatepass") if row["mime"] == "image/svg+xml" and row["svg"] else None
    if body is None:
        return await _error_page(datasette, request, 404, "No such image")
    headers = {**_SECURITY_HEADERS, "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
               "Cache-Control": "max-age=3600"}
    if row["mime"] == "image/svg+xml":
        headers["Content-Disposition"] = f'attachment; filename="image-{image_id}.svg"'
    return Response(body, content_type=row["mime"], headers=headers)


async def pygments_css_route(request, datasette):
    return Response(render.pygments_css(), content_type="text/css", headers={"Cache-Control": "max-age=3600"})
