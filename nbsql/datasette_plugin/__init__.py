"""Datasette plugin: notebook-aware cell rendering, a notebook page, an image gallery.

Registered through the ``datasette`` entry point, so a plain ``datasette notebooks.db`` gets it.
It acts only on nbsql databases (see :mod:`.recognise`): on any other database its hooks return
None and it adds nothing, no CSS, no header, no function. Hooks name only the arguments they use.
"""

from __future__ import annotations

import html
import json

from datasette import hookimpl
from markupsafe import Markup

from ..metadata import MARK_END, MARK_START
from ..search import match_query
from . import render
from .pages import gallery_page, image_route, notebook_page, pygments_css_route, slice_route
from .recognise import database_at, is_nbsql, judge, when_nbsql
from .search_page import gallery_report_route, search_page, search_report_route

_RASTER_MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF8", "image/gif"))


def _get(row, name: str):
    try:
        return row[name]
    except (KeyError, IndexError, TypeError):
        return None


def _raster_mime(data: bytes) -> str | None:
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return next((mime for magic, mime in _RASTER_MAGIC if data.startswith(magic)), None)


@hookimpl
def prepare_connection(conn):
    """The canned searches' ``nbsql_match``, on connections to nbsql databases, and to empty ones:
    Datasette keeps its connections, and a first load can make an empty file nbsql's."""
    ours, may_become = judge(conn)
    if ours or may_become:  # the text as an FTS5 query: its own syntax when valid, else its words
        conn.create_function("nbsql_match", 1, match_query, deterministic=True)


@hookimpl
def asgi_wrapper(datasette):
    return lambda app: _defence_in_depth(app, datasette)


def _defence_in_depth(app, datasette):
    """A baseline policy for nbsql's pages that have none (those of an nbsql database, and the
    plugin's own routes): no plugins or remote images, no <base> rewrites, no framing. Scripts are
    not restricted (Datasette's pages use inline ones): what keeps a notebook's script out is the
    sanitising; the plugin's own pages send a strict policy. Other requests pass untouched."""
    async def wrapped(scope, receive, send):
        if scope["type"] != "http" or not await _for_nbsql(datasette, scope):
            await app(scope, receive, send)
            return

        async def sending(message):
            headers = message.get("headers", [])
            if message["type"] == "http.response.start" and \
                    not any(name.lower() == b"content-security-policy" for name, _ in headers):
                message = {**message, "headers": [*headers, (b"content-security-policy", BASELINE_CSP.encode())]}
            await send(message)

        await app(scope, receive, sending)

    return wrapped


async def _for_nbsql(datasette, scope) -> bool:
    """Whether a request is for a page of an nbsql database or one of the plugin's routes (its path
    read as Datasette routes it: the raw path, after the base URL)."""
    raw = scope.get("raw_path")
    path = (raw.decode("latin-1") if raw else scope["path"]).partition("?")[0]
    base = datasette.setting("base_url")
    if base != "/" and path.startswith(base):
        path = "/" + path[len(base):]
    return path.startswith("/-/nbsql/") or await is_nbsql(database_at(datasette, path))


BASELINE_CSP = "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; img-src 'self' data:; form-action 'self'"


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    return when_nbsql(datasette, database, lambda: cell_html(row, value, column, table, database, datasette))


def cell_html(row, value, column, table: str | None, database: str, datasette) -> Markup | None:
    """A value of an nbsql database's table (``table``) or query result (None) as HTML, or None
    for values nbsql does not render."""
    if isinstance(value, bytes):
        mime = _raster_mime(value)  # any image BLOB of the database, in tables and in query results
        if mime is None:
            return None
        if table == "output_data" and _get(row, "id") is not None:  # fetched by the browser, not inlined
            src = datasette.urls.path(f"/-/nbsql/images/{_get(row, 'id')}?database={database}")
            href = datasette.urls.table(database, table) + f"/{_get(row, 'id')}.blob?_blob_column={column}"
            return render.linked_image(src, f"{mime} image", href)
        return render.image(mime, value, max_bytes=200_000)  # query results: small images inline
    if table is None and column == "notebook" and isinstance(value, int) and datasette is not None:
        return Markup(f'<a href="{datasette.urls.path("/-/nbsql/notebooks/")}{value}?database={html.escape(database)}">'
                      f"{value}</a>")  # canned queries name the notebook id this way
    if not isinstance(value, str):
        return None
    if table is None and column in ("source_snippet", "output_snippet"):
        escaped = html.escape(value).replace(MARK_START, "<mark>").replace(MARK_END, "</mark>")
        return Markup(f'<span class="nbsql-snippet">{escaped}</span>')
    if table == "notebooks" and column == "path" and _get(row, "id") is not None:
        return Markup(f'<a href="{datasette.urls.path("/-/nbsql/notebooks/")}{_get(row, "id")}'
                      f'?database={html.escape(database)}">{html.escape(value)}</a>')
    if table in ("cells", "code_cells") and column == "source":
        kind = _get(row, "cell_type") or ("code" if table == "code_cells" else None)
        if kind == "markdown":
            attachments = _get(row, "attachments")
            return render.markdown(value, json.loads(attachments) if attachments else None)
        if kind == "code":
            return render.code(value, _get(row, "language"))
        return None
    if table == "output_data" and column == "text":
        mime = _get(row, "mime") or ""
        if mime == "image/svg+xml":
            return render.image(mime, value.encode("utf-8", "surrogatepass"))
        if mime == "text/html":
            return render.sanitize(value)
        if mime == "text/markdown":
            return render.markdown(value)
        return None
    if table in ("outputs", "error_outputs") and column in ("traceback_text", "text"):
        return render.preformatted(value)
    return None


@hookimpl
def register_routes():
    return [
        (r"^/-/nbsql/notebooks/(?P<id>[^/]+)$", notebook_page),  # any id: the page answers 404 itself
        (r"^/-/nbsql/notebooks/(?P<id>[^/]+)/slice/(?P<position>[^/]+)\.ipynb$", slice_route),
        (r"^/-/nbsql/gallery$", gallery_page),
        (r"^/-/nbsql/search$", search_page),
        (r"^/-/nbsql/search\.ipynb$", search_report_route),
        (r"^/-/nbsql/gallery\.ipynb$", gallery_report_route),
        (r"^/-/nbsql/images/(?P<id>[^/]+)$", image_route),
        (r"^/-/nbsql/pygments\.css$", pygments_css_route),
    ]


@hookimpl
def menu_links(datasette, request):
    """The search page and the gallery in Datasette's menu when an nbsql database is served: on
    every page but those of another database."""
    async def links():
        here = database_at(datasette, request.path) if request is not None else None
        if here is not None and not await is_nbsql(here):
            return None
        for db in datasette.databases.values():
            if await is_nbsql(db):
                return [{"href": datasette.urls.path("/-/nbsql/search"), "label": "Search notebooks"},
                        {"href": datasette.urls.path("/-/nbsql/gallery"), "label": "Notebook images"}]
        return None

    return links


@hookimpl
def extra_css_urls(database, datasette):
    """nbsql's style sheets on the pages of an nbsql database (the plugin's pages name theirs)."""
    return when_nbsql(datasette, database, lambda: [datasette.urls.static_plugins("nbsql", "nbsql.css"),
                                                    datasette.urls.path("/-/nbsql/pygments.css")], otherwise=[])
