"""Running a search: candidate cells from SQLite, exact checks, copies grouped, true totals.

Every search answers in bounded time: its query is bounded (:mod:`.query`), and the whole search
stops with an :class:`NbsqlError` at its time limit (``timeout``, :data:`DEFAULT_TIMEOUT`
seconds), checked by SQLite's progress handler and by the loop over cells.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, replace
from heapq import nsmallest
from operator import attrgetter
from pathlib import Path
from typing import NamedTuple

from ..database import connect
from ..errors import NbsqlError, TimeLimitReached
from ..schema import FTS_TABLE
from ..walk import is_text
from .excerpt import Hit, hit_of
from .filters import Filters
from .query import Query, Regex, compile_regex, parse_query

#: Seconds a search may take unless told otherwise (``nbsql search --timeout``).
DEFAULT_TIMEOUT = 5.0


#: A search that matches more cells than this does not count the notebooks holding them: that
#: count needs every matching cell, where the rest of a search reads each distinct text once.
NOTEBOOK_COUNT_LIMIT = 20_000


@dataclass(frozen=True)
class Results:
    """One page of a search's results, with the true totals: every matching cell (copies
    included), the notebooks holding them (None past :data:`NOTEBOOK_COUNT_LIMIT` cells), and the
    results they make (copies of a cell are one)."""

    query: str
    total_cells: int
    total_notebooks: int | None
    total_results: int
    offset: int
    hits: list[Hit]


class _Match(NamedTuple):
    """A matching cell (a named tuple: a common word matches tens of thousands of cells)."""

    cell: int
    notebook: int
    position: int
    copies_of: str | int  # what its copies share: its source_hash, else its text (cells.text)
    text: int
    mtime: float | None
    path: str
    score: float | None

    @property
    def age(self) -> tuple[float, str, int]:
        return (math.inf if self.mtime is None else self.mtime, self.path, self.position)


@dataclass(slots=True)
class _Group:
    """One result: a cell and its copies that match, with their best score and lowest text id
    (its rank: by score, then that id); ``first`` is their oldest copy, found only when the
    result is shown if the search read texts, not cells."""

    score: float
    lowest: int
    texts: list[int]
    first: _Match | None = None

    def add(self, text: int, score: float) -> None:
        self.texts.append(text)
        self.score = min(self.score, score)
        self.lowest = min(self.lowest, text)


_RANK = attrgetter("score", "lowest")


#: Columns of a :class:`_Match` from ``cells c JOIN notebooks n``.
_MATCH_COLUMNS = "c.id, c.notebook, c.position, coalesce(c.source_hash, c.text), c.text, n.mtime, n.path"


def search(query: str, db: str | Path | None = None, *, filters: Filters | None = None, regex: bool = False,
           limit: int = 20, offset: int = 0, context: int = 2, timeout: float = DEFAULT_TIMEOUT) -> Results:
    """Cells matching ``query`` (:func:`~nbsql.search.query.parse_query`: words, phrases, prefixes
    and code as written; ranked by FTS5's bm25) or, with ``regex``, an RE2 regular expression
    (:func:`~nbsql.search.query.compile_regex`), in sources and output texts, narrowed by
    ``filters``; an empty query with filters lists the cells they keep. Copies of a cell (the same
    ``source_hash``, else the same text) are one hit, its oldest copy. Past ``timeout`` seconds the
    search stops with an :class:`NbsqlError`."""
    with closing(connect(db)) as conn:
        return search_connection(conn, query, filters=filters, regex=regex, limit=limit, offset=offset,
                                 context=context, timeout=timeout)


def search_connection(conn: sqlite3.Connection, query: str, *, filters: Filters | None = None,
                      regex: bool = False, limit: int = 20, offset: int = 0, context: int = 2,
                      timeout: float = DEFAULT_TIMEOUT) -> Results:
    """:func:`search` on an open connection (whose progress handler it sets, then clears)."""
    filters = filters or Filters()
    if not timeout > 0:  # NaN too
        raise NbsqlError(f"the time limit must be a positive number of seconds, not {timeout}")
    if limit < 0 or offset < 0:
        raise NbsqlError("the number of results and the offset cannot be negative")
    with _time_limit(conn, timeout) as check:
        pattern = _pattern(query, filters, regex)
        if isinstance(pattern, Query) and not filters:  # each distinct text once
            groups, total_results, total_cells, total_notebooks = _text_groups(conn, pattern, offset + limit, check)
        else:
            matches = _matches(conn, pattern, filters, check)
            groups = _grouped(matches, ranked=isinstance(pattern, Query))
            total_results, total_cells, total_notebooks = len(groups), len(matches), len({m.notebook for m in matches})
        shown_by = pattern if pattern is not None else _focus(filters)
        hits = []
        for group in groups[offset:offset + limit]:
            check()
            first = group.first or _oldest(conn, group.texts)
            score = group.score if isinstance(pattern, Query) else None
            hit = hit_of(conn, first.cell, _copies(conn, first), score, shown_by, context)
            hits.append(hit if pattern is not None else replace(hit, match_in=None))
    return Results(query, total_cells, total_notebooks, total_results, offset, hits)


def matching_cells(conn: sqlite3.Connection, query: str, *, filters: Filters | None = None, regex: bool = False,
                   timeout: float = DEFAULT_TIMEOUT) -> list[tuple[int, int, int]]:
    """Every cell that matches, as :func:`search` finds them, copies included: (cells.id, notebook,
    position), by path and position."""
    filters = filters or Filters()
    with _time_limit(conn, timeout) as check:
        matches = _matches(conn, _pattern(query, filters, regex), filters, check)
    return [(m.cell, m.notebook, m.position) for m in sorted(matches, key=lambda m: (m.path, m.position))]


def _focus(filters: Filters) -> Query | Regex | None:
    """What a search by filters alone shows of a cell: the name it defines or calls, or its error."""
    name = filters.defines or filters.calls
    if name:
        try:
            return parse_query(name)
        except NbsqlError:
            return None
    return compile_regex(r"\w*(?:Error|Exception)\b") if filters.has_error else None


def _pattern(query: str, filters: Filters, regex: bool) -> Regex | Query | None:
    """What a cell's text must match: an RE2 pattern, a parsed query, or nothing (filters only)."""
    if not is_text(query):
        raise NbsqlError("the query is not valid UTF-8")
    if regex:
        return compile_regex(query)
    return parse_query(query) if query.strip() or not filters else None


def _text_groups(conn: sqlite3.Connection, pattern: Query, wanted: int,
                 check: Callable[[], None]) -> tuple[list[_Group], int, int, int | None]:
    """The first ``wanted`` results of a search without filters, by rank, read from the distinct
    texts that match (each once, however many cells hold it); how many results there are, the
    matching cells, and the notebooks holding them (None past :data:`NOTEBOOK_COUNT_LIMIT` cells)."""
    exact = pattern.exact
    columns = ", f.source, f.outputs" if exact else ""
    rows = conn.execute(f"SELECT f.rowid, bm25({FTS_TABLE}), coalesce(t.source_hash, t.id), t.cells{columns} "
                        f"FROM {FTS_TABLE} f JOIN cell_texts t ON t.id = f.rowid WHERE {FTS_TABLE} MATCH ?",
                        [pattern.fts])
    groups: dict[object, _Group] = {}
    texts, cells = [], 0
    for row in _checked(rows, check) if exact else rows:
        text, score, copies_of, count = row[:4]
        if exact and not _as_written(pattern, row[4], row[5]):
            continue
        texts.append(text)
        cells += count
        group = groups.get(copies_of)
        if group is None:
            groups[copies_of] = _Group(score, text, [text])
        else:
            group.add(text, score)
    notebooks = None
    if cells <= NOTEBOOK_COUNT_LIMIT:
        notebooks = conn.execute("SELECT count(DISTINCT notebook) FROM cells WHERE text IN "
                                 "(SELECT value FROM json_each(?))", [json.dumps(texts)]).fetchone()[0]
    return nsmallest(wanted, groups.values(), key=_RANK), len(groups), cells, notebooks


def _oldest(conn: sqlite3.Connection, texts: list[int]) -> _Match:
    """The oldest cell holding one of ``texts`` (earliest mtime, then path and position)."""
    rows = conn.execute(f"SELECT {_MATCH_COLUMNS}, NULL FROM cells c JOIN notebooks n ON n.id = c.notebook "
                        "WHERE c.text IN (SELECT value FROM json_each(?))", [json.dumps(sorted(texts))])
    return min((_Match(*row) for row in rows), key=lambda match: match.age)


def _matches(conn: sqlite3.Connection, pattern: Regex | Query | None, filters: Filters,
             check: Callable[[], None]) -> list[_Match]:
    """Every cell that matches and that ``filters`` keep, in no particular order."""
    where, params = filters.sql(names=_has_table(conn, "cell_names"))
    cells = "cells c JOIN notebooks n ON n.id = c.notebook"
    indexed = f"{FTS_TABLE} JOIN cells c ON c.text = {FTS_TABLE}.rowid JOIN notebooks n ON n.id = c.notebook"
    if isinstance(pattern, Query) and not pattern.exact:
        sql = f"SELECT {_MATCH_COLUMNS}, bm25({FTS_TABLE}) FROM {indexed} WHERE {FTS_TABLE} MATCH ?{where}"
        return [_Match(*row) for row in conn.execute(sql, [pattern.fts, *params])]
    if isinstance(pattern, Query):  # candidates from the index, then each code term as written
        sql = (f"SELECT {_MATCH_COLUMNS}, bm25({FTS_TABLE}), c.source, {FTS_TABLE}.outputs FROM {indexed} "
               f"WHERE {FTS_TABLE} MATCH ?{where}")
        return [_Match(*row[:8]) for row in _checked(conn.execute(sql, [pattern.fts, *params]), check)
                if _as_written(pattern, row[8], row[9])]
    if pattern is None:
        sql = f"SELECT {_MATCH_COLUMNS}, NULL FROM {cells} WHERE 1 = 1{where}"
        return [_Match(*row) for row in conn.execute(sql, params)]
    sql = (f"SELECT {_MATCH_COLUMNS}, NULL, c.source, f.outputs FROM {cells} "
           f"LEFT JOIN {FTS_TABLE} f ON f.rowid = c.text WHERE 1 = 1{where}")
    return [_Match(*row[:8]) for row in _checked(conn.execute(sql, params), check)
            if pattern.search(row[8] or "") or pattern.search(row[9] or "")]


def _as_written(pattern: Query, source: str | None, outputs: str | None) -> bool:
    """Whether each code term of ``pattern`` is in the source or the output text as written."""
    return all(term.found_in(source or "") or term.found_in(outputs or "") for term in pattern.exact)


def _checked(rows: Iterable[tuple], check: Callable[[], None]) -> Iterator[tuple]:
    """``rows``, checking the time limit before each."""
    for row in rows:
        check()
        yield row


def _grouped(matches: list[_Match], ranked: bool) -> list[_Group]:
    """Matches grouped by what copies share (``source_hash``, else the text): each group's oldest
    copy (earliest mtime, then path) with the group's best score; by rank when ``ranked``, else by
    the oldest copy's path and position."""
    groups: dict[object, _Group] = {}
    for match in matches:
        score = match.score or 0.0
        group = groups.get(match.copies_of)
        if group is None:
            groups[match.copies_of] = _Group(score, match.text, [match.text], match)
        else:
            group.add(match.text, score)
            if group.first is not None and match.age < group.first.age:
                group.first = match
    if ranked:
        return sorted(groups.values(), key=_RANK)
    return sorted(groups.values(), key=lambda group: group.first.age[1:])  # type: ignore[union-attr]


def _copies(conn: sqlite3.Connection, match: _Match) -> int:
    """How many other notebooks hold a copy of the match's cell (the same ``source_hash``, else
    the same text)."""
    column = "text" if isinstance(match.copies_of, int) else "source_hash"
    return conn.execute(f"SELECT COUNT(DISTINCT notebook) FROM cells WHERE {column} = ? AND notebook != ?",
                        (match.copies_of, match.notebook)).fetchone()[0]


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None


@contextmanager
def _time_limit(conn: sqlite3.Connection, seconds: float) -> Iterator[Callable[[], None]]:
    """Within the block, SQLite stops (its progress handler) and the ``check()`` it yields raises
    an :class:`NbsqlError` once ``seconds`` have passed."""
    deadline = time.monotonic() + seconds
    message = (f"the search stopped at its time limit of {seconds:g} s: narrow it (--path, --type...) or "
               "allow more time (--timeout)")

    def check() -> None:
        if time.monotonic() > deadline:
            raise TimeLimitReached(message)

    conn.set_progress_handler(lambda: time.monotonic() > deadline, 1000)  # every 1000 VM instructions
    try:
        yield check
    except sqlite3.OperationalError as exc:
        if str(exc) == "interrupted":
            raise TimeLimitReached(message) from None
        raise
    finally:
        conn.set_progress_handler(None, 0)
