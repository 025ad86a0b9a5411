"""Full-text and regular-expression search over cells, for the command line and the plugin."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from contextlib import closing
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from .database import NbsqlError, connect
from .schema import FTS_TABLE
from .walk import is_text


@dataclass(frozen=True)
class Hit:
    """A matching cell with an excerpt; ``highlights`` are (line index, start, end) in ``excerpt``."""

    notebook: int
    path: str
    position: int
    cell_id: str | None
    cell_type: str
    first_line: int  # 1-based line of the cell where the excerpt starts
    excerpt: list[str]
    highlights: list[tuple[int, int, int]]
    score: float | None = None

    def to_json(self) -> dict:
        return asdict(self)


def fts_query(text: str) -> str:
    """A safe FTS5 query: the words of ``text``, each quoted, all required (prefix with a trailing *)."""
    words = re.findall(r"[\w*]+", text, re.UNICODE)
    return " ".join(f'"{w.rstrip("*")}"' + ("*" if w.endswith("*") else "") for w in words if w.rstrip("*"))


def match_query(text: str | None) -> str:
    """``text`` as an FTS5 query: itself when it is valid FTS5 syntax (phrases, prefix*, OR, NOT,
    column:...), else its words (:func:`fts_query`); an empty text matches nothing. The canned
    searches call it as the SQL function ``nbsql_match`` (see the Datasette plugin)."""
    text = (text or "").strip()
    if not text:
        return '""'
    return text if _valid_fts5(text) else (fts_query(text) or '""')


@lru_cache(maxsize=256)
def _valid_fts5(text: str) -> bool:
    with _PROBE_LOCK:
        try:
            _PROBE.execute("SELECT 1 FROM probe WHERE probe MATCH ?", (text,)).fetchall()
        except sqlite3.Error:  # FTS5 syntax errors are OperationalError
            return False
    return True


#: An empty FTS5 table with the index's columns, where a query's syntax is tried.
_PROBE = sqlite3.connect(":memory:", check_same_thread=False)
_PROBE.execute("CREATE VIRTUAL TABLE probe USING fts5(source, outputs)")
_PROBE_LOCK = threading.Lock()


def search(query: str, db: str | Path | None = None, *, cell_type: str | None = None, regex: bool = False,
           path: str | None = None, tag: str | None = None, language: str | None = None,
           has_error: bool | None = None, limit: int = 20, context: int = 2) -> list[Hit]:
    """Cells matching ``query`` (FTS5 over sources and outputs, ranked; or a regex over sources)."""
    with closing(connect(db)) as conn:
        return search_connection(conn, query, cell_type=cell_type, regex=regex, path=path, tag=tag,
                                 language=language, has_error=has_error, limit=limit, context=context)


def search_connection(conn: sqlite3.Connection, query: str, *, cell_type: str | None = None, regex: bool = False,
                      path: str | None = None, tag: str | None = None, language: str | None = None,
                      has_error: bool | None = None, limit: int = 20, context: int = 2) -> list[Hit]:
    for what, text in (("query", query), ("path", path), ("tag", tag), ("language", language)):
        if text is not None and not is_text(text):
            raise NbsqlError(f"the {what} is not valid UTF-8")
    filters, params = _filters(cell_type, path, tag, language, has_error)
    if regex:
        try:
            pattern = re.compile(query, re.MULTILINE)
        except (re.error, OverflowError) as exc:  # a repeat count too large for the engine overflows
            raise NbsqlError(f"invalid regular expression: {exc}") from None
        return _regex_search(conn, pattern, filters, params, limit, context)
    terms = fts_query(query)
    if not terms:
        raise NbsqlError("the search has no words")
    sql = (f"SELECT c.notebook, n.path, c.position, c.cell_id, c.cell_type, c.source, bm25({FTS_TABLE}) AS score "
           f"FROM {FTS_TABLE} JOIN cells c ON c.id = {FTS_TABLE}.rowid JOIN notebooks n ON n.id = c.notebook "
           f"WHERE {FTS_TABLE} MATCH ? {filters} ORDER BY score LIMIT ?")
    words = [w.strip('"*').lower() for w in terms.split()]
    pattern = re.compile("|".join(rf"\b{re.escape(w)}" for w in words), re.IGNORECASE)
    hits = []
    for notebook, shown, position, cell_id, kind, source, score in conn.execute(sql, [terms, *params, limit]):
        hits.append(_hit(notebook, shown, position, cell_id, kind, source, pattern, context, round(score, 3)))
    return hits


def _filters(cell_type, path, tag, language, has_error) -> tuple[str, list]:
    clauses, params = [], []
    if cell_type:
        clauses.append("c.cell_type = ?")
        params.append(cell_type)
    if path:
        clauses.append("n.path GLOB ?")
        params.append(path if any(ch in path for ch in "*?[") else f"*{path}*")
    if tag:
        clauses.append("EXISTS (SELECT 1 FROM json_each(c.tags) WHERE value = ?)")
        params.append(tag)
    if language:
        clauses.append("n.language = ?")
        params.append(language.lower())
    if has_error is not None:
        clauses.append(("" if has_error else "NOT ") +
                       "EXISTS (SELECT 1 FROM outputs o WHERE o.cell = c.id AND o.output_type = 'error')")
    return "".join(f" AND {c}" for c in clauses), params


def _regex_search(conn, pattern: re.Pattern, filters: str, params: list, limit: int, context: int) -> list[Hit]:
    sql = ("SELECT c.notebook, n.path, c.position, c.cell_id, c.cell_type, c.source FROM cells c "
           f"JOIN notebooks n ON n.id = c.notebook WHERE 1 = 1 {filters} ORDER BY n.path, c.position")
    hits = []
    for notebook, shown, position, cell_id, kind, source in conn.execute(sql, params):
        if source and pattern.search(source):
            hits.append(_hit(notebook, shown, position, cell_id, kind, source, pattern, context, None))
            if len(hits) >= limit:
                break
    return hits


def _hit(notebook, path, position, cell_id, kind, source, pattern, context, score) -> Hit:
    lines = (source or "").splitlines() or [""]
    matching = [i for i, line in enumerate(lines) if pattern.search(line)]
    first = matching[0] if matching else 0  # a match in the outputs only: show the top of the cell
    start, end = max(0, first - context), min(len(lines), first + context + 1)
    excerpt = lines[start:end]
    highlights = [(i, m.start(), m.end()) for i, line in enumerate(excerpt) for m in pattern.finditer(line)
                  if m.end() > m.start()]
    return Hit(notebook, path, position, cell_id, kind, start + 1, excerpt, highlights, score)


def render_text(hits: list[Hit], color: bool = False) -> str:
    import click

    out = []
    for hit in hits:
        label = f"{hit.path}:cell {hit.position}"
        out.append((click.style(label, bold=True) if color else label) + f" [{hit.cell_type}]")
        for index, line in enumerate(hit.excerpt):
            marks = sorted((s, e) for i, s, e in hit.highlights if i == index)
            shown, cursor = "", 0
            for start, end in marks:
                if start < cursor:
                    continue
                shown += line[cursor:start] + (click.style(line[start:end], fg="red", bold=True) if color
                                               else f"[{line[start:end]}]")
                cursor = end
            out.append(f"  {hit.first_line + index:4}: {shown + line[cursor:]}")
    out.append(f"{len(hits)} cell(s) found.")
    return "\n".join(out) + "\n"


def render_json(hits: list[Hit]) -> str:
    return json.dumps([h.to_json() for h in hits], indent=2, ensure_ascii=False) + "\n"

