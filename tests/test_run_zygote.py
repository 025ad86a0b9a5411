"""The zygote that forks nbsql run's jobs, with real kernels: what a job inherits, a job killed from
inside or past its deadline, the runner killed, and --network.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat

import nbsql
from nbsql.execute import isolation, runner

from .test_run import FIXTURES, _cells_of, _python_notebook, _run_of, loopback_server, processes_with_argument

SECRET = "NBSQL_TEST_ZYGOTE_SECRET"


def _folder_with(tmp_path: Path, name: str, *sources: str) -> Path:
    folder = tmp_path / "notebooks"
    folder.mkdir()
    notebook = _python_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    nbformat.write(notebook, folder / name)
    return folder


def _wait_until_gone(marker: str, seconds: float = 30) -> list[str]:
    """The processes with ``marker`` as an argument still there after ``seconds``, described."""
    deadline = time.monotonic() + seconds
    while (left := processes_with_argument(marker)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return [_described(pid) for pid in left]


def _described(pid: int) -> str:
    try:
        status = dict(line.split(":\t", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
        marked = isolation.MARKER.encode() in Path(f"/proc/{pid}/environ").read_bytes()
    except (OSError, ValueError) as exc:
        return f"{pid}: {exc}"
    return f"{pid}: state {status.get('State')}, parent {status.get('PPid')}, marked {marked}"


def test_no_secret_reaches_the_job_or_the_kernel(tmp_path, monkeypatch):
    """The job's environment as it was started (the zygote's, which it was forked from) holds only
    the allow-listed variables, and what it passes to the kernel is the run's scrubbed one."""
    monkeypatch.setenv(SECRET, "must-not-leak")
    folder = _folder_with(tmp_path, "env.ipynb", "import json, os\n"
                          "started = open(f'/proc/{os.getppid()}/environ').read().split('\\0')\n"
                          "print(json.dumps({'job': sorted(v.split('=', 1)[0] for v in started if v),\n"
                          "                  'kernel': dict(os.environ)}))")
    nbsql.run(folder, tmp_path / "env.db")
    run = _run_of(tmp_path / "env.db", "env.ipynb")
    assert run["status"] == "ok"
    seen = json.loads(json.loads(_cells_of(tmp_path / "env.db", run["id"])[0]["outputs"])[0]["text"])
    allowed = {*isolation.ALLOWED_VARIABLES, "PYTHONUSERBASE"}
    assert all(name in allowed or name.startswith(isolation.ALLOWED_PREFIXES) for name in seen["job"]), seen["job"]
    assert SECRET not in seen["kernel"]
    assert "nbsql-run-" in seen["kernel"]["HOME"] and seen["kernel"]["TMPDIR"] == seen["kernel"]["HOME"] + "/tmp"
    assert isolation.MARKER in seen["kernel"]


def test_a_job_killed_from_inside_is_crashed_and_leaves_nothing(tmp_path):
    """The notebook SIGKILLs its job process: the run is crashed, with a reason, and the kernel and
    what it started in a session of its own are killed."""
    marker = str(700_000_000 + os.getpid())
    folder = _folder_with(tmp_path, "kills_its_job.ipynb",
                          f"import os, signal, subprocess, time\nsubprocess.Popen(['sleep', '{marker}'], "
                          "start_new_session=True)\nos.kill(os.getppid(), signal.SIGKILL)\ntime.sleep(60)")
    nbsql.run(folder, tmp_path / "killed.db")
    run = _run_of(tmp_path / "killed.db", "kills_its_job.ipynb")
    assert (run["status"], run["exception_name"]) == ("crashed", "JobFailed"), dict(run)
    assert run["exception_value"]
    assert _wait_until_gone(marker) == []


def test_a_job_past_its_deadline_is_killed_with_all_it_started(tmp_path, monkeypatch):
    """Past the notebook's timeout plus the grace, the runner kills the job from outside: the run is
    a timeout and nothing it started is left."""
    monkeypatch.setattr(runner, "GRACE", -25)  # the job's own timeout (30 s) never comes first
    marker = str(600_000_000 + os.getpid())
    folder = _folder_with(tmp_path, "sleeps.ipynb", f"import subprocess, time\nsubprocess.Popen(['sleep', '{marker}'], "
                          "start_new_session=True)\ntime.sleep(3600)")
    started = time.monotonic()
    nbsql.run(folder, tmp_path / "late.db", timeout=30)
    assert time.monotonic() - started < 25
    run = _run_of(tmp_path / "late.db", "sleeps.ipynb")
    assert (run["status"], run["exception_name"]) == ("timeout", "TimeoutError"), dict(run)
    assert "did not end within 5 seconds" in run["exception_value"]
    assert _wait_until_gone(marker) == []


def test_the_runner_killed_leaves_no_job_behind(tmp_path):
    """SIGKILL to nbsql run itself: the zygote sees its stdin close and kills the job, its kernel and
    what the notebook started, and removes the run's folder."""
    marker = str(500_000_000 + os.getpid())
    home = tmp_path / "home.txt"
    folder = _folder_with(tmp_path, "waits.ipynb", f"import os, pathlib, subprocess, time\n"
                          f"pathlib.Path({str(home)!r}).write_text(os.environ['HOME'])\n"
                          f"subprocess.Popen(['sleep', '{marker}'], start_new_session=True)\ntime.sleep(3600)")
    process = subprocess.Popen([sys.executable, "-m", "nbsql", "run", str(folder), "--db", str(tmp_path / "r.db")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120  # only so that a broken run fails rather than hangs
        while not processes_with_argument(marker):
            assert time.monotonic() < deadline and process.poll() is None, "the run never got going"
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert _wait_until_gone(marker) == []
    run_folder = Path(home.read_text()).parent
    deadline = time.monotonic() + 30
    while run_folder.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not run_folder.exists()


def test_the_zygote_killed_ends_its_jobs(tmp_path):
    """The notebook SIGKILLs the zygote (its job's parent): the job dies with it, the run is crashed
    with that reason, and nothing it started is left."""
    marker = str(400_000_000 + os.getpid())
    folder = _folder_with(tmp_path, "kills_the_zygote.ipynb",
                          f"import os, signal, subprocess, time\nsubprocess.Popen(['sleep', '{marker}'], "
                          "start_new_session=True)\n"
                          "zygote = int(open(f'/proc/{os.getppid()}/stat').read().rsplit(')', 1)[1].split()[1])\n"
                          "os.kill(zygote, signal.SIGKILL)\ntime.sleep(60)")
    started = time.monotonic()
    nbsql.run(folder, tmp_path / "zygote.db")
    assert time.monotonic() - started < 30
    run = _run_of(tmp_path / "zygote.db", "kills_the_zygote.ipynb")
    assert (run["status"], run["exception_name"]) == ("crashed", "JobFailed"), dict(run)
    assert run["exception_value"].startswith("the zygote ended with code -9")
    assert _wait_until_gone(marker) == []


def test_network_option_keeps_the_machine_s_network(tmp_path):
    """--network: no namespace, the loopback server is reached, and the run says it was not isolated."""
    folder = tmp_path / "net"
    folder.mkdir()
    shutil.copy(FIXTURES / "socket.ipynb", folder)
    with loopback_server() as (port, connections):
        nbsql.run(folder, tmp_path / "net.db", parameters={"port": port}, network=True)
    run = _run_of(tmp_path / "net.db", "socket.ipynb")
    printed = json.loads(_cells_of(tmp_path / "net.db", run["id"])[-1]["outputs"])[0]["text"]
    assert (run["isolated"], printed, len(connections)) == (0, "connected\n", 1)
