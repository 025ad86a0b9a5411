"""The load on Dask against the local pool (issue 15 point 5: --dask local:2 at least 0.8x the
throughput of the local pool on the same 2 cores), alternating, with and without the checks:

    python benchmarks/bench_dask.py [--rounds 3]

Three ways each round: the local pool of 2 processes; --dask local:2 (a cluster started for the
run, its start counted); a running cluster of 2 worker processes (tcp, started once, not counted).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import distributed

import nbsql

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
TARGET = 0.8


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args()
    count = sum(1 for _ in args.corpus.rglob("*.ipynb"))
    seconds: dict[tuple[str, bool], list[float]] = {}
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=50) as running:
        ways = {"local pool (jobs=2)": {"jobs": 2}, "--dask local:2": {"dask": "local:2"},
                "--dask tcp (running)": {"dask": running.scheduler_address}}
        for _ in range(args.rounds):
            for name, keywords in ways.items():
                for checks in (True, False):
                    with tempfile.TemporaryDirectory() as tmp:
                        started = time.perf_counter()
                        nbsql.load(args.corpus, f"{tmp}/nb.db", checks=checks, **keywords)
                        seconds.setdefault((name, checks), []).append(time.perf_counter() - started)
    for checks in (True, False):
        local = statistics.median(seconds["local pool (jobs=2)", checks])
        for name in ways:
            median = statistics.median(seconds[name, checks])
            ratio = local / median
            verdict = "" if name.startswith("local") else f"  {ratio:.2f}x the local pool"
            if name == "--dask local:2":
                verdict += f" ({'PASS' if ratio >= TARGET else 'MISS'}: target {TARGET}x)"
            print(f"{name:22} checks={'on ' if checks else 'off'} {median:6.2f} s  {count / median:5.0f} notebooks/s"
                  + verdict)


if __name__ == "__main__":  # Dask's nannies start their workers by importing this module again
    main()
