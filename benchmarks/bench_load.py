#!/usr/bin/env python3
"""Benchmark ``nbsql load`` side by side with read-and-parse floors (and optionally sqlitebiter).

Measures, interleaved ``--repeat`` times (floors, full, rerun, no-checks, floors, ...) so that
noise on a shared machine hits every measure alike:

* floor      -- read every notebook's bytes and parse them with ``nbsql.read.parse_json`` (orjson),
                in-process: nbsql's own parser, the floor the targets are judged against;
* json floor -- the same with the stdlib ``json.loads``, for comparison;
* ast.parse  -- the time ``ast.parse`` alone takes over every code cell (IPython lines masked as nbsql
                masks them): work any loader computing radon's per-cell metrics must do, so
                (floor + ast.parse) / cores bounds how fast such a load can be on this machine;
* full       -- ``nbsql.load(corpus, db)`` (checks on, the default) into a fresh database, in a fresh
                interpreter, which reports its own peak RSS and that of its largest (reaped) worker;
* rerun      -- ``nbsql.load`` again on that database with nothing changed, in a fresh interpreter;
* verified   -- the same after the database file's time was changed (as by another program or an
                interrupted load): the load first verifies the database with SQLite's quick_check;
* no-checks  -- ``nbsql.load(corpus, db, checks=False)`` into another fresh database;
* steps      -- the CPU time of each part of a load (reading, orjson, normalising, code analysis,
                rows, health checks, SQLite writing), one after another in a fresh interpreter: their
                sum over the cores is what a load would take with perfect parallelism and no overhead.

Prints medians, ratios against the targets (full/floor and no-checks/floor <= 8x, with the ratio to
the json floor beside them; rerun/full <= 0.1x; peak RSS <= 300 MB) with PASS/MISS, then the parts
and whether their ideal parallel time fits the 8x budget; always exits 0: it is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import ast
import gc
import hashlib
import json
import os
import pickle
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nbsql.code import mask_ipython
from nbsql.database import open_for_writing, transaction
from nbsql.health.check import check_notebook, prepare_checks
from nbsql.health.config import Settings
from nbsql.health.context import NotebookContext
from nbsql.health.store import finding_rows, store_rules
from nbsql.load import BATCH_FILES
from nbsql.model import NotebookError
from nbsql.read import normalise, parse_json, parse_json_repaired
from nbsql.rows import analyses_python, code_facts, notebook_rows
from nbsql.schema import create_late_indexes
from nbsql.walk import find_notebooks
from nbsql.writer import FileResult, Writer

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
FULL_TARGET, RERUN_TARGET, RSS_TARGET_MB = 8.0, 0.1, 300.0
#: Workers one writer must feed (issue 15): a 16-core machine or a 16-worker cluster then scales linearly.
FEED_TARGET = 16.0
MB = 1024 * 1024
SQLITEBITER_BATCH = 100

# Runs in a fresh interpreter: one nbsql.load, then its timing, counts and peak RSS as JSON.
# ru_maxrss is KiB on Linux (bytes on macOS); RUSAGE_CHILDREN is the max over reaped workers (forked
# from this program, so their peak counts the pages they share with it).
_CHILD = """
import json, resource, sys, time
import nbsql
corpus, db, jobs, checks = sys.argv[1], sys.argv[2], int(sys.argv[3]) or None, sys.argv[4] == "1"
started = time.perf_counter()
report = nbsql.load(corpus, db, jobs=jobs, checks=checks)
seconds = time.perf_counter() - started
unit = 1 if sys.platform == "darwin" else 1024
rss = lambda who: resource.getrusage(who).ru_maxrss * unit / 1024 / 1024
try:  # Linux keeps a process's ru_maxrss across exec (the benchmark's own peak): VmHWM is this program's
    with open("/proc/self/status") as status:
        main = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
except (OSError, StopIteration):
    main = rss(resource.RUSAGE_SELF)
print(json.dumps({"seconds": seconds, "loaded": report.loaded, "unchanged": report.unchanged,
                  "failed": report.failed, "rss_main_mb": main, "rss_worker_mb": rss(resource.RUSAGE_CHILDREN)}))
"""

# Runs in a fresh interpreter (so the results it holds do not swell this process, whose peak RSS
# the load children inherit across exec): the parts of a load, as JSON.
_STEPS_CHILD = """
import json, sys
sys.path.insert(0, sys.argv[1])
from bench_load import find_notebooks, steps_once
_, found = find_notebooks(sys.argv[2])
print(json.dumps(steps_once([item for item in found if not item.error])))
"""


def floor_once(files: list[str], stdlib: bool = False) -> float:
    """Seconds to read and JSON-parse every file, single process (unparseable files count too),
    with nbsql's parser (orjson) or, if ``stdlib``, with ``json.loads``."""
    parse: Callable[[bytes], Any] = json.loads if stdlib else parse_json
    started = time.perf_counter()
    for path in files:
        with open(path, "rb") as handle:
            data = handle.read()
        try:
            parse(data)
        except (NotebookError, ValueError, RecursionError):  # json.JSONDecodeError is a ValueError
            pass
    return time.perf_counter() - started


def ast_parse_once(files: list[str]) -> float:
    """Seconds spent in ``ast.parse`` alone over every non-empty code cell (reading, JSON and
    nbsql's normalising are not counted)."""
    spent = 0.0
    for path in files:
        with open(path, "rb") as handle:
            data = handle.read()
        try:
            notebook = normalise(parse_json(data))
        except (NotebookError, ValueError, RecursionError):
            continue
        for cell in notebook.cells:
            masked = mask_ipython(cell.source) if cell.cell_type == "code" and cell.source.strip() else None
            if masked is None:
                continue
            started = time.perf_counter()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    ast.parse(masked)
            except (SyntaxError, ValueError, MemoryError, RecursionError):
                pass
            spent += time.perf_counter() - started
    return spent


#: The per-file step's parts, as :func:`nbsql.load.process_bytes` runs them, and the single writer.
STEPS = ("read + sha256", "orjson", "normalise", "code analysis", "rows", "health checks", "writer (SQLite)")
#: The parts a load without the health checks does.
NO_CHECK_STEPS = tuple(step for step in STEPS if step != "health checks")
#: The part of the health checks that pyflakes takes (the name checks), timed on its own too.
NAME_CHECKS = "of which pyflakes"


def workers_fed(step_s: dict[str, float], notebooks: int) -> dict[str, tuple[float, float, float]]:
    """With and without the checks: how many workers one writer keeps busy (the CPU seconds of a
    worker's parts over the writer's), the writer's rate and one worker's, in notebooks/s. The
    writer's part ran on the results with findings, so the figure without the checks is low."""
    writer = step_s["writer (SQLite)"]
    worker = [step for step in STEPS if step != "writer (SQLite)"]
    fed = {}
    for name, parts in (("with checks", worker), ("without checks", [p for p in worker if p != "health checks"])):
        seconds = sum(step_s[step] for step in parts)
        fed[name] = (seconds / writer, notebooks / writer, notebooks / seconds)
    return fed


def steps_once(found: list) -> dict[str, float]:
    """CPU seconds of each part of a load, run one after another in this process over every file:
    the per-file step as the workers run it (their garbage-collector settings included), then the
    single writer inserting every result into a fresh database (without a journal, as a first load
    does). Their sum over the cores is the time a load would take with perfect parallelism and no
    overhead at all (no process start-up, no pickling, no waiting): pickling and unpickling the
    results, which this function does as well, are not counted."""
    spent = dict.fromkeys(STEPS, 0.0)
    spent[NAME_CHECKS] = 0.0
    name_problems = NotebookContext.name_problems  # a cached_property: time the function it caches

    def timed_names(context: NotebookContext):
        started = time.process_time()
        try:
            return untimed(context)
        finally:
            spent[NAME_CHECKS] += time.process_time() - started

    untimed, name_problems.func = name_problems.func, timed_names
    settings = Settings()
    prepare_checks()
    results = []
    clock = time.process_time
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)
    try:
        for item in found:
            result = FileResult(item.root, item.path, item.size, item.mtime)
            started = clock()
            with open(item.absolute, "rb") as handle:
                data = handle.read()
            result.sha256 = hashlib.sha256(data).hexdigest()
            marks = [started, clock()]
            try:
                raw, repairs = parse_json_repaired(data)
                marks.append(clock())
                notebook = normalise(raw, repairs)
                marks.append(clock())
                facts = code_facts(notebook)
                marks.append(clock())
                result.rows = notebook_rows(notebook, facts)
                marks.append(clock())
                findings = check_notebook(notebook, facts, settings, path=item.path, size=len(data), raw=raw,
                                          python=analyses_python(notebook))
                result.rows.tables["findings"] = finding_rows(findings, notebook)
                result.rows.notebook["checked_with"] = settings.fingerprint
                marks.append(clock())
            except Exception as exc:  # the loader records these as load errors
                result.rows, result.error = None, ("failed", str(exc))
            for step, (begin, end) in zip(STEPS, zip(marks, marks[1:])):
                spent[step] += end - begin
            results.append(pickle.dumps(result))  # as a worker sends it: no live rows for the collector to visit
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
        name_problems.func = untimed
    with tempfile.TemporaryDirectory(prefix="bench-writer-") as tmp:
        conn = open_for_writing(Path(tmp) / "writer.sqlite", aside=True)
        with transaction(conn):
            store_rules(conn)
            load_id = conn.execute("INSERT INTO loads(started) VALUES ('benchmark')").lastrowid
        writer = Writer(conn, load_id, {})
        for first in range(0, len(results), BATCH_FILES):
            batch = [pickle.loads(result) for result in results[first:first + BATCH_FILES]]
            started = clock()
            writer.write(batch)
            spent["writer (SQLite)"] += clock() - started
        started = clock()
        with transaction(conn):
            create_late_indexes(conn)
        spent["writer (SQLite)"] += clock() - started
        conn.close()
    return spent


def in_child(code: str, *args: str) -> Any:
    """Run ``code`` in a fresh interpreter; return the JSON its last line of output holds."""
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"a benchmark child failed (exit {done.returncode}):\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def nbsql_once(corpus: Path, db: Path, jobs: int | None, checks: bool = True) -> dict[str, Any]:
    """One ``nbsql.load`` in a fresh interpreter; returns what the child reported."""
    return in_child(_CHILD, str(corpus), str(db), str(jobs or 0), str(int(checks)))


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
    return f"  {name:<19}{value:>10}  <= {limit:<8}{'PASS' if ok else 'MISS'}"


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
    json_floors: list[float] = []
    parses: list[float] = []
    steps: list[dict[str, float]] = []
    fulls: list[dict[str, Any]] = []
    reruns: list[dict[str, Any]] = []
    verified: list[dict[str, Any]] = []  # unchanged re-runs of a database touched since: quick_check runs first
    bares: list[dict[str, Any]] = []
    for _ in range(max(1, args.repeat)):  # interleaved, so noise affects all measures alike
        floors.append(floor_once(files))
        json_floors.append(floor_once(files, stdlib=True))
        parses.append(ast_parse_once(files))
        steps.append(in_child(_STEPS_CHILD, str(Path(__file__).resolve().parent), str(corpus)))
        with tempfile.TemporaryDirectory(prefix="bench-nbsql-") as tmp:
            db = Path(tmp) / "bench.sqlite"
            fulls.append(nbsql_once(corpus, db, args.jobs))
            reruns.append(nbsql_once(corpus, db, args.jobs))
            os.utime(db)  # as if another program (or an interrupted load) had written it
            verified.append(nbsql_once(corpus, db, args.jobs))
            bares.append(nbsql_once(corpus, Path(tmp) / "bare.sqlite", args.jobs, checks=False))

    floor_s, json_s, parse_s = statistics.median(floors), statistics.median(json_floors), statistics.median(parses)
    cores = args.jobs or os.cpu_count() or 1
    bound_s = (floor_s + parse_s) / cores
    full_s = statistics.median(r["seconds"] for r in fulls)
    bare_s = statistics.median(r["seconds"] for r in bares)
    rerun_s = statistics.median(r["seconds"] for r in reruns)
    verified_s = statistics.median(r["seconds"] for r in verified)
    rss_main = max(r["rss_main_mb"] for r in fulls + bares)
    rss_worker = max(r["rss_worker_mb"] for r in fulls + bares)
    peak_rss = max(rss_main, rss_worker)
    full_ratio, bare_ratio, rerun_ratio = full_s / floor_s, bare_s / floor_s, rerun_s / full_s
    last = fulls[-1]

    print(f"corpus  {corpus}")
    print(f"        {n} notebooks, {total_bytes} bytes ({mbytes:.1f} MB); nbsql: {last['loaded']} loaded, "
          f"{last['failed']} failed; repeat={len(floors)}, jobs={args.jobs or 'default'}")
    print()
    print(f"{'measure':<26}{'median s':>10}{'min..max s':>16}{'ratio':>14}{'/ json floor':>14}{'notebooks/s':>13}"
          f"{'MB/s':>8}{'peak RSS MB':>13}")
    rss_of = lambda runs: f"{max(max(r['rss_main_mb'], r['rss_worker_mb']) for r in runs):.0f}"
    rows = [("floor (read+orjson)", floors, "1.00x floor", "-"),
            ("json floor (read+json)", json_floors, f"{json_s / floor_s:.2f}x floor", "-"),
            ("ast.parse of code cells", parses, f"{parse_s / floor_s:.2f}x floor", "-"),
            ("full load (checks)", [r["seconds"] for r in fulls], f"{full_ratio:.2f}x floor", rss_of(fulls)),
            ("full load (no checks)", [r["seconds"] for r in bares], f"{bare_ratio:.2f}x floor", rss_of(bares)),
            ("unchanged re-run", [r["seconds"] for r in reruns], f"{rerun_ratio:.3f}x full",
             f"{max(r['rss_main_mb'] for r in reruns):.0f}"),
            ("re-run, verified", [r["seconds"] for r in verified], f"{verified_s / full_s:.3f}x full",
             f"{max(r['rss_main_mb'] for r in verified):.0f}")]
    for name, samples, ratio, rss in rows:
        median = statistics.median(samples)
        spread = f"{min(samples):.3f}..{max(samples):.3f}"
        vs_json = f"{median / json_s:.2f}x" if "re-run" not in name else "-"
        print(f"{name:<26}{median:>10.3f}{spread:>16}{ratio:>14}{vs_json:>14}{n / median:>13.0f}"
              f"{mbytes / median:>8.1f}{rss:>13}")
    print()
    print("targets (floor = nbsql's own parser, orjson; the stdlib json floor in brackets for comparison)")
    print(target("full / floor", f"{full_ratio:.2f}x", f"{FULL_TARGET:g}x", full_ratio <= FULL_TARGET)
          + f"  (/ json floor: {full_s / json_s:.2f}x)")
    print(target("no-checks / floor", f"{bare_ratio:.2f}x", f"{FULL_TARGET:g}x", bare_ratio <= FULL_TARGET)
          + f"  (/ json floor: {bare_s / json_s:.2f}x)")
    print(target("rerun / full", f"{rerun_ratio:.3f}x", f"{RERUN_TARGET:g}x", rerun_ratio <= RERUN_TARGET))
    print(target("peak RSS", f"{peak_rss:.0f} MB", f"{RSS_TARGET_MB:g} MB", peak_rss <= RSS_TARGET_MB)
          + f"  (main {rss_main:.0f} MB, largest worker {rss_worker:.0f} MB)")
    print(f"  bound: (floor + ast.parse) / {cores} cores = {bound_s:.3f}s = {bound_s / floor_s:.2f}x floor: no load that "
          f"computes per-cell metrics can be faster here")
    print()
    step_s = {step: statistics.median(sample[step] for sample in steps) for step in STEPS}
    print(f"the parts of a load, CPU seconds one after another in one process (median), and what they take "
          f"with {cores} cores, perfect parallelism and no overhead:")
    step_s[NAME_CHECKS] = statistics.median(sample[NAME_CHECKS] for sample in steps)
    for step in STEPS:
        print(f"  {step:<24}{step_s[step]:>8.3f}s{step_s[step] / floor_s:>8.2f}x floor")
        if step == "health checks":
            print(f"    {NAME_CHECKS:<22}{step_s[NAME_CHECKS]:>8.3f}s{step_s[NAME_CHECKS] / floor_s:>8.2f}x floor")
    budget = FULL_TARGET * floor_s
    ideal = {}
    for name, parts in (("full load (checks)", STEPS), ("full load (no checks)", NO_CHECK_STEPS)):
        ideal[name] = sum(step_s[step] for step in parts) / cores
        print(f"  {name:<24}{ideal[name]:>8.3f}s{ideal[name] / floor_s:>8.2f}x floor = sum / {cores} cores; "
              f"{'within' if ideal[name] <= budget else 'over'} the {FULL_TARGET:g}x budget ({budget:.3f}s)")
    libraries = (step_s["read + sha256"] + step_s["orjson"] + parse_s + step_s[NAME_CHECKS]
                 + step_s["writer (SQLite)"]) / cores
    print(f"  {'libraries alone':<24}{libraries:>8.3f}s{libraries / floor_s:>8.2f}x floor = (read + sha256 + orjson + "
          f"ast.parse + pyflakes + writer) / {cores} cores: the full load's parts that are not nbsql's own code")
    feeds = workers_fed(step_s, n)
    for name, (fed, writer_rate, worker_rate) in feeds.items():
        print(f"  one writer feeds {fed:5.1f} workers {name}: the writer {writer_rate:.0f} notebooks/s from computed "
              f"results, one worker {worker_rate:.0f} notebooks/s ({'PASS' if fed >= FEED_TARGET else 'MISS'}: "
              f"target {FEED_TARGET:g})")
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
            "floor_seconds": floors, "json_floor_seconds": json_floors, "ast_parse_seconds": parses, "full": fulls, "full_no_checks": bares,
            "rerun": reruns, "rerun_verified": verified,
            "median_seconds": {"floor": floor_s, "json_floor": json_s, "ast_parse": parse_s, "full": full_s,
                               "full_no_checks": bare_s, "rerun": rerun_s,
                               "rerun_verified": verified_s},
            "parse_bound_seconds": bound_s, "step_cpu_seconds": steps, "median_step_cpu_seconds": step_s,
            "ideal_parallel_seconds": ideal, "libraries_alone_seconds": libraries,
            "full_over_floor": full_ratio, "full_over_json_floor": full_s / json_s,
            "no_checks_over_floor": bare_ratio, "no_checks_over_json_floor": bare_s / json_s,
            "rerun_over_full": rerun_ratio, "peak_rss_mb": peak_rss,
            "pass": {"full_over_floor": full_ratio <= FULL_TARGET, "no_checks_over_floor": bare_ratio <= FULL_TARGET,
                     "rerun_over_full": rerun_ratio <= RERUN_TARGET, "peak_rss": peak_rss <= RSS_TARGET_MB},
            "sqlitebiter": sqlitebiter, "workers_one_writer_feeds": {k: v[0] for k, v in feeds.items()},
        }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
