"""The rule catalog: every rule of :func:`nbsql.health.rules.all_rules`, found by code, slug or prefix.

The rules themselves (the ``@rule`` decorator, ``Rule``, ``Finding``) are in :mod:`nbsql.health.rules.base`;
they are named here too for the modules that run and report them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from .rules import all_rules
from .rules.base import SCOPES, SEVERITIES, Finding, Rule, hit, rule

__all__ = ["RULES", "SCOPES", "SEVERITIES", "Finding", "Rule", "find", "hit", "ordered", "resolve", "rule"]

#: Every rule by code, in code order: made from the listed rule modules, so it does not depend on
#: which modules were imported, or in what order.
RULES: dict[str, Rule] = {r.code: r for r in all_rules()}


def resolve(selectors: Iterable[str]) -> set[str]:
    """Rule codes matching codes, slugs or code prefixes (``NB1`` selects NB100-NB199)."""
    codes: set[str] = set()
    for selector in selectors:
        selector = selector.strip()
        matched = {c for c, r in RULES.items() if c.startswith(selector.upper()) or r.slug == selector.lower()}
        if selector.upper() == "ALL":
            matched = set(RULES)
        if not matched:
            raise KeyError(selector)
        codes |= matched
    return codes


def find(name: str) -> Rule | None:
    name = name.strip()
    return RULES.get(name.upper()) or next((r for r in RULES.values() if r.slug == name.lower()), None)


def ordered(scope: str | None = None) -> Iterator[Rule]:
    for code in sorted(RULES):
        if scope is None or RULES[code].scope == scope:
            yield RULES[code]
