"""The values the health options take. Kept apart so that the CLI can build its options without
loading the rules."""

from __future__ import annotations

SEVERITIES = ("error", "warning", "info")
#: ``--fail-on``: the lowest severity that fails a run, or never.
FAIL_ON = SEVERITIES + ("never",)
#: ``--format`` of ``nbsql health``.
FORMATS = ("text", "json", "csv", "sarif", "github")
