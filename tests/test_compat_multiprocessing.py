"""nbsql._compat.multiprocessing against the standard library's pool."""

from __future__ import annotations

import multiprocessing
import multiprocessing.pool
import time

import pytest

from nbsql._compat.multiprocessing import SUPPORTED, Pool
from nbsql._compat import require


def square(value: int) -> int:
    return value * value


def slow(value: int) -> int:
    time.sleep(60)
    return value


def test_its_results_are_the_stock_pools():
    context = multiprocessing.get_context("fork")
    values = list(range(200))
    with multiprocessing.pool.Pool(2, context=context) as stock:
        expected = list(stock.imap(square, values, chunksize=2))
    pool = Pool(2, context=context)
    try:
        assert list(pool.imap(square, values, chunksize=2)) == expected
    finally:
        pool.terminate()


def test_abandon_stops_busy_workers_at_once():
    pool = Pool(2, context=multiprocessing.get_context("fork"))
    results = pool.imap(slow, range(4))
    time.sleep(0.5)  # the workers are in their tasks
    started = time.monotonic()
    pool.abandon()
    assert time.monotonic() - started < 10
    assert all(not process.is_alive() for process in pool._pool)
    del results


def test_this_python_is_in_the_checked_range():
    import platform

    require("Python", SUPPORTED, platform.python_version())
    with pytest.raises(Exception, match="Python 3.9.18 is installed, but nbsql works with Python >=3.10"):
        require("Python", SUPPORTED, "3.9.18")
