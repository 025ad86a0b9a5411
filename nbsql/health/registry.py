"""The rule registry: one small unit per rule, with its code, documentation and thresholds beside it."""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

SEVERITIES = ("error", "warning", "info")
SCOPES = ("notebook", "cell", "corpus")
_DOC_HEADINGS = ("What it does", "Why is this bad?", "Example", "Use instead")


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem found; ``position`` is the cell's 0-based position over all cells."""

    message: str
    position: int | None = None
    line: int | None = None  # 1-based line in the cell
    details: dict[str, Any] | None = None
    code: str = ""  # filled in by the runner from the rule that yielded it


def hit(message: str, position: int | None = None, line: int | None = None, **details: Any) -> Finding:
    """What a check yields: a message, where it applies, and details kept as JSON."""
    return Finding(message, position, line, details or None)


@dataclass(frozen=True)
class Rule:
    code: str
    slug: str
    severity: str
    scope: str
    summary: str
    doc: str
    check: Callable[..., Iterable[Finding]]
    thresholds: dict[str, Any] = field(default_factory=dict)
    python_only: bool = False

    def section(self, heading: str) -> str:
        """One of the four documentation sections, as written."""
        pattern = rf"## {re.escape(heading)}\n(.*?)(?=\n## |\Z)"
        match = re.search(pattern, self.doc, re.S)
        return match.group(1).strip() if match else ""


RULES: dict[str, Rule] = {}


def rule(code: str, slug: str, severity: str, scope: str, summary: str, python_only: bool = False,
         **thresholds: Any) -> Callable:
    """Register the decorated check; its docstring is the rule's documentation (four ``##`` sections)."""
    assert severity in SEVERITIES and scope in SCOPES, (code, severity, scope)

    def register(check: Callable) -> Callable:
        doc = inspect.cleandoc(check.__doc__ or "")
        missing = [h for h in _DOC_HEADINGS if f"## {h}" not in doc]
        assert not missing, f"{code} lacks documentation sections {missing}"
        assert code not in RULES and all(r.slug != slug for r in RULES.values()), f"duplicate rule {code}/{slug}"
        RULES[code] = Rule(code, slug, severity, scope, summary, doc, check, dict(thresholds), python_only)
        return check

    return register


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
