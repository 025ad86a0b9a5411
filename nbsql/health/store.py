"""Findings and rules as rows of the database."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace

from ..database import transaction
from ..json_text import to_json
from ..model import Notebook
from .config import Settings
from .manifests import clear_manifest_caches
from .registry import RULES, Finding, ordered
from .rules.corpus import CorpusContext
from .suppress import cell_suppressions, notebook_suppressions, unsuppressed

_RULE_SECTIONS = ("What it does", "Why is this bad?", "Example", "Use instead")


def store_rules(conn: sqlite3.Connection) -> None:
    """Insert or update one row per registered rule (never deleting: findings point at them)."""
    rows = [(r.code, r.slug, r.severity, r.scope, int(r.python_only), r.summary,
             *(r.section(h) for h in _RULE_SECTIONS), json.dumps(r.thresholds)) for r in ordered()]
    conn.executemany(
        "INSERT INTO rules VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(code) DO UPDATE SET "
        "slug = excluded.slug, severity = excluded.severity, scope = excluded.scope, "
        "python_only = excluded.python_only, summary = excluded.summary, what_it_does = excluded.what_it_does, "
        "why_bad = excluded.why_bad, example = excluded.example, use_instead = excluded.use_instead, "
        "thresholds = excluded.thresholds", rows)


def finding_rows(findings: list[Finding], notebook: Notebook) -> list[tuple]:
    """Rows of the findings table for one notebook (local ids, as :mod:`nbsql.rows` makes them)."""
    rows = []
    for index, f in enumerate(findings):
        cell_id = notebook.cells[f.position].cell_id if f.position is not None else None
        rows.append((index, 0, f.position, f.code, RULES[f.code].severity, f.position, cell_id, f.line, f.message,
                     to_json(f.details)))
    return rows


def run_corpus_rules(conn: sqlite3.Connection, settings: Settings) -> int:
    """Recompute the corpus-scope findings of the whole database; returns how many were stored."""
    clear_manifest_caches()
    corpus = CorpusContext(conn)
    found: list[tuple[int, Finding]] = []
    for item in ordered("corpus"):
        try:
            found.extend((notebook, replace(finding, code=item.code))
                         for notebook, finding in list(item.check(corpus, settings.limits(item.code))))
        except Exception as exc:  # a bug in one rule must not abort the load: each notebook it covers says so
            failed = Finding(f"rule {item.code} failed: {type(exc).__name__}: {exc}"[:300], details={"rule": item.code},
                             code="NB000")
            found.extend((notebook, failed) for notebook, *_ in corpus.notebooks(item.python_only))
    kept = _unsuppressed(conn, found)
    with transaction(conn):
        _delete_corpus_findings(conn)
        next_id = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM findings").fetchone()[0]
        conn.executemany(
            "INSERT INTO findings VALUES (?, ?, (SELECT id FROM cells WHERE notebook = ? AND position = ?), ?, ?, ?,"
            " (SELECT cell_id FROM cells WHERE notebook = ? AND position = ?), ?, ?, ?)",
            [(next_id + i, nb, nb, f.position, f.code, RULES[f.code].severity, f.position, nb, f.position, f.line,
              f.message, to_json(f.details)) for i, (nb, f) in enumerate(kept)])
    return len(kept)


def clear_corpus_findings(conn: sqlite3.Connection, load_id: int) -> None:
    """Delete the corpus-scope findings, noting it on load ``load_id``: after a load without checks
    changed the notebooks, they may name notebooks that are gone. The next load with checks
    computes them again."""
    with transaction(conn):
        _delete_corpus_findings(conn)
        conn.execute("UPDATE loads SET options = json_set(options, '$.corpus_findings_cleared', json('true')) "
                     "WHERE id = ?", (load_id,))


def _delete_corpus_findings(conn: sqlite3.Connection) -> None:
    """Delete the corpus rules' findings, and the NB000 findings of their failures."""
    codes = [r.code for r in ordered("corpus")]
    marks = ", ".join("?" * len(codes))
    conn.execute(f"DELETE FROM findings WHERE rule IN ({marks}) OR rule = 'NB000' AND "
                 f"json_extract(details, '$.rule') IN ({marks})", codes + codes)


def corpus_findings_outdated(conn: sqlite3.Connection) -> bool:
    """Whether, since the last load that ran the corpus rules to its end, a load cleared their
    findings or stopped part-way."""
    return conn.execute(
        "SELECT EXISTS (SELECT 1 FROM loads WHERE (finished IS NULL OR "
        "json_extract(options, '$.corpus_findings_cleared')) AND id > coalesce((SELECT max(id) FROM loads "
        "WHERE finished IS NOT NULL AND json_extract(options, '$.checks') IS NOT NULL), 0))").fetchone()[0] == 1


def _unsuppressed(conn: sqlite3.Connection, found: list[tuple[int, Finding]]) -> list[tuple[int, Finding]]:
    """Apply the suppressions written in the notebooks, read back from the database."""
    def notebook_codes(notebook: int) -> frozenset[str]:
        metadata = conn.execute("SELECT metadata FROM notebooks WHERE id = ?", (notebook,)).fetchone()[0]
        return notebook_suppressions(json.loads(metadata or "{}"))

    def cell_codes(notebook: int, position: int) -> frozenset[str]:
        source, tags = conn.execute("SELECT source, tags FROM cells WHERE notebook = ? AND position = ?",
                                    (notebook, position)).fetchone()
        return cell_suppressions(json.loads(tags or "[]"), source or "")

    return unsuppressed(found, notebook_codes, cell_codes)
