"""Find notebook files below the paths given, safely: no symlink loops, no special files opened."""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

#: Folder names never descended into (hidden folders are skipped too).
SKIPPED_FOLDERS = frozenset({"node_modules", "__pycache__", "site-packages", "venv", "env", "virtualenv"})


@dataclass(frozen=True, slots=True)
class Found:
    """A candidate notebook file; ``error`` is set when it cannot be loaded at all."""

    root: str  # absolute folder the relative path starts from
    path: str  # relative, with / separators
    size: int | None = None
    mtime: float | None = None
    error: tuple[str, str] | None = None  # (kind, message)

    @property
    def absolute(self) -> str:
        return os.path.join(self.root, self.path)


def is_virtualenv(folder: str) -> bool:
    return os.path.exists(os.path.join(folder, "pyvenv.cfg")) or os.path.isdir(os.path.join(folder, "conda-meta"))


def _excluded(relative: str, patterns: tuple[str, ...]) -> bool:
    parts = relative.split("/")
    return any(fnmatch.fnmatch(relative, p) or any(fnmatch.fnmatch(part, p) for part in parts) for p in patterns)


def _found(root: str, relative: str) -> Found:
    """Stat one candidate (following a file symlink) and classify it."""
    if not is_text(relative):
        return _badly_named(root, relative)
    try:
        info = os.stat(os.path.join(root, relative))
    except OSError as exc:
        what = "a symlink loop" if exc.errno == 40 else "a broken symlink" if exc.errno == 2 else exc.strerror
        return Found(root, relative, error=("unreadable", f"cannot open: {what}"))
    if not stat.S_ISREG(info.st_mode):
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "a FIFO" if stat.S_ISFIFO(info.st_mode) else \
            "a socket" if stat.S_ISSOCK(info.st_mode) else "a device or other special file"
        return Found(root, relative, info.st_size, info.st_mtime, ("not_a_file", f"not a regular file: {kind}"))
    return Found(root, relative, info.st_size, info.st_mtime)


def is_text(name: str) -> bool:
    """Whether a path decoded from the file system is valid Unicode (so SQLite can store it)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # bytes that are not UTF-8, kept by Python as lone surrogates
        return False
    return True


def escaped(path: str) -> str:
    """A path that is not valid UTF-8, its odd bytes written as \\xff: text that can be shown and stored."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _badly_named(root: str, relative: str) -> Found:
    """A candidate whose path is not valid UTF-8: an error row under the escaped path."""
    return Found(root, escaped(relative),
                 error=("bad_name", "the path is not valid UTF-8; rename it to load the notebook"))


def resolved(path: str | Path) -> str:
    """The absolute path with symlinked folders resolved, so a folder is one root however it is reached
    (a file keeps its own name: a symlinked notebook is stored under the link's name)."""
    absolute = os.path.abspath(path)
    if os.path.isdir(absolute):
        return os.path.realpath(absolute)
    folder, name = os.path.split(absolute)
    return os.path.join(os.path.realpath(folder), name)


def find_notebooks(path: str | Path, exclude: tuple[str, ...] = (),
                   follow_symlinks: bool = False) -> tuple[str, list[Found]]:
    """The load root for ``path`` and the ``.ipynb`` candidates below it, sorted by path.

    ``path`` may be a folder (the root) or a single file (rooted at the working folder when it lies
    below it, else at its own folder). Folders that
    cannot be listed are reported as ``unreadable`` candidates so nothing vanishes silently.
    """
    absolute = resolved(path)
    if not os.path.isdir(absolute):
        root, name = os.path.split(absolute)
        working = resolved(os.getcwd())
        if root.startswith(working.rstrip(os.sep) + os.sep):  # a file below the working folder (a
            # pre-commit hook's file names): rooted there, so that rules looking up to the load root
            # (a manifest in a parent folder) see what a load of the whole folder sees
            root, name = working, os.path.relpath(absolute, working).replace(os.sep, "/")
        return root, [_found(root, name)]
    found = sorted(_walk(absolute, exclude, follow_symlinks), key=lambda f: f.path)
    return absolute, found


def _walk(root: str, exclude: tuple[str, ...], follow_symlinks: bool) -> Iterator[Found]:
    seen: set[tuple[int, int]] = set()
    stack = [""]
    while stack:
        relative_folder = stack.pop()
        folder = os.path.join(root, relative_folder) if relative_folder else root
        try:
            identity = os.stat(folder)
            if (identity.st_dev, identity.st_ino) in seen:
                continue
            seen.add((identity.st_dev, identity.st_ino))
            entries = list(os.scandir(folder))
        except OSError as exc:
            yield Found(root, relative_folder or ".", error=("unreadable", f"cannot list folder: {exc.strerror}")) \
                if is_text(relative_folder) else _badly_named(root, relative_folder)
            continue
        for entry in entries:
            relative = f"{relative_folder}/{entry.name}" if relative_folder else entry.name
            if exclude and _excluded(relative, exclude):
                continue
            try:
                is_link = entry.is_symlink()
                is_dir = entry.is_dir(follow_symlinks=follow_symlinks)
            except OSError:
                is_link, is_dir = True, False
            if is_dir and not (is_link and not follow_symlinks):
                if entry.name.startswith(".") or entry.name in SKIPPED_FOLDERS or is_virtualenv(entry.path):
                    continue
                stack.append(relative)
            elif entry.name.lower().endswith(".ipynb"):
                yield _found(root, relative)
