"""Imports and definitions of code cells in languages other than Python, read line by line.

Python cells are parsed (:mod:`nbsql.code`); Julia's and R's are read with regular expressions:
what a cell loads (``using``/``import``; ``library``, ``require``, ``requireNamespace``,
``pkg::f``) and the functions it defines where a line shows it (Julia's ``function f(`` and
``f(x) = ...``; R's ``f <- function(``). Each gives :class:`nbsql.code.Import` and
:class:`nbsql.code.Definition` records, as a Python cell's analysis does.
"""

from __future__ import annotations

from collections.abc import Callable

from ..code import CodeFacts
from . import julia, r

#: What reads one cell of each language, by the name a notebook's metadata gives (lower case).
READERS: dict[str, Callable[[str], CodeFacts]] = {"julia": julia.facts, "r": r.facts}
