"""Static facts about one Python code cell: metrics, imports and definitions.

Each cell is parsed once; radon's visitors run on that AST. IPython magics and shell
lines are masked (replaced in place, so line numbers hold) rather than dropping the cell.
"""

from __future__ import annotations

import ast
import itertools
import math
import re
import shlex
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import cache

from radon.metrics import mi_compute
from radon.visitors import ComplexityVisitor

from ._compat.radon import complexity_visitor
from .deps.names import CellNames, cell_names
from .text import comment_start, without_comment

#: Cell magics whose body is still Python.
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug", "memit", "mprun", "snakeviz",
                                "tensorflow_version", "skip", "cache"})
#: IPython's line magics (its shell aliases among them: ls, cat, mkdir...) and those of common extensions,
#: which an IPython kernel runs without their '%' (automagic) when no variable has the name.
LINE_MAGICS = frozenset({
    "alias", "alias_magic", "autoawait", "autocall", "automagic", "autosave", "bookmark", "cat", "cd", "clear",
    "colors", "conda", "config", "cp", "debug", "dhist", "dirs", "doctest_mode", "ed", "edit", "env", "gui", "hist",
    "history", "killbgscripts", "ldir", "less", "lf", "lk", "ll", "load", "load_ext", "loadpy", "logoff", "logon",
    "logstart", "logstate", "logstop", "ls", "lsmagic", "lx", "macro", "magic", "mamba", "man", "matplotlib",
    "micromamba", "mkdir", "more", "mv", "notebook", "page", "pastebin", "pdb", "pdef", "pdoc", "pfile", "pinfo",
    "pinfo2", "pip", "popd", "pprint", "precision", "prun", "psearch", "psource", "pushd", "pwd", "pycat", "pylab",
    "qtconsole", "quickref", "recall", "rehashx", "reload_ext", "rep", "rerun", "reset", "reset_selective", "rm",
    "rmdir", "run", "save", "sc", "set_env", "store", "sx", "system", "tb", "time", "timeit", "unalias",
    "unload_ext", "who", "who_ls", "whos", "xdel", "xmode",
    # extensions: autoreload, watermark, memory_profiler, line_profiler, tensorboard, ipython-sql, Colab
    "autoreload", "aimport", "watermark", "memit", "mprun", "lprun", "tensorboard", "sql", "tensorflow_version",
})
#: A line that is an IPython magic typed without its '%' (or a shell command IPython runs as one),
#: unless what follows the name makes it Python (an assignment, a call, an attribute, an operator;
#: a '-' only before a letter or a dash, as options are written: ``watermark -iv``, ``ls -la``).
_AUTOMAGIC = re.compile(
    rf"^([ \t]*)(?:{'|'.join(sorted(LINE_MAGICS))})"
    r"[ \t]+(?![=(\[,:;+*/%<>!&|^@]|-(?![A-Za-z-])|\.(?!\.)|(?:in|is|and|or|not|if|else|for)\b)\S[^\n]*$", re.M)
#: A line magic timing a Python statement: %time, %timeit and %prun, options first.
_TIMED = re.compile(r"%(?:time|timeit|prun)\s+(?:-[a-zA-Z]+(?:\s*\d+)?\s+)*([^-\s].*)$")
_MAGIC_ASSIGN = re.compile(r"^(\s*)([A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_][\w.]*)*)\s*=\s*[!%](?!=)")
_INSTALL = re.compile(
    r"^\s*([!%]\s*)?(?:\{[^}]*\}\s*-m\s+|python3?\s+-m\s+|uv\s+)?(pip3?|conda|mamba|micromamba)\s+install\b(.*)$")
_REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")
_OPTIONS_WITH_VALUE = {"-r", "--requirement", "-c", "--constraint", "-i", "--index-url", "--extra-index-url",
                       "-f", "--find-links", "-e", "--editable", "-t", "--target", "--prefix", "-n", "--name",
                       "-p", "--channel", "--trusted-host", "--python-version", "--platform", "--root",
                       "--upgrade-strategy", "--progress-bar", "--timeout", "--retries", "--cache-dir", "--src",
                       "--log", "--proxy", "--python", "--implementation", "--abi", "--only-binary", "--no-binary",
                       "--global-option", "--config-settings", "-C", "--report", "--root-user-action",
                       "--use-feature", "--use-deprecated", "--exists-action", "--keyring-provider", "--cert",
                       "--client-cert", "--file", "--solver", "--repodata-fn"}
_SHELL_PUNCTUATION = frozenset("();<>|&")
_FILE_DESCRIPTOR = re.compile(r"(?<=\s)\d+(?=[<>])")
VCS_PREFIXES = ("git+", "hg+", "svn+", "bzr+")
STDLIB = frozenset(sys.stdlib_module_names) | {"__future__"}


@dataclass(frozen=True, slots=True)
class Import:
    line: int  # 1-based line in the cell
    kind: str  # import | from | pip | conda
    module: str | None  # module imported from, or the distribution installed
    name: str | None  # name imported by ``from``; '*' for a star import
    alias: str | None
    package: str | None  # top-level package or distribution name
    is_stdlib: bool
    is_relative: bool
    spec: str | None = None  # the requirement as written, for installs
    top_level: bool = True  # False inside a function body


@dataclass(frozen=True, slots=True)
class Definition:
    kind: str  # function | method | class
    name: str
    qualified_name: str
    line: int
    end_line: int | None  # None where the end was not found (another language's block)
    complexity: int | None  # radon's, for Python; None for other languages


@dataclass(frozen=True, slots=True)
class CodeFacts:
    """What static analysis learnt of one code cell (metrics are None when it did not parse)."""

    is_python: bool
    parse_error: str | None = None
    sloc: int | None = None
    lloc: int | None = None
    comments: int | None = None
    complexity: int | None = None
    max_complexity: int | None = None
    maintainability: float | None = None
    halstead_volume: float | None = None
    imports: tuple[Import, ...] = ()
    definitions: tuple[Definition, ...] = ()
    string_lines: frozenset[int] = frozenset()  # lines inside multi-line strings, after their first
    #: the text of a cell Python 3 rejects (magics masked), for :attr:`python2` to parse as Python 2 if asked
    rejected: str | None = field(default=None, compare=False, repr=False)
    tree: ast.Module | None = field(default=None, compare=False, repr=False)  # the parse, for name checks
    #: what the cell defines, modifies, uses and calls (None: it did not parse, or is nested too deeply to walk)
    names: CellNames | None = field(default=None, compare=False, repr=False)

    @property
    def parsed(self) -> bool:
        """Whether the cell parsed as Python 3 (its :attr:`tree` may have been let go since)."""
        return self.is_python and self.parse_error is None

    @property
    def python2(self) -> bool:
        """Whether the cell does not parse as Python 3 but does as Python 2, with syntax only Python 2
        has: parsed when first asked (a Python 2 grammar's parser is slow), once per text."""
        from .pyversion import only_python2

        return self.rejected is not None and only_python2(self.rejected)


def mask_ipython(source: str) -> str | None:
    """Replace magic, shell and help lines by Python with the same line count.

    Returns None when a cell magic makes the whole cell another language (``%%bash``...).
    """
    if "%" not in source and "!" not in source and "?" not in source:
        return source  # nothing to mask
    lines = source.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        magic = lines[first].lstrip()[2:].split()
        if not magic or magic[0] not in PYTHON_CELL_MAGICS:
            return None
        output = next((word for word in magic[1:] if not word.startswith("-")), None) \
            if magic[0] == "capture" else None  # %%capture NAME binds NAME
        lines[first] = f"{output} = None" if output and output.isidentifier() else ""
    continued = False
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        timed = _TIMED.match(stripped) if stripped[:1] == "%" and not stripped.endswith("\\") else None
        if continued:
            lines[i] = ""
        elif timed:  # %time x = f(): the statement is Python
            lines[i] = indent + timed.group(1)
        elif stripped.startswith(("%", "!", "?")) or ("?" in stripped and without_comment(stripped).endswith("?")):
            lines[i] = indent + "pass"
        else:
            assign = _MAGIC_ASSIGN.match(line)
            if not assign:
                continue
            lines[i] = f"{assign.group(1)}{assign.group(2)} = None"
        continued = stripped.endswith("\\")
    return "\n".join(lines)


def _parse_masked(source: str, masked: str) -> tuple[ast.Module, bool]:
    """The parse of the masked source; of the source itself when that is already Python (a line
    that only looks like IPython, such as a continuation line starting with '!=' or '%'); and,
    when neither parses, with magics typed without their '%' (automagic: ``pip install x``,
    ``cd data``, ``timeit f()``) masked too. The flag says whether the source parsed as saved."""
    if masked is not source:
        try:
            return parse_quietly(source), True
        except (SyntaxError, ValueError):
            pass
    try:
        return parse_quietly(masked), masked is source
    except SyntaxError:
        automagic = _AUTOMAGIC.sub(r"\1pass", masked)
        if automagic == masked:
            raise
    return parse_quietly(automagic), False


def parse_cell(source: str) -> ast.Module:
    """The syntax tree :func:`analyze` makes of a cell that parses (see :attr:`CodeFacts.parsed`)."""
    masked = mask_ipython(source)
    if masked is None:
        raise ValueError("a cell magic makes this cell another language")
    return _parse_masked(source, masked)[0]


def parse_quietly(source: str) -> ast.Module:
    """``ast.parse`` without warnings: invalid escapes and the like are the notebook's business."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(source)


def analyze(source: str) -> CodeFacts:
    """Metrics, imports, definitions and names of one Python cell, from a single parse that is kept."""
    masked = mask_ipython(source)
    if masked is None:
        return CodeFacts(is_python=False, imports=tuple(_installs(source)))
    try:
        tree, as_saved = _parse_masked(source, masked)
        installs = tuple(_installs(source, automagic=not as_saved))
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        installs = tuple(_installs(source, automagic=True))
        line = getattr(exc, "lineno", None)
        message = getattr(exc, "msg", None) or str(exc) or f"too large or too deeply nested to parse " \
            f"({type(exc).__name__})"  # MemoryError and RecursionError may come without a message
        return CodeFacts(is_python=True, parse_error=f"line {line}: {message}" if line else message,
                         imports=tuple(_imports_line_by_line(masked)) + installs,
                         rejected=_AUTOMAGIC.sub(r"\1pass", masked))
    scan = _Scan()
    try:
        branching = scan.visit_module(tree)
        # statements without a scored node add nothing to radon's results: it reads only the others
        complexity = complexity_visitor(ast.Module(body=branching, type_ignores=[])) if branching else None
    except RecursionError:
        return CodeFacts(is_python=True, parse_error="nested too deeply to analyse", imports=installs)
    imports = scan.imports
    sloc, comments = _raw_counts(masked, scan.string_lines)
    volume = scan.halstead_volume()
    definitions = tuple(_definitions(complexity)) if complexity else ()
    total = complexity.total_complexity if complexity else 1
    max_complexity = max([complexity.complexity if complexity else 1] + [d.complexity for d in definitions])
    comment_share = comments * 100 / sloc if sloc else 0
    imports.sort(key=lambda i: i.line)
    return CodeFacts(
        is_python=True,
        sloc=sloc,
        lloc=scan.statements,
        comments=comments,
        complexity=total,
        max_complexity=max_complexity,
        maintainability=round(mi_compute(volume, total, scan.statements, comment_share), 2),
        halstead_volume=round(volume, 2),
        imports=tuple(imports) + installs,
        definitions=definitions,
        string_lines=frozenset(scan.string_lines),
        tree=tree,
        names=_names(tree),
    )


def _names(tree: ast.Module) -> CellNames | None:
    try:
        return cell_names(tree)
    except RecursionError:  # a tree nested too deeply to walk: left out, as one that does not parse
        return None


_OPERAND_FIELD = {"Name": "id", "Attribute": "attr", "Constant": "value"}
#: Nodes that radon's ComplexityVisitor scores; a tree without them has complexity 1.
_BRANCHING = frozenset({"Try", "TryStar", "BoolOp", "If", "IfExp", "Match", "For", "AsyncFor", "While",
                        "comprehension", "Assert", "FunctionDef", "AsyncFunctionDef", "ClassDef"})


#: Statements and expressions :meth:`_Scan.visit` reads more of than their children.
_READ_STATEMENTS = frozenset({"FunctionDef", "AsyncFunctionDef", "Import", "ImportFrom", "AugAssign"})
_OPERATIONS = frozenset({"BinOp", "UnaryOp", "BoolOp", "Compare"})


@cache
def child_fields(node_type: type[ast.AST]) -> tuple[str, ...]:
    """The fields of ``node_type`` that may hold nodes worth visiting: all but the context and
    operator leaves, which the parent node's handling reads directly."""
    return tuple(f for f in node_type._fields if f not in ("ctx", "op", "ops"))


class _Scan:
    """One pass over a cell's AST: statements, imports, multi-line strings and Halstead counts.

    The Halstead tallies follow radon's ``HalsteadVisitor`` exactly (operands are told apart per
    enclosing function); doing it here spares a second full traversal of every tree.
    """

    __slots__ = ("statements", "imports", "string_lines", "operators", "operands", "operators_seen",
                 "operands_seen", "branches")

    def __init__(self) -> None:
        self.statements = 0
        self.imports: list[Import] = []
        self.string_lines: set[int] = set()
        self.operators = self.operands = 0
        self.operators_seen: set[str] = set()
        self.operands_seen: set = set()
        self.branches = False  # whether radon's complexity visitor has anything to score

    def visit_module(self, tree: ast.Module) -> list[ast.stmt]:
        """Visit every statement; return the top-level ones holding a node radon's complexity scores."""
        branching = []
        for statement in tree.body:
            self.branches = False
            self.visit(statement, None)
            if self.branches:
                branching.append(statement)
        return branching

    def visit(self, node: ast.AST, context: str | None) -> None:
        # a plain ``type``: mypy takes no ``type[X]`` for Hashable, as child_fields's cache asks (python/mypy#11470)
        kind: type = type(node)
        name = kind.__name__
        if name in _BRANCHING:
            self.branches = True
        # the names sort out the few nodes read here, the cheapest test for the many others; the
        # isinstance tests, on those few only, tell their types to mypy
        if isinstance(node, ast.stmt):
            self.statements += 1
            if name in _READ_STATEMENTS:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    # radon counts a function's body in the function's context and skips its
                    # decorators, arguments and annotations
                    for child in node.body:
                        self.visit(child, node.name)
                    return
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    self.imports.extend(_imports_of(node, top_level=context is None))
                elif isinstance(node, ast.AugAssign):
                    self._tally(context, (type(node.op).__name__,), 2, (node.target, node.value))
        elif name in _OPERATIONS:
            if isinstance(node, ast.BinOp):
                self._tally(context, (type(node.op).__name__,), 2, (node.left, node.right))
            elif isinstance(node, ast.UnaryOp):
                self._tally(context, (type(node.op).__name__,), 1, (node.operand,))
            elif isinstance(node, ast.BoolOp):
                self._tally(context, (type(node.op).__name__,), len(node.values), node.values)
            elif isinstance(node, ast.Compare):
                self._tally(context, [type(op).__name__ for op in node.ops], len(node.comparators) + 1,
                            node.comparators + [node.left])
        for attribute in child_fields(kind):
            value = getattr(node, attribute, None)
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, ast.AST):
                        self._visit_child(item, context)
            elif isinstance(value, ast.AST):
                self._visit_child(value, context)

    def _visit_child(self, node: ast.AST, context: str | None) -> None:
        """Visit ``node``, handling the commonest leaves (names, constants) without a call of :meth:`visit`."""
        if type(node) is ast.Name:
            return
        if type(node) is ast.Constant:  # the form of test mypy narrows ``node`` by
            if isinstance(node.value, str):
                end = node.end_lineno  # None only in a tree not from ast.parse
                if end != node.lineno and end is not None:
                    self.string_lines.update(range(node.lineno + 1, end + 1))
            return
        self.visit(node, context)

    def _tally(self, context: str | None, operators, operand_count: int, operands) -> None:
        self.operators += len(operators)
        self.operands += operand_count
        self.operators_seen.update(operators)
        for operand in operands:
            attribute = _OPERAND_FIELD.get(type(operand).__name__)
            self.operands_seen.add((context, getattr(operand, attribute) if attribute else operand))

    def halstead_volume(self) -> float:
        """radon's Halstead volume: (N1 + N2) * log2(h1 + h2)."""
        vocabulary = len(self.operators_seen) + len(self.operands_seen)
        return (self.operators + self.operands) * math.log2(vocabulary) if vocabulary else 0.0


def _raw_counts(source: str, string_lines: set[int]) -> tuple[int, int]:
    """Source lines (not blank, not only a comment) and lines carrying a comment."""
    sloc = comments = 0
    for number, line in enumerate(source.split("\n"), 1):
        stripped = line.strip()
        if not stripped or number in string_lines:
            sloc += bool(stripped)
            continue
        if stripped.startswith("#"):
            comments += 1
            continue
        sloc += 1
        if comment_start(stripped) is not None:
            comments += 1
    return sloc, comments


def _imports_of(node: ast.Import | ast.ImportFrom, top_level: bool = True) -> list[Import]:
    if isinstance(node, ast.Import):
        return [Import(line=node.lineno, kind="import", module=a.name, name=None, alias=a.asname,
                       package=a.name.split(".")[0], is_stdlib=a.name.split(".")[0] in STDLIB, is_relative=False,
                       top_level=top_level)
                for a in node.names]
    relative = bool(node.level)
    module = "." * node.level + (node.module or "") if relative else node.module
    package = None if relative or not node.module else node.module.split(".")[0]
    return [Import(line=node.lineno, kind="from", module=module, name=a.name, alias=a.asname, package=package,
                   is_stdlib=package in STDLIB, is_relative=relative, top_level=top_level)
            for a in node.names]


def _imports_line_by_line(source: str) -> list[Import]:
    """Imports of a cell that does not parse as a whole, statement by statement."""
    found: list[Import] = []
    lines = source.split("\n")
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped.startswith(("import ", "from ")):
            continue
        for end in range(number, min(number + 20, len(lines)) + 1):
            try:
                tree = parse_quietly("\n".join(text.strip() for text in lines[number - 1:end]))
            except (SyntaxError, ValueError):
                continue
            indented = line[:1].isspace()  # inside a block: a function's, maybe (NB105 reads top-level ones)
            for node in tree.body:
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    found.extend(_relocated(i, number) for i in _imports_of(node, top_level=not indented))
            break
    return found


def _relocated(item: Import, line: int) -> Import:
    return replace(item, line=line)


def _installs(source: str, automagic: bool = False):
    """``%pip install`` / ``!pip install`` / ``!conda install`` requirements as Import rows; with
    ``automagic`` (the cell is not Python as saved), ``pip install`` without its '%' too."""
    if "install" not in source:
        return
    for number, line in _logical_lines(source):
        match = _INSTALL.match(line)
        if not match or not (match.group(1) or automagic):
            continue
        tool = "conda" if match.group(2) in ("conda", "mamba", "micromamba") else "pip"
        words = _command_words(match.group(3))
        index = 0
        while index < len(words):
            word = words[index]
            index += 1
            if word in _OPTIONS_WITH_VALUE:
                index += 1  # and its value
                continue
            if word.startswith(("-", "$", "{")):
                continue
            spec = word
            if word.startswith(VCS_PREFIXES):  # git+https://host/owner/name.git[@ref][#egg=name]
                distribution = (word.split("#egg=")[1] if "#egg=" in word else
                                word.split("#")[0].rstrip("/").rsplit("/", 1)[-1].split("@")[0].removesuffix(".git"))
            else:
                name = _REQUIREMENT.match(word)
                if name is None or "/" in word or word.endswith((".whl", ".txt")):
                    continue
                distribution = name.group(1).rstrip(".-_")
                if words[index:index + 1] == ["@"]:  # PEP 508 direct reference: name @ url
                    spec = " ".join(words[index - 1:index + 2])
                    index += 2
            yield Import(line=number, kind=tool, module=distribution, name=None, alias=None,
                         package=re.sub(r"[-_.]+", "-", distribution).lower(), is_stdlib=False,
                         is_relative=False, spec=spec)


def _command_words(text: str) -> list[str]:
    """The words of a shell command up to its first operator (``&& echo done``, ``| tail``, ``> log``)."""
    text = _FILE_DESCRIPTOR.sub(" ", text.split(" #")[0])  # 2>&1, 2> errors.log
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.whitespace_split, lexer.commenters = True, ""  # comments are cut above ('#egg=' is not one)
    try:
        return list(itertools.takewhile(lambda word: not set(word) <= _SHELL_PUNCTUATION, lexer))
    except ValueError:  # an unclosed quote
        return text.split()


def _logical_lines(source: str) -> Iterator[tuple[int, str]]:
    """(first line number, text) of each line, with backslash continuations joined."""
    pending, start = "", 1
    for number, line in enumerate(source.split("\n"), 1):
        if not pending:
            start = number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        yield start, pending + line
        pending = ""
    if pending:
        yield start, pending


def _definitions(visitor: ComplexityVisitor):
    for f in visitor.functions:
        yield from _function(f, "function", "")
    stack = [(c, "") for c in visitor.classes]
    while stack:
        cls, prefix = stack.pop(0)
        qualified = f"{prefix}{cls.name}"
        yield Definition("class", cls.name, qualified, cls.lineno, cls.endline, cls.complexity)
        for method in cls.methods:
            yield from _function(method, "method", qualified + ".")
        stack.extend((inner, qualified + ".") for inner in cls.inner_classes)


def _function(f, kind: str, prefix: str):
    """A function's definition and its closures' (a module-level function: a recursive closure
    would be a reference cycle)."""
    qualified = f"{prefix}{f.name}"
    yield Definition(kind, f.name, qualified, f.lineno, f.endline, f.complexity)
    for inner in f.closures:
        yield from _function(inner, "function", qualified + ".")
