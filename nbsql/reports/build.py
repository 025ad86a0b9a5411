"""Search reports: a notebook that gathers the cells a search found, with their saved outputs and
where each came from. Nothing is run while a report is built."""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections import Counter
from dataclasses import dataclass
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
    """How a report is made: ``link_base``, the address of ``nbsql serve`` its links lead to."""

    link_base: str = DEFAULT_LINK_BASE


DEFAULT_OPTIONS = ReportOptions()


def search_report(conn: sqlite3.Connection, results: Results, options: ReportOptions = DEFAULT_OPTIONS) -> dict:
    """The report of one page of search results, as an nbformat 4.5 notebook (a dict)."""
    title = f"# Search report: {code_span(results.query) if results.query.strip() else 'filters only'}"
    totals = escape(summary(results))
    cells = [_markdown("title", f"{title}\n\n{totals[0].upper()}{totals[1:]}.\n\n{_made_by()}")]
    for number, hit in enumerate(results.hits, 1):
        cell = _cell_of(conn, hit.notebook, hit.position)
        cells.append(_markdown(cell_id("from", number), provenance(conn, hit.notebook, hit.position, options,
                                                                   copies=hit.copies)))
        cells.append(stored_cell(conn, cell, cell_id("result", number, hit.cell_id or hit.position)))
    return notebook(conn, [hit.notebook for hit in results.hits], cells)


def notebook(conn: sqlite3.Connection, sources: list[int], cells: list[dict[str, Any]]) -> dict:
    """A notebook of ``cells`` with the kernel of most of the ``sources`` notebooks."""
    metadata: dict[str, Any] = {}
    common = Counter(sources).most_common(1)
    if common:
        (stored,) = conn.execute("SELECT metadata FROM notebooks WHERE id = ?", (common[0][0],)).fetchone()
        saved = json.loads(stored or "{}")
        metadata = {key: saved[key] for key in ("kernelspec", "language_info") if isinstance(saved.get(key), dict)}
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


def write_report(report: dict, path: str | Path) -> None:
    """Check ``report`` against the nbformat schema and write it to ``path`` whole or not at all
    (a one-line :class:`NbsqlError` when it cannot be written)."""
    import nbformat

    nbformat.validate(report)  # a report that fails its own schema is a bug: let it raise
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


def _markdown(identifier: str, text: str) -> dict[str, Any]:
    return {"cell_type": "markdown", "id": identifier, "metadata": {"tags": ["nbsql-report"]}, "source": text}


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
