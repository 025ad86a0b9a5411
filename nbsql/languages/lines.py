"""Reading source line by line: statements continued over lines, and where a block ends."""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..text import without_comment

_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'')
_BRACKETS = re.compile(r"\[[^\[\]]*\]")  # innermost first: Julia's a[end] and [x for x in y] are no blocks


def code_of(line: str) -> str:
    """``line`` without its comment, strings emptied (so that their words and brackets count for nothing)."""
    return _STRING.sub('""', without_comment(line))


def logical_lines(lines: list[str]) -> Iterator[tuple[int, str]]:
    """(1-based number of its first line, text without comments) of each statement, a line ending
    with ``,`` or an opening bracket being continued on the next."""
    number = 0
    while number < len(lines):
        start, text = number + 1, without_comment(lines[number])
        while text.endswith((",", "(", "[", "{")) and number + 1 < len(lines):
            number += 1
            text += " " + without_comment(lines[number]).strip()
        number += 1
        yield start, text.strip()


def block_end(lines: list[str], start: int, opens: tuple[str, ...], closes: tuple[str, ...]) -> int | None:
    """The 1-based line where the block opened on line ``start`` closes, counting the words (or
    characters) of ``opens`` and ``closes`` outside comments, strings and square brackets; None
    when it does not close in the cell."""
    words = opens + closes
    token = re.compile("|".join(rf"\b{re.escape(w)}\b" if w[0].isalpha() else re.escape(w) for w in words))
    depth = 0
    for number in range(start, len(lines) + 1):
        code = code_of(lines[number - 1])
        while _BRACKETS.search(code):
            code = _BRACKETS.sub("", code)
        for found in token.findall(code):
            depth += 1 if found in opens else -1
            if depth == 0:
                return number
    return None
