"""Where the plugin's links lead: a notebook's page (at a cell), a rule's page, the plugin's pages;
and the notebook an NB116 finding names as an example ("e.g. PATH"), found by path and code."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

from markupsafe import Markup

#: nbsql's own pages: (label above each page of an nbsql database, label in Datasette's menu, path
#: under /-/nbsql/).
NBSQL_PAGES = (("Dashboard", "Notebooks dashboard", ""), ("Search", "Search notebooks", "search"),
               ("Image gallery", "Notebook images", "gallery"), ("Rules", "Health rules", "rules"))


def nav(datasette, database: str, here: str) -> list[dict]:
    """The links to nbsql's pages, the one at path ``here`` marked current."""
    return [{"label": label, "href": plugin_url(datasette, page, database),
             "current": here == datasette.urls.path(f"/-/nbsql/{page}")} for label, _, page in NBSQL_PAGES]


def plugin_url(datasette, page: str, database: str) -> str:
    """``/-/nbsql/<page>?database=...`` (``page`` already URL-safe)."""
    return datasette.urls.path(f"/-/nbsql/{page}") + f"?database={quote(database)}"


def notebook_url(datasette, database: str, notebook: int, position: int | None = None) -> str:
    """The notebook page, at cell ``position`` (scrolled to and marked) when given."""
    url = plugin_url(datasette, f"notebooks/{int(notebook)}", database)
    return url if position is None else f"{url}#cell-{int(position)}"


def image_src(datasette, database: str, image: int) -> str:
    """The image route's address of an output image (``output_data.id``)."""
    return plugin_url(datasette, f"images/{int(image)}", database)


def rule_url(datasette, database: str, code: str) -> str:
    return plugin_url(datasette, f"rules/{quote(code, safe='')}", database)


def link(href: str, text: object, css: str | None = None) -> Markup:
    if css:
        return Markup('<a class="{}" href="{}">{}</a>').format(css, href, text)
    return Markup('<a href="{}">{}</a>').format(href, text)


#: An NB116 message: "same code in 2 other notebook(s), e.g. PATH".
_EXAMPLE = re.compile(r"(.*, e\.g\. )(.+)", re.S)


async def duplicate_example(datasette, db, message: str, details: str | None) -> Markup | None:
    """An NB116 message with its example notebook a link to the copy of the cell there (to the
    notebook when the copy is not found), or None when the message names no notebook."""
    match = _EXAMPLE.fullmatch(message or "")
    if match is None:
        return None
    prefix, path = match.groups()
    try:
        digest = json.loads(details or "{}").get("hash")
    except (ValueError, AttributeError):
        digest = None
    found = (await db.execute(
        "SELECT n.id, c.position FROM notebooks n LEFT JOIN cells c ON c.notebook = n.id AND c.source_hash = ? "
        "WHERE n.path = ? ORDER BY c.position IS NULL, c.position LIMIT 1", [digest, path])).first()
    if found is None:
        return None
    return Markup.escape(prefix) + link(notebook_url(datasette, db.name, found[0], found[1]), path)
