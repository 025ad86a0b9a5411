"""Julia cells: ``using``/``import`` statements and function definitions, line by line."""

from __future__ import annotations

import re
from dataclasses import replace

from ..code import CodeFacts, Definition, Import
from .lines import block_end, logical_lines

#: Julia's own modules and its standard library (loaded without installing anything).
STDLIB = frozenset({
    "Base", "Core", "Main", "ArgTools", "Artifacts", "Base64", "CRC32c", "Dates", "DelimitedFiles", "Distributed",
    "Downloads", "FileWatching", "Future", "InteractiveUtils", "LazyArtifacts", "LibCURL", "LibGit2", "Libdl",
    "LinearAlgebra", "Logging", "Markdown", "Mmap", "NetworkOptions", "Pkg", "Printf", "Profile", "REPL", "Random",
    "SHA", "Serialization", "SharedArrays", "Sockets", "SparseArrays", "Statistics", "SuiteSparse", "TOML", "Tar",
    "Test", "UUIDs", "Unicode",
})
_NAME = r"[A-Za-z_][\w!]*"
_MODULE = rf"\.*{_NAME}(?:\.{_NAME})*"  # leading dots: a module relative to the current one
_LOADING = re.compile(r"^(?:@everywhere\s+)?(using|import)\s+(.+)$")
_FUNCTION = re.compile(rf"^function\s+((?:{_NAME}\.)*)({_NAME})\s*(?:\{{[^}}]*\}}\s*)?\(")
#: ``f(x) = ...``, ``Base.show(io, x) = ...``, ``f(x::T) where T = ...`` (not ``==``).
_SHORT = re.compile(rf"^((?:{_NAME}\.)*)({_NAME})\s*(?:\{{[^}}]*\}}\s*)?\((?:[^()]|\([^()]*\))*\)"
                    r"(?:\s*::\s*[\w.{}, ]+)?(?:\s*where\s*[^=]+)?\s*=(?!=)")
#: Words that open a block closed by ``end``.
_OPENERS = ("function", "if", "for", "while", "begin", "let", "do", "try", "struct", "module", "quote", "macro")


def facts(source: str) -> CodeFacts:
    """What one Julia cell loads and defines."""
    lines = source.split("\n")
    imports: list[Import] = []
    definitions: list[Definition] = []
    for number, text in logical_lines(lines):
        for statement in (part.strip() for part in text.split(";")):
            if match := _LOADING.match(statement):
                imports.extend(_loaded(number, match.group(1), match.group(2)))
            elif match := _FUNCTION.match(statement):
                end = block_end(lines, number, opens=_OPENERS, closes=("end",))
                definitions.append(_definition(match, number, end))
            elif match := _SHORT.match(statement):
                definitions.append(_definition(match, number, number))
    return CodeFacts(is_python=False, imports=tuple(imports), definitions=tuple(definitions))


def _loaded(line: int, kind: str, rest: str) -> list[Import]:
    """``using A, B.C`` or ``using A: f, g`` (``import`` alike; ``import A as B``)."""
    modules, _, names = rest.partition(":")
    found = []
    for written in (part.strip() for part in modules.split(",")):
        module, _, alias = (piece.strip() for piece in written.partition(" as "))
        if not re.fullmatch(_MODULE, module):
            continue
        relative = module.startswith(".")
        package = None if relative else module.split(".")[0]
        whole = Import(line=line, kind=kind, module=module, name=None, alias=alias or None, package=package,
                       is_stdlib=package in STDLIB, is_relative=relative)
        entries = [(name.strip(), as_name.strip())
                   for name, _, as_name in (entry.partition(" as ") for entry in names.split(","))]
        found.extend([replace(whole, name=name, alias=as_name or None) for name, as_name in entries
                      if re.fullmatch(_NAME, name)] or [whole])
    return found


def _definition(match: re.Match[str], line: int, end: int | None) -> Definition:
    owner, name = match.group(1), match.group(2)
    return Definition(kind="function", name=name, qualified_name=owner + name, line=line, end_line=end,
                      complexity=None)
