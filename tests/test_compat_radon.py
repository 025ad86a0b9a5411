"""nbsql/_compat/radon.py: its complexity visitor gives what radon's own gives, in every version of its range."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from radon.visitors import ComplexityVisitor

from nbsql._compat import radon
from nbsql.code import mask_ipython, parse_quietly
from nbsql.model import NotebookError
from nbsql.read import read_notebook

from .conftest import REAL, SAMPLES, notebook_files
from .test_compat import installed_beside, run_test_with


def _summary(visitor: ComplexityVisitor) -> tuple:
    """Everything nbsql reads of a visitor: totals, and each block with its closures and inner classes."""
    def block(b) -> tuple:
        inner = [block(c) for c in getattr(b, "closures", ())] + [block(c) for c in getattr(b, "methods", ())] + \
            [block(c) for c in getattr(b, "inner_classes", ())]
        return type(b).__name__, b.name, b.lineno, b.endline, b.complexity, inner
    return (visitor.complexity, visitor.total_complexity, [block(f) for f in visitor.functions],
            [block(c) for c in visitor.classes])


def _trees(paths: list[Path]):
    for path in paths:
        try:
            notebook = read_notebook(path.read_bytes())
        except NotebookError:
            continue
        for cell in notebook.cells:
            masked = mask_ipython(cell.source) if cell.cell_type == "code" else None
            if masked is not None and cell.source.strip():
                try:
                    yield parse_quietly(masked)
                except (SyntaxError, ValueError):
                    continue


def test_complexity_equals_radons_own_visitor():
    checked = 0
    for tree in _trees(notebook_files(SAMPLES) + notebook_files(REAL)):
        try:
            expected = _summary(ComplexityVisitor.from_ast(tree))
        except RecursionError:
            continue
        assert _summary(radon.complexity_visitor(tree)) == expected, ast.unparse(tree)[:2000]
        checked += 1
    assert checked > 10_000


def test_complexity_holds_for_the_oldest_radon_of_the_range(tmp_path):
    environment = installed_beside("radon", "6.0.0", tmp_path)
    used = subprocess.run([sys.executable, "-c", "import radon; print(radon.__version__)"], env=environment,
                          capture_output=True, text=True)
    assert used.stdout.strip() == "6.0.0"
    run_test_with(environment, f"{Path(__file__).name}::test_complexity_equals_radons_own_visitor")


def test_a_radon_outside_the_range_is_refused_before_use(tmp_path):
    environment = installed_beside("radon", "5.1.0", tmp_path)
    run = subprocess.run([sys.executable, "-c", "import nbsql.code"], env=environment, capture_output=True, text=True)
    assert run.stderr.strip().splitlines()[-1] == ("nbsql.errors.NbsqlError: radon 5.1.0 is installed, but "
                                                   f"nbsql works with radon {radon.SUPPORTED}: "
                                                   "install a version in that range")


@pytest.mark.parametrize("source", ["def f(x):\n    if x:\n        def g():\n            return [y for y in x if y]\n"
                                    "        return g\n    return None\n",
                                    "class A:\n    class B:\n        def m(self):\n            while a or b:\n"
                                    "                pass\n    x = 1 if c else 2\n",
                                    "match p:\n    case 1:\n        pass\n    case _:\n        pass\n",
                                    "try:\n    pass\nexcept A:\n    pass\nelse:\n    assert z\n"])
def test_complexity_of_each_kind_of_block(source):
    tree = ast.parse(source)
    assert _summary(radon.complexity_visitor(tree)) == _summary(ComplexityVisitor.from_ast(tree))
