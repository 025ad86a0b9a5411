"""Run the notebook and cell rules over one notebook (pure; runs in the loader's workers)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..code import CodeFacts
from ..model import Notebook
from .config import Settings
from .context import NotebookContext
from .registry import Finding, hit, ordered
from .suppress import cell_suppressions, notebook_suppressions, unsuppressed


def prepare_checks() -> None:
    """Build what the rules need once (secret detectors, schema validators), e.g. before forking."""
    from .secrets import prepare as prepare_secrets
    from .validate import prepare as prepare_validators

    prepare_secrets()
    prepare_validators()


def check_notebook(notebook: Notebook, facts: dict[int, CodeFacts], settings: Settings, *, path: str = "",
                   size: int = 0, raw: Any = None, python: bool = True) -> list[Finding]:
    """Findings of every notebook- and cell-scope rule, suppressions applied."""
    context = NotebookContext(notebook, facts, path=path, size=size, raw=raw, python=python)
    found: list[Finding] = []
    for item in ordered():
        if item.scope == "corpus" or item.code == "NB000" or (item.python_only and not python):
            continue
        try:
            found.extend(replace(f, code=item.code) for f in item.check(context, settings.limits(item.code)))
        except Exception as exc:  # a bug in one rule must not lose the notebook or the other rules
            found.append(replace(hit(f"rule {item.code} failed: {type(exc).__name__}: {exc}"[:300]), code="NB000"))
    kept = unsuppressed(((None, f) for f in found), lambda _: notebook_suppressions(notebook.metadata),
                        lambda _, position: cell_suppressions(notebook.cells[position].tags,
                                                              notebook.cells[position].source))
    return [finding for _, finding in kept]
