"""``/-/nbsql/search``: the search engine's page, each result shown as a code search engine shows
it; and the search and gallery reports as notebook downloads."""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from urllib.parse import urlencode

from datasette.utils.asgi import Response
from markupsafe import Markup

from ..errors import NbsqlError, TimeLimitReached
from ..reports.build import DEFAULT_LINK_BASE
from ..schema import health_score
from ..search import Filters, Hit, Results, search_connection, summary
from . import render
from .links import image_src, notebook_url
from .pages import (
    _SECURITY_HEADERS,
    _database,
    _time_limited,
    _too_long,
    gallery_limit,
    gallery_sort,
    link_to,
    page_number,
)

#: Results on a page.
PAGE_SIZE = 20
#: The query string's filter fields, and the library's names for them.
_TEXT_FILTERS = {"type": "cell_type", "path": "path", "tag": "tag", "language": "language", "imports": "imports",
                 "defines": "defines", "calls": "calls"}
_THUMBNAILS = 4
#: A markdown cell of fewer lines is shown rendered whole; a longer one by its lines around the match.
_WHOLE_MARKDOWN = 30
_HOST = re.compile(r"[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]{2,45}\](:[0-9]{1,5})?")


@dataclass(frozen=True)
class _Extra:
    """What a result shows besides its hit: the cell's whole source (markdown is rendered whole),
    the notebook's language, its findings by severity and health score (None when it was loaded
    without the checks), its images, the copies' source hash."""

    source: str
    language: str | None
    findings: dict[str, int]
    score: int | None
    images: list[int]
    source_hash: str | None


def filters_of(args) -> Filters:
    """The filters of a query string (unknown or empty fields are ignored; a ``type`` other than
    code, markdown or raw is an :class:`NbsqlError`)."""
    given = {name: args.get(field, "").strip() or None for field, name in _TEXT_FILTERS.items()}
    if given["cell_type"] not in (None, "code", "markdown", "raw"):
        raise NbsqlError(f"the cell type must be code, markdown or raw, not {given['cell_type']!r}")
    errors = {"yes": True, "no": False}.get(args.get("errors", ""))
    return Filters(**given, has_error=errors, has_image=True if args.get("has_image") else None)


def _run(conn: sqlite3.Connection, query: str, filters: Filters, regex: bool, page: int,
         timeout: float) -> tuple[Results, list[_Extra]]:
    results = search_connection(conn, query, filters=filters, regex=regex, limit=PAGE_SIZE,
                                offset=(page - 1) * PAGE_SIZE, timeout=timeout)
    extras = []
    for hit in results.hits:
        cell, source, source_hash, language, checked = conn.execute(
            "SELECT c.id, c.source, c.source_hash, n.language, n.checked_with FROM cells c JOIN notebooks n "
            "ON n.id = c.notebook WHERE c.notebook = ? AND c.position = ?", (hit.notebook, hit.position)).fetchone()
        findings = dict(conn.execute("SELECT severity, COUNT(*) FROM findings WHERE notebook = ? GROUP BY severity",
                                     (hit.notebook,)).fetchall())
        images = [row[0] for row in conn.execute(
            "SELECT id FROM output_data WHERE cell = ? AND data IS NOT NULL AND mime IN ('image/png', 'image/jpeg', "
            "'image/gif', 'image/webp') ORDER BY id LIMIT ?", (cell, _THUMBNAILS))]
        score = health_score(conn.execute("SELECT severity, count(*) FROM findings WHERE notebook = ? GROUP BY rule, "
                                          "severity", (hit.notebook,))) if checked is not None else None
        extras.append(_Extra(source or "", language, findings, score, images, source_hash))
    return results, extras


def _shown(hit: Hit, extra: _Extra) -> Markup:
    """The result's body: the code around the match, the markdown rendered, the output excerpt."""
    parts = []
    source = [line for line in hit.excerpt if line.where == "source"]
    marked = {hit.excerpt[i].number for i, _, _ in hit.highlights if hit.excerpt[i].where == "source"}
    if hit.cell_type == "markdown" and extra.source.count("\n") < _WHOLE_MARKDOWN:
        parts.append(Markup('<div class="nbsql-result-markdown">') + render.markdown(extra.source) + Markup("</div>"))
    elif hit.cell_type == "markdown" and source:
        parts.append(_marked(hit, "source", "nbsql-text"))
    elif source and hit.cell_type == "code":
        parts.append(render.code_excerpt([line.text for line in source], source[0].number, marked, extra.language))
    elif source:
        parts.append(_marked(hit, "source", "nbsql-raw"))
    if any(line.where == "outputs" for line in hit.excerpt):
        parts.append(_marked(hit, "outputs", "nbsql-stream"))
    return Markup("").join(parts)


def _marked(hit: Hit, where: str, css: str) -> Markup:
    indices = [i for i, line in enumerate(hit.excerpt) if line.where == where]
    marks: dict[int, list[tuple[int, int]]] = {}
    for i, start, end in hit.highlights:
        if i in indices:
            marks.setdefault(indices.index(i), []).append((start, end))
    return render.marked_text([hit.excerpt[i].text for i in indices], marks, css)


@_time_limited
async def search_page(request, datasette):
    """The form, the totals, a page of results and links to the other pages; a query that cannot
    be searched, or past the time limit, is a message above the form (400); nothing found, 404."""
    db = await _database(datasette, request)
    query, regex, page = request.args.get("q", ""), bool(request.args.get("regex")), page_number(request.args)
    results, extras, error = None, [], None
    try:
        filters = filters_of(request.args)
        if query.strip() or filters:
            timeout = datasette.setting("sql_time_limit_ms") / 1000
            results, extras = await db.execute_fn(lambda conn: _run(conn, query, filters, regex, page, timeout))
    except TimeLimitReached:
        filters, error = filters_of(request.args), _too_long(datasette) + " Narrow the search."
    except NbsqlError as exc:
        filters, error = Filters(), f"Not searched: {exc}."
    shown = []
    for hit, extra in zip(results.hits if results else [], extras, strict=True):
        images = [render.linked_image(image_src(datasette, db.name, image), f"output of cell {hit.position}")
                  for image in extra.images]
        shown.append({"hit": hit, "body": _shown(hit, extra), "images": images, "findings": extra.findings,
                      "score": extra.score,
                      "url": notebook_url(datasette, db.name, hit.notebook, hit.position),
                      "copies_url": datasette.urls.table(db.name, "cells") + "?" + urlencode(
                          [("source_hash", extra.source_hash), ("_col", "notebook"), ("_col", "position"),
                           ("_col", "cell_type")]) if extra.source_hash else None})
    pages = {}
    if results is not None:
        last = max(1, -(-results.total_results // PAGE_SIZE))
        pages = {"number": page, "last": last, "previous": link_to(request, page=page - 1) if page > 1 else None,
                 "next": link_to(request, page=page + 1) if page < last else None}
    context = {"q": query, "regex": regex, "filters": filters, "args": request.args, "database": db.name,
               "results": results, "summary": summary(results) if results else None, "shown": shown,
               "pages": pages, "error": error,
               "report": datasette.urls.path("/-/nbsql/search.ipynb") + link_to(request),
               "charts_report": datasette.urls.path("/-/nbsql/search.ipynb") + link_to(request, charts=1)}
    html = await datasette.render_template("nbsql_search.html", context, request=request)
    status = 400 if error else 404 if results is not None and not results.total_cells else 200
    return Response.html(html, status=status, headers=_SECURITY_HEADERS)


@_time_limited
async def search_report_route(request, datasette):
    """``/-/nbsql/search.ipynb``: the page's results as a report notebook (a download)."""
    from ..reports import ReportOptions, search_report

    db = await _database(datasette, request)
    query, regex, page = request.args.get("q", ""), bool(request.args.get("regex")), page_number(request.args)
    options, charts = ReportOptions(_link_base(request, datasette)), bool(request.args.get("charts"))
    timeout = datasette.setting("sql_time_limit_ms") / 1000

    def report(conn: sqlite3.Connection) -> dict:
        filters = filters_of(request.args)
        results = _run(conn, query, filters, regex, page, timeout)[0]
        return search_report(conn, results, options, filters.describe(), charts_only=charts)

    return await _download(db, report, "nbsql-charts.ipynb" if charts else "nbsql-search.ipynb")


@_time_limited
async def gallery_report_route(request, datasette):
    """``/-/nbsql/gallery.ipynb``: the charts whose cell or markdown matches, as a report notebook."""
    from ..reports import ReportOptions, gallery_report

    db = await _database(datasette, request)
    query, options = request.args.get("q", ""), ReportOptions(_link_base(request, datasette))
    limit, page, sort = gallery_limit(request.args), page_number(request.args), gallery_sort(request.args)
    timeout = datasette.setting("sql_time_limit_ms") / 1000
    return await _download(db, lambda conn: gallery_report(conn, query, filters_of(request.args), limit, options,
                                                           (page - 1) * limit, timeout, sort)[0],
                           "nbsql-gallery.ipynb")


async def _download(db, make, name: str) -> Response:
    try:
        report = await db.execute_fn(make)
    except NbsqlError as exc:
        return Response.text(f"Not searched: {exc}.", status=400, headers=_SECURITY_HEADERS)
    headers = {**_SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'}
    return Response(json.dumps(report, indent=1, ensure_ascii=False) + "\n", content_type="application/x-ipynb+json",
                    headers=headers)


def _link_base(request, datasette) -> str:
    """This server's address (with Datasette's base URL): where a report's links lead (the
    default address when the request's Host is not a plain host name and port)."""
    if request.scheme not in ("http", "https") or not _HOST.fullmatch(request.host or ""):
        return DEFAULT_LINK_BASE
    return f"{request.scheme}://{request.host}{datasette.urls.path('')}".rstrip("/")
