"""Search over cells: code-aware full-text and RE2 regular expressions, structured filters,
copies merged, true totals (see docs/architecture.md)."""

from .engine import DEFAULT_TIMEOUT, Results, matching_cells, search, search_connection
from .excerpt import ExcerptLine, Hit
from .filters import Filters, path_clause, path_glob
from .query import (
                    MAX_QUERY_LENGTH,
                    MAX_REGEX_PROGRAM,
                    MAX_TERMS,
                    Query,
                    compile_regex,
                    fts_query,
                    match_query,
                    parse_query,
)
from .render import render_json, render_text, summary

__all__ = ["DEFAULT_TIMEOUT", "MAX_QUERY_LENGTH", "MAX_REGEX_PROGRAM", "MAX_TERMS", "ExcerptLine", "Filters", "Hit",
           "Query", "Results", "compile_regex", "fts_query", "match_query", "matching_cells",
           "parse_query", "path_clause", "path_glob", "render_json", "render_text", "search", "search_connection",
           "summary"]
