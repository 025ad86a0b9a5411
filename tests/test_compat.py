"""nbsql/_compat/: the version check, and no private name of another library used anywhere else."""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

import nbsql
from nbsql import _compat
from nbsql.errors import NbsqlError

PACKAGE = Path(nbsql.__file__).parent

#: Names other libraries document as public despite their underscore.
DOCUMENTED = {"_exit", "_getframe", "_fields", "_field_types", "_asdict", "_replace", "_make", "_field_defaults"}
#: Private names still used outside _compat/, by file: each entry is to be removed when its use moves
#: to nbsql/_compat/<library>.py (issue 12, point 1), and the test fails when one is no longer used.
KNOWN: set[tuple[str, str]] = set()


def installed_beside(distribution: str, version: str, folder: Path) -> dict[str, str]:
    """An environment whose Python imports ``distribution`` at ``version`` (installed into
    ``folder``), the rest from this one; skips the test when pip cannot install it."""
    install = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(folder),
                              f"{distribution}=={version}"], capture_output=True, text=True)
    if install.returncode:
        pytest.skip(f"{distribution} {version} could not be installed: {install.stderr.strip()[-200:]}")
    return {**os.environ, "PYTHONPATH": str(folder)}


def run_test_with(environment: dict[str, str], test: str) -> None:
    """Run one test of this folder in a fresh pytest under ``environment``; fail with its output."""
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test],
                         cwd=Path(__file__).parent, env=environment, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-2000:]


def test_a_version_in_the_range_passes():
    _compat.require("pytest", ">=7")
    _compat.require("Python", ">=3.10", "3.11.7")
    _compat.require("pyflakes", ">=2.2,<4.2", "4.1.1rc1")  # a pre-release within the range


def test_a_version_outside_the_range_is_one_line_naming_the_library_and_the_range():
    with pytest.raises(NbsqlError) as error:
        _compat.require("pyflakes", ">=2.2,<3.3", "9.0")
    assert str(error.value) == \
        "pyflakes 9.0 is installed, but nbsql works with pyflakes >=2.2,<3.3: install a version in that range"
    with pytest.raises(NbsqlError, match="^no-such-library no version is installed, but"):
        _compat.require("no-such-library", ">=1")
    with pytest.raises(NbsqlError, match="^radon 6.1.0.dev1 is installed"):
        _compat.require("radon", ">=6.0,<6.1", "6.1.0.dev1")
    with pytest.raises(NbsqlError, match="^Python 3.12.0rc1 is installed"):  # the bound's own pre-release
        _compat.require("Python", ">=3.10,<3.12", "3.12.0rc1")
    with pytest.raises(NbsqlError, match="^x not-a-version is installed"):
        _compat.require("x", ">=1", "not-a-version")


@pytest.mark.parametrize("library", ["pyflakes", "radon"])
def test_pyproject_pins_each_library_to_the_range_checked(library):
    module = importlib.import_module(f"nbsql._compat.{library}")
    pyproject = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text(encoding="utf-8"))
    [pinned] = [r for r in map(Requirement, pyproject["project"]["dependencies"]) if r.name == library]
    assert pinned.specifier == SpecifierSet(module.SUPPORTED)


def test_importing_nbsql_checks_nothing_yet():
    """The checks run when the modules using the libraries are imported, not with nbsql itself."""
    code = "import sys, nbsql; print([m for m in sys.modules if m.startswith(('nbsql._compat', 'pyflakes', 'radon'))])"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"


def _foreign_imports(tree: ast.Module) -> tuple[set[str], list[tuple[int, str]]]:
    """Names a module binds to other libraries' modules and objects, and the private names it imports."""
    names, private = set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] != "nbsql":
                    names.add(alias.asname or alias.name.split(".")[0])
                    private += [(node.lineno, part) for part in alias.name.split(".") if _private(part)]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module.split(".")[0] != "nbsql":
            private += [(node.lineno, part) for part in node.module.split(".") if _private(part)]
            for alias in node.names:
                names.add(alias.asname or alias.name)
                if _private(alias.name):
                    private.append((node.lineno, alias.name))
    return names, private


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__") and name not in DOCUMENTED


def _bindings(scope: ast.AST) -> Iterator[tuple[ast.expr, ast.expr]]:
    """(target, value) of the assignments, loops and ``with ... as`` in ``scope`` (a function: all of
    it; a module: its own statements, not its functions' and classes')."""
    nodes = ast.walk(scope) if not isinstance(scope, ast.Module) else \
        (n for statement in scope.body if not isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                                      ast.ClassDef)) for n in ast.walk(statement))
    for node in nodes:
        if isinstance(node, ast.Assign):
            yield from ((target, node.value) for target in node.targets)
        elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
            yield node.target, node.value
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
            yield node.target, node.iter
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            yield node.optional_vars, node.context_expr


class _Uses(ast.NodeVisitor):
    """Private names used on objects of other libraries: their modules and what comes from them
    (attributes, calls, items), names assigned such objects, and in a class deriving from another
    library's, ``self``'s and ``super()``'s attributes that the library's classes name."""

    def __init__(self, foreign: set[str], module_name: str) -> None:
        self.foreign, self.module_name = foreign, module_name
        self.inherited: set[str] = set()  # the private names of the current class's other-library bases
        self.found: list[tuple[int, str]] = []

    def visit_Module(self, node: ast.Module) -> None:
        classes = [item for item in node.body if isinstance(item, ast.ClassDef)]
        for _ in classes:  # its classes deriving from other libraries' (through chains of them) are theirs too
            self.foreign |= {c.name for c in classes if any(self._from_elsewhere(base) for base in c.bases)}
        self._assigned(node)
        self.generic_visit(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        outer = self.inherited
        if any(self._from_elsewhere(base) for base in node.bases):
            cls = getattr(importlib.import_module(self.module_name), node.name, None)  # None: not at module level
            self.inherited = {name for base in getattr(cls, "__mro__", ()) if base.__module__ != cls.__module__
                              and not base.__module__.startswith("nbsql")
                              for name in re.findall(r"\b_\w+", _source(base)) if _private(name)}
            self.found += [(item.lineno, item.name) for item in node.body  # overrides of private methods
                           if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name in self.inherited]
        self.generic_visit(node)
        self.inherited = outer

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        outer = set(self.foreign)
        self._assigned(node)
        self.generic_visit(node)
        self.foreign = outer

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if _private(node.attr) and self._owner_elsewhere(node.value, node.attr):
            self.found.append((node.lineno, node.attr))
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        """``getattr(owner, "_name")`` and the like."""
        if isinstance(node.func, ast.Name) and node.func.id in ("getattr", "setattr", "hasattr", "delattr") and \
                len(node.args) > 1 and isinstance(node.args[1], ast.Constant) and \
                isinstance(node.args[1].value, str) and _private(node.args[1].value) and \
                self._owner_elsewhere(node.args[0], node.args[1].value):
            self.found.append((node.lineno, node.args[1].value))
        self.generic_visit(node)

    def _assigned(self, scope: ast.AST) -> None:
        """Add the names ``scope`` assigns objects of other libraries to (through chains of them)."""
        bindings = list(_bindings(scope))
        for _ in range(len(bindings)):
            names = {n.id for target, value in bindings if self._from_elsewhere(value)
                     for n in ast.walk(target) if isinstance(n, ast.Name)}
            if names <= self.foreign:
                return
            self.foreign |= names

    def _owner_elsewhere(self, owner: ast.expr, name: str) -> bool:
        if isinstance(owner, ast.Name) and owner.id == "self" or \
                isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name) and owner.func.id == "super":
            return name in self.inherited
        return self._from_elsewhere(owner)

    def _from_elsewhere(self, node: ast.expr) -> bool:
        while isinstance(node, (ast.Attribute, ast.Call, ast.Subscript)):
            node = node.func if isinstance(node, ast.Call) else node.value
        return isinstance(node, ast.Name) and (node.id in self.foreign or node.id == "self" and bool(self.inherited))


def _source(cls: type) -> str:
    try:
        return inspect.getsource(cls)
    except (OSError, TypeError):  # builtins
        return ""


def _private_uses(path: Path, module_name: str) -> list[tuple[int, str]]:
    """(line, name) of each private name of another library that the module at ``path`` uses."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names, private = _foreign_imports(tree)
    uses = _Uses(names, module_name)
    uses.visit(tree)
    return private + uses.found


def test_no_private_name_of_another_library_is_used_outside_compat():
    found = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] != "_compat":
            module_name = ".".join(("nbsql",) + relative.with_suffix("").parts).removesuffix(".__init__")
            found |= {(relative.as_posix(), line, name) for line, name in _private_uses(path, module_name)}
    unexpected = sorted(use for use in found if use[::2] not in KNOWN)
    assert not unexpected, "move these into nbsql/_compat/<library>.py: " + \
        ", ".join(f"{file}:{line} {name}" for file, line, name in unexpected)
    stale = KNOWN - {use[::2] for use in found}
    assert not stale, f"no longer used outside _compat/, remove from KNOWN: {sorted(stale)}"


def test_the_scan_finds_what_it_looks_for(tmp_path, monkeypatch):
    source = ("import pyflakes.checker\nfrom pyflakes.checker import _is_typing\nfrom nbformat.v4 import convert\n"
              "import multiprocessing.pool\n\n"
              "def f(tree):\n    checker = pyflakes.checker.Checker(tree)\n    message = checker.messages[0]\n"
              "    return checker._parents, message._node, getattr(convert, '_warn_if_invalid'), tree._ours\n\n"
              "class Pool(multiprocessing.pool.Pool):\n    def _get_sentinels(self):\n"
              "        return self._state, self._ours, super()._terminate_pool\n")
    (tmp_path / "scanned_example.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert sorted(_private_uses(tmp_path / "scanned_example.py", "scanned_example")) == [
        (2, "_is_typing"), (9, "_node"), (9, "_parents"), (9, "_warn_if_invalid"), (12, "_get_sentinels"),
        (13, "_state"), (13, "_terminate_pool")]
