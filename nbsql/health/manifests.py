"""Dependency manifests near a notebook and the distributions they declare."""

from __future__ import annotations

import fnmatch
import os
import re
import sys
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: Files that declare a project's dependencies (Python first; R and Julia count as declared too).
MANIFEST_PATTERNS = ("requirements*.txt", "pyproject.toml", "environment.yml", "environment.yaml", "setup.py",
                     "setup.cfg", "Pipfile", "Project.toml", "renv.lock", "DESCRIPTION")
_MANIFEST_NAME = re.compile("|".join(fnmatch.translate(p) for p in MANIFEST_PATTERNS))
#: The name a line that is not PEP 508 starts with (conda's ``numpy=1.26``, ``torch==2 --hash=...``).
_LEADING_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_EGG = re.compile(r"#egg=([A-Za-z0-9._-]+)")

#: Import names whose distribution is named otherwise, beyond pipreqs' mapping (conda names, families).
KNOWN_DISTRIBUTIONS = {
    "cv2": ("opencv-python", "opencv-python-headless", "opencv-contrib-python", "opencv", "py-opencv"),
    "skimage": ("scikit-image",), "attr": ("attrs",), "gi": ("pygobject",), "docx": ("python-docx",),
    "pptx": ("python-pptx",), "mpl_toolkits": ("matplotlib",), "pylab": ("matplotlib",), "umap": ("umap-learn",),
    "fitz": ("pymupdf",), "torch": ("torch", "pytorch"),
    "tensorflow": ("tensorflow", "tensorflow-cpu", "tensorflow-gpu"),
    "wx": ("wxpython",), "google": ("google-cloud-storage", "google-cloud-bigquery", "google-api-python-client",
                                    "protobuf"),
    "MySQLdb": ("mysqlclient",), "psycopg2": ("psycopg2", "psycopg2-binary"), "Bio": ("biopython",),
}


#: Imported in notebooks but provided by the Jupyter kernel itself.
PROVIDED_BY_JUPYTER = frozenset({"IPython", "ipykernel"})


@lru_cache(maxsize=1)
def _installed() -> Mapping[str, list[str]]:
    from importlib import metadata  # here and below: imported when a rule needs it, not with the catalog

    return metadata.packages_distributions()


@lru_cache(maxsize=1)
def _pipreqs_mapping() -> dict[str, set[str]]:
    """pipreqs' maintained mapping of import names to distributions (see data/README.md)."""
    mapping: dict[str, set[str]] = {}
    text = (Path(__file__).parent / "data" / "pipreqs_mapping.txt").read_text(encoding="utf-8")
    for line in text.splitlines():
        name, _, distribution = line.strip().partition(":")
        if name and distribution:
            mapping.setdefault(name, set()).add(distribution)
    return mapping


def distributions_for(package: str) -> set[str]:
    """Normalised distribution names that may provide the top-level import ``package``: from the
    installed distributions' own metadata, pipreqs' mapping, a few more, and the name itself."""
    from packaging.utils import canonicalize_name

    names = {package, *(_installed().get(package) or ()), *_pipreqs_mapping().get(package, ()),
             *KNOWN_DISTRIBUTIONS.get(package, ())}
    return {canonicalize_name(n) for n in names}


@lru_cache(maxsize=4096)
def nearest_manifest(folder: Path, root: Path) -> Path | None:
    """The first folder from ``folder`` up to :func:`search_top` holding a manifest: its manifest files' folder."""
    top = search_top(folder, root)
    for candidate in [folder, *folder.parents]:
        if _manifests_in(candidate):
            return candidate
        if candidate == top or top not in candidate.parents:
            return None
    return None


def search_top(folder: Path, root: Path) -> Path:
    """Where the search for the manifests of a notebook in ``folder``, loaded under ``root``, stops:
    the repository's root (the nearest folder from ``folder`` up holding ``.git``), else ``root``."""
    return repository_root(folder) or root


@lru_cache(maxsize=4096)
def repository_root(folder: Path) -> Path | None:
    """The nearest folder from ``folder`` up holding ``.git`` (a folder, or a worktree's file)."""
    try:
        if (folder / ".git").exists():
            return folder
    except OSError:
        pass
    return None if folder.parent == folder else repository_root(folder.parent)


def manifest_files(folder: Path) -> tuple[Path, ...]:
    """The manifest files in ``folder``."""
    return _manifests_in(folder)


@lru_cache(maxsize=4096)
def _manifests_in(folder: Path) -> tuple[Path, ...]:
    try:
        with os.scandir(folder) as entries:  # one listing, not one per pattern
            found = [Path(e.path) for e in entries if _MANIFEST_NAME.match(e.name) and e.is_file()]
    except OSError:
        return ()
    return tuple(sorted(found))


@lru_cache(maxsize=1024)
def declared_in(folder: Path) -> frozenset[str]:
    """Normalised distribution names declared by the manifests in ``folder``."""
    names: set[str] = set()
    for path in _manifests_in(folder):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        names |= _parse(path, text)
    from packaging.utils import canonicalize_name

    return frozenset(canonicalize_name(n) for n in names)


def _parse(path: Path, text: str) -> set[str]:
    name = path.name
    if name.startswith("requirements"):
        return _requirements_file(path, text, depth=0)
    if name in ("pyproject.toml", "Pipfile", "Project.toml"):
        try:
            data = tomllib.loads(text)
        except (tomllib.TOMLDecodeError, RecursionError):
            return set()
        project = _table(data.get("project"))
        requirements = _strings(project.get("dependencies"))
        for extra in _table(project.get("optional-dependencies")).values():
            requirements += _strings(extra)
        for group in _table(data.get("dependency-groups")).values():
            requirements += _strings(group)
        names = _requirement_lines(requirements)
        poetry = _table(_table(data.get("tool")).get("poetry"))
        # [tool.poetry.group.dev.dependencies] and the like
        groups = [_table(group).get("dependencies") for group in _table(poetry.get("group")).values()]
        for table in (poetry.get("dependencies"), poetry.get("dev-dependencies"), *groups, data.get("packages"),
                      data.get("dev-packages"), data.get("deps")):
            names |= set(table) if isinstance(table, dict) else set()
        return names
    if name.startswith("environment"):
        # "- numpy=1.26", "- conda-forge::numpy", "- pip:" then "- requests"
        return _requirement_lines(re.sub(r"^\s*-\s*(pip:)?([\w.-]+::)?", "", line) for line in text.splitlines()
                                  if line.lstrip().startswith("-"))
    if name in ("setup.py", "setup.cfg"):
        block = re.search(r"install_requires\s*[=:]\s*\[?(.*?)(\]|\n\S|\Z)", text, re.S)
        if not block:
            return set()
        items = re.findall(r"['\"]([^'\"]+)['\"]", block.group(1)) or block.group(1).splitlines()
        return _requirement_lines(items)
    return {"*"}  # R and Julia manifests: declared, though not comparable with Python imports


def _table(value) -> dict:
    """A TOML table, or an empty one when the file has something else there."""
    return value if isinstance(value, dict) else {}


def _strings(value) -> list[str]:
    """The strings of a TOML array (none when the file has something else there)."""
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _requirements_file(path: Path, text: str, depth: int) -> set[str]:
    """Requirements of a pip requirements file, following ``-r other.txt`` includes."""
    names = _requirement_lines(text.splitlines())
    for include in re.findall(r"^\s*(?:-r|--requirement)[\s=]+(\S+)", text, re.M):
        target = path.parent / include
        if depth < 5 and target.is_file():
            try:
                included = target.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            names |= _requirements_file(target, included, depth + 1)
    return names


def _requirement_lines(lines) -> set[str]:
    """Distribution names of requirement lines; options, comments and URLs (but their ``#egg=`` name)
    declare nothing."""
    names = set()
    for raw in lines:
        egg = _EGG.search(raw)
        line = raw.split("#", 1)[0].strip()
        name = egg.group(1) if egg else (None if not line or line.startswith("-") else _requirement_name(line))
        if name:
            names.add(name)
    return names


def _requirement_name(line: str) -> str | None:
    """The distribution a requirement names: a PEP 508 requirement as packaging reads it, else (a conda
    spec, a line pip would refuse) the name it starts with. A bare URL names none; a direct
    reference (``name @ https://...``) names its distribution."""
    try:
        from packaging.requirements import Requirement

        return Requirement(line).name
    except (ValueError, RecursionError):
        # InvalidRequirement, or another ValueError packaging lets through ('x ===1[a,b]c' raises
        # InvalidSpecifier); markers nested thousands deep exhaust the stack. Unreadable, not fatal.
        match = None if "://" in line else _LEADING_NAME.match(line)
        return match.group(1) if match else None


def manifest_state(folder: Path, root: Path) -> list:
    """What :func:`nearest_manifest` and :func:`declared_in` read for a notebook in ``folder``: where
    the search stops, and the manifest files (size, modification time) of the folders it looks in."""
    top = search_top(folder, root)  # ``folder`` or a folder above it
    state: list = [str(top)]
    candidate = folder
    while True:
        files = _manifests_in(candidate)
        state.extend(_file_state(path) for path in files)
        if files or candidate == top or candidate == candidate.parent:
            return state
        candidate = candidate.parent


def _file_state(path: Path) -> tuple[str, int | None, int | None]:
    try:
        stat = path.stat()
    except OSError:
        return str(path), None, None
    return str(path), stat.st_size, stat.st_mtime_ns


def clear_manifest_caches() -> None:
    """Forget what was read from the file system (files may have changed since the last load)."""
    _manifests_in.cache_clear()
    nearest_manifest.cache_clear()
    repository_root.cache_clear()
    declared_in.cache_clear()
