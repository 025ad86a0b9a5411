"""What a user types, made safe to run: full-text terms (words, prefixes, phrases and code as
written), FTS5 syntax for the canned queries, and RE2 regular expressions.

Every query is bounded: at most :data:`MAX_TERMS` distinct words and :data:`MAX_QUERY_LENGTH`
characters; a regular expression runs on RE2 (linear time, no backtracking) with at most
:data:`MAX_REGEX_PROGRAM` instructions (RE2's time is linear in the text times the program).
"""

from __future__ import annotations

import re
import sqlite3
import threading
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

import re2

from ..errors import NbsqlError

#: The longest full-text query (characters) and the most distinct words it may have.
MAX_QUERY_LENGTH = 1000
MAX_TERMS = 64
#: The largest compiled regular expression (RE2 instructions; 'np\.random\.\w+\(' has 19).
MAX_REGEX_PROGRAM = 2000
#: The parts of a word as FTS5's unicode61 tokenizer splits text (``_`` separates them too).
_WORD = re.compile(r"[^\W_]+")
#: A term of a search text: a "quoted phrase" (closed before a space or the end), or anything else.
_TERM = re.compile(r'"([^"]*)"(?=\s|$)|(\S+)')


@dataclass(frozen=True)
class Term:
    """One term of a search: what FTS5 is asked (``fts``), and how its matches are found in a
    cell's text: ``pattern`` on the text itself (code, as written), or on its folded form
    (:func:`fold`: words, as FTS5 matches them)."""

    fts: str
    pattern: re.Pattern[str]
    folded: bool

    def found_in(self, text: str) -> bool:
        return self.pattern.search(fold(text) if self.folded else text) is not None


@dataclass(frozen=True)
class Query:
    """A parsed search text (:func:`parse_query`): all its terms are required."""

    text: str
    terms: tuple[Term, ...]

    @property
    def fts(self) -> str:
        return " ".join(term.fts for term in self.terms)

    @property
    def exact(self) -> tuple[Term, ...]:
        """The terms FTS5 only approximates (code): a candidate cell must hold each, as written."""
        return tuple(term for term in self.terms if not term.folded)


def parse_query(text: str) -> Query:
    """Parse a search text. Terms are separated by spaces and all required:

    * ``word`` matches the word in any case and accents, also as part of an identifier
      (``csv`` finds ``read_csv``); ``word*`` matches words that start with it;
    * ``"a phrase"`` matches its words in that order;
    * any other term is code, matched as written, not inside a longer name: ``read_csv`` (not
      ``read.csv``), ``pd.read_csv``, ``@time``, ``%timeit``, ``!pip``, ``library(dplyr)``; in any
      case unless it holds a capital letter. ``read_*`` matches names that start with ``read_``;
    * a term with no letter or digit (``=``, ``->``) is left out.

    At most :data:`MAX_TERMS` distinct words and :data:`MAX_QUERY_LENGTH` characters; an
    unbalanced quote, or a text with no letter or digit, is an :class:`NbsqlError`.
    """
    _check_length(text)
    terms: dict[str, Term] = {}
    words: set[str] = set()
    for match in _TERM.finditer(text):
        phrase, chunk = match.groups()
        if chunk is not None and chunk.startswith('"') and '"' not in chunk[1:]:
            raise NbsqlError(f"unbalanced quote in the search at {chunk!r}: end the phrase with a \"")
        term = _phrase(phrase) if phrase is not None else _term(chunk)
        if term is not None:
            terms.setdefault(term.pattern.pattern + term.fts, term)
            words.update(w.lower() for w in _WORD.findall(term.fts))
    _check_terms(len(words))
    if not terms:
        raise NbsqlError("the search has no words: give letters or digits to search for, or search it as a "
                         "regular expression")
    return Query(text, tuple(terms.values()))


def _phrase(text: str) -> Term | None:
    words = [fold(word) for word in _WORD.findall(text)]
    if not words:
        return None
    between = r"[\W_]+"
    return Term(f'"{" ".join(words)}"', re.compile(r"(?<![^\W_])" + between.join(map(re.escape, words)) +
                                                   r"(?![^\W_])", re.IGNORECASE), folded=True)


def _term(text: str) -> Term | None:
    prefix = text.endswith("*")
    core = text.rstrip("*")
    words = _WORD.findall(core)
    if not words:  # '=', '->': nothing the index can find; the other terms still count
        return None
    if _WORD.fullmatch(core):
        end = r"[^\W_]*" if prefix else r"(?![^\W_])"
        return Term(f'"{fold(core)}"' + ("*" if prefix else ""),
                    re.compile(rf"(?<![^\W_]){re.escape(fold(core))}{end}", re.IGNORECASE), folded=True)
    last_is_prefix = prefix and _WORD.fullmatch(core[-1]) is not None
    fts = f'"{" ".join(fold(word) for word in words)}"' + ("*" if last_is_prefix else "")
    start = r"(?<!\w)" if re.match(r"\w", core) else ""
    end = r"\w*" if prefix else r"(?!\w)" if re.match(r"\w", core[-1]) else ""
    flags = 0 if any(ch.isupper() for ch in core) else re.IGNORECASE
    return Term(fts, re.compile(start + re.escape(core) + end, flags), folded=False)


class _Folding(dict):
    """A :meth:`str.translate` table that learns each character's letter without its accent."""

    def __missing__(self, code: int) -> int:
        self[code] = ord(unicodedata.normalize("NFD", chr(code))[0])
        return self[code]


_FOLDING = _Folding()


def fold(text: str) -> str:
    """``text`` without accents, a character for a character (so positions stay), as FTS5's
    ``remove_diacritics`` compares words."""
    return text if text.isascii() else text.translate(_FOLDING)


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


class Regex(Protocol):
    """A compiled RE2 pattern, as the search uses it."""

    def search(self, text: str) -> Any: ...

    def finditer(self, text: str) -> Iterator[Any]: ...


def compile_regex(query: str) -> Regex:
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
