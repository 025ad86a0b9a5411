"""Running a search: candidate cells from SQLite, exact checks, copies grouped, true totals.

Every search answers in bounded time: its query is bounded (:mod:`.query`), and the whole search
stops with an :class:`NbsqlError` at its time limit (``timeout``, :data:`DEFAULT_TIMEOUT`
seconds), checked by SQLite's progress handler and by the loop over cells.
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, replace
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


@dataclass(frozen=True)
class Results:
    """One page of a search's results, with the true totals: every matching cell (copies
    included), the notebooks holding them, and the results they make (copies of a cell are one)."""

    query: str
    total_cells: int
    total_notebooks: int
    total_results: int
    offset: int
    hits: list[Hit]


class _Match(NamedTuple):
    """A matching cell (a named tuple: a common word matches tens of thousands of cells)."""

    cell: int
    notebook: int
    position: int
    source_hash: str | None
    mtime: float | None
    path: str
    score: float | None

    @property
    def age(self) -> tuple[float, str, int]:
        return (math.inf if self.mtime is None else self.mtime, self.path, self.position)


def search(query: str, db: str | Path | None = None, *, filters: Filters | None = None, regex: bool = False,
           limit: int = 20, offset: int = 0, context: int = 2, timeout: float = DEFAULT_TIMEOUT) -> Results:
    """Cells matching ``query`` (:func:`~nbsql.search.query.parse_query`: words, phrases, prefixes
    and code as written; ranked by FTS5's bm25) or, with ``regex``, an RE2 regular expression
    (:func:`~nbsql.search.query.compile_regex`), in sources and output texts, narrowed by
    ``filters``; an empty query with filters lists the cells they keep. Copies of a cell (the same
    ``source_hash``) are one hit, its oldest copy. Past ``timeout`` seconds the search stops with an
    :class:`NbsqlError`."""
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
        pattern, matches = _find(conn, query, filters, regex, check)
        groups = _grouped(matches, ranked=isinstance(pattern, Query))
        shown_by = pattern if pattern is not None else _focus(filters)
        hits = []
        for first, _ in groups[offset:offset + limit]:
            check()
            hit = hit_of(conn, first.cell, _copies(conn, first), first.score, shown_by, context)
            hits.append(hit if pattern is not None else replace(hit, match_in=None))
    return Results(query, len(matches), len({m.notebook for m in matches}), len(groups), offset, hits)


def matching_cells(conn: sqlite3.Connection, query: str, *, filters: Filters | None = None, regex: bool = False,
                   timeout: float = DEFAULT_TIMEOUT) -> list[tuple[int, int, int]]:
    """Every cell that matches, as :func:`search` finds them, copies included: (cells.id, notebook,
    position), by path and position."""
    with _time_limit(conn, timeout) as check:
        matches = _find(conn, query, filters or Filters(), regex, check)[1]
    return [(m.cell, m.notebook, m.position) for m in sorted(matches, key=lambda m: (m.path, m.position))]


def _find(conn: sqlite3.Connection, query: str, filters: Filters, regex: bool,
          check: Callable[[], None]) -> tuple[Query | Regex | None, list[_Match]]:
    """What the cells' text must match, and every cell that matches."""
    pattern = _pattern(query, filters, regex)
    where, params = filters.sql(names=_has_table(conn, "cell_names"))
    return pattern, _matches(conn, pattern, where, params, check)


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


def _matches(conn: sqlite3.Connection, pattern: Regex | Query | None, where: str, params: list,
             check: Callable[[], None]) -> list[_Match]:
    """Every cell that matches, in no particular order."""
    columns = "c.id, c.notebook, c.position, c.source_hash, n.mtime, n.path"
    if isinstance(pattern, Query) and not pattern.exact:
        sql = (f"SELECT {columns}, bm25({FTS_TABLE}) FROM {FTS_TABLE} JOIN cells c ON c.id = {FTS_TABLE}.rowid "
               f"JOIN notebooks n ON n.id = c.notebook WHERE {FTS_TABLE} MATCH ?{where}")
        return [_Match(*row) for row in conn.execute(sql, [pattern.fts, *params])]
    if isinstance(pattern, Query):  # candidates from the index, then each code term as written
        sql = (f"SELECT {columns}, bm25({FTS_TABLE}), c.source, {FTS_TABLE}.outputs FROM {FTS_TABLE} "
               f"JOIN cells c ON c.id = {FTS_TABLE}.rowid JOIN notebooks n ON n.id = c.notebook "
               f"WHERE {FTS_TABLE} MATCH ?{where}")
        exact = pattern.exact
        return [_Match(*row[:7]) for row in _checked(conn.execute(sql, [pattern.fts, *params]), check)
                if all(term.found_in(row[7] or "") or term.found_in(row[8] or "") for term in exact)]
    if pattern is None:
        sql = f"SELECT {columns}, NULL FROM cells c JOIN notebooks n ON n.id = c.notebook WHERE 1 = 1{where}"
        return [_Match(*row) for row in conn.execute(sql, params)]
    sql = (f"SELECT {columns}, NULL, c.source, f.outputs FROM cells c JOIN notebooks n ON n.id = c.notebook "
           f"LEFT JOIN {FTS_TABLE} f ON f.rowid = c.id WHERE 1 = 1{where}")
    return [_Match(*row[:7]) for row in _checked(conn.execute(sql, params), check)
            if pattern.search(row[7] or "") or pattern.search(row[8] or "")]


def _checked(rows: Iterable[tuple], check: Callable[[], None]) -> Iterator[tuple]:
    """``rows``, checking the time limit before each."""
    for row in rows:
        check()
        yield row


def _grouped(matches: list[_Match], ranked: bool) -> list[tuple[_Match, float]]:
    """Matches grouped by ``source_hash`` (a cell without one is alone): each group's oldest copy
    (earliest mtime, then path) with the group's best score; by that score when ``ranked``, else by
    path."""
    groups: dict[object, tuple[_Match, float]] = {}
    for match in matches:
        key = match.source_hash or match.cell
        score = match.score or 0.0
        known = groups.get(key)
        if known is None:
            groups[key] = (match, score)
        else:
            oldest, best = known
            groups[key] = (match if match.age < oldest.age else oldest, min(score, best))
    if ranked:
        return sorted(groups.values(), key=lambda group: (group[1], group[0].path, group[0].position))
    return sorted(groups.values(), key=lambda group: (group[0].path, group[0].position))


def _copies(conn: sqlite3.Connection, match: _Match) -> int:
    """How many other notebooks hold a copy of the match's cell (the same ``source_hash``)."""
    if match.source_hash is None:
        return 0
    return conn.execute("SELECT COUNT(DISTINCT notebook) FROM cells WHERE source_hash = ? AND notebook != ?",
                        (match.source_hash, match.notebook)).fetchone()[0]


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
