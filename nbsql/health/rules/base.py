"""What every rule module builds on: the ``@rule`` decorator, ``Rule`` and the findings checks yield.

The decorator only describes a check (its code, documentation and thresholds beside the code); it
registers nothing. The catalog is :func:`nbsql.health.rules.all_rules`, from the listed modules.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..choices import SEVERITIES

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
    check: Callable[..., Iterable[Any]]  # Findings; (notebook id, Finding) pairs for corpus rules
    thresholds: dict[str, Any] = field(default_factory=dict)
    python_only: bool = False

    def section(self, heading: str) -> str:
        """One of the four documentation sections, as written."""
        pattern = rf"## {re.escape(heading)}\n(.*?)(?=\n## |\Z)"
        match = re.search(pattern, self.doc, re.S)
        return match.group(1).strip() if match else ""


def rule(code: str, slug: str, severity: str, scope: str, summary: str, python_only: bool = False,
         **thresholds: Any) -> Callable:
    """Make the decorated check a rule: its ``Rule`` becomes the function's ``rule`` attribute, and its
    docstring the rule's documentation (four ``##`` sections)."""
    assert severity in SEVERITIES and scope in SCOPES, (code, severity, scope)

    def describe(check: Callable) -> Callable:
        doc = inspect.cleandoc(check.__doc__ or "")
        missing = [h for h in _DOC_HEADINGS if f"## {h}" not in doc]
        assert not missing, f"{code} lacks documentation sections {missing}"
        check.rule = Rule(code, slug, severity, scope, summary, doc, check, dict(thresholds),  # type: ignore[attr-defined]
                          python_only)
        return check

    return describe
