"""Cell dependencies on the notebook page: what each code cell needs, and its slice as a download.

A database loaded by an nbsql from before ``cell_dependencies`` (an older schema, served as it
is) shows no dependencies, and its slice downloads are 404s that say to load it again.
"""

from __future__ import annotations

from urllib.parse import quote

from ..deps.slice import closures, lowest, read_slice
from ..errors import NbsqlError
from ..model import PYTHON_LANGUAGES

#: Cells of a slice linked under a cell; the others are counted ("and 40 more"), and all are in the download.
SHOWN_NEEDS = 30
OLDER = "This database was loaded by an older nbsql, without cell dependencies: load it again to get them."


def slice_url(datasette, database: str, notebook: int, position: int) -> str:
    return datasette.urls.path(f"/-/nbsql/notebooks/{notebook}/slice/{position}.ipynb") + f"?database={quote(database)}"


async def cell_needs(datasette, db, notebook: dict) -> dict[int, dict]:
    """For each code cell of ``notebook`` whose dependencies are known (a Python cell that parses):
    the cells of its slice before it, each with a title naming what it provides, and the URL of
    the slice's download."""
    if not (notebook["language"] is None or notebook["language"] in PYTHON_LANGUAGES) \
            or not await db.table_exists("cell_dependencies"):
        return {}
    cells = (await db.execute("SELECT position FROM cells WHERE notebook = ? AND cell_type = 'code' AND "
                              "parse_error IS NULL AND (sloc IS NOT NULL OR trim(coalesce(source, '')) = '')",
                              [notebook["id"]])).rows
    edges = (await db.execute("SELECT c.position AS cell, d.position AS needed, x.name FROM cell_dependencies x "
                              "JOIN cells c ON c.id = x.cell JOIN cells d ON d.id = x.depends_on "
                              "WHERE c.notebook = ? ORDER BY x.id", [notebook["id"]])).rows
    needs: dict[int, list[int]] = {}
    provides: dict[tuple[int, int], list[str]] = {}  # (cell, needed cell) -> names
    for edge in edges:
        needs.setdefault(edge["cell"], []).append(edge["needed"])
        provides.setdefault((edge["cell"], edge["needed"]), []).append(edge["name"])
    slices = closures(needs, [row[0] for row in cells])
    shown = {}
    for (position,) in cells:
        earlier = slices[position] & ~(1 << position)
        positions = lowest(earlier, SHOWN_NEEDS)
        shown[position] = {
            "needs": [{"position": p, "title": f"uses {', '.join(provides[position, p])}" if (position, p) in provides
                       else "needed by a cell it needs"} for p in positions],
            "more": earlier.bit_count() - len(positions),
            "download": slice_url(datasette, db.name, notebook["id"], position),
        }
    return shown


async def slice_download(db, notebook: int, position: int) -> tuple[str, str] | str:
    """The slice of a cell as (file name, notebook text), or why there is none (a one-line message)."""
    if not await db.table_exists("cell_dependencies"):
        return OLDER
    try:
        found = await db.execute_fn(lambda conn: read_slice(conn, notebook, position))
    except NbsqlError as exc:
        message = str(exc)
        return message[:1].upper() + message[1:]
    return found.filename, found.ipynb()
