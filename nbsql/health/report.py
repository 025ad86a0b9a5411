"""Reading findings back from the database and rendering them: text, JSON, CSV, SARIF, GitHub."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
from collections import Counter
from collections.abc import Iterable
from contextlib import closing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson

from .. import __version__
from ..schema import health_score
from ..walk import resolved
from .choices import SEVERITIES
from .config import Settings
from .registry import RULES, ordered

_RANK = {severity: rank for rank, severity in enumerate(SEVERITIES)}  # error 0 < warning 1 < info 2
_SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
_GITHUB_LEVEL = {"error": "error", "warning": "warning", "info": "notice"}


@dataclass(frozen=True)
class Row:
    """One finding as reported."""

    path: str  # as shown: relative to the working directory when below it
    code: str
    slug: str
    severity: str
    message: str
    position: int | None
    cell_id: str | None
    line: int | None
    details: dict[str, Any] | None

    @property
    def place(self) -> str:
        """Where in the notebook: 'cell 3:line 2', 'cell 3', or '' for the notebook as a whole."""
        if self.position is None:
            return ""
        return f"cell {self.position}" + ("" if self.line is None else f":line {self.line}")


def _shown_path(root: str, path: str) -> str:
    absolute = os.path.join(root, path)
    relative = os.path.relpath(absolute)
    return absolute if relative.startswith("..") else relative.replace(os.sep, "/")


def _under(root: str, path: str, prefixes: list[str]) -> bool:
    absolute = os.path.join(root, path)
    return any(absolute == p or absolute.startswith(p.rstrip(os.sep) + os.sep) for p in prefixes)


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
    from .store import corpus_findings_outdated

    scope = [str(p) for p in paths]
    settings = settings or Settings()
    with closing(connect(db)) as conn:
        rows = read_findings(conn, settings, scope, severity)
        unchecked, stale = conn.execute(
            "SELECT count(*) FILTER (WHERE checked_with IS NULL), "
            "count(*) FILTER (WHERE checked_with IS NOT NULL AND checked_with != ?) FROM notebooks",
            (settings.fingerprint,)).fetchone()
        return HealthReport(rows, notebooks_in_scope(conn, scope), settings, pimentel(conn, scope), unchecked, stale,
                            corpus_findings_outdated(conn))


def read_findings(conn: sqlite3.Connection, settings: Settings, paths: Iterable[str] = (),
                  severity: str = "info") -> list[Row]:
    """Findings of the enabled rules at or above ``severity``, below ``paths`` (all when empty)."""
    enabled = settings.enabled()
    prefixes = [resolved(p) for p in paths]
    rows = []
    query = ("SELECT n.root, n.path, f.rule, f.severity, f.message, f.position, f.cell_id, f.line, f.details "
             "FROM findings f JOIN notebooks n ON n.id = f.notebook ORDER BY n.root, n.path, f.position IS NOT NULL, "
             "f.position, f.line, f.rule, f.id")
    notebooks: dict[tuple[str, str], tuple[str, set[str]] | None] = {}  # shown path and ignored rules, or None
    for root, path, code, level, message, position, cell_id, line, details in conn.execute(query):
        if code not in enabled or _RANK[level] > _RANK[severity]:
            continue
        key = (root, path)
        if key not in notebooks:
            in_scope = not prefixes or _under(root, path, prefixes)
            notebooks[key] = (_shown_path(root, path), settings.ignored_for(path)) if in_scope else None
        notebook = notebooks[key]
        if notebook is None or code in notebook[1]:
            continue
        slug = RULES[code].slug if code in RULES else code
        rows.append(Row(notebook[0], code, slug, level, message, position, cell_id, line,
                        orjson.loads(details) if details else None))
    return _load_errors(conn, settings, prefixes, severity) + rows


#: The rule files that could not be loaded at all are reported under: the file is no valid notebook.
UNLOADABLE = "NB306"


def _load_errors(conn: sqlite3.Connection, settings: Settings, prefixes: list[str], severity: str) -> list[Row]:
    """The files below ``prefixes`` that could not be loaded, as findings: a linter must not pass
    a notebook it could not read."""
    rule = RULES[UNLOADABLE]
    if UNLOADABLE not in settings.enabled() or _RANK[rule.severity] > _RANK[severity]:
        return []
    return [Row(_shown_path(root, path), UNLOADABLE, rule.slug, rule.severity, f"could not be loaded: {message}",
                None, None, None, {"load_error": kind})
            for root, path, kind, message in conn.execute(
                "SELECT root, path, kind, message FROM load_errors ORDER BY root, path")
            if (not prefixes or _under(root, path, prefixes)) and UNLOADABLE not in settings.ignored_for(path)]


def notebooks_in_scope(conn: sqlite3.Connection, paths: Iterable[str] = ()) -> int:
    prefixes = [resolved(p) for p in paths]
    return sum(1 for root, path in conn.execute("SELECT root, path FROM notebooks")
               if not prefixes or _under(root, path, prefixes))


def fails(rows: list[Row], fail_on: str) -> bool:
    return fail_on != "never" and any(_RANK[r.severity] <= _RANK[fail_on] for r in rows)


def render(rows: list[Row], output_format: str) -> str:
    return {"text": _text, "json": _json, "csv": _csv, "sarif": _sarif, "github": _github}[output_format](rows)


def _text(rows: list[Row]) -> str:
    """Findings grouped by notebook under a line with its score and counts by severity, then the
    totals and the most frequent rules."""
    notebooks: dict[str, list[Row]] = {}
    for row in rows:
        notebooks.setdefault(row.path, []).append(row)
    lines = []
    for path, found in notebooks.items():
        lines.append(f"{path}: score {score(found)} ({_by_severity(found)})")
        lines += [f"  {r.place + ': ' if r.place else ''}{r.code} {r.message}" for r in found]
        lines.append("")
    in_notebooks = f" in {len(notebooks)} notebook(s)" if notebooks else ""
    lines.append(f"Found {len(rows)} problem(s){in_notebooks}: {_by_severity(rows)}.")
    by_rule = Counter(r.code for r in rows).most_common()
    if by_rule:
        shown = by_rule[:_MOST_FREQUENT]
        lines.append("Most frequent rules:" if len(by_rule) > len(shown) else "By rule:")
        lines += [f"  {code:6} {RULES[code].slug if code in RULES else '':28} {n:>6}" for code, n in shown]
        if len(by_rule) > len(shown):
            rest = by_rule[len(shown):]
            lines.append(f"  and {len(rest)} more rule(s) with {sum(n for _, n in rest)} finding(s) "
                         "(--statistics lists them all)")
    return "\n".join(lines) + "\n"


#: Rules listed at the end of the text report.
_MOST_FREQUENT = 10


def _by_severity(rows: list[Row]) -> str:
    counts = Counter(r.severity for r in rows)
    return ", ".join(f"{counts[s]} {s}{'s' if counts[s] != 1 else ''}" for s in SEVERITIES)


def score(rows: list[Row]) -> int:
    """The health score of one notebook's findings, as the notebook_health view computes it."""
    counted = Counter((r.code, r.severity) for r in rows)
    return health_score((severity, found) for (_, severity), found in counted.items())


def _json(rows: list[Row]) -> str:
    try:
        return orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n"  # dataclasses natively: fast
    except TypeError:  # an integer beyond 64 bits in some details
        return json.dumps([asdict(r) for r in rows], indent=2, ensure_ascii=False) + "\n"


def _csv(rows: list[Row]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["path", "cell", "cell_id", "line", "code", "slug", "severity", "message"])
    for r in rows:
        writer.writerow([r.path, r.position, r.cell_id, r.line, r.code, r.slug, r.severity, r.message])
    return out.getvalue()


def _github_escape(text: str, property_value: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if property_value else text


def _github(rows: list[Row]) -> str:
    lines = []
    for r in rows:
        title = _github_escape(f"{r.code} {r.slug}", property_value=True)
        where = "" if r.position is None else f"cell {r.position}{'' if r.line is None else f', line {r.line}'}: "
        lines.append(f"::{_GITHUB_LEVEL[r.severity]} file={_github_escape(r.path, True)},title={title}::"
                     f"{_github_escape(where + r.message)}")
    return "\n".join(lines) + ("\n" if lines else "")


def _sarif(rows: list[Row]) -> str:
    rules = list(ordered())
    index = {r.code: i for i, r in enumerate(rules)}
    descriptors = [{
        "id": r.code,
        "name": r.slug,
        "shortDescription": {"text": r.summary},
        "fullDescription": {"text": r.section("What it does")},
        "help": {"text": r.doc, "markdown": r.doc},
        "defaultConfiguration": {"level": _SARIF_LEVEL[r.severity]},
        "properties": {"scope": r.scope, "thresholds": r.thresholds},
    } for r in rules]
    results = []
    for r in rows:
        where = "" if r.position is None else f"cell {r.position}{'' if r.line is None else f', line {r.line}'}: "
        result: dict[str, Any] = {
            "ruleId": r.code,
            "level": _SARIF_LEVEL[r.severity],
            "message": {"text": where + r.message},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(r.path)}}}],
            "properties": {"cell": r.position, "cell_id": r.cell_id, "line": r.line},
        }
        if r.code in index:
            result["ruleIndex"] = index[r.code]
        results.append(result)
    log = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "nbsql", "version": __version__, "semanticVersion": __version__,
                                      "informationUri": "https://pypi.org/project/nbsql/", "rules": descriptors}},
                  "columnKind": "unicodeCodePoints", "results": results}],
    }
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


def _uri(path: str) -> str:
    """A shown path as a SARIF URI: a relative reference or a file: URI, percent-encoded ('#', '?', '%'...)."""
    return Path(path).as_uri() if os.path.isabs(path) else quote(path)


def statistics(rows: list[Row], notebooks: int) -> list[dict[str, Any]]:
    """Per rule: findings, notebooks flagged and their share of the notebooks in scope."""
    stats = []
    for rule in ordered():
        hits = [r for r in rows if r.code == rule.code]
        if hits:
            flagged = len({r.path for r in hits})
            stats.append({"code": rule.code, "slug": rule.slug, "severity": rule.severity, "findings": len(hits),
                          "notebooks": flagged, "percent": round(100 * flagged / notebooks, 2) if notebooks else 0.0})
    return stats


def render_statistics(stats: list[dict[str, Any]], notebooks: int, output_format: str,
                      figures: list[dict[str, Any]] | None = None) -> str:
    if output_format == "json":
        return json.dumps({"notebooks": notebooks, "rules": stats, "pimentel": figures or []}, indent=2) + "\n"
    if output_format == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, ["code", "slug", "severity", "findings", "notebooks", "percent"],
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(stats)
        return out.getvalue()
    lines = [f"{'code':6} {'rule':28} {'severity':8} {'findings':>8} {'notebooks':>9} {'%':>7}"]
    lines += [f"{s['code']:6} {s['slug']:28} {s['severity']:8} {s['findings']:8} {s['notebooks']:9} "
              f"{s['percent']:6.2f}%" for s in stats]
    text = "\n".join(lines + [f"{notebooks} notebook(s) in scope."]) + "\n"
    return text + (render_pimentel(figures) if figures else "")


#: (label, rules whose findings mark a notebook, denominator, Pimentel et al.'s corpus-wide share)
PIMENTEL = (
    ("out of order", ("NB001",), "unambiguous", 36.45),
    ("with skips", ("NB002", "NB003"), "unambiguous", 76.88),
    ("with empty code cells", ("NB008", "NB009"), "with_code", 62.14),
    ("with non-executed cells", ("NB005", "NB006"), "executed", 21.11),
    ("declaring dependencies", ("NB301",), "all", 12.50),
)
_DENOMINATORS = {
    "unambiguous": "notebooks with execution counts and none repeated",
    "with_code": "notebooks with code cells",
    "executed": "notebooks with executed cells",
    "all": "notebooks",
}


def pimentel(conn: sqlite3.Connection, paths: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Shares of notebooks by Pimentel et al.'s definitions, with their denominators."""
    prefixes = [resolved(p) for p in paths]
    flagged: dict[str, set[int]] = {}
    for notebook, code in conn.execute("SELECT DISTINCT notebook, rule FROM findings"):
        flagged.setdefault(code, set()).add(notebook)
    # an NB301 finding stands for the notebooks of its folder, which its details name
    flagged["NB301"] = {notebook for notebook, in conn.execute(
        "SELECT o.id FROM findings f JOIN notebooks n ON n.id = f.notebook, json_each(f.details, '$.notebooks') j "
        "JOIN notebooks o ON o.root = n.root AND o.path = j.value WHERE f.rule = 'NB301' AND json_valid(f.details)")}
    groups: dict[str, set[int]] = {key: set() for key in _DENOMINATORS}
    for notebook, root, path, executed, code_cells in conn.execute(
            "SELECT id, root, path, max_execution_count IS NOT NULL, code_cell_count > 0 FROM notebooks"):
        if prefixes and not _under(root, path, prefixes):
            continue
        groups["all"].add(notebook)
        if code_cells:
            groups["with_code"].add(notebook)
        if executed:
            groups["executed"].add(notebook)
            if notebook not in flagged.get("NB004", set()):
                groups["unambiguous"].add(notebook)
    figures = []
    for label, codes, group, paper in PIMENTEL:
        members = groups[group]
        marked = {n for code in codes for n in flagged.get(code, set())} & members
        if label == "declaring dependencies":
            marked = members - marked
        share = round(100 * len(marked) / len(members), 2) if members else 0.0
        figures.append({"measure": label, "notebooks": len(marked), "of": len(members),
                        "denominator": _DENOMINATORS[group], "percent": share, "pimentel_percent": paper})
    return figures


def render_pimentel(figures: list[dict[str, Any]]) -> str:
    lines = ["", "Reproducibility by the definitions of Pimentel et al. (MSR 2019):"]
    for f in figures:
        lines.append(f"  {f['measure']:26} {f['percent']:6.2f}% ({f['notebooks']} of {f['of']} {f['denominator']}); "
                     f"Pimentel et al.: {f['pimentel_percent']:.2f}%")
    return "\n".join(lines) + "\n"
