"""nbsql/_compat/pyflakes.py: its shortcuts find what stock pyflakes finds, in every version of its range."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from pyflakes.checker import Checker

from nbsql._compat import pyflakes
from nbsql.health.context import IPYTHON_NAMES, NotebookContext
from nbsql.read import read_notebook
from nbsql.rows import analyses_python, code_facts

from .conftest import REAL, notebook_files
from .test_compat import installed_beside, run_test_with


def _name_problems() -> dict[str, list]:
    found = {}
    for path in notebook_files(REAL):
        try:
            notebook = read_notebook(path.read_bytes())
        except Exception:
            continue
        if analyses_python(notebook):
            found[str(path)] = NotebookContext(notebook, code_facts(notebook)).name_problems
    return found


def test_the_shortcuts_find_exactly_what_pyflakes_finds(monkeypatch):
    fast = _name_problems()
    monkeypatch.setattr(pyflakes._Checker, "CALL", Checker.CALL)
    monkeypatch.setattr(pyflakes._Checker, "futuresAllowed", Checker.futuresAllowed)
    monkeypatch.setattr(pyflakes._Checker, "addBinding", Checker.addBinding)
    monkeypatch.setattr(pyflakes._Checker, "descendantOf", Checker.descendantOf)
    for name, handler in vars(Checker).items():
        if handler is Checker.handleChildren:
            monkeypatch.setattr(pyflakes._Checker, name, handler)
    assert _name_problems() == fast
    assert sum(map(len, fast.values())) > 1000


# the oldest of the range; the last before parent links in a dict (3.1); the last visiting in its own order
@pytest.mark.parametrize("version", ["2.2.0", "3.0.1", "3.4.0"])
def test_the_shortcuts_hold_for_older_pyflakes(version, tmp_path):
    environment = installed_beside("pyflakes", version, tmp_path)
    used = subprocess.run([sys.executable, "-c", "import pyflakes; print(pyflakes.__version__)"], env=environment,
                          capture_output=True, text=True)
    assert used.stdout.strip() == version
    run_test_with(environment, f"{Path(__file__).name}::test_the_shortcuts_find_exactly_what_pyflakes_finds")


def test_a_pyflakes_outside_the_range_is_refused_before_use(tmp_path):
    environment = installed_beside("pyflakes", "2.1.1", tmp_path)
    run = subprocess.run([sys.executable, "-c", "import nbsql.health.context"], env=environment, capture_output=True,
                         text=True)
    assert run.stderr.strip().splitlines()[-1] == ("nbsql.errors.NbsqlError: pyflakes 2.1.1 is installed, but "
                                                   f"nbsql works with pyflakes {pyflakes.SUPPORTED}: "
                                                   "install a version in that range")


def test_rebinding_in_branches_is_judged_as_pyflakes_judges_it():
    """The descendantOf shortcut on the cases it decides: if, else, try, except, else of try."""
    sources = [
        "import os\nif x:\n    import os\nelse:\n    import os",
        "try:\n    import json\nexcept ImportError:\n    json = None\nelse:\n    import json",
        "import re\ntry:\n    import re\n    import re\nfinally:\n    pass",
        "if a:\n    def f(): pass\n    def f(): pass\nelif b:\n    def f(): pass",
        "for i in y:\n    if i:\n        import sys\n    else:\n        import sys\n    import sys",
    ]
    for source in sources:
        notebook = read_notebook(orjson.dumps({"nbformat": 4, "nbformat_minor": 4, "metadata": {}, "cells": [
            {"cell_type": "code", "execution_count": 1, "metadata": {}, "outputs": [], "source": source}]}))
        ours = [(p.kind, p.line) for p in NotebookContext(notebook, code_facts(notebook)).name_problems]
        stock = Checker(ast.parse(source), builtins=IPYTHON_NAMES)
        assert ours == [(type(m).__name__, m.lineno) for m in stock.messages], source


def test_each_message_comes_with_its_statement_and_a_redefinition_with_the_first_binding():
    module = ast.parse("import os\nimport os\ndef f():\n    return y\n")
    reports = pyflakes.check(module)
    assert [(type(r.message).__name__, r.statement, r.original_statement) for r in reports] == [
        ("RedefinedWhileUnused", module.body[1], module.body[0]), ("UndefinedName", module.body[2], None),
        ("UnusedImport", module.body[1], None)]
    assert reports[0].original is module.body[0]
