"""Search results as text for a terminal, or as JSON."""

from __future__ import annotations

import json

from .engine import Results


def summary(results: Results) -> str:
    """``152 cells in 61 notebooks match; showing 20``: the true totals and what is shown (past
    :data:`~nbsql.search.engine.NOTEBOOK_COUNT_LIMIT` cells, the notebooks are not counted)."""
    cells, notebooks = results.total_cells, results.total_notebooks
    if not cells:
        return "no cell matches"
    where = "" if notebooks is None else f" in {notebooks:,} notebook{'s' if notebooks != 1 else ''}"
    text = f"{cells:,} cell{'s' if cells != 1 else ''}{where} match{'es' if cells == 1 else ''}"
    if results.total_results != cells:
        text += f" ({results.total_results:,} once copies are merged)"
    shown = len(results.hits)
    if results.offset:
        return text + f"; showing {results.offset + 1:,}-{results.offset + shown:,}" if shown else \
            text + f"; none from {results.offset + 1:,} on"
    return text + f"; showing {shown:,}"


def render_text(results: Results, color: bool = False) -> str:
    import click

    out = []
    for hit in results.hits:
        label = f"{hit.path}:cell {hit.position}"
        line = (click.style(label, bold=True) if color else label) + f" [{hit.cell_type}]"
        if hit.copies:
            line += f" (also in {hit.copies} other notebook{'s' if hit.copies != 1 else ''})"
        out.append(line)
        for index, excerpt in enumerate(hit.excerpt):
            marks = [(s, e) for i, s, e in hit.highlights if i == index]
            shown, cursor = "", 0
            for start, end in marks:
                text = excerpt.text[start:end]
                shown += excerpt.text[cursor:start] + (click.style(text, fg="red", bold=True) if color else f"[{text}]")
                cursor = end
            where = "out" if excerpt.where == "outputs" else "   "
            out.append(f"  {where}{excerpt.number:4}: {shown + excerpt.text[cursor:]}")
    summarised = summary(results)
    out.append(summarised[0].upper() + summarised[1:] + ".")
    return "\n".join(out) + "\n"


def render_json(results: Results) -> str:
    return json.dumps({"query": results.query, "total_cells": results.total_cells,
                       "total_notebooks": results.total_notebooks, "total_results": results.total_results,
                       "offset": results.offset, "hits": [hit.to_json() for hit in results.hits]},
                      indent=2, ensure_ascii=False) + "\n"
