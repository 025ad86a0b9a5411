"""The command line through click's runner; results checked through the database."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

from click.testing import CliRunner

from nbsql.cli import cli

from .conftest import BROKEN_SAMPLE, SAMPLES


def run(*args: str, env: dict | None = None):
    return CliRunner().invoke(cli, list(args), env=env)


def test_load_and_summary(tmp_path):
    db = tmp_path / "nb.db"
    result = run("load", str(SAMPLES), "--db", str(db))
    assert result.exit_code == 0, result.output
    assert "10 loaded, 0 unchanged, 0 removed, 1 failed" in result.output and BROKEN_SAMPLE in result.output
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM notebooks").fetchone()[0] == 10
        (roots, options, seen, loaded) = conn.execute("SELECT roots, options, seen, loaded FROM loads").fetchone()
    assert json.loads(roots) == [str(SAMPLES)] and json.loads(options)["prune"] is True and (seen, loaded) == (11, 10)
    again = run("load", str(SAMPLES), "--db", str(db))
    assert "0 loaded, 10 unchanged" in again.output


def test_database_from_the_environment(tmp_path):
    db = tmp_path / "env.db"
    assert run("load", str(SAMPLES), "-q", env={"NBSQL_DB": str(db)}).exit_code == 0
    assert db.exists()


def test_quiet_prints_nothing(tmp_path):
    result = run("load", str(SAMPLES), "--db", str(tmp_path / "nb.db"), "--quiet")
    assert result.exit_code == 0 and result.output == ""


def test_failures_exit_0_and_strict_exits_1(tmp_path):
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "broken.ipynb").write_text("{not json")
    (tmp_path / "repo" / "ok.ipynb").write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                                                            "cells": []}))
    db = str(tmp_path / "nb.db")
    result = run("load", str(tmp_path / "repo"), "--db", db)
    assert result.exit_code == 0
    assert "1 file(s) could not be loaded" in result.output and "load_errors" in result.output
    assert run("load", str(tmp_path / "repo"), "--db", db, "--strict").exit_code == 1


def test_user_errors_are_one_line_with_exit_2(tmp_path):
    missing = run("load", str(tmp_path / "missing"), "--db", str(tmp_path / "nb.db"))
    assert missing.exit_code == 2 and missing.output.count("\n") == 1 and "no such file" in missing.output
    text = tmp_path / "notes.db"
    text.write_text("not sqlite")
    bad = run("load", str(SAMPLES), "--db", str(text))
    assert bad.exit_code == 2 and bad.output == f"Error: {text} is not a SQLite database\n"
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"SQLite format 3\x00\x10\x00\x01\x01" + b"\xff" * 5000)
    damaged = run("load", str(SAMPLES), "--db", str(corrupt))
    assert damaged.exit_code == 2 and damaged.output.startswith(f"Error: {corrupt} is damaged") and damaged.output.count("\n") == 1
    assert run("load").exit_code == 2
    unknown = run("rules", "NB999")  # every command maps user errors alike
    assert unknown.exit_code == 2 and unknown.output == "Error: no rule 'NB999' (see 'nbsql rules')\n"
    if hasattr(os, "mkfifo"):  # reading a pipe waits for a writer: it must not be opened at all
        os.mkfifo(tmp_path / "pipe.db")
        piped = run("load", str(SAMPLES), "--db", str(tmp_path / "pipe.db"))
        assert piped.exit_code == 2 and piped.output == f"Error: {tmp_path / 'pipe.db'} is not a regular file, so " \
            "not a database file\n"


def test_exclude_and_jobs(tmp_path):
    db = tmp_path / "nb.db"
    assert run("load", str(SAMPLES), "--db", str(db), "--exclude", "legacy", "--exclude", "*Untitled*",
               "--jobs", "1").exit_code == 0
    with sqlite3.connect(db) as conn:
        paths = {r[0] for r in conn.execute("SELECT path FROM notebooks")}
    assert paths and not any(p.startswith("legacy/") or "Untitled" in p for p in paths)


def test_schema_command_formats():
    sql = run("schema").output
    assert "CREATE TABLE notebooks" in sql and "CREATE VIRTUAL TABLE cells_fts" in sql
    assert json.loads(run("schema", "--format", "metadata").output)["databases"]["notebooks"]["tables"]
    assert run("schema", "--format", "markdown").output.startswith("### `notebooks`")


def test_python_dash_m_and_version():
    result = subprocess.run([sys.executable, "-m", "nbsql", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("nbsql, version ")


def test_progress_bar_on_a_terminal_only(tmp_path):
    import os
    import pty

    main, secondary = pty.openpty()
    command = [sys.executable, "-m", "nbsql", "load", str(SAMPLES), "--db", str(tmp_path / "nb.db")]
    process = subprocess.run(command, stderr=secondary, stdout=subprocess.DEVNULL)
    os.close(secondary)
    output = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    os.close(main)
    assert process.returncode == 0
    assert b"Loading notebooks" in output and b"10 loaded" in output
    piped = subprocess.run(command, capture_output=True, text=True)
    assert "Loading notebooks" not in piped.stderr and "10 unchanged" in piped.stderr


def test_a_report_that_cannot_be_written_is_a_one_line_error(samples_db, tmp_path):
    nbsql = [sys.executable, "-m", "nbsql"]
    for command in (["health", "--db", str(samples_db)], ["search", "plot", "--db", str(samples_db)]):
        with open("/dev/full", "w") as full:  # writes fail with "No space left on device"
            result = subprocess.run(nbsql + command, stdout=full, stderr=subprocess.PIPE, text=True)
        assert result.returncode == 2
        assert result.stderr == "Error: cannot write the output: No space left on device\n"
    small = ["health", "--db", str(samples_db), "--select", "NB201"]  # a report that fits in any buffer
    for command, out in ((small + ["-o", "/dev/full"], None), (small, "/dev/full"),
                         (small + ["-o", str(tmp_path / "missing" / "report.txt")], None)):
        with open(out or os.devnull, "w") as stdout:
            result = subprocess.run(nbsql + command, stdout=stdout, stderr=subprocess.PIPE, text=True)
        assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
        assert result.stderr.startswith("Error: cannot write ")
