"""The typed notebook model that the reader produces and everything downstream consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

JSON = Any


#: Kernel languages whose code cells nbsql analyses as Python.
PYTHON_LANGUAGES = frozenset({"python", "python2", "python3", "ipython", "ipython3", "pyspark", "pyspark3"})

@dataclass(frozen=True, slots=True)
class Output:
    """One saved output of a code cell, normalised to nbformat 4 names."""

    output_type: str
    name: str | None = None  # stream name: stdout / stderr
    text: str | None = None  # stream text
    data: dict[str, JSON] = field(default_factory=dict)  # mime type -> str or JSON value
    metadata: dict[str, JSON] = field(default_factory=dict)
    execution_count: int | None = None
    ename: str | None = None
    evalue: str | None = None
    traceback: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Cell:
    """One cell; ``position`` is 0-based over all cells of the notebook."""

    position: int
    cell_type: str
    source: str
    metadata: dict[str, JSON] = field(default_factory=dict)
    execution_count: int | None = None
    cell_id: str | None = None
    attachments: dict[str, JSON] | None = None
    outputs: tuple[Output, ...] = ()

    @property
    def tags(self) -> tuple[str, ...]:
        tags = self.metadata.get("tags")
        return tuple(t for t in tags if isinstance(t, str)) if isinstance(tags, list) else ()


@dataclass(frozen=True, slots=True)
class Notebook:
    """A whole notebook as nbformat 4, with what was learnt while normalising it."""

    nbformat: int
    nbformat_minor: int | None
    orig_nbformat: int
    metadata: dict[str, JSON]
    cells: tuple[Cell, ...]
    kernel_name: str | None = None
    kernel_display_name: str | None = None
    language: str | None = None
    language_version: str | None = None
    #: What the reader had to repair or could not interpret (kept, never silently dropped).
    warnings: tuple[str, ...] = ()


class NotebookError(Exception):
    """A file that cannot be read as a notebook; ``kind`` is a short stable category."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message
