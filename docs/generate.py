"""Regenerate the parts of README.md and metadata.json that come from the code.

Run ``python docs/generate.py`` after changing the schema or a command's options;
``tests/test_docs.py`` fails while they are out of date.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from click.testing import CliRunner

from nbsql import schema
from nbsql.metadata import datasette_metadata
from nbsql.cli import cli
from nbsql.health import registry

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
METADATA = REPO / "metadata.json"
RULES_DOC = REPO / "docs" / "rules.md"
COMMANDS = ("load", "health", "rules", "search", "slice", "run", "serve", "schema")


def help_text(command: str) -> str:
    result = CliRunner().invoke(cli, [command, "--help"], prog_name="nbsql", terminal_width=100)
    return result.output


def generated_sections() -> dict[str, str]:
    sections = {f"help:{name}": f"```text\n{help_text(name)}```\n" for name in COMMANDS}
    sections["schema"] = schema.markdown()
    return sections


def render_readme(text: str) -> str:
    for name, body in generated_sections().items():
        pattern = re.compile(rf"(<!-- generated:{re.escape(name)} -->\n).*?(<!-- end:{re.escape(name)} -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"README.md lacks the markers for {name}")
        text = pattern.sub(lambda m: m.group(1) + body + m.group(2), text)
    return text


def render_metadata() -> str:
    return json.dumps(datasette_metadata(), indent=2, ensure_ascii=False) + "\n"


def render_rules() -> str:
    """docs/rules.md: the catalog, one section per rule, from the registry."""
    rules = list(registry.ordered())
    out = ["# Health rules", "", "Generated from the rule registry by `python docs/generate.py`; "
           "`nbsql rules CODE` prints the same text.", "",
           "Cells are numbered from 0 over all cells of a notebook (markdown and raw cells count); a finding "
           "also carries the cell's nbformat `cell_id` when the notebook has one. Lines are 1-based within "
           "the cell.", "", "| code | name | severity | scope | summary |", "| --- | --- | --- | --- | --- |"]
    out += [f"| [{r.code}](#{r.code.lower()}-{r.slug}) | `{r.slug}` | {r.severity} | {r.scope} | {r.summary} |"
            for r in rules]
    for r in rules:
        doc = r.doc.replace("## ", "#### ")
        thresholds = ", ".join(f"`{k}` = {v!r}" for k, v in r.thresholds.items()) or "none"
        language = "Python notebooks only" if r.python_only else "every notebook"
        out += ["", f"## {r.code} {r.slug}", "", f"{r.summary}. Severity **{r.severity}**, scope {r.scope}, "
                f"runs on {language}. Thresholds: {thresholds}.", "", doc]
    return "\n".join(out) + "\n"


def main() -> None:
    README.write_text(render_readme(README.read_text()))
    METADATA.write_text(render_metadata())
    RULES_DOC.write_text(render_rules())
    print("README.md, metadata.json and docs/rules.md regenerated", file=sys.stderr)


if __name__ == "__main__":
    main()
