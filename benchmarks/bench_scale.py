"""Figures at scale (issue 15 point 4): a synthetic corpus of N notebooks, loaded, re-run and served.

    python benchmarks/bench_scale.py                          # N = 1,280, 10,000 and 40,000
    python benchmarks/bench_scale.py --sizes 1280 10000 --rounds 40 --jobs 2

The corpus of each size is built from the shared corpus in a temporary folder (never in the repo):
its 1,280 files as they are, then copies of them until there are N, spread over folders of 50 as
repositories are. Half of the copies are exact (a file copied to another repository, a third of
them under another name: the duplicates corpus studies count); the other half are unique: one to
three of their code cells edited as people edit them (a number changed, a line added).

For each size it loads the corpus into a fresh database (``nbsql.load`` with its defaults, checks
on, in a fresh interpreter, as bench_load times it), then prints:

* load throughput in notebooks/s (files found / seconds), and its ratio to the first size's;
* peak RSS of the writer (the loading process) and of the largest worker;
* database size per notebook;
* an unchanged re-run, and a re-run after 1% of the files changed (one cell edited each);
* p95 latency of the library search, the search page, the largest notebook's page and Datasette's
  cells (``?_search=``) and notebooks table pages (bench_serve's rounds, interleaved).

Targets: throughput at the largest size at least 0.9x the smallest's; peak RSS at most 300 MB at
every size; an unchanged re-run of 40,000 within 5 s; search p95 <= 50 ms (library) and <= 150 ms
(page), notebook page p95 <= 300 ms, at 40,000. It always exits 0: it is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_load import _CHILD, DEFAULT_CORPUS  # noqa: E402  (this folder's modules)
from bench_serve import measure, p95  # noqa: E402

SIZES = (1280, 10_000, 40_000)
FOLDER_SIZE = 50
RSS_TARGET_MB = 300.0
THROUGHPUT_TARGET = 0.9
RERUN_TARGET_S = 5.0
LATENCY_TARGETS = {"library search": 50.0, "search page": 150.0, "largest notebook page": 300.0,
                   "cells ?_search= page": 150.0, "notebooks page": 150.0}
_NUMBER = re.compile(r"(?<![\w.])\d+(?![\w.])")


def edit_source(source: str, rng: random.Random, tag: int) -> str:
    """A code cell as someone might have edited it: a number changed, else a line added."""
    numbers = list(_NUMBER.finditer(source))
    if numbers:
        match = rng.choice(numbers)
        return f"{source[:match.start()]}{int(match.group()) + 1 + tag % 7}{source[match.end():]}"
    return f"{source.rstrip()}\nrun_{tag} = {tag}\n"


def edited(data: bytes, rng: random.Random, tag: int, cells: int) -> bytes:
    """``data`` with up to ``cells`` of its code cells edited; the bytes unchanged when it holds no
    code cell or is not a notebook that parses."""
    try:
        notebook = json.loads(data)
        code = [c for c in notebook.get("cells", []) if isinstance(c, dict) and c.get("cell_type") == "code"]
    except (ValueError, AttributeError):
        return data
    if not code:
        return data
    for cell in rng.sample(code, min(cells, len(code))):
        source = cell.get("source", "")
        cell["source"] = edit_source("".join(source) if isinstance(source, list) else str(source), rng, tag)
    return (json.dumps(notebook, indent=1, ensure_ascii=False) + "\n").encode()


def build_corpus(source: Path, size: int, target: Path, seed: int = 15) -> int:
    """Write a corpus of ``size`` notebooks to ``target`` (see the module's documentation)."""
    shutil.copytree(source, target / "shared", ignore=shutil.ignore_patterns(".*"))
    originals = sorted(target.glob("shared/**/*.ipynb"))
    rng = random.Random(seed)
    for number in range(max(0, size - len(originals))):
        original = rng.choice(originals)
        data = original.read_bytes()
        folder = target / "copies" / f"repo{number // FOLDER_SIZE:05d}"
        folder.mkdir(parents=True, exist_ok=True)
        if number % 2:  # unique: some cells edited
            data, name = edited(data, rng, number, rng.randint(1, 3)), original.name
        else:  # an exact copy, a third of them renamed
            name = f"{original.stem}_v{number}.ipynb" if number % 3 == 0 else original.name
        if (folder / name).exists():  # two copies of one file in one repository: one renamed
            name = f"{original.stem}_{number}.ipynb"
        (folder / name).write_bytes(data)
    return len(originals) + max(0, size - len(originals))


def change_files(corpus: Path, share: float, seed: int = 16) -> int:
    """Edit one code cell in ``share`` of the corpus's notebooks; return how many files changed."""
    rng = random.Random(seed)
    files = sorted(corpus.rglob("*.ipynb"))
    changed = 0
    for path in rng.sample(files, max(1, round(len(files) * share))):
        data = path.read_bytes()
        new = edited(data, rng, 1_000_000 + changed, 1)
        if new != data:
            path.write_bytes(new)
            changed += 1
    return changed


def load(corpus: Path, db: Path, jobs: int) -> dict:
    """One ``nbsql.load`` in a fresh interpreter: seconds, counts, peak RSS of the writer and workers."""
    out = subprocess.run([sys.executable, "-c", _CHILD, str(corpus), str(db), str(jobs), "1"],
                         capture_output=True, text=True, check=True, cwd=db.parent)
    return json.loads(out.stdout.strip().splitlines()[-1])


def one_size(source: Path, size: int, folder: Path, jobs: int, rounds: int) -> dict:
    corpus, db = folder / "corpus", folder / "nb.db"
    files = build_corpus(source, size, corpus)
    first = load(corpus, db, jobs)
    unchanged = load(corpus, db, jobs)
    changed_files = change_files(corpus, 0.01)
    changed = load(corpus, db, jobs)
    timings = asyncio.run(measure(db, rounds, folder / "report.ipynb"))
    return {
        "notebooks": files, "seconds": first["seconds"], "throughput": files / first["seconds"],
        "rss_writer_mb": first["rss_main_mb"], "rss_worker_mb": first["rss_worker_mb"],
        "loaded": first["loaded"], "failed": first["failed"],
        "db_kib_per_notebook": os.path.getsize(db) / 1024 / files,
        "unchanged_rerun_s": unchanged["seconds"],
        "changed_files": changed_files, "changed_rerun_s": changed["seconds"], "changed_loaded": changed["loaded"],
        "p95_ms": {name: p95(timings[name]) for name in LATENCY_TARGETS},
        "median_ms": {name: statistics.median(timings[name]) for name in LATENCY_TARGETS},
    }


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def report(results: dict[int, dict]) -> None:
    sizes = sorted(results)
    base = results[sizes[0]]["throughput"]
    print(f"{'notebooks':>10}{'nb/s':>8}{'ratio':>7}{'writer MB':>11}{'worker MB':>11}{'KiB/nb':>8}"
          f"{'rerun s':>9}{'1% s':>8}  p95 ms: library / search page / notebook page / cells page / notebooks page")
    for size in sizes:
        r = results[size]
        p = r["p95_ms"]
        print(f"{r['notebooks']:>10,}{r['throughput']:>8.0f}{r['throughput'] / base:>7.2f}{r['rss_writer_mb']:>11.0f}"
              f"{r['rss_worker_mb']:>11.0f}{r['db_kib_per_notebook']:>8.0f}{r['unchanged_rerun_s']:>9.2f}"
              f"{r['changed_rerun_s']:>8.2f}  " + " / ".join(f"{p[name]:.1f}" for name in LATENCY_TARGETS)
              + f"   ({r['loaded']:,} loaded, {r['failed']} failed; {r['changed_files']} changed)")
    largest = results[sizes[-1]]
    print("\ntargets")
    ratio = largest["throughput"] / base
    print(f"  throughput at {largest['notebooks']:,} / at {results[sizes[0]]['notebooks']:,}: {ratio:.2f}x "
          f"(>= {THROUGHPUT_TARGET}x) {verdict(ratio >= THROUGHPUT_TARGET)}")
    peak = max(max(r["rss_writer_mb"], r["rss_worker_mb"]) for r in results.values())
    print(f"  peak RSS at any size: {peak:.0f} MB (<= {RSS_TARGET_MB:.0f}) {verdict(peak <= RSS_TARGET_MB)}")
    print(f"  unchanged re-run of {largest['notebooks']:,}: {largest['unchanged_rerun_s']:.2f} s "
          f"(<= {RERUN_TARGET_S:.0f}) {verdict(largest['unchanged_rerun_s'] <= RERUN_TARGET_S)}")
    for name, target in LATENCY_TARGETS.items():
        high = largest["p95_ms"][name]
        print(f"  {name} p95 at {largest['notebooks']:,}: {high:.1f} ms (<= {target:.0f}) {verdict(high <= target)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="the corpus the copies are made of")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--jobs", type=int, default=0, help="worker processes (default: one per core)")
    parser.add_argument("--rounds", type=int, default=40, help="rounds of page and search requests per size")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results = {}
    for size in args.sizes:
        with tempfile.TemporaryDirectory(prefix=f"bench-scale-{size}-") as tmp:
            results[size] = one_size(args.corpus, size, Path(tmp), args.jobs, args.rounds)
        print(f"{size:,}: {json.dumps(results[size])}", flush=True)
    print()
    report(results)
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
