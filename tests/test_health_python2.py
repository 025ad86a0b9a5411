"""Python 2 notebooks (issue 14 point 1): told from their metadata, else from cells only Python 2 parses."""

from __future__ import annotations

import json

import pytest

from nbsql import check
from nbsql.pyversion import declared_major, only_python2

from .conftest import open_db


@pytest.mark.parametrize("source, expected", [
    ('print "hi"', True), ("print >>f, x", True), ("print x,", True), ("print (x), y", True), ("print x.y", True),
    ("exec 'x = 1' in ns", True), ("try:\n    pass\nexcept (A, B), e:\n    pass", True), ("x = `y`", True),
    ("if a <> b:\n    pass", True), ("x = 0777", True), ("x = 10L", True), ("s = ur'x'", True),
    ("f = lambda (k, v): v", True), ("def f((a, b)):\n    pass", True), ("raise E, 'message'", True),
    # valid Python 3 beside a real error, or errors in both: not Python 2 code
    ("print('x')\n1 = x", False), ("exec(code)\n1 = x", False), ("print\n1 = x", False), ("x = 00\n1 = x", False),
    ("print('a', end='')", False), ("x = (", False), ("1 = x", False), ("x := 1", False),
    ("try:\n    pass\nexcept (A, B):\n    pass\n1 = x", False), ("\x00", False), ("(" * 5000, False),
])
def test_cells_that_parse_only_as_python2(source, expected):
    assert only_python2(source) is expected


@pytest.mark.parametrize("metadata, expected", [
    ({"language_info": {"name": "python", "version": "2.7.18"}}, 2),
    ({"language_info": {"name": "python", "version": "3.11.7"}, "kernelspec": {"name": "python2"}}, 3),
    ({"language_info": {"pygments_lexer": "ipython2"}}, 2),
    ({"language_info": {"codemirror_mode": {"name": "ipython", "version": 2}}}, 2),
    ({"kernelspec": {"name": "python2", "display_name": "Python 2"}}, 2),
    ({"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)"}}, 3),
    ({"kernelspec": {"name": "conda-env-py27-py"}}, 2),
    ({"kernelspec": {"name": "pymc_env", "display_name": "Python (pymc_env)"}}, None),
    ({"kernelspec": {"name": "python_defaultSpec_1591908362720"}}, None),
    ({"kernelspec": "python2", "language_info": ["2.7"]}, None),
    ({}, None),
])
def test_the_python_version_the_metadata_names(metadata, expected):
    assert declared_major(metadata) == expected


def _notebook(metadata: dict, *sources: str) -> str:
    cells = [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": s}
             for s in sources]
    return json.dumps({"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 4})


def test_the_python_major_version_is_stored_for_filtering(tmp_path):
    folder = tmp_path / "nbs"
    folder.mkdir()
    notebooks = {
        "declared2.ipynb": _notebook({"kernelspec": {"name": "python2", "language": "python"}}, "x = 1"),
        "declared3.ipynb": _notebook({"kernelspec": {"name": "python3", "language": "python"}}, 'print "x"'),
        "cells2.ipynb": _notebook({}, "x = 1", 'print "x"'),
        "cells3.ipynb": _notebook({}, "print(1)"),
        "empty.ipynb": _notebook({}),
        "julia.ipynb": _notebook({"kernelspec": {"name": "julia-1.9", "language": "julia"}}, "x = 1"),
    }
    for name, text in notebooks.items():
        (folder / name).write_text(text, encoding="utf-8")
    report = check([folder], db=tmp_path / "nb.db")
    with open_db(tmp_path / "nb.db") as conn:
        stored = dict(conn.execute("SELECT path, python_major FROM notebooks"))
    assert stored == {"declared2.ipynb": 2, "declared3.ipynb": 3, "cells2.ipynb": 2, "cells3.ipynb": 3,
                      "empty.ipynb": None, "julia.ipynb": None}
    flagged = sorted(r.path.rsplit("/", 1)[-1] for r in report.rows if r.code == "NB308")
    assert flagged == ["cells2.ipynb", "declared2.ipynb"]
