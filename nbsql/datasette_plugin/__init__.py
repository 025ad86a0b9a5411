"""Datasette plugin: notebook-aware cell rendering, a notebook page, an image gallery.

Registered through the ``datasette`` entry point, so a plain ``datasette notebooks.db`` gets it.
It acts only on nbsql databases (see :mod:`.recognise`): on any other database its hooks return
None and it adds nothing, no CSS, no header, no function. Hooks name only the arguments they use.
"""

from __future__ import annotations

from datasette import hookimpl

from ..search import match_query
from .dashboard import dashboard_page
from .links import NBSQL_PAGES, nav
from .pages import gallery_page, image_route, notebook_page, pygments_css_route, slice_route
from .recognise import database_at, is_nbsql, judge, nbsql_database, when_nbsql
from .rule_pages import rule_page, rules_page
from .search_page import gallery_report_route, search_page, search_report_route
from .values import PAGE_PATH, cell_html

__all__ = ["cell_html"]


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
        page = PAGE_PATH.set(_routed_path(datasette, scope))

        async def sending(message):
            headers = message.get("headers", [])
            if message["type"] == "http.response.start" and \
                    not any(name.lower() == b"content-security-policy" for name, _ in headers):
                message = {**message, "headers": [*headers, (b"content-security-policy", BASELINE_CSP.encode())]}
            await send(message)

        try:
            await app(scope, receive, sending)
        finally:
            PAGE_PATH.reset(page)

    return wrapped


async def _for_nbsql(datasette, scope) -> bool:
    """Whether a request is for a page of an nbsql database or one of the plugin's routes (its path
    read as Datasette routes it: the raw path, after the base URL)."""
    path = _routed_path(datasette, scope)
    return path.startswith("/-/nbsql/") or await is_nbsql(database_at(datasette, path))


def _routed_path(datasette, scope) -> str:
    """A request's path as Datasette routes it: the raw path, after the base URL."""
    raw = scope.get("raw_path")
    path = (raw.decode("latin-1") if raw else scope["path"]).partition("?")[0]
    base = datasette.setting("base_url")
    return "/" + path[len(base):] if base != "/" and path.startswith(base) else path


BASELINE_CSP = "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; img-src 'self' data:; form-action 'self'"


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    return when_nbsql(datasette, database, lambda: cell_html(row, value, column, table, database, datasette))


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
        (r"^/-/nbsql/?$", dashboard_page),
        (r"^/-/nbsql/rules$", rules_page),
        (r"^/-/nbsql/rules/(?P<code>[^/]+)$", rule_page),
    ]


@hookimpl
def menu_links(datasette, request):
    """nbsql's pages in Datasette's menu when an nbsql database is served: on every page but those
    of another database."""
    async def links():
        here = database_at(datasette, request.path) if request is not None else None
        if here is not None and not await is_nbsql(here):
            return None
        for db in datasette.databases.values():
            if await is_nbsql(db):
                return [{"href": datasette.urls.path(f"/-/nbsql/{page}"), "label": label}
                        for _, label, page in NBSQL_PAGES]
        return None

    return links


@hookimpl
def extra_template_vars(template, database, table, request, datasette):
    """On the pages of an nbsql database, the index and the plugin's pages: the links to nbsql's
    pages (``nbsql_nav``). On a table's page, its column documentation moves from
    ``metadata.columns`` (a long list above the rows) to ``nbsql_columns``, shown collapsed."""
    async def variables() -> dict:
        db = await nbsql_database(datasette, database)
        if db is None:
            return {}
        found: dict = {"nbsql_nav": nav(datasette, db.name, request.path if request is not None else "")}
        if template == "table.html" and table is not None:
            metadata = dict(datasette.table_metadata(database, table))
            datasette.update_with_inherited_metadata(metadata)  # as the table page does: source and licence
            found.update(metadata=metadata, nbsql_columns=metadata.pop("columns", None) or {})
        return found

    return variables


@hookimpl
def extra_css_urls(database, datasette):
    """nbsql's style sheets on the pages of an nbsql database (the plugin's pages name theirs)."""
    return when_nbsql(datasette, database, lambda: [datasette.urls.static_plugins("nbsql", "nbsql.css"),
                                                    datasette.urls.path("/-/nbsql/pygments.css")], otherwise=[])
