"""The notebook page's view of the latest ``nbsql run``: a badge, and on each executed cell its
status and, where it differed, the new outputs (rendered as safely as saved ones: nh3, images as
``<img>`` only) beside the saved ones.

A database from before the run tables (served as it is) shows no run.
"""

from __future__ import annotations

import base64
import binascii
import json

from markupsafe import Markup

from ..execute.compare import output_text
from ..execute.failures import FAILURE_CLASSES
from . import render

#: The badge of each outcome: its label and CSS class.
BADGES = {"reproduced": "nbsql-run-reproduced", "differs": "nbsql-run-differs", "fails": "nbsql-run-fails",
          "not run": "nbsql-run-none"}
_IMAGE_MIMES = (*render.RASTER_MIMES, "image/svg+xml")


async def latest_run(db, notebook: dict) -> dict:
    """The badge and the latest top-to-bottom run (else the latest run) of ``notebook``, with its
    executed cells by position."""
    if not await db.table_exists("executions"):
        return {"badge": "not run", "css": BADGES["not run"], "run": None, "cells": {}}
    run = (await db.execute("SELECT * FROM executions WHERE notebook = ? ORDER BY cell_order = 'cells' DESC, id DESC "
                            "LIMIT 1", [notebook["id"]])).first()
    if run is None:
        return {"badge": "not run", "css": BADGES["not run"], "run": None, "cells": {}}
    run = dict(run)
    badge = "fails" if run["status"] != "ok" else "reproduced" if run["same_results"] else "differs"
    cells = {row["position"]: _cell(dict(row)) for row in (await db.execute(
        "SELECT position, status, seconds, comparison, differences, outputs, outputs_cut FROM execution_cells "
        "WHERE execution = ?", [run["id"]])).rows}
    run["failure_label"] = FAILURE_CLASSES.get(run["failure_class"] or "", "")
    run["older_file"] = run["sha256"] != notebook["sha256"]
    return {"badge": badge, "css": BADGES[badge], "run": run, "cells": cells}


def _cell(row: dict) -> dict:
    differs = row["comparison"] != "same"
    row["differences"] = ", ".join(json.loads(row["differences"])) if row["differences"] else ""
    row["new_outputs"] = [render_new_output(output) for output in json.loads(row.pop("outputs") or "[]")] \
        if differs else []
    return row


def render_new_output(output: dict) -> Markup:
    """One output of a run (an nbformat output dict) as safe HTML, as saved outputs are rendered."""
    kind = output.get("output_type")
    if kind == "stream":
        return render.preformatted(output_text(output.get("text")), "nbsql-stderr" if output.get("name") == "stderr"
                                   else "nbsql-stream")
    if kind == "error":
        traceback = "\n".join(output.get("traceback") or []) or f"{output.get('ename')}: {output.get('evalue')}"
        return render.preformatted(traceback, "nbsql-error")
    data = output.get("data") or {}
    for mime in render.BUNDLE_ORDER:
        if mime not in data:
            continue
        value = output_text(data[mime])
        if mime in _IMAGE_MIMES:
            try:
                image = value.encode() if mime == "image/svg+xml" else base64.b64decode(value, validate=False)
            except (binascii.Error, ValueError):
                continue
            return render.image(mime, image, "output of this run")
        if mime == "text/html":
            return Markup('<div class="nbsql-html">') + render.sanitize(value) + Markup("</div>")
        if mime == "text/markdown":
            return render.markdown(value)
        if mime == "text/latex":
            return render.latex(value)
        return render.preformatted(value)
    return render.preformatted("")
