"""The gallery: image outputs whose cell, or the markdown just above it, matches a search; as a
list, or as a report notebook that pulls the charts out of many notebooks."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, replace
from typing import Any

from ..search import DEFAULT_TIMEOUT, Filters, matching_cells
from .build import DEFAULT_OPTIONS, ReportOptions, code_span, escape, notebook, provenance
from .cells import cell_id, stored_cell


@dataclass(frozen=True)
class GalleryCell:
    """A code cell with image outputs; ``via_markdown``: found by the markdown cell above it."""

    cell: int
    notebook: int
    position: int
    path: str
    images: int
    via_markdown: bool
    size: int = 0  # bytes of its images


#: The gallery's orders: by notebook path and position, the largest images first, or the cells
#: with the most images first (ties by path and position).
GALLERY_SORTS = {"path": lambda g: (g.path, g.position), "size": lambda g: (-g.size, g.path, g.position),
                 "images": lambda g: (-g.images, g.path, g.position)}


#: The image outputs a gallery shows: those a browser displays, with data that decoded.
GALLERY_IMAGE = ("d.mime IN ('image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/svg+xml') "
                 "AND d.invalid_base64 = 0")


def gallery_cells(conn: sqlite3.Connection, query: str, filters: Filters | None = None,
                  timeout: float = DEFAULT_TIMEOUT, sort: str = "path") -> list[GalleryCell]:
    """Code cells with images that match ``query`` (as ``nbsql search`` does) or follow a matching
    markdown cell (up to the next markdown cell), in the order ``sort`` names in
    :data:`GALLERY_SORTS`; an empty query: every code cell with images that the filters keep."""
    filters = filters or Filters()
    found: dict[int, GalleryCell] = {}
    if query.strip():
        matched = matching_cells(conn, query, filters=replace(filters, cell_type=None), timeout=timeout)
    else:
        matched = matching_cells(conn, "", filters=replace(filters, cell_type="code", has_image=True), timeout=timeout)
    for cell, notebook_id, position in matched:
        (cell_type,) = conn.execute("SELECT cell_type FROM cells WHERE id = ?", (cell,)).fetchone()
        if cell_type == "code":
            _add(conn, found, cell, via_markdown=False)
        elif cell_type == "markdown":  # markdown leads to the charts below it
            for following, kind in conn.execute("SELECT id, cell_type FROM cells WHERE notebook = ? AND position > ? "
                                                "ORDER BY position", (notebook_id, position)):
                if kind == "markdown":
                    break
                if kind == "code" and following not in found:
                    _add(conn, found, following, via_markdown=True)
    return sorted(found.values(), key=GALLERY_SORTS[sort])


def _add(conn: sqlite3.Connection, found: dict[int, GalleryCell], cell: int, via_markdown: bool) -> None:
    notebook_id, position, path, images, size = conn.execute(
        f"SELECT c.notebook, c.position, n.path, COUNT(d.id), coalesce(SUM(d.size), 0) FROM cells c "
        f"JOIN notebooks n ON n.id = c.notebook LEFT JOIN output_data d ON d.cell = c.id AND {GALLERY_IMAGE} "
        f"WHERE c.id = ?", (cell,)).fetchone()
    if images:
        found[cell] = GalleryCell(cell, notebook_id, position, path, images, via_markdown, size)


def gallery_totals(found: list[GalleryCell]) -> str:
    """``90 images in 74 cells of 30 notebooks``."""
    images, notebooks = sum(g.images for g in found), len({g.notebook for g in found})
    return (f"{images:,} image{'s' if images != 1 else ''} in {len(found):,} cell{'s' if len(found) != 1 else ''} "
            f"of {notebooks:,} notebook{'s' if notebooks != 1 else ''}")


def showing(offset: int, count: int) -> str:
    """``showing 60 cells`` or, past the first page, ``showing cells 61-120``."""
    if not offset:
        return f"showing {count:,} cell{'s' if count != 1 else ''}"
    return f"showing cells {offset + 1:,}-{offset + count:,}"


def gallery_report(conn: sqlite3.Connection, query: str, filters: Filters | None = None, limit: int = 60,
                   options: ReportOptions = DEFAULT_OPTIONS, offset: int = 0,
                   timeout: float = DEFAULT_TIMEOUT, sort: str = "path") -> tuple[dict, list[GalleryCell]]:
    """The gallery of ``query`` as a report notebook (at most ``limit`` cells from ``offset``, each
    with only its image outputs and where it comes from), and all the gallery's cells."""
    every = gallery_cells(conn, query, filters, timeout, sort)
    shown = every[offset:offset + limit]
    heading = f"# Gallery: {code_span(query) if query.strip() else 'all the images the filters keep'}"
    totals = f"{gallery_totals(every)}; {showing(offset, len(shown))}"
    cells: list[dict[str, Any]] = [{"cell_type": "markdown", "id": "title", "metadata": {"tags": ["nbsql-report"]},
                                    "source": f"{heading}\n\n{escape(totals)}."}]
    for number, item in enumerate(shown, 1):
        where = provenance(conn, item.notebook, item.position, options)
        if item.via_markdown:
            where += " (the markdown above it matches)"
        cells.append({"cell_type": "markdown", "id": cell_id("from", number), "metadata": {"tags": ["nbsql-report"]},
                      "source": where})
        cells.append(stored_cell(conn, item.cell, cell_id("chart", number, item.position), only_images=True))
    return notebook(conn, [g.notebook for g in shown], cells), every
