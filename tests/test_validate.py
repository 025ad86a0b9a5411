"""Schema validation: fastjsonschema's verdict equals jsonschema's; jsonschema words the problem."""

from __future__ import annotations

import os
import subprocess
import sys

import orjson

from nbsql.health import validate
from nbsql.read import parse_json

from .conftest import CORPUS, SAMPLES, notebook_files

VALID = {"nbformat": 4, "nbformat_minor": 4, "metadata": {}, "cells": [
    {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": "x = 1"}]}
INVALID = {**VALID, "cells": [{"cell_type": "code", "metadata": {}, "source": 1}]}


def test_verdicts_agree_with_jsonschema_on_the_corpus_edge_cases_and_samples():
    files = sorted((CORPUS / "edge").rglob("*.ipynb")) + sorted(SAMPLES.rglob("*.ipynb")) + \
        notebook_files(CORPUS / "real")[::8]
    checked = 0
    for path in files:
        try:
            raw = parse_json(path.read_bytes())
        except Exception:
            continue
        version = validate._version(raw) if isinstance(raw, dict) else None
        if version is None:
            continue
        expected = not any(True for _ in validate._wording_validator(*version).iter_errors(raw))
        assert (list(validate.schema_errors(raw)) == []) == expected, path
        checked += 1
    assert checked > 150


def test_validators_are_generated_in_memory_only(tmp_path):
    environment = {**os.environ, "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    code = "from nbsql.health import validate; validate.prepare(); print(list(validate.schema_errors({})))"
    subprocess.run([sys.executable, "-c", code], env=environment, check=True, capture_output=True)
    assert list(tmp_path.iterdir()) == []


def test_validation_leaves_the_notebook_unchanged():
    raw = orjson.loads(orjson.dumps(VALID))
    list(validate.schema_errors(raw))
    assert raw == VALID


def test_odd_minor_versions_use_the_nearest_schema():
    assert list(validate.schema_errors({**VALID, "nbformat_minor": -3})) == [
        "nbformat_minor: -3 is less than the minimum of 0"]
    five = list(validate.schema_errors({**VALID, "nbformat_minor": 5}))  # 4.5 asks for cell ids
    assert five and list(validate.schema_errors({**VALID, "nbformat_minor": 99})) == five


def _tagged(*enums: list) -> dict:
    return {"oneOf": [{"type": "object", "required": ["t"], "properties": {"t": {"enum": e}}} for e in enums]}


def test_only_choices_that_exclude_one_another_become_any_of():
    assert "anyOf" in validate.exclusive_choices(_tagged(["a"], ["b", "c"]))
    assert "oneOf" in validate.exclusive_choices(_tagged(["a", "b"], ["b"]))  # {"t": "b"} matches both
    assert "anyOf" in validate.exclusive_choices({"oneOf": [{"type": "string"}, {"type": "array"}]})
    assert "oneOf" in validate.exclusive_choices({"oneOf": [{"type": "integer"}, {"type": "number"}]})
    untagged = {"oneOf": [{"type": "object", "properties": {"t": {"enum": ["a"]}}},
                          {"type": "object", "properties": {"t": {"enum": ["b"]}}}]}  # {} matches both
    assert "oneOf" in validate.exclusive_choices(untagged)
    schema = validate.exclusive_choices(orjson.loads(validate._schema_text(4, 5)))
    assert "oneOf" not in orjson.dumps(schema).decode()
    assert schema["definitions"]["cell"]["anyOf"][0] == {"$ref": "#/definitions/code_cell"}


def test_problems_are_worded_for_the_first_failing_cell_at_its_position():
    bad = INVALID["cells"][0]
    notebook = {**VALID, "cells": VALID["cells"] * 2 + [bad] + VALID["cells"] + [{**bad, "source": 2}]}
    problems = list(validate.schema_errors(notebook))
    assert problems == ["cells/2: 'outputs' is a required property"]  # within the choice its cell_type names
    bad_metadata = {**notebook, "metadata": {"kernelspec": "python3"}}
    assert list(validate.schema_errors(bad_metadata)) == ["metadata/kernelspec: 'python3' is not of type 'object'"]
    assert list(validate.schema_errors({**VALID, "cells": "x"})) == ["cells: 'x' is not of type 'array'"]


def test_problems_are_worded_within_the_choice_a_cell_or_output_names():
    markdown = {"cell_type": "markdown", "metadata": {}, "source": "# T"}  # 4.5 cells need an id
    assert list(validate.schema_errors({**VALID, "nbformat_minor": 5, "cells": [markdown]})) == \
        ["cells/0: 'id' is a required property"]
    stream = {"output_type": "stream", "name": "stdout", "text": "x", "metadata": {}}
    code = {**VALID["cells"][0], "outputs": [stream]}
    assert list(validate.schema_errors({**VALID, "cells": [code]})) == \
        ["cells/0/outputs/0: Additional properties are not allowed ('metadata' was unexpected)"]
    unknown = {**markdown, "cell_type": "chart"}  # names no choice: jsonschema's own wording
    assert "is not valid under any of the given schemas" in list(validate.schema_errors(
        {**VALID, "cells": [unknown]}))[0]
