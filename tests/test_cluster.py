"""Loading on a Dask cluster (nbsql load --dask): a real scheduler and worker processes on loopback."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest
from click.testing import CliRunner

import nbsql
from nbsql.cli import cli
from nbsql.cluster import connect

from .conftest import REAL, table_dump
from .test_load import _count, check_database, copy_tree

distributed = pytest.importorskip("distributed", reason="Dask is an optional extra: pip install 'nbsql[dask]'")


@pytest.fixture(scope="module")
def cluster():
    """A scheduler and two worker processes (each under a nanny, which restarts it if it dies)."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=40) as local:
        yield local


def test_a_load_on_a_cluster_writes_the_database_a_local_load_writes(cluster, tmp_path):
    copy_tree(REAL, tmp_path / "repo", limit=60)
    local = nbsql.load(tmp_path / "repo", tmp_path / "local.db", jobs=2)
    remote = nbsql.load(tmp_path / "repo", tmp_path / "cluster.db", dask=cluster.scheduler_address)
    assert (remote.loaded, remote.failed) == (local.loaded, local.failed) and remote.loaded > 50
    assert table_dump(tmp_path / "cluster.db") == table_dump(tmp_path / "local.db")  # ids included: same order
    with sqlite3.connect(tmp_path / "cluster.db") as conn:
        options = json.loads(conn.execute("SELECT options FROM loads").fetchone()[0])
    assert options["dask"] == cluster.scheduler_address
    again = nbsql.load(tmp_path / "repo", tmp_path / "cluster.db", dask=cluster.scheduler_address)
    assert again.unchanged == remote.loaded + remote.failed - again.failed and again.loaded == 0


def test_a_worker_killed_mid_load_loses_no_file(cluster, tmp_path):
    """One worker is SIGKILLed while the load runs: its files go to the other worker (or to it,
    restarted by its nanny), and the database is the one a local load writes."""
    copy_tree(REAL, tmp_path / "repo", limit=300)
    pids = list(distributed.Client(cluster).run(os.getpid).values())
    killed = threading.Event()

    def progress(done: int, total: int) -> None:
        if done >= 20 and not killed.is_set():
            killed.set()
            os.kill(pids[0], signal.SIGKILL)

    report = nbsql.load(tmp_path / "repo", tmp_path / "cluster.db", dask=cluster.scheduler_address,
                        progress=progress)
    assert killed.is_set() and report.loaded + report.failed == 300
    assert not [error for error in report.errors if error[1] == "worker_died"]
    nbsql.load(tmp_path / "repo", tmp_path / "local.db", jobs=2)
    assert table_dump(tmp_path / "cluster.db") == table_dump(tmp_path / "local.db")
    check_database(tmp_path / "cluster.db")


def test_a_file_that_kills_every_worker_it_meets_is_a_load_error(tmp_path):
    """A worker whose memory passes its limit is killed by its nanny; a file that does that on every
    worker the scheduler tries is recorded with the reason, and the others load."""
    copy_tree(REAL, tmp_path / "repo", limit=20)  # enough files for the cluster (a few load in-process)
    text = "x" * (400 * 1024 * 1024)  # 400 MiB of output: far past the workers' limit below
    (tmp_path / "repo" / "huge.ipynb").write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
        "cells": [{"cell_type": "code", "id": "a", "metadata": {}, "execution_count": 1, "source": "print(x)",
                   "outputs": [{"output_type": "stream", "name": "stdout", "text": text}]}]}))
    del text
    import dask

    with dask.config.set({"distributed.scheduler.allowed-failures": 1}), \
            distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0",
                                     memory_limit="300MiB", silence_logs=50) as small:
        report = nbsql.load(tmp_path / "repo", tmp_path / "nb.db", dask=small.scheduler_address)
    [(path, kind, message)] = [error for error in report.errors if error[1] == "worker_died"]
    assert path.endswith("huge.ipynb") and kind == "worker_died" and "died while processing this file" in message
    assert report.loaded + len(report.errors) == 21
    with sqlite3.connect(tmp_path / "nb.db") as conn:
        assert ("worker_died",) in conn.execute("SELECT kind FROM load_errors").fetchall()


def test_local_workers_from_the_command_line(tmp_path):
    copy_tree(REAL, tmp_path / "repo", limit=20)
    result = subprocess.run([sys.executable, "-m", "nbsql", "load", str(tmp_path / "repo"), "--db",
                             str(tmp_path / "nb.db"), "--dask", "local:2"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    [summary] = result.stderr.splitlines()  # nothing from Dask: quiet where nothing is wrong
    assert summary.startswith(f"{tmp_path / 'nb.db'}: 20 loaded, 0 unchanged")
    nbsql.load(tmp_path / "repo", tmp_path / "local.db", jobs=1)
    assert table_dump(tmp_path / "nb.db") == table_dump(tmp_path / "local.db")


def test_jobs_with_a_local_cluster_are_its_workers(tmp_path, monkeypatch):
    """``--dask local --jobs 2`` starts the local cluster ``local:2`` names."""
    copy_tree(REAL, tmp_path / "repo", limit=20)
    started = []
    real = connect.connected
    monkeypatch.setattr(connect, "connected", lambda address: started.append(address) or real(address))
    result = CliRunner().invoke(cli, ["load", str(tmp_path / "repo"), "--db", str(tmp_path / "nb.db"), "--dask",
                                      "local", "--jobs", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    assert started == ["local:1"]


def test_an_unchanged_rerun_starts_no_local_cluster(tmp_path, monkeypatch):
    """A local cluster starts only when there is work enough to send it (it costs seconds): not for
    an unchanged re-run, nor for the few files that failed before and are read again."""
    copy_tree(REAL, tmp_path / "repo", limit=20)
    started = []
    real = connect.connected
    monkeypatch.setattr(connect, "connected", lambda address: started.append(address) or real(address))
    first = nbsql.load(tmp_path / "repo", tmp_path / "nb.db", dask="local:1")
    again = nbsql.load(tmp_path / "repo", tmp_path / "nb.db", dask="local:1")
    assert first.loaded > 0 and again.unchanged == first.loaded + first.failed and started == ["local:1"]


@pytest.mark.parametrize("address, message", [
    ("tcp://127.0.0.1:9", "Error: cannot reach the Dask scheduler at tcp://127.0.0.1:9: "),
    ("127.0.0.1:8786", "Error: --dask takes a scheduler's address (tcp://HOST:PORT) or local[:N]"),
    ("local:0", "Error: --dask takes a scheduler's address"),
    ("local:2 --jobs 3", "Error: --jobs does not apply with --dask local:2: the cluster's workers do the work"),
    ("tcp://127.0.0.1:9 --jobs 2", "Error: --jobs does not apply with --dask tcp://127.0.0.1:9"),
    ("local --jobs 20000", "Error: --dask takes a scheduler's address"),
])
def test_a_scheduler_that_cannot_be_reached_is_one_line(tmp_path, monkeypatch, address, message):
    monkeypatch.setattr(connect, "CONNECT_TIMEOUT", 2)
    started = time.monotonic()
    result = CliRunner().invoke(cli, ["load", str(REAL), "--db", str(tmp_path / "nb.db"), "--dask", *address.split()])
    assert result.exit_code == 2 and result.output.startswith(message) and result.output.count("\n") == 1, \
        result.output
    assert time.monotonic() - started < 30 and not list(tmp_path.iterdir())  # no database, no lock file


def interrupted_load(tmp_path, db, address: str) -> tuple[subprocess.Popen, str]:
    """``nbsql load --dask ADDRESS`` of 400 real notebooks into an existing ``db`` (so batches are
    committed as they are written), sent SIGINT to its whole process group, as a terminal's Ctrl-C,
    once 50 notebooks are in; it exits 130. The process and its standard error."""
    copy_tree(REAL, tmp_path / "repo", limit=400)
    (tmp_path / "empty").mkdir()
    nbsql.load(tmp_path / "empty", db)
    process = subprocess.Popen([sys.executable, "-m", "nbsql", "load", str(tmp_path / "repo"), "--db", str(db),
                                "--dask", address], start_new_session=True, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and _count(db) < 50 and process.poll() is None:
        time.sleep(0.05)
    assert process.poll() is None, "the load finished before it could be interrupted"
    os.killpg(process.pid, signal.SIGINT)
    assert process.wait(timeout=60) == 130
    return process, process.stderr.read()


def test_ctrl_c_keeps_what_was_committed(cluster, tmp_path):
    """SIGINT to the whole process group, as a terminal's Ctrl-C sends it, during a load that
    refreshes an existing database: exit 130, the database sound, a rerun completes it."""
    db = tmp_path / "nb.db"
    process, stderr = interrupted_load(tmp_path, db, cluster.scheduler_address)
    assert "Interrupted: the database keeps what was committed" in stderr
    kept = _count(db)
    assert 50 <= kept < 400
    check_database(db)
    report = nbsql.load(tmp_path / "repo", db, dask=cluster.scheduler_address)
    assert report.unchanged == kept and report.loaded + report.failed + kept == 400


def test_a_cluster_left_without_workers_stops_the_load_in_one_line(tmp_path, monkeypatch):
    from nbsql.cluster import dispatch

    monkeypatch.setattr(dispatch, "POLL", 0.5)
    monkeypatch.setattr(dispatch, "NO_WORKER_LIMIT", 3.0)
    copy_tree(REAL, tmp_path / "repo", limit=200)
    (tmp_path / "empty").mkdir()
    db = tmp_path / "nb.db"
    nbsql.load(tmp_path / "empty", db)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=50) as alone:
        def progress(done: int, total: int) -> None:
            if done == 60:
                alone.scale(0)  # its only worker retires: nothing restarts it

        with pytest.raises(nbsql.NbsqlError, match="the Dask cluster has had no worker for 3 s"):
            nbsql.load(tmp_path / "repo", db, dask=alone.scheduler_address, progress=progress)
    assert 0 < _count(db) < 200  # the batches written before it stopped
    check_database(db)


def test_a_local_cluster_s_workers_fork_with_this_process_s_objects_frozen():
    """``local:N`` workers are forked from the loading process (on Linux): they hold its objects
    frozen for their collector, the parent's are frozen while the cluster runs and unfrozen when it
    closes, and Dask's ``fork`` method was set only while they started."""
    import dask

    frozen_before = gc_freeze_count()
    method = dask.config.get("distributed.worker.multiprocessing-method")
    with connect.connected("local:2") as client:
        assert gc_freeze_count() > frozen_before + 10_000
        assert dask.config.get("distributed.worker.multiprocessing-method") == method
        parents = client.run(os.getppid)
        frozen = client.run(gc_freeze_count)
        assert client.direct_to_workers  # results not relayed by the scheduler
    assert set(parents.values()) == {os.getpid()} and len(parents) == 2
    assert gc_freeze_count() == frozen_before
    if connect.FORKS:
        assert min(frozen.values()) > frozen_before + 10_000, frozen  # this process's objects, at least
    else:
        assert set(frozen.values()) == {0}


def gc_freeze_count() -> int:
    import gc

    return gc.get_freeze_count()


def _workers_of(pid: int) -> list[int]:
    """The processes whose parent is ``pid``, but multiprocessing's resource tracker (started with
    the first spawned process, it stays until ``pid`` exits)."""
    import psutil

    return [child.pid for child in psutil.Process(pid).children()
            if not any("resource_tracker" in part for part in child.cmdline())]


def test_a_local_cluster_s_worker_killed_mid_load_is_restarted_and_loses_no_file(tmp_path):
    """A worker of ``--dask local:2`` SIGKILLed while the load runs: its nanny starts another (by
    spawning it: only the first workers fork), and the database is the one a local load writes."""
    copy_tree(REAL, tmp_path / "repo", limit=300)
    before = set(_workers_of(os.getpid()))
    killed: list[int] = []

    def progress(done: int, total: int) -> None:
        if done >= 20 and not killed:
            [worker, *_] = sorted(set(_workers_of(os.getpid())) - before)
            os.kill(worker, signal.SIGKILL)
            killed.append(worker)

    report = nbsql.load(tmp_path / "repo", tmp_path / "cluster.db", dask="local:2", progress=progress)
    assert killed and report.loaded + report.failed == 300
    assert not [error for error in report.errors if error[1] == "worker_died"]
    nbsql.load(tmp_path / "repo", tmp_path / "local.db", jobs=2)
    assert table_dump(tmp_path / "cluster.db") == table_dump(tmp_path / "local.db")
    deadline = time.time() + 10
    while set(_workers_of(os.getpid())) - before and time.time() < deadline:  # closed with the load
        time.sleep(0.05)
    assert not set(_workers_of(os.getpid())) - before


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; workers follow their parent on Linux")
def test_a_killed_load_leaves_no_local_worker_and_no_lock(tmp_path):
    """SIGKILL of a ``--dask local:2`` load alone: its workers (forked, holding the lock file open)
    go within seconds, and the next load of the database does not wait for a lock."""
    from nbsql.database import another_load_running

    from .test_load import _live_members, assert_killed_alone_leaves_nothing

    db = tmp_path / "killed.db"
    process = subprocess.Popen([sys.executable, "-m", "nbsql", "load", str(REAL), "--db", str(db), "--dask",
                                "local:2", "--quiet"], start_new_session=True, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline and len(_live_members(process.pid)) < 3:
        time.sleep(0.05)
    time.sleep(1.0)  # the workers are busy
    assert process.poll() is None and len(_live_members(process.pid)) >= 3, "the load finished before the kill"
    assert_killed_alone_leaves_nothing(process)
    assert not another_load_running(db)


def test_ctrl_c_stops_a_local_cluster_s_load_in_one_line(tmp_path):
    """SIGINT to the whole process group (a terminal's Ctrl-C) reaches the workers too: they leave
    it to the loading process, which closes the cluster; one line, exit 130, no process left."""
    from .test_load import _live_members

    db = tmp_path / "nb.db"
    process, stderr = interrupted_load(tmp_path, db, "local:2")
    assert stderr.splitlines() == [
        "Interrupted: the database keeps what was committed (a first load commits only at its end); the same "
        "command run again finishes the load."]
    assert not _live_members(process.pid)
    check_database(db)


def _large() -> bytes:
    return b"x" * (20 * 1024 * 1024)  # over distributed's threshold for serialising off the event loop (10 MiB)


def test_forked_workers_send_large_results_after_this_process_offloaded_some():
    """A worker forked from a process whose Dask offload thread had started has the executor but not
    its thread: without a new one, its first result over 10 MiB would never be sent."""
    with connect.connected("local:1") as client:
        assert len(client.submit(_large, pure=False).result(timeout=60)) == 20 * 1024 * 1024
    assert any(thread.name.startswith("Dask-Offload") for thread in threading.enumerate())  # it took that one
    with connect.connected("local:1") as client:
        assert len(client.submit(_large, pure=False).result(timeout=30)) == 20 * 1024 * 1024
