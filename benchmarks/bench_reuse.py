"""Each distinct cell analysed once (issue 15 point 2): what it saves a full load, on two corpora.

    python benchmarks/bench_reuse.py [--rounds 3] [--copies 3840]

The corpora: the shared corpus as it is, and the shared corpus with edited copies of it (bench_scale's
copies: half exact, half with one to three code cells edited). Each is loaded in fresh
interpreters, with and without the checks, with the analyses a process keeps
(:data:`nbsql.rows.ANALYSED_SOURCES`) as shipped and with none kept (every cell analysed, copies
too), alternating. It prints the share of code cells whose source met before in the corpus, and
the median wall and CPU seconds (the load's process and its workers) of each way.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_load import DEFAULT_CORPUS  # noqa: E402  (this folder's modules)
from bench_scale import build_corpus  # noqa: E402

_CHILD = """
import json, sys, time
import nbsql, nbsql.rows
corpus, db, checks, kept = sys.argv[1], sys.argv[2], sys.argv[3] == "1", int(sys.argv[4])
nbsql.rows.ANALYSED_SOURCES = kept  # read by each call, and inherited by the forked workers
started = time.perf_counter()
nbsql.load(corpus, db, checks=checks)
print(json.dumps({"seconds": time.perf_counter() - started}))
"""
WAYS = {"each source once": None, "every cell": 0}


def load_once(corpus: Path, checks: bool, kept: int) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory(prefix="bench-reuse-db-") as tmp:
        out = subprocess.run([sys.executable, "-c", _CHILD, str(corpus), f"{tmp}/nb.db", str(int(checks)), str(kept)],
                             capture_output=True, text=True, check=True, cwd=tmp)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return json.loads(out.stdout.strip().splitlines()[-1])["seconds"], cpu


def repeated_share(corpus: Path) -> tuple[int, float]:
    """Non-empty code cells of the corpus, and the share whose exact source came earlier."""
    import nbsql
    with tempfile.TemporaryDirectory(prefix="bench-reuse-count-") as tmp:
        db = Path(tmp) / "nb.db"
        nbsql.load(corpus, db, checks=False)
        conn = nbsql.connect(db)
        cells, distinct = conn.execute("SELECT count(*), count(DISTINCT source) FROM cells "
                                       "WHERE cell_type = 'code' AND trim(source) != ''").fetchone()
        conn.close()
    return cells, 1 - distinct / cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--copies", type=int, default=3840, help="edited copies added for the second corpus")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from nbsql.rows import ANALYSED_SOURCES
    with tempfile.TemporaryDirectory(prefix="bench-reuse-") as tmp:
        with_copies = Path(tmp) / "with-copies"
        build_corpus(args.corpus, sum(1 for _ in args.corpus.rglob("*.ipynb")) + args.copies, with_copies)
        corpora = {"shared corpus": args.corpus, f"shared corpus + {args.copies:,} copies": with_copies}
        for name, corpus in corpora.items():
            cells, share = repeated_share(corpus)
            print(f"{name}: {cells:,} code cells, {share:.1%} of them a source met before")
            seconds: dict[tuple[str, bool], list[tuple[float, float]]] = {}
            for _ in range(args.rounds):
                for way, kept in (*WAYS.items(), *reversed(WAYS.items())):
                    for checks in (True, False):
                        timing = load_once(corpus, checks, ANALYSED_SOURCES if kept is None else kept)
                        seconds.setdefault((way, checks), []).append(timing)
            for checks in (True, False):
                medians = {way: [statistics.median(t[i] for t in seconds[way, checks]) for i in (0, 1)]
                           for way in WAYS}
                once, every = medians["each source once"], medians["every cell"]
                print(f"  checks {'on ' if checks else 'off'}: every cell {every[0]:.2f} s wall {every[1]:.2f} s CPU;"
                      f" each source once {once[0]:.2f} s wall {once[1]:.2f} s CPU"
                      f" ({once[1] / every[1] - 1:+.1%} CPU)")


if __name__ == "__main__":
    main()
