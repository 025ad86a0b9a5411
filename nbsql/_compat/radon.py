"""radon's cyclomatic complexity, with its visitor skipping the nodes it scores nothing for.

Checked against radon 6.0 (``SUPPORTED``): ``tests/test_compat_radon.py`` compares the results
with stock radon's on the real corpus, with the installed version and in a venv with 6.0.0. What
it relies on: ``ComplexityVisitor.generic_visit`` scoring a node and then calling the generic
visit of the class after it; ``_max_line``; ``visit_FunctionDef`` and ``visit_ClassDef`` building
their nested visitors by the global name ``ComplexityVisitor``.
"""

from __future__ import annotations

import ast
from functools import cache
from types import FunctionType

from radon.visitors import ComplexityVisitor

from . import require

SUPPORTED = ">=6.0,<6.1"
require("radon", SUPPORTED)  # before anything is built on it


def complexity_visitor(tree: ast.AST) -> ComplexityVisitor:
    """``ComplexityVisitor.from_ast(tree)``, in about half the time (0.375 -> 0.206 s CPU over the
    real corpus's cells): radon visits every name, constant, context and operator leaf."""
    return _Complexity.from_ast(tree)


@cache
def _child_fields(node_type: type[ast.AST]) -> tuple[str, ...]:
    """The fields of ``node_type`` but its context and operator leaves, where radon scores nothing."""
    return tuple(f for f in node_type._fields if f not in ("ctx", "op", "ops"))


class _Children(ast.NodeVisitor):
    """An ``ast.NodeVisitor`` whose generic visit goes only to :func:`_child_fields`."""

    def generic_visit(self, node: ast.AST) -> None:
        kind: type = type(node)  # plain: mypy takes no type[X] for the cache's Hashable (python/mypy#11470)
        for field in _child_fields(kind):
            value = getattr(node, field, None)
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, ast.AST):
                        self.visit(item)
            elif isinstance(value, ast.AST):
                self.visit(value)


class _Complexity(ComplexityVisitor, _Children):
    """radon's ComplexityVisitor, whose own generic visit, after scoring a node, passes on to
    :class:`_Children`'s."""

    _max_line: float  # radon's: the last line seen (-inf before any), set by its __init__

    def visit_Name(self, node: ast.Name | ast.Constant) -> None:  # noqa: N802 (ast's name)
        """A name or constant scores nothing and holds nothing; only its line counts (a definition's end)."""
        if node.lineno > self._max_line:
            self._max_line = node.lineno

    visit_Constant = visit_Name


def _building_ours(method: FunctionType) -> FunctionType:
    """A ComplexityVisitor method whose nested visitors (one per statement of a function or class
    body) are :class:`_Complexity` too: radon's own code, its class name bound to ours."""
    scope = {**method.__globals__, "ComplexityVisitor": _Complexity}
    return FunctionType(method.__code__, scope, method.__name__, method.__defaults__, method.__closure__)


_Complexity.visit_FunctionDef = _building_ours(ComplexityVisitor.visit_FunctionDef)  # type: ignore[method-assign]
_Complexity.visit_ClassDef = _building_ours(ComplexityVisitor.visit_ClassDef)  # type: ignore[method-assign]
