"""nbformat schema validation as data: problems as strings, never an exception.

The verdict comes from fastjsonschema validators of nbformat's own schema files. Generating one
takes about 55 ms (a third of a second for all seven versions), so the generated code is kept in
a cache folder, keyed by a hash of the schema and of the fastjsonschema version; a cache that
cannot be read or written only costs that time again.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator

CACHE_ENVIRONMENT_VARIABLE = "NBSQL_CACHE_DIR"
#: Only the verdict is needed (jsonschema words the problem), and the notebook must not change.
_OPTIONS = {"use_default": False, "use_formats": False, "detailed_exceptions": False}


def cache_dir() -> Path:
    """``$NBSQL_CACHE_DIR``, else ``$XDG_CACHE_HOME/nbsql``, else ``~/.cache/nbsql``."""
    explicit = os.environ.get(CACHE_ENVIRONMENT_VARIABLE)
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "nbsql"


def _schema_text(major: int, minor: int) -> str:
    import nbformat.v3
    import nbformat.v4

    module = nbformat.v4 if major == 4 else nbformat.v3
    return (Path(module.__file__).parent / module.nbformat_schema[(major, minor)]).read_text(encoding="utf-8")


def _generated_code(major: int, minor: int) -> str:
    """fastjsonschema's code for one schema version, from the cache when it is there."""
    import json

    import fastjsonschema

    text = _schema_text(major, minor)
    key = hashlib.sha256(f"{fastjsonschema.VERSION}\n{sorted(_OPTIONS.items())}\n{text}".encode()).hexdigest()[:20]
    path = cache_dir() / f"nbformat-v{major}.{minor}-{key}.py"
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        pass
    code = fastjsonschema.compile_to_code(json.loads(text), **_OPTIONS)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, suffix=".tmp", delete=False) as out:
            out.write(code)
        os.replace(out.name, path)  # whole or not at all, even with several processes writing
    except OSError:
        pass
    return code


@lru_cache(maxsize=16)
def _fast_validator(major: int, minor: int) -> Callable[[Any], Any]:
    namespace: dict[str, Any] = {}
    try:
        exec(compile(_generated_code(major, minor), f"<nbformat v{major}.{minor} validator>", "exec"), namespace)
    except SyntaxError:  # a damaged cache file: generate afresh
        for stale in cache_dir().glob(f"nbformat-v{major}.{minor}-*.py"):
            stale.unlink(missing_ok=True)
        exec(_generated_code(major, minor), namespace)
    return namespace["validate"]


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
    major, minor = raw.get("nbformat"), raw.get("nbformat_minor")
    if major not in (3, 4):
        return None
    minor = minor if isinstance(minor, int) and not isinstance(minor, bool) else 0
    return major, max(0, min(minor, 5 if major == 4 else 0))


def schema_errors(raw: Any) -> Iterator[str]:
    """Problems of ``raw`` against its nbformat schema (fastjsonschema first; jsonschema words them)."""
    version = _version(raw) if isinstance(raw, dict) else None
    if version is None:
        return
    try:
        _fast_validator(*version)(raw)
        return
    except Exception:  # fastjsonschema raises its own error type; only the verdict matters here
        pass
    from jsonschema.exceptions import best_match

    errors = list(_wording_validator(*version).iter_errors(raw))
    if not errors:
        return
    first = best_match(errors)
    where = "/".join(str(p) for p in first.absolute_path) or "the notebook"
    yield f"{where}: {first.message[:200]}"
