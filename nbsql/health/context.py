"""What notebook and cell rules look at: the parsed notebook plus facts computed once and shared."""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

import pyflakes.checker
from pyflakes.checker import Builtin, Checker

from ..code import CodeFacts, child_fields
from ..model import Cell, Notebook


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
        names_typing = any(item.module in _TYPING_MODULES for facts in self.facts.values() for item in facts.imports
                           if item.kind in ("import", "from"))
        try:
            checker = _Checker(module, names_typing, builtins=IPYTHON_NAMES)
        except RecursionError:
            return []
        parents = getattr(checker, "_parents", None)  # pyflakes >= 3.1 keeps parent links here
        unparsed = self._words_of_unparsed_cells
        problems = []
        for message in checker.messages:
            position = _cell_of(getattr(message, "_node", None), parents, cell_of)
            if position is None:
                continue
            name = str(message.message_args[0]) if message.message_args else None
            kind = type(message).__name__
            if name and kind in ("UndefinedName", "UnusedImport") and \
                    name.split(" as ")[-1].split(".")[0] in unparsed:
                continue  # a cell that does not parse may define or use it: pyflakes cannot tell
            text = message.message % message.message_args
            original = getattr(message, "_original", None)  # pyflakes words it "from line N" of some cell
            cell = _cell_of(original, parents, cell_of) if original is not None else None
            if cell is not None:
                text = f"redefinition of unused {name!r} from cell {cell}, line {original.lineno}"
            problems.append(NameProblem(kind, position, message.lineno, text, name,
                                        isinstance(original, (ast.Import, ast.ImportFrom))))
        # Break pyflakes' reference cycles (its cached bound handlers refer back to the checker, a
        # used binding to its scope), so that the notebook's trees are freed now rather than by the
        # cyclic garbage collector, whose passes over so many objects took a sixth of the per-file step
        for scope in checker.deadScopes:
            scope.clear()
        vars(checker).clear()
        return problems


_WORD = re.compile(r"[A-Za-z_]\w*")
#: Names pyflakes binds as builtins in every module that a notebook's kernel does not define.
NOT_IN_NOTEBOOKS = frozenset({"__file__"})
#: The modules whose names pyflakes' CALL handler asks about (``_is_typing``).
_TYPING_MODULES = frozenset({"typing", "typing_extensions"})


class _Checker(Checker):
    """pyflakes' Checker, keeping the node each message is about.

    Five shortcuts, with the same findings (a test compares them on the real corpus): pyflakes asks
    of every call up to nine times whether it calls a member of ``typing`` (cast, TypeVar...),
    each time searching the scope stack, and in a notebook that imports no typing module every
    answer is no; it works out for every node whether ``from __future__`` imports are still
    allowed, which stays no once the first other statement has been seen; it visits every
    context and operator leaf and every constant only to ignore them (a string is read only inside
    an annotation), over a quarter of all the nodes it visits; it binds each of some 170 builtins
    through its general binding logic, for every notebook; and it decides whether a rebinding inside
    an ``if`` or ``try`` is in another branch in time quadratic in the block's length
    (:meth:`descendantOf`). One difference is on purpose: ``__file__``, which pyflakes takes as
    defined in any module, is not bound (no kernel defines it).
    """

    _futures_closed = False  # ``futuresAllowed``, read for every node, once the first statement closed it

    def __init__(self, tree: ast.AST, names_typing: bool, **options):
        self.names_typing = names_typing
        super().__init__(tree, **options)

    @property
    def futuresAllowed(self) -> bool:  # noqa: N802 (pyflakes' name)
        return not self._futures_closed and Checker.futuresAllowed.fget(self)

    @futuresAllowed.setter
    def futuresAllowed(self, value: bool) -> None:  # noqa: N802
        self._futures_closed = True
        Checker.futuresAllowed.fset(self, value)

    def handleChildren(self, tree: ast.AST, omit=None) -> None:  # noqa: N802 (pyflakes' name)
        handle = self.handleNode
        for name in _pyflakes_fields(type(tree)):
            if omit and name in omit:
                continue
            field = getattr(tree, name, None)
            if isinstance(field, list):
                for item in field:
                    if isinstance(item, ast.AST) and not self._ignores(item):
                        handle(item, tree)
            elif isinstance(field, ast.AST) and not self._ignores(field):
                handle(field, tree)

    def _ignores(self, node: ast.AST) -> bool:
        """Whether pyflakes' handler for ``node`` would do nothing."""
        return type(node) is ast.Constant and not (self._in_annotation and isinstance(node.value, str))

    def addBinding(self, node, value) -> None:  # noqa: N802 (pyflakes' name)
        if node is None and type(value) is Builtin:  # the builtins, put first into a fresh module scope
            if value.name not in NOT_IN_NOTEBOOKS:
                self.scopeStack[-1][value.name] = value
            return
        super().addBinding(node, value)

    def descendantOf(self, node, ancestors, stop) -> bool:  # noqa: N802 (pyflakes' name)
        """Whether ``node`` lies under one of ``ancestors``, statements of the ``if`` or ``try`` ``stop``.

        pyflakes asks this on every rebinding inside such a block, looking for a common ancestor with
        each statement of the branch in turn: quadratic in the block's length (5,000 lines of
        ``df = df.dropna()`` in a ``try`` took 15 s). The statements' parent is ``stop``, so the
        answer is whether the way up from ``node`` reaches ``stop`` through one of them.
        """
        parents = getattr(self, "_parents", None)  # pyflakes >= 3.1
        if parents is None or not isinstance(stop, (ast.If, ast.Try)):
            return super().descendantOf(node, ancestors, stop)
        top = None
        while node is not stop:
            if node not in parents:
                return False
            top, node = node, parents[node]
        return top is not None and top in ancestors

    def CALL(self, node: ast.Call) -> None:  # noqa: N802 (pyflakes' handler name)
        if self.names_typing:
            return super().CALL(node)
        if (isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Constant)
                and isinstance(node.func.value.value, str) and node.func.attr == "format"):
            self._handle_string_dot_format(node)
        self.handleChildren(node)

    def report(self, messageClass, *args, **kwargs):  # noqa: N803 (pyflakes' own signature)
        message = messageClass(self.filename, *args, **kwargs)
        message._node = args[0]
        if messageClass.__name__ in ("RedefinedWhileUnused", "ImportShadowedByLoopVar") and len(args) > 2:
            message._original = args[2]  # the node of the first binding
        self.messages.append(message)


@cache
def _pyflakes_fields(node_type: type) -> tuple[str, ...]:
    """:func:`child_fields` in the order pyflakes visits them: before 4.0 it takes a loop's iterable
    before its target and a comprehension's generators before its element (its ``_FieldsOrder``)."""
    fields_order = getattr(pyflakes.checker, "_FieldsOrder", None)
    order = fields_order()[node_type] if fields_order else node_type._fields
    return tuple(name for name in order if name in child_fields(node_type))


# pyflakes' class body binds many node handlers (WHILE, EXPR, ATTRIBUTE...) to its own handleChildren
for _name, _handler in vars(Checker).items():
    if _handler is Checker.handleChildren:
        setattr(_Checker, _name, _Checker.handleChildren)


def _cell_of(node, parents: dict | None, cell_of: dict[int, int]) -> int | None:
    """The cell of the top-level statement that ``node`` belongs to."""
    while node is not None:
        position = cell_of.get(id(node))
        if position is not None:
            return position
        node = parents.get(node) if parents is not None else getattr(node, "_pyflakes_parent", None)
    return None


#: Names IPython defines in every notebook.
IPYTHON_NAMES = frozenset({"display", "get_ipython", "In", "Out", "_", "__", "___", "_i", "_ii", "_iii", "_oh", "_dh",
                           "exit", "quit", "__IPYTHON__"})
