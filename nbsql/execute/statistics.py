"""Pimentel et al.'s table for the notebooks run: ran without error, same results, and each
failure class, as numbers and shares of the notebooks run, in each order."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from .failures import FAILURE_CLASSES

#: Pimentel et al. (MSR 2019; EMSE 2021), as shares of the notebooks they ran.
PIMENTEL = {"ran without error": (24.11, 24.25), "same results": (4.03, 5.59)}


@dataclass(frozen=True)
class Line:
    label: str
    notebooks: int
    percent: float


@dataclass(frozen=True)
class OrderFigures:
    order: str
    notebooks: int  # notebooks with a run in this order
    lines: tuple[Line, ...]


def statistics(conn: sqlite3.Connection, notebooks: Iterable[int]) -> list[OrderFigures]:
    """The figures of the latest run of each of ``notebooks``, per order (only orders that ran)."""
    wanted = set(notebooks)
    latest = conn.execute("SELECT e.notebook, e.cell_order, e.status, e.same_results, e.failure_class "
                          "FROM executions e WHERE e.id = (SELECT max(id) FROM executions l "
                          "WHERE l.notebook = e.notebook AND l.cell_order = e.cell_order)").fetchall()
    figures = []
    for order in ("cells", "counts"):
        runs = [row for row in latest if row[1] == order and row[0] in wanted]
        if not runs:
            continue
        total = len(runs)
        classes = Counter(row[4] for row in runs if row[4])
        counts = [("ran without error", sum(row[2] == "ok" for row in runs)),
                  ("same results", sum(row[3] == 1 for row in runs)),
                  ("failed", total - sum(row[2] == "ok" for row in runs))]
        counts += [(f"  {label}", classes[name]) for name, label in FAILURE_CLASSES.items()]
        figures.append(OrderFigures(order, total, tuple(Line(label, count, round(100 * count / total, 2))
                                                        for label, count in counts)))
    return figures


def render(figures: list[OrderFigures]) -> str:
    """The table as text, with Pimentel et al.'s shares beside ours."""
    if not figures:
        return "No run recorded for these notebooks.\n"
    out = []
    for group in figures:
        title = "top to bottom" if group.order == "cells" else "in execution-count order"
        out += [f"Notebooks run {title}: {group.notebooks}",
                f"  {'':36} {'notebooks':>9} {'share':>8}   Pimentel et al."]
        for line in group.lines:
            paper = PIMENTEL.get(line.label)
            reference = f"   {paper[0]:.2f}% / {paper[1]:.2f}%" if paper else ""
            out.append(f"  {line.label:36} {line.notebooks:9,} {line.percent:7.2f}%{reference}")
        out.append("")
    return "\n".join(out)
