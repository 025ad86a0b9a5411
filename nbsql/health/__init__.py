"""Notebook health: rules, findings and reports.

The public names are imported on first use (see :mod:`nbsql`), so that reading the rules'
catalog does not load the checks' libraries.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

#: Each public name and the module that defines it.
_PUBLIC = {"Finding": "registry", "RULES": "registry", "Rule": "registry", "find": "registry",
           "Settings": "config", "load_settings": "config", "HealthReport": "report", "read_report": "report"}

if TYPE_CHECKING:
    from .config import Settings, load_settings
    from .registry import RULES, Finding, Rule, find
    from .report import HealthReport, read_report


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'nbsql.health' has no attribute {name!r}")
    value = getattr(import_module(f".{_PUBLIC[name]}", __name__), name)
    globals()[name] = value
    return value


__all__ = ["Finding", "HealthReport", "RULES", "Rule", "Settings", "find", "load_settings", "read_report"]
