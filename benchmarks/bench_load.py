#!/usr/bin/env python3
"""Benchmark ``nbsql load`` side by side with a read-and-parse floor (and optionally sqlitebiter).

Measures, interleaved ``--repeat`` times (floor, full, rerun, floor, full, rerun, ...) so that
noise on a shared machine hits every measure alike:

* floor  -- read every notebook's bytes and parse them with ``nbsql.read.parse_json``, in-process;
* full   -- ``nbsql.load(corpus, db)`` into a fresh database, in a fresh interpreter, which then
            reports its own peak RSS and that of its largest (reaped) worker process;
* rerun  -- ``nbsql.load`` again on the same database with nothing changed, also in a fresh interpreter.

Prints medians, ratios against the targets (full/floor <= 8x, rerun/full <= 0.1x, peak RSS <= 300 MB)
with PASS/MISS, and always exits 0: it is a benchmark, not a test.
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

from nbsql.model import NotebookError
from nbsql.read import parse_json
from nbsql.walk import find_notebooks

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
FULL_TARGET, RERUN_TARGET, RSS_TARGET_MB = 8.0, 0.1, 300.0
MB = 1024 * 1024
SQLITEBITER_BATCH = 100

# Runs in a fresh interpreter: one nbsql.load, then its timing, counts and peak RSS as JSON.
# ru_maxrss is KiB on Linux (bytes on macOS); RUSAGE_CHILDREN is the max over reaped workers.
_CHILD = """
import json, resource, sys, time
import nbsql
corpus, db, jobs = sys.argv[1], sys.argv[2], int(sys.argv[3]) or None
started = time.perf_counter()
report = nbsql.load(corpus, db, jobs=jobs)
seconds = time.perf_counter() - started
unit = 1 if sys.platform == "darwin" else 1024
rss = lambda who: resource.getrusage(who).ru_maxrss * unit / 1024 / 1024
print(json.dumps({"seconds": seconds, "loaded": report.loaded, "unchanged": report.unchanged,
                  "failed": report.failed, "rss_main_mb": rss(resource.RUSAGE_SELF),
                  "rss_worker_mb": rss(resource.RUSAGE_CHILDREN)}))
"""


def floor_once(files: list[str]) -> float:
    """Seconds to read and JSON-parse every file, single process (unparseable files count too)."""
    started = time.perf_counter()
    for path in files:
        with open(path, "rb") as handle:
            data = handle.read()
        try:
            parse_json(data)
        except (NotebookError, RecursionError):
            pass
    return time.perf_counter() - started


def nbsql_once(corpus: Path, db: Path, jobs: int | None) -> dict[str, Any]:
    """One ``nbsql.load`` in a fresh interpreter; returns what the child reported."""
    done = subprocess.run([sys.executable, "-c", _CHILD, str(corpus), str(db), str(jobs or 0)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"nbsql load failed (exit {done.returncode}):\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def sqlitebiter_call(cmd: str, out: Path, files: list[str]) -> tuple[set[str] | None, float]:
    """One ``sqlitebiter file`` call: the files it reported as failed (None if it aborted), seconds."""
    started = time.perf_counter()
    done = subprocess.run([cmd, "-a", "-o", str(out), "file", *files], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        return None, seconds
    text = done.stdout + done.stderr
    return {f for f in files if f"failed to load {f}" in text}, seconds


def run_sqlitebiter(cmd: str, files: list[str]) -> dict[str, Any]:
    """Count what sqlitebiter loads (batches; an aborted batch retried file by file), then time a
    clean batched run over just the files it could load."""
    loadable: list[str] = []
    retried = 0
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-sb-") as tmp:
        for i in range(0, len(files), SQLITEBITER_BATCH):
            batch = files[i:i + SQLITEBITER_BATCH]
            failed, _ = sqlitebiter_call(cmd, Path(tmp) / "count.sqlite", batch)
            if failed is None:
                retried += 1
                singles = [(f, sqlitebiter_call(cmd, Path(tmp) / "count.sqlite", [f])[0]) for f in batch]
                loadable += [f for f, bad in singles if bad is not None and not bad]
            else:
                loadable += [f for f in batch if f not in failed]
        counting = time.perf_counter() - started
        seconds, aborted = 0.0, 0
        for i in range(0, len(loadable), SQLITEBITER_BATCH):
            failed, took = sqlitebiter_call(cmd, Path(tmp) / "timed.sqlite", loadable[i:i + SQLITEBITER_BATCH])
            seconds += took
            aborted += failed is None
    size = sum(Path(f).stat().st_size for f in loadable)
    return {"loaded": len(loadable), "failed": len(files) - len(loadable), "batches_retried": retried,
            "counting_seconds": counting, "seconds": seconds, "timed_batches_aborted": aborted,
            "bytes": size, "notebooks_per_s": len(loadable) / seconds if seconds else 0.0,
            "mb_per_s": size / MB / seconds if seconds else 0.0}


def target(name: str, value: str, limit: str, ok: bool) -> str:
    """One line of the targets block, with PASS/MISS."""
    return f"  {name:<14}{value:>10}  <= {limit:<8}{'PASS' if ok else 'MISS'}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="folder of notebooks (%(default)s)")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of each measure (default 3)")
    parser.add_argument("--jobs", type=int, default=None, help="nbsql worker processes (default: nbsql's)")
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    parser.add_argument("--sqlitebiter", action="store_true", help="also time `sqlitebiter` if installed")
    parser.add_argument("--sqlitebiter-cmd", metavar="PATH", help="sqlitebiter executable (implies --sqlitebiter)")
    args = parser.parse_args(argv)
    corpus = args.corpus.resolve()
    if not corpus.is_dir():
        parser.error(f"no such corpus folder: {corpus}")

    _, found = find_notebooks(corpus)  # the same walk nbsql uses, so both see the same files
    files = [item.absolute for item in found if not item.error]
    total_bytes = sum(item.size or 0 for item in found if not item.error)
    n, mbytes = len(files), total_bytes / MB
    if not files:
        parser.error(f"no notebooks below {corpus}")

    floors: list[float] = []
    fulls: list[dict[str, Any]] = []
    reruns: list[dict[str, Any]] = []
    for _ in range(max(1, args.repeat)):  # interleaved, so noise affects all measures alike
        floors.append(floor_once(files))
        with tempfile.TemporaryDirectory(prefix="bench-nbsql-") as tmp:
            db = Path(tmp) / "bench.sqlite"
            fulls.append(nbsql_once(corpus, db, args.jobs))
            reruns.append(nbsql_once(corpus, db, args.jobs))

    floor_s = statistics.median(floors)
    full_s = statistics.median(r["seconds"] for r in fulls)
    rerun_s = statistics.median(r["seconds"] for r in reruns)
    rss_main = max(r["rss_main_mb"] for r in fulls)
    rss_worker = max(r["rss_worker_mb"] for r in fulls)
    peak_rss = max(rss_main, rss_worker)
    full_ratio, rerun_ratio = full_s / floor_s, rerun_s / full_s
    last = fulls[-1]

    print(f"corpus  {corpus}")
    print(f"        {n} notebooks, {total_bytes} bytes ({mbytes:.1f} MB); nbsql: {last['loaded']} loaded, "
          f"{last['failed']} failed; repeat={len(floors)}, jobs={args.jobs or 'default'}")
    print()
    print(f"{'measure':<20}{'median s':>10}{'min..max s':>16}{'ratio':>16}{'notebooks/s':>13}{'MB/s':>9}"
          f"{'peak RSS MB':>13}")
    rows = [("floor (read+parse)", floors, "1.00x floor", "-"),
            ("full load", [r["seconds"] for r in fulls], f"{full_ratio:.2f}x floor", f"{peak_rss:.0f}"),
            ("unchanged re-run", [r["seconds"] for r in reruns], f"{rerun_ratio:.3f}x full",
             f"{max(r['rss_main_mb'] for r in reruns):.0f}")]
    for name, samples, ratio, rss in rows:
        median = statistics.median(samples)
        spread = f"{min(samples):.3f}..{max(samples):.3f}"
        print(f"{name:<20}{median:>10.3f}{spread:>16}{ratio:>16}{n / median:>13.0f}{mbytes / median:>9.1f}"
              f"{rss:>13}")
    print()
    print("targets")
    print(target("full / floor", f"{full_ratio:.2f}x", f"{FULL_TARGET:g}x", full_ratio <= FULL_TARGET))
    print(target("rerun / full", f"{rerun_ratio:.3f}x", f"{RERUN_TARGET:g}x", rerun_ratio <= RERUN_TARGET))
    print(target("peak RSS", f"{peak_rss:.0f} MB", f"{RSS_TARGET_MB:g} MB", peak_rss <= RSS_TARGET_MB)
          + f"  (main {rss_main:.0f} MB, largest worker {rss_worker:.0f} MB)")
    if any(r["loaded"] for r in reruns):
        print("  warning: the unchanged re-run loaded notebooks again")

    sqlitebiter: dict[str, Any] | None = None
    if args.sqlitebiter or args.sqlitebiter_cmd:
        cmd = args.sqlitebiter_cmd or shutil.which("sqlitebiter")
        print()
        if not cmd or not (shutil.which(cmd) or Path(cmd).is_file()):
            print("sqlitebiter: not installed; skipped. Install it in a separate venv: python3 -m venv /tmp/sbvenv "
                  "&& /tmp/sbvenv/bin/pip install sqlitebiter, then pass --sqlitebiter-cmd /tmp/sbvenv/bin/sqlitebiter")
        else:
            sqlitebiter = run_sqlitebiter(cmd, files)
            sb = sqlitebiter
            print(f"sqlitebiter ({cmd}), batches of {SQLITEBITER_BATCH} files, one run:")
            print(f"  could load {sb['loaded']}/{n} notebooks ({sb['failed']} failed; {sb['batches_retried']} "
                  f"aborted batches retried file by file; counting pass {sb['counting_seconds']:.1f}s)")
            print(f"  timed run over those {sb['loaded']}: {sb['seconds']:.2f}s, {sb['notebooks_per_s']:.1f} "
                  f"notebooks/s, {sb['mb_per_s']:.2f} MB/s"
                  + (f" ({sb['timed_batches_aborted']} batches aborted again)" if sb["timed_batches_aborted"] else ""))
            ours = n / full_s
            times = f" ({ours / sb['notebooks_per_s']:.1f}x sqlitebiter's rate)" if sb["notebooks_per_s"] else ""
            print(f"  nbsql full load: {ours:.1f} notebooks/s, {mbytes / full_s:.2f} MB/s{times}")

    if args.json:
        print()
        print(json.dumps({
            "corpus": str(corpus), "notebooks": n, "bytes": total_bytes, "repeat": len(floors), "jobs": args.jobs,
            "floor_seconds": floors, "full": fulls, "rerun": reruns,
            "median_seconds": {"floor": floor_s, "full": full_s, "rerun": rerun_s},
            "full_over_floor": full_ratio, "rerun_over_full": rerun_ratio, "peak_rss_mb": peak_rss,
            "pass": {"full_over_floor": full_ratio <= FULL_TARGET, "rerun_over_full": rerun_ratio <= RERUN_TARGET,
                     "peak_rss": peak_rss <= RSS_TARGET_MB},
            "sqlitebiter": sqlitebiter,
        }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
