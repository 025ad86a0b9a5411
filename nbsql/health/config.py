"""Settings for the checks: ``[tool.nbsql]`` in pyproject.toml or ``nbsql.toml``, and command-line overrides."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import math
import sys
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from ..database import NbsqlError
from .choices import FAIL_ON
from .registry import RULES, find, resolve

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib



@dataclass(frozen=True)
class Settings:
    """Which findings count and the thresholds the rules use."""

    select: tuple[str, ...] = ("ALL",)
    ignore: tuple[str, ...] = ()
    fail_on: str = "warning"
    thresholds: dict[str, dict[str, Any]] = field(default_factory=dict)  # code -> overrides
    per_path_ignores: dict[str, tuple[str, ...]] = field(default_factory=dict)  # glob -> selectors
    source: str | None = None  # the file the settings came from

    def limits(self, code: str) -> dict[str, Any]:
        return {**RULES[code].thresholds, **self.thresholds.get(code, {})}

    @cached_property
    def fingerprint(self) -> str:
        """Changes when a rule or a threshold changes: stored findings are then recomputed."""
        from .. import __version__

        state = {code: [rule.severity, self.limits(code)] for code, rule in sorted(RULES.items())}
        return hashlib.sha1(json.dumps([__version__, state], sort_keys=True).encode()).hexdigest()[:12]

    def enabled(self) -> set[str]:
        return resolve(self.select) - resolve(self.ignore)

    def ignored_for(self, path: str) -> set[str]:
        codes: set[str] = set()
        for pattern, selectors in self.per_path_ignores.items():
            if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path.rsplit("/", 1)[-1], pattern):
                codes |= resolve(selectors)
        return codes

    def override(self, **changes: Any) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v not in (None, ())})


def _list(value: Any, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise NbsqlError(f"configuration: '{key}' must be a list of rule codes, slugs or prefixes")


def _threshold_fits(value: Any, default: int | float) -> bool:
    """A whole number for a count, any number for a ratio; finite and not negative, never a boolean."""
    allowed = (int,) if type(default) is int else (int, float)
    return type(value) in allowed and math.isfinite(value) and value >= 0


def settings_from(table: dict[str, Any], source: str | None = None) -> Settings:
    """Validate a ``[tool.nbsql]`` table; unknown keys, rules or thresholds are errors."""
    if not isinstance(table, dict):
        raise NbsqlError(f"configuration: [tool.nbsql] must be a table in {source}")
    known = {"select", "ignore", "fail-on", "rules", "per-path-ignores"}
    unknown = set(table) - known
    if unknown:
        raise NbsqlError(f"configuration: unknown key(s) {', '.join(sorted(unknown))} in {source}")
    for key in ("rules", "per-path-ignores"):
        if not isinstance(table.get(key, {}), dict):
            raise NbsqlError(f"configuration: '{key}' must be a table in {source}")
    thresholds: dict[str, dict[str, Any]] = {}
    for name, values in (table.get("rules") or {}).items():
        rule = find(name)
        if rule is None:
            raise NbsqlError(f"configuration: unknown rule {name!r} in {source}")
        if not isinstance(values, dict) or set(values) - set(rule.thresholds):
            allowed = ", ".join(rule.thresholds) or "none"
            raise NbsqlError(f"configuration: rule {rule.code} takes these thresholds: {allowed}")
        for key, value in values.items():
            if not _threshold_fits(value, rule.thresholds[key]):
                kind = "a whole number" if type(rule.thresholds[key]) is int else "a number"
                raise NbsqlError(f"configuration: {rule.code}.{key} must be {kind}, 0 or more (got {value!r})")
        thresholds[rule.code] = dict(values)
    fail_on = table.get("fail-on", "warning")
    if fail_on not in FAIL_ON:
        raise NbsqlError(f"configuration: fail-on must be one of {', '.join(FAIL_ON)}")
    per_path = {glob: _list(codes, f"per-path-ignores.{glob}")
                for glob, codes in (table.get("per-path-ignores") or {}).items()}
    settings = Settings(select=_list(table.get("select", ["ALL"]), "select"), ignore=_list(table.get("ignore", []),
                        "ignore"), fail_on=fail_on, thresholds=thresholds, per_path_ignores=per_path, source=source)
    try:
        settings.enabled()
        for selectors in per_path.values():
            resolve(selectors)
    except KeyError as exc:
        raise NbsqlError(f"configuration: unknown rule selector {exc.args[0]!r} in {source}") from None
    return settings


def load_settings(config: str | Path | None = None, start: str | Path = ".") -> Settings:
    """Settings from ``config``, else the nearest ``nbsql.toml`` or ``pyproject.toml`` with ``[tool.nbsql]``."""
    if config is not None:
        return _read(Path(config))
    folder = Path(start).resolve()
    for candidate in [folder, *folder.parents]:
        if (candidate / "nbsql.toml").is_file():
            return _read(candidate / "nbsql.toml")
        pyproject = candidate / "pyproject.toml"
        tool = _tool(_toml(pyproject)) if pyproject.is_file() else {}
        if "nbsql" in tool:
            return settings_from(tool["nbsql"], str(pyproject))
    return Settings()


def _toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise NbsqlError(f"cannot read configuration {path}: {exc}") from None
    except RecursionError:
        raise NbsqlError(f"cannot read configuration {path}: nested too deeply") from None


def _read(path: Path) -> Settings:
    data = _toml(path)
    table = _tool(data).get("nbsql", {}) if path.name == "pyproject.toml" else data
    return settings_from(table, str(path))


def _tool(pyproject: dict[str, Any]) -> dict[str, Any]:
    """The ``[tool]`` table of a pyproject.toml (empty when it is not a table)."""
    tool = pyproject.get("tool", {})
    return tool if isinstance(tool, dict) else {}
