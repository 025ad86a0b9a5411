"""The notebook-level names one Python cell defines, modifies, uses and calls, from its syntax tree.

One pass over the tree the load already made (:attr:`nbsql.code.CodeFacts.tree`, IPython lines
masked), following Python's scopes:

* **defines**: names bound at the notebook's top level: assignments (plain, augmented, annotated
  with a value), imports (``import a.b`` binds ``a``, ``import x as y`` binds ``y``; a star import
  is recorded as ``*``), ``def``, ``class``, ``for`` and ``with`` targets, ``:=`` (also inside a
  comprehension), except-handler names, ``match`` captures, and names a function declares
  ``global`` and assigns;
* **modifies**: top-level names whose contents an assignment or ``del`` changes in place:
  ``df["total"] = ...``, ``config.debug = True``, ``counts[key] += 1``, ``del cache[key]``. A
  later cell that reads the name needs this cell too (method calls such as ``model.fit(X, y)``
  or ``items.append(x)`` are not seen: any call may or may not change its object);
* **uses**: names read that the cell has not bound before reading them (so ``x += 1`` uses and
  defines ``x``, and a name read before the cell assigns it is a use of an earlier cell's), and
  names free in its functions, lambdas and class bodies (read when they run), unless the cell
  binds them. Names local to a function, a lambda or a comprehension are not uses. Builtins are
  kept here: whether a notebook shadows one is for :mod:`.graph` to tell;
* **calls**: what each call calls, as a dotted name as written (``pd.read_csv``, ``df.groupby``,
  ``print``); a call on something that is not a name is stored from its first dot
  (``df.groupby("a").sum()`` calls ``df.groupby`` and ``.sum``); calls in function bodies count.

Each list keeps the order of first occurrence, each name once.
"""

from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: Names IPython defines in every notebook.
IPYTHON_NAMES = frozenset({"display", "get_ipython", "In", "Out", "_", "__", "___", "_i", "_ii", "_iii", "_oh", "_dh",
                           "exit", "quit", "__IPYTHON__"})
#: Names a notebook reads without defining them: Python's builtins and IPython's.
NOTEBOOK_BUILTINS = frozenset(dir(builtins)) | IPYTHON_NAMES
_HISTORY = re.compile(r"_i?[0-9]+")  # IPython's output and input history: _5, _i5
STAR = "*"


def is_builtin(name: str) -> bool:
    """Whether ``name`` is defined in every notebook (a builtin, or IPython's)."""
    return name in NOTEBOOK_BUILTINS or (name[:1] == "_" and _HISTORY.fullmatch(name) is not None)


@dataclass(frozen=True, slots=True)
class CellNames:
    """What one cell defines, modifies, uses and calls (see the module's documentation)."""

    defines: tuple[str, ...] = ()
    modifies: tuple[str, ...] = ()
    uses: tuple[str, ...] = ()
    calls: tuple[str, ...] = ()


_MODULE, _FUNCTION, _CLASS, _COMPREHENSION = range(4)


class _Scope:
    __slots__ = ("kind", "parent", "bound", "loads", "declared_global", "declared_nonlocal")

    def __init__(self, kind: int, parent: _Scope | None):
        self.kind = kind
        self.parent = parent
        self.bound: set[str] = set()  # names bound here so far (a function's: its locals)
        self.loads: dict[str, None] = {}  # a function's: names read in it (in order), resolved when it ends
        self.declared_global: set[str] = set()
        self.declared_nonlocal: set[str] = set()


class _Walk:
    """The one pass: ``visit`` dispatches on the node's type to the handlers below; other nodes'
    children are visited in their fields' order, which is the order Python evaluates them in."""

    __slots__ = ("scope", "module", "defines", "modifies", "uses", "deferred", "calls", "top_level")

    def __init__(self) -> None:
        self.module = self.scope = _Scope(_MODULE, None)
        self.defines: dict[str, None] = {}
        self.modifies: dict[str, None] = {}
        self.uses: dict[str, None] = {}
        self.deferred: dict[str, None] = {}  # names read when a function runs, not now
        self.calls: dict[str, None] = {}
        self.top_level: set[str] = set()  # every name bound by the cell's own statements, not its functions'

    def result(self) -> CellNames:
        uses = self.uses
        for name in self.deferred:
            if name not in self.top_level:
                uses[name] = None
        return CellNames(tuple(self.defines), tuple(self.modifies), tuple(uses), tuple(self.calls))

    # names -------------------------------------------------------------------------------

    def load(self, name: str, scope: _Scope) -> None:
        while True:
            kind = scope.kind
            if kind == _MODULE:
                if name not in scope.bound:
                    self.uses[name] = None
                return
            if kind == _FUNCTION:
                scope.loads[name] = None
                return
            if name in scope.bound:  # a class attribute or a comprehension's variable
                return
            scope = scope.parent  # type: ignore[assignment]  # only the module has none

    def defer(self, name: str, scope: _Scope | None) -> None:
        """A name free in a function that ended, looked up in the scopes around it when it runs."""
        while scope is not None:
            kind = scope.kind
            if kind == _MODULE:
                self.deferred[name] = None
                return
            if kind == _FUNCTION:
                scope.loads[name] = None
                return
            if kind == _COMPREHENSION and name in scope.bound:
                return
            scope = scope.parent  # a class body's names are not visible in its methods

    def store(self, name: str, scope: _Scope) -> None:
        kind = scope.kind
        if kind == _MODULE:
            scope.bound.add(name)
            self.top_level.add(name)
            self.defines[name] = None
        elif kind == _FUNCTION and name in scope.declared_global:
            self.defines[name] = None  # when the function runs
        elif kind != _FUNCTION or name not in scope.declared_nonlocal:
            scope.bound.add(name)

    def delete(self, name: str, scope: _Scope) -> None:
        if scope.kind != _MODULE:
            self.store(name, scope)  # ``del x`` makes x local to a function
            return
        if name not in scope.bound:
            self.uses[name] = None  # the name must exist
        scope.bound.discard(name)
        self.defines.pop(name, None)

    # the walk ----------------------------------------------------------------------------

    def visit(self, node: ast.AST) -> None:
        handler = _HANDLERS.get(type(node))
        if handler is not None:
            handler(self, node)
            return
        self.children(node)

    def children(self, node: ast.AST) -> None:
        """Visit the children of a node without a handler, in their fields' order."""
        kind: type = type(node)
        fields = _FIELDS.get(kind)
        if fields is None:
            fields = _FIELDS[kind] = _node_fields(kind)
        for attribute in fields:
            value = getattr(node, attribute, None)
            if type(value) is list:
                for item in value:
                    if type(item) is ast.Name and type(item.ctx) is ast.Load and self.scope.kind == _MODULE:
                        if item.id not in self.scope.bound:  # the commonest child, without a call
                            self.uses[item.id] = None
                    elif item is not None:
                        self.child(item)
            elif value is not None:
                self.child(value)

    def child(self, node: ast.AST) -> None:
        """Visit ``node``: a name or a constant without the dispatch of :meth:`visit`."""
        kind = type(node)
        if kind is ast.Name:
            if type(node.ctx) is ast.Load:  # type: ignore[attr-defined]
                scope = self.scope
                if scope.kind == _MODULE:
                    if node.id not in scope.bound:  # type: ignore[attr-defined]
                        self.uses[node.id] = None  # type: ignore[attr-defined]
                else:
                    self.load(node.id, scope)  # type: ignore[attr-defined]
            else:
                self.name(node)  # type: ignore[arg-type]
        elif kind is not ast.Constant:
            handler = _HANDLERS.get(kind)
            if handler is not None:
                handler(self, node)
            else:
                self.children(node)

    def name(self, node: ast.Name) -> None:
        context = type(node.ctx)
        if context is ast.Load:
            self.load(node.id, self.scope)
        elif context is ast.Store:
            self.store(node.id, self.scope)
        else:
            self.delete(node.id, self.scope)

    def target(self, node: ast.AST) -> None:
        """An assignment's target (after its value): names bound, objects changed in place."""
        kind = type(node)
        if kind is ast.Name:
            self.name(node)  # type: ignore[arg-type]
        elif kind is ast.Tuple or kind is ast.List:
            for element in node.elts:  # type: ignore[attr-defined]
                self.target(element)
        elif kind is ast.Starred:
            self.target(node.value)  # type: ignore[attr-defined]
        else:  # an attribute or a subscript: its object is read, and changed
            self.visit(node)
            if self.scope.kind == _MODULE:
                base = node
                while type(base) is ast.Attribute or type(base) is ast.Subscript:
                    base = base.value  # type: ignore[attr-defined]
                if type(base) is ast.Name:
                    self.modifies[base.id] = None  # type: ignore[attr-defined]

    def body(self, statements: list[ast.stmt]) -> None:
        for statement in statements:
            self.visit(statement)

    def enter(self, kind: int) -> _Scope:
        self.scope = _Scope(kind, self.scope)
        return self.scope

    def leave(self, scope: _Scope) -> None:
        self.scope = scope.parent  # type: ignore[assignment]
        if scope.kind == _FUNCTION:
            for name in scope.loads:
                if name in scope.declared_global:
                    self.defer(name, self.module)
                elif name not in scope.bound and name not in scope.declared_nonlocal:
                    self.defer(name, scope.parent)


def _assign(walk: _Walk, node: ast.Assign) -> None:
    walk.visit(node.value)
    for target in node.targets:
        walk.target(target)


def _augmented(walk: _Walk, node: ast.AugAssign) -> None:
    target = node.target
    if type(target) is ast.Name:
        walk.load(target.id, walk.scope)  # ``x += 1`` reads x first
    walk.visit(node.value)
    walk.target(target)


def _annotated(walk: _Walk, node: ast.AnnAssign) -> None:
    walk.visit(node.annotation)
    if node.value is None:  # ``x: int`` binds nothing
        if type(node.target) is not ast.Name:
            walk.visit(node.target)
        return
    walk.visit(node.value)
    walk.target(node.target)


def _for(walk: _Walk, node: ast.For | ast.AsyncFor) -> None:
    walk.visit(node.iter)
    walk.target(node.target)
    walk.body(node.body)
    walk.body(node.orelse)


def _with(walk: _Walk, node: ast.With | ast.AsyncWith) -> None:
    for item in node.items:
        walk.visit(item.context_expr)
        if item.optional_vars is not None:
            walk.target(item.optional_vars)
    walk.body(node.body)


def _delete(walk: _Walk, node: ast.Delete) -> None:
    for target in node.targets:
        walk.target(target)


def _named(walk: _Walk, node: ast.NamedExpr) -> None:
    walk.visit(node.value)
    scope = walk.scope
    while scope.kind == _COMPREHENSION:  # := in a comprehension binds in the scope around it
        scope = scope.parent  # type: ignore[assignment]
    walk.store(node.target.id, scope)


def _import(walk: _Walk, node: ast.Import) -> None:
    for alias in node.names:
        walk.store(alias.asname or alias.name.partition(".")[0], walk.scope)


def _import_from(walk: _Walk, node: ast.ImportFrom) -> None:
    for alias in node.names:
        if alias.name == STAR:
            if walk.scope.kind == _MODULE:
                walk.defines[STAR] = None
        else:
            walk.store(alias.asname or alias.name, walk.scope)


def _arguments(walk: _Walk, arguments: ast.arguments) -> None:
    """Defaults and annotations: evaluated where the function is defined."""
    for default in arguments.defaults:
        walk.visit(default)
    for keyword_default in arguments.kw_defaults:
        if keyword_default is not None:
            walk.visit(keyword_default)
    for argument in (*arguments.posonlyargs, *arguments.args, arguments.vararg, *arguments.kwonlyargs,
                     arguments.kwarg):
        if argument is not None and argument.annotation is not None:
            walk.visit(argument.annotation)


def _parameters(scope: _Scope, arguments: ast.arguments) -> None:
    for argument in (*arguments.posonlyargs, *arguments.args, arguments.vararg, *arguments.kwonlyargs,
                     arguments.kwarg):
        if argument is not None:
            scope.bound.add(argument.arg)


def _function(walk: _Walk, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
    for decorator in node.decorator_list:
        walk.visit(decorator)
    _arguments(walk, node.args)
    if node.returns is not None:
        walk.visit(node.returns)
    walk.store(node.name, walk.scope)
    scope = walk.enter(_FUNCTION)
    _parameters(scope, node.args)
    walk.body(node.body)
    walk.leave(scope)


def _lambda(walk: _Walk, node: ast.Lambda) -> None:
    _arguments(walk, node.args)
    scope = walk.enter(_FUNCTION)
    _parameters(scope, node.args)
    walk.visit(node.body)
    walk.leave(scope)


def _class(walk: _Walk, node: ast.ClassDef) -> None:
    for decorator in node.decorator_list:
        walk.visit(decorator)
    for base in node.bases:
        walk.visit(base)
    for keyword in node.keywords:
        walk.visit(keyword.value)
    scope = walk.enter(_CLASS)
    walk.body(node.body)
    walk.leave(scope)
    walk.store(node.name, walk.scope)


def _comprehension(walk: _Walk, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp) -> None:
    generators = node.generators
    walk.visit(generators[0].iter)  # the first iterable is evaluated outside
    scope = walk.enter(_COMPREHENSION)
    for number, generator in enumerate(generators):
        if number:
            walk.visit(generator.iter)
        walk.target(generator.target)
        for condition in generator.ifs:
            walk.visit(condition)
    if type(node) is ast.DictComp:
        walk.visit(node.key)
        walk.visit(node.value)
    else:
        walk.visit(node.elt)  # type: ignore[union-attr]
    walk.leave(scope)


def _global(walk: _Walk, node: ast.Global) -> None:
    if walk.scope.kind == _FUNCTION:
        walk.scope.declared_global.update(node.names)


def _nonlocal(walk: _Walk, node: ast.Nonlocal) -> None:
    if walk.scope.kind == _FUNCTION:
        walk.scope.declared_nonlocal.update(node.names)


def _handler(walk: _Walk, node: ast.ExceptHandler) -> None:
    if node.type is not None:
        walk.visit(node.type)
    if node.name:
        walk.store(node.name, walk.scope)
    walk.body(node.body)


def _capture(walk: _Walk, node: ast.MatchAs | ast.MatchStar) -> None:
    if isinstance(node, ast.MatchAs) and node.pattern is not None:
        walk.visit(node.pattern)
    if node.name:
        walk.store(node.name, walk.scope)


def _mapping(walk: _Walk, node: ast.MatchMapping) -> None:
    walk.children(node)
    if node.rest:
        walk.store(node.rest, walk.scope)


def _attribute(walk: _Walk, node: ast.Attribute) -> None:
    walk.child(node.value)


def _subscript(walk: _Walk, node: ast.Subscript) -> None:
    walk.child(node.value)
    walk.child(node.slice)


def _expression(walk: _Walk, node: ast.Expr) -> None:
    walk.child(node.value)


def _call(walk: _Walk, node: ast.Call) -> None:
    called, base = _callee(node.func)
    if called is not None:
        walk.calls[called] = None
    walk.child(base)  # the callee's chain of attributes read once, for its name and for what it reads
    for argument in node.args:
        walk.child(argument)
    for keyword in node.keywords:
        walk.child(keyword.value)


def dotted(node: ast.expr) -> str | None:
    """A callee as a dotted name as written (``pd.read_csv``); from its first dot when it is an
    attribute of something that is not a name (``.sum`` for ``df.groupby("a").sum``); else None."""
    return _callee(node)[0]


def _callee(node: ast.expr) -> tuple[str | None, ast.expr]:
    """:func:`dotted`'s name, and what is left below the attributes (the name, or the expression)."""
    parts = []
    while type(node) is ast.Attribute:
        parts.append(node.attr)  # type: ignore[attr-defined]
        node = node.value  # type: ignore[attr-defined]
    if type(node) is ast.Name:
        parts.append(node.id)  # type: ignore[attr-defined]
    elif parts:
        parts.append("")
    else:
        return None, node
    return ".".join(reversed(parts)), node


_LEAF_FIELDS = frozenset({"ctx", "op", "ops", "id", "attr", "name", "asname", "module", "level", "type_comment",
                          "kind", "simple", "conversion", "is_async", "arg", "kwd_attrs", "tag", "type_ignores"})
#: Each node type's fields that may hold nodes, found on first use.
_FIELDS: dict[type, tuple[str, ...]] = {}


def _node_fields(kind: type) -> tuple[str, ...]:
    return tuple(f for f in getattr(kind, "_fields", ()) if f not in _LEAF_FIELDS)


_HANDLERS: dict[type, Callable[[_Walk, Any], None]] = {
    ast.Assign: _assign, ast.AugAssign: _augmented, ast.AnnAssign: _annotated, ast.For: _for, ast.AsyncFor: _for,
    ast.With: _with, ast.AsyncWith: _with, ast.Delete: _delete, ast.NamedExpr: _named, ast.Import: _import,
    ast.ImportFrom: _import_from, ast.FunctionDef: _function, ast.AsyncFunctionDef: _function, ast.Lambda: _lambda,
    ast.ClassDef: _class, ast.ListComp: _comprehension, ast.SetComp: _comprehension,
    ast.GeneratorExp: _comprehension, ast.DictComp: _comprehension, ast.Global: _global, ast.Nonlocal: _nonlocal,
    ast.ExceptHandler: _handler, ast.MatchAs: _capture, ast.MatchStar: _capture, ast.MatchMapping: _mapping,
    ast.Call: _call, ast.Name: _Walk.name, ast.Attribute: _attribute, ast.Subscript: _subscript, ast.Expr: _expression,
}


def cell_names(tree: ast.Module) -> CellNames:
    """What the cell parsed as ``tree`` defines, modifies, uses and calls."""
    walk = _Walk()
    walk.body(tree.body)
    return walk.result()
