"""Linking a notebook's cells: each name a cell uses to the nearest earlier cell that defines it.

Cells are taken in notebook order, as a fresh kernel would run them. A use links to the nearest
earlier cell that defines the name or modifies it in place (``df["x"] = ...``: the later reader
needs that cell too). A name no earlier cell binds links to the nearest earlier star import
(``from pylab import *``), which may be where it comes from, unless it is a builtin: a builtin
links only to a cell that defines that very name (``list = [...]`` shadowing ``list``), and a
builtin no cell shadows is not kept as a use at all, so ``print`` and ``len`` fill no rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .names import STAR, CellNames, is_builtin


@dataclass(frozen=True, slots=True)
class LinkedCell:
    """A cell's names, with its uses as kept (builtins only where the notebook shadows them), and
    for each use that an earlier cell provides, that cell's position."""

    position: int
    names: CellNames
    needs: dict[str, int] = field(default_factory=dict)  # name -> position of the cell defining it


def link(cells: Iterable[tuple[int, CellNames]]) -> list[LinkedCell]:
    """Link the cells, given as (position, names) in notebook order."""
    last: dict[str, int] = {}  # name -> the latest cell so far that binds or changes it
    star: int | None = None  # the latest star import so far
    linked = []
    for position, names in cells:
        needs: dict[str, int] = {}
        kept = []
        for name in names.uses:
            source = last.get(name)
            builtin = is_builtin(name)
            if source is None and not builtin:
                source = star
            if source is not None:
                needs[name] = source
            if source is not None or not builtin:
                kept.append(name)
        if len(kept) != len(names.uses):
            names = CellNames(names.defines, names.modifies, tuple(kept), names.calls)
        linked.append(LinkedCell(position, names, needs))
        for name in names.defines:
            if name == STAR:
                star = position
            else:
                last[name] = position
        for name in names.modifies:
            last[name] = position
    return linked
