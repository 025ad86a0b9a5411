"""A cell's slice: the cells it needs to run, and the slice as a notebook that runs top to bottom.

The slice of a cell is the transitive closure of its dependencies (``cell_dependencies``), in
notebook order, followed by the cell itself. Its notebook (nbformat 4.5) holds those code cells,
without outputs, under the source notebook's kernelspec and language_info.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Iterable, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import NbsqlError
from ..model import PYTHON_LANGUAGES

#: A valid nbformat 4.5 cell id.
_CELL_ID = re.compile(r"[a-zA-Z0-9_-]{1,64}")
#: The kernel a Python notebook that names none is given, so that its slice runs.
PYTHON_KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
_LANGUAGE_INFO_TEXTS = ("name", "version", "file_extension", "mimetype", "pygments_lexer", "nbconvert_exporter")


def closure(needs: Mapping[int, Iterable[int]], position: int) -> tuple[int, ...]:
    """``position`` and every cell it needs, directly or through others, in notebook order;
    ``needs`` maps a cell's position to the positions of the cells it needs directly."""
    seen = {position}
    pending = [position]
    while pending:
        for needed in needs.get(pending.pop(), ()):
            if needed not in seen:
                seen.add(needed)
                pending.append(needed)
    return tuple(sorted(seen))


def closures(needs: Mapping[int, Iterable[int]], positions: Iterable[int]) -> dict[int, int]:
    """The slice of each of ``positions`` at once, as a bit mask (bit p set: cell p is in it), for a
    page that shows them all: linear in the links, where :func:`closure` for each cell is quadratic
    (a notebook whose cells each need the one before). A cell needs only earlier cells."""
    masks: dict[int, int] = {}
    for position in sorted({*positions, *needs}):
        mask = 1 << position
        for needed in needs.get(position, ()):
            mask |= masks.get(needed, 1 << needed)
        masks[position] = mask
    return masks


def lowest(mask: int, count: int) -> list[int]:
    """The positions of the ``count`` lowest bits set in ``mask``."""
    found: list[int] = []
    while mask and len(found) < count:
        low = mask & -mask
        found.append(low.bit_length() - 1)
        mask ^= low
    return found


@dataclass(frozen=True, slots=True)
class SliceCell:
    position: int  # 0-based over all cells of the source notebook
    source: str
    cell_id: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CellSlice:
    """The slice of cell ``cell`` of a loaded notebook: ``cells`` ends with that cell."""

    notebook: int  # notebooks.id
    root: str
    path: str
    cell: int
    cells: tuple[SliceCell, ...]
    needs: dict[str, int] = field(default_factory=dict)  # the cell's own: name -> position of its cell
    metadata: dict[str, Any] = field(default_factory=dict)  # kernelspec and language_info, when valid

    @property
    def positions(self) -> tuple[int, ...]:
        return tuple(c.position for c in self.cells)

    def to_notebook(self) -> dict[str, Any]:
        """The slice as an nbformat 4.5 notebook (JSON), its cells without outputs."""
        used: set[str] = set()
        cells: list[dict[str, Any]] = []
        for cell in self.cells:
            metadata: dict[str, Any] = {"nbsql": {"position": cell.position}}
            if cell.tags:
                metadata["tags"] = list(dict.fromkeys(cell.tags))
            cells.append({"cell_type": "code", "id": _unique_id(cell, used), "metadata": metadata,
                          "execution_count": None, "outputs": [], "source": cell.source})
        metadata = {**self.metadata, "nbsql": {"slice": {"path": self.path, "cell": self.cell,
                                                         "cells": list(self.positions)}}}
        return {"nbformat": 4, "nbformat_minor": 5, "metadata": metadata, "cells": cells}

    def ipynb(self) -> str:
        """The notebook's text, as Jupyter writes it."""
        document = self.to_notebook()
        text = json.dumps(document, indent=1, ensure_ascii=False) + "\n"
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate in a source: escaped, it is still valid JSON
            text = json.dumps(document, indent=1) + "\n"
        return text

    @property
    def filename(self) -> str:
        """A file name for the download, made of letters, digits, '.', '_' and '-' only."""
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", self.path.rsplit("/", 1)[-1].removesuffix(".ipynb"))
        return f"{stem.strip('._')[:80] or 'notebook'}-cell-{self.cell}-slice.ipynb"


def _unique_id(cell: SliceCell, used: set[str]) -> str:
    """The cell's own id when it is a valid nbformat id not taken yet, else one made of its position."""
    own = [cell.cell_id] if cell.cell_id and _CELL_ID.fullmatch(cell.cell_id) else []
    candidate = next((c for c in [*own, f"cell-{cell.position}"] if c not in used), "")
    number = 1
    while not candidate or candidate in used:
        number += 1
        candidate = f"cell-{cell.position}-{number}"
    used.add(candidate)
    return candidate


def run_metadata(metadata: Any, language: str | None) -> dict[str, Any]:
    """The kernelspec and language_info of a notebook's metadata, as far as they are valid nbformat;
    a Python notebook that names no kernel gets python3's, so that its slices run."""
    kept: dict[str, Any] = {}
    if not isinstance(metadata, dict):
        metadata = {}
    kernelspec = metadata.get("kernelspec")
    if isinstance(kernelspec, dict) and isinstance(kernelspec.get("name"), str) \
            and isinstance(kernelspec.get("display_name"), str):
        kept["kernelspec"] = {key: value for key, value in kernelspec.items()
                              if key in ("name", "display_name") or (key == "language" and isinstance(value, str))}
    elif language is None or language in PYTHON_LANGUAGES:
        kept["kernelspec"] = dict(PYTHON_KERNELSPEC)
    info = metadata.get("language_info")
    if isinstance(info, dict) and isinstance(info.get("name"), str):
        kept["language_info"] = {key: value for key, value in info.items()
                                 if (key in _LANGUAGE_INFO_TEXTS and isinstance(value, str))
                                 or (key == "codemirror_mode" and isinstance(value, (str, dict)))}
    elif "kernelspec" in kept and kept["kernelspec"]["name"] == PYTHON_KERNELSPEC["name"]:
        kept["language_info"] = {"name": "python"}
    return kept


def find_notebook(conn: sqlite3.Connection, notebook: str | int | Path) -> int:
    """The id of a loaded notebook: given by its id, or its path (as a file path, or as stored)."""
    text = os.fspath(notebook) if isinstance(notebook, Path) else str(notebook)
    if re.fullmatch(r"[0-9]{1,18}", text):
        if conn.execute("SELECT 1 FROM notebooks WHERE id = ?", [int(text)]).fetchone():
            return int(text)
    from ..walk import resolved

    absolute = resolved(text).replace(os.sep, "/")
    for (root,) in conn.execute("SELECT DISTINCT root FROM notebooks"):
        prefix = root.replace(os.sep, "/").rstrip("/") + "/"
        if absolute.startswith(prefix):
            found = conn.execute("SELECT id FROM notebooks WHERE root = ? AND path = ?",
                                 [root, absolute[len(prefix):]]).fetchone()
            if found:
                return found[0]
    stored = conn.execute("SELECT id FROM notebooks WHERE path = ? LIMIT 2", [text.replace(os.sep, "/")]).fetchall()
    if len(stored) == 1:
        return stored[0][0]
    if stored:
        raise NbsqlError(f"several loaded notebooks have the path {text!r} (under different roots): "
                         "give its full path or its id")
    raise NbsqlError(f"no loaded notebook {text!r}: give a notebook's path as loaded, or its id "
                     "(the notebooks table)")


def read_slice(conn: sqlite3.Connection, notebook: int, position: int) -> CellSlice:
    """The slice of the cell at ``position`` of notebook ``notebook`` (an id), from the database."""
    found = conn.execute("SELECT root, path, language, metadata, cell_count FROM notebooks WHERE id = ?",
                         [notebook]).fetchone()
    if found is None:
        raise NbsqlError(f"no notebook with id {notebook}")
    root, path, language, metadata, count = found
    cell = conn.execute("SELECT cell_type, source, parse_error, sloc FROM cells WHERE notebook = ? AND position = ?",
                        [notebook, position]).fetchone()
    if cell is None:
        raise NbsqlError(f"{path} has no cell {position}: it has {count} cells, numbered from 0")
    cell_type, source, parse_error, sloc = cell
    if cell_type != "code":
        raise NbsqlError(f"cell {position} of {path} is a {cell_type} cell: only code cells have a slice")
    if language is not None and language not in PYTHON_LANGUAGES:
        raise NbsqlError(f"{path} is not a Python notebook (its language is {language}): nbsql finds the "
                         "dependencies of Python cells only")
    if parse_error is not None:
        raise NbsqlError(f"cell {position} of {path} does not parse ({parse_error}): its dependencies are unknown")
    if sloc is None and (source or "").strip():
        raise NbsqlError(f"cell {position} of {path} is not Python (a cell magic): its dependencies are unknown")
    needs: dict[int, list[int]] = {}
    direct: dict[str, int] = {}
    for user, needed, name in conn.execute(
            "SELECT c.position, d.position, x.name FROM cell_dependencies x JOIN cells c ON c.id = x.cell "
            "JOIN cells d ON d.id = x.depends_on WHERE c.notebook = ?", [notebook]):
        needs.setdefault(user, []).append(needed)
        if user == position:
            direct[name] = needed
    positions = closure(needs, position)
    rows = conn.execute(f"SELECT position, source, cell_id, tags FROM cells WHERE notebook = ? AND position IN "
                        f"({', '.join('?' * len(positions))}) ORDER BY position", [notebook, *positions]).fetchall()
    cells = tuple(SliceCell(p, s or "", i, _tags(t)) for p, s, i, t in rows)
    return CellSlice(notebook, root, path, position, cells, direct,
                     run_metadata(_json(metadata), language))


def _json(text: str | None) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def _tags(text: str | None) -> tuple[str, ...]:
    tags = _json(text)
    return tuple(t for t in tags if isinstance(t, str)) if isinstance(tags, list) else ()


def cell_slice(notebook: str | int | Path, cell: int, db: str | Path | None = None) -> CellSlice:
    """The slice of a loaded notebook's cell: ``notebook`` is its path as loaded (or as stored) or
    its id, ``cell`` the cell's 0-based position over all cells. :meth:`CellSlice.ipynb` gives it
    as a notebook that runs top to bottom (when the slice does)."""
    from ..database import connect

    with closing(connect(db)) as conn:
        conn.row_factory = None
        return read_slice(conn, find_notebook(conn, notebook), cell)
