"""Every rule of nbsql: one module per family, listed in ``MODULES`` and nowhere else.

Importing a module registers nothing: :func:`all_rules` reads the listed modules, so the catalog
is the same whatever was imported first.
"""

from __future__ import annotations

from types import ModuleType

from . import code, corpus, documentation, execution, failures, reproducibility, runs
from .base import Rule

#: The rule modules. A rule is part of nbsql when its module is listed here.
MODULES: tuple[ModuleType, ...] = (failures, execution, code, documentation, corpus, reproducibility, runs)


def rules_of(module: ModuleType) -> list[Rule]:
    """The rules defined in ``module`` (its functions decorated with ``@rule``), in the order of the code."""
    return [value.rule for value in vars(module).values()
            if isinstance(getattr(value, "rule", None), Rule) and value.rule.check.__module__ == module.__name__]


def all_rules() -> list[Rule]:
    """Every rule, ordered by code. A code or slug used twice is an error."""
    rules = sorted((r for module in MODULES for r in rules_of(module)), key=lambda r: r.code)
    for attribute in ("code", "slug"):
        values = [getattr(r, attribute) for r in rules]
        twice = sorted({value for value in values if values.count(value) > 1})
        if twice:
            raise ValueError(f"rules share a {attribute}: {', '.join(twice)}")
    return rules
