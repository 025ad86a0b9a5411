"""The reader on every edge-case notebook of the shared corpus and on hand-made hostile bytes."""

from __future__ import annotations

import json

import pytest

from nbsql.model import NotebookError
from nbsql.read import read_notebook, title_of

from .conftest import EDGE, notebook_files

MINIMAL = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}


def nb_bytes(**changes) -> bytes:
    return json.dumps({**MINIMAL, **changes}).encode()


def code_cell(source="x = 1\n", **changes) -> dict:
    return {"cell_type": "code", "source": source, "metadata": {}, "execution_count": 1, "outputs": [], **changes}


@pytest.mark.parametrize("path", notebook_files(EDGE), ids=lambda p: str(p.relative_to(EDGE)))
def test_every_edge_notebook_reads_or_fails_cleanly(path):
    data = path.read_bytes()
    try:
        notebook = read_notebook(data)
    except NotebookError as exc:
        assert exc.kind and "\n" not in exc.message
        return
    raw = json.loads(data)
    if raw.get("nbformat", 4) >= 4 and isinstance(raw.get("cells"), list):
        assert len(notebook.cells) == len(raw["cells"])
    assert [c.position for c in notebook.cells] == list(range(len(notebook.cells)))


@pytest.mark.parametrize("data, kind", [
    (b"", "empty"),
    (b"  \n", "empty"),
    (b'{"cells": [}', "json"),
    (b'{"nbformat": 4, "cells": [{"cell_type": "code", "source": "x', "truncated"),
    (bytes(range(256)) * 4, "binary"),
    (b'{"nbformat": 4, "metadata": {"a": "\xff\xfe"}, "cells": []}', "encoding"),
    (b"[1, 2, 3]", "not_a_notebook"),
    (b'"a string"', "not_a_notebook"),
    (b"42", "not_a_notebook"),
    (b"{}", "not_a_notebook"),
    (b'{"nbformat": 4, "nbformat_minor": 2, "metadata": {}}', "not_a_notebook"),
    (b'{"nbformat": 4, "cells": {"0": {}}}', "not_a_notebook"),
    (b'{"nbformat": 5, "nbformat_minor": 0, "metadata": {}, "cells": []}', "unsupported_version"),
    (b"[" * 100_000 + b"]" * 100_000, "json"),
])
def test_bad_bytes_raise_a_clear_error(data, kind):
    with pytest.raises(NotebookError) as info:
        read_notebook(data)
    assert info.value.kind == kind
    assert info.value.message and "\n" not in info.value.message


def test_bom_crlf_and_utf16_are_read():
    text = json.dumps({**MINIMAL, "cells": [code_cell()]}, indent=1)
    for data in (b"\xef\xbb\xbf" + text.encode(), text.replace("\n", "\r\n").encode(), text.encode("utf-16")):
        assert read_notebook(data).cells[0].source == "x = 1\n"


def test_nan_falls_back_to_stdlib_json():
    data = nb_bytes(metadata={"n": 1}).replace(b'"n": 1', b'"n": NaN')
    value = read_notebook(data).metadata["n"]
    assert value != value  # NaN


def test_list_sources_and_mime_data_are_joined():
    output = {"output_type": "display_data", "metadata": {},
              "data": {"text/plain": ["a\n", "b"], "image/png": ["iVBO", "Rw0K"], "application/json": ["x"]}}
    cell = code_cell(source=["import os\n", "os.getcwd()"], outputs=[output])
    notebook = read_notebook(nb_bytes(cells=[cell]))
    assert notebook.cells[0].source == "import os\nos.getcwd()"
    data = notebook.cells[0].outputs[0].data
    assert data["text/plain"] == "a\nb" and data["image/png"] == "iVBORw0K"
    assert data["application/json"] == ["x"]  # JSON keeps its structure


def test_wrong_types_inside_are_repaired_and_reported():
    cells = [code_cell(source=42), {"cell_type": "code", "source": "y", "metadata": {}}, "not a cell",
             code_cell(execution_count="3", outputs="nope"), {"source": "no type"}]
    notebook = read_notebook(nb_bytes(metadata={"kernelspec": "python3"}, cells=cells))
    assert [c.cell_type for c in notebook.cells] == ["code", "code", "invalid", "code", "invalid"]
    assert notebook.cells[0].source == "42"
    assert notebook.cells[3].execution_count is None
    assert notebook.kernel_name is None
    text = " | ".join(notebook.warnings)
    for fragment in ("kernelspec is a string", "cell 0 source is a number", "cell 1: code cell without 'outputs'",
                     "cell 2 is a string", "cell 3 execution_count", "cell 3: 'outputs' is a string", "cell 4"):
        assert fragment in text


def test_cell_ids_are_data_and_positions_are_keys():
    cells = [code_cell(id="abc"), {"cell_type": "markdown", "source": "# T", "metadata": {}, "id": "def"}]
    notebook = read_notebook(nb_bytes(cells=cells))
    assert [(c.position, c.cell_id) for c in notebook.cells] == [(0, "abc"), (1, "def")]


def test_nbformat_4_99_reads_with_a_warning():
    notebook = read_notebook(nb_bytes(nbformat_minor=99, cells=[code_cell()]))
    assert notebook.nbformat_minor == 99 and "4.99" in notebook.warnings[0]


def test_v3_is_upgraded_with_languages_and_no_random_ids():
    v3 = {"nbformat": 3, "nbformat_minor": 0, "metadata": {"name": "old"}, "worksheets": [{"cells": [
        {"cell_type": "heading", "level": 1, "source": ["Old title"], "metadata": {}},
        {"cell_type": "code", "language": "python", "input": ["print(1)"], "prompt_number": 4, "metadata": {},
         "collapsed": False,
         "outputs": [{"output_type": "pyout", "prompt_number": 4, "text": ["1"], "metadata": {}},
                     {"output_type": "pyerr", "ename": "E", "evalue": "v", "traceback": ["t"]}]}]}]}
    data = json.dumps(v3).encode()
    first, second = read_notebook(data), read_notebook(data)
    assert first == second  # deterministic: no random cell ids
    assert (first.nbformat, first.orig_nbformat, first.language) == (3, 3, "python")
    assert [c.cell_type for c in first.cells] == ["markdown", "code"]
    assert title_of(first) == "Old title"
    code = first.cells[1]
    assert code.source == "print(1)" and code.execution_count == 4 and code.cell_id is None
    assert [o.output_type for o in code.outputs] == ["execute_result", "error"]


def test_upgrade_skips_nbformats_logged_validation(monkeypatch, capfd):
    """nbformat validates twice per v3 upgrade only to log (a tenth of a second per process); nbsql has NB306."""
    import nbformat
    from nbformat.v4 import convert

    validations = []
    monkeypatch.setattr(nbformat, "validate", lambda *args, **kwargs: validations.append(args))
    own = convert._warn_if_invalid
    invalid_v3 = {"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [{"cells": [
        {"cell_type": "code", "input": "x = 1", "outputs": [{"output_type": "stream", "text": "1"}]}]}]}
    notebook = read_notebook(json.dumps(invalid_v3).encode())
    assert notebook.cells[0].source == "x = 1"
    assert validations == [] and capfd.readouterr().err == ""
    assert convert._warn_if_invalid is own  # nbformat's own function is back
    convert.upgrade(nbformat.v3.to_notebook_json(invalid_v3), from_version=3, from_minor=0)
    assert len(validations) == 2  # the recorder sees nbformat's own calls: the test would catch them


def test_v1_and_v2_are_upgraded():
    v1 = {"nbformat": 1, "cells": [{"cell_type": "code", "code": "print(1)", "prompt_number": 1}]}
    notebook = read_notebook(json.dumps(v1).encode())
    assert notebook.orig_nbformat == 1 and notebook.cells[0].source == "print(1)"
    v2 = read_notebook((EDGE / "nbformat/tests/test2.ipynb").read_bytes())
    assert v2.orig_nbformat == 2 and len(v2.cells) == 21


def test_broken_v3_is_an_upgrade_error_or_read():
    for v3 in ({"nbformat": 3, "worksheets": "x"}, {"nbformat": 3, "worksheets": [{"cells": [{"cell_type": 7}]}]}):
        try:
            read_notebook(json.dumps(v3).encode())
        except NotebookError as exc:
            assert exc.kind == "upgrade_failed"


@pytest.mark.parametrize("metadata, expected", [
    ({"language_info": {"name": "python", "version": "3.11"}}, ("python", "3.11")),
    ({"kernelspec": {"name": "python3", "display_name": "Python 3"}}, ("python", None)),
    ({"kernelspec": {"name": "ir", "language": "R"}}, ("r", None)),
    ({"kernelspec": {"name": "julia-1.9"}}, ("julia", None)),
    ({"jupytext": {"main_language": "R"}}, ("r", None)),  # paired with an R script, no kernel metadata
    ({"kernelspec": {"name": "python3"}, "jupytext": {"main_language": "R"}}, ("python", None)),
    ({}, (None, None)),
])
def test_language_detection(metadata, expected):
    notebook = read_notebook(nb_bytes(metadata=metadata))
    assert (notebook.language, notebook.language_version) == expected


def test_title_is_the_first_heading():
    cells = [{"cell_type": "markdown", "source": "Intro text", "metadata": {}},
             {"cell_type": "markdown", "source": "text\n## The *real* title ##\n# later", "metadata": {}}]
    assert title_of(read_notebook(nb_bytes(cells=cells))) == "The *real* title"
    html = [{"cell_type": "markdown", "source": "<h1 align='center'>HTML <b>title</b></h1>", "metadata": {}}]
    assert title_of(read_notebook(nb_bytes(cells=html))) == "HTML title"
