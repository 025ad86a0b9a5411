"""nbformat's v3 -> v4 converter, without the validations it only logs.

Checked against nbformat 5.11.1, the version installed; ``SUPPORTED`` takes the 5.x releases from
5.7, nbsql's lowest, which convert through the same hook (where it is missing, the converter is
left as it is and only logs). What it relies on: ``nbformat.v4.convert`` calling its module's
``_warn_if_invalid(notebook, version)`` to validate what it converts. ``tests/test_read.py``
checks that nothing is logged and that upgraded notebooks hold what ``nbformat.convert`` gives.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from . import require

SUPPORTED = ">=5.7,<5.12"
require("nbformat", SUPPORTED)


_UPGRADE_LOCK = threading.Lock()


@contextmanager
def upgrade_unvalidated() -> Iterator[None]:
    """nbformat's v3 -> v4 step without its two validations, which only log what is invalid.

    They cost a tenth of a second in each process (fastjsonschema compiling nbformat's schemas)
    and milliseconds a notebook, and print to stderr; nbsql validates every file itself (NB306).
    nbformat's function is put back afterwards (the lock keeps threads from crossing).
    """
    from nbformat.v4 import convert

    with _UPGRADE_LOCK:
        validation = getattr(convert, "_warn_if_invalid", None)
        if validation is not None:
            convert._warn_if_invalid = _skip_validation
        try:
            yield
        finally:
            if validation is not None:
                convert._warn_if_invalid = validation


def _skip_validation(notebook: Any, version: int) -> None:
    return None
