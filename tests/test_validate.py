"""Schema validation: fastjsonschema's verdict equals jsonschema's; the generated code is cached."""

from __future__ import annotations

import orjson
import pytest

from nbsql.health import validate
from nbsql.read import parse_json

from .conftest import CORPUS, SAMPLES, notebook_files

VALID = {"nbformat": 4, "nbformat_minor": 4, "metadata": {}, "cells": [
    {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": "x = 1"}]}
INVALID = {**VALID, "cells": [{"cell_type": "code", "metadata": {}, "source": 1}]}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv(validate.CACHE_ENVIRONMENT_VARIABLE, str(folder))
    validate._fast_validator.cache_clear()
    yield folder
    validate._fast_validator.cache_clear()


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


def test_generated_code_is_cached_and_used(cache):
    assert list(validate.schema_errors(VALID)) == []
    assert len(list(validate.schema_errors(INVALID))) == 1
    cached = list(cache.glob("nbformat-v4.4-*.py"))
    assert len(cached) == 1
    cached[0].write_text("def validate(data):\n    return data\n")  # accepts anything: shows it is read
    validate._fast_validator.cache_clear()
    assert list(validate.schema_errors(INVALID)) == []


@pytest.mark.parametrize("damage", ["def validate(data:\n", "", "import no_such_module\n"])
def test_a_damaged_cache_file_is_regenerated(cache, damage):
    list(validate.schema_errors(VALID))
    [cached] = cache.glob("nbformat-v4.4-*.py")
    cached.write_text(damage)
    validate._fast_validator.cache_clear()
    assert len(list(validate.schema_errors(INVALID))) == 1
    assert "def validate(" in cached.read_text()
    assert not list(cache.glob("*.tmp"))


def test_a_cache_folder_others_may_write_to_is_not_used(cache):
    cache.mkdir()
    cache.chmod(0o777)
    assert len(list(validate.schema_errors(INVALID))) == 1
    assert list(cache.iterdir()) == []


def test_an_unwritable_cache_only_costs_time(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv(validate.CACHE_ENVIRONMENT_VARIABLE, str(blocker))
    validate._fast_validator.cache_clear()
    try:
        assert len(list(validate.schema_errors(INVALID))) == 1
        assert list(validate.schema_errors(VALID)) == []
    finally:
        validate._fast_validator.cache_clear()


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
