"""The shared views rules read: pyflakes' findings mapped to cells, and nbsql's shortcuts in it."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from pyflakes.checker import Checker

from nbsql.health import context
from nbsql.health.context import NotebookContext
from nbsql.read import read_notebook
from nbsql.rows import analyses_python, code_facts

from .conftest import REAL, notebook_files


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
    monkeypatch.setattr(context._Checker, "CALL", Checker.CALL)
    monkeypatch.setattr(context._Checker, "futuresAllowed", Checker.futuresAllowed)
    monkeypatch.setattr(context._Checker, "addBinding", Checker.addBinding)
    monkeypatch.setattr(context._Checker, "descendantOf", Checker.descendantOf)
    for name, handler in vars(Checker).items():
        if handler is Checker.handleChildren:
            monkeypatch.setattr(context._Checker, name, handler)
    assert _name_problems() == fast
    assert sum(map(len, fast.values())) > 1000


@pytest.mark.parametrize("version", ["2.2.0", "3.4.0"])  # the pinned oldest; the last visiting in its own order
def test_the_shortcuts_hold_for_older_pyflakes(version, tmp_path):
    target = tmp_path / "site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                              f"pyflakes=={version}"], capture_output=True, text=True)
    if install.returncode:
        pytest.skip(f"pyflakes {version} could not be installed: {install.stderr.strip()[-200:]}")
    environment = {**os.environ, "PYTHONPATH": str(target)}
    used = subprocess.run([sys.executable, "-c", "import pyflakes; print(pyflakes.__version__)"], env=environment,
                          capture_output=True, text=True)
    assert used.stdout.strip() == version
    test = f"{Path(__file__).name}::test_the_shortcuts_find_exactly_what_pyflakes_finds"
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test],
                         cwd=Path(__file__).parent, env=environment, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-2000:]


def test_typing_imports_take_pyflakes_own_path():
    source = "from typing import cast\nx = cast('Frame', y)\nz = cast(int, w)"
    notebook = read_notebook(orjson.dumps({"nbformat": 4, "nbformat_minor": 4, "metadata": {}, "cells": [
        {"cell_type": "code", "execution_count": 1, "metadata": {}, "outputs": [], "source": source}]}))
    problems = NotebookContext(notebook, code_facts(notebook)).name_problems
    # pyflakes reads the string in cast() as an annotation: 'Frame' is an undefined name there
    assert sorted(p.name for p in problems if p.kind == "UndefinedName") == ["Frame", "w", "y"]


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
        stock = Checker(ast.parse(source), builtins=context.IPYTHON_NAMES)
        assert ours == [(type(m).__name__, m.lineno) for m in stock.messages], source
