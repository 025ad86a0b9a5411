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

from nbsql.read import OUTPUT_TEXT_LIMIT

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
    **({  # from the shared corpus, when it is there (CI fails without it)
        "v2.ipynb": ((EDGE / "nbformat/tests/test2.ipynb").read_bytes(), None),
        "v3.ipynb": ((EDGE / "nbformat/tests/test3.ipynb").read_bytes(), None),
        "v4_99.ipynb": ((EDGE / "nbformat/tests/test4plus.ipynb").read_bytes(), None),
    } if EDGE.is_dir() else {}),
    "v5.ipynb": (json.dumps({**GOOD, "nbformat": 5}).encode(), "unsupported_version"),
    "huge_output.ipynb": (with_output({"output_type": "stream", "name": "stdout", "text": "x" * 30_000_000}), None),
    "bad_base64.ipynb": (with_output({"output_type": "display_data", "metadata": {},
                                      "data": {"image/png": "not base64 at all!", "text/plain": "<Figure>"}}), None),
    "deep.ipynb": (b'{"cells": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", "json"),
    # stdlib json (the fallback, as orjson refuses them) decodes lone surrogates SQLite cannot store
    "surrogates.ipynb": (json.dumps({**GOOD, "metadata": {"k\ud800": "\udc00", "papermill": {"parameters": {
        "p": "\ud800"}}}, "cells": [{**GOOD["cells"][0], "id": "\ud800", "source": "x = '\ud800'",
        "metadata": {"tags": ["\udfff"]}, "outputs": [{"output_type": "stream", "name": "stdout", "text": "\ud800"}]},
        {"cell_type": "markdown", "metadata": {}, "source": "# Title \ud800"}]}).encode(), None),
    # orjson reads integers up to 2**64 - 1; SQLite stores up to 2**63 - 1
    "huge_ints.ipynb": (json.dumps({**GOOD, "nbformat_minor": 2 ** 64 - 1, "metadata": {"orig_nbformat": 2 ** 63},
        "cells": [{**GOOD["cells"][0], "execution_count": 2 ** 63, "metadata": {"papermill": {"duration": 2 ** 64 - 1}},
                   "outputs": [{"output_type": "execute_result", "execution_count": 2 ** 63, "metadata": {},
                                "data": {"text/plain": "1"}}]}]}).encode(), None),
    "odd_items.ipynb": (json.dumps({**GOOD, "cells": [{**GOOD["cells"][0], "id": 7, "source": ["x = ", 2, None]}]}
                                   ).encode(), None),
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
    # names that are not UTF-8 (Python keeps their bytes as lone surrogates, which SQLite cannot store)
    (root / os.fsdecode(b"bad\xff.ipynb")).write_bytes(json.dumps(GOOD).encode())
    (root / os.fsdecode(b"dir\xfe")).mkdir()
    (root / os.fsdecode(b"dir\xfe") / "inside.ipynb").write_bytes(json.dumps(GOOD).encode())
    for skipped in (".ipynb_checkpoints", ".hidden", "node_modules", "venv"):
        (root / skipped).mkdir()
        (root / skipped / "skipped.ipynb").write_bytes(json.dumps(GOOD).encode())


EXPECTED_ERRORS = {name: kind for name, (_, kind) in HOSTILE.items() if kind} | {
    "fifo.ipynb": "not_a_file", "loop_a.ipynb": "unreadable", "loop_b.ipynb": "unreadable",
    "dangling.ipynb": "unreadable", "bad\\xff.ipynb": "bad_name", "dir\\xfe/inside.ipynb": "bad_name"}


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
    assert huge == OUTPUT_TEXT_LIMIT  # 30,000,000 characters, cut there, the full length in the warnings
    with open_db(db) as conn:
        warned = json.loads(conn.execute("SELECT warnings FROM notebooks WHERE path = 'huge_output.ipynb'").fetchone()[0])
    assert warned == [f"cell 0 output 0 text has 30,000,000 characters; stored cut to the first {OUTPUT_TEXT_LIMIT:,}"]
    assert tuple(bad) == (1, "not base64 at all!", None)
    assert "symlink loop" in dict(zip(errors, messages))["loop_a.ipynb"]


def test_text_and_numbers_sqlite_cannot_store_are_repaired_with_warnings(tmp_path):
    for name in ("surrogates.ipynb", "huge_ints.ipynb", "odd_items.ipynb"):
        (tmp_path / name).write_bytes(HOSTILE[name][0])
    nbsql.load(tmp_path, tmp_path / "nb.db")
    with open_db(tmp_path / "nb.db") as conn:
        warnings = {r[0]: json.loads(r[1]) for r in conn.execute("SELECT path, warnings FROM notebooks")}
        notebook = conn.execute("SELECT title, metadata, nbformat_minor, orig_nbformat FROM notebooks "
                                "WHERE path = 'surrogates.ipynb'").fetchone()
        cell = conn.execute("SELECT c.source, c.tags, c.cell_id, o.text FROM cells c JOIN outputs o ON o.cell = c.id "
                            "JOIN notebooks n ON n.id = c.notebook WHERE n.path = 'surrogates.ipynb'").fetchone()
        numbers = conn.execute("SELECT n.nbformat_minor, n.orig_nbformat, c.execution_count, c.papermill_duration, "
                               "o.execution_count FROM notebooks n JOIN cells c ON c.notebook = n.id "
                               "JOIN outputs o ON o.cell = c.id WHERE n.path = 'huge_ints.ipynb'").fetchone()
        odd = conn.execute("SELECT c.source, c.cell_id FROM cells c JOIN notebooks n ON n.id = c.notebook "
                           "WHERE n.path = 'odd_items.ipynb'").fetchone()
    assert tuple(cell) == ("x = '\ufffd'", '["\ufffd"]', "\ufffd", "\ufffd")
    assert notebook["title"] == "Title \ufffd" and json.loads(notebook["metadata"])["k\ufffd"] == "\ufffd"
    assert warnings["surrogates.ipynb"] == ["lone UTF-16 surrogate escapes (\\ud800-\\udfff) replaced with U+FFFD"]
    assert tuple(numbers) == (None, 4, None, None, None)
    assert "'nbformat_minor' is an integer out of the 64-bit range; ignored" in warnings["huge_ints.ipynb"]
    assert "cell 0 execution_count is an integer out of the 64-bit range; ignored" in warnings["huge_ints.ipynb"]
    assert tuple(odd) == ("x = 2null", None)
    assert warnings["odd_items.ipynb"] == ["cell 0 id is a number, not a string; ignored",
                                           "cell 0 source holds items that are not text; joined as JSON"]


def test_a_folder_reached_through_a_symlink_is_stored_once(tmp_path):
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "a.ipynb").write_bytes(json.dumps(GOOD).encode())
    os.symlink("repo", tmp_path / "alias")
    db = tmp_path / "nb.db"
    nbsql.load(tmp_path / "repo", db)
    report = nbsql.load([tmp_path / "alias", tmp_path / "repo"], db)
    assert (report.seen, report.unchanged) == (1, 1)
    with open_db(db) as conn:
        assert [tuple(r) for r in conn.execute("SELECT root, path FROM notebooks")] == [
            (str((tmp_path / "repo").resolve()), "a.ipynb")]


def test_a_database_symlink_stays_a_symlink(tmp_path):
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "a.ipynb").write_bytes(json.dumps(GOOD).encode())
    os.symlink("target.db", tmp_path / "link.db")  # its target does not exist yet
    nbsql.load(tmp_path / "repo", tmp_path / "link.db")
    assert (tmp_path / "link.db").is_symlink()
    with open_db(tmp_path / "target.db") as conn:
        assert conn.execute("SELECT count(*) FROM notebooks").fetchone()[0] == 1


def test_unreadable_file_is_recorded(tmp_path):
    """An unreadable file is a load error, not a crash.

    Root reads any file, so as root the load runs without the capabilities that bypass
    permissions (util-linux's setpriv drops them from the bounding set).
    """
    (tmp_path / "ok.ipynb").write_bytes(json.dumps(GOOD).encode())
    secret = tmp_path / "secret.ipynb"
    secret.write_bytes(json.dumps(GOOD).encode())
    db = tmp_path / "nb.db"
    command = [sys.executable, "-m", "nbsql", "load", str(tmp_path), "--db", str(db), "--quiet"]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        assert setpriv, "util-linux's setpriv is needed to drop root's file capabilities"
        command = [setpriv, "--bounding-set=-dac_override,-dac_read_search", *command]
    for readable in (True, False):  # loaded while readable, then unreadable: as a clean load would have it
        if not readable:
            secret.chmod(0)
        result = subprocess.run(command, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT path, kind, message FROM load_errors").fetchall()
        assert conn.execute("SELECT path FROM notebooks").fetchall() == [("ok.ipynb",)]
    assert rows == [("secret.ipynb", "unreadable", "cannot read: Permission denied")]
    named = [str(secret), str(tmp_path / "ok.ipynb")]  # named on the command line: the same, not a usage error
    result = subprocess.run([*command[:command.index("load") + 1], *named, "--db", str(tmp_path / "named.db"),
                             "--quiet"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(tmp_path / "named.db") as conn:
        assert conn.execute("SELECT path, kind FROM load_errors").fetchall() == [("secret.ipynb", "unreadable")]


def test_missing_path_and_non_sqlite_database_are_user_errors(tmp_path):
    with pytest.raises(nbsql.NbsqlError, match="no such file or folder"):
        nbsql.load(tmp_path / "nope", tmp_path / "nb.db")
    (tmp_path / os.fsdecode(b"not\xffutf8")).mkdir()
    with pytest.raises(nbsql.NbsqlError, match=r"the path is not valid UTF-8: .*not\\xffutf8"):
        nbsql.load(tmp_path / os.fsdecode(b"not\xffutf8"), tmp_path / "nb.db")
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
    assert (row.data, row.invalid_base64) == ((decoded, 0) if decoded else (None, 1))


def test_invalid_base64_bytes_stay_recoverable():
    data = base64.b64encode(b"\x89PNG\r\n\x1a\nrest").decode()
    rows = nbsql.process_bytes(with_output({"output_type": "display_data", "metadata": {},
                                            "data": {"image/png": data[:10] + "\n" + data[10:]}}))
    (row,) = rows.tables["output_data"]
    assert row.data == b"\x89PNG\r\n\x1a\nrest" and row.invalid_base64 == 0


def _cells_notebook(*cells: tuple[str, str], outputs: list | None = None) -> str:
    """A notebook of (cell_type, source) cells; code cells unexecuted, the last one given ``outputs``."""
    code = [{"outputs": [], "execution_count": None}] * (len(cells) - 1) + [
        {"outputs": outputs or [], "execution_count": 1 if outputs else None}]
    return json.dumps({"nbformat": 4, "nbformat_minor": 4, "metadata": {"kernelspec": {"name": "python3"}},
                       "cells": [{"cell_type": kind, "metadata": {}, "source": source,
                                  **(extra if kind == "code" else {})}
                                 for (kind, source), extra in zip(cells, code)]})


_DUPLICATE = "\n".join(f"value_{i} = {i} * 2" for i in range(5))
#: Notebooks on which a pattern with nested or unbounded repetition, or a loop over all cells for
#: each cell, takes quadratic (or worse) time: at these sizes, minutes to hours; when linear, seconds.
PATHOLOGICAL = {
    "spaces_in_heading": _cells_notebook(("markdown", "# a" + " " * 1_000_000 + "b")),
    "unclosed_html_headings": _cells_notebook(("markdown", "<h1>" * 250_000)),
    "html_heading_tags_without_end": _cells_notebook(("markdown", "<h2 " * 250_000)),
    "backticks": _cells_notebook(("markdown", "<h1>x</h1>\n\n" + "`" * 1_000_000)),
    "urls_without_password": _cells_notebook(("code", "x = '" + "http://" * 150_000 + "'")),
    "unclosed_terminal_titles": _cells_notebook(("code", "fail()"), outputs=[{
        "output_type": "error", "ename": "E", "evalue": "", "traceback": ["\x1b]" * 300_000]}]),
    "unexecuted_cells_then_an_executed_one": _cells_notebook(*[("code", f"y = {i}") for i in range(20_000)],
                                                             outputs=[{"output_type": "stream", "name": "stdout",
                                                                       "text": "done"}]),
    "rebinding_in_a_long_try": _cells_notebook(("code", "import os\ntry:\n" + "    os = os.path\n" * 10_000
                                                + "except Exception:\n    pass")),
    "numpy_under_many_names": _cells_notebook(("code", "".join(f"import numpy as n{i}\nn{i}.random.rand()\n"
                                                                 for i in range(1_000)) + "n0.random.default_rng()")),
    "copies_of_a_cell": _cells_notebook(*[("code", _DUPLICATE)] * 30_000),
    "one_more_copy": _cells_notebook(("code", _DUPLICATE)),
}


def test_pathological_notebooks_load_in_linear_time(tmp_path):
    """Not a timing test: with a quadratic pattern or loop, these take minutes to hours; the
    generous limit only turns such a hang into a failure."""
    folder = tmp_path / "nbs"
    folder.mkdir()
    for name, text in PATHOLOGICAL.items():
        (folder / f"{name}.ipynb").write_text(text, encoding="utf-8")
    code = ("import nbsql, sys; r = nbsql.load(sys.argv[1], sys.argv[2], jobs=1); "
            "print(r.loaded, r.failed)")
    done = subprocess.run([sys.executable, "-c", code, str(folder), str(tmp_path / "nb.db")],
                          capture_output=True, text=True, timeout=150)
    assert done.stdout.split() == [str(len(PATHOLOGICAL)), "0"], done.stderr[-2000:]


def test_json_columns_stay_valid_json_with_huge_integers_and_nan(tmp_path):
    """orjson refuses integers beyond 64 bits; the stdlib, its fallback, writes NaN as bare NaN."""
    huge, nan = "123456789012345678901234567890", "NaN"
    text = ('{"nbformat": 4, "nbformat_minor": 4, "metadata": {"big": %s, "v": %s, "w": -Infinity}, "cells": ['
            '{"cell_type": "code", "execution_count": 1, "metadata": {"big": %s, "v": [%s]}, "source": "x", '
            '"outputs": [{"output_type": "display_data", "metadata": {}, '
            '"data": {"application/json": {"big": %s, "v": %s}}}]}]}') % (huge, nan, huge, nan, huge, nan)
    (tmp_path / "nbs").mkdir()
    (tmp_path / "nbs" / "odd.ipynb").write_text(text, encoding="utf-8")
    assert nbsql.load(tmp_path / "nbs", tmp_path / "nb.db").loaded == 1
    with sqlite3.connect(tmp_path / "nb.db") as conn:
        assert conn.execute("SELECT json_valid(metadata), json_extract(metadata, '$.v'), "
                            "json_extract(metadata, '$.big') > 1e29 FROM notebooks").fetchone() == (1, None, 1)
        assert conn.execute("SELECT json_valid(metadata), json_extract(metadata, '$.v[0]') FROM cells"
                            ).fetchone() == (1, None)
        assert conn.execute("SELECT json_valid(text) FROM output_data WHERE mime = 'application/json'"
                            ).fetchone() == (1,)
