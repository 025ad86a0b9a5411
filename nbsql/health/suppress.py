"""Suppressions written in the notebook: cell tags, ``# nbsql: ignore[...]`` comments, metadata."""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import Any, TypeVar

from .registry import Finding, resolve

_COMMENT = re.compile(r"nbsql:\s*ignore(?:\[([^\]]*)\])?")
ALL = frozenset({"*"})
#: What names a notebook to :func:`unsuppressed`: a database id, a path...
Key = TypeVar("Key", bound=Hashable)


def _codes(selectors: list[str]) -> frozenset[str]:
    codes: set[str] = set()
    for selector in selectors:
        try:
            codes |= resolve([selector])
        except KeyError:
            continue  # an unknown code in a notebook must not stop the checks
    return frozenset(codes)


def cell_suppressions(tags: Iterable[str], source: str) -> frozenset[str]:
    """Codes ignored in a cell with these tags and source: ``{"*"}`` for all."""
    selectors: list[str] = []
    for tag in tags:
        if tag == "nbsql-ignore":
            return ALL
        if tag.startswith("nbsql-ignore:"):
            selectors += tag.split(":", 1)[1].split(",")
    if "nbsql" in source:
        for match in _COMMENT.finditer(source):
            if match.group(1) is None:
                return ALL
            selectors += match.group(1).split(",")
    return _codes(selectors)


def notebook_suppressions(metadata: dict[str, Any]) -> frozenset[str]:
    """Codes listed in the notebook metadata ``{"nbsql": {"ignore": [...]}}``."""
    config = metadata.get("nbsql")
    ignore = config.get("ignore") if isinstance(config, dict) else None
    if isinstance(ignore, str):
        ignore = [ignore]
    if not isinstance(ignore, list):
        return frozenset()
    return ALL if "*" in ignore or "ALL" in ignore else _codes([i for i in ignore if isinstance(i, str)])


def _suppressed(code: str, codes: frozenset[str]) -> bool:
    return "*" in codes or code in codes


def unsuppressed(found: Iterable[tuple[Key, Finding]], notebook_codes: Callable[[Key], frozenset[str]],
                 cell_codes: Callable[[Key, int], frozenset[str]]) -> Iterator[tuple[Key, Finding]]:
    """The (notebook, finding) pairs no suppression covers, as they come; each notebook's
    suppressions are looked up once, on first need, and each cell's once if not empty."""
    whole: dict[Hashable, frozenset[str]] = {}
    cells: dict[tuple[Hashable, int], frozenset[str]] = {}  # only the cells that suppress something
    for notebook, finding in found:
        if notebook not in whole:
            whole[notebook] = notebook_codes(notebook)
        if _suppressed(finding.code, whole[notebook]):
            continue
        if finding.position is not None:
            key = (notebook, finding.position)
            codes = cells.get(key)
            if codes is None:
                codes = cell_codes(notebook, finding.position)
                if codes:
                    cells[key] = codes
            if _suppressed(finding.code, codes):
                continue
        yield notebook, finding
