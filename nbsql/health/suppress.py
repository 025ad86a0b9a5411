"""Suppressions written in the notebook: cell tags, ``# nbsql: ignore[...]`` comments, metadata."""

from __future__ import annotations

import re

from ..model import Cell, Notebook
from .registry import resolve

_COMMENT = re.compile(r"nbsql:\s*ignore(?:\[([^\]]*)\])?")
ALL = frozenset({"*"})


def _codes(selectors: list[str]) -> frozenset[str]:
    codes: set[str] = set()
    for selector in selectors:
        try:
            codes |= resolve([selector])
        except KeyError:
            continue  # an unknown code in a notebook must not stop the checks
    return frozenset(codes)


def cell_suppressions(cell: Cell) -> frozenset[str]:
    """Codes ignored in ``cell``: ``{"*"}`` for all."""
    selectors: list[str] = []
    for tag in cell.tags:
        if tag == "nbsql-ignore":
            return ALL
        if tag.startswith("nbsql-ignore:"):
            selectors += tag.split(":", 1)[1].split(",")
    if "nbsql" in cell.source:
        for match in _COMMENT.finditer(cell.source):
            if match.group(1) is None:
                return ALL
            selectors += match.group(1).split(",")
    return _codes(selectors)


def notebook_suppressions(notebook: Notebook) -> frozenset[str]:
    """Codes listed in the notebook metadata ``{"nbsql": {"ignore": [...]}}``."""
    config = notebook.metadata.get("nbsql")
    ignore = config.get("ignore") if isinstance(config, dict) else None
    if isinstance(ignore, str):
        ignore = [ignore]
    if not isinstance(ignore, list):
        return frozenset()
    return ALL if "*" in ignore or "ALL" in ignore else _codes([i for i in ignore if isinstance(i, str)])


def suppressed(code: str, codes: frozenset[str]) -> bool:
    return "*" in codes or code in codes
