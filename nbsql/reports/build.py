"""Search reports: a notebook that gathers the cells a search found, with their saved outputs and
where each came from. Nothing is run while a report is built."""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import NbsqlError
from ..search import Results, summary
from .cells import cell_id, stored_cell

#: Where ``nbsql serve`` answers by default: the links of a report lead to its notebook pages.
DEFAULT_LINK_BASE = "http://127.0.0.1:8001"


@dataclass(frozen=True)
class ReportOptions:
    """How a report is made: ``link_base``, the address of ``nbsql serve`` its links lead to;
    ``runnable``: each result preceded by the cells of its slice the report does not hold yet."""

    link_base: str = DEFAULT_LINK_BASE
    runnable: bool = False


DEFAULT_OPTIONS = ReportOptions()


def search_report(conn: sqlite3.Connection, results: Results, options: ReportOptions = DEFAULT_OPTIONS,
                  filters: str = "", charts_only: bool = False) -> dict:
    """The report of one page of search results, as an nbformat 4.5 notebook (a dict);
    ``filters``: the search's filters, as the title should give them; ``charts_only``: only the
    results with images, each with its image outputs alone."""
    kind = "Charts" if charts_only else "Search report"
    title = f"# {kind}: {code_span(results.query) if results.query.strip() else 'the cells the filters keep'}"
    totals = escape(summary(results))
    given = f"Filters: {escape(filters)}.\n\n" if filters else ""
    cells = [_markdown("title", f"{title}\n\n{given}{totals[0].upper()}{totals[1:]}.\n\n{_made_by()}")]
    run: _Run | None = None
    hits = [hit for hit in results.hits if not charts_only or _has_image(conn, hit.notebook, hit.position)]
    for number, hit in enumerate(hits, 1):
        if options.runnable and hit.cell_type == "code":
            if run is None or not run.goes_on_with(hit.notebook, hit.position):
                run = _Run(hit.notebook)  # another notebook's cells ran since: its slice runs again whole
            cells += _context(conn, hit.notebook, hit.position, number, run)
            run.ran(hit.position)
        cell = _cell_of(conn, hit.notebook, hit.position)
        cells.append(_markdown(cell_id("from", number), provenance(conn, hit.notebook, hit.position, options,
                                                                   copies=hit.copies)))
        cells.append(stored_cell(conn, cell, cell_id("result", number, hit.cell_id or hit.position),
                                 only_images=charts_only))
    runnable = [hit.notebook for hit in hits if hit.cell_type == "code"] if options.runnable else []
    return notebook(conn, runnable or [hit.notebook for hit in hits], cells, python=options.runnable)


def _has_image(conn: sqlite3.Connection, notebook_id: int, position: int) -> bool:
    found = conn.execute("SELECT 1 FROM output_data d JOIN cells c ON c.id = d.cell WHERE c.notebook = ? AND "
                         "c.position = ? AND d.mime GLOB 'image/*' LIMIT 1", (notebook_id, position)).fetchone()
    return found is not None


@dataclass
class _Run:
    """Cells of one notebook that a runnable report has run, one after another, in notebook order:
    a result further down the same notebook needs only the cells of its slice not run yet."""

    notebook: int
    positions: set[int] = field(default_factory=set)

    def goes_on_with(self, notebook_id: int, position: int) -> bool:
        return notebook_id == self.notebook and all(p < position for p in self.positions)

    def ran(self, position: int) -> None:
        self.positions.add(position)


def _context(conn: sqlite3.Connection, notebook_id: int, position: int, number: int, run: _Run) -> list[dict[str, Any]]:
    """The cells of a result's slice that its run has not run yet, marked as context (tag
    ``nbsql-context``), after a note saying so; or the note of why the result has no slice."""
    from ..deps.slice import read_slice

    try:
        needed = [p for p in read_slice(conn, notebook_id, position).positions[:-1] if p not in run.positions]
    except NbsqlError as exc:
        return [_markdown(cell_id("context", number), f"*Result {number} may not run here: {escape(str(exc))}.*")]
    if not needed:
        return []
    (path,) = conn.execute("SELECT path FROM notebooks WHERE id = ?", (notebook_id,)).fetchone()
    made = [_markdown(cell_id("context", number), f"*Context for result {number}: the cells it needs from "
                      f"{escape(path)} ({', '.join(map(str, needed))}), without their outputs.*", "nbsql-context")]
    for needed_position in needed:
        run.ran(needed_position)
        cell = stored_cell(conn, _cell_of(conn, notebook_id, needed_position),
                           cell_id("context", number, needed_position), outputs=False)
        cell["metadata"] = {**cell["metadata"], "tags": ["nbsql-context"]}
        made.append(cell)
    return made


def notebook(conn: sqlite3.Connection, sources: list[int], cells: list[dict[str, Any]], python: bool = False) -> dict:
    """A notebook of ``cells`` with the kernel of most of the ``sources`` notebooks (as far as it is
    valid nbformat; python3 for a Python notebook that names none); with ``python``, of most of
    those in Python (what a runnable report runs), when there are some."""
    metadata: dict[str, Any] = {}
    if python:
        from ..model import PYTHON_LANGUAGES

        languages = dict(conn.execute(f"SELECT id, language FROM notebooks WHERE id IN "
                                      f"({', '.join('?' * len(sources))})", sources).fetchall())
        sources = [s for s in sources if languages.get(s) in (None, *PYTHON_LANGUAGES)] or sources
    common = Counter(sources).most_common(1)
    if common:
        from ..deps.slice import run_metadata

        stored, language = conn.execute("SELECT metadata, language FROM notebooks WHERE id = ?",
                                        (common[0][0],)).fetchone()
        metadata = run_metadata(json.loads(stored or "{}"), language)
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": metadata, "cells": cells}


def provenance(conn: sqlite3.Connection, notebook_id: int, position: int, options: ReportOptions,
               copies: int = 0) -> str:
    """Where a cell comes from: its notebook's path and title, its number, and a link to it."""
    path, title = conn.execute("SELECT path, title FROM notebooks WHERE id = ?", (notebook_id,)).fetchone()
    link = f"{options.link_base.rstrip('/')}/-/nbsql/notebooks/{notebook_id}#cell-{position}"
    parts = [f"**{escape(path)}**", f"cell {position}"]
    if title:
        parts.append(f"*{escape(title)}*")
    parts.append(f"[open in nbsql](<{link}>)")
    if copies:
        parts.append(f"also in {copies} other notebook{'s' if copies != 1 else ''}")
    return "From " + " · ".join(parts)


def check_report_path(path: str | Path) -> None:
    """A one-line :class:`NbsqlError` when ``path`` names a folder or lies in a folder that does not
    exist: checked before a search, so that a wrong path costs nothing."""
    target = Path(path)
    if target.is_dir():
        raise NbsqlError(f"cannot write the report {path}: it is a folder; name a file, such as "
                         f"{target / 'report.ipynb'}")
    if not target.parent.is_dir():
        raise NbsqlError(f"cannot write the report {path}: there is no folder {target.parent}")


def write_report(report: dict, path: str | Path) -> None:
    """Check ``report`` against the nbformat schema and write it to ``path`` whole or not at all
    (a one-line :class:`NbsqlError` when it cannot be written)."""
    import nbformat

    nbformat.validate(report)  # a report that fails its own schema is a bug: let it raise
    check_report_path(path)
    target = Path(path)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        out = open(temporary, "x", encoding="utf-8")  # made as any new file is (umask)
    except OSError as exc:
        raise NbsqlError(f"cannot write the report {path}: {exc.strerror or exc}") from None
    try:
        with out:
            json.dump(report, out, indent=1, ensure_ascii=False)
            out.write("\n")
        os.replace(temporary, target)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise NbsqlError(f"cannot write the report {path}: {exc.strerror or exc}") from None


def _cell_of(conn: sqlite3.Connection, notebook_id: int, position: int) -> int:
    (cell,) = conn.execute("SELECT id FROM cells WHERE notebook = ? AND position = ?",
                           (notebook_id, position)).fetchone()
    return cell


def _markdown(identifier: str, text: str, tag: str = "nbsql-report") -> dict[str, Any]:
    return {"cell_type": "markdown", "id": identifier, "metadata": {"tags": [tag]}, "source": text}


def _made_by() -> str:
    from .. import __version__

    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (f"Made by nbsql {__version__} on {when}, from the outputs saved in the notebooks: nothing was run "
            "to make it.")


def escape(text: str) -> str:
    """``text`` shown as it is in Markdown: no markup, no HTML."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "".join(f"\\{ch}" if ch in "\\`*_[]|~" else ch for ch in text)


def code_span(text: str) -> str:
    """``text`` as a Markdown code span (fenced with more backticks than it holds in a row)."""
    ticks = "`" * (max(map(len, re.findall("`+", text)), default=0) + 1)
    return f"{ticks} {' '.join(text.split())} {ticks}"
