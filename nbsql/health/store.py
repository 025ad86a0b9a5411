"""Findings and rules as rows of the database."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import sys
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

from ..database import transaction
from ..json_text import to_json
from ..model import Notebook
from ..schema import TABLE
from .config import Settings
from .manifests import clear_manifest_caches, manifest_state
from .registry import RULES, Finding, ordered
from .rules.corpus import CorpusContext
from .suppress import cell_suppressions, unsuppressed

#: The rules table's documentation columns and the docstring sections they hold.
_RULE_SECTIONS = {"what_it_does": "What it does", "why_bad": "Why is this bad?", "example": "Example",
                  "use_instead": "Use instead"}


def store_rules(conn: sqlite3.Connection) -> None:
    """Insert or update one row per registered rule (never deleting: findings point at them)."""
    row = TABLE["rules"].row
    rows = [row(code=r.code, slug=r.slug, severity=r.severity, scope=r.scope, python_only=int(r.python_only),
                summary=r.summary, **{c: r.section(h) for c, h in _RULE_SECTIONS.items()},
                thresholds=json.dumps(r.thresholds)) for r in ordered()]
    updates = ", ".join(f"{c} = excluded.{c}" for c in row._fields if c != "code")
    conn.executemany(f"INSERT INTO rules({', '.join(row._fields)}) VALUES ({', '.join('?' * len(row._fields))}) "
                     f"ON CONFLICT(code) DO UPDATE SET {updates}", rows)


def finding_rows(findings: list[Finding], notebook: Notebook) -> list[tuple]:
    """Rows of the findings table for one notebook (local ids, as :mod:`nbsql.rows` makes them)."""
    row = TABLE["findings"].row
    rows = []
    for index, f in enumerate(findings):
        cell_id = notebook.cells[f.position].cell_id if f.position is not None else None
        rows.append(row(id=index, notebook=0, cell=f.position, rule=f.code, severity=RULES[f.code].severity,
                        position=f.position, cell_id=cell_id, line=f.line, message=f.message,
                        details=to_json(f.details)))
    return rows


def run_corpus_rules(conn: sqlite3.Connection, settings: Settings, load_id: int | None = None,
                     notebooks_changed: bool = True) -> int | None:
    """Recompute the corpus-scope findings of the whole database; returns how many were stored.

    For a load (``load_id``), None when nothing they read has changed since a load last computed
    them (no notebook changed, nor a setting, a manifest or the installed packages) and none of
    them failed then: the stored ones stand."""
    inputs = corpus_inputs(conn, settings)
    if load_id is not None and not notebooks_changed and not corpus_findings_outdated(conn, load_id) \
            and _last_inputs(conn, load_id) == inputs and not _corpus_failures(conn):
        with transaction(conn):
            _record_inputs(conn, load_id, inputs)
        return None
    corpus = CorpusContext(conn)
    with transaction(conn):
        _record_inputs(conn, load_id, inputs)
        _delete_corpus_findings(conn)
        stored = 0
        for item in ordered("corpus"):
            # each rule's findings stream into the table (flat memory: 180,000 of NB116's on 40,000
            # notebooks); a rule that fails midway leaves none, but an NB000 on each notebook it covers
            conn.execute("SAVEPOINT corpus_rule")
            try:
                found = ((notebook, replace(finding, code=item.code))
                         for notebook, finding in item.check(corpus, settings.limits(item.code)))
                stored += _insert_findings(corpus, _unsuppressed(corpus, found))
            except Exception as exc:  # a bug in one rule must not abort the load
                conn.execute("ROLLBACK TO corpus_rule")
                failed = Finding(f"rule {item.code} failed: {type(exc).__name__}: {exc}"[:300],
                                 details={"rule": item.code}, code="NB000")
                stored += _insert_findings(corpus, _unsuppressed(
                    corpus, ((notebook, failed) for notebook, *_ in corpus.notebooks(item.python_only))))
            conn.execute("RELEASE corpus_rule")
    return stored


def _insert_findings(corpus: CorpusContext, found: Iterable[tuple[int, Finding]]) -> int:
    """Insert corpus findings as they come; their cell and cell_id are the cell's at the finding's
    position. Returns how many were inserted."""
    conn = corpus.conn
    first = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM findings").fetchone()[0]
    row = TABLE["findings"].row
    lookup = "FROM cells WHERE notebook = :notebook AND position = :position"
    values = {"cell": f"(SELECT id {lookup})", "cell_id": f"(SELECT cell_id {lookup})"}
    rows = (row(id=first + i, notebook=nb, cell=None, rule=f.code, severity=RULES[f.code].severity,
                position=f.position, cell_id=None, line=f.line, message=f.message,
                details=to_json(f.details))._asdict() for i, (nb, f) in enumerate(found))
    cursor = conn.executemany(f"INSERT INTO findings({', '.join(row._fields)}) "
                              f"VALUES ({', '.join(values.get(c, ':' + c) for c in row._fields)})", rows)
    return cursor.rowcount


def corpus_inputs(conn: sqlite3.Connection, settings: Settings) -> str:
    """A digest of what the corpus rules read beside the notebooks' rows: the rules' settings, the
    manifests around each folder of notebooks (:func:`.manifests.manifest_state`), and the folders
    packages are installed in (installing one changes them, and the distributions NB302 knows)."""
    clear_manifest_caches()
    folders = {(root, path.rpartition("/")[0]) for root, path in conn.execute("SELECT root, path FROM notebooks")}
    state: list = [settings.fingerprint, [(folder, os.stat(folder).st_mtime_ns) for folder in sys.path
                                          if folder and os.path.isdir(folder)]]
    for root, folder in sorted(folders):
        state.append([root, folder, manifest_state(Path(root, folder), Path(root))])
    return hashlib.sha1(json.dumps(state).encode()).hexdigest()


def _last_inputs(conn: sqlite3.Connection, load_id: int) -> str | None:
    """The corpus inputs of the last finished load with checks before ``load_id``."""
    row = conn.execute("SELECT json_extract(options, '$.corpus_inputs') FROM loads WHERE id < ? AND finished IS NOT "
                       "NULL AND json_extract(options, '$.checks') IS NOT NULL ORDER BY id DESC LIMIT 1",
                       (load_id,)).fetchone()
    return row[0] if row else None


def _record_inputs(conn: sqlite3.Connection, load_id: int | None, inputs: str) -> None:
    if load_id is not None:
        conn.execute("UPDATE loads SET options = json_set(options, '$.corpus_inputs', ?) WHERE id = ?",
                     (inputs, load_id))


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
    conn.execute(f"DELETE FROM findings WHERE rule IN ({marks}) OR {_CORPUS_FAILURE.format(marks=marks)}",
                 codes + codes)


def _corpus_failures(conn: sqlite3.Connection) -> bool:
    """Whether a corpus rule failed when they were last computed."""
    codes = [r.code for r in ordered("corpus")]
    condition = _CORPUS_FAILURE.format(marks=", ".join("?" * len(codes)))
    return conn.execute(f"SELECT EXISTS (SELECT 1 FROM findings WHERE {condition})", codes).fetchone()[0] == 1


_CORPUS_FAILURE = "rule = 'NB000' AND json_extract(details, '$.rule') IN ({marks})"


def corpus_findings_outdated(conn: sqlite3.Connection, running: int | None = None) -> bool:
    """Whether, since the last load that ran the corpus rules to its end, a load (other than the
    ``running`` one) cleared their findings or stopped part-way."""
    return conn.execute(
        "SELECT EXISTS (SELECT 1 FROM loads WHERE (finished IS NULL OR "
        "json_extract(options, '$.corpus_findings_cleared')) AND id IS NOT ? AND id > coalesce((SELECT max(id) "
        "FROM loads WHERE finished IS NOT NULL AND json_extract(options, '$.checks') IS NOT NULL), 0))",
        (running,)).fetchone()[0] == 1


def _unsuppressed(corpus: CorpusContext, found: Iterable[tuple[int, Finding]]) -> Iterator[tuple[int, Finding]]:
    """Apply the suppressions written in the notebooks, read back from the database (only the cells
    whose source or tags name nbsql can hold one)."""
    marked = corpus.marked_cells

    def cell_codes(notebook: int, position: int) -> frozenset[str]:
        source, tags = marked.get((notebook, position), ("", None))
        return cell_suppressions(json.loads(tags or "[]"), source or "") if tags or source else frozenset()

    return unsuppressed(found, lambda notebook: corpus.notebook_suppressions.get(notebook, frozenset()), cell_codes)
