"""Rules that read each notebook's latest run by ``nbsql run`` (top to bottom, of the file as it is
now): a notebook never run, or changed since, gets no finding from them."""

from __future__ import annotations

import json
from collections.abc import Iterator

from .base import hit, rule
from .corpus import CorpusContext

#: Each notebook's latest top-to-bottom run of the file as stored now.
_LATEST = """SELECT e.* FROM executions e JOIN notebooks n ON n.id = e.notebook AND n.sha256 IS e.sha256
              WHERE e.id = (SELECT max(id) FROM executions l WHERE l.notebook = e.notebook AND l.cell_order = 'cells')
              ORDER BY e.notebook"""


def _latest_runs(corpus: CorpusContext) -> Iterator[dict]:
    cursor = corpus.conn.execute(_LATEST)
    names = [column[0] for column in cursor.description]
    for row in cursor:
        yield dict(zip(names, row, strict=True))


@rule("NB401", "fails-on-clean-run", "error", "corpus", "The notebook fails when run top to bottom in a fresh kernel")
def fails_on_clean_run(corpus: CorpusContext, limits):
    """## What it does
    Flags notebooks whose latest `nbsql run` (top to bottom, in a fresh kernel, of the file as it
    is now) raised, timed out or lost its kernel, at the cell that failed, with the failure's class.
    A missing module names the package (compare with NB302, undeclared dependency). A kernel that is
    not installed is this machine's problem, not the notebook's: no finding.

    ## Why is this bad?
    A notebook that does not run from a clean start cannot be checked or reused: its saved
    outputs came from hidden state, another order, or files and packages that are not there.

    ## Example
    Cell 3 reads `data/train.csv`, which is not in the repository: `FileNotFoundError`.

    ## Use instead
    Restart the kernel and run all cells before saving; add the data (or the code that fetches
    it) and declare the packages the notebook imports.
    """
    from ...execute.failures import FAILURE_CLASSES

    for run in _latest_runs(corpus):
        if run["status"] not in ("error", "timeout", "crashed"):
            continue
        module = f" (module {run['missing_module']!r})" if run["missing_module"] else ""
        exception = f": {run['exception_name']}: {run['exception_value'] or ''}".rstrip(": ")[:200]
        label = FAILURE_CLASSES.get(run["failure_class"], run["failure_class"])
        yield run["notebook"], hit(f"fails on a clean run ({label}{module}){exception}",
                                   run["failing_cell"], execution=run["id"], failure_class=run["failure_class"],
                                   missing_module=run["missing_module"])


@rule("NB402", "outputs-differ", "warning", "corpus", "A clean run gives other outputs than the saved ones")
def outputs_differ(corpus: CorpusContext, limits):
    """## What it does
    Flags the code cells whose outputs in the notebook's latest clean `nbsql run` (which
    succeeded) are not the same as the saved ones, once the usual noise (addresses, times,
    progress bars, temporary paths) is masked and images are compared by their pixels: other
    text, images, errors or data, outputs where none were saved, or none where some were.

    ## Why is this bad?
    The saved outputs are what readers trust; if a clean run does not give them back, they came
    from another state of the code, the data or the environment, or the notebook is not
    deterministic (unseeded random numbers, the clock).

    ## Example
    `df.sample(5)` without a `random_state`: five other rows on every run.

    ## Use instead
    Seed random generators, pin data and package versions, and save the notebook after a
    clean run.
    """
    for run in _latest_runs(corpus):
        if run["status"] != "ok" or not run["cells_different"]:
            continue
        for position, comparison, differences in corpus.conn.execute(
                "SELECT position, comparison, differences FROM execution_cells WHERE execution = ? AND "
                "comparison != 'same' ORDER BY position", (run["id"],)):
            what = f" ({', '.join(json.loads(differences))})" if differences else ""
            yield run["notebook"], hit(f"a clean run's outputs are {_WORDS[comparison]}{what}", position,
                                       execution=run["id"], comparison=comparison)


_WORDS = {"different": "different from the saved ones", "missing": "missing (saved outputs, none now)",
          "new": "new (none were saved)"}


@rule("NB403", "slow-cell", "info", "corpus", "A cell takes long to run", max_seconds=60)
def slow_cell(corpus: CorpusContext, limits):
    """## What it does
    Flags code cells that took more than `max_seconds` seconds in the notebook's latest clean
    `nbsql run`.

    ## Why is this bad?
    A slow cell makes every rerun, review and check of the notebook slow; it is often a
    computation whose result could be saved, or a full dataset where a sample would do.

    ## Example
    A cell training a model for ten minutes before each plot below it.

    ## Use instead
    Cache the result to a file, use a sample while exploring, or move the computation into a
    script run once.
    """
    for run in _latest_runs(corpus):
        for position, seconds in corpus.conn.execute(
                "SELECT position, seconds FROM execution_cells WHERE execution = ? AND seconds > ? ORDER BY position",
                (run["id"], limits["max_seconds"])):
            yield run["notebook"], hit(f"took {seconds:.1f} s in a clean run (more than {limits['max_seconds']:g} s)",
                                       position, execution=run["id"], seconds=seconds)
