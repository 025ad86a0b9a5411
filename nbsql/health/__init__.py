"""Notebook health: rules, findings and reports."""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from .config import Settings, load_settings
from .registry import RULES, Finding, Rule, find
from .report import Row, fails, notebooks_in_scope, pimentel, read_findings
from .store import corpus_findings_outdated


@dataclass
class HealthReport:
    """Findings below the paths asked about, and the settings that filtered them."""

    rows: list[Row]
    notebooks: int
    settings: Settings
    figures: list[dict] = field(default_factory=list)
    unchecked: int = 0  # notebooks loaded with --no-checks: they have no findings
    stale: int = 0  # notebooks checked with other rules or thresholds than ``settings``
    corpus_outdated: bool = False  # the notebooks changed after the corpus rules last ran

    @property
    def failed(self) -> bool:
        return fails(self.rows, self.settings.fail_on)


def read_report(paths: Iterable[str | Path] = (), db: str | Path | None = None, *, settings: Settings | None = None,
                severity: str = "info") -> HealthReport:
    """The findings the database holds for notebooks below ``paths`` (all without paths), filtered
    by ``settings`` and ``severity``. Loading first is :func:`nbsql.check`'s job."""
    from ..database import connect

    paths = [str(p) for p in paths]
    settings = settings or Settings()
    with closing(connect(db)) as conn:
        rows = read_findings(conn, settings, paths, severity)
        unchecked, stale = conn.execute(
            "SELECT count(*) FILTER (WHERE checked_with IS NULL), "
            "count(*) FILTER (WHERE checked_with IS NOT NULL AND checked_with != ?) FROM notebooks",
            (settings.fingerprint,)).fetchone()
        return HealthReport(rows, notebooks_in_scope(conn, paths), settings, pimentel(conn, paths), unchecked, stale,
                            corpus_findings_outdated(conn))


__all__ = ["Finding", "HealthReport", "RULES", "Rule", "Settings", "find", "load_settings", "read_report"]
