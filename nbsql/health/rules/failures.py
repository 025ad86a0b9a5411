"""The rule the runners report when one of nbsql's own rules fails (it checks nothing itself)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import rule

if TYPE_CHECKING:
    from ..context import NotebookContext


@rule("NB000", "check-failed", "error", "notebook", "A rule failed on this notebook")
def check_failed(nb: NotebookContext, limits):
    """## What it does
    Reports that one of nbsql's own rules raised an exception on this notebook. It is never
    produced by a check; the runner records it so the failure is visible instead of silent.

    ## Why is this bad?
    The notebook was not fully checked: other problems may be missing from the report.

    ## Example
    `rule NB110 failed: RecursionError`.

    ## Use instead
    Report the notebook to nbsql's issue tracker; ignore NB000 meanwhile if it blocks CI.
    """
    return ()
