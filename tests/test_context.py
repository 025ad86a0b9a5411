"""The shared views rules read: pyflakes' findings mapped to cells (its shortcuts: test_compat_pyflakes.py)."""

from __future__ import annotations

import orjson

from nbsql.health.context import NotebookContext
from nbsql.read import read_notebook
from nbsql.rows import code_facts


def _context(*sources: str) -> NotebookContext:
    notebook = read_notebook(orjson.dumps({"nbformat": 4, "nbformat_minor": 4, "metadata": {}, "cells": [
        {"cell_type": "code", "execution_count": 1, "metadata": {}, "outputs": [], "source": source}
        for source in sources]}))
    return NotebookContext(notebook, code_facts(notebook))


def test_typing_imports_take_pyflakes_own_path():
    problems = _context("from typing import cast\nx = cast('Frame', y)\nz = cast(int, w)").name_problems
    # pyflakes reads the string in cast() as an annotation: 'Frame' is an undefined name there
    assert sorted(p.name for p in problems if p.kind == "UndefinedName") == ["Frame", "w", "y"]


def test_problems_are_found_over_the_cells_and_mapped_to_theirs():
    """One module of all cells; no kernel defines ``__file__``; a cell that does not parse may define ``z``."""
    problems = _context("import os", "x = 1\nimport os", "print(__file__, y, display)", "z = (", "g(z)").name_problems
    assert [(p.kind, p.position, p.line, p.message, p.redefines_import) for p in problems] == [
        ("RedefinedWhileUnused", 1, 2, "redefinition of unused 'os' from cell 0, line 1", True),
        ("UndefinedName", 2, 1, "undefined name '__file__'", False),
        ("UndefinedName", 2, 1, "undefined name 'y'", False),
        ("UndefinedName", 4, 1, "undefined name 'g'", False),
        ("UnusedImport", 1, 2, "'os' imported but unused", False)]
