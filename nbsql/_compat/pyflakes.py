"""pyflakes' Checker with shortcuts that keep its findings, and the statement each finding is about.

Checked against every minor release of pyflakes from 2.2 to 4.1 (``SUPPORTED``):
``tests/test_compat_pyflakes.py`` compares the findings with stock pyflakes' on the real corpus,
with the installed version and with 2.2.0, 3.0.1 and 3.4.0 installed beside. It relies on the
Checker's handler methods (``CALL``, ``addBinding``, ``descendantOf``, ``handleChildren`` and the
handlers bound to it, ``futuresAllowed``), ``report``'s arguments, ``_in_annotation``,
``_handle_string_dot_format``, the parent links (``_parents`` from 3.1, ``_pyflakes_parent`` on
each node before) and, before 4.0, ``_FieldsOrder``.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Protocol

import pyflakes.checker
from pyflakes.checker import Builtin, Checker
from pyflakes.messages import Message

from ..code import child_fields
from . import require

SUPPORTED = ">=2.2,<4.2"
require("pyflakes", SUPPORTED)  # before anything is built on it
#: The modules whose names pyflakes' CALL handler asks about (its ``_is_typing``).
TYPING_MODULES = frozenset({"typing", "typing_extensions"})


class Located(Protocol):
    """A node pyflakes reports about: one with a line (a statement, an expression, an argument,
    an except clause, a pattern...), which its messages read."""

    lineno: int


@dataclass(frozen=True, slots=True)
class Report:
    """A pyflakes message and the top-level statements of the checked module it concerns."""

    message: Message
    statement: ast.stmt | None  # holding the node the message is about
    original: Located | None = None  # a redefinition's first binding
    original_statement: ast.stmt | None = None


def check(module: ast.Module, *, builtins: frozenset[str] = frozenset(), unbound: frozenset[str] = frozenset(),
          names_typing: bool = True) -> list[Report]:
    """pyflakes' messages on ``module``, with ``builtins`` taken as defined and the builtins in
    ``unbound`` (which pyflakes takes as defined) not. Without ``names_typing`` (no typing module
    is imported) a shortcut skips pyflakes' questions about typing's members."""
    checker = _Checker(module, names_typing, unbound, builtins=builtins)
    parents = getattr(checker, "_parents", None)  # pyflakes >= 3.1
    tops = {id(statement): statement for statement in module.body}
    reports = []
    for message in checker.messages:
        original = getattr(message, "_original", None)
        reports.append(Report(message, _top(message._node, parents, tops), original,
                              _top(original, parents, tops) if original is not None else None))
    # Break pyflakes' reference cycles (its cached bound handlers refer back to the checker, a used
    # binding to its scope), so that the trees are freed now rather than by the cyclic garbage
    # collector, whose passes over so many objects took a sixth of a load's per-file step
    for scope in checker.deadScopes:
        scope.clear()
    checker.__dict__.clear()
    return reports


def _top(node: object, parents: Mapping[object, ast.AST] | None, tops: dict[int, ast.stmt]) -> ast.stmt | None:
    """The statement of ``tops`` (by id) that ``node`` lies in."""
    while node is not None and id(node) not in tops:
        node = parents.get(node) if parents is not None else getattr(node, "_pyflakes_parent", None)
    return tops[id(node)] if node is not None else None


class _Checker(Checker):
    """pyflakes' Checker, keeping the node each message is about.

    Five shortcuts, with the same findings: pyflakes asks of every call up to nine times whether
    it calls a member of ``typing`` (cast, TypeVar...), each time searching the scope stack, and
    in a notebook that imports no typing module every answer is no; it works out for every node
    whether ``from __future__`` imports are still allowed, which stays no once the first other
    statement has been seen; it visits every context and operator leaf and every constant only to
    ignore them (a string is read only inside an annotation), over a quarter of all the nodes it
    visits; it binds each of some 170 builtins through its general binding logic, for every
    module; and it decides whether a rebinding inside an ``if`` or ``try`` is in another branch in
    time quadratic in the block's length (:meth:`descendantOf`).
    """

    _futures_closed = False  # ``futuresAllowed``, read for every node, once the first statement closed it

    def __init__(self, tree: ast.AST, names_typing: bool, unbound: frozenset[str], **options):
        self.names_typing = names_typing
        self.unbound = unbound
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
        kind: type = type(tree)  # plain: mypy takes no type[X] for the cache's Hashable (python/mypy#11470)
        for name in _pyflakes_fields(kind):
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
            if value.name not in self.unbound:
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
def _pyflakes_fields(node_type: type[ast.AST]) -> tuple[str, ...]:
    """:func:`child_fields` in the order pyflakes visits them: before 4.0 it takes a loop's iterable
    before its target and a comprehension's generators before its element (its ``_FieldsOrder``)."""
    fields_order = getattr(pyflakes.checker, "_FieldsOrder", None)
    order = fields_order()[node_type] if fields_order else node_type._fields
    kind: type = node_type  # plain: mypy takes no type[X] for the cache's Hashable (python/mypy#11470)
    return tuple(name for name in order if name in child_fields(kind))


# pyflakes' class body binds many node handlers (WHILE, EXPR, ATTRIBUTE...) to its own handleChildren
for _name, _handler in vars(Checker).items():
    if _handler is Checker.handleChildren:
        setattr(_Checker, _name, _Checker.handleChildren)
