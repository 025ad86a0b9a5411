"""Code rules: syntax, names (pyflakes), imports, installs, paths, secrets, seeds, size and duplication."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from typing import TYPE_CHECKING

from ...text import normalised_source, strip_ansi, without_comment
from ..secrets import find_secrets_in
from .base import hit, rule

if TYPE_CHECKING:
    from ...code import Import
    from ..context import NameProblem, NotebookContext

#: A drive letter then "/", "\\\\" or a single backslash before a capital or digit ("C:\\Users"); a single
#: backslash before a lower-case letter is more likely an escape ("n:\\t").
_ABSOLUTE_PATH = re.compile(
    r"""(["'])((?:/home/|/Users/|/root/|/mnt/[a-z]/|[A-Za-z]:(?:/|\\\\|\\(?=[A-Z0-9]))\w)[^"'\n]*)\1""")
_EXACT_PIP = re.compile(r"===?\s*[\w.!+]+$")
_EXACT_CONDA = re.compile(r"(?<![<>!~=])=?=\s*[\w.!+]+$")


def _python_cells(nb: NotebookContext):
    for cell in nb.code_cells:
        facts = nb.facts.get(cell.position)
        if facts is not None and facts.is_python:
            yield cell, facts


@rule("NB101", "syntax-error", "error", "cell", "A code cell is not valid Python", python_only=True)
def syntax_error(nb: NotebookContext, limits):
    """## What it does
    Flags Python code cells that do not parse (after IPython magics and shell lines are masked).
    In a Python 2 notebook (NB308), cells that are valid Python 2 are not reported; in a Python 3
    notebook, the message says when the cell is Python 2 code.

    ## Why is this bad?
    The cell cannot run; often it is Python 2 code or an unfinished edit.

    ## Example
    ```python
    print "hello"
    ```

    ## Use instead
    ```python
    print("hello")
    ```
    """
    python2 = nb.python_major == 2
    for cell, facts in _python_cells(nb):
        if facts.parse_error and not (python2 and facts.python2):
            line = re.match(r"line (\d+)", facts.parse_error)
            hint = " (the cell is Python 2 code)" if facts.python2 else ""
            yield hit(f"syntax error: {facts.parse_error}{hint}", cell.position, int(line.group(1)) if line else None)


def _names(nb: NotebookContext, kinds: tuple[str, ...]):
    return [p for p in nb.name_problems if p.kind in kinds]


@rule("NB102", "undefined-name", "error", "cell", "A name is used but never defined in the notebook",
      python_only=True)
def undefined_name(nb: NotebookContext, limits):
    """## What it does
    Flags names that no cell defines or imports, reading the Python cells top to bottom as one
    module (pyflakes), once per name, where it is first used. `__file__` counts as undefined: a
    script has it, a notebook does not. A line an IPython kernel runs as a line magic typed without
    its `%` (automagic: `ls`, `pwd`, `watermark -iv`, when no variable has the magic's name) uses
    no names.

    ## Why is this bad?
    The notebook relies on a variable that existed only in the kernel (hidden state) or on a cell
    that was deleted: run from the top it fails with a `NameError`. Code copied from a script that
    locates files with `__file__` fails the same way.

    ## Example
    ```python
    df.describe()      # df was created in a cell that no longer exists
    ```

    ## Use instead
    ```python
    df = pd.read_csv("data.csv")
    df.describe()
    ```
    """
    uses: dict[str | None, list[NameProblem]] = {}  # one finding per name: defining it once fixes every use
    for problem in _names(nb, ("UndefinedName", "UndefinedLocal", "UndefinedExport")):
        uses.setdefault(problem.name if problem.kind == "UndefinedName" else f"{problem.position}:{problem.line}",
                        []).append(problem)
    for found in uses.values():
        first = found[0]
        hint = " (a notebook has no __file__; use a path relative to the working folder)" \
            if first.name == "__file__" else ""
        more = f" (and {len(found) - 1} more use(s), in cell(s) {_cells(found[1:])})" if len(found) > 1 else ""
        yield hit(first.message + hint + more, first.position, first.line, name=first.name, uses=len(found))


def _cells(problems: list[NameProblem]) -> str:
    return ", ".join(str(p) for p in sorted({problem.position for problem in problems}))


@rule("NB103", "unused-import", "warning", "cell", "An import is never used", python_only=True)
def unused_import(nb: NotebookContext, limits):
    """## What it does
    Flags imports that no cell of the notebook uses (pyflakes, across cells), once per import
    statement: `from os import path, sep`, both unused, is one finding.

    ## Why is this bad?
    Unused imports slow the notebook down, hide what it really depends on and add dependencies
    to install.

    ## Example
    ```python
    import seaborn as sns   # never used
    ```

    ## Use instead
    Remove the import.
    """
    statements: dict[tuple[int, int], list[NameProblem]] = {}
    for problem in _names(nb, ("UnusedImport",)):
        statements.setdefault((problem.position, problem.line), []).append(problem)
    for (position, line), found in statements.items():
        names = [p.name for p in found]
        message = found[0].message if len(found) == 1 else \
            f"{', '.join(repr(name) for name in names)} imported but unused"
        yield hit(message, position, line, name=names[0], names=names)


@rule("NB104", "redefined-import", "warning", "cell", "An import is redefined before it is used",
      python_only=True)
def redefined_import(nb: NotebookContext, limits):
    """## What it does
    Flags imports that are imported again or overwritten before anything uses them (pyflakes).

    ## Why is this bad?
    The first import is dead code and the reader cannot tell which object the name refers to.

    ## Example
    ```python
    from math import log
    from numpy import log
    ```

    ## Use instead
    ```python
    import math
    import numpy as np
    ```
    """
    for problem in _names(nb, ("RedefinedWhileUnused", "ImportShadowedByLoopVar")):
        if problem.redefines_import:  # a function or class defined again is another matter
            yield hit(problem.message, problem.position, problem.line, name=problem.name)


@rule("NB105", "late-import", "info", "cell", "An import outside the first code cells", python_only=True,
      first_cells=2)
def late_import(nb: NotebookContext, limits):
    """## What it does
    Flags top-level imports in code cells after the first `first_cells` non-empty code cells,
    once per import statement (`from sklearn.svm import SVC, LinearSVC` is one finding).

    ## Why is this bad?
    Imports scattered through a notebook hide its dependencies; a reader who runs only the top
    cells gets `NameError`s later.

    ## Example
    An `import seaborn` in the twentieth cell.

    ## Use instead
    Gather imports in the first code cells.
    """
    early = {c.position for c in nb.non_empty_code_cells[: limits["first_cells"]]}
    for cell, facts in _python_cells(nb):
        if cell.position in early:
            continue
        for line, items in _by_line(i for i in facts.imports if i.kind in ("import", "from") and i.top_level):
            yield hit(f"import of {_imported(items)} outside the first {limits['first_cells']} code cells",
                      cell.position, line, module=items[0].module, modules=sorted({i.module for i in items}))


def _by_line(imports: Iterable[Import]) -> list[tuple[int, list[Import]]]:
    """Imports grouped by line, in order: the names of one statement (or of one line) together."""
    lines: dict[int, list[Import]] = {}
    for item in imports:
        lines.setdefault(item.line, []).append(item)
    return sorted(lines.items())


def _imported(items: list[Import]) -> str:
    """What the import statements of one line bring in: 'os, sys', 'SVC, LinearSVC from sklearn.svm'."""
    modules = [i.module or "" for i in items if i.kind == "import"]
    names: dict[str, list[str]] = {}
    for item in items:
        if item.kind == "from":
            names.setdefault(item.module or "", []).append(item.name or "")
    parts = ([", ".join(modules)] if modules else []) + [f"{', '.join(n)} from {m}" for m, n in names.items()]
    return "; ".join(parts)


@rule("NB106", "star-import", "warning", "cell", "A star import", python_only=True)
def star_import(nb: NotebookContext, limits):
    """## What it does
    Flags `from module import *`.

    ## Why is this bad?
    Readers (and linters) cannot tell where names come from, and later imports silently shadow
    earlier ones.

    ## Example
    ```python
    from pylab import *
    ```

    ## Use instead
    ```python
    import matplotlib.pyplot as plt
    import numpy as np
    ```
    """
    for cell, facts in _python_cells(nb):
        for item in facts.imports:
            if item.name == "*":
                yield hit(f"star import from {item.module}", cell.position, item.line, module=item.module)


@rule("NB107", "unpinned-install", "warning", "cell", "A package installed from a cell without a version",
      python_only=True)
def unpinned_install(nb: NotebookContext, limits):
    """## What it does
    Flags `%pip install`, `!pip install` and `!conda install` of packages without an exact version,
    once per install command (`!pip install pandas seaborn` is one finding naming both).

    ## Why is this bad?
    Each run installs whatever version is newest that day, so the notebook's results change
    (or it breaks) without any edit.

    ## Example
    ```python
    %pip install pandas
    ```

    ## Use instead
    ```python
    %pip install pandas==2.2.2
    ```
    Better still, declare dependencies in a requirements file next to the notebook.
    """
    for cell, facts in _python_cells(nb):
        for line, items in _by_line(i for i in facts.imports if i.kind in ("pip", "conda") and not _pinned(i)):
            versions = "a pinned version" if len(items) == 1 else "pinned versions"
            yield hit(f"{items[0].kind} install of {', '.join(i.spec or '' for i in items)} without {versions}",
                      cell.position, line, package=items[0].package, packages=[i.package for i in items])


def _pinned(install: Import) -> bool:
    """An exact version, a direct reference (name @ url), or a repository at a given ref (git+...@v1.2)."""
    from ...code import VCS_PREFIXES

    spec = install.spec or ""
    if spec.startswith(VCS_PREFIXES):
        return "@" in spec.split("://", 1)[-1].split("/", 1)[-1].split("#")[0]  # not the user@ of the host
    if "@" in spec:
        return True
    return bool((_EXACT_PIP if install.kind == "pip" else _EXACT_CONDA).search(spec))


@rule("NB108", "absolute-path", "warning", "cell", "A string holds an absolute path from one machine")
def absolute_path(nb: NotebookContext, limits):
    """## What it does
    Flags string literals in code cells that hold absolute paths of a user's machine
    (`/home/...`, `/Users/...`, `C:\\...`).

    ## Why is this bad?
    The notebook only runs on the machine (and account) it was written on.

    ## Example
    ```python
    df = pd.read_csv("/home/alice/projects/churn/data.csv")
    ```

    ## Use instead
    ```python
    df = pd.read_csv(DATA_DIR / "data.csv")   # relative to the repository, or from configuration
    ```
    """
    for cell in nb.code_cells:
        if not _ABSOLUTE_PATH.search(cell.source):  # a path on a line is a match in the whole source
            continue
        for number, text in enumerate(cell.source.splitlines(), 1):
            for match in _ABSOLUTE_PATH.finditer(without_comment(text)):
                yield hit(f"absolute path {match.group(2)[:80]!r}", cell.position, number, path=match.group(2))


@rule("NB109", "hard-coded-secret", "error", "cell", "A password, token or key is saved in the notebook")
def hard_coded_secret(nb: NotebookContext, limits):
    """## What it does
    Flags cloud keys, private keys, tokens and passwords in code cells, saved outputs (tracebacks
    too) and notebook metadata, once per line of source and once per cell's outputs, using the
    detectors of Yelp's detect-secrets (all but the entropy and IP address guesses). The message
    says what the secret looks like and where it is, with its value masked (`'keZd…', 27
    characters`), in every output format.
    Lines longer than 2,000 characters, such as minified data, and base64 images are not read.
    Placeholders are not secrets (`"YOUR_API_KEY"`, `"<your-key>"`, `"my-client-secret"`, `"xxx"`,
    `"***"`, `"changeme"`), nor are values read from the environment or a configuration file
    (`os.environ["API_KEY"]`, `config["password"]`), nor the pieces of a string built with `+`
    (`"PWD=" + PASSWORD`).

    ## Why is this bad?
    Notebooks get shared and pushed; a secret in one is a leaked secret, even after the cell is
    edited (it stays in the history). A key printed in an output is just as leaked.

    ## Example
    ```python
    client = boto3.client("s3", aws_access_key_id="AKIA...")
    ```

    ## Use instead
    ```python
    client = boto3.client("s3")   # credentials from the environment or a profile
    ```
    """
    places: list[tuple[int | None, str]] = []  # (cell position, where) of each text
    texts: list[str] = []
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source:
            places.append((cell.position, "source"))
            texts.append(cell.source)
        for output in cell.outputs:
            for text in (output.text, output.evalue, _shown_text(output.data)):
                if text:
                    places.append((cell.position, "output"))
                    texts.append(text)
            if output.traceback:
                places.append((cell.position, "traceback"))
                texts.append(strip_ansi("\n".join(output.traceback)))
    places.append((None, "metadata"))
    texts.append(nb.metadata_text)
    reported = set()  # a line of source; a cell's outputs, which clearing them fixes; the metadata
    for index, secret in find_secrets_in(texts):
        position, where = places[index]
        key = (position, secret.line if where == "source" else where == "metadata")
        if key in reported:
            continue
        reported.add(key)
        what = _looks_like(secret.kind, secret.name)
        if where == "source":
            said = f"the string assigned to `{secret.name}` looks like {what}" if secret.name else \
                f"the cell's source holds {what}"
        else:
            said = {"output": "the cell's output shows", "traceback": "the cell's traceback shows",
                    "metadata": "the notebook metadata holds"}[where] + f" {what}"
        yield hit(f"{said} ({secret.masked})", position, secret.line if where == "source" else None,
                  kind=secret.kind, where=where, name=secret.name)


def _looks_like(kind: str, name: str | None) -> str:
    """What a secret of detect-secrets' ``kind``, assigned to ``name``, is called in a message."""
    if kind != "Secret Keyword":
        plural = kind.endswith(("Credentials", "tokens"))
        return kind if plural else f"{'an' if kind[0] in 'AEIOU' else 'a'} {kind}"
    words = (name or "").lower()
    for word, called in (("pass", "a password"), ("pwd", "a password"), ("contrase", "a password"),
                         ("token", "a token"), ("key", "a key")):
        if word in words:
            return called
    return "a secret"


def _shown_text(data: dict) -> str | None:
    """The text a bundle shows: its plain text, else its first textual representation."""
    plain = data.get("text/plain")
    if isinstance(plain, str):
        return plain
    return next((v for m, v in data.items() if isinstance(v, str) and (m.startswith("text/") or m.endswith("json"))),
                None)


#: The functions of the random module that draw.
_RANDOM_DRAWS = ("random", "randint", "randrange", "choice", "choices", "shuffle", "sample", "uniform", "gauss")
#: Per library: how a draw looks and how a seed looks ({alias}: the name it was imported as, see _as_word).
_RANDOM = {
    "numpy": (r"{alias}\.random\.(?!seed\b|default_rng\(\s*[^\s)]|RandomState\(\s*[^\s)]|Generator\b)\w+\(",
              r"{alias}\.random\.seed\(\s*[^\s)]|default_rng\(\s*[^\s)]|RandomState\(\s*[^\s)]"),
    "numpy.random": (r"{alias}\.(?!seed\b|default_rng\(\s*[^\s)]|RandomState\(\s*[^\s)]|Generator\b)\w+\(",
                     r"{alias}\.seed\(\s*[^\s)]|default_rng\(\s*[^\s)]|RandomState\(\s*[^\s)]"),
    "random": (rf"{{alias}}\.({'|'.join(_RANDOM_DRAWS)})\(",
               r"(?<![\w.])random\.seed\(\s*[^\s)]|{alias}\.seed\(\s*[^\s)]"),  # seed() seeds from the clock
    "torch": (r"{alias}\.(rand|randn|randint|randperm|normal|bernoulli|multinomial)\(", r"manual_seed\("),
    "tensorflow": (r"{alias}\.random\.(uniform|normal|shuffle|truncated_normal|categorical)\(",
                   r"set_seed\(|set_random_seed\("),
}
#: Text every seed pattern of a library contains.
_NUMPY_SEEDS = ("seed(", "default_rng(", "RandomState(")
_SEED_WORDS = {"numpy": _NUMPY_SEEDS, "numpy.random": _NUMPY_SEEDS, "random": ("seed(",), "torch": ("manual_seed(",),
               "tensorflow": ("set_seed(", "set_random_seed(")}


def _as_word(name: str) -> str:
    """A pattern for ``name`` as a name of its own: not the end of a longer name or an attribute
    (``tf.random`` is not ``random``). The check comes after the literal, which the regex engine
    then looks for directly (a leading check makes it try every position, 30x slower)."""
    literal = re.escape(name)
    return rf"{literal}(?<![\w.]{literal})"


@rule("NB110", "unseeded-random", "warning", "notebook", "Random numbers are drawn without a seed",
      python_only=True)
def unseeded_random(nb: NotebookContext, limits):
    """## What it does
    Flags notebooks that draw random numbers with `random`, `numpy.random`, `torch` or
    `tensorflow` (imported as modules, or `random`'s and `numpy.random`'s functions imported by
    name) and never seed that library (a seed in a comment does not count;
    `seed_everything()` seeds them all), once per library, at its first draw.

    ## Why is this bad?
    Every run gives other numbers: saved outputs cannot be reproduced and results cannot be
    compared between runs.

    ## Example
    ```python
    sample = np.random.choice(ids, 100)
    ```

    ## Use instead
    ```python
    rng = np.random.default_rng(42)
    sample = rng.choice(ids, 100)
    ```
    """
    aliases: dict[str, set[str]] = {}  # library -> names it was imported as
    functions: dict[str, set[str]] = {}  # library -> its functions imported by name (from random import shuffle)
    for _, facts in _python_cells(nb):
        for item in facts.imports:
            if item.kind == "import" and item.module in _RANDOM:
                aliases.setdefault(item.module, set()).add(item.alias or item.module)
            elif item.kind == "from" and item.module == "numpy" and item.name == "random":
                aliases.setdefault("numpy.random", set()).add(item.alias or "random")
            elif item.kind == "from" and item.module in _FUNCTION_DRAWS and item.name in _FUNCTION_DRAWS[item.module]:
                functions.setdefault(item.module, set()).add(item.alias or item.name)
    if not aliases and not functions:
        return
    code = [(cell, normalised_source(cell.source)) for cell, _ in _python_cells(nb)]  # comments do not seed
    everything = "\n".join(source for _, source in code)  # for literal pre-checks that spare most searches
    if "seed_everything(" in everything:
        return

    @cache  # asked once per alias: a notebook importing numpy under 500 names took half a minute
    def seeded(module: str) -> bool:
        _, seed = _RANDOM[module]
        if not any(word in everything for word in _SEED_WORDS[module]):
            return False
        patterns = [seed.format(alias=_as_word(alias)) for alias in aliases.get(module, ())]
        patterns += [r"(?<![\w.])seed\(\s*[^\s)]"] if "seed" in functions.get(module, ()) else []
        if not patterns:
            return False
        any_seed = re.compile("|".join(f"(?:{pattern})" for pattern in patterns))
        return any(any_seed.search(source) for _, source in code)

    draws = [(module, _RANDOM[module][0].format(alias=_as_word(alias)), f"{alias}.")
             for module, names in sorted(aliases.items()) for alias in sorted(names)]
    draws += [(module, rf"(?<![\w.])(?:{'|'.join(map(re.escape, sorted(names - {'seed'})))})\(", "")
              for module, names in sorted(functions.items()) if names - {"seed"}]
    reported: set[str] = set()  # libraries: numpy's draws, whatever the names, want one seed
    for module, use, literal in draws:
        package = module.split(".")[0]
        if package in reported or literal not in everything or seeded(module):
            continue
        pattern = re.compile(use)
        for cell, source in code:
            match = pattern.search(source)
            if match:
                line = next((i for i, text in enumerate(cell.source.splitlines(), 1)
                             if match.group(0) in without_comment(text)), None)
                yield hit(f"{match.group(0)[:-1]}() draws random numbers but {module} is never seeded",
                          cell.position, line, package=package)
                reported.add(package)
                break


#: Functions imported by name that draw (or seed), per library.
_FUNCTION_DRAWS = {
    "random": {*_RANDOM_DRAWS, "seed"},
    "numpy.random": {"rand", "randn", "randint", "random", "random_sample", "choice", "shuffle", "permutation",
                     "normal", "uniform", "binomial", "poisson", "exponential", "beta", "gamma", "seed"},
}


@rule("NB111", "complex-cell", "warning", "cell", "A code cell's cyclomatic complexity is high",
      python_only=True, max_complexity=15)
def complex_cell(nb: NotebookContext, limits):
    """## What it does
    Flags code cells whose total cyclomatic complexity (radon) exceeds `max_complexity`.

    ## Why is this bad?
    Branch-heavy cells are hard to read and test; in a notebook they usually hide a program
    that belongs in a module.

    ## Example
    A cell with a dozen nested `if`/`for` blocks.

    ## Use instead
    Move the logic into functions (or a module) and keep the cell short.
    """
    for cell, facts in _python_cells(nb):
        if facts.complexity is not None and facts.complexity > limits["max_complexity"]:
            yield hit(f"cell complexity {facts.complexity} > {limits['max_complexity']}", cell.position,
                      complexity=facts.complexity)


@rule("NB112", "complex-function", "warning", "cell", "A function's cyclomatic complexity is high",
      python_only=True, max_complexity=10)
def complex_function(nb: NotebookContext, limits):
    """## What it does
    Flags functions and methods defined in code cells whose cyclomatic complexity (radon)
    exceeds `max_complexity`.

    ## Why is this bad?
    Complex functions are where bugs hide; they are hard to test inside a notebook.

    ## Example
    A `clean(df)` function with twenty branches.

    ## Use instead
    Split it into smaller functions.
    """
    for cell, facts in _python_cells(nb):
        for item in facts.definitions:
            if item.kind != "class" and item.complexity > limits["max_complexity"]:
                yield hit(f"{item.kind} {item.qualified_name} has complexity {item.complexity} > "
                          f"{limits['max_complexity']}", cell.position, item.line, name=item.qualified_name,
                          complexity=item.complexity)


@rule("NB113", "long-cell", "info", "cell", "A code cell is long", max_lines=60)
def long_cell(nb: NotebookContext, limits):
    """## What it does
    Flags code cells with more than `max_lines` lines.

    ## Why is this bad?
    Long cells defeat the point of a notebook: results can no longer be seen next to the code
    that made them.

    ## Example
    A 200-line cell that loads, cleans, trains and plots.

    ## Use instead
    Split the cell at its natural steps, with markdown in between.
    """
    for cell in nb.code_cells:
        lines = len(cell.source.splitlines())
        if lines > limits["max_lines"]:
            yield hit(f"{lines} lines > {limits['max_lines']}", cell.position, lines=lines)


@rule("NB114", "long-notebook", "info", "notebook", "The notebook has many cells", max_cells=120)
def long_notebook(nb: NotebookContext, limits):
    """## What it does
    Flags notebooks with more than `max_cells` cells.

    ## Why is this bad?
    Very long notebooks are hard to navigate and to run reliably from top to bottom.

    ## Example
    A 300-cell notebook covering a whole project.

    ## Use instead
    Split it into several notebooks, one per step.
    """
    if len(nb.cells) > limits["max_cells"]:
        yield hit(f"{len(nb.cells)} cells > {limits['max_cells']}", cells=len(nb.cells))


@rule("NB115", "duplicate-cell", "warning", "cell", "A code cell repeats an earlier cell of the notebook",
      min_lines=2)
def duplicate_cell(nb: NotebookContext, limits):
    """## What it does
    Flags code cells whose source (ignoring comments and blank lines; a `#` inside a multi-line
    string is text, not a comment) equals an earlier code cell of the same notebook, when it has
    at least `min_lines` lines.

    ## Why is this bad?
    Copy-pasted cells drift apart when one copy is fixed; the notebook wants a function.

    ## Example
    The same ten plotting lines twice with another column name.

    ## Use instead
    Define a function once and call it twice.
    """
    seen: dict[str, int] = {}
    for cell in nb.code_cells:
        facts = nb.facts.get(cell.position)
        normal = normalised_source(cell.source, facts.string_lines if facts else frozenset())
        if normal.count("\n") + 1 < limits["min_lines"] or not normal:
            continue
        if normal in seen:
            yield hit(f"same code as cell {seen[normal]}", cell.position, first=seen[normal])
        else:
            seen[normal] = cell.position
