"""Stored cells back as nbformat 4 cells, with their saved outputs (images included)."""

from __future__ import annotations

import base64
import json
import re
import sqlite3
from typing import Any

from ..read import is_json_mime

_CELL_ID = re.compile(r"[^a-zA-Z0-9_-]")


def stored_cell(conn: sqlite3.Connection, cell: int, cell_id: str, outputs: bool = True,
                only_images: bool = False) -> dict[str, Any]:
    """The cell ``cell`` (cells.id) as an nbformat 4.5 cell with id ``cell_id``; a code cell with its
    saved outputs (with ``only_images``, only the outputs that show an image)."""
    cell_type, source, execution_count, metadata, attachments = conn.execute(
        "SELECT cell_type, source, execution_count, metadata, attachments FROM cells WHERE id = ?", (cell,)).fetchone()
    kind = cell_type if cell_type in ("code", "markdown", "raw") else "raw"
    made: dict[str, Any] = {"cell_type": kind, "id": cell_id, "metadata": _json(metadata, {}), "source": source or ""}
    if kind == "code":
        made["execution_count"] = execution_count
        made["outputs"] = _outputs(conn, cell, only_images) if outputs else []
    elif kind == "markdown" and attachments:
        made["attachments"] = _json(attachments, {})
    return made


def cell_id(*parts: object) -> str:
    """A valid, readable nbformat cell id from ``parts`` (at most 64 characters)."""
    return _CELL_ID.sub("-", "-".join(str(part) for part in parts))[:64] or "cell"


def _outputs(conn: sqlite3.Connection, cell: int, only_images: bool) -> list[dict[str, Any]]:
    bundles: dict[int, dict[str, Any]] = {}
    for output, mime, text, data in conn.execute(
            "SELECT output, mime, text, data FROM output_data WHERE cell = ? ORDER BY id", (cell,)):
        bundles.setdefault(output, {})[mime] = _mime_value(mime, text, data)
    made = []
    for output, output_type, name, text, count, ename, evalue, traceback, metadata in conn.execute(
            "SELECT id, output_type, stream_name, text, execution_count, error_name, error_value, traceback, "
            "metadata FROM outputs WHERE cell = ? ORDER BY position", (cell,)):
        bundle = bundles.get(output, {})
        if only_images and not any(mime.startswith("image/") for mime in bundle):
            continue
        if output_type == "stream":
            made.append({"output_type": "stream", "name": name if name in ("stdout", "stderr") else "stdout",
                         "text": text or ""})
        elif output_type in ("execute_result", "display_data"):
            shown: dict[str, Any] = {"output_type": output_type, "data": bundle, "metadata": _json(metadata, {})}
            if output_type == "execute_result":
                shown["execution_count"] = count
            made.append(shown)
        elif output_type == "error":
            made.append({"output_type": "error", "ename": ename or "", "evalue": evalue or "",
                         "traceback": [str(line) for line in _json(traceback, [])]})
    return made


def _mime_value(mime: str, text: str | None, data: bytes | None) -> Any:
    if data is not None:
        return base64.b64encode(data).decode("ascii")
    if is_json_mime(mime) and text:
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text or ""


def _json(text: str | None, empty: Any) -> Any:
    if not text:
        return empty
    try:
        value = json.loads(text)
    except ValueError:
        return empty
    return value if isinstance(value, type(empty)) else empty
