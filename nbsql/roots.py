"""Load roots: each notebook file is stored once, under the outermost loaded folder holding it.

Without this, ``nbsql load repo repo/sub`` (or ``nbsql load repo`` after ``nbsql load repo/sub``)
would store the notebooks of ``repo/sub`` twice, under two roots, and count them twice.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable


def contains(folder: str, path: str) -> bool:
    """Whether ``path`` is ``folder`` or below it (both absolute)."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def outermost(root: str, roots: Iterable[str]) -> str:
    """The outermost of ``roots`` that contains ``root``; ``root`` itself when none does."""
    return min((r for r in roots if contains(r, root)), key=len, default=root)


def relative(path: str, root: str) -> str:
    """``path`` relative to ``root`` with / separators ('' for the root itself)."""
    return "" if path == root else os.path.relpath(path, root).replace(os.sep, "/")


def below(path: str, prefix: str) -> bool:
    """Whether a stored relative ``path`` is the relative folder ``prefix`` or lies in it ('' is the root)."""
    return not prefix or path == prefix or path.startswith(prefix + "/")


def stored_roots(conn: sqlite3.Connection) -> set[str]:
    return {root for (root,) in conn.execute("SELECT root FROM notebooks UNION SELECT root FROM load_errors")}


#: A row's path once re-keyed under the outer root ('.' stands for the inner folder itself).
_NEW_PATH = "CASE WHEN path = '.' THEN :prefix ELSE :prefix || '/' || path END"


def absorb(conn: sqlite3.Connection, outer_roots: Iterable[str]) -> None:
    """Re-key rows stored under a root inside one of ``outer_roots`` to the outer root, keeping ids.

    A file stored under both (a database from before this rule) keeps only its outer row, and a
    file both stored and recorded as failed keeps only its notebook. Call inside a transaction.
    """
    outer_roots = list(outer_roots)
    moved = False
    for root in stored_roots(conn):
        outer = outermost(root, outer_roots)
        if outer == root:
            continue
        moved = True
        names = {"root": root, "prefix": relative(root, outer), "outer": outer}
        for table in ("notebooks", "load_errors"):
            conn.execute(f"DELETE FROM {table} WHERE root = :root AND {_NEW_PATH} IN "
                         f"(SELECT path FROM {table} WHERE root = :outer)", names)
            conn.execute(f"UPDATE {table} SET root = :outer, path = {_NEW_PATH} WHERE root = :root", names)
    if moved:
        conn.execute("DELETE FROM load_errors WHERE EXISTS "
                     "(SELECT 1 FROM notebooks n WHERE n.root = load_errors.root AND n.path = load_errors.path)")
