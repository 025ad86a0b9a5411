"""Documentation generated from the code stays in sync, and every README example runs."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys

import pytest
from click.testing import CliRunner

from nbsql import schema
from nbsql.cli import cli

from .conftest import REPO, SAMPLES

sys.path.insert(0, str(REPO / "docs"))
import generate  # noqa: E402

README = (REPO / "README.md").read_text()


def test_readme_generated_sections_are_current():
    assert generate.render_readme(README) == README, "run: python docs/generate.py"


def test_rules_doc_is_current():
    assert (REPO / "docs" / "rules.md").read_text() == generate.render_rules(), "run: python docs/generate.py"


def test_metadata_json_is_current_and_describes_every_column():
    text = (REPO / "metadata.json").read_text()
    assert text == generate.render_metadata(), "run: python docs/generate.py"
    tables = json.loads(text)["databases"]["notebooks"]["tables"]
    for table in schema.TABLES:
        assert tables[table.name]["description"]
        assert set(tables[table.name]["columns"]) == set(table.column_names)
        assert all(tables[table.name]["columns"].values())
    with sqlite3.connect(":memory:") as conn:
        schema.create(conn)
        for view in schema.VIEWS:
            assert tables[view.name]["description"] and all(tables[view.name]["columns"].values())
            actual = [row[1] for row in conn.execute(f"PRAGMA table_info({view.name})")]
            assert list(tables[view.name]["columns"]) == actual, view.name
        fts = [row[1] for row in conn.execute(f"PRAGMA table_info({schema.FTS_TABLE})")]
        assert list(tables[schema.FTS_TABLE]["columns"]) == fts


def test_every_table_and_column_has_an_sql_comment(samples_db):
    with sqlite3.connect(samples_db) as conn:
        stored = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type IN ('table', 'view')"))
        assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
        for table in schema.TABLES:
            sql = stored[table.name]
            assert f"CREATE TABLE {table.name} ( -- {table.description}" in sql
            actual = [row[1] for row in conn.execute(f"PRAGMA table_info({table.name})")]
            assert actual == list(table.column_names)
            for column in table.columns:
                line = next(l for l in sql.splitlines() if l.strip().startswith(column.name + " "))
                assert "-- " in line and line.split("-- ", 1)[1].strip(), (table.name, column.name)
        for view in schema.VIEWS:
            assert "-- " in stored[view.name]
        foreign = {(t.name, c.name) for t in schema.TABLES for c in t.columns if c.references}
        indexed = {(r[2], conn.execute(f"PRAGMA index_info({r[1]})").fetchone()[2])
                   for r in conn.execute("SELECT type, name, tbl_name FROM sqlite_master WHERE type = 'index'")
                   if not r[1].startswith("sqlite_autoindex")}
        assert foreign <= indexed


def test_every_command_has_help():
    for name, command in cli.commands.items():
        assert command.help, name
        for parameter in command.params:
            if isinstance(parameter, __import__("click").Option):
                assert parameter.help, (name, parameter.name)


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, re.S)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    shutil.copytree(SAMPLES, tmp_path / "sample_notebooks")
    shutil.copy(REPO / "metadata.json", tmp_path / "metadata.json")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NBSQL_DB", raising=False)
    return tmp_path


def test_readme_shell_examples_run(workdir):
    commands = [line for block in _blocks("bash") for line in block.splitlines()
                if line.startswith("nbsql ") and not line.startswith("nbsql serve")]  # serve: test_serve.py
    assert len(commands) >= 4
    for line in commands:
        result = CliRunner().invoke(cli, shlex.split(line)[1:])
        assert result.exit_code == 0, (line, result.output)
    with sqlite3.connect(workdir / "notebooks.db") as conn:
        assert conn.execute("SELECT count(*) FROM notebooks").fetchone()[0] == 10
    (serve,) = [line for block in _blocks("bash") for line in block.splitlines() if line.startswith("datasette ")]
    datasette = shutil.which("datasette") or pytest.fail("datasette is not installed")
    result = subprocess.run([datasette, *shlex.split(serve)[1:], "--get", "/notebooks/cells.json?_search=import"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["rows"], "the search box of the cells table finds cells"


def test_readme_configuration_example_is_valid():
    from nbsql.health.config import settings_from, tomllib

    (block,) = _blocks("toml")
    settings = settings_from(tomllib.loads(block)["tool"]["nbsql"], "README.md")
    assert settings.fail_on == "error" and settings.limits("NB113")["max_lines"] == 80
    assert settings.ignored_for("scratch/a.ipynb") >= {"NB001", "NB201"}


def test_pre_commit_hook_entry_runs(workdir):
    entry = re.search(r"entry: (.+)", (REPO / ".pre-commit-hooks.yaml").read_text()).group(1)
    (workdir / ".git").mkdir()
    args = shlex.split(entry)[1:] + ["sample_notebooks/analysis/sales_analysis.ipynb"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code in (0, 1) and "sales_analysis.ipynb" in result.output
    assert (workdir / ".git" / "nbsql-pre-commit.db").exists()


def test_readme_quick_start_command_runs(workdir):
    """The quick start's load step, as a real process (the install step is what CI does)."""
    result = subprocess.run([sys.executable, "-m", "nbsql", "load", "sample_notebooks"], capture_output=True,
                            text=True, env={k: v for k, v in os.environ.items() if k != "NBSQL_DB"})
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"notebooks\.db: 10 loaded, 0 unchanged, 0 removed, 1 failed in [\d.]+s \(\d+ notebooks/s\)\n"
                        r"1 file\(s\) could not be loaded, e\.g\. sample_notebooks/legacy/half_saved\.ipynb: truncated JSON: .*; "
                        r"see the load_errors table\n", result.stderr)


def test_readme_python_examples_run(workdir, capsys):
    blocks = _blocks("python")
    assert len(blocks) >= 3
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "10 loaded" in out and "analysis/sales_analysis.ipynb" in out


def test_readme_serve_example_runs(workdir):
    """`nbsql serve --open` as the README shows it (BROWSER=true stands in for a browser)."""
    import socket
    import time
    import urllib.request

    (line,) = [line for block in _blocks("bash") for line in block.splitlines() if line.startswith("nbsql serve")]
    assert CliRunner().invoke(cli, ["load", "sample_notebooks", "-q"]).exit_code == 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k != "NBSQL_DB"} | {"BROWSER": "true"}
    server = subprocess.Popen([sys.executable, "-m", "nbsql", *shlex.split(line)[1:], "--port", str(port)],
                              env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 20
        while True:
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/notebooks/notebooks", timeout=1).read()
                break
            except OSError:
                assert time.time() < deadline, "nbsql serve never answered"
                time.sleep(0.2)
        assert b"sales_analysis.ipynb" in page
    finally:
        server.terminate()
        server.wait(10)


def test_gitignore_covers_what_a_load_leaves_in_the_checkout(workdir):
    """A load in the checkout leaves the database, its WAL files and its lock file: git ignores them all."""
    assert CliRunner().invoke(cli, ["load", "sample_notebooks", "-q"]).exit_code == 0
    left = sorted(p.name for p in workdir.glob("notebooks.db*"))
    assert "notebooks.db.lock" in left
    leftovers = left + ["notebooks.db-wal", "notebooks.db-shm", "notebooks.db.building-123", "other.db.lock"]
    ignored = subprocess.run(["git", "check-ignore", "--no-index", *leftovers], cwd=REPO, capture_output=True,
                             text=True).stdout.split()
    assert ignored == leftovers
