"""Values on Datasette's own pages of an nbsql database (tables, rows, canned queries) as HTML:
notebook content rendered safely, images, and links: to the notebook page at a cell, to rule
pages, to the rows that foreign keys name."""

from __future__ import annotations

import json
import re
from contextvars import ContextVar
from typing import Any

from datasette.utils import tilde_decode
from markupsafe import Markup

from .. import schema
from ..metadata import CANNED_QUERIES, MARK_END, MARK_START
from . import render
from .links import duplicate_example, image_src, link, notebook_url, rule_url

#: The path (after the base URL) of the page being answered, set by the plugin's ASGI wrapper: a
#: table page shows the start of long cells, a row page all of them.
PAGE_PATH: ContextVar[str] = ContextVar("nbsql_page_path", default="")
#: Lines of a cell's source a table page shows: longer cells made rows screens tall, and
#: highlighting them whole took most of the page's time.
TABLE_LINES = 20
_RASTER_MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF8", "image/gif"))
#: Each table's foreign keys: column -> the table it names.
_FOREIGN_KEYS = {t.name: {c.name: c.target[0] for c in t.columns if c.target} for t in schema.TABLES}
#: Columns of canned queries that hold a cell's position in the row's notebook.
_POSITIONS = ("cell", "defined_in")
_RULE_CODE = re.compile(r"NB[0-9]{3}")


def _get(row, name: str):
    try:
        return row[name]
    except (KeyError, IndexError, TypeError):
        return None


def _plain(value):
    """A value as stored: Datasette gives an expanded foreign key as {"value": ..., "label": ...}."""
    return value["value"] if isinstance(value, dict) else value


def _raster_mime(data: bytes) -> str | None:
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return next((mime for magic, mime in _RASTER_MAGIC if data.startswith(magic)), None)


def _page() -> tuple[str, ...]:
    """The segments of the page's path: (database, table) for a table page, three for a row page."""
    return tuple(tilde_decode(part) for part in PAGE_PATH.get().strip("/").split("/") if part)


def cell_html(row, value, column: str, table: str | None, database: str, datasette) -> Any:
    """A value of an nbsql database's table (``table``) or query result (None) as HTML (or an
    awaitable of it), or None for values nbsql leaves to Datasette."""
    if isinstance(value, bytes):
        return _blob(row, value, column, table, database, datasette)
    if table is None:
        return _query_value(row, value, column, database, datasette)
    if datasette is not None:
        linked = _linked(row, value, column, table, database, datasette)
        if linked is not None:
            return linked
    if not isinstance(value, str):
        return None
    if table in ("cells", "code_cells") and column == "source":
        return _source(row, value, table, database, datasette)
    if table == "output_data" and column == "text":
        mime = _get(row, "mime") or ""
        if mime == "image/svg+xml" and datasette is not None and _get(row, "id") is not None:
            return render.linked_image(image_src(datasette, database, row["id"]), "SVG image")
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


def _blob(row, value: bytes, column: str, table: str | None, database: str, datasette) -> Markup | None:
    mime = _raster_mime(value)  # any image BLOB of the database, in tables and in query results
    if mime is None:
        return None
    if table == "output_data" and _get(row, "id") is not None:  # fetched by the browser, not inlined
        href = datasette.urls.table(database, table) + f"/{_get(row, 'id')}.blob?_blob_column={column}"
        return render.linked_image(image_src(datasette, database, row["id"]), f"{mime} image", href)
    return render.image(mime, value, max_bytes=200_000)  # query results: small images inline


def _linked(row, value, column: str, table: str, database: str, datasette) -> Any:
    """Links of a table's value: foreign keys (a rule to its page), positions to the cell, the
    notebook's path to its page, a rule's slug to its page, NB116's example notebook, thumbnails."""
    notebook = _plain(_get(row, "notebook"))
    if column in ("position", "cell_position") and isinstance(value, int) and isinstance(notebook, int):
        return link(notebook_url(datasette, database, notebook, value), value)
    if table == "notebooks" and column == "path" and _get(row, "id") is not None:
        return link(notebook_url(datasette, database, row["id"]), value)
    if (table, column) in (("findings", "rule"), ("rules", "slug"), ("rules", "code")) and value is not None:
        code = _get(row, "code") if table == "rules" else _plain(value)
        label = value["label"] if isinstance(value, dict) else value
        return link(rule_url(datasette, database, str(code)), label) + (
            Markup("&nbsp;<em>{}</em>").format(code) if label != code else "")
    if table == "findings" and column == "message" and _plain(_get(row, "rule")) == "NB116":
        db = datasette.databases.get(database)
        return duplicate_example(datasette, db, value, _get(row, "details")) if db is not None else None
    if table == "images" and column == "id" and isinstance(value, int) and not _get(row, "invalid_base64") and \
            (_get(row, "mime") in render.RASTER_MIMES or _get(row, "mime") == "image/svg+xml"):
        thumbnail = render.linked_image(image_src(datasette, database, value), f"image {value}")
        href = notebook_url(datasette, database, notebook, _get(row, "cell_position")) \
            if isinstance(notebook, int) else None
        return Markup('<span class="nbsql-thumbnail">{}</span> {}').format(
            link(href, thumbnail) if href else thumbnail, value)
    target = _FOREIGN_KEYS.get(table, {}).get(column) if table in _FOREIGN_KEYS else \
        "notebooks" if column == "notebook" else None  # a view's notebook column
    if target is None or value is None or isinstance(value, dict):
        return None  # Datasette links an expanded foreign key itself
    if target == "notebooks":
        return link(notebook_url(datasette, database, value), value)
    return link(datasette.urls.row(database, target, str(value)), value)


def _source(row, value: str, table: str, database: str, datasette) -> Markup | None:
    """A cell's source: markdown rendered, code highlighted; on a table page only its first
    :data:`TABLE_LINES` lines, then a link to the whole cell on the notebook page."""
    kind = _get(row, "cell_type") or ("code" if table == "code_cells" else None)
    if kind not in ("markdown", "code"):
        return None
    more = ""
    lines = value.split("\n")
    if len(_page()) == 2 and len(lines) > TABLE_LINES:
        value = "\n".join(lines[:TABLE_LINES])
        notebook, position = _plain(_get(row, "notebook")), _get(row, "position")
        hidden = f"… {len(lines) - TABLE_LINES:,} more lines"
        more = link(notebook_url(datasette, database, notebook, position), hidden, "nbsql-more") \
            if isinstance(notebook, int) and isinstance(position, int) else Markup('<span class="nbsql-more">{}</span>'
                                                                                   ).format(hidden)
    if kind == "markdown":
        attachments = _get(row, "attachments")
        shown = render.markdown(value, json.loads(attachments) if attachments else None)
    else:
        shown = render.code(value, _get(row, "language"))
    return shown + more


def _query_value(row, value, column: str, database: str, datasette) -> Markup | None:
    """A query's value: snippets with their matches marked, notebooks and (on nbsql's canned
    queries) cells linked to the notebook page, rule codes to their page."""
    if isinstance(value, str) and column in ("source_snippet", "output_snippet"):
        escaped = str(Markup.escape(value)).replace(MARK_START, "<mark>").replace(MARK_END, "</mark>")
        return Markup(f'<span class="nbsql-snippet">{escaped}</span>')
    if datasette is None:
        return None
    notebook = _get(row, "notebook")
    if column == "notebook" and isinstance(value, int):
        return link(notebook_url(datasette, database, value), value)
    page = _page()
    canned = len(page) == 2 and page[1] in CANNED_QUERIES
    if canned and column in _POSITIONS and isinstance(value, int) and isinstance(notebook, int):
        return link(notebook_url(datasette, database, notebook, value), value)
    if canned and column in ("code", "rule") and isinstance(value, str) and _RULE_CODE.fullmatch(value):
        return link(rule_url(datasette, database, value), value)
    return None
