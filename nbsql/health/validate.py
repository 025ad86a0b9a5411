"""nbformat schema validation as data: problems as strings, never an exception.

The verdict comes from fastjsonschema validators of nbformat's own schema files, with choices that
exclude one another tried in order (:func:`exclusive_choices`): nbformat's own fastjsonschema
validator, which tries every choice and builds detailed errors, takes 2.4 times as long over the
corpus. Generating all seven takes about a tenth of a second, once per run. jsonschema words the
problems of a notebook that fails.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any, TypedDict, cast


class _CompileOptions(TypedDict):
    """The keywords of ``fastjsonschema.compile`` set here."""

    use_default: bool
    use_formats: bool
    detailed_exceptions: bool


#: Only the verdict is needed (jsonschema words the problem), and the notebook must not change.
_OPTIONS: _CompileOptions = {"use_default": False, "use_formats": False, "detailed_exceptions": False}


def _schema_text(major: int, minor: int) -> str:
    """nbformat's schema file for a version, found without importing nbformat (a tenth of a second)."""
    spec = importlib.util.find_spec("nbformat")
    locations = spec.submodule_search_locations if spec else None
    folder = Path(next(iter(locations))) / f"v{major}" if locations else None
    name = f"nbformat.v4.{minor}.schema.json" if major == 4 else f"nbformat.v{major}.schema.json"
    if folder is None or not (folder / name).is_file():  # laid out otherwise: ask nbformat itself
        module = importlib.import_module(f"nbformat.v{major}")
        # nbformat.vN is a package of files: its __init__.py is its __file__
        folder, name = Path(cast(str, module.__file__)).parent, module.nbformat_schema[(major, minor)]
    return (folder / name).read_text(encoding="utf-8")


def exclusive_choices(schema: Any, definitions: dict | None = None) -> Any:
    """``schema`` with each ``oneOf`` whose choices exclude one another turned into an ``anyOf``.

    When no value can match two choices (different JSON types, or a required property whose
    allowed values differ), "exactly one" and "at least one" are the same test; but a validator
    tries every choice of a ``oneOf`` and can stop at the first match of an ``anyOf``. Each
    failed try raises an exception: two per code cell and three per output with nbformat's
    schema, most of the validation time. Likely choices (code cells, streams...) go first.
    """
    definitions = schema.get("definitions", {}) if definitions is None else definitions
    if isinstance(schema, list):
        return [exclusive_choices(item, definitions) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: exclusive_choices(value, definitions) for key, value in schema.items()}
    choices = result.get("oneOf")
    if isinstance(choices, list) and _excluding(choices, definitions):
        del result["oneOf"]
        result["anyOf"] = sorted(choices, key=_likelihood)
    return result


#: Choices tried first: the cells and outputs most notebooks are made of, lists of lines.
_LIKELY = ("#/definitions/code_cell", "#/definitions/markdown_cell", "#/definitions/stream",
           "#/definitions/display_data", "#/definitions/execute_result")


def _likelihood(choice: dict) -> int:
    if choice.get("type") == "array":
        return 0
    reference = choice.get("$ref")
    return _LIKELY.index(reference) if reference in _LIKELY else len(_LIKELY)


def _excluding(choices: list, definitions: dict) -> bool:
    """Whether no value can satisfy two of ``choices`` (judged from their types or a tag property)."""
    resolved: list[dict] = []
    for choice in choices:
        reference = choice.get("$ref", "") if isinstance(choice, dict) else ""
        if reference and not reference.startswith("#/definitions/"):
            return False
        definition = definitions.get(reference.rsplit("/", 1)[-1]) if reference else choice
        if not isinstance(definition, dict):
            return False
        resolved.append(definition)
    types = [r.get("type") for r in resolved]
    if all(isinstance(t, str) for t in types) and len(set(types)) == len(types) and \
            not {"integer", "number"} <= set(types):
        return True
    for tag in set.intersection(*(set(r.get("required", ())) for r in resolved)):
        allowed = [r.get("properties", {}).get(tag, {}).get("enum") for r in resolved]
        if all(isinstance(values, list) for values in allowed):
            flat = [json.dumps(v, sort_keys=True) for values in allowed for v in values]
            if len(flat) == len(set(flat)):
                return True
    return False


@lru_cache(maxsize=16)
def _fast_validator(major: int, minor: int) -> Callable[[Any], Any]:
    """fastjsonschema's validator for one schema version."""
    import fastjsonschema

    return fastjsonschema.compile(exclusive_choices(json.loads(_schema_text(major, minor))), **_OPTIONS)


@lru_cache(maxsize=16)
def _wording_validator(major: int, minor: int):
    from nbformat.validator import get_validator

    return get_validator(version=major, version_minor=minor, name="jsonschema")


def prepare() -> None:
    """Load the validators of nbformat 3 and 4.0-4.5 (before forking workers)."""
    for major, minors in ((3, (0,)), (4, range(6))):
        for minor in minors:
            _fast_validator(major, minor)


def _version(raw: dict) -> tuple[int, int] | None:
    """The schema (major, minor) to validate against: the file's, within the schemas there are.

    A whole float (``"nbformat": 4.0``) picks the schema of its integer, which then says what is
    wrong with it; the float itself must not reach the validator caches, where 4.0 and 4 are one key.
    """
    major, minor = raw.get("nbformat"), raw.get("nbformat_minor")
    if type(major) is float and major.is_integer():
        major = int(major)
    if type(major) is not int or major not in (3, 4):
        return None
    minor = minor if isinstance(minor, int) and not isinstance(minor, bool) else 0
    return major, max(0, min(minor, 5 if major == 4 else 0))


def schema_errors(raw: Any) -> Iterator[str]:
    """Problems of ``raw`` against its nbformat schema (fastjsonschema first; jsonschema words them)."""
    version = _version(raw) if isinstance(raw, dict) else None
    if version is None:
        return
    fast = _fast_validator(*version)
    try:
        fast(raw)
        return
    except Exception:  # fastjsonschema raises its own error type; only the verdict matters here
        pass
    from jsonschema.exceptions import best_match

    part, position = _first_failing_part(raw, fast)
    errors = list(_wording_validator(*version).iter_errors(part))
    if not errors and part is not raw:
        part, position = raw, None
        errors = list(_wording_validator(*version).iter_errors(raw))
    if not errors:
        return
    first = _within_tagged_choice(best_match(errors), best_match)
    path = list(first.absolute_path)
    if position is not None and path[:2] == ["cells", 0]:
        path[1] = position
    where = "/".join(str(p) for p in path) or "the notebook"
    yield f"{where}: {first.message[:200]}"


def _first_failing_part(raw: dict, fast: Callable[[Any], Any]) -> tuple[Any, int | None]:
    """The notebook with only its first cell that fails on its own, and that cell's position.

    jsonschema takes tens of milliseconds to word the problems of a whole notebook (it tries
    every choice for every cell), but little for one cell; (``raw``, None) when no cell fails alone.
    """
    cells = raw.get("cells") if raw.get("nbformat") == 4 else None
    for position, cell in enumerate(cells if isinstance(cells, list) else ()):
        part = {**raw, "cells": [cell]}
        try:
            fast(part)
        except Exception:
            return part, position
    return raw, None


def _within_tagged_choice(error, best_match):
    """For a cell or output that fits none of the schema's choices, the problem within the choice
    its ``cell_type`` or ``output_type`` names ("'id' is a required property"), rather than
    jsonschema's "{...} is not valid under any of the given schemas"."""
    while error.validator in ("oneOf", "anyOf") and error.context:
        choices: dict[Any, list] = {}
        for problem in error.context:
            choices.setdefault(problem.relative_schema_path[0], []).append(problem)
        fitting = [problems for problems in choices.values() if not any(
            problem.validator == "enum" and list(problem.relative_path) in (["cell_type"], ["output_type"])
            for problem in problems)]
        if len(fitting) != 1:
            break
        error = best_match(fitting[0])
    return error
