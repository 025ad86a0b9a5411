"""Which Python a notebook is written for: what its metadata says, else what its cells parse as.

A cell "parses only as Python 2" when Python 3 rejects it and a Python 2 grammar (lib2to3's, as
the maintained ``fissix`` ships it) accepts it with syntax only Python 2 has: print and exec
statements, backticks, ``<>``, ``0777`` and ``10L``, ``ur''``, ``except E, e``, ``raise E, v``, tuple
parameters. The grammar is built in memory on first need (about 30 ms), never cached on disk.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

from .model import PYTHON_LANGUAGES, Notebook

if TYPE_CHECKING:
    from .code import CodeFacts

#: Builtins of Python 2 that Python 3 dropped: defined in a Python 2 notebook.
PYTHON2_BUILTINS = frozenset({"apply", "basestring", "buffer", "cmp", "coerce", "execfile", "file", "intern", "long",
                              "raw_input", "reduce", "reload", "unichr", "unicode", "xrange", "StandardError"})
#: "python2", "Python 3 (ipykernel)", "py27", "conda-env-py3-tf": a kernel named for its Python.
_KERNEL_VERSION = re.compile(r"(?i)(?<![a-z])py(?:thon)?[ _-]?([23])(?![0-9]{2})")
_LEXER_VERSION = re.compile(r"i?python([23])$")
#: Sources longer than this are not parsed as Python 2 (the grammar's parser is pure Python).
_LONGEST = 200_000
#: Text without any of these holds none of the syntax only Python 2 has (see _has_python2_syntax):
#: the grammar's parser, 4 ms a cell, is spared for the other cells Python 3 rejects.
_MAYBE_PYTHON2 = re.compile(r"\bprint\b|\bexec\b|`|<>|\bexcept\b[^:\n]*,|\braise\b[^\n]*,|\b0[0-9]|[0-9][lL]\b"
                            r"|[uU][rR][\"']|\bdef\b[^:\n]*\(\s*\(|\blambda\s*\(")


def declared_major(metadata: Mapping[str, Any]) -> int | None:
    """The Python major version the notebook's metadata names: language_info's version, lexer or
    CodeMirror mode, else the kernelspec's name or display name; None when they name none."""
    info = metadata.get("language_info")
    info = info if isinstance(info, dict) else {}
    version = info.get("version")
    if isinstance(version, str) and re.match(r"[23]\.", version):
        return int(version[0])
    lexer = info.get("pygments_lexer")
    if isinstance(lexer, str) and (match := _LEXER_VERSION.match(lexer)):
        return int(match.group(1))
    mode = info.get("codemirror_mode")
    if isinstance(mode, dict) and mode.get("version") in (2, 3):
        return int(mode["version"])
    spec = metadata.get("kernelspec")
    spec = spec if isinstance(spec, dict) else {}
    for value in (spec.get("name"), spec.get("display_name")):
        if isinstance(value, str) and (match := _KERNEL_VERSION.search(value)):
            return int(match.group(1))
    return None


def python_major(notebook: Notebook, facts: Mapping[int, CodeFacts]) -> int | None:
    """2 or 3 for a Python notebook (or one naming no language): what its metadata says, else 2 when
    a cell parses only as Python 2, else 3 when a cell parses as Python 3; None otherwise."""
    if notebook.language is not None and notebook.language not in PYTHON_LANGUAGES:
        return None
    declared = declared_major(notebook.metadata)
    if declared is not None:
        return declared
    if any(f.python2 for f in facts.values()):
        return 2
    return 3 if any(f.parsed for f in facts.values()) else None


@lru_cache(maxsize=256)  # asked by the notebook's version and by NB101 for the same cells
def only_python2(source: str) -> bool:
    """Whether ``source`` (a cell Python 3 rejects, magics masked) parses as Python 2 and uses
    syntax only Python 2 has."""
    if len(source) > _LONGEST or not _MAYBE_PYTHON2.search(source):
        return False
    try:
        tree = _driver().parse_string(source if source.endswith("\n") else source + "\n")
    except Exception:  # ParseError, TokenError, IndentationError, RecursionError...: not Python 2 either
        return False
    return _has_python2_syntax(tree)


@cache
def _driver():
    import os

    import fissix
    from fissix import pytree
    from fissix.pgen2 import driver, pgen

    grammar = pgen.generate_grammar(os.path.join(os.path.dirname(fissix.__file__), "Grammar.txt"))
    return driver.Driver(grammar, convert=pytree.convert)


@cache
def _symbols() -> dict[str, int]:
    return dict(_driver().grammar.symbol2number)


def _has_python2_syntax(tree) -> bool:
    from fissix.pgen2 import token

    symbols = _symbols()
    statements = {symbols["print_stmt"], symbols["exec_stmt"]}
    comma_clauses = {symbols["except_clause"], symbols["raise_stmt"]}
    parameters = {symbols["tfpdef"], symbols["vfpdef"]}
    stack = [tree]
    while stack:
        node = stack.pop()
        kind, children = node.type, node.children
        if kind in statements:  # "print(x)" and "exec(code)" are calls in Python 3 too
            argument = children[1] if len(children) == 2 else None
            if argument is None or argument.type != symbols["atom"] or argument.children[0].type != token.LPAR:
                return True
        elif kind in comma_clauses and any(c.type == token.COMMA for c in children):
            return True
        elif kind in parameters and children and children[0].type == token.LPAR:
            return True
        elif kind == token.BACKQUOTE or kind == token.NOTEQUAL and node.value == "<>":
            return True
        elif kind == token.NUMBER and re.fullmatch(r"0\d*[1-9]\d*|.*[lL]", node.value):
            return True
        elif kind == token.STRING and re.match(r"(?i)ur", node.value):
            return True
        stack.extend(children)
    return False
