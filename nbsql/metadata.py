"""Datasette metadata for an nbsql database: descriptions, labels, facets, sorts, page sizes and
canned queries.

Generated from :mod:`nbsql.schema`, so ``metadata.json`` and ``nbsql serve`` never drift apart.
"""

from __future__ import annotations

from . import schema

#: Facets offered on each table, and its default sort ("-column" for descending).
FACETS = {
    "notebooks": ["language", "kernel_name", "nbformat"],
    "cells": ["cell_type"],
    "outputs": ["output_type", "error_name"],
    "output_data": ["mime"],
    "imports": ["kind", "package", "is_stdlib"],
    "functions": ["kind"],
    "cell_names": ["kind"],
    "findings": ["rule", "severity"],
    "rules": ["severity", "scope"],
    "load_errors": ["kind"],
    "executions": ["status", "failure_class", "cell_order", "same_results", "isolated"],
    "execution_cells": ["status", "comparison"],
}
#: Rows on a page of a table, where fewer than Datasette's 100: a table page renders every value
#: (cells highlighted, 28 columns of notebooks), and these are the pages people open first.
PAGE_SIZES = {"notebooks": 50, "cells": 30, "code_cells": 30}
SORTS = {"notebooks": "path", "findings": "notebook", "load_errors": "path", "loads": "-started",
         "output_data": "-size", "rules": "code", "executions": "-started"}

#: Markers around matches in search snippets; the plugin turns them into <mark> elements.
MARK_START, MARK_END = "\u27e6", "\u27e7"

CANNED_QUERIES: dict[str, dict[str, str]] = {
    "notebooks_with_most_findings": {
        "title": "Notebooks with the most findings",
        "description": "Health of each notebook: findings by severity and the 0-100 score (lowest first).",
        "sql": "SELECT id AS notebook, path, title, errors, warnings, infos, score FROM notebook_health\n"
               "ORDER BY score, errors DESC, warnings DESC LIMIT 100",
    },
    "findings_by_rule": {
        "title": "Findings by rule",
        "description": "How often each health rule fires and in how many notebooks.",
        "sql": "SELECT r.code, r.slug, r.severity, count(f.id) AS findings, count(DISTINCT f.notebook) AS notebooks,\n"
               "       r.summary\nFROM rules r LEFT JOIN findings f ON f.rule = r.code\n"
               "GROUP BY r.code ORDER BY findings DESC, r.code",
    },
    "most_imported_packages": {
        "title": "Most imported packages",
        "description": "Third-party packages by the number of notebooks importing (in Julia and R, loading) them, "
                       "with examples.",
        "sql": "SELECT language, package, count(DISTINCT notebook) AS notebooks, count(*) AS imports,\n"
               "       (SELECT group_concat(path, ', ') FROM (SELECT DISTINCT n.path FROM imports j\n"
               "          JOIN notebooks n ON n.id = j.notebook\n"
               "          WHERE j.package = i.package AND j.language = i.language ORDER BY n.path LIMIT 5))\n"
               "         AS example_notebooks\n"
               "FROM imports i WHERE kind NOT IN ('pip', 'conda') AND NOT is_stdlib AND package IS NOT NULL\n"
               "GROUP BY language, package ORDER BY notebooks DESC LIMIT 100",
    },
    "notebooks_importing": {
        "title": "Notebooks importing a package",
        "description": "Every import of :package (a top-level package name such as pandas).",
        "sql": "SELECT n.id AS notebook, n.path, c.position AS cell, i.language, i.kind, i.line, i.module, i.name, "
               "i.alias\n"
               "FROM imports i JOIN notebooks n ON n.id = i.notebook JOIN cells c ON c.id = i.cell\n"
               "WHERE i.package = :package ORDER BY n.path, c.position, i.line",
    },
    "undeclared_imports": {
        "title": "Imports not declared in a manifest",
        "description": "Third-party imports missing from the nearest requirements file (rule NB302).",
        "sql": "SELECT n.id AS notebook, n.path, f.position AS cell, f.line, json_extract(f.details, '$.package')\n"
               "         AS package, f.message\n"
               "FROM findings f JOIN notebooks n ON n.id = f.notebook WHERE f.rule = 'NB302' ORDER BY package, n.path",
    },
    "errors_by_name": {
        "title": "Saved errors by exception name",
        "description": "Notebooks whose saved outputs hold errors, grouped by the error's name.",
        "sql": "SELECT o.error_name, count(*) AS outputs, count(DISTINCT o.notebook) AS notebooks,\n"
               "       group_concat(DISTINCT n.path) AS notebook_paths\n"
               "FROM outputs o JOIN notebooks n ON n.id = o.notebook WHERE o.output_type = 'error'\n"
               "GROUP BY o.error_name ORDER BY outputs DESC",
    },
    "out_of_order_notebooks": {
        "title": "Notebooks executed out of order",
        "description": "Notebooks whose execution counts go backwards (rule NB001), with the counts.",
        "sql": "SELECT n.id AS notebook, n.path, f.message, json_extract(f.details, '$.counts') AS counts\n"
               "FROM findings f JOIN notebooks n ON n.id = f.notebook WHERE f.rule = 'NB001' ORDER BY n.path",
    },
    "largest_notebooks": {
        "title": "Largest notebooks and their biggest output",
        "description": "File size, image count and the largest saved output of each of the biggest notebooks.",
        "sql": "SELECT n.id AS notebook, n.path, n.size, n.image_count,\n"
               "       (SELECT max(d.size) FROM output_data d WHERE d.notebook = n.id) AS biggest_output_bytes,\n"
               "       (SELECT d.mime FROM output_data d WHERE d.notebook = n.id ORDER BY d.size DESC LIMIT 1)\n"
               "         AS biggest_output_mime\n"
               "FROM notebooks n ORDER BY n.size DESC LIMIT 50",
    },
    "papermill_parameters": {
        "title": "papermill parameters",
        "description": "Parameters recorded by papermill and assigned in parameters cells.",
        "sql": "SELECT n.id AS notebook, n.path, p.source, p.name, p.value\n"
               "FROM parameters p JOIN notebooks n ON n.id = p.notebook ORDER BY n.path, p.source, p.name",
    },
    "scrapbook_scraps": {  # not "scraps": a canned query named like a table hides the table
        "title": "scrapbook scraps",
        "description": "Values saved with scrapbook.glue, by notebook.",
        "sql": "SELECT n.id AS notebook, n.path, s.name, s.encoder, s.data\n"
               "FROM scraps s JOIN notebooks n ON n.id = s.notebook ORDER BY n.path, s.name",
    },
    "search_cells": {
        "title": "Search cells",
        "description": "Full-text search over cell sources and their outputs, best matches first (FTS5 syntax: "
                       "words, \"phrases\", prefix*, OR, NOT; other text is read as words). At most 1,000 "
                       "characters and 64 words: a longer query fails.",
        "sql": f"SELECT n.id AS notebook, n.path, c.position AS cell, c.cell_type,\n"
               f"       snippet(cells_fts, 0, '{MARK_START}', '{MARK_END}', '…', 16) AS source_snippet,\n"
               f"       snippet(cells_fts, 1, '{MARK_START}', '{MARK_END}', '…', 16) AS output_snippet\n"
               f"FROM cells_fts JOIN cells c ON c.text = cells_fts.rowid JOIN notebooks n ON n.id = c.notebook\n"
               f"WHERE cells_fts MATCH nbsql_match(:q) ORDER BY rank LIMIT 50",
    },
    "image_gallery": {
        "title": "Images for a search term",
        "description": "Images saved in the outputs of cells whose source or output text matches :q "
                       "(at most 1,000 characters and 64 words).",
        "sql": "SELECT n.id AS notebook, n.path, c.position AS cell, d.mime, d.size, d.data AS image\n"
               "FROM output_data d JOIN cells c ON c.id = d.cell JOIN notebooks n ON n.id = d.notebook\n"
               "WHERE d.mime IN ('image/png', 'image/jpeg', 'image/gif') AND d.data IS NOT NULL\n"
               "  AND c.text IN (SELECT rowid FROM cells_fts WHERE cells_fts MATCH nbsql_match(:q))\n"
               "ORDER BY n.path, c.position LIMIT 40",
    },
    "duplicate_cells": {
        "title": "Code cells shared by several notebooks",
        "description": "The same code (ignoring comments and blank lines) in more than one notebook.",
        "sql": "SELECT source_hash, count(DISTINCT notebook) AS notebooks, min(line_count) AS lines,\n"
               "       (SELECT source FROM cells d WHERE d.source_hash = c.source_hash LIMIT 1) AS source\n"
               "FROM cells c WHERE source_hash IS NOT NULL AND line_count >= 3\n"
               "GROUP BY source_hash HAVING count(DISTINCT notebook) > 1 ORDER BY notebooks DESC LIMIT 100",
    },
    "cell_needs": {
        "title": "What a cell needs",
        "description": "The cells that cell :cell (its 0-based position) of notebook :notebook (an id, or a path as "
                       "stored) needs to run, directly or through others, in notebook order: its slice. "
                       "used_directly names what the cell itself takes from each.",
        "sql": "WITH RECURSIVE target AS (\n"
               "  SELECT c.id FROM cells c JOIN notebooks n ON n.id = c.notebook\n"
               "  WHERE (n.id = :notebook OR n.path = :notebook) AND c.position = :cell),\n"
               "needed(id) AS (\n"
               "  SELECT x.depends_on FROM cell_dependencies x JOIN target t ON x.cell = t.id\n"
               "  UNION SELECT x.depends_on FROM cell_dependencies x JOIN needed ON x.cell = needed.id)\n"
               "SELECT n.id AS notebook, n.path, c.position AS cell,\n"
               "       (SELECT group_concat(x.name, ', ') FROM cell_dependencies x JOIN target t ON x.cell = t.id\n"
               "        WHERE x.depends_on = c.id) AS used_directly, c.source\n"
               "FROM needed JOIN cells c ON c.id = needed.id JOIN notebooks n ON n.id = c.notebook\n"
               "ORDER BY c.position",
    },
    "cells_using_name": {
        "title": "Which cells use a name",
        "description": "Every code cell that reads the notebook-level name :name (a variable, function, class or "
                       "imported module), with the cell that defines it for that use (NULL when no earlier "
                       "cell does).",
        "sql": "SELECT n.id AS notebook, n.path, c.position AS cell,\n"
               "       (SELECT d.position FROM cell_dependencies x JOIN cells d ON d.id = x.depends_on\n"
               "        WHERE x.cell = u.cell AND x.name = u.name) AS defined_in, c.source\n"
               "FROM cell_names u JOIN cells c ON c.id = u.cell JOIN notebooks n ON n.id = c.notebook\n"
               "WHERE u.name = :name AND u.kind = 'use' ORDER BY n.path, c.position LIMIT 1000",
    },
    "latest_runs": {
        "title": "Latest run of each notebook",
        "description": "What nbsql run found last for each notebook and order: status, whether the outputs were the "
                       "same as the saved ones, why it failed, and whether the run is of the file as it is now.",
        "sql": "SELECT n.id AS notebook, n.path, e.cell_order, e.status, e.same_results, e.failure_class,\n"
               "       e.missing_module, e.failing_cell, e.exception_name, e.exception_value, e.seconds, e.isolated,\n"
               "       e.sha256 IS n.sha256 AS current_file, e.started\n"
               "FROM executions e JOIN notebooks n ON n.id = e.notebook\n"
               "WHERE e.id = (SELECT max(id) FROM executions l WHERE l.notebook = e.notebook AND l.cell_order = "
               "e.cell_order)\nORDER BY n.path, e.cell_order",
    },
    "run_outcomes": {
        "title": "Why runs fail",
        "description": "The latest top-to-bottom runs by status and failure class, as numbers and shares (the table "
                       "nbsql run --statistics prints).",
        "sql": "WITH latest AS (SELECT * FROM executions e WHERE e.cell_order = 'cells' AND e.id = (SELECT max(id)\n"
               "  FROM executions l WHERE l.notebook = e.notebook AND l.cell_order = 'cells'))\n"
               "SELECT status, coalesce(failure_class, 'ran without error') AS outcome, count(*) AS notebooks,\n"
               "       round(100.0 * count(*) / (SELECT count(*) FROM latest), 2) AS percent,\n"
               "       sum(same_results) AS same_results\n"
               "FROM latest GROUP BY status, failure_class ORDER BY notebooks DESC",
    },
    "missing_modules": {
        "title": "Runs that failed for a missing module",
        "description": "The module each failed run could not import, whether the notebook imports it (imports) and "
                       "whether rule NB302 found it undeclared in the notebook's dependency manifest.",
        "sql": "SELECT e.missing_module, n.id AS notebook, n.path, e.failing_cell,\n"
               "       (SELECT min(c.position) FROM imports i JOIN cells c ON c.id = i.cell\n"
               "        WHERE i.notebook = n.id AND i.package = e.missing_module) AS imported_in_cell,\n"
               "       EXISTS (SELECT 1 FROM findings f WHERE f.rule = 'NB302'\n"
               "               AND json_extract(f.details, '$.package') = e.missing_module) AS undeclared_nb302\n"
               "FROM executions e JOIN notebooks n ON n.id = e.notebook\n"
               "WHERE e.failure_class = 'missing-module' ORDER BY e.missing_module, n.path",
    },
    "cells_that_differ": {
        "title": "Cells whose outputs differ when run",
        "description": "Executed cells of the latest runs whose new outputs are not the same as the saved ones, "
                       "with what differed.",
        "sql": "SELECT n.id AS notebook, n.path, x.position AS cell, x.comparison, x.differences, x.outputs\n"
               "FROM execution_cells x JOIN executions e ON e.id = x.execution JOIN notebooks n ON n.id = e.notebook\n"
               "WHERE x.comparison != 'same' AND e.id = (SELECT max(id) FROM executions l WHERE l.notebook = "
               "e.notebook\n  AND l.cell_order = e.cell_order) ORDER BY n.path, x.position LIMIT 1000",
    },
    "load_problems": {
        "title": "Files that could not be loaded",
        "description": "The last recorded reason for every file that is not in the notebooks table.",
        "sql": "SELECT root, path, kind, message, size, at FROM load_errors ORDER BY kind, path",
    },
}


def datasette_metadata(database: str = "notebooks") -> dict:
    """Titles and descriptions of the database, tables, views and columns; facets, sorts, queries.

    A new document each call: Datasette writes into the metadata it is given.
    """
    tables: dict[str, dict] = {}
    for table in schema.TABLES:
        entry: dict = {"description": table.description,
                       "columns": {c.name: c.description for c in table.columns}}
        if table.label_column:
            entry["label_column"] = table.label_column
        if table.name in FACETS:
            entry["facets"] = list(FACETS[table.name])
        if table.name in PAGE_SIZES:
            entry["size"] = PAGE_SIZES[table.name]
        sort = SORTS.get(table.name)
        if sort:
            entry["sort_desc" if sort.startswith("-") else "sort"] = sort.lstrip("-")
        tables[table.name] = entry
    tables["cells"].update(fts_table=schema.FTS_TABLE, fts_pk="text")
    tables[schema.FTS_TABLE] = {"description": schema.FTS_DESCRIPTION, "hidden": True,
                                "columns": {"source": "Cell source", "outputs": "Text of the cell's outputs"}}
    for view in schema.VIEWS:
        tables[view.name] = {"description": view.description, "columns": schema.view_columns(view),
                             **({"size": PAGE_SIZES[view.name]} if view.name in PAGE_SIZES else {})}
    return {"title": schema.DATABASE_TITLE, "description": schema.DATABASE_DESCRIPTION,
            "databases": {database: {"description": schema.DATABASE_DESCRIPTION, "tables": tables,
                                     "queries": {name: dict(q) for name, q in CANNED_QUERIES.items()}}}}
