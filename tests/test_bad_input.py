"""Hostile files and folders: every file found ends as a notebook or a load error, nothing crashes."""

from __future__ import annotations

import base64
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import nbsql

from .conftest import EDGE, open_db

GOOD = {"nbformat": 4, "nbformat_minor": 4, "metadata": {"kernelspec": {"name": "python3"}}, "cells": [
    {"cell_type": "code", "source": "print('hi')\n", "metadata": {}, "execution_count": 1,
     "outputs": [{"output_type": "stream", "name": "stdout", "text": "hi\n"}]}]}


def with_output(output: dict) -> bytes:
    cell = {**GOOD["cells"][0], "outputs": [output]}
    return json.dumps({**GOOD, "cells": [cell]}).encode()


#: file name -> (bytes, expected load_errors kind or None when it must load)
HOSTILE: dict[str, tuple[bytes, str | None]] = {
    "invalid_json.ipynb": (b'{"cells": [}', "json"),
    "truncated.ipynb": (json.dumps(GOOD).encode()[:70], "truncated"),
    "empty.ipynb": (b"", "empty"),
    "binary.ipynb": (bytes(range(256)) * 64, "binary"),
    "latin1.ipynb": (json.dumps(GOOD).replace("hi", "h\u00e9").encode("latin-1"), "encoding"),
    "bom.ipynb": (b"\xef\xbb\xbf" + json.dumps(GOOD).encode(), None),
    "crlf.ipynb": (json.dumps(GOOD, indent=1).replace("\n", "\r\n").encode(), None),
    "a_list.ipynb": (b"[]", "not_a_notebook"),
    "a_string.ipynb": (b'"notebook"', "not_a_notebook"),
    "no_cells.ipynb": (b'{"nbformat": 4, "nbformat_minor": 4, "metadata": {}}', "not_a_notebook"),
    "kernelspec_string.ipynb": (json.dumps({**GOOD, "metadata": {"kernelspec": "python3"}}).encode(), None),
    "source_number.ipynb": (json.dumps({**GOOD, "cells": [{**GOOD["cells"][0], "source": 3}]}).encode(), None),
    "outputs_missing.ipynb": (json.dumps({**GOOD, "cells": [{"cell_type": "code", "source": "x", "metadata": {},
                                                             "execution_count": None}]}).encode(), None),
    "v1.ipynb": (json.dumps({"nbformat": 1, "cells": [{"cell_type": "code", "code": "1"}]}).encode(), None),
    "v2.ipynb": ((EDGE / "nbformat/tests/test2.ipynb").read_bytes(), None),
    "v3.ipynb": ((EDGE / "nbformat/tests/test3.ipynb").read_bytes(), None),
    "v4_99.ipynb": ((EDGE / "nbformat/tests/test4plus.ipynb").read_bytes(), None),
    "v5.ipynb": (json.dumps({**GOOD, "nbformat": 5}).encode(), "unsupported_version"),
    "huge_output.ipynb": (with_output({"output_type": "stream", "name": "stdout", "text": "x" * 30_000_000}), None),
    "bad_base64.ipynb": (with_output({"output_type": "display_data", "metadata": {},
                                      "data": {"image/png": "not base64 at all!", "text/plain": "<Figure>"}}), None),
    "deep.ipynb": (b'{"cells": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", "json"),
}


def make_hostile_tree(root: Path) -> None:
    for name, (data, _) in HOSTILE.items():
        (root / name).write_bytes(data)
    folder = root / "folder.ipynb"  # a folder with a notebook's name is walked, not read
    folder.mkdir()
    (folder / "inside.ipynb").write_bytes(json.dumps(GOOD).encode())
    os.mkfifo(root / "fifo.ipynb")  # opening it would block the run forever
    os.symlink("loop_b.ipynb", root / "loop_a.ipynb")
    os.symlink("loop_a.ipynb", root / "loop_b.ipynb")
    os.symlink("missing.ipynb", root / "dangling.ipynb")
    os.symlink(".", root / "self_link")  # a folder symlink loop
    for skipped in (".ipynb_checkpoints", ".hidden", "node_modules", "venv"):
        (root / skipped).mkdir()
        (root / skipped / "skipped.ipynb").write_bytes(json.dumps(GOOD).encode())


EXPECTED_ERRORS = {name: kind for name, (_, kind) in HOSTILE.items() if kind} | {
    "fifo.ipynb": "not_a_file", "loop_a.ipynb": "unreadable", "loop_b.ipynb": "unreadable",
    "dangling.ipynb": "unreadable"}


@pytest.mark.parametrize("follow_symlinks", [False, True])
def test_every_hostile_file_is_accounted_for(tmp_path, follow_symlinks):
    root = tmp_path / "repo"
    root.mkdir()
    make_hostile_tree(root)
    db = tmp_path / "nb.db"
    report = nbsql.load(root, db, follow_symlinks=follow_symlinks)
    with open_db(db) as conn:
        errors = {r["path"]: r["kind"] for r in conn.execute("SELECT path, kind, message FROM load_errors")}
        messages = [r[0] for r in conn.execute("SELECT message FROM load_errors")]
        loaded = {r[0] for r in conn.execute("SELECT path FROM notebooks")}
        huge = conn.execute("SELECT length(o.text) FROM outputs o JOIN notebooks n ON n.id = o.notebook "
                            "WHERE n.path = 'huge_output.ipynb'").fetchone()[0]
        bad = conn.execute("SELECT invalid_base64, text, data FROM output_data WHERE mime = 'image/png'").fetchone()
    assert errors == EXPECTED_ERRORS
    assert all(m and "\n" not in m for m in messages)
    expected_loaded = {n for n, (_, kind) in HOSTILE.items() if kind is None} | {"folder.ipynb/inside.ipynb"}
    assert loaded == expected_loaded
    assert report.failed == len(EXPECTED_ERRORS) and report.loaded == len(expected_loaded)
    assert huge == 30_000_000
    assert tuple(bad) == (1, "not base64 at all!", None)
    assert "symlink loop" in dict(zip(errors, messages))["loop_a.ipynb"]


def test_unreadable_file_is_recorded(tmp_path):
    """An unreadable file is a load error, not a crash.

    Root reads any file, so as root the load runs without the capabilities that bypass
    permissions (util-linux's setpriv drops them from the bounding set).
    """
    (tmp_path / "ok.ipynb").write_bytes(json.dumps(GOOD).encode())
    secret = tmp_path / "secret.ipynb"
    secret.write_bytes(json.dumps(GOOD).encode())
    secret.chmod(0)
    db = tmp_path / "nb.db"
    command = [sys.executable, "-m", "nbsql", "load", str(tmp_path), "--db", str(db), "--quiet"]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        assert setpriv, "util-linux's setpriv is needed to drop root's file capabilities"
        command = [setpriv, "--bounding-set=-dac_override,-dac_read_search", *command]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT path, kind, message FROM load_errors").fetchall()
        assert conn.execute("SELECT path FROM notebooks").fetchall() == [("ok.ipynb",)]
    assert rows == [("secret.ipynb", "unreadable", "cannot read: Permission denied")]


def test_missing_path_and_non_sqlite_database_are_user_errors(tmp_path):
    with pytest.raises(nbsql.NbsqlError, match="no such file or folder"):
        nbsql.load(tmp_path / "nope", tmp_path / "nb.db")
    not_db = tmp_path / "text.db"
    not_db.write_text("hello, this is not a database at all")
    with pytest.raises(nbsql.NbsqlError, match="not a SQLite database"):
        nbsql.load(tmp_path, not_db)
    assert not_db.read_text() == "hello, this is not a database at all"


@pytest.mark.parametrize("text, decoded", [
    ("aGVsbG8=", b"hello"), ("aGVs\nbG8=\n", b"hello"), ("aGVs \r\n\tbG8=", b"hello"), ("aGVs\u2028bG8=", b"hello"),
    ("aGVs!bG8=", None), ("aGVsbG8", None), ("h\u00e9llo", None)])
def test_base64_whitespace_anywhere_is_ignored_and_anything_else_flagged(text, decoded):
    rows = nbsql.process_bytes(with_output({"output_type": "display_data", "metadata": {}, "data": {"image/png": text}}))
    (row,) = rows.tables["output_data"]
    assert (row[6], row[8]) == ((decoded, 0) if decoded else (None, 1))


def test_invalid_base64_bytes_stay_recoverable():
    data = base64.b64encode(b"\x89PNG\r\n\x1a\nrest").decode()
    rows = nbsql.process_bytes(with_output({"output_type": "display_data", "metadata": {},
                                            "data": {"image/png": data[:10] + "\n" + data[10:]}}))
    (row,) = rows.tables["output_data"]
    assert row[6] == b"\x89PNG\r\n\x1a\nrest" and row[8] == 0
