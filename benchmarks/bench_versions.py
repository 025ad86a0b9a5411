"""What a change costs a full load: two versions of nbsql load the same corpus in turn.

The old version is a git commit, checked out into a temporary worktree; the new one is this
working tree (or another commit). Each load runs in a fresh interpreter with that version first on
``sys.path`` (bench_load's child program), with and without the health checks, in the order
old, new, new, old, ... so that a drift in the machine's speed weighs on both alike. It prints the
median wall-clock seconds and CPU seconds (the load's process and its workers) of each, and the
new version's cost as a share of the old one's.

    python benchmarks/bench_versions.py --old d9bd470          # the cost of names and dependencies
    python benchmarks/bench_versions.py --old HEAD~3 --new HEAD --rounds 8 --budget 0.15
    python benchmarks/bench_versions.py --old HEAD~3 --parts --rounds 3   # the CPU of each part instead

With ``--parts`` each version runs its own bench_load's parts of a load (``steps_once``: reading,
parsing, analysis, rows, checks, the writer, one after another in a fresh interpreter), and the
medians of each part's CPU seconds are compared.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from contextlib import ExitStack, contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_load import _CHILD, _STEPS_CHILD, DEFAULT_CORPUS  # noqa: E402  (this folder's module)

REPO = Path(__file__).resolve().parents[1]


@contextmanager
def checked_out(commit: str):
    """A temporary worktree of ``commit``, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="nbsql-version-") as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "--quiet", str(tree), commit],
                       check=True)
        try:
            yield tree
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)], check=False)


def load_once(tree: Path, corpus: Path, checks: bool) -> tuple[float, float]:
    """Wall-clock seconds of one full load by the nbsql in ``tree`` (as bench_load times it), and
    the CPU seconds of the process and its workers."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory(prefix="nbsql-versions-db-") as tmp:
        out = subprocess.run([sys.executable, "-c", _CHILD, str(corpus), f"{tmp}/db.sqlite", "0", str(int(checks))],
                             capture_output=True, text=True, check=True, cwd=tmp,
                             env=dict(os.environ, PYTHONPATH=str(tree)))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return json.loads(out.stdout.strip().splitlines()[-1])["seconds"], cpu


def parts_once(tree: Path, corpus: Path) -> dict[str, float]:
    """CPU seconds of each part of a load by the nbsql in ``tree``, as its own bench_load measures them."""
    out = subprocess.run([sys.executable, "-c", _STEPS_CHILD, str(tree / "benchmarks"), str(corpus)],
                         capture_output=True, text=True, check=True, env=dict(os.environ, PYTHONPATH=str(tree)))
    return json.loads(out.stdout.strip().splitlines()[-1])


def compare_parts(trees: dict[str, Path], corpus: Path, rounds: int) -> None:
    samples: dict[str, list[dict[str, float]]] = {"old": [], "new": []}
    for round_number in range(rounds):
        for version in ("old", "new") if round_number % 2 == 0 else ("new", "old"):
            samples[version].append(parts_once(trees[version], corpus))
    for part in samples["old"][0]:
        before, after = (statistics.median(s[part] for s in samples[side]) for side in ("old", "new"))
        print(f"{part:30} old {before:6.3f} s  new {after:6.3f} s  {after / before - 1:+6.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", required=True, help="the commit to compare with")
    parser.add_argument("--new", help="another commit (default: this working tree, as it is)")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="folder of notebooks (%(default)s)")
    parser.add_argument("--rounds", type=int, default=6, help="loads of each version and mode (%(default)s)")
    parser.add_argument("--budget", type=float, default=0.15, help="the most the new version may add (%(default)s)")
    parser.add_argument("--parts", action="store_true", help="compare the CPU of each part of a load instead")
    args = parser.parse_args()
    with ExitStack() as stack:
        trees = {"old": stack.enter_context(checked_out(args.old)),
                 "new": stack.enter_context(checked_out(args.new)) if args.new else REPO}
        if args.parts:
            print(f"{args.corpus}: old {args.old}, new {args.new or 'the working tree'}; medians of {args.rounds} runs "
                  "of each version's parts (CPU seconds)")
            compare_parts(trees, args.corpus, args.rounds)
            return
        samples: dict[tuple[str, bool], list[tuple[float, float]]] = {}
        for round_number in range(args.rounds):
            for version in ("old", "new") if round_number % 2 == 0 else ("new", "old"):
                for checks in (True, False):
                    samples.setdefault((version, checks), []).append(load_once(trees[version], args.corpus, checks))
    print(f"{args.corpus}: old {args.old}, new {args.new or 'the working tree'}; medians of {args.rounds} loads each")
    for checks in (True, False):
        mode = "checks" if checks else "no checks"
        old, new = samples["old", checks], samples["new", checks]
        for what, index in (("wall", 0), ("CPU", 1)):
            before, after = (statistics.median(s[index] for s in side) for side in (old, new))
            cost = after / before - 1
            verdict = "PASS" if cost <= args.budget else "MISS"
            print(f"{mode:9} {what:4} old {before:6.3f} s  new {after:6.3f} s  {cost:+6.1%}  "
                  f"(budget {args.budget:+.0%}: {verdict})")


if __name__ == "__main__":
    main()
