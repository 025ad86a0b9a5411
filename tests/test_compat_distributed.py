"""nbsql._compat.distributed: the version range, and the offload executor a forked process gets."""

from __future__ import annotations

import os

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from nbsql._compat import require

from .test_compat import PACKAGE

distributed = pytest.importorskip("distributed", reason="Dask is an optional extra: pip install 'nbsql[dask]'")

from nbsql._compat import distributed as compat  # noqa: E402  (after the skip: it needs distributed)


def test_the_installed_version_is_in_the_range_checked():
    require("distributed", compat.SUPPORTED)


def test_the_dask_extra_pins_distributed_to_the_range_checked():
    pyproject = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text(encoding="utf-8"))
    for extra in ("dask", "test"):
        [pinned] = [r for r in map(Requirement, pyproject["project"]["optional-dependencies"][extra])
                    if r.name == "distributed"]
        assert pinned.specifier == SpecifierSet(compat.SUPPORTED), extra


@pytest.mark.skipif(not hasattr(os, "fork"), reason="forks")
def test_only_a_process_forked_within_gets_a_new_offload_executor():
    from distributed import utils

    utils._offload_executor.submit(int).result()  # its thread runs
    ours = utils._offload_executor
    replaced = {}
    for within in (False, True):
        read, write = os.pipe()
        if within:
            with compat.fresh_offload_thread():
                pid = os.fork()
        else:
            pid = os.fork()
        if pid == 0:  # the child: does its executor run work?
            try:
                done = utils._offload_executor.submit(int, "7").result(timeout=2) == 7
            except Exception:
                done = False
            os.write(write, b"1" if done else b"0")
            os._exit(0)
        os.close(write)
        replaced[within] = os.read(read, 1) == b"1"
        os.close(read)
        os.waitpid(pid, 0)
    assert replaced == {False: False, True: True}  # outside: the executor without its thread, as before
    assert utils._offload_executor is ours
