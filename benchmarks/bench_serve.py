#!/usr/bin/env python3
"""Benchmark search and pages on a loaded corpus: p50/p95 latency, side by side in one run.

* ``nbsql.search`` through the library (target p95 <= 50 ms);
* the same searches through Datasette's JSON API (the ``search_cells`` canned query, target p95
  <= 150 ms), via Datasette's in-process client;
* the plugin's search page, ``/-/nbsql/search?q=`` (target p95 <= 150 ms);
* the plugin's notebook page of the largest notebook (target p95 <= 300 ms);
* Datasette's table pages people use, ``/db/cells?_search=WORD`` and ``/db/notebooks`` (target p95
  <= 150 ms), beside the same rows from the JSON API (``.json``);
* the plugin's dashboard, ``/-/nbsql/`` (target p95 <= 150 ms);
* a search report of 50 results, built and written (every fifth round; target p95 <= 2 s);
* ``nbsql search WORD`` end to end, start-up included (every fifth round; target p95 <= 300 ms).

Requests are interleaved (one of each per round) so that noise on a shared machine hits all
alike. Prints medians, p95 and PASS/MISS, and always exits 0: it is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import nbsql
from nbsql.reports import search_report, write_report
from nbsql.search import search_connection
from nbsql.serve import make_datasette

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
QUERIES = ["read_csv", "plot", "model fit", "import numpy", "DataFrame", "error", "train_test_split", "matplotlib",
           "loss", "groupby", "figure", "def", "julia", "random seed", "accuracy", "pd.read_csv", "@time", "%timeit",
           "!pip", "import", "np.random.seed"]
#: Words for the cells table's search box (Datasette's FTS search: one word each).
WORDS = ["plot", "import", "model", "error", "data", "loss", "figure", "accuracy", "numpy", "julia"]
TARGETS = {"library search": 50.0, "Datasette JSON search": 150.0, "search page": 150.0,
           "largest notebook page": 300.0, "cells ?_search= page": 150.0, "cells ?_search= JSON": 150.0,
           "notebooks page": 150.0, "notebooks JSON": 150.0, "dashboard": 150.0,
           "report of 50 results": 2000.0, "nbsql search command": 300.0}


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


async def measure(db: Path, rounds: int, report: Path) -> dict[str, list[float]]:
    datasette = make_datasette(db)
    name = db.stem
    conn = nbsql.connect(db)
    largest = conn.execute("SELECT id FROM notebooks ORDER BY size DESC LIMIT 1").fetchone()[0]
    timings: dict[str, list[float]] = {key: [] for key in TARGETS}
    for warm in (f"/-/nbsql/notebooks/{largest}", f"/{name}/cells?_search=plot", f"/{name}/notebooks", "/-/nbsql/"):
        await datasette.client.get(warm)  # warm caches and templates once
    for i in range(rounds):
        query = QUERIES[i % len(QUERIES)]
        started = time.perf_counter()
        search_connection(conn, query, limit=20)
        timings["library search"].append((time.perf_counter() - started) * 1000)
        url = f"/{name}/search_cells.json?_shape=array&q={urllib.parse.quote(query)}"
        started = time.perf_counter()
        response = await datasette.client.get(url)
        timings["Datasette JSON search"].append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text[:200]
        started = time.perf_counter()
        response = await datasette.client.get(f"/-/nbsql/search?q={urllib.parse.quote(query)}")
        timings["search page"].append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text[:200]
        started = time.perf_counter()
        page = await datasette.client.get(f"/-/nbsql/notebooks/{largest}")
        timings["largest notebook page"].append((time.perf_counter() - started) * 1000)
        assert page.status_code == 200
        word = WORDS[i % len(WORDS)]
        for label, url in (("cells ?_search= page", f"/{name}/cells?_search={word}"),
                           ("cells ?_search= JSON", f"/{name}/cells.json?_search={word}"),
                           ("notebooks page", f"/{name}/notebooks"), ("notebooks JSON", f"/{name}/notebooks.json"),
                           ("dashboard", "/-/nbsql/")):
            started = time.perf_counter()
            response = await datasette.client.get(url)
            timings[label].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (url, response.text[:200])
        if i % 5 == 0:
            started = time.perf_counter()
            write_report(search_report(conn, search_connection(conn, query, limit=50)), report)
            timings["report of 50 results"].append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "nbsql", "search", query, "--db", str(db)], check=False,
                           stdout=subprocess.DEVNULL)
            timings["nbsql search command"].append((time.perf_counter() - started) * 1000)
    conn.close()
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--db", type=Path, help="an already loaded database (default: load the corpus first)")
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        db = args.db or Path(tmp) / "corpus.db"
        if args.db is None:
            report = nbsql.load(args.corpus, db)
            print(f"loaded {args.corpus}: {report.summary()}")
        with sqlite3.connect(db) as conn:
            notebooks, cells = conn.execute("SELECT count(*), sum(cell_count) FROM notebooks").fetchone()
            path, size = conn.execute("SELECT path, size FROM notebooks ORDER BY size DESC LIMIT 1").fetchone()
        timings = asyncio.run(measure(db, args.rounds, Path(tmp) / "report.ipynb"))
    print(f"{notebooks} notebooks, {cells} cells; largest notebook {path} ({size:,} bytes); {args.rounds} rounds\n")
    print(f"{'measure':<24}{'median ms':>10}{'p95 ms':>10}{'target':>10}  verdict")
    results = {}
    for name, samples in timings.items():
        median, high = statistics.median(samples), p95(samples)
        results[name] = {"median_ms": round(median, 2), "p95_ms": round(high, 2), "target_ms": TARGETS[name],
                         "pass": high <= TARGETS[name]}
        verdict = "PASS" if high <= TARGETS[name] else "MISS"
        print(f"{name:<24}{median:>10.1f}{high:>10.1f}{TARGETS[name]:>10.0f}  {verdict}")
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
