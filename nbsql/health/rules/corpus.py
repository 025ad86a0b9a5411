"""Rules over the whole database and the folders around the notebooks (run after each load)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

from ...model import PYTHON_LANGUAGES
from ..manifests import (
    PROVIDED_BY_JUPYTER,
    declared_in,
    distributions_for,
    manifest_files,
    nearest_manifest,
    repository_root,
    search_top,
)
from .base import hit, rule


@dataclass
class CorpusContext:
    conn: sqlite3.Connection
    _local: dict[tuple[str, Path, Path], bool] = field(default_factory=dict)

    def notebooks(self, python_only: bool = False):
        """(id, root, path, language) of the notebooks (of Python, or naming no language), by root and path."""
        sql = "SELECT id, root, path, language FROM notebooks"
        if python_only:
            sql += f" WHERE language IS NULL OR language IN ({', '.join('?' * len(PYTHON_LANGUAGES))})"
        sql += " ORDER BY root, path"
        return self.conn.execute(sql, sorted(PYTHON_LANGUAGES) if python_only else []).fetchall()

    @cached_property
    def notebook_suppressions(self) -> dict[int, frozenset[str]]:
        """The codes each notebook's metadata suppresses, for the notebooks whose metadata names nbsql."""
        from ..suppress import notebook_suppressions  # it reads the catalog, which holds this module

        rows = self.conn.execute("""SELECT id, metadata FROM notebooks WHERE instr(metadata, '"nbsql"')""")
        return {notebook: notebook_suppressions(json.loads(metadata)) for notebook, metadata in rows}

    @cached_property
    def marked_cells(self) -> dict[tuple[int, int], tuple[str, str | None]]:
        """(source, tags) of the cells whose source or tags name nbsql (and may suppress a rule), by
        (notebook, position)."""
        rows = self.conn.execute("SELECT notebook, position, source, tags FROM cells "
                                 "WHERE instr(source, 'nbsql') OR instr(tags, 'nbsql-ignore')")
        return {(notebook, position): (source, tags) for notebook, position, source, tags in rows}

    @staticmethod
    def folder(root: str, path: str) -> tuple[Path, Path]:
        """The load root and the folder of the notebook at ``path`` below it, made once per folder."""
        return _folder(root, path.rpartition("/")[0])

    def is_local(self, package: str, folder: Path, root: Path) -> bool:
        """Whether ``package`` is a module or package of the notebook's folder or the load root (once a run)."""
        key = (package, folder, root)
        if key not in self._local:
            self._local[key] = _is_local(package, folder, root)
        return self._local[key]

    def suppresses(self, notebook: int, code: str) -> bool:
        """Whether the notebook's metadata suppresses rule ``code``."""
        codes = self.notebook_suppressions.get(notebook, frozenset())
        return code in codes or "*" in codes


@rule("NB116", "duplicate-across-notebooks", "info", "corpus", "A code cell also appears in other notebooks",
      min_lines=5)
def duplicate_across_notebooks(corpus: CorpusContext, limits):
    """## What it does
    Flags code cells of at least `min_lines` lines of code (for Python, not counting comments
    and blank lines) whose source, comments and blank lines ignored (a `#` inside a multi-line
    string is text, not a comment), appears in other notebooks of the database.

    ## Why is this bad?
    Code copied between notebooks is fixed in one place and stays broken in the others; it wants
    to be a module that both import.

    ## Example
    The same 30-line data-cleaning cell at the top of six notebooks.

    ## Use instead
    Move the shared code into a module next to the notebooks and import it.
    """
    # the notebooks sharing each hash, counted and ranked by path once per hash: subqueries per cell
    # took time quadratic in the number of copies (10,000 copies of one cell: 20 s)
    rows = corpus.conn.execute("""
        WITH shared AS (SELECT source_hash FROM cells WHERE source_hash IS NOT NULL
                          AND coalesce(sloc, line_count) >= ?
                        GROUP BY source_hash HAVING count(DISTINCT notebook) > 1),
             holders AS (SELECT d.source_hash, d.notebook, n.path FROM cells d
                           JOIN shared USING (source_hash) JOIN notebooks n ON n.id = d.notebook
                         GROUP BY d.source_hash, d.notebook),
             ranked AS (SELECT source_hash, notebook, path, count(*) OVER hashes AS notebooks,
                               row_number() OVER (hashes ORDER BY path) AS rank
                        FROM holders WINDOW hashes AS (PARTITION BY source_hash)),
             first_two AS (SELECT source_hash, max(notebooks) AS notebooks,
                                  max(CASE WHEN rank = 1 THEN notebook END) AS first,
                                  max(CASE WHEN rank = 1 THEN path END) AS first_path,
                                  max(CASE WHEN rank = 2 THEN path END) AS second_path
                           FROM ranked WHERE rank <= 2 GROUP BY source_hash)
        SELECT c.notebook, c.position, c.source_hash, f.notebooks - 1,
               CASE WHEN c.notebook = f.first THEN f.second_path ELSE f.first_path END
        FROM cells c JOIN first_two f USING (source_hash)
        WHERE coalesce(c.sloc, c.line_count) >= ?
        ORDER BY c.notebook, c.position""", (limits["min_lines"], limits["min_lines"]))
    for notebook, position, digest, others, example in rows:
        yield notebook, hit(f"same code in {others} other notebook(s), e.g. {example}", position, hash=digest,
                            others=others)


@rule("NB301", "no-dependency-manifest", "info", "corpus", "No dependency manifest for a folder of notebooks")
def no_manifest(corpus: CorpusContext, limits):
    """## What it does
    Flags folders of notebooks with no dependency manifest (requirements*.txt, pyproject.toml,
    environment.yml, setup.py, setup.cfg, Pipfile; Project.toml, renv.lock or DESCRIPTION for
    Julia and R) in the folder or any folder above it up to the repository's root (the nearest
    folder holding `.git`) or, outside a repository, the folder that was loaded. One finding per
    folder, on its first notebook (by path), naming the folder's notebooks; a notebook that
    suppresses NB301 is left out. Its severity is info: the manifest belongs to the project, not
    to a notebook, and adding one file fixes every notebook below it.

    ## Why is this bad?
    Nobody can recreate the environment the notebooks ran in; Pimentel et al. found only 12.5% of
    notebooks' repositories declaring dependencies.

    ## Example
    `analysis/churn.ipynb` in a repository with no requirements file.

    ## Use instead
    Add `requirements.txt` (with versions) or `environment.yml` next to the notebooks, or at the
    repository's root.
    """
    folders: dict[tuple[str, Path], list[tuple[int, str]]] = {}  # (root, folder) -> its notebooks (id, path)
    for notebook, root, path, _ in corpus.notebooks():
        top, folder = corpus.folder(root, path)
        if nearest_manifest(folder, top) is None and not corpus.suppresses(notebook, "NB301"):
            folders.setdefault((root, folder), []).append((notebook, path))
    for (root, folder), notebooks in folders.items():
        top = search_top(folder, Path(root))
        bound = _shown(top, root) + (", the repository's root" if top == repository_root(folder) else "")
        above = f" or above it up to {bound}" if top != folder else ""
        yield notebooks[0][0], hit(f"no dependency manifest for the {len(notebooks)} notebook(s) in "
                                   f"{_shown(folder, root)}{above}", notebooks=[path for _, path in notebooks])


def _shown(folder: Path, root: str) -> str:
    """A folder as a finding names it: relative to the load root when below it."""
    try:
        relative = folder.relative_to(root).as_posix()
    except ValueError:
        return f"'{folder}'"
    return f"'{relative}/'" if relative != "." else "the loaded folder"


@rule("NB302", "undeclared-dependency", "warning", "corpus", "An imported package is not in the manifest",
      python_only=True)
def undeclared_dependency(corpus: CorpusContext, limits):
    """## What it does
    Flags third-party imports whose distribution is not declared in the nearest dependency
    manifest, once per manifest and package: on the first notebook (by path) importing it, at its
    first import there. Import names are mapped to distribution names with the metadata of installed
    distributions (`importlib.metadata.packages_distributions`), pipreqs' maintained mapping of
    some 1,100 names (`sklearn` → `scikit-learn`, `PIL` → `pillow`, `dns` → `dnspython`, ...) and
    a few more (`cv2` → `opencv-python-headless`, conda's names).
    Modules found beside the notebook (a local `utils.py`) are not third-party, and neither are
    the packages every Jupyter Python kernel brings (`IPython`, `ipykernel`).

    ## Why is this bad?
    Installing the declared requirements is not enough to run the notebook.

    ## Example
    `import seaborn` with a requirements.txt listing only pandas and numpy.

    ## Use instead
    Add the distribution, with its version, to the manifest.
    """
    imports: dict[int, list[tuple[int, int, str]]] = {}
    for notebook, position, line, package in corpus.conn.execute(
            "SELECT i.notebook, c.position, i.line, i.package FROM imports i JOIN cells c ON c.id = i.cell "
            "WHERE i.kind IN ('import', 'from') AND NOT i.is_stdlib AND NOT i.is_relative AND i.package IS NOT NULL "
            "ORDER BY i.notebook, c.position, i.line"):
        imports.setdefault(notebook, []).append((position, line, package))
    missing: dict[tuple[Path, str], list[tuple[int, int, int]]] = {}  # (manifest, package) -> first imports
    for notebook, root, path, _ in corpus.notebooks(python_only=True):
        top, folder = corpus.folder(root, path)
        manifest = nearest_manifest(folder, top)
        if manifest is None or notebook not in imports:
            continue
        declared = declared_in(manifest)
        if "*" in declared:
            continue
        seen = set()
        for position, line, package in imports[notebook]:
            if package in seen or package in PROVIDED_BY_JUPYTER or corpus.is_local(package, folder, top):
                continue
            seen.add(package)
            if not distributions_for(package) & declared:
                missing.setdefault((manifest, package), []).append((notebook, position, line))
    for (manifest, package), found in missing.items():
        notebook, position, line = found[0]
        files = manifest_files(manifest)
        others = f" ({len(found) - 1} other notebook(s) import it too)" if len(found) > 1 else ""
        yield notebook, hit(f"{package} is imported but not declared in {', '.join(p.name for p in files)}{others}",
                            position, line, package=package, manifests=[str(p) for p in files], notebooks=len(found))


@lru_cache(maxsize=65536)
def _folder(root: str, relative: str) -> tuple[Path, Path]:
    return Path(root), Path(root, relative) if relative else Path(root)


def _is_local(package: str, folder: Path, root: Path) -> bool:
    for candidate in {folder, root}:
        if (candidate / f"{package}.py").exists() or (candidate / package).is_dir():
            return True
    return False
