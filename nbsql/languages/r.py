"""R cells: packages loaded (``library``, ``require``, ``requireNamespace``) or used by namespace
(``pkg::f``), and functions assigned (``f <- function(``), line by line."""

from __future__ import annotations

import re

from ..code import CodeFacts, Definition, Import
from .lines import block_end, code_of, logical_lines

#: The packages every R installation has (R's base and recommended-free core).
STDLIB = frozenset({"base", "compiler", "datasets", "grDevices", "graphics", "grid", "methods", "parallel",
                    "splines", "stats", "stats4", "tcltk", "tools", "utils"})
_PACKAGE = r"[A-Za-z][A-Za-z0-9.]*"
#: ``library(dplyr)``, ``require("x")``, ``requireNamespace('x', quietly = TRUE)``; not
#: ``library(name, character.only = TRUE)``, whose package is in a variable.
_LOADING = re.compile(rf"\b(library|require|requireNamespace)\s*\(\s*(?:package\s*=\s*)?([\"']?)({_PACKAGE})\2"
                      r"(?![^()]*character\.only\s*=\s*T)")
_NAMESPACE = re.compile(rf"(?<![\w.:])({_PACKAGE}):::?([A-Za-z.][\w.]*|`[^`]+`)")
_FUNCTION = re.compile(r"^([A-Za-z.][\w.]*|`[^`]+`)\s*(?:<<?-|=)\s*function\s*\(")


def facts(source: str) -> CodeFacts:
    """What one R cell loads and defines."""
    lines = source.split("\n")
    imports: list[Import] = []
    definitions: list[Definition] = []
    for number, text in logical_lines(lines):
        code = code_of(text)
        for match in _LOADING.finditer(text):  # the package may be written as a string
            imports.append(_import(number, match.group(1), match.group(3), None))
        for match in _NAMESPACE.finditer(code):
            imports.append(_import(number, "namespace", match.group(1), match.group(2).strip("`")))
        if function := _FUNCTION.match(text):
            name = function.group(1).strip("`")
            definitions.append(Definition(kind="function", name=name, qualified_name=name, line=number,
                                          end_line=block_end(lines, number, opens=("{",), closes=("}",))
                                          if "{" in code else number,
                                          complexity=None))
    return CodeFacts(is_python=False, imports=tuple(imports), definitions=tuple(definitions))


def _import(line: int, kind: str, package: str, name: str | None) -> Import:
    return Import(line=line, kind=kind, module=package, name=name, alias=None, package=package,
                  is_stdlib=package in STDLIB, is_relative=False)
