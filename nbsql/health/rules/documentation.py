"""Documentation and naming: file names, titles and the balance of markdown and code."""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING

from .base import hit, rule

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

    from ..context import NotebookContext

_HTML_H1 = re.compile(r"<h1[\s>]", re.I)
_MAYBE_H1 = re.compile(r"^ {0,3}#[ \t]|^ {0,3}=+[ \t]*\r?$", re.M)
_BACKTICKS = re.compile(r"`+")
_OPENING_H1 = re.compile(r"(?:[ \t]*\r?\n)* {0,3}#[ \t]")  # blank lines, then an ATX h1
@cache
def _markdown() -> MarkdownIt:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").disable(["inline", "text_join"])  # headings are block tokens: 3x faster


def _has_h1(source: str) -> bool:
    """A level-1 heading, as a markdown parser sees it (not a '#' line or '<h1>' inside code)."""
    if _OPENING_H1.match(source):  # nothing before the heading can hold it
        return True
    html = _HTML_H1.search(source)
    if not html and not _MAYBE_H1.search(source):
        return False
    tokens = _markdown().parse(source.replace("\r\n", "\n"))
    return any(t.type == "heading_open" and t.tag == "h1" for t in tokens) or bool(html) and any(
        _HTML_H1.search(t.content if t.type == "html_block" else _without_code_spans(t.content))
        for t in tokens if t.type in ("html_block", "inline"))


def _without_code_spans(text: str) -> str:
    """``text`` without its code spans: a run of backticks up to the next run of the same length.

    In linear time: the regex ``(`+).*?\1`` took cubic time on a long run of backticks.
    """
    runs = [(m.start(), m.end()) for m in _BACKTICKS.finditer(text)]
    closer: dict[int, int] = {}  # run -> the next run of the same length
    last_of_length: dict[int, int] = {}
    for index in range(len(runs) - 1, -1, -1):
        length = runs[index][1] - runs[index][0]
        if length in last_of_length:
            closer[index] = last_of_length[length]
        last_of_length[length] = index
    kept, position, index = [], 0, 0
    while index < len(runs):
        if index in closer:
            kept.append(text[position:runs[index][0]])
            index = closer[index]
            position = runs[index][1]
        index += 1
    kept.append(text[position:])
    return "".join(kept)


_PORTABLE = re.compile(r"^[A-Za-z0-9._-]+$")
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)(\.|$)", re.I)


def _file_name(nb: NotebookContext) -> str:
    return nb.path.rsplit("/", 1)[-1]


@rule("NB201", "untitled-notebook", "warning", "notebook", "The notebook is still called Untitled")
def untitled(nb: NotebookContext, limits):
    """## What it does
    Flags notebooks named `Untitled.ipynb`, `Untitled1.ipynb`, ...

    ## Why is this bad?
    The name says nothing about the content; such files are usually scratch work that was never
    meant to be kept.

    ## Example
    `Untitled3.ipynb`

    ## Use instead
    `customer-churn-exploration.ipynb`
    """
    if re.match(r"untitled\d*\.ipynb$", _file_name(nb), re.I):
        yield hit(f"notebook name {_file_name(nb)!r} says nothing about its content")


@rule("NB202", "copy-notebook", "warning", "notebook", "The notebook is a Jupyter copy of another")
def copy_name(nb: NotebookContext, limits):
    """## What it does
    Flags notebooks whose name carries Jupyter's `-Copy1` suffix.

    ## Why is this bad?
    Copies drift apart from their original and nobody knows which one is current.

    ## Example
    `analysis-Copy1.ipynb`

    ## Use instead
    Use version control for versions; give a real variant a real name.
    """
    if re.search(r"-copy\d*\.ipynb$", _file_name(nb), re.I):
        yield hit(f"notebook name {_file_name(nb)!r} is a copy's name")


@rule("NB203", "non-portable-filename", "info", "notebook", "The file name is not portable")
def non_portable_name(nb: NotebookContext, limits):
    """## What it does
    Flags file names with characters other than letters, digits, `.`, `_` and `-` (spaces,
    accents, shell characters) and names Windows reserves.

    ## Why is this bad?
    Such names break in shells, URLs, some file systems and command-line tools.

    ## Example
    `My Analysis (final).ipynb`

    ## Use instead
    `my-analysis-final.ipynb`
    """
    name = _file_name(nb)
    if not _PORTABLE.match(name) or _WINDOWS_RESERVED.match(name):
        yield hit(f"file name {name!r} has characters or a form that are not portable")


@rule("NB204", "missing-title", "info", "notebook", "No H1 title in the first cells", first_cells=3)
def missing_title(nb: NotebookContext, limits):
    """## What it does
    Flags notebooks without a level-1 markdown heading in their first `first_cells` cells.

    ## Why is this bad?
    The title is what readers, notebook viewers and search see first.

    ## Example
    A notebook that starts with `import pandas as pd`.

    ## Use instead
    Start with a markdown cell: `# Customer churn: first exploration`.
    """
    first = nb.cells[: limits["first_cells"]]
    if nb.cells and not any(c.cell_type == "markdown" and _has_h1(c.source) for c in first):
        yield hit(f"no H1 title in the first {limits['first_cells']} cells")


@rule("NB205", "few-markdown-cells", "info", "notebook", "Too little markdown for the code",
      min_ratio=0.25, min_code_cells=5)
def few_markdown(nb: NotebookContext, limits):
    """## What it does
    Flags notebooks with at least `min_code_cells` code cells and fewer than `min_ratio` markdown
    cells per code cell.

    ## Why is this bad?
    A notebook's value over a script is the narrative: without it readers must reverse-engineer
    the intent.

    ## Example
    Forty code cells and one markdown title.

    ## Use instead
    Explain each step in a short markdown cell.
    """
    code = len(nb.code_cells)
    markdown = sum(c.cell_type == "markdown" for c in nb.cells)
    if code >= limits["min_code_cells"] and markdown < limits["min_ratio"] * code:
        yield hit(f"{markdown} markdown cell(s) for {code} code cells (below {limits['min_ratio']} per code cell)",
                  markdown=markdown, code=code)


def _non_empty(nb: NotebookContext):
    return [c for c in nb.cells if c.source.strip()]


@rule("NB206", "no-opening-markdown", "info", "notebook", "The notebook does not open with markdown")
def no_opening_markdown(nb: NotebookContext, limits):
    """## What it does
    Flags notebooks whose first non-empty cell is not a markdown cell.

    ## Why is this bad?
    Readers should learn what the notebook does before reading its code.

    ## Example
    A notebook whose first cell is a block of imports.

    ## Use instead
    Open with a markdown cell that states the purpose and the inputs.
    """
    cells = _non_empty(nb)
    if cells and cells[0].cell_type != "markdown":
        yield hit(f"the first cell is a {cells[0].cell_type} cell", cells[0].position)


@rule("NB207", "no-closing-markdown", "info", "notebook", "The notebook does not close with markdown",
      min_cells=5)
def no_closing_markdown(nb: NotebookContext, limits):
    """## What it does
    Flags notebooks of at least `min_cells` cells whose last non-empty cell is not markdown.

    ## Why is this bad?
    Without a conclusion readers must work out themselves what the results mean.

    ## Example
    A notebook ending on a plot.

    ## Use instead
    Close with a markdown cell summarising the findings and next steps.
    """
    cells = _non_empty(nb)
    if len(cells) >= limits["min_cells"] and cells[-1].cell_type != "markdown":
        yield hit(f"the last cell is a {cells[-1].cell_type} cell", cells[-1].position)
