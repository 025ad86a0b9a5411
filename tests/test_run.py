"""nbsql run with real kernels (ipykernel's python3) on the sample notebooks of tests/fixtures/run:
what each run records, the originals left untouched, the limits, the sandbox, Ctrl-C.

The fixture notebooks run once for the module (``runs``); tests needing other options run their own.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner

import nbsql
from nbsql.cli import cli
from nbsql.schema import SCHEMA_VERSION

FIXTURES = Path(__file__).parent / "fixtures" / "run"
FAKE_TOKEN = "NBSQL_TEST_FAKE_API_TOKEN"


def _digests(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _python_notebook() -> nbformat.NotebookNode:
    """An empty notebook whose kernelspec names python3."""
    return nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "language": "python",
                                                             "display_name": "Python 3"}})


def _query(db: Path, sql: str, *params) -> list[sqlite3.Row]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute(sql, params).fetchall()


def _own_copy(runs, tmp_path) -> Path:
    """The shared runs' database, copied for a test that runs more into it."""
    db = tmp_path / "runs.db"
    shutil.copy(runs["db"], db)
    return db


def _run_of(db: Path, name: str, order: str = "cells") -> sqlite3.Row:
    rows = _query(db, "SELECT e.* FROM executions e JOIN notebooks n ON n.id = e.notebook WHERE n.name = ? AND "
                      "e.cell_order = ? ORDER BY e.id DESC", name, order)
    assert rows, f"{name} has no run"
    return rows[0]


def _cells_of(db: Path, run_id: int) -> list[sqlite3.Row]:
    return _query(db, "SELECT * FROM execution_cells WHERE execution = ? ORDER BY step", run_id)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The fixture folder copied and run once (a short cell timeout for the one that hangs), with a
    fake token in the environment; the folder's digests before and after."""
    base = tmp_path_factory.mktemp("run")
    folder = base / "notebooks"
    shutil.copytree(FIXTURES, folder)
    before = _digests(folder)
    os.environ[FAKE_TOKEN] = "secret-value-that-must-not-leak"
    try:
        report = nbsql.run(folder, base / "runs.db", jobs=2, cell_timeout=5)
    finally:
        del os.environ[FAKE_TOKEN]
    return {"db": base / "runs.db", "folder": folder, "before": before, "after": _digests(folder), "report": report,
            "base": base}


def test_originals_are_never_touched(runs):
    assert runs["after"] == runs["before"]
    assert not (runs["base"] / "escaped.txt").exists(), "a write to the folder's parent reached the original's"
    written = _run_of(runs["db"], "writes_outside.ipynb")
    assert written["status"] == "ok", "the notebook did write: into the copy"


def test_a_clean_notebook_runs_and_reproduces(runs):
    run = _run_of(runs["db"], "clean.ipynb")
    assert (run["status"], run["failure_class"], run["same_results"], run["cells_run"]) == ("ok", None, 1, 4)
    assert run["kernel_name"] == "python3" and run["language_version"].startswith("3.")
    cells = _cells_of(runs["db"], run["id"])
    assert [c["position"] for c in cells] == [1, 2, 3, 4]
    assert {c["comparison"] for c in cells} == {"same"}, "the memory address in cell 4 is masked"
    assert json.loads(cells[1]["outputs"]) == [{"output_type": "stream", "name": "stdout", "text": "total: 10\n"}]


def test_a_notebook_failing_at_cell_3(runs):
    run = _run_of(runs["db"], "fails_at_cell_3.ipynb")
    assert (run["status"], run["failing_cell"], run["exception_name"], run["failure_class"]) == \
        ("error", 3, "ZeroDivisionError", "code")
    assert run["same_results"] is None
    cells = _cells_of(runs["db"], run["id"])
    assert [(c["position"], c["status"]) for c in cells] == [(0, "ok"), (1, "ok"), (2, "ok"), (3, "error")]


def test_a_notebook_that_hangs_times_out(runs):
    run = _run_of(runs["db"], "hangs.ipynb")
    assert (run["status"], run["failure_class"], run["failing_cell"]) == ("timeout", "timeout", 1)


def test_a_nondeterministic_notebook_differs(runs):
    run = _run_of(runs["db"], "nondeterministic.ipynb")
    assert (run["status"], run["same_results"], run["cells_different"]) == ("ok", 0, 2)
    cells = _cells_of(runs["db"], run["id"])
    assert [(c["comparison"], c["differences"]) for c in cells[1:]] == [("different", '["text"]')] * 2


def test_a_notebook_needing_a_parameter(runs, tmp_path):
    run = _run_of(runs["db"], "needs_parameter.ipynb")
    assert (run["status"], run["exception_name"], run["parameters"]) == ("error", "AssertionError", None)
    notebook, db = runs["folder"] / "needs_parameter.ipynb", _own_copy(runs, tmp_path)
    result = CliRunner().invoke(cli, ["run", str(notebook), "--db", str(db), "-p", "threshold", "21", "-q"])
    assert result.exit_code == 0, result.output
    run = _run_of(db, "needs_parameter.ipynb")
    assert (run["status"], run["same_results"], json.loads(run["parameters"])) == ("ok", 1, {"threshold": 21})
    assert [c["position"] for c in _cells_of(db, run["id"])] == [0, 1], "the injected cell is not a row"


def test_a_kernel_that_is_not_installed(runs):
    run = _run_of(runs["db"], "julia.ipynb")
    assert (run["status"], run["failure_class"], run["kernel_name"]) == \
        ("kernel-missing", "missing-kernel", "julia-1.9")
    assert _cells_of(runs["db"], run["id"]) == []


def test_kernel_option_overrides_the_kernelspec(runs, tmp_path):
    notebook, db = runs["folder"] / "julia.ipynb", _own_copy(runs, tmp_path)
    result = CliRunner().invoke(cli, ["run", str(notebook), "--db", str(db), "--kernel", "python3", "-q"])
    assert result.exit_code == 0, result.output
    run = _run_of(db, "julia.ipynb")
    assert (run["kernel_name"], run["status"], run["exception_name"]) == ("python3", "error", "NameError")


def test_a_token_in_the_environment_does_not_reach_the_kernel(runs):
    run = _run_of(runs["db"], "writes_outside.ipynb")
    printed = json.loads(_cells_of(runs["db"], run["id"])[1]["outputs"])
    assert printed[0]["text"] == "[]\n", "only allow-listed variables pass"


def test_a_kernel_killed_from_outside_is_crashed(runs):
    run = _run_of(runs["db"], "killed.ipynb")
    assert (run["status"], run["failure_class"], run["failing_cell"]) == ("crashed", "kernel-died", 0)


def test_network_is_off_and_no_process_is_left(tmp_path):
    """A server on the machine's loopback sees no connection from an isolated run (and one from a run
    recorded as not isolated); the process the notebook leaves behind in a session of its own is killed."""
    folder = tmp_path / "net"
    folder.mkdir()
    for name in ("socket.ipynb", "leaves_a_process.ipynb"):
        shutil.copy(FIXTURES / name, folder)
    marker = str(900_000_000 + os.getpid())
    with loopback_server() as (port, connections):
        nbsql.run(folder, tmp_path / "net.db", parameters={"port": port, "marker": marker})
    run = _run_of(tmp_path / "net.db", "socket.ipynb")
    printed = json.loads(_cells_of(tmp_path / "net.db", run["id"])[-1]["outputs"])[0]["text"]
    if run["isolated"]:
        assert connections == [] and printed.startswith("no connection")
    else:
        assert len(connections) == 1 and printed == "connected\n"
        if namespaces_allowed():
            pytest.fail("a network namespace was available but the run was not isolated")
    assert _run_of(tmp_path / "net.db", "leaves_a_process.ipynb")["status"] == "ok"
    assert processes_with_argument(marker) == []


@contextmanager
def loopback_server() -> Iterator[tuple[int, list[socket.socket]]]:
    """A server on the machine's 127.0.0.1: its port, and the connections it accepted."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    connections: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connections.append(server.accept()[0])
            except OSError:
                continue

    listener = threading.Thread(target=accept, daemon=True)
    listener.start()
    try:
        yield server.getsockname()[1], connections
    finally:
        stop.set()
        listener.join()
        server.close()


def namespaces_allowed() -> bool:
    """Whether this machine gives an unprivileged process a network namespace, asked of util-linux's
    ``unshare``, not of nbsql."""
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--net", "true"], capture_output=True)
    return probe.returncode == 0


def processes_with_argument(argument: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if argument.encode() in (entry / "cmdline").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_a_notebook_printing_50_mb_is_bounded(tmp_path):
    """Its outputs are cut at 1 MiB (outputs_cut counts the rest), and nbsql's own process stays small."""
    from nbsql.execute.job import CELL_OUTPUT_LIMIT

    folder = tmp_path / "big"
    folder.mkdir()
    notebook = _python_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("print('x' * 50_000_000)")]
    nbformat.write(notebook, folder / "loud.ipynb")
    # VmHWM: this process's own peak (ru_maxrss would include the pytest worker's, kept across fork and exec)
    code = ("import re, sys, nbsql; nbsql.run(sys.argv[1], sys.argv[2]); "
            "print(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))")
    result = subprocess.run([sys.executable, "-c", code, str(folder), str(tmp_path / "big.db")], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
    peak_kib = int(result.stdout.split()[-1])
    assert peak_kib < 200 * 1024, f"nbsql itself peaked at {peak_kib / 1024:.0f} MiB"
    run = _run_of(tmp_path / "big.db", "loud.ipynb")
    (cell,) = _cells_of(tmp_path / "big.db", run["id"])
    assert run["status"] == "ok"
    kept = json.loads(cell["outputs"])[0]["text"]
    assert len(kept) <= CELL_OUTPUT_LIMIT and cell["outputs_cut"] == 50_000_001 - len(kept)


def test_changed_only_runs_what_changed(runs, tmp_path):
    folder = tmp_path / "changed"
    folder.mkdir()
    shutil.copy(FIXTURES / "clean.ipynb", folder)
    db = tmp_path / "changed.db"
    assert nbsql.run(folder, db).ran == 1
    again = nbsql.run(folder, db, changed_only=True)
    assert (again.ran, again.unchanged) == (0, 1)
    notebook = folder / "clean.ipynb"
    notebook.write_text(notebook.read_text().replace("range(5)", "range(6)"))
    assert nbsql.run(folder, db, changed_only=True).ran == 1
    assert _run_of(db, "clean.ipynb")["same_results"] == 0


def test_both_orders_are_recorded_and_counted(tmp_path):
    """Cells saved out of order: top to bottom they differ, in execution-count order they reproduce."""
    folder = tmp_path / "order"
    folder.mkdir()
    notebook = _python_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("x = 1", execution_count=2),
                      nbformat.v4.new_code_cell("x = 2", execution_count=1),
                      nbformat.v4.new_code_cell("print(x)", execution_count=3, outputs=[
                          nbformat.v4.new_output("stream", name="stdout", text="1\n")])]
    nbformat.write(notebook, folder / "shuffled.ipynb")
    db = tmp_path / "order.db"
    assert CliRunner().invoke(cli, ["run", str(folder), "--db", str(db), "-q"]).exit_code == 0
    result = CliRunner().invoke(cli, ["run", str(folder), "--db", str(db), "-q", "--order", "counts", "--statistics"])
    assert result.exit_code == 0, result.output
    assert (_run_of(db, "shuffled.ipynb")["same_results"], _run_of(db, "shuffled.ipynb", "counts")["same_results"]) \
        == (0, 1)
    assert [(c["position"], c["step"]) for c in _cells_of(db, _run_of(db, "shuffled.ipynb", "counts")["id"])] == \
        [(1, 1), (0, 2), (2, 3)]
    assert "Notebooks run top to bottom: 1" in result.output and "Notebooks run in execution-count order: 1" in \
        result.output


def test_statistics_count_each_failure_class(runs):
    from nbsql.execute.statistics import statistics

    with sqlite3.connect(runs["db"]) as conn:
        (cells,) = [f for f in statistics(conn, runs["report"].notebooks) if f.order == "cells"]
    counts = {line.label.strip(): line.notebooks for line in cells.lines}
    assert cells.notebooks == 10
    assert counts["timeout"] == 1 and counts["missing kernel"] == 1 and counts["kernel died"] == 1
    assert counts["ran without error"] + counts["failed"] == 10


def test_exit_codes(runs, tmp_path):
    clean, failing = str(runs["folder"] / "clean.ipynb"), str(runs["folder"] / "fails_at_cell_3.ipynb")
    db = str(_own_copy(runs, tmp_path))
    assert CliRunner().invoke(cli, ["run", failing, "--db", db, "-q"]).exit_code == 0
    assert CliRunner().invoke(cli, ["run", failing, "--db", db, "-q", "--strict"]).exit_code == 1
    assert CliRunner().invoke(cli, ["run", clean, "--db", db, "-q", "--strict"]).exit_code == 0
    assert CliRunner().invoke(cli, ["run", clean, "--db", db, "--order", "random"]).exit_code == 2
    missing = CliRunner().invoke(cli, ["run", str(runs["folder"] / "nothing-here"), "--db", db])
    assert missing.exit_code == 2 and missing.output.count("\n") == 1 and "no such file" in missing.output


def test_an_older_database_is_rebuilt(tmp_path):
    folder = tmp_path / "old"
    folder.mkdir()
    shutil.copy(FIXTURES / "clean.ipynb", folder)
    db = tmp_path / "old.db"
    nbsql.load(folder, db)
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE execution_cells")
        conn.execute("DROP TABLE executions")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION - 1}")
    assert nbsql.run(folder, db).ran == 1
    assert _query(db, "PRAGMA user_version")[0][0] == SCHEMA_VERSION
    assert _run_of(db, "clean.ipynb")["status"] == "ok"


def test_ctrl_c_kills_the_kernels_and_keeps_finished_runs(tmp_path):
    """A real SIGINT to nbsql run: exit 130, the finished run kept, the hanging one not recorded, and
    nothing it started left running."""
    folder = tmp_path / "interrupted"
    folder.mkdir()
    shutil.copy(FIXTURES / "clean.ipynb", folder)
    marker = str(800_000_000 + os.getpid())
    notebook = _python_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(f"import subprocess, time\nsubprocess.Popen(['sleep', '{marker}'])\n"
                                                "time.sleep(3600)")]
    nbformat.write(notebook, folder / "waits.ipynb")
    db = tmp_path / "interrupted.db"
    process = subprocess.Popen([sys.executable, "-m", "nbsql", "run", str(folder), "--db", str(db), "--jobs", "2"],
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120  # only so that a broken run fails rather than hangs
        while not (_recorded(db, "clean.ipynb") and processes_with_argument(marker)):
            assert time.monotonic() < deadline and process.poll() is None, "the runs never got going"
            time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        assert process.wait(60) == 130, process.stderr.read() if process.stderr else ""
    finally:
        process.kill()
    assert "Interrupted" in (process.stderr.read() if process.stderr else "")
    assert _run_of(db, "clean.ipynb")["status"] == "ok"
    assert not _recorded(db, "waits.ipynb")
    assert processes_with_argument(marker) == []


def _recorded(db: Path, name: str) -> bool:
    try:
        return bool(_query(db, "SELECT 1 FROM executions e JOIN notebooks n ON n.id = e.notebook WHERE n.name = ?",
                           name))
    except sqlite3.Error:
        return False


def test_only_nbsql_run_executes_notebooks():
    """No module outside nbsql/execute imports what runs code (nbclient, jupyter_client, papermill),
    and only the command line's run command and the public API import the runner (the notebook page
    reads the failure classes' labels)."""
    import ast

    package = Path(nbsql.__file__).parent
    runners = {"nbclient", "jupyter_client", "papermill", "nbsql.execute.runner", "nbsql.execute.job",
               "nbsql.execute.zygote"}
    offenders = set()
    for path in package.rglob("*.py"):
        if "execute" in path.relative_to(package).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [("nbsql." if node.level else "") + (node.module or "")]
            for name in names:
                if name == "nbsql.execute" or any(name == r or name.startswith(r + ".") for r in runners):
                    offenders.add(path.relative_to(package).as_posix())
    assert offenders == {"__init__.py", "cli.py"}


def _page(db: Path, path: str):
    import asyncio

    from datasette.app import Datasette

    from nbsql.metadata import datasette_metadata

    datasette = Datasette([str(db)], metadata=datasette_metadata(db.stem))
    return asyncio.run(datasette.client.get(path))


def _notebook_id(db: Path, name: str) -> int:
    return _query(db, "SELECT id FROM notebooks WHERE name = ?", name)[0][0]


def test_the_notebook_page_shows_the_run(runs):
    db = runs["db"]
    pages = {name: _page(db, f"/-/nbsql/notebooks/{_notebook_id(db, name)}").text
             for name in ("clean.ipynb", "nondeterministic.ipynb", "fails_at_cell_3.ipynb")}
    assert 'nbsql-run-reproduced">reproduced' in pages["clean.ipynb"] and "this run" not in pages["clean.ipynb"]
    assert re.search(r"\):\s+4 cells ran, 0 with other outputs", pages["clean.ipynb"])
    differs = pages["nondeterministic.ipynb"]
    assert 'nbsql-run-differs">differs' in differs and differs.count('<p class="nbsql-compare-label">this run') == 2
    assert "1733389200.123456" in differs, "the saved output stays beside the new one"
    fails = pages["fails_at_cell_3.ipynb"]
    assert 'nbsql-run-fails">fails' in fails and "ZeroDivisionError" in fails and 'href="#cell-3"' in fails
    assert "run: error in" in fails


def test_a_run_s_new_outputs_are_rendered_safely(tmp_path):
    folder = tmp_path / "hostile"
    folder.mkdir()
    notebook = _python_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(
        "from IPython.display import HTML, SVG, display\n"
        "display(HTML('<script>alert(1)</script><b onclick=\"steal()\">bold</b><img src=x onerror=\"steal()\">'))\n"
        "display(SVG('<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(2)</script></svg>'))")]
    nbformat.write(notebook, folder / "hostile.ipynb")
    db = tmp_path / "hostile.db"
    nbsql.run(folder, db)
    page = _page(db, f"/-/nbsql/notebooks/{_notebook_id(db, 'hostile.ipynb')}")
    new = page.text.split('<div class="nbsql-compare-side nbsql-compare-new">', 1)[1].split("</div>\n      </div>")[0]
    assert page.status_code == 200 and "<b>bold</b>" in new
    assert "<script" not in new and "steal()" not in new, "no script, no handler survives"
    assert 'src="data:image/svg+xml;base64,' in new, "SVG only ever as an image"
    assert "script-src 'none'" in page.headers["content-security-policy"]


def test_a_notebook_never_run_says_so(runs, tmp_path):
    folder = tmp_path / "never"
    folder.mkdir()
    shutil.copy(FIXTURES / "clean.ipynb", folder)
    db = tmp_path / "never.db"
    nbsql.load(folder, db)
    assert 'nbsql-run-none">not run' in _page(db, f"/-/nbsql/notebooks/{_notebook_id(db, 'clean.ipynb')}").text


@pytest.mark.parametrize("name", ["latest_runs", "run_outcomes", "missing_modules", "cells_that_differ"])
def test_the_run_queries_answer(runs, tmp_path, name):
    db = _own_copy(runs, tmp_path)
    if name == "missing_modules":  # no fixture imports a missing module: one does now
        folder = tmp_path / "missing"
        folder.mkdir()
        notebook = _python_notebook()
        notebook.cells = [nbformat.v4.new_code_cell("import no_such_package_anywhere")]
        nbformat.write(notebook, folder / "missing.ipynb")
        nbsql.run(folder, db)
        assert _run_of(db, "missing.ipynb")["missing_module"] == "no_such_package_anywhere"
    response = _page(db, f"/{db.stem}/{name}.json?_shape=array")
    assert response.status_code == 200, response.text
    assert response.json(), f"{name} found nothing"


def test_the_readme_example_is_true(tmp_path, monkeypatch):
    """The README's nbsql run example prints the table the README shows."""
    import re

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    command, shown = re.search(r"```bash\n(nbsql run [^\n]*)\n```\n.*?```text\n(.*?)```", readme, re.S).groups()
    shutil.copytree(Path(__file__).resolve().parents[1] / "sample_notebooks", tmp_path / "sample_notebooks")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NBSQL_DB", raising=False)
    result = subprocess.run([sys.executable, "-m", "nbsql", *command.split()[1:]], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    table, summary = shown.rsplit("\n", 2)[0] + "\n", shown.rstrip("\n").rsplit("\n", 1)[1]
    assert result.stdout == table
    pattern = re.escape(summary).replace(re.escape("4.8s (62 notebooks/min)"), r"[\d.]+s \(\d+ notebooks/min\)")
    assert re.fullmatch(pattern + "\n", result.stderr), result.stderr


def test_run_rows_are_written_by_column_name(tmp_path, monkeypatch):
    """With the run tables' columns reversed in the database (the row types keep their order), every
    value lands in its column."""
    import dataclasses

    from nbsql import schema

    folder = tmp_path / "by-name"
    folder.mkdir()
    shutil.copy(FIXTURES / "fails_at_cell_3.ipynb", folder)
    nbsql.run(folder, tmp_path / "normal.db")
    tables = tuple(dataclasses.replace(t, columns=t.columns[::-1]) if t.name in schema.RUN_TABLES else t
                   for t in schema.TABLES)
    monkeypatch.setattr(schema, "TABLES", tables)  # what schema.create makes
    nbsql.run(folder, tmp_path / "reversed.db")
    varying = {"started", "seconds", "outputs"}  # times, and the traceback's cell number (In[4])
    for name in schema.RUN_TABLES:
        columns = [c for c in schema.TABLE[name].column_names if c not in varying]
        rows = [[tuple(row) for row in _query(tmp_path / db, f"SELECT {', '.join(columns)} FROM {name} ORDER BY id")]
                for db in ("normal.db", "reversed.db")]
        assert rows[0] == rows[1] and rows[0], name


def test_the_kernel_s_memory_is_capped(tmp_path):
    """RLIMIT_AS is set on the kernel: it sees the limit, and a larger allocation is a MemoryError,
    classed out-of-memory."""
    folder = tmp_path / "memory"
    folder.mkdir()
    notebook = _python_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("import resource\nprint(resource.getrlimit(resource.RLIMIT_AS)[0])"),
                      nbformat.v4.new_code_cell("block = bytearray(3 * 1024 ** 3)")]
    nbformat.write(notebook, folder / "greedy.ipynb")
    db = tmp_path / "memory.db"
    nbsql.run(folder, db, memory_limit=2 * 1024 ** 3)
    run = _run_of(db, "greedy.ipynb")
    cells = _cells_of(db, run["id"])
    assert json.loads(cells[0]["outputs"])[0]["text"] == f"{2 * 1024 ** 3}\n"
    assert (run["status"], run["exception_name"], run["failure_class"], run["failing_cell"]) == \
        ("error", "MemoryError", "out-of-memory", 1)
