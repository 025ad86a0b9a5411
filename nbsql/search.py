"""Full-text and regular-expression search over cells, for the command line and the plugin.

Every search answers in bounded time: a full-text query has at most :data:`MAX_TERMS` distinct
words and :data:`MAX_QUERY_LENGTH` characters, a regular expression runs on RE2 (linear time, no
backtracking) with at most :data:`MAX_REGEX_PROGRAM` instructions (RE2's time is linear in the
text times the program: about a second per MB of cell at most), and the whole search stops with
an :class:`NbsqlError` at its time limit (``timeout``, :data:`DEFAULT_TIMEOUT` seconds), checked
by SQLite's progress handler and by the loop over cells.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass
from functools import lru_cache
from itertools import islice
from pathlib import Path

import re2

from .database import NbsqlError, connect
from .schema import FTS_TABLE
from .walk import is_text

#: The longest full-text query (characters) and the most distinct words it may have.
MAX_QUERY_LENGTH = 1000
MAX_TERMS = 64
#: The largest compiled regular expression (RE2 instructions; 'np\.random\.\w+\(' has 19).
MAX_REGEX_PROGRAM = 2000
#: Seconds a search may take unless told otherwise (``nbsql search --timeout``).
DEFAULT_TIMEOUT = 5.0
#: Matches looked at for an excerpt's highlights (an empty match can be found at every character).
MAX_HIGHLIGHTS = 1000


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
    """A safe FTS5 query: the words of ``text``, each quoted, all required (prefix with a trailing *).
    A repeated word (in any case) counts once, in the place it first appears; a text longer than
    :data:`MAX_QUERY_LENGTH` characters or with more than :data:`MAX_TERMS` distinct words is an
    :class:`NbsqlError`."""
    _check_length(text)
    terms: dict[tuple[str, bool], str] = {}
    for word in re.findall(r"[\w*]+", text):
        stem, prefix = word.rstrip("*"), word.endswith("*")
        if stem:
            terms.setdefault((stem.lower(), prefix), f'"{stem}"' + ("*" if prefix else ""))
    _check_terms(len(terms))
    return " ".join(terms.values())


def match_query(text: str | None) -> str:
    """``text`` as an FTS5 query: itself when it is valid FTS5 syntax (phrases, prefix*, OR, NOT,
    column:...), else its words (:func:`fts_query`); an empty text matches nothing. Either way it
    has the bounds of :func:`fts_query`, except that in FTS5 syntax every word counts, repeated or
    not (FTS5 evaluates each). The canned searches call it as the SQL function ``nbsql_match``
    (see the Datasette plugin)."""
    text = (text or "").strip()
    if not text:
        return '""'
    _check_length(text)  # before the probe, which parses the whole text
    if not _valid_fts5(text):
        return fts_query(text) or '""'
    _check_terms(sum(word not in _FTS5_OPERATORS for word in re.findall(r"\w+", text)), "words")
    return text


_FTS5_OPERATORS = frozenset({"AND", "OR", "NOT", "NEAR"})


def _check_length(text: str) -> None:
    if len(text) > MAX_QUERY_LENGTH:
        raise NbsqlError(f"the search text has {len(text):,} characters; at most {MAX_QUERY_LENGTH:,} are allowed")


def _check_terms(count: int, what: str = "distinct words") -> None:
    if count > MAX_TERMS:
        raise NbsqlError(f"the search has {count} {what}; at most {MAX_TERMS} are allowed")


@lru_cache(maxsize=256)
def _valid_fts5(text: str) -> bool:
    """Whether FTS5 parses ``text``: tried on an empty table, so only the parse takes time."""
    with _PROBE_LOCK:
        try:
            _probe().execute("SELECT 1 FROM probe WHERE probe MATCH ?", (text,)).fetchall()
        except sqlite3.Error:  # FTS5 syntax errors are OperationalError
            return False
    return True


@lru_cache(maxsize=1)
def _probe() -> sqlite3.Connection:
    """An empty in-memory FTS5 table with the index's columns, made at the first probe."""
    conn = sqlite3.connect(":memory:", check_same_thread=False)
    conn.execute("CREATE VIRTUAL TABLE probe USING fts5(source, outputs)")
    return conn


_PROBE_LOCK = threading.Lock()


def compile_regex(query: str) -> re2._Regexp:
    """``query`` compiled by RE2, with ^ and $ matching at each line as Python's re.MULTILINE.
    RE2 runs in time linear in the text; what it refuses (backreferences, lookaround, a repeat
    over 1000) is an :class:`NbsqlError`, and so is a pattern over :data:`MAX_QUERY_LENGTH`
    characters or :data:`MAX_REGEX_PROGRAM` instructions."""
    _check_length(query)
    options = re2.Options()
    options.log_errors = False  # RE2 would also print the error to stderr
    try:
        pattern = re2.compile("(?m)" + query, options)
    except re2.error:
        pass
    else:
        if pattern.programsize > MAX_REGEX_PROGRAM:
            raise NbsqlError(f"the regular expression is too large to match quickly ({pattern.programsize:,} RE2 "
                             f"instructions; at most {MAX_REGEX_PROGRAM:,}): use fewer or smaller repeats")
        return pattern
    try:  # again without the flag, for a message that quotes the query as given
        re2.compile(query, options)
        reason = "not accepted by RE2"
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if isinstance(exc.args[0], bytes) else str(exc)
    shown = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in reason[:200])  # one short line
    raise NbsqlError(f"invalid regular expression: {shown}{'...' if len(reason) > 200 else ''} (RE2 syntax: "
                     "no backreferences or lookaround)")


def search(query: str, db: str | Path | None = None, *, cell_type: str | None = None, regex: bool = False,
           path: str | None = None, tag: str | None = None, language: str | None = None,
           has_error: bool | None = None, limit: int = 20, context: int = 2,
           timeout: float = DEFAULT_TIMEOUT) -> list[Hit]:
    """Cells matching ``query``: FTS5 over sources and outputs, ranked (words, see :func:`fts_query`
    for the bounds), or with ``regex`` an RE2 regular expression over sources (:func:`compile_regex`).
    Past ``timeout`` seconds the search stops with an :class:`NbsqlError`."""
    with closing(connect(db)) as conn:
        return search_connection(conn, query, cell_type=cell_type, regex=regex, path=path, tag=tag,
                                 language=language, has_error=has_error, limit=limit, context=context,
                                 timeout=timeout)


def search_connection(conn: sqlite3.Connection, query: str, *, cell_type: str | None = None, regex: bool = False,
                      path: str | None = None, tag: str | None = None, language: str | None = None,
                      has_error: bool | None = None, limit: int = 20, context: int = 2,
                      timeout: float = DEFAULT_TIMEOUT) -> list[Hit]:
    """:func:`search` on an open connection (whose progress handler it sets, then clears)."""
    for what, text in (("query", query), ("path", path), ("tag", tag), ("language", language)):
        if text is not None and not is_text(text):
            raise NbsqlError(f"the {what} is not valid UTF-8")
    if not timeout > 0:  # NaN too
        raise NbsqlError(f"the time limit must be a positive number of seconds, not {timeout}")
    filters, params = _filters(cell_type, path, tag, language, has_error)
    if regex:
        pattern = compile_regex(query)
        with _time_limit(conn, timeout) as check:
            return _regex_search(conn, pattern, filters, params, limit, context, check)
    terms = fts_query(query)
    if not terms:
        raise NbsqlError("the search has no words")
    sql = (f"SELECT c.notebook, n.path, c.position, c.cell_id, c.cell_type, c.source, bm25({FTS_TABLE}) AS score "
           f"FROM {FTS_TABLE} JOIN cells c ON c.id = {FTS_TABLE}.rowid JOIN notebooks n ON n.id = c.notebook "
           f"WHERE {FTS_TABLE} MATCH ? {filters} ORDER BY score LIMIT ?")
    words = [w.strip('"*').lower() for w in terms.split()]
    pattern = re.compile("|".join(rf"\b{re.escape(w)}" for w in words), re.IGNORECASE)
    hits = []
    with _time_limit(conn, timeout) as check:
        for notebook, shown, position, cell_id, kind, source, score in conn.execute(sql, [terms, *params, limit]):
            check()
            hits.append(_hit(notebook, shown, position, cell_id, kind, source, pattern, context, round(score, 3)))
    return hits


@contextmanager
def _time_limit(conn: sqlite3.Connection, seconds: float) -> Iterator[Callable[[], None]]:
    """Within the block, SQLite stops (its progress handler) and the ``check()`` it yields raises
    an :class:`NbsqlError` once ``seconds`` have passed."""
    deadline = time.monotonic() + seconds
    message = (f"the search stopped at its time limit of {seconds:g} s: narrow it (--path, --type...) or "
               "allow more time (--timeout)")

    def check() -> None:
        if time.monotonic() > deadline:
            raise NbsqlError(message)

    conn.set_progress_handler(lambda: time.monotonic() > deadline, 1000)  # every 1000 VM instructions
    try:
        yield check
    except sqlite3.OperationalError as exc:
        if str(exc) == "interrupted":
            raise NbsqlError(message) from None
        raise
    finally:
        conn.set_progress_handler(None, 0)


def path_glob(path: str) -> str:
    """The GLOB pattern of a path filter (``--path``, the gallery's): ``path`` itself when it has a
    wildcard (``*``, ``?``, ``[``), else any path that contains it."""
    return path if any(ch in path for ch in "*?[") else f"*{path}*"


def _filters(cell_type, path, tag, language, has_error) -> tuple[str, list]:
    clauses, params = [], []
    if cell_type:
        clauses.append("c.cell_type = ?")
        params.append(cell_type)
    if path:
        clauses.append("n.path GLOB ?")
        params.append(path_glob(path))
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


def _regex_search(conn: sqlite3.Connection, pattern: re2._Regexp, filters: str, params: list, limit: int,
                  context: int, check: Callable[[], None]) -> list[Hit]:
    sql = ("SELECT c.notebook, n.path, c.position, c.cell_id, c.cell_type, c.source FROM cells c "
           f"JOIN notebooks n ON n.id = c.notebook WHERE 1 = 1 {filters} ORDER BY n.path, c.position")
    hits = []
    for notebook, shown, position, cell_id, kind, source in conn.execute(sql, params):
        check()
        if source and pattern.search(source):
            hits.append(_hit(notebook, shown, position, cell_id, kind, source, pattern, context, None))
            if len(hits) >= limit:
                break
    return hits


def _hit(notebook, path, position, cell_id, kind, source, pattern, context, score) -> Hit:
    lines = (source or "").splitlines() or [""]
    first = next((i for i, line in enumerate(lines) if pattern.search(line)), 0)  # 0: a match in outputs only
    start, end = max(0, first - context), min(len(lines), first + context + 1)
    excerpt = lines[start:end]
    found = ((i, m.start(), m.end()) for i, line in enumerate(excerpt) for m in pattern.finditer(line))
    highlights = [(i, s, e) for i, s, e in islice(found, MAX_HIGHLIGHTS) if e > s]
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

