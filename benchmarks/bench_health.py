#!/usr/bin/env python3
"""Benchmark ``nbsql health``: the checks alone, the command end to end, and pynblint / ruff beside it.

Measures, interleaved ``--repeat`` times so that noise on a shared machine hits every measure alike:

* checks      -- every notebook- and cell-scope rule (``check_notebook``) over notebooks already
                 parsed and analysed in memory (inputs built once, untimed), plus the corpus-scope
                 rules (``run_corpus_rules``) over a database loaded once beforehand;
* +code_facts -- the same notebook checks including the per-cell analysis (``code_facts``), for information;
* end to end  -- ``nbsql health CORPUS --db FRESH --format json --fail-on never`` in a fresh process;
* pynblint    -- its directory mode over the same folder (``--pynblint-repeat`` times, default once);
* ruff        -- ``ruff check --isolated --no-cache --select F`` over the folder, if on PATH, for scale.

Prints medians, ms per notebook and the targets (checks <= 5 ms/notebook, nbsql end to end >= 10x
faster than pynblint) with PASS/MISS, and always exits 0: it is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from nbsql import load
from nbsql.database import open_for_writing
from nbsql.health.check import check_notebook
from nbsql.health.config import Settings
from nbsql.health.manifests import clear_manifest_caches
from nbsql.health.store import run_corpus_rules
from nbsql.model import Notebook, NotebookError
from nbsql.read import normalise, parse_json
from nbsql.rows import CodeFacts, analyses_python, code_facts
from nbsql.walk import find_notebooks

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "real"
DEFAULT_PYNBLINT = Path("/tmp/pynblint-venv/bin/pynblint")
CHECKS_TARGET_MS, PYNBLINT_TARGET = 5.0, 10.0
TIMEOUT_S = 1800

# One notebook's inputs to check_notebook: relative path, size, raw JSON, notebook, facts, python?
Inputs = tuple[str, int, Any, Notebook, dict[int, CodeFacts], bool]


def build_inputs(corpus: Path) -> tuple[list[Inputs], int]:
    """Parse and analyse every notebook once, as ``nbsql.load.process_bytes`` does; also the
    number of files that are not notebooks (skipped)."""
    _, found = find_notebooks(corpus)
    inputs: list[Inputs] = []
    skipped = 0
    for item in found:
        if item.error:
            skipped += 1
            continue
        data = Path(item.absolute).read_bytes()
        try:
            raw = parse_json(data)
            notebook = normalise(raw)
            inputs.append((item.path, len(data), raw, notebook, code_facts(notebook), analyses_python(notebook)))
        except (NotebookError, RecursionError):
            skipped += 1
    return inputs, skipped


def checks_once(inputs: list[Inputs], settings: Settings, with_facts: bool = False) -> tuple[float, int]:
    """Seconds for ``check_notebook`` over every notebook (with ``code_facts`` first if asked), findings."""
    clear_manifest_caches()  # a cold file-system cache, as at the start of a load
    findings = 0
    started = time.perf_counter()
    for path, size, raw, notebook, facts, python in inputs:
        if with_facts:
            facts = code_facts(notebook)
        findings += len(check_notebook(notebook, facts, settings, path=path, size=size, raw=raw, python=python))
    return time.perf_counter() - started, findings


def corpus_rules_once(db: Path, settings: Settings) -> tuple[float, int]:
    """Seconds for the corpus-scope rules over the loaded database, findings stored."""
    conn = open_for_writing(db)
    try:
        started = time.perf_counter()
        stored = run_corpus_rules(conn, settings)
        return time.perf_counter() - started, stored
    finally:
        conn.close()


def run_timed(cmd: list[str], cwd: str | None = None) -> tuple[float, subprocess.CompletedProcess[str] | str]:
    """Seconds for one command, and its result (or why it could not run)."""
    started = time.perf_counter()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return time.perf_counter() - started, f"{type(exc).__name__}: {exc}"
    return time.perf_counter() - started, done


def health_once(corpus: Path) -> float:
    """``nbsql health`` end to end, fresh process, fresh database (so loading is included)."""
    with tempfile.TemporaryDirectory(prefix="bench-health-") as tmp:
        seconds, done = run_timed([sys.executable, "-m", "nbsql", "health", str(corpus), "--db",
                                   str(Path(tmp) / "h.sqlite"), "--format", "json", "--fail-on", "never"])
    if isinstance(done, str) or done.returncode != 0:
        sys.exit(f"nbsql health failed: {done if isinstance(done, str) else done.stderr[-2000:]}")
    return seconds


def pynblint_once(cmd: str, corpus: Path) -> tuple[float, int | None, str | None]:
    """pynblint's directory mode (JSON output): seconds, notebooks it counted, error (None if fine)."""
    with tempfile.TemporaryDirectory(prefix="bench-pynblint-") as tmp:
        out = Path(tmp) / "out.json"
        seconds, done = run_timed([cmd, str(corpus), "-q", "-y", "-o", str(out)], cwd=tmp)
        if isinstance(done, str):
            return seconds, None, done
        if done.returncode != 0 or not out.is_file():
            return seconds, None, f"exit {done.returncode}: {(done.stderr or done.stdout)[-1500:].strip()}"
        stats = json.loads(out.read_text()).get("repository_stats", {})
    return seconds, stats.get("number_of_notebooks"), None


def ruff_once(cmd: str, corpus: Path) -> tuple[float, int | None]:
    """``ruff check`` (pyflakes rules only) over the folder: seconds, diagnostics (None if it failed)."""
    with tempfile.TemporaryDirectory(prefix="bench-ruff-") as tmp:
        seconds, done = run_timed([cmd, "check", "--isolated", "--no-cache", "--select", "F", "--output-format",
                                   "json", "-q", str(corpus)], cwd=tmp)
    if isinstance(done, str) or done.returncode not in (0, 1):
        return seconds, None
    return seconds, len(json.loads(done.stdout or "[]"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="folder of notebooks (%(default)s)")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of the cheap measures (default 3)")
    parser.add_argument("--pynblint-cmd", metavar="PATH", help=f"pynblint executable (default: {DEFAULT_PYNBLINT} "
                        "if present, else `pynblint` on PATH)")
    parser.add_argument("--pynblint-repeat", type=int, default=1, help="pynblint runs (default 1; 0 skips it)")
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    args = parser.parse_args(argv)
    corpus = args.corpus.resolve()
    if not corpus.is_dir():
        parser.error(f"no such corpus folder: {corpus}")

    settings = Settings()
    inputs, skipped = build_inputs(corpus)
    n = len(inputs)
    if not n:
        parser.error(f"no notebooks below {corpus}")
    pyn_cmd = args.pynblint_cmd or (str(DEFAULT_PYNBLINT) if DEFAULT_PYNBLINT.is_file() else shutil.which("pynblint"))
    pyn_note = None if pyn_cmd else ("not installed; skipped. Install it in its own venv: python3 -m venv "
                                     "/tmp/pynblint-venv && /tmp/pynblint-venv/bin/pip install pynblint 'click<8.2'")
    ruff_cmd = shutil.which("ruff")

    samples: dict[str, list[float]] = {k: [] for k in ("notebook checks", "corpus rules", "checks total",
                                                       "checks + code_facts", "nbsql health e2e", "pynblint", "ruff F")}
    counts: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-health-db-") as tmp:
        db = Path(tmp) / "loaded.sqlite"
        load(corpus, db)  # the loaded corpus the corpus-scope rules run over (untimed)
        for i in range(max(1, args.repeat, args.pynblint_repeat if pyn_cmd else 0)):  # interleaved
            if i < max(1, args.repeat):
                per_nb, counts["notebook_findings"] = checks_once(inputs, settings)
                corpus_s, counts["corpus_findings"] = corpus_rules_once(db, settings)
                samples["notebook checks"].append(per_nb)
                samples["corpus rules"].append(corpus_s)
                samples["checks total"].append(per_nb + corpus_s)
                samples["checks + code_facts"].append(checks_once(inputs, settings, with_facts=True)[0] + corpus_s)
                samples["nbsql health e2e"].append(health_once(corpus))
                if ruff_cmd:
                    seconds, counts["ruff_diagnostics"] = ruff_once(ruff_cmd, corpus)
                    samples["ruff F"].append(seconds)
            if pyn_cmd and not pyn_note and i < args.pynblint_repeat:
                seconds, counts["pynblint_notebooks"], pyn_note = pynblint_once(pyn_cmd, corpus)
                if not pyn_note:
                    samples["pynblint"].append(seconds)

    med = {k: statistics.median(v) for k, v in samples.items() if v}
    checks_ms = med["checks total"] * 1000 / n
    e2e = med["nbsql health e2e"]
    print(f"corpus  {corpus}")
    print(f"        {n} notebooks ({skipped} files skipped: not notebooks); findings: "
          f"{counts['notebook_findings']} notebook/cell-scope, {counts['corpus_findings']} corpus-scope; "
          f"repeat={len(samples['checks total'])}")
    print()
    print(f"{'measure':<34}{'median s':>10}{'min..max s':>18}{'ms/notebook':>13}{'runs':>6}")
    labels = {"notebook checks": "notebook checks (check_notebook)", "corpus rules": "corpus rules (run_corpus_rules)",
              "checks total": "checks total (a)", "checks + code_facts": "  same + code_facts (info)",
              "nbsql health e2e": "nbsql health end to end (b)", "pynblint": "pynblint directory mode (c)",
              "ruff F": "ruff check --select F (d, scale)"}
    for key, values in samples.items():
        if values:
            spread = f"{min(values):.3f}..{max(values):.3f}"
            print(f"{labels[key]:<34}{med[key]:>10.3f}{spread:>18}{med[key] * 1000 / n:>13.2f}{len(values):>6}")
    print()
    print("targets")
    print(f"  checks / notebook    {checks_ms:>8.2f} ms  <= {CHECKS_TARGET_MS:g} ms   "
          f"{'PASS' if checks_ms <= CHECKS_TARGET_MS else 'MISS'}  (with code_facts: "
          f"{med['checks + code_facts'] * 1000 / n:.2f} ms, for information)")
    speedup = None
    if "pynblint" in med:
        speedup = med["pynblint"] / e2e
        print(f"  pynblint / nbsql     {speedup:>8.1f} x   >= {PYNBLINT_TARGET:g} x   "
              f"{'PASS' if speedup >= PYNBLINT_TARGET else 'MISS'}  (pynblint {med['pynblint']:.1f} s = "
              f"{med['pynblint'] / n:.3f} s/notebook, counted {counts.get('pynblint_notebooks')} notebooks; "
              f"nbsql {e2e:.2f} s)")
    else:
        print(f"  pynblint / nbsql            -             SKIP  (pynblint: {pyn_note or 'not run'})")
    if "ruff F" in med:
        print(f"  (ruff, for scale: {med['ruff F'] / e2e:.2f}x nbsql's end-to-end time, "
              f"{counts.get('ruff_diagnostics')} diagnostics; a code-style linter only)")
    else:
        print("  (ruff: not on PATH; skipped)")

    if args.json:
        print()
        print(json.dumps({
            "corpus": str(corpus), "notebooks": n, "skipped": skipped, "repeat": len(samples["checks total"]),
            "seconds": {k: v for k, v in samples.items() if v}, "median_seconds": med,
            "ms_per_notebook": {k: v * 1000 / n for k, v in med.items()}, "counts": counts,
            "pynblint_cmd": pyn_cmd, "pynblint_error": pyn_note, "pynblint_over_nbsql": speedup,
            "pass": {"checks_per_notebook": checks_ms <= CHECKS_TARGET_MS,
                     "pynblint_over_nbsql": None if speedup is None else speedup >= PYNBLINT_TARGET},
        }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
