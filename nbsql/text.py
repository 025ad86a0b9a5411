"""Small text helpers shared by the rows and the rules."""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

_NEWLINE = re.compile(r"\r\n?|\n")  # line ends as Python's parser counts lines
# an operating-system command (ESC ] ... BEL, or ESC backslash) ends at the next ESC: unclosed, it had been
# searched for to the end of the text from each of its starts, quadratic on a long traceback
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")


def strip_ansi(text: str) -> str:
    """Text without ANSI escape sequences (colours in tracebacks)."""
    return _ANSI.sub("", text)


def comment_start(line: str) -> int | None:
    """Index of the ``#`` that starts a comment on ``line`` (quotes respected), else None."""
    if "#" not in line:
        return None
    quote = None
    escaped = False
    for index, char in enumerate(line):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#":
            return index
    return None


def without_comment(line: str) -> str:
    start = comment_start(line)
    return (line if start is None else line[:start]).rstrip()


@lru_cache(maxsize=1024)  # asked for by the rows and by several rules, for the same cells
def normalised_source(source: str, verbatim: frozenset[int] = frozenset()) -> str:
    """Source without comments (quotes respected), blank lines and trailing spaces.

    The lines numbered in ``verbatim`` (1-based; the inside of multi-line strings, where a ``#``
    starts no comment) keep all but their trailing spaces.
    """
    lines = (line.rstrip() if number in verbatim else without_comment(line)
             for number, line in enumerate(_NEWLINE.split(source), 1))
    return "\n".join(line for line in lines if line.strip())


def source_hash(source: str, verbatim: frozenset[int] = frozenset()) -> str | None:
    """A short hash of :func:`normalised_source`, None for a cell with no code."""
    normal = normalised_source(source, verbatim)
    return hashlib.sha1(normal.encode("utf-8", "surrogatepass")).hexdigest()[:16] if normal else None


def text_key(source: str, outputs: str | None) -> int:
    """The search index's key of a cell's text (its source and indexed output text): a signed 64-bit
    hash, shared by the cells holding the same text."""
    data = f"{source}\0{outputs or ''}".encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big", signed=True)
