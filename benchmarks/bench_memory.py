#!/usr/bin/env python3
"""Benchmark the peak memory of ``nbsql load`` on a notebook that is nearly all one large text output.

Builds, in a temporary folder, notebooks whose one code cell has one output of N MiB of text,
written as nbformat writes them (JSON indented by one space):

* ``stream``  -- a stream output saved as a list of lines (of 45 characters), as Jupyter saves it;
* ``short``   -- the same with lines of 8 characters (``print(i)`` in a loop): a str per line would
  cost far more than the line;
* ``plain``   -- an execute_result whose text/plain is a list of lines (stored in outputs and output_data);
* ``string``  -- a stream output saved as one JSON string: the file is hardly larger than the text;
* ``accents`` -- the lines of ``stream`` in French: not ASCII, but no character beyond U+00FF;
* ``bars``    -- progress bars drawn with U+2588 (a str of such text takes 2 bytes a character);
* ``emoji``   -- the lines of ``stream`` ending with U+1F680 (4 bytes a character, the ASCII too);
* ``wide``    -- the ``bars`` text saved as one JSON string.

Each is loaded into a fresh database in a fresh interpreter (bench_load's child, which reports its
peak RSS, VmHWM, and that of its largest worker), with the health checks and without; with
``--pool``, beside tiny notebooks, so that worker processes parse the files. The baseline is the peak
of the same load of tiny notebooks alone (the interpreter, nbsql and SQLite); the ratio is
(peak - baseline) / file size, and the target is peak <= 3 x file + baseline. Always exits 0: it is
a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_load import MB, nbsql_once  # noqa: E402

from nbsql.load import PARALLEL_THRESHOLD  # noqa: E402

KINDS = ("stream", "short", "plain", "string", "accents", "bars", "emoji", "wide")
_BARS = "{n:>7} |{bar:<20}| {acc:.0%}\n"
_LINES = {"short": "{n:>7}\n", "accents": "étape {n:>7} - perte : {loss:.6f} - précision : {acc:.4f}\n",
          "bars": _BARS, "wide": _BARS, "emoji": "step {n:>7} - loss: {loss:.6f} - acc: {acc:.4f} \U0001f680\n"}
_LINE = "step {n:>7} - loss: {loss:.6f} - acc: {acc:.4f}\n"
TARGET = 3.0


def write_notebook(path: Path, mib: float, kind: str = "stream") -> int:
    """Write a notebook with one output of about ``mib`` MiB of log-like text; returns the file's size."""
    lines, size, number = [], 0, 0
    while size < mib * MB:
        line = _LINES.get(kind, _LINE).format(n=number, loss=number % 9973 / 997, acc=number % 997 / 1000,
                                             bar="\u2588" * (number % 21))
        lines.append(line)
        size += len(line.encode())
        number += 1
    text = "".join(lines) if kind in ("string", "wide") else lines
    output = {"output_type": "execute_result", "execution_count": 1, "metadata": {}, "data": {"text/plain": text}} \
        if kind == "plain" else {"output_type": "stream", "name": "stdout", "text": text}
    cell = {"cell_type": "code", "id": "big", "metadata": {}, "execution_count": 1,
            "source": ["for step in range(100_000):\n", "    train(step)"], "outputs": [output]}
    notebook = {"nbformat": 4, "nbformat_minor": 5, "cells": [cell],
                "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}}
    data = (json.dumps(notebook, sort_keys=True, indent=1, ensure_ascii=False) + "\n").encode()
    path.write_bytes(data)
    return len(data)


def peak_mb(path: Path, db: Path, checks: bool = True, jobs: int | None = None) -> tuple[float, float]:
    """Peak RSS in MiB of ``nbsql.load(path, db)`` in a fresh interpreter (of its largest worker,
    when that is larger), and the load's seconds."""
    report = nbsql_once(path, db, jobs, checks)
    if report["failed"] or not report["loaded"]:
        sys.exit(f"{path} was not loaded: {report}")
    return max(report["rss_main_mb"], report["rss_worker_mb"]), report["seconds"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[30, 100, 300], help="MiB of output text")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS), help="output shapes")
    parser.add_argument("--pool", action="store_true", help=f"load each beside {PARALLEL_THRESHOLD - 1} tiny "
                        "notebooks, so that worker processes parse them (2 jobs)")
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    args = parser.parse_args(argv)
    jobs = 2 if args.pool else None
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        folder = Path(tmp) / "notebooks"
        folder.mkdir()
        for number in range(PARALLEL_THRESHOLD if args.pool else 1):
            write_notebook(folder / f"tiny-{number}.ipynb", 0.01)
        baseline = {checks: peak_mb(folder, Path(tmp) / f"tiny-{checks}.db", checks, jobs)[0]
                    for checks in (True, False)}
        if args.pool:
            (folder / "tiny-0.ipynb").unlink()  # the large notebook takes its place
        print(f"baseline (tiny notebooks): {baseline[True]:.0f} MiB with checks, {baseline[False]:.0f} MiB without"
              + (f"; {PARALLEL_THRESHOLD} files, {jobs} worker processes" if args.pool else ""))
        print(f"{'kind':<8}{'text MiB':>9}{'file MiB':>10}{'checks':>8}{'peak MiB':>10}{'ratio':>8}"
              f"{'3x + baseline':>15}  verdict{'seconds':>9}")
        for kind in args.kinds:
            for mib in args.sizes:
                notebook = folder / "large.ipynb"
                size = write_notebook(notebook, mib, kind) / MB
                for checks in (True, False):
                    db = Path(tmp) / "load.db"
                    db.unlink(missing_ok=True)
                    peak, seconds = peak_mb(folder if args.pool else notebook, db, checks, jobs)
                    ratio = (peak - baseline[checks]) / size
                    bound = TARGET * size + baseline[checks]
                    results.append({"kind": kind, "text_mib": mib, "file_mib": size, "checks": checks,
                                    "peak_mib": peak, "ratio": ratio, "bound_mib": bound, "seconds": seconds})
                    print(f"{kind:<8}{mib:>9g}{size:>10.1f}{'yes' if checks else 'no':>8}{peak:>10.0f}"
                          f"{ratio:>7.2f}x{bound:>15.0f}  {'PASS' if peak <= bound else 'MISS'}{seconds:>11.1f}")
                    db.unlink()
    if args.json:
        print(json.dumps({"pool": args.pool, "baseline_mib": {"checks": baseline[True], "no_checks": baseline[False]},
                          "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
