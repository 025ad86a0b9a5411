"""nbformat schema validation as data: problems as strings, never an exception."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Iterator


@lru_cache(maxsize=16)
def _validator(version: int, minor: int, name: str):
    from nbformat.validator import get_validator

    return get_validator(version=version, version_minor=minor, name=name)


def prepare() -> None:
    """Compile the validators of nbformat 3 and 4.0-4.5."""
    for major, minors in ((3, (0,)), (4, range(6))):
        for minor in minors:
            _validator(major, minor, "fastjsonschema")


def _version(raw: dict) -> tuple[int, int] | None:
    major, minor = raw.get("nbformat"), raw.get("nbformat_minor")
    if major not in (3, 4):
        return None
    minor = minor if isinstance(minor, int) and not isinstance(minor, bool) else 0
    return major, min(minor, 5 if major == 4 else 0)


def schema_errors(raw: Any) -> Iterator[str]:
    """Problems of ``raw`` against its nbformat schema (fastjsonschema first; jsonschema words them)."""
    version = _version(raw) if isinstance(raw, dict) else None
    if version is None:
        return
    try:
        _validator(*version, "fastjsonschema").validate(raw)
        return
    except Exception:  # fastjsonschema raises its own error type; only the verdict matters here
        pass
    from jsonschema.exceptions import best_match

    errors = list(_validator(*version, "jsonschema").iter_errors(raw))
    if not errors:
        return
    first = best_match(errors)
    where = "/".join(str(p) for p in first.absolute_path) or "the notebook"
    yield f"{where}: {first.message[:200]}"
