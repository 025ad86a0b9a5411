"""Notebook model -> table rows (pure; no I/O).

Rows are of their table's row type (:attr:`nbsql.schema.Table.row`), built by column name. Within
one notebook, the ``id`` of a row is its index in its table's list and foreign keys hold those local
indices; the writer adds each table's id base when it inserts. ``notebook`` columns hold 0 and are
replaced by the writer.
"""

from __future__ import annotations

import ast
import base64
import binascii
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Any

from . import languages
from .code import CodeFacts, analyze, parse_cell, parse_quietly
from .deps.graph import link
from .json_text import to_json
from .model import PYTHON_LANGUAGES, Cell, Notebook, Output
from .pyversion import python_major
from .read import is_integer, is_json_mime, title_of
from .schema import CONTENT_TABLES, FTS_OUTPUT_LIMIT, FTS_ROW, FTS_TABLE, TABLE
from .text import source_hash, strip_ansi, text_key

_BINARY_PREFIXES = ("image/", "audio/", "video/", "application/pdf", "application/octet-stream")
_SCRAP_PREFIX = "application/scrapbook.scrap."
_NO_FACTS = CodeFacts(is_python=False)


@dataclass
class NotebookRows:
    """The row of a notebook (without its id) and the rows of its content tables."""

    notebook: dict[str, Any]
    tables: dict[str, list[tuple]] = field(default_factory=dict)

    def __getstate__(self) -> tuple[dict[str, Any], dict[str, list[tuple]]]:
        """Pickled (to the writer) with plain tuples in each row type's field order, which the writer
        binds by the row type's fields: namedtuples take three times as long to unpickle."""
        return self.notebook, {name: [tuple(row) for row in rows] for name, rows in self.tables.items()}

    def __setstate__(self, state: tuple[dict[str, Any], dict[str, list[tuple]]]) -> None:
        self.notebook, self.tables = state


def is_binary_mime(mime: str) -> bool:
    return mime.startswith(_BINARY_PREFIXES) and mime != "image/svg+xml" and not is_json_mime(mime)


def analyses_python(notebook: Notebook) -> bool:
    """Python code analysis applies to Python notebooks and to those that name no language."""
    return notebook.language is None or notebook.language in PYTHON_LANGUAGES


#: Python sources whose analysis a process keeps, the most recently met: a source met again (a
#: copied cell, in this notebook or another) is not measured or walked again, only parsed again
#: when its tree is wanted. Kept without their trees: trees, millions of objects, made every
#: garbage collection longer (13% more CPU over the corpus when they were kept). About 1.5 KB
#: each with its source (45 MB at most): enough for every distinct source of the shared corpus
#: (15,000), so that copies far apart in a corpus are met again (4,096 caught few: on 3,334 files
#: of bench_scale's copies, analysis without checks took 5.6 s of CPU instead of 8.4).
ANALYSED_SOURCES = 32_768
_analysed: OrderedDict[str, CodeFacts] = OrderedDict()


def analysed(source: str, tree: bool = True) -> CodeFacts:
    """:func:`nbsql.code.analyze` of ``source``, done once in this process while it is among the
    last :data:`ANALYSED_SOURCES` met; with its syntax tree when ``tree`` (the checks read it)."""
    known = _analysed.get(source)
    if known is None:
        facts = analyze(source)
        known = _analysed[source] = replace(facts, tree=None) if facts.tree is not None else facts
        if len(_analysed) > ANALYSED_SOURCES:
            _analysed.popitem(last=False)
        return facts if tree else known
    _analysed.move_to_end(source)
    return replace(known, tree=parse_cell(source)) if tree and known.parsed else known


def code_facts(notebook: Notebook, trees: bool = True) -> dict[int, CodeFacts]:
    """Static analysis of each non-empty code cell, by position: a Python notebook's parsed (with
    each cell's syntax tree when ``trees``, for the checks), a Julia or R notebook's read line by
    line (:mod:`nbsql.languages`); none for other languages."""
    cells = [c for c in notebook.cells if c.cell_type == "code" and c.source.strip()]
    if analyses_python(notebook):
        return {c.position: analysed(c.source, trees) for c in cells}
    reader = languages.READERS.get(notebook.language or "")
    return {c.position: reader(c.source) for c in cells} if reader is not None else {}


def notebook_rows(notebook: Notebook, facts: dict[int, CodeFacts]) -> NotebookRows:
    """Every row that one notebook contributes to the database (findings are added by the checks)."""
    tables: dict[str, list[tuple]] = {name: [] for name in CONTENT_TABLES + (FTS_TABLE,)}
    import_row, function_row, parameter_row = (TABLE[name].row for name in ("imports", "functions", "parameters"))
    language = notebook.language if notebook.language in languages.READERS else "python"
    counts = {"code": 0, "markdown": 0, "raw": 0}
    images = errors = 0
    for cell in notebook.cells:
        counts[cell.cell_type] = counts.get(cell.cell_type, 0) + 1
        cell_facts = facts.get(cell.position, _NO_FACTS)
        output_texts = []
        for position, output in enumerate(cell.outputs):
            output_index = len(tables["outputs"])
            text = _output_text(output)
            if text:
                output_texts.append(text)
            errors += output.output_type == "error"
            tables["outputs"].append(_output_row(output_index, cell.position, position, output, text))
            for mime, value in output.data.items():
                images += mime.startswith("image/")
                tables["output_data"].append(_data_row(len(tables["output_data"]), output_index, cell.position,
                                                       mime, value))
                if mime.startswith(_SCRAP_PREFIX) and isinstance(value, dict):
                    tables["scraps"].append(_scrap_row(len(tables["scraps"]), cell.position, output_index, value))
        for item in cell_facts.imports:
            tables["imports"].append(import_row(
                id=len(tables["imports"]), notebook=0, cell=cell.position, language=language, line=item.line,
                kind=item.kind,
                module=item.module, name=item.name, alias=item.alias, package=item.package,
                is_stdlib=int(item.is_stdlib), is_relative=int(item.is_relative), spec=item.spec))
        for d in cell_facts.definitions:
            tables["functions"].append(function_row(
                id=len(tables["functions"]), notebook=0, cell=cell.position, kind=d.kind, name=d.name,
                qualified_name=d.qualified_name, line=d.line, end_line=d.end_line, complexity=d.complexity))
        for tag in ("parameters", "injected-parameters"):
            if tag in cell.tags:
                for name, value in _assignments(cell.source):
                    tables["parameters"].append(parameter_row(id=len(tables["parameters"]), notebook=0,
                                                              cell=cell.position, source=tag, name=name, value=value))
        indexed = _indexed(output_texts)
        key = text_key(cell.source, indexed)
        tables["cells"].append(_cell_row(cell, cell_facts, key))
        tables[FTS_TABLE].append(FTS_ROW(rowid=key, source=cell.source, outputs=indexed))
    _dependency_rows(facts, tables)
    papermill = notebook.metadata.get("papermill")
    recorded = papermill.get("parameters") if isinstance(papermill, dict) else None
    if isinstance(recorded, dict):
        for name, value in recorded.items():
            tables["parameters"].append(parameter_row(id=len(tables["parameters"]), notebook=0, cell=None,
                                                      source="papermill", name=name, value=to_json(value)))
    counts_by_execution = [c.execution_count for c in notebook.cells if c.execution_count is not None]
    row = {
        "nbformat": notebook.nbformat,
        "nbformat_minor": notebook.nbformat_minor,
        "orig_nbformat": notebook.orig_nbformat,
        "kernel_name": notebook.kernel_name,
        "kernel_display_name": notebook.kernel_display_name,
        "language": notebook.language,
        "language_version": notebook.language_version,
        "python_major": python_major(notebook, facts),
        "title": title_of(notebook),
        "cell_count": len(notebook.cells),
        "code_cell_count": counts["code"],
        "markdown_cell_count": counts["markdown"],
        "raw_cell_count": counts["raw"],
        "output_count": len(tables["outputs"]),
        "image_count": images,
        "error_count": errors,
        "max_execution_count": max(counts_by_execution, default=None),
        "metadata": to_json(notebook.metadata),
        "warnings": to_json(list(notebook.warnings)) if notebook.warnings else None,
        "checked_with": None,
    }
    return NotebookRows(row, tables)


def _dependency_rows(facts: dict[int, CodeFacts], tables: dict[str, list[tuple]]) -> None:
    """``cell_names`` and ``cell_dependencies`` of the Python cells that parsed, from their trees."""
    linked = link((position, f.names) for position, f in sorted(facts.items()) if f.names is not None)
    names, dependencies = tables["cell_names"], tables["cell_dependencies"]
    name_row, dependency_row = TABLE["cell_names"].row, TABLE["cell_dependencies"].row
    for cell in linked:
        position, found = cell.position, cell.names
        for kind, values in (("define", found.defines), ("modify", found.modifies), ("use", found.uses),
                             ("call", found.calls)):
            for name in values:
                names.append(name_row(id=len(names), cell=position, name=name, kind=kind))
        for name, needed in cell.needs.items():
            dependencies.append(dependency_row(id=len(dependencies), cell=position, depends_on=needed, name=name))


def _line_count(source: str) -> int:
    return len(source.splitlines())


def _cell_row(cell: Cell, facts: CodeFacts, text: int) -> tuple:
    papermill = cell.metadata.get("papermill")
    papermill = papermill if isinstance(papermill, dict) else {}
    duration = papermill.get("duration")
    exception = papermill.get("exception")
    return TABLE["cells"].row(
        id=cell.position, notebook=0, position=cell.position, cell_type=cell.cell_type, source=cell.source,
        execution_count=cell.execution_count, cell_id=cell.cell_id,
        tags=to_json(list(cell.tags)) if cell.tags else None, metadata=to_json(cell.metadata),
        attachments=to_json(cell.attachments), line_count=_line_count(cell.source),
        source_hash=source_hash(cell.source, facts.string_lines) if cell.cell_type == "code" else None,
        text=text, parse_error=facts.parse_error, sloc=facts.sloc, lloc=facts.lloc, comments=facts.comments,
        complexity=facts.complexity, max_complexity=facts.max_complexity, maintainability=facts.maintainability,
        halstead_volume=facts.halstead_volume,
        papermill_status=papermill.get("status") if isinstance(papermill.get("status"), str) else None,
        papermill_duration=duration if is_integer(duration) or type(duration) is float else None,
        papermill_exception=int(exception) if isinstance(exception, bool) else None,
    )


def _output_text(output: Output) -> str | None:
    if output.output_type == "stream" or output.output_type == "invalid":
        return output.text
    if output.output_type == "error":
        return f"{output.ename or ''}: {output.evalue or ''}"
    plain = output.data.get("text/plain")
    if isinstance(plain, str):
        return plain
    return output.text  # v3 'pyout' leftovers


def _indexed(texts: list[str]) -> str | None:
    """The output text the FTS index holds for a cell: ``texts`` joined by newlines, cut after
    :data:`FTS_OUTPUT_LIMIT` characters without joining (so copying) what lies beyond."""
    if sum(map(len, texts)) + len(texts) - 1 <= FTS_OUTPUT_LIMIT:
        return "\n".join(texts) or None
    pieces, room = [], FTS_OUTPUT_LIMIT
    for text in texts:
        pieces.append(text[:room])
        room -= len(text) + 1
        if room < 0:
            break
    return "\n".join(pieces)


def _utf8_size(text: str) -> int:
    """Bytes of ``text`` in UTF-8, without encoding a long text whole."""
    if text.isascii():
        return len(text)
    return sum(len(text[start:start + _CHUNK].encode("utf-8", "surrogatepass"))
               for start in range(0, len(text), _CHUNK))


_CHUNK = 1 << 20


def _output_row(index: int, cell: int, position: int, output: Output, text: str | None) -> tuple:
    traceback = output.traceback
    return TABLE["outputs"].row(
        id=index, cell=cell, notebook=0, position=position, output_type=output.output_type, stream_name=output.name,
        text=text, execution_count=output.execution_count, error_name=output.ename, error_value=output.evalue,
        traceback=to_json(list(traceback)) if traceback is not None else None,
        traceback_text=strip_ansi("\n".join(traceback)) if traceback else None,
        metadata=to_json(output.metadata) if output.metadata else None,
    )


def _data_row(index: int, output: int, cell: int, mime: str, value: Any) -> tuple:
    text: str | None = None
    blob: bytes | None = None
    invalid = 0
    if isinstance(value, str) and is_binary_mime(mime):
        try:
            blob = _decode_base64(value)
        except (binascii.Error, ValueError):
            text, invalid = value, 1
    elif isinstance(value, str) and not is_json_mime(mime):
        text = value
    else:
        text = to_json(value)
    size = len(blob) if blob is not None else _utf8_size(text) if text else 0
    return TABLE["output_data"].row(id=index, output=output, cell=cell, notebook=0, mime=mime, text=text, data=blob,
                                    size=size, invalid_base64=invalid)


def _decode_base64(value: str) -> bytes:
    """The bytes of base64 text with whitespace anywhere; raises for anything else that is not base64."""
    try:  # the usual shapes, one line or lines split by newlines, without splitting into a list
        return base64.b64decode(value.replace("\n", ""), validate=True)
    except (binascii.Error, ValueError):
        return base64.b64decode("".join(value.split()), validate=True)


def _scrap_row(index: int, cell: int, output: int, scrap: dict) -> tuple:
    name, encoder, version = scrap.get("name"), scrap.get("encoder"), scrap.get("version")
    return TABLE["scraps"].row(id=index, notebook=0, cell=cell, output=output,
                               name=name if isinstance(name, str) else None,
                               encoder=encoder if isinstance(encoder, str) else None,
                               data=to_json(scrap.get("data")), version=version if is_integer(version) else None)


def _assignments(source: str):
    """``name = value`` pairs of a parameters cell (values as JSON, else as written)."""
    try:
        tree = parse_quietly(source)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, expression = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, expression = node.target, node.value
        else:
            continue
        if not isinstance(target, ast.Name):
            continue
        try:
            value = to_json(ast.literal_eval(expression))
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            value = ast.get_source_segment(source, expression)
        yield target.id, value
