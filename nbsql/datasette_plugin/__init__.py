"""Datasette plugin: notebook-aware cell rendering, a notebook page, an image gallery.

Registered through the ``datasette`` entry point, so a plain ``datasette notebooks.db`` gets it.
Hooks name only the arguments they use and return None for values that are not theirs.
"""

from __future__ import annotations

import html
import json

from datasette import hookimpl
from markupsafe import Markup

from ..metadata import MARK_END, MARK_START
from ..search import match_query
from . import render
from .pages import gallery_page, image_route, notebook_page, pygments_css_route

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
    # the canned searches' text as an FTS5 query: its own syntax when valid, else its words
    conn.create_function("nbsql_match", 1, match_query, deterministic=True)


@hookimpl
def asgi_wrapper():
    return _defence_in_depth


def _defence_in_depth(app):
    """A baseline policy for every page that has none: no plugins or remote images, no <base>
    rewrites, no framing. Scripts are not restricted (Datasette's pages use inline ones): what
    keeps a notebook's script out is the sanitising; the plugin's own pages send a strict policy."""
    async def wrapped(scope, receive, send):
        async def sending(message):
            headers = message.get("headers", [])
            if message["type"] == "http.response.start" and \
                    not any(name.lower() == b"content-security-policy" for name, _ in headers):
                message = {**message, "headers": [*headers, (b"content-security-policy", BASELINE_CSP.encode())]}
            await send(message)

        await app(scope, receive, sending)

    return wrapped


BASELINE_CSP = "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; img-src 'self' data:; form-action 'self'"


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    if isinstance(value, bytes):
        mime = _raster_mime(value)  # any image BLOB, in tables and in query results
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
        (r"^/-/nbsql/gallery$", gallery_page),
        (r"^/-/nbsql/images/(?P<id>[^/]+)$", image_route),
        (r"^/-/nbsql/pygments\.css$", pygments_css_route),
    ]


@hookimpl
def extra_css_urls(datasette):
    return [datasette.urls.static_plugins("nbsql", "nbsql.css"), datasette.urls.path("/-/nbsql/pygments.css")]
