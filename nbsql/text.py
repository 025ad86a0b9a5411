"""Small text helpers shared by the rows and the rules."""

from __future__ import annotations

import hashlib
import re

_COMMENT = re.compile(r"\s+#.*$")


def normalised_source(source: str) -> str:
    """Source without comment lines, trailing comments, blank lines and trailing spaces."""
    lines = (_COMMENT.sub("", line).rstrip() for line in source.splitlines())
    return "\n".join(line for line in lines if line.strip() and not line.lstrip().startswith("#"))


def source_hash(source: str) -> str | None:
    """A short hash of :func:`normalised_source`, None for a cell with no code."""
    normal = normalised_source(source)
    return hashlib.sha1(normal.encode("utf-8", "surrogatepass")).hexdigest()[:16] if normal else None
