"""Static analysis of code cells: masking, imports, installs, definitions and radon metrics."""

from __future__ import annotations

import ast
import warnings

import orjson
import pytest
from radon.metrics import halstead_visitor_report, mi_compute
from radon.visitors import ComplexityVisitor, HalsteadVisitor

from nbsql.code import analyze, mask_ipython
from nbsql.health.config import Settings
from nbsql.load import process_bytes
from nbsql.model import NotebookError
from nbsql.read import read_notebook

from .conftest import REAL, SAMPLES, notebook_files


def test_magics_and_shell_lines_are_masked_in_place():
    source = "%matplotlib inline\nfiles = !ls\nfor f in files:\n    !echo $f\nx?\n%time y = \\\n  2\nz = 1"
    masked = mask_ipython(source)
    assert masked.split("\n") == ["pass", "files = None", "for f in files:", "    pass", "pass", "pass", "", "z = 1"]
    ast.parse(masked)


def test_magics_that_time_python_keep_it():
    assert mask_ipython("%time y = f(x)\n%timeit -n 10 -r 3 g(y)\n%prun h()") == "y = f(x)\ng(y)\nh()"
    assert mask_ipython("%%capture out --no-stderr\nprint(1)") == "out = None\nprint(1)"
    assert mask_ipython("x = 1  # right?\nx?") == "x = 1  # right?\npass"


def test_cell_magics():
    assert mask_ipython("%%bash\nls -l") is None
    assert mask_ipython("\n%%timeit\nx = 1") == "\n\nx = 1"


def test_imports_of_a_parsed_cell():
    facts = analyze("import os, numpy as np\nfrom sklearn.linear_model import LinearRegression as LR\n"
                    "from . import helpers\nfrom ..pkg.mod import *\n%pip install -q 'pandas>=2' requests\n"
                    "!python -m pip install -r requirements.txt scikit-learn==1.3.0\n!conda install -y numpy\n")
    rows = [(i.line, i.kind, i.module, i.name, i.alias, i.package, i.is_stdlib, i.is_relative, i.spec)
            for i in facts.imports]
    assert rows == [
        (1, "import", "os", None, None, "os", True, False, None),
        (1, "import", "numpy", None, "np", "numpy", False, False, None),
        (2, "from", "sklearn.linear_model", "LinearRegression", "LR", "sklearn", False, False, None),
        (3, "from", ".", "helpers", None, None, False, True, None),
        (4, "from", "..pkg.mod", "*", None, None, False, True, None),
        (5, "pip", "pandas", None, None, "pandas", False, False, "pandas>=2"),
        (5, "pip", "requests", None, None, "requests", False, False, "requests"),
        (6, "pip", "scikit-learn", None, None, "scikit-learn", False, False, "scikit-learn==1.3.0"),
        (7, "conda", "numpy", None, None, "numpy", False, False, "numpy"),
    ]


def test_a_cell_that_does_not_parse_keeps_its_imports():
    facts = analyze("import pandas as pd\nfrom os import (path,\n    sep)\ndef broken(:\n    import json\n")
    assert facts.parse_error.startswith("line 4")
    assert facts.sloc is None
    assert [(i.line, i.module, i.name) for i in facts.imports] == [
        (1, "pandas", None), (2, "os", "path"), (2, "os", "sep"), (5, "json", None)]


def test_an_indented_import_of_a_cell_that_does_not_parse_is_not_top_level():
    facts = analyze("import os\ndef f(:\n    import json\n")
    assert [(i.module, i.top_level) for i in facts.imports] == [("os", True), ("json", False)]


def test_a_cell_too_large_to_parse_says_so():
    facts = analyze("import os\nx = " + "-" * 100_000 + "1")  # the parser runs out of memory
    assert facts.parse_error == "too large or too deeply nested to parse (MemoryError)"
    assert [i.module for i in facts.imports] == ["os"]


def test_definitions_and_metrics():
    facts = analyze("# set-up\nclass A:\n    def m(self, x):\n        if x:  # branch\n            return 1\n"
                    "        def inner():\n            pass\n        return 2\n\ndef f():\n    '''doc\n    # not a"
                    " comment\n    '''\n    return 'a # b'\n")
    assert [(d.kind, d.qualified_name, d.line, d.end_line, d.complexity) for d in facts.definitions] == [
        ("function", "f", 10, 14, 1), ("class", "A", 2, 8, 3), ("method", "A.m", 3, 8, 2),
        ("function", "A.m.inner", 6, 7, 1)]
    # the docstring's lines count as source; the '#' inside strings is no comment
    assert (facts.sloc, facts.comments, facts.lloc) == (12, 2, 10)
    assert facts.max_complexity == 3 and facts.complexity == 3


def _python_cells(paths):
    for path in paths:
        try:
            notebook = read_notebook(path.read_bytes())
        except NotebookError:
            continue
        for cell in notebook.cells:
            masked = mask_ipython(cell.source) if cell.cell_type == "code" else None
            if masked is not None and cell.source.strip():
                try:
                    yield cell.source, ast.parse(masked)
                except SyntaxError:
                    continue


def test_analysis_prints_no_warnings_about_the_notebooks_code():
    """Invalid escapes in a parsed cell, a cell read line by line and a parameters cell stay quiet."""
    cell = {"cell_type": "code", "execution_count": None, "outputs": []}
    raw = {"nbformat": 4, "nbformat_minor": 4, "metadata": {}, "cells": [
        {**cell, "metadata": {}, "source": "path = '\\d+'\nimport re"},
        {**cell, "metadata": {}, "source": "import os\npattern = '\\w'\nif x:"},
        {**cell, "metadata": {"tags": ["parameters"]}, "source": "pattern = '\\s'"}]}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rows = process_bytes(orjson.dumps(raw), "x.ipynb", Settings())
    assert caught == [] and len(rows.tables["imports"]) == 2 and len(rows.tables["parameters"]) == 1


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::SyntaxWarning")  # radon parses on its own
@pytest.mark.parametrize("folder", [SAMPLES, REAL], ids=["samples", "real"])
def test_metrics_equal_radons_own_visitors(folder):
    """The single-pass counts give exactly what radon's visitors give, on thousands of real cells."""
    paths = notebook_files(folder)[::3] if folder == REAL else notebook_files(folder)
    checked = 0
    for source, tree in _python_cells(paths):
        facts = analyze(source)
        complexity = ComplexityVisitor.from_ast(tree)
        volume = halstead_visitor_report(HalsteadVisitor.from_ast(tree)).volume
        assert facts.halstead_volume == round(volume, 2), source
        assert facts.complexity == complexity.total_complexity, source
        blocks = sorted((b.name, b.lineno, b.endline, b.complexity) for b in complexity.blocks)
        not_closures = [d for d in facts.definitions if d.kind != "function" or "." not in d.qualified_name]
        assert sorted((d.name, d.line, d.end_line, d.complexity) for d in not_closures) == blocks, source
        share = facts.comments * 100 / facts.sloc if facts.sloc else 0
        assert facts.maintainability == round(mi_compute(volume, complexity.total_complexity, facts.lloc, share), 2)
        checked += 1
    assert checked > (3000 if folder == REAL else 20)
