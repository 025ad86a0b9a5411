"""nbsql's exceptions: every user-facing failure is one of these, with a one-line message."""

from __future__ import annotations


class NbsqlError(Exception):
    """A user-facing problem (bad path, not a database...): one line, no traceback."""


class TimeLimitReached(NbsqlError):
    """A search stopped at its time limit (pages say so in their own words)."""
