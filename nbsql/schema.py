"""The database schema: every table, column, key, index, view and the FTS index, described once.

The loader, ``metadata.json``, the README's schema section and the SQL comments stored in
``sqlite_master`` are all generated from the definitions below.
"""

from __future__ import annotations

import re
import sqlite3
from collections import namedtuple
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

#: Bumped whenever the schema, or what a column holds, changes; stored in ``PRAGMA user_version``.
#: A database of another version is rebuilt by the next load (3: source_hash keeps the inside of
#: multi-line strings; 4: output texts beyond read.OUTPUT_TEXT_LIMIT characters are stored cut;
#: 5: cell_names and cell_dependencies; 6: those two without a notebook column, which their cell gives;
#: 7: notebooks.python_major; 8: imports.language, and the imports of Julia and R cells; 9: the
#: source_hash index covers what NB116 and the search's copies read; 10: executions and execution_cells,
#: the runs of nbsql run; 11: the FTS index holds each distinct text once, cells.text and cell_texts).
SCHEMA_VERSION = 11
#: ``PRAGMA application_id`` of every database nbsql makes ("nbsq"): a load writes into no other.
APPLICATION_ID = 0x6E627371
DATABASE_TITLE = "Jupyter notebooks"
DATABASE_DESCRIPTION = ("Notebooks loaded by nbsql: cells, outputs, images, imports, definitions, "
                        "papermill parameters and scrapbook scraps, linked by foreign keys.")


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str
    references: str | None = None  # "table" (its id) or "table.column"; children go with their parent
    constraint: str = ""

    @property
    def target(self) -> tuple[str, str] | None:
        if not self.references:
            return None
        table, _, column = self.references.partition(".")
        return table, column or "id"


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]
    unique: tuple[str, ...] = ()
    label_column: str | None = None

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @cached_property
    def row(self) -> type[Any]:
        """The table's row type: a namedtuple of its columns, built by keyword (``row(id=0, ...)``);
        the writer binds its fields by name, so a row never depends on the order of the columns."""
        return _row_type(self.name, self.column_names)


def _row_type(table: str, fields: tuple[str, ...]) -> type[Any]:
    return namedtuple("".join(word.title() for word in table.split("_")) + "Row", fields)  # type: ignore[misc]


@dataclass(frozen=True)
class View:
    name: str
    description: str
    sql: str
    #: Descriptions of the columns the view computes; the others are described by :func:`view_columns`.
    computed: dict[str, str] = field(default_factory=dict)


def _id(what: str) -> Column:
    return Column("id", "INTEGER", f"Primary key of the {what}", constraint="PRIMARY KEY")


def _notebook_fk() -> Column:
    return Column("notebook", "INTEGER", "The notebook (notebooks.id)", "notebooks", "NOT NULL")


def _cell_fk(nullable: bool = False) -> Column:
    return Column("cell", "INTEGER", "The cell (cells.id)", "cells", "" if nullable else "NOT NULL")


_METRIC = "radon metric of Python code cells (NULL for other cells and cells that do not parse)"

TABLES: tuple[Table, ...] = (
    Table("notebooks", "One row per notebook file loaded", (
        _id("notebook"),
        Column("root", "TEXT", "Absolute path of the outermost loaded folder holding the notebook (a file "
               "is stored once, however many overlapping folders are loaded)", constraint="NOT NULL"),
        Column("path", "TEXT", "Path relative to the load root, with / separators", constraint="NOT NULL"),
        Column("name", "TEXT", "File name"),
        Column("size", "INTEGER", "File size in bytes"),
        Column("mtime", "REAL", "File modification time (Unix seconds)"),
        Column("sha256", "TEXT", "SHA-256 of the file's bytes"),
        Column("nbformat", "INTEGER", "nbformat major version of the file"),
        Column("nbformat_minor", "INTEGER", "nbformat minor version of the file"),
        Column("orig_nbformat", "INTEGER", "nbformat the notebook was first written in (metadata.orig_nbformat, "
                                           "else the file's version); nbformat 1-3 files are upgraded to 4"),
        Column("kernel_name", "TEXT", "kernelspec.name"),
        Column("kernel_display_name", "TEXT", "kernelspec.display_name"),
        Column("language", "TEXT", "Programming language, lower case: language_info, kernelspec or v3 cell language"),
        Column("language_version", "TEXT", "language_info.version"),
        Column("python_major", "INTEGER", "Python major version of a Python notebook, 2 or 3: what language_info or "
                                          "the kernelspec names, else 2 when a cell parses only as Python 2 (print "
                                          "statements...), else 3 when a cell parses; NULL for other languages"),
        Column("title", "TEXT", "First markdown heading"),
        Column("cell_count", "INTEGER", "Number of cells"),
        Column("code_cell_count", "INTEGER", "Number of code cells"),
        Column("markdown_cell_count", "INTEGER", "Number of markdown cells"),
        Column("raw_cell_count", "INTEGER", "Number of raw cells"),
        Column("output_count", "INTEGER", "Number of saved outputs"),
        Column("image_count", "INTEGER", "Number of image mime bundles (image/*) in outputs"),
        Column("error_count", "INTEGER", "Number of error outputs"),
        Column("max_execution_count", "INTEGER", "Highest execution count of any code cell"),
        Column("metadata", "TEXT", "Notebook metadata (JSON)"),
        Column("warnings", "TEXT", "What the reader repaired or ignored (JSON array), NULL when nothing"),
        Column("checked_with", "TEXT", "Fingerprint of the rules and thresholds the findings were made with "
                                       "(NULL when loaded without checks)"),
        Column("loaded_at", "TEXT", "When this version of the file was loaded (UTC, ISO 8601)"),
    ), unique=("root", "path"), label_column="path"),
    Table("cells", "One row per cell, keyed by notebook and 0-based position over all cells", (
        _id("cell"),
        _notebook_fk(),
        Column("position", "INTEGER", "0-based position over all cells of the notebook", constraint="NOT NULL"),
        Column("cell_type", "TEXT", "code, markdown or raw (or the file's own word for unknown types)"),
        Column("source", "TEXT", "Cell source"),
        Column("execution_count", "INTEGER", "Execution count of a code cell (NULL when not executed)"),
        Column("cell_id", "TEXT", "nbformat 4.5 cell id as saved (NULL before 4.5 and for upgraded files); data, "
                                  "not a key"),
        Column("tags", "TEXT", "metadata.tags (JSON array), NULL when none"),
        Column("metadata", "TEXT", "Cell metadata (JSON)"),
        Column("attachments", "TEXT", "Markdown attachments (JSON: name -> mime bundle), NULL when none"),
        Column("line_count", "INTEGER", "Number of source lines"),
        Column("source_hash", "TEXT", "Hash of a code cell's source without comments and blank lines (a '#' "
                                      "inside a multi-line string is no comment; finds duplicates), NULL when empty"),
        Column("text", "INTEGER", "The cell's text (its source and indexed output text) in the search index: "
                                  "cell_texts.id and cells_fts.rowid, which its copies share", constraint="NOT NULL"),
        Column("parse_error", "TEXT", "Syntax error of a Python code cell after masking magics, else NULL"),
        Column("sloc", "INTEGER", "Source lines: not blank and not only a comment; " + _METRIC),
        Column("lloc", "INTEGER", "Logical lines (statements); " + _METRIC),
        Column("comments", "INTEGER", "Lines carrying a comment; " + _METRIC),
        Column("complexity", "INTEGER", "Total cyclomatic complexity; " + _METRIC),
        Column("max_complexity", "INTEGER", "Highest cyclomatic complexity of the cell's top level or one of its "
                                            "functions; " + _METRIC),
        Column("maintainability", "REAL", "Maintainability index 0-100; " + _METRIC),
        Column("halstead_volume", "REAL", "Halstead volume; " + _METRIC),
        Column("papermill_status", "TEXT", "metadata.papermill.status"),
        Column("papermill_duration", "REAL", "metadata.papermill.duration in seconds"),
        Column("papermill_exception", "INTEGER", "metadata.papermill.exception (1 when the cell raised)"),
    ), unique=("notebook", "position"), label_column="position"),
    Table("cell_texts", "One row per distinct text of the search index (cells_fts): the source and output text "
          "that some cells share; a load adds it, and triggers on cells count its cells and remove it with the "
          "last", (
        Column("id", "INTEGER", "The text's id (cells.text, cells_fts.rowid)", constraint="PRIMARY KEY"),
        Column("key", "INTEGER", "A 64-bit hash of the text, by which loads find it", constraint="NOT NULL UNIQUE"),
        Column("source_hash", "TEXT", "The source_hash of the cells holding it"),
        Column("cells", "INTEGER", "How many cells hold it", constraint="NOT NULL"),
    )),
    Table("outputs", "One row per saved output of a code cell", (
        _id("output"),
        _cell_fk(),
        _notebook_fk(),
        Column("position", "INTEGER", "0-based position among the cell's outputs", constraint="NOT NULL"),
        Column("output_type", "TEXT", "stream, execute_result, display_data or error"),
        Column("stream_name", "TEXT", "stdout or stderr for streams"),
        Column("text", "TEXT", "Stream text, text/plain of results, or 'name: value' of errors (a text over "
               "16,777,216 characters is cut there; notebooks.warnings gives its length)"),
        Column("execution_count", "INTEGER", "Execution count of an execute_result"),
        Column("error_name", "TEXT", "Exception class name (ename) of an error output"),
        Column("error_value", "TEXT", "Exception message (evalue) of an error output"),
        Column("traceback", "TEXT", "Traceback lines as saved (JSON array)"),
        Column("traceback_text", "TEXT", "Traceback as plain text, ANSI escapes stripped"),
        Column("metadata", "TEXT", "Output metadata (JSON)"),
    ), unique=("cell", "position"), label_column="output_type"),
    Table("output_data", "One row per mime type of an output's data bundle", (
        _id("mime bundle entry"),
        Column("output", "INTEGER", "The output (outputs.id)", "outputs", "NOT NULL"),
        _cell_fk(),
        _notebook_fk(),
        Column("mime", "TEXT", "Mime type", constraint="NOT NULL"),
        Column("text", "TEXT", "Textual data (text/*, JSON, SVG), or binary data whose base64 is invalid (a text "
               "over 16,777,216 characters is cut there; notebooks.warnings gives its length)"),
        Column("data", "BLOB", "Decoded bytes of binary (base64) data such as PNG, JPEG and GIF images"),
        Column("size", "INTEGER", "Size in bytes of the data (decoded for binary data)"),
        Column("invalid_base64", "INTEGER", "1 when binary data was not valid base64 and was kept as text"),
    ), unique=("output", "mime"), label_column="mime"),
    Table("imports", "Imports and package installs found in code cells: Python's parsed, Julia's and R's read "
          "line by line (nbsql.languages)", (
        _id("import"),
        _notebook_fk(),
        _cell_fk(),
        Column("language", "TEXT", "python, julia or r"),
        Column("line", "INTEGER", "1-based line in the cell"),
        Column("kind", "TEXT", "Python: import, from, pip (%pip / !pip install) or conda; Julia: using or import; R: "
               "library, require, requireNamespace or namespace (pkg::f)"),
        Column("module", "TEXT", "Module imported (from-module for 'from'), or distribution installed"),
        Column("name", "TEXT", "Name imported by 'from' ('*' for a star import), Julia's 'using M: name', R's "
               "pkg::name"),
        Column("alias", "TEXT", "'as' alias"),
        Column("package", "TEXT", "Top-level package (or normalised distribution name for installs)"),
        Column("is_stdlib", "INTEGER", "1 when the package belongs to the standard library (Julia's; R's base "
               "packages)"),
        Column("is_relative", "INTEGER", "1 for relative imports (from . import x)"),
        Column("spec", "TEXT", "Requirement as written in an install line (pandas==2.1)"),
    ), label_column="module"),
    Table("functions", "Functions, classes and methods defined in code cells", (
        _id("definition"),
        _notebook_fk(),
        _cell_fk(),
        Column("kind", "TEXT", "function, method or class"),
        Column("name", "TEXT", "Name"),
        Column("qualified_name", "TEXT", "Name with enclosing classes and functions (Class.method)"),
        Column("line", "INTEGER", "First line in the cell (1-based)"),
        Column("end_line", "INTEGER", "Last line in the cell"),
        Column("complexity", "INTEGER", "Cyclomatic complexity as radon scores it (for a class: its methods' "
                                          "average)"),
    ), label_column="qualified_name"),
    Table("cell_names", "Notebook-level names each Python code cell defines, modifies, uses and calls: one row per "
          "cell, kind and name, in the order the cell first mentions them (nbsql.deps.names; the notebook is the "
          "cell's)", (
        _id("row"),
        _cell_fk(),
        Column("name", "TEXT", "A variable, function, class or imported module (import a.b binds a; * for a star "
               "import); for a call, the callee as a dotted name as written (pd.read_csv; .sum for a method of "
               "something that is not a name, as in df.groupby('a').sum())"),
        Column("kind", "TEXT", "define (bound at the top level: assignment, import, def, class, for or with target, "
               ":=, except name, match capture, global in a function), modify (changed in place: df['x'] = ..., "
               "obj.attr = ..., del d[key]), use (read before the cell binds it, or free in its functions; builtins "
               "only where the notebook shadows them) or call (builtins included)"),
    ), label_column="name"),
    Table("cell_dependencies", "What each Python code cell needs: every name it uses, linked to the nearest earlier "
          "cell in notebook order that defines or modifies it (a name no cell defines: to the nearest earlier star "
          "import). A cell's slice is the closure of these links (the notebook is the cell's)", (
        _id("dependency"),
        Column("cell", "INTEGER", "The cell that uses the name (cells.id)", "cells", "NOT NULL"),
        Column("depends_on", "INTEGER", "The nearest earlier cell that defines or modifies the name (cells.id)",
               "cells", "NOT NULL"),
        Column("name", "TEXT", "The name used"),
    ), label_column="name"),
    Table("parameters", "Notebook parameters: papermill's recorded values and 'parameters' cells", (
        _id("parameter"),
        _notebook_fk(),
        _cell_fk(nullable=True),
        Column("source", "TEXT", "papermill (metadata.papermill.parameters), parameters or injected-parameters "
                                 "(assignments in a cell with that tag)"),
        Column("name", "TEXT", "Parameter name"),
        Column("value", "TEXT", "Value as JSON (the source text when it is not a literal)"),
    ), label_column="name"),
    Table("scraps", "scrapbook scraps saved in outputs (application/scrapbook.scrap.*)", (
        _id("scrap"),
        _notebook_fk(),
        _cell_fk(),
        Column("output", "INTEGER", "The output (outputs.id)", "outputs", "NOT NULL"),
        Column("name", "TEXT", "Scrap name"),
        Column("encoder", "TEXT", "scrapbook encoder (json, text, pandas, ...)"),
        Column("data", "TEXT", "Scrap data (JSON)"),
        Column("version", "INTEGER", "scrapbook scrap version"),
    ), label_column="name"),
    Table("rules", "The health rules, with their documentation", (
        Column("code", "TEXT", "Stable rule code (NB001...)", constraint="PRIMARY KEY"),
        Column("slug", "TEXT", "Rule name"),
        Column("severity", "TEXT", "error, warning or info"),
        Column("scope", "TEXT", "notebook, cell or corpus (checked over the whole database)"),
        Column("python_only", "INTEGER", "1 when the rule only runs on Python notebooks"),
        Column("summary", "TEXT", "One-line summary"),
        Column("what_it_does", "TEXT", "Documentation: what it does (markdown)"),
        Column("why_bad", "TEXT", "Documentation: why is this bad? (markdown)"),
        Column("example", "TEXT", "Documentation: example (markdown)"),
        Column("use_instead", "TEXT", "Documentation: use instead (markdown)"),
        Column("thresholds", "TEXT", "Default thresholds (JSON object)"),
    ), label_column="slug"),
    Table("findings", "Health findings: one row per problem found by a rule", (
        _id("finding"),
        _notebook_fk(),
        _cell_fk(nullable=True),
        Column("rule", "TEXT", "The rule (rules.code)", "rules.code", "NOT NULL"),
        Column("severity", "TEXT", "error, warning or info"),
        Column("position", "INTEGER", "0-based position of the cell over all cells (NULL for the whole notebook)"),
        Column("cell_id", "TEXT", "nbformat cell id of the cell, when it has one"),
        Column("line", "INTEGER", "1-based line in the cell, when known"),
        Column("message", "TEXT", "What is wrong"),
        Column("details", "TEXT", "Details (JSON object)"),
    ), label_column="message"),
    Table("executions", "One row per run of a notebook by nbsql run (kept when the notebook is loaded again; "
          "deleted with it)", (
        _id("run"),
        _notebook_fk(),
        Column("sha256", "TEXT", "SHA-256 of the notebook file that ran (notebooks.sha256 at the time): a run of an "
               "older version when they differ"),
        Column("started", "TEXT", "Start (UTC, ISO 8601)"),
        Column("seconds", "REAL", "Duration in seconds, copying the folder and starting the kernel included"),
        Column("status", "TEXT", "ok, error (a cell raised), timeout (a cell or the whole run), kernel-missing (the "
               "kernel is not installed: nothing ran) or crashed (the kernel died)"),
        Column("failure_class", "TEXT", "Why the run failed (NULL when ok): missing-module, missing-file, network, "
               "timeout, missing-kernel, out-of-memory, kernel-died or code (an exception in the notebook's own code)"),
        Column("missing_module", "TEXT", "For missing-module: the top-level module the notebook could not import (see "
               "imports.package and rule NB302)"),
        Column("failing_cell", "INTEGER", "0-based position of the cell that failed, NULL when none did or the "
               "injected parameters failed"),
        Column("exception_name", "TEXT", "Exception class name of the failure (or TimeoutError, DeadKernelError, "
               "NoSuchKernel)"),
        Column("exception_value", "TEXT", "Exception message (its first 2,000 characters)"),
        Column("kernel_name", "TEXT", "Kernel that ran the notebook (the kernelspec's, or --kernel)"),
        Column("language_version", "TEXT", "Language version the kernel reported (language_info.version)"),
        Column("isolated", "INTEGER", "1 when the network was isolated (a network namespace with loopback only, "
               "checked from inside the run), 0 when the run had the machine's network"),
        Column("parameters", "TEXT", "Parameters injected after the cell tagged parameters (JSON object), NULL "
               "when none"),
        Column("cell_order", "TEXT", "cells (top to bottom) or counts (by saved execution count)"),
        Column("same_results", "INTEGER", "1 when the run was ok and every executed cell's outputs were the same as "
               "the saved ones (execution_cells.comparison), 0 when ok but some differ, NULL when not ok"),
        Column("cells_run", "INTEGER", "Code cells executed"),
        Column("cells_different", "INTEGER", "Executed cells whose outputs were not the same as the saved ones"),
        Column("comparison", "TEXT", "Comparison level: what same meant (see the README's nbsql run section)"),
        Column("files_left_out", "INTEGER", "Files of the notebook's folder not copied for the run (symlinked folders, "
               "files beyond the copy's size limit)"),
        Column("nbsql_version", "TEXT", "nbsql version"),
    ), label_column="started"),
    Table("execution_cells", "One row per code cell executed in a run, with its new outputs and their comparison with "
          "the saved ones", (
        _id("executed cell"),
        Column("execution", "INTEGER", "The run (executions.id)", "executions", "NOT NULL"),
        _notebook_fk(),
        Column("position", "INTEGER", "0-based position of the cell over all cells of the notebook that ran",
               constraint="NOT NULL"),
        Column("step", "INTEGER", "1-based place of the cell in the run's order", constraint="NOT NULL"),
        Column("status", "TEXT", "ok, error, timeout or crashed"),
        Column("seconds", "REAL", "Execution time in seconds"),
        Column("execution_count", "INTEGER", "Execution count the kernel gave the cell"),
        Column("output_count", "INTEGER", "Outputs the cell produced"),
        Column("outputs", "TEXT", "The new outputs, as a notebook file saves them (JSON array of nbformat outputs; "
               "a cell's outputs beyond 1 MiB of JSON are cut, see outputs_cut)"),
        Column("outputs_cut", "INTEGER", "Characters of output left out of outputs (0 when all were kept)"),
        Column("comparison", "TEXT", "same, different (both have outputs, not the same), missing (saved outputs, "
               "none now) or new (outputs now, none saved)"),
        Column("differences", "TEXT", "What differed (JSON array of text, image, error, data), NULL when same"),
    ), unique=("execution", "position"), label_column="position"),
    Table("loads", "One row per run of nbsql load", (
        _id("load"),
        Column("started", "TEXT", "Start (UTC, ISO 8601)"),
        Column("finished", "TEXT", "End (UTC, ISO 8601); NULL while running or when interrupted"),
        Column("seconds", "REAL", "Duration in seconds"),
        Column("roots", "TEXT", "Paths given (JSON array of absolute paths)"),
        Column("options", "TEXT", "Options of the run (JSON); corpus_findings_cleared: true when a run without "
               "checks changed the notebooks and so deleted the corpus-wide findings"),
        Column("seen", "INTEGER", "Notebook files found"),
        Column("loaded", "INTEGER", "Files (re)loaded"),
        Column("unchanged", "INTEGER", "Files skipped as unchanged"),
        Column("removed", "INTEGER", "Notebooks removed because their file vanished"),
        Column("failed", "INTEGER", "Files that could not be loaded (see load_errors)"),
        Column("nbsql_version", "TEXT", "nbsql version"),
    ), label_column="started"),
    Table("load_errors", "Files found that could not be loaded, with the reason", (
        _id("error"),
        Column("root", "TEXT", "Absolute path of the load root", constraint="NOT NULL"),
        Column("path", "TEXT", "Path relative to the root", constraint="NOT NULL"),
        Column("kind", "TEXT", "Category: empty, binary, encoding, json, truncated, not_a_notebook, "
                               "unsupported_version, upgrade_failed, unreadable, not_a_file, bad_name (a path "
                               "that is not valid UTF-8)"),
        Column("message", "TEXT", "One-line reason"),
        Column("size", "INTEGER", "File size in bytes, when known"),
        Column("mtime", "REAL", "File modification time, when known"),
        Column("load", "INTEGER", "The run that recorded the error (loads.id)", "loads"),
        Column("at", "TEXT", "When the error was recorded (UTC, ISO 8601)"),
    ), unique=("root", "path"), label_column="path"),
)

TABLE = {t.name: t for t in TABLES}
#: Tables only nbsql run fills (a load leaves them as they are).
RUN_TABLES = ("executions", "execution_cells")
#: Tables holding one notebook's content, in insertion order (parents first).
CONTENT_TABLES = ("cells", "outputs", "output_data", "imports", "functions", "cell_names", "cell_dependencies",
                  "parameters", "scraps", "findings")

FTS_TABLE = "cells_fts"
FTS_COLUMNS = ("source", "outputs")
#: A row of the FTS index as a worker makes it: ``rowid`` is the text's key (a hash), for which the
#: writer puts the text's id (cells.text, which the cells holding it share).
FTS_ROW = _row_type(FTS_TABLE, ("rowid",) + FTS_COLUMNS)
#: Characters of a cell's output text the FTS index holds: indexing takes memory, while the row is
#: inserted, up to some 25 times the text (a text of distinct numbers: 10 MiB took 200 MB).
FTS_OUTPUT_LIMIT = 1024 * 1024
FTS_DESCRIPTION = ("Full-text index (FTS5) of cells, each distinct text once: rowid is cells.text (cell_texts.id); "
                   "columns source and outputs (the text of the cell's outputs, joined by newlines; only its first "
                   f"{FTS_OUTPUT_LIMIT:,} characters, 1 MiB, are indexed)")

#: Health score weights per finding, each rule counting at most SCORE_CAP findings per notebook.
SCORE_WEIGHTS = {"error": 15, "warning": 5, "info": 1}
SCORE_CAP = 3


def health_score(counts: Iterable[tuple[str, int]]) -> int:
    """A notebook's health score, as the notebook_health view computes it, from (severity, number
    of findings) of each of its rules."""
    return max(0, 100 - sum(min(found, SCORE_CAP) * SCORE_WEIGHTS[severity] for severity, found in counts))

VIEWS: tuple[View, ...] = (
    View("notebook_health", f"Findings per notebook by severity and a 0-100 health score: 100 minus "
         f"{SCORE_WEIGHTS['error']} per error, {SCORE_WEIGHTS['warning']} per warning and {SCORE_WEIGHTS['info']} "
         f"per info finding, each rule counting at most {SCORE_CAP} times, never below 0", f"""
SELECT n.id, n.root, n.path, n.title, n.language,
       coalesce(sum(CASE WHEN f.severity = 'error' THEN f.found END), 0) AS errors,
       coalesce(sum(CASE WHEN f.severity = 'warning' THEN f.found END), 0) AS warnings,
       coalesce(sum(CASE WHEN f.severity = 'info' THEN f.found END), 0) AS infos,
       max(0, 100 - coalesce(sum(f.counted * CASE f.severity WHEN 'error' THEN {SCORE_WEIGHTS['error']}
           WHEN 'warning' THEN {SCORE_WEIGHTS['warning']} ELSE {SCORE_WEIGHTS['info']} END), 0)) AS score
FROM notebooks n LEFT JOIN (
  SELECT notebook, rule, severity, count(*) AS found, min(count(*), {SCORE_CAP}) AS counted
  FROM findings GROUP BY notebook, rule, severity) f ON f.notebook = n.id
GROUP BY n.id""", {"errors": "Findings of severity error", "warnings": "Findings of severity warning",
                   "infos": "Findings of severity info", "score": "Health score, 0-100 (see the view's description)"}),
    View("notebook_summary", "Each notebook with its counts, imports and distinct packages", """
SELECT n.id, n.root, n.path, n.title, n.language, n.kernel_name, n.nbformat, n.size, n.cell_count,
       n.code_cell_count, n.markdown_cell_count, n.output_count, n.image_count, n.error_count,
       n.max_execution_count,
       (SELECT count(*) FROM imports i WHERE i.notebook = n.id) AS import_count,
       (SELECT count(DISTINCT package) FROM imports i WHERE i.notebook = n.id AND NOT i.is_stdlib)
         AS third_party_packages,
       (SELECT count(*) FROM functions f WHERE f.notebook = n.id) AS definition_count
FROM notebooks n""", {"import_count": "Imports and installs in the notebook",
                      "third_party_packages": "Distinct packages imported that are not in the standard library",
                      "definition_count": "Functions, classes and methods defined"}),
    View("code_cells", "Code cells with their notebook's path and language", """
SELECT c.id, n.path, n.language, c.notebook, c.position, c.execution_count, c.source, c.line_count,
       c.parse_error, c.sloc, c.complexity, c.maintainability
FROM cells c JOIN notebooks n ON n.id = c.notebook
WHERE c.cell_type = 'code'"""),
    View("error_outputs", "Saved error outputs with notebook path and cell position", """
SELECT o.id, n.path, c.position AS cell_position, o.notebook, o.cell, o.error_name, o.error_value,
       o.traceback_text
FROM outputs o JOIN cells c ON c.id = o.cell JOIN notebooks n ON n.id = o.notebook
WHERE o.output_type = 'error'"""),
    View("images", "Image outputs with notebook path and cell position", """
SELECT d.id, n.path, c.position AS cell_position, d.notebook, d.cell, d.output, d.mime, d.size,
       d.invalid_base64
FROM output_data d JOIN cells c ON c.id = d.cell JOIN notebooks n ON n.id = d.notebook
WHERE d.mime LIKE 'image/%'"""),
    View("package_usage", "Packages imported (loaded, in Julia and R), with how many notebooks and cells use them",
         """
SELECT language, package, is_stdlib, count(DISTINCT notebook) AS notebooks, count(DISTINCT cell) AS cells,
       count(*) AS imports
FROM imports WHERE package IS NOT NULL AND kind NOT IN ('pip', 'conda')
GROUP BY language, package, is_stdlib""", {"notebooks": "Notebooks importing the package",
                                  "cells": "Cells importing it", "imports": "Import statements naming it"}),
)


def view_columns(view: View) -> dict[str, str]:
    """Every column of ``view`` with a description: its own for computed columns, else the
    description of the table column it selects (``c.position AS cell_position``: cells.position)."""
    select = view.sql.split("SELECT", 1)[1].split("\nFROM ", 1)[0]
    aliases = {alias: table for table, alias in re.findall(r"(?:FROM|JOIN) (\w+) (\w)\b", view.sql)}
    single = re.search(r"FROM (\w+) WHERE", view.sql)
    tables = {t.name: t for t in TABLES}
    columns = {}
    for item in _top_level_items(select):
        name = item.rsplit(" AS ", 1)[-1].strip() if " AS " in item else item.split(".")[-1].strip()
        if name in view.computed:
            columns[name] = view.computed[name]
            continue
        source = re.fullmatch(r"(?:(\w)\.)?(\w+)(?:\s+AS\s+\w+)?", item.strip())
        if source is None:
            raise ValueError(f"view {view.name}: {item!r} is neither a computed column nor a table's")
        alias, column = source.group(1, 2)
        if alias:
            table = tables[aliases[alias]]
        elif single is not None:
            table = tables[single.group(1)]
        else:
            raise ValueError(f"view {view.name}: {item!r} does not say which table it is from")
        columns[name] = next(c.description for c in table.columns if c.name == column)
    return columns


def _top_level_items(select: str) -> list[str]:
    """The items of a SELECT list (commas inside parentheses do not split)."""
    items, depth, current = [], 0, ""
    for char in select:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            items.append(" ".join(current.split()))
            current = ""
        else:
            current += char
    return items + [" ".join(current.split())]


def _comment(text: str) -> str:
    return " ".join(text.split())


def create_table_sql(table: Table) -> str:
    lines = []
    for column in table.columns:
        parts = [column.name, column.type, column.constraint]
        if column.target:
            parts.append(f"REFERENCES {column.target[0]}({column.target[1]}) ON DELETE CASCADE")
        lines.append((" ".join(p for p in parts if p), column.description))
    if table.unique:
        lines.append((f"UNIQUE ({', '.join(table.unique)})", "One row per " + " and ".join(table.unique)))
    body = "\n".join(f"  {sql}{',' if i < len(lines) - 1 else ''} -- {_comment(text)}"
                     for i, (sql, text) in enumerate(lines))
    return f"CREATE TABLE {table.name} ( -- {_comment(table.description)}\n{body}\n)"


def index_sql() -> list[str]:
    """Every index: one on each foreign key, then those the pages and searches look things up by."""
    statements = [f"CREATE INDEX idx_{table.name}_{column.name} ON {table.name}({column.name})"
                  for table in TABLES for column in table.columns if column.references]
    return statements + ["CREATE INDEX idx_imports_package ON imports(package)",
                         "CREATE INDEX idx_cell_names_name ON cell_names(name, kind)",
                         # covering what NB116 and the copies of a search result read: without the
                         # rows' pages, NB116 took a third of the time on 10,000 notebooks
                         "CREATE INDEX idx_cells_source_hash ON cells(source_hash, notebook, position, sloc, "
                         "line_count)",
                         "CREATE INDEX idx_cells_type ON cells(cell_type)",
                         # the cells holding a text of the search index, covering what a search counts
                         # and the cells page's facet reads (on 40,000 notebooks that facet of 'import'
                         # took 394 ms from the rows, 46 ms from this index)
                         "CREATE INDEX idx_cells_text ON cells(text, notebook, cell_type)"] + [
        # the notebooks page's sort and facets (metadata.FACETS): read from an index, not the rows
        # (on 40,000 notebooks each facet took 21 ms, the sorted rows 10 ms; then 1.6 and 0.1 ms)
        f"CREATE INDEX idx_notebooks_{column} ON notebooks({column})"
        for column in ("path", "language", "kernel_name", "nbformat")]


#: Tables whose indexes a database built aside (a first load) gets once its rows are in: they hold
#: the most rows (the corpus: 140,000 of them), and sorting their keys once costs less than inserting
#: each row into each index as it comes (0.29 s against 0.25 s).
LATE_TABLES = ("cell_names", "cell_dependencies")
LATE_INDEXES = tuple(statement for statement in index_sql()
                     if any(f" ON {table}(" in statement for table in LATE_TABLES))


#: Keep cell_texts and the FTS index in step with cells: a text is counted by the cells holding it,
#: and leaves the index with the last of them. (The writer adds a text and its FTS row when new.)
TEXT_TRIGGERS = (
    "CREATE TRIGGER cells_text_insert AFTER INSERT ON cells BEGIN\n"
    "  UPDATE cell_texts SET cells = cells + 1, source_hash = coalesce(source_hash, new.source_hash)\n"
    "  WHERE id = new.text;\nEND",
    "CREATE TRIGGER cells_text_delete AFTER DELETE ON cells BEGIN\n"
    "  UPDATE cell_texts SET cells = cells - 1 WHERE id = old.text;\n"
    f"  DELETE FROM {FTS_TABLE} WHERE rowid = old.text AND (SELECT cells FROM cell_texts WHERE id = old.text) = 0;\n"
    "  DELETE FROM cell_texts WHERE id = old.text AND cells = 0;\nEND",
)


def schema_sql(late_indexes: bool = True) -> list[str]:
    """Every statement that creates the schema, in order; without :data:`LATE_INDEXES` unless
    ``late_indexes``."""
    statements = [create_table_sql(t) for t in TABLES]
    statements += [s for s in index_sql() if late_indexes or s not in LATE_INDEXES]
    statements += [
        f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5( -- {FTS_DESCRIPTION}\n  {', '.join(FTS_COLUMNS)},\n"
        "  tokenize = 'unicode61 remove_diacritics 2'\n)",
        *TEXT_TRIGGERS,
    ]
    statements += [f"CREATE VIEW {v.name} AS -- {_comment(v.description)}{v.sql}" for v in VIEWS]
    return statements


def create(conn: sqlite3.Connection, late_indexes: bool = True) -> None:
    """Create every table, index, view and trigger (call inside a transaction); leave out
    :data:`LATE_INDEXES` unless ``late_indexes``, for :func:`create_late_indexes` to make."""
    for statement in schema_sql(late_indexes):
        conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")


def create_late_indexes(conn: sqlite3.Connection) -> None:
    """Create :data:`LATE_INDEXES` (call inside a transaction)."""
    for statement in LATE_INDEXES:
        conn.execute(statement.replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1))


def unmarked_tables(version: int) -> frozenset[str] | None:
    """The tables and views of an nbsql database of schema ``version`` made before databases
    carried :data:`APPLICATION_ID` (None for versions that never existed unmarked)."""
    names = frozenset(t.name for t in TABLES) | {FTS_TABLE} | {v.name for v in VIEWS}
    names -= {"cell_names", "cell_dependencies"}  # since schema 5
    names -= set(RUN_TABLES)  # since schema 10
    names -= {"cell_texts"}  # since schema 11
    if version == 1:  # before the health checks
        return names - {"rules", "findings", "notebook_health"}
    return names if version in (2, 3) else None


def drop(conn: sqlite3.Connection) -> None:
    """Drop every object nbsql created (call inside a transaction)."""
    for view in VIEWS:
        conn.execute(f"DROP VIEW IF EXISTS {view.name}")
    conn.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")
    for table in reversed(TABLES):
        conn.execute(f"DROP TABLE IF EXISTS {table.name}")
    conn.execute("PRAGMA user_version = 0")


def markdown() -> str:
    """The README's schema section."""
    out = []
    for table in TABLES:
        keys = f" Unique: ({', '.join(table.unique)})." if table.unique else ""
        out += [f"### `{table.name}`", "", f"{table.description}.{keys}", "",
                "| column | type | description |", "| --- | --- | --- |"]
        for c in table.columns:
            ref = f" → `{c.target[0]}.{c.target[1]}`" if c.target else ""
            out.append(f"| `{c.name}` | {c.type}{ref} | {c.description} |")
        out.append("")
    out += [f"### `{FTS_TABLE}`", "", FTS_DESCRIPTION + ".", "", "### Views", ""]
    out += [f"- `{v.name}`: {v.description}." for v in VIEWS]
    return "\n".join(out) + "\n"

