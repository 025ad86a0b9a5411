"""A search hit: where in the cell the match is, the lines around it, and the matches marked."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from itertools import islice

from ..schema import FTS_TABLE
from .query import Query, Regex, fold

#: Matches looked at for an excerpt's highlights (an empty match can be found at every character).
MAX_HIGHLIGHTS = 1000
#: The longest excerpt line (characters): a longer one is shown around its first match.
MAX_LINE = 300


@dataclass(frozen=True)
class ExcerptLine:
    """A line of an excerpt: from the cell's ``source`` or its ``outputs`` text, ``number`` 1-based there."""

    where: str
    number: int
    text: str


@dataclass(frozen=True)
class Hit:
    """A matching cell (the oldest of its copies) with an excerpt; ``highlights`` are (excerpt line,
    start, end); ``match_in``: ``source``, ``outputs``, ``both``, or None (a search by filters only);
    ``copies``: the other notebooks holding the same cell."""

    notebook: int
    path: str
    title: str | None
    position: int
    cell_id: str | None
    cell_type: str
    match_in: str | None
    excerpt: list[ExcerptLine]
    highlights: list[tuple[int, int, int]]
    copies: int
    score: float | None

    @property
    def url(self) -> str:
        """The cell on the notebook page (a path below Datasette's base URL)."""
        return f"/-/nbsql/notebooks/{self.notebook}#cell-{self.position}"

    def to_json(self) -> dict:
        return {"url": self.url, "notebook": self.notebook, "path": self.path, "title": self.title,
                "position": self.position, "cell_id": self.cell_id, "cell_type": self.cell_type,
                "match_in": self.match_in,
                "excerpt": [{"in": line.where, "line": line.number, "text": line.text} for line in self.excerpt],
                "highlights": [list(mark) for mark in self.highlights], "copies": self.copies,
                "score": None if self.score is None else round(self.score, 3)}


def hit_of(conn: sqlite3.Connection, cell: int, copies: int, score: float | None,
           pattern: Query | Regex | None, context: int) -> Hit:
    """The hit of a matching ``cell`` (cells.id)."""
    notebook, path, title, position, cell_id, cell_type, source, outputs = conn.execute(
        f"SELECT c.notebook, n.path, n.title, c.position, c.cell_id, c.cell_type, c.source, f.outputs FROM cells c "
        f"JOIN notebooks n ON n.id = c.notebook LEFT JOIN {FTS_TABLE} f ON f.rowid = c.text WHERE c.id = ?",
        (cell,)).fetchone()
    texts = {"source": source or "", "outputs": outputs or ""}
    found = [where for where, text in texts.items() if pattern is not None and _found(pattern, text)]
    match_in = None if not found else found[0] if len(found) == 1 else "both"
    excerpt: list[ExcerptLine] = []
    highlights: list[tuple[int, int, int]] = []
    for where in found or ["source"]:
        lines = texts[where].splitlines() or [""]
        first = next((i for i, line in enumerate(lines) if pattern is not None and _found(pattern, line)), 0)
        for number in range(max(0, first - context), min(len(lines), first + context + 1)):
            marks = _marks(pattern, lines[number]) if pattern is not None else []
            text, marks = _clipped(lines[number], marks)
            highlights += [(len(excerpt), start, end) for start, end in marks]
            excerpt.append(ExcerptLine(where, number + 1, text))
    return Hit(notebook, path, title, position, cell_id, cell_type, match_in, excerpt, highlights[:MAX_HIGHLIGHTS],
               copies, score)


def _found(pattern: Query | Regex, text: str) -> bool:
    if isinstance(pattern, Query):
        return any(term.found_in(text) for term in pattern.terms)
    return pattern.search(text) is not None


def _marks(pattern: Query | Regex, line: str) -> list[tuple[int, int]]:
    """The non-empty matches in ``line`` (start, end), in order, not overlapping."""
    if isinstance(pattern, Query):
        folded = fold(line)
        spans = [m.span() for term in pattern.terms
                 for m in islice(term.pattern.finditer(folded if term.folded else line), MAX_HIGHLIGHTS)]
    else:
        spans = [m.span() for m in islice(pattern.finditer(line), MAX_HIGHLIGHTS)]
    marks: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if end > start and (not marks or start >= marks[-1][1]):
            marks.append((start, end))
    return marks


def _clipped(line: str, marks: list[tuple[int, int]]) -> tuple[str, list[tuple[int, int]]]:
    """A line of at most :data:`MAX_LINE` characters around its first mark (with '…' where it is
    cut), and the marks within."""
    if len(line) <= MAX_LINE:
        return line, marks
    start = max(0, min(marks[0][0] - MAX_LINE // 3 if marks else 0, len(line) - MAX_LINE))
    end = start + MAX_LINE
    before = "…" if start else ""
    shift = len(before) - start
    shown = [(s + shift, min(e, end) + shift) for s, e in marks if start <= s < end]
    return before + line[start:end] + ("…" if end < len(line) else ""), shown
