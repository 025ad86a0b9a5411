"""The structured filters of a search, as SQL over ``cells c JOIN notebooks n``."""

from __future__ import annotations

from dataclasses import dataclass, fields

from ..errors import NbsqlError
from ..walk import is_text


def path_glob(path: str) -> str:
    """The GLOB pattern of a path filter (``--path``, the gallery's): ``path`` itself when it has a
    wildcard (``*``, ``?``, ``[``), else any path that contains it."""
    return path if any(ch in path for ch in "*?[") else f"*{path}*"


def path_clause(column: str, path: str) -> tuple[str, list[str]]:
    """SQL keeping the paths that :func:`path_glob` matches, whole or from a folder down
    (``numpy/*`` keeps ``real/x/numpy/a.ipynb``)."""
    pattern = path_glob(path)
    return f"({column} GLOB ? OR {column} GLOB ?)", [pattern, "*/" + pattern]


@dataclass(frozen=True)
class Filters:
    """What a matching cell must also be; each given filter narrows the search.

    ``imports``: its notebook imports the module (or a submodule of it); ``defines``: it defines a
    function, class or variable of that name; ``calls``: it calls the name, alone or as the end of
    a dotted call (``read_csv`` finds ``pd.read_csv(...)``); ``has_image``: it has an image output."""

    cell_type: str | None = None
    path: str | None = None
    tag: str | None = None
    language: str | None = None
    has_error: bool | None = None
    imports: str | None = None
    defines: str | None = None
    calls: str | None = None
    has_image: bool | None = None

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, str) and not is_text(value):
                raise NbsqlError(f"the {field.name.replace('_', ' ')} is not valid UTF-8")

    def __bool__(self) -> bool:
        return any(getattr(self, field.name) is not None for field in fields(self))

    def describe(self) -> str:
        """The filters given, in words (``imports pandas, with an image``), or ''."""
        words = {"cell_type": "{} cells", "path": "path {}", "tag": "tag {}", "language": "in {}",
                 "imports": "imports {}", "defines": "defines {}", "calls": "calls {}"}
        said = [words[field.name].format(getattr(self, field.name)) for field in fields(self)
                if field.name in words and getattr(self, field.name)]
        for name, yes, no in (("has_error", "with an error", "without an error"),
                              ("has_image", "with an image", "without an image")):
            if getattr(self, name) is not None:
                said.append(yes if getattr(self, name) else no)
        return ", ".join(said)

    def sql(self, names: bool) -> tuple[str, list]:
        """`` AND ...`` clauses and their parameters; ``names``: the database has ``cell_names``
        (definitions and calls by name), else definitions come from ``functions`` alone."""
        clauses: list[str] = []
        params: list = []

        def add(clause: str, *values) -> None:
            clauses.append(clause)
            params.extend(values)

        if self.cell_type:
            add("c.cell_type = ?", self.cell_type)
        if self.path:
            clause, patterns = path_clause("n.path", self.path)
            add(clause, *patterns)
        if self.tag:
            add("EXISTS (SELECT 1 FROM json_each(c.tags) WHERE value = ?)", self.tag)
        if self.language:
            add("n.language = ?", self.language.lower())
        if self.has_error is not None:
            add(("" if self.has_error else "NOT ") +
                "EXISTS (SELECT 1 FROM outputs o WHERE o.cell = c.id AND o.output_type = 'error')")
        if self.has_image is not None:
            add(("" if self.has_image else "NOT ") +
                "EXISTS (SELECT 1 FROM output_data d WHERE d.cell = c.id AND d.mime GLOB 'image/*')")
        if self.imports:
            add("EXISTS (SELECT 1 FROM imports i WHERE i.notebook = c.notebook AND i.kind NOT IN ('pip', 'conda') "
                "AND (i.module = ? OR i.module GLOB ?))", self.imports, _glob_literal(self.imports) + ".*")
        if self.defines:
            defined = "EXISTS (SELECT 1 FROM functions f WHERE f.cell = c.id AND f.name = ?)"
            if names:
                add(f"({defined} OR EXISTS (SELECT 1 FROM cell_names d WHERE d.cell = c.id AND d.kind = 'define' "
                    "AND d.name = ?))", self.defines, self.defines)
            else:
                add(defined, self.defines)
        if self.calls:
            if not names:
                raise NbsqlError("this database has no record of calls: reload it with this version of nbsql "
                                 "('nbsql load PATH --full')")
            add("EXISTS (SELECT 1 FROM cell_names k WHERE k.cell = c.id AND k.kind = 'call' AND (k.name = ? OR "
                "k.name GLOB ?))", self.calls, "*." + _glob_literal(self.calls))
        return "".join(f" AND {clause}" for clause in clauses), params


def _glob_literal(text: str) -> str:
    """``text`` matched literally in a GLOB pattern."""
    return "".join(f"[{ch}]" if ch in "*?[" else ch for ch in text)
