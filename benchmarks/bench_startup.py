#!/usr/bin/env python3
"""Benchmark start-up: what a pre-commit hook pays on each commit.

Measures, interleaved ``--repeat`` times so that noise on a shared machine hits every measure alike,
the wall time of three fresh processes:

* bare        -- ``python -c pass``: the interpreter's own start-up, the yardstick;
* help        -- ``python -m nbsql --help``;
* health one  -- ``python -m nbsql health NOTEBOOK --db DB`` on one notebook already loaded and unchanged,
                 as the pre-commit hook runs it on a commit that touches one notebook;

and, with ``--ruff`` (when ``ruff`` is on PATH), ``ruff check NOTEBOOK`` for scale; with
``--baseline SRC`` (a checkout of another nbsql version, e.g. a ``git worktree``), the same two
nbsql commands run from SRC, in the same interleaved rounds.

Prints medians and multiples of the bare start-up, with the target (health one <= 6x bare) as PASS
or MISS; always exits 0: it is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_NOTEBOOK = REPO / "sample_notebooks" / "analysis" / "sales_analysis.ipynb"
HEALTH_TARGET = 6.0


def timed(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, env=env)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebook", type=Path, default=DEFAULT_NOTEBOOK, help="the notebook (%(default)s)")
    parser.add_argument("--repeat", type=int, default=15, help="repetitions of each measure (default 15)")
    parser.add_argument("--ruff", action="store_true", help="also time `ruff check NOTEBOOK` if on PATH")
    parser.add_argument("--baseline", type=Path, help="also time the nbsql commands from this source folder")
    args = parser.parse_args(argv)
    notebook = args.notebook.resolve()
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        folder = Path(tmp)
        db = folder / "one.db"
        def health(database: Path) -> list[str]:
            return [sys.executable, "-m", "nbsql", "health", str(notebook), "--db", str(database), "--fail-on", "never"]

        commands = {"bare": ([sys.executable, "-c", "pass"], None),
                    "help": ([sys.executable, "-m", "nbsql", "--help"], None), "health one": (health(db), None)}
        if args.baseline:
            baseline = {**os.environ, "PYTHONPATH": str(args.baseline.resolve())}
            commands["help (baseline)"] = (commands["help"][0], baseline)
            commands["health one (baseline)"] = (health(folder / "baseline.db"), baseline)
        if args.ruff and shutil.which("ruff"):
            commands["ruff"] = (["ruff", "check", "--isolated", "--no-cache", str(notebook)], None)
        for name, (command, env) in commands.items():
            if name.startswith("health"):  # loaded once first: then unchanged
                first = subprocess.run(command, cwd=folder, capture_output=True, text=True, env=env)
                if first.returncode != 0:
                    parser.error(f"{name} failed: {first.stderr.strip()}")
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(max(1, args.repeat)):
            for name, (command, env) in commands.items():
                times[name].append(timed(command, folder, env))
    medians = {name: statistics.median(samples) for name, samples in times.items()}
    bare = medians["bare"]
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, repeat={args.repeat}, notebook {notebook.name}")
    print(f"{'measure':<24}{'median ms':>10}{'min..max ms':>18}{'x bare':>9}")
    for name, samples in times.items():
        spread = f"{min(samples) * 1000:.0f}..{max(samples) * 1000:.0f}"
        print(f"{name:<24}{medians[name] * 1000:>10.0f}{spread:>18}{medians[name] / bare:>9.1f}")
    ratio = medians["health one"] / bare
    print(f"target: health one <= {HEALTH_TARGET:g}x bare: {ratio:.1f}x {'PASS' if ratio <= HEALTH_TARGET else 'MISS'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
