"""Execution order and hidden state (definitions of Pimentel et al., MSR 2019).

The sequence studied is the execution counts of the non-empty code cells, in cell order.
"""

from __future__ import annotations

from collections import Counter
from itertools import pairwise
from typing import TYPE_CHECKING

from ..secrets import masked
from .base import hit, rule

if TYPE_CHECKING:
    from ..context import NotebookContext


@rule("NB001", "out-of-order-execution", "warning", "notebook", "Cells were executed out of order")
def out_of_order(nb: NotebookContext, limits):
    """## What it does
    Flags notebooks whose execution counts, read in cell order, are not ascending.

    ## Why is this bad?
    The saved outputs came from an order nobody can see in the file. Running the notebook top to
    bottom may give other results or fail (hidden state).

    ## Example
    A cell with `In [5]` above a cell with `In [3]`.

    ## Use instead
    Restart the kernel and run all cells before saving.
    """
    counts = nb.execution_counts
    drops = [(a, b) for a, b in pairwise(counts) if b < a]
    if drops:
        first = drops[0]
        yield hit(f"execution counts go backwards {len(drops)} time(s) (first {first[0]} then {first[1]})",
                  drops=len(drops), counts=counts)


@rule("NB002", "skipped-execution-counts", "info", "notebook", "Execution counts skip numbers")
def skipped_counts(nb: NotebookContext, limits):
    """## What it does
    Flags notebooks whose sorted execution counts have gaps larger than 1 between them.

    ## Why is this bad?
    A gap means cells were run and then deleted, edited or run again: the saved notebook does not
    record everything that produced its state.

    ## Example
    Counts 1, 2, 7, 8: five executions left no trace.

    ## Use instead
    Restart the kernel and run all cells before saving.
    """
    counts = sorted(set(nb.execution_counts))
    gaps = [(a, b) for a, b in pairwise(counts) if b - a > 1]
    if gaps:
        missing = sum(b - a - 1 for a, b in gaps)
        yield hit(f"{len(gaps)} gap(s) in the execution counts ({missing} execution(s) not in the file)",
                  gaps=gaps, missing=missing)


@rule("NB003", "execution-starts-late", "info", "notebook", "The first execution count is above 1")
def starts_late(nb: NotebookContext, limits):
    """## What it does
    Flags notebooks whose lowest execution count is above 1.

    ## Why is this bad?
    Code ran in the kernel before the first saved cell: the state it left is not in the notebook.

    ## Example
    The first code cell shows `In [12]`.

    ## Use instead
    Restart the kernel and run all cells before saving.
    """
    if nb.execution_counts and min(nb.execution_counts) > 1:
        first = min(nb.execution_counts)
        yield hit(f"the first execution count is {first}, not 1", first=first)


@rule("NB004", "duplicate-execution-counts", "warning", "notebook", "Two cells carry the same execution count")
def duplicate_counts(nb: NotebookContext, limits):
    """## What it does
    Flags notebooks where two or more non-empty code cells show the same execution count, 0
    included (a Colab notebook saved with counts `[0, 0]`).

    ## Why is this bad?
    The counts come from different kernel sessions, so the order in which the cells ran is
    ambiguous.

    ## Example
    Two cells both show `In [1]` after the notebook was edited in two sessions.

    ## Use instead
    Restart the kernel and run all cells before saving.
    """
    repeated = sorted(n for n, times in Counter(nb.execution_counts).items() if times > 1)
    if repeated:
        yield hit(f"execution count(s) {', '.join(map(str, repeated))} appear more than once", counts=repeated)


def _unexecuted(nb: NotebookContext) -> tuple[list, list]:
    """Non-empty code cells without a count, split into the middle ones and the trailing block."""
    cells = nb.non_empty_code_cells
    if not nb.execution_counts:
        return [], []
    last_run = max(i for i, c in enumerate(cells) if c.execution_count is not None)
    return [c for c in cells[:last_run] if c.execution_count is None], cells[last_run + 1:]


@rule("NB005", "unexecuted-cell", "warning", "cell", "A code cell before an executed one was not executed")
def unexecuted_cell(nb: NotebookContext, limits):
    """## What it does
    Flags non-empty code cells without an execution count that come before an executed cell:
    between executed cells, or before the first one (unexecuted cells after the last executed
    one are NB006's).

    ## Why is this bad?
    The cells after it ran without it: either it is not needed, or their saved outputs depend on
    a state the notebook does not reproduce.

    ## Example
    `In [1]`, `In [ ]`, `In [2]`.

    ## Use instead
    Run all cells in order, or delete the cell.
    """
    middle, _ = _unexecuted(nb)
    for cell in middle:
        yield hit("code cell was never executed, unlike a later cell", cell.position)


@rule("NB006", "unexecuted-trailing-cells", "info", "notebook", "The last code cells were not executed")
def unexecuted_tail(nb: NotebookContext, limits):
    """## What it does
    Flags notebooks whose last non-empty code cells have no execution count while earlier ones do.

    ## Why is this bad?
    The end of the notebook was never run: its outputs are missing and it may not work.

    ## Example
    `In [1]`, `In [2]`, `In [ ]`, `In [ ]`.

    ## Use instead
    Run the whole notebook before saving, or remove the unfinished cells.
    """
    _, tail = _unexecuted(nb)
    if tail:
        yield hit(f"the last {len(tail)} code cell(s) were never executed", tail[0].position,
                  positions=[c.position for c in tail])


@rule("NB007", "never-executed", "info", "notebook", "No code cell was ever executed")
def never_executed(nb: NotebookContext, limits):
    """## What it does
    Flags notebooks with non-empty code cells none of which has an execution count.

    ## Why is this bad?
    Nobody knows whether the notebook runs; readers see no outputs.

    ## Example
    Every code cell shows `In [ ]`.

    ## Use instead
    Run the notebook before sharing it (or say in markdown that it is a template).
    """
    if nb.non_empty_code_cells and not nb.execution_counts:
        yield hit(f"none of the {len(nb.non_empty_code_cells)} code cells was executed")


def _empty_code_cells(nb: NotebookContext) -> tuple[list, list]:
    cells = nb.code_cells
    last_code = max((i for i, c in enumerate(cells) if c.source.strip()), default=-1)
    empty = [(i, c) for i, c in enumerate(cells) if not c.source.strip()]
    return [c for i, c in empty if i < last_code], [c for i, c in empty if i > last_code]


@rule("NB008", "empty-code-cell", "info", "cell", "An empty code cell between other cells")
def empty_code_cell(nb: NotebookContext, limits):
    """## What it does
    Flags code cells whose source is blank and that have non-empty code cells after them.

    ## Why is this bad?
    Empty cells are noise for readers and a sign of an unfinished notebook.

    ## Example
    A blank `In [ ]` between two cells of analysis.

    ## Use instead
    Delete the cell.
    """
    middle, _ = _empty_code_cells(nb)
    for cell in middle:
        yield hit("empty code cell", cell.position)


@rule("NB009", "empty-trailing-cell", "info", "cell", "An empty code cell at the end of the notebook")
def empty_trailing_cell(nb: NotebookContext, limits):
    """## What it does
    Flags blank code cells after the last non-empty code cell: one finding per notebook, at the
    first of them.

    ## Why is this bad?
    Jupyter adds one when the last cell runs; left in the file it is clutter.

    ## Example
    The notebook ends with an empty `In [ ]`.

    ## Use instead
    Delete trailing empty cells before saving.
    """
    _, tail = _empty_code_cells(nb)
    if tail:
        what = "empty code cell" if len(tail) == 1 else f"{len(tail)} empty code cells"
        yield hit(f"{what} at the end of the notebook", tail[0].position, positions=[c.position for c in tail])


@rule("NB010", "empty-markdown-cell", "info", "cell", "A markdown cell with no text")
def empty_markdown_cell(nb: NotebookContext, limits):
    """## What it does
    Flags markdown cells whose source is blank.

    ## Why is this bad?
    They render as nothing and only add clutter.

    ## Example
    A markdown cell containing only a newline.

    ## Use instead
    Delete the cell or write the text it was meant for.
    """
    for cell in nb.cells:
        if cell.cell_type == "markdown" and not cell.source.strip() and not cell.attachments:
            yield hit("empty markdown cell", cell.position)


@rule("NB011", "error-output", "warning", "cell", "A cell's saved output is an error")
def error_output(nb: NotebookContext, limits):
    """## What it does
    Flags code cells whose saved outputs include an error (a traceback), once per cell.

    ## Why is this bad?
    The notebook was saved in a broken state: readers see a failure, and the cells below may
    depend on what failed.

    ## Example
    A cell whose output ends with `NameError: name 'df' is not defined`.

    ## Use instead
    Fix the error and re-run, or clear the output if the error is the point (and say so).
    """
    for cell in nb.cells:
        output = next((o for o in cell.outputs if o.output_type == "error"), None)
        if output is not None:
            name = output.ename or "error"
            value = masked(output.evalue.splitlines()[0][:120]) if output.evalue else ""
            yield hit(f"saved error output: {name}: {value}".rstrip(": "), cell.position, error_name=name)


@rule("NB012", "stderr-output", "info", "cell", "A cell's saved output has text on stderr")
def stderr_output(nb: NotebookContext, limits):
    """## What it does
    Flags code cells with saved output on the stderr stream (warnings, deprecation notices, logs).

    ## Why is this bad?
    Warnings often announce wrong results or code that will break with the next release of a
    library.

    ## Example
    `FutureWarning: The default value of numeric_only will change`.

    ## Use instead
    Address the warning, or silence it deliberately with a comment saying why.
    """
    for cell in nb.cells:
        text = "".join(o.text or "" for o in cell.outputs if o.output_type == "stream" and o.name == "stderr")
        if text.strip():
            first = next(line for line in text.splitlines() if line.strip())
            yield hit(f"output on stderr: {masked(first.strip()[:120])}", cell.position)
