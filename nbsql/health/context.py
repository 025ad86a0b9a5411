"""What notebook and cell rules look at: the parsed notebook plus facts computed once and shared."""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from .._compat.pyflakes import TYPING_MODULES, check
from ..code import LINE_MAGICS, CodeFacts, parse_quietly
from ..deps.names import IPYTHON_NAMES
from ..model import Cell, Notebook
from ..pyversion import PYTHON2_BUILTINS, python_major


@dataclass(frozen=True, slots=True)
class NameProblem:
    """A pyflakes message mapped back to a cell."""

    kind: str  # pyflakes message class: UndefinedName, UnusedImport, RedefinedWhileUnused, ...
    position: int
    line: int
    message: str
    name: str | None
    redefines_import: bool = False  # for a redefinition: whether what is redefined is an import


class NotebookContext:
    """One notebook as the rules see it. Expensive views are computed on first use, once."""

    def __init__(self, notebook: Notebook, facts: dict[int, CodeFacts], path: str = "", size: int = 0,
                 raw: Any = None, python: bool = True):
        self.notebook = notebook
        self.facts = facts  # position -> facts of Python code cells with a source
        self.path = path  # relative path with / separators
        self.size = size
        self.raw = raw  # the JSON as parsed, before normalisation
        self.python = python

    @property
    def cells(self) -> tuple[Cell, ...]:
        return self.notebook.cells

    @cached_property
    def python_major(self) -> int | None:
        """2 or 3 for a Python notebook (see :func:`nbsql.pyversion.python_major`)."""
        return python_major(self.notebook, self.facts)

    @cached_property
    def metadata_text(self) -> str:
        """Notebook metadata as indented JSON, one value a line (widget state left out)."""
        metadata = {k: v for k, v in self.notebook.metadata.items() if k != "widgets"}
        return json.dumps(metadata, indent=1, default=str)

    @cached_property
    def code_cells(self) -> list[Cell]:
        return [c for c in self.notebook.cells if c.cell_type == "code"]

    @cached_property
    def non_empty_code_cells(self) -> list[Cell]:
        return [c for c in self.code_cells if c.source.strip()]

    @cached_property
    def execution_counts(self) -> list[int]:
        """Counts of non-empty code cells, in cell order (Pimentel et al.'s sequence)."""
        return [c.execution_count for c in self.non_empty_code_cells if c.execution_count is not None]

    @cached_property
    def _words_of_unparsed_cells(self) -> set[str]:
        """Every identifier-like word of the Python cells that do not parse."""
        return {word for cell in self.code_cells if (facts := self.facts.get(cell.position)) is not None
                and facts.tree is None and facts.parse_error for word in _WORD.findall(cell.source)}

    @cached_property
    def name_problems(self) -> list[NameProblem]:
        """pyflakes over the parsed Python cells in notebook order, as one module.

        The cells' own trees are joined (nothing is parsed again); each message's node leads,
        through the parent links pyflakes keeps, to the top-level statement and so to its cell.
        """
        body: list[ast.stmt] = []
        cell_of: dict[int, int] = {}
        for cell in self.code_cells:
            facts = self.facts.get(cell.position)
            if facts is None or facts.tree is None:
                continue
            for statement in facts.tree.body:
                cell_of[id(statement)] = cell.position
            body.extend(facts.tree.body)
        if not body:
            return []
        module = ast.Module(body=body, type_ignores=[])
        names_typing = any(item.module in TYPING_MODULES for facts in self.facts.values() for item in facts.imports
                           if item.kind in ("import", "from"))
        try:
            builtins = IPYTHON_NAMES | PYTHON2_BUILTINS if self.python_major == 2 else IPYTHON_NAMES
            reports = check(module, builtins=builtins, unbound=NOT_IN_NOTEBOOKS, names_typing=names_typing)
        except RecursionError:
            return []
        unparsed = self._words_of_unparsed_cells
        problems = []
        for report in reports:
            position = cell_of.get(id(report.statement))
            if position is None:
                continue
            message = report.message
            name = str(message.message_args[0]) if message.message_args else None
            kind = type(message).__name__
            if name and kind in ("UndefinedName", "UnusedImport") and \
                    name.split(" as ")[-1].split(".")[0] in unparsed:
                continue  # a cell that does not parse may define or use it: pyflakes cannot tell
            text = message.message % message.message_args
            original = report.original  # pyflakes words it "from line N" of some cell
            first = cell_of.get(id(report.original_statement))
            if first is not None and original is not None:  # a first statement is found for a first binding
                text = f"redefinition of unused {name!r} from cell {first}, line {original.lineno}"
            problems.append(NameProblem(kind, position, message.lineno, text, name,
                                        isinstance(original, (ast.Import, ast.ImportFrom))))
        return self._without_automagic(problems)

    def _without_automagic(self, problems: list[NameProblem]) -> list[NameProblem]:
        """``problems`` but the undefined names of lines an IPython kernel runs as line magics typed
        without their '%' (``ls``, ``watermark -iv``): a magic's name, undefined, starting a line
        that is an expression of its own."""
        undefined: dict[tuple[int, int], set[str]] = {}
        for problem in problems:
            if problem.kind == "UndefinedName" and problem.name:
                undefined.setdefault((problem.position, problem.line), set()).add(problem.name)
        magic = {where for where, names in undefined.items() if names & LINE_MAGICS and
                 _is_automagic(self.notebook.cells[where[0]].source, where[1], names)}
        return [p for p in problems if not (p.kind == "UndefinedName" and (p.position, p.line) in magic)]


def _is_automagic(source: str, line: int, undefined: set[str]) -> bool:
    """Whether line ``line`` of ``source`` starts with an undefined magic's name, followed by
    nothing or a space, and is an expression by itself (``ls``, ``ls -la``; not ``ls.sort()``)."""
    lines = source.split("\n")
    text = lines[line - 1].strip() if 0 < line <= len(lines) else ""
    word = _WORD.match(text)
    if word is None or word.group() not in LINE_MAGICS or word.group() not in undefined or \
            text[word.end():word.end() + 1] not in ("", " ", "\t"):
        return False
    try:
        body = parse_quietly(text).body
    except (SyntaxError, ValueError):
        return False
    return len(body) == 1 and isinstance(body[0], ast.Expr)


_WORD = re.compile(r"[A-Za-z_]\w*")
#: Names pyflakes takes as builtins in every module that a notebook's kernel does not define.
NOT_IN_NOTEBOOKS = frozenset({"__file__"})
