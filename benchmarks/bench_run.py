#!/usr/bin/env python3
"""Benchmark ``nbsql run`` against papermill on the sample notebooks of tests/fixtures/run.

Measures, interleaved ``--rounds`` times so that noise on a shared machine hits both alike:

* nbsql     -- ``nbsql.run(FOLDER, FRESH_DB)`` (one job: one kernel at a time) in a fresh process:
               loading, copying each folder, the sandbox, running, comparing, writing, the rules;
               its wall time, and the peak RSS of that process itself (``VmHWM``: the job
               processes and kernels are children, not counted);
* papermill -- ``papermill NOTEBOOK OUT --cwd FOLDER`` for each notebook, one after the other, from
               its own venv (``--papermill-venv``, created with papermill and ipykernel if missing).

Prints medians, notebooks per minute, the ratio nbsql / papermill against the target (at most 1.2x)
with PASS/MISS, and always exits 0: it is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "run"
#: The samples that end by themselves in a few seconds under both (not the one that hangs, the one
#: whose kernel is killed, nor the Julia one, which papermill cannot start).
SAMPLES = ("clean.ipynb", "fails_at_cell_3.ipynb", "nondeterministic.ipynb", "needs_parameter.ipynb",
           "writes_outside.ipynb", "socket.ipynb", "leaves_a_process.ipynb")
TARGET = 1.2
_NBSQL = ("import re, sys, time, nbsql\n"
          "started = time.perf_counter()\n"
          "report = nbsql.run(sys.argv[1], sys.argv[2])\n"
          "peak = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)\n"
          "print(time.perf_counter() - started, peak, report.ran)\n")


def papermill_command(venv: Path) -> Path:
    """The venv's papermill, installed (with ipykernel, for its python3 kernel) when missing."""
    papermill = venv / "bin" / "papermill"
    if not papermill.exists():
        print(f"creating {venv} with papermill and ipykernel...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "papermill", "ipykernel"], check=True)
    return papermill


def nbsql_round(folder: Path, scratch: Path) -> tuple[float, float]:
    """Seconds of one nbsql run over ``folder`` and the process's peak RSS in MiB."""
    db = scratch / f"bench-{time.monotonic_ns()}.db"
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", _NBSQL, str(folder), str(db)], capture_output=True, text=True,
                            check=True)
    seconds = time.perf_counter() - started
    _, peak_kib, ran = result.stdout.split()
    assert int(ran) == len(SAMPLES), result.stdout
    return seconds, int(peak_kib) / 1024


def papermill_round(papermill: Path, folder: Path, scratch: Path) -> float:
    """Seconds of papermill run on each notebook of ``folder``, one after the other."""
    started = time.perf_counter()
    for name in SAMPLES:
        subprocess.run([str(papermill), str(folder / name), str(scratch / f"out-{name}"), "--cwd", str(folder),
                        "--log-level", "ERROR"], capture_output=True)  # the failing samples exit 1: expected
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--papermill-venv", type=Path, default=Path("/tmp/papermill-venv"))
    args = parser.parse_args()
    papermill = papermill_command(args.papermill_venv)
    with tempfile.TemporaryDirectory(prefix="bench-run-") as tmp:
        scratch = Path(tmp)
        folder = scratch / "samples"
        folder.mkdir()
        for name in SAMPLES + ("data.csv",):
            shutil.copy(FIXTURES / name, folder)
        nbsql_times, peaks, papermill_times = [], [], []
        for round_number in range(1, args.rounds + 1):
            seconds, peak = nbsql_round(folder, scratch)
            nbsql_times.append(seconds)
            peaks.append(peak)
            papermill_times.append(papermill_round(papermill, folder, scratch))
            print(f"round {round_number}: nbsql {seconds:.2f} s ({peak:.0f} MiB), papermill {papermill_times[-1]:.2f} s",
                  file=sys.stderr)
    ours, theirs = statistics.median(nbsql_times), statistics.median(papermill_times)
    ratio = ours / theirs
    print(f"{len(SAMPLES)} sample notebooks, {args.rounds} interleaved rounds, medians:")
    print(f"  nbsql run (1 job)       {ours:6.2f} s  {60 * len(SAMPLES) / ours:5.0f} notebooks/min  "
          f"peak RSS of nbsql itself {statistics.median(peaks):.0f} MiB (max {max(peaks):.0f})")
    print(f"  papermill, one by one   {theirs:6.2f} s  {60 * len(SAMPLES) / theirs:5.0f} notebooks/min")
    print(f"  ratio nbsql / papermill {ratio:6.2f}x  (target <= {TARGET}x: {'PASS' if ratio <= TARGET else 'MISS'})")


if __name__ == "__main__":
    main()
