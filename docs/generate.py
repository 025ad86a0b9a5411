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
from nbsql.cli import cli

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
METADATA = REPO / "metadata.json"
COMMANDS = ("load", "schema")


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
    return json.dumps(schema.datasette_metadata(), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    README.write_text(render_readme(README.read_text()))
    METADATA.write_text(render_metadata())
    print("README.md and metadata.json regenerated", file=sys.stderr)


if __name__ == "__main__":
    main()
