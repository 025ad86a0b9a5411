"""Imports and definitions of Julia and R cells (nbsql.languages), alone and in a loaded corpus."""

from __future__ import annotations

import re
import sqlite3

from nbsql.languages import julia, r
from nbsql.search import Filters, search

JULIA = """using DataFrames, Random  # load
using Statistics: mean, std
import Base.show
import LinearAlgebra as LA
using ..Local
@everywhere using Distributed; using CSV
function f(x::Int)
    y = [x for x in 1:3]
    z = a[end]
    if x > 0
        return "end"
    end
end
g(x) = 2x
Base.show(io::IO, x::Foo) = print(io, "foo")
x == y
a[i] = 3
add!(v, x) = push!(v, x)
# using Commented
"""

R = """library(dplyr)
suppressPackageStartupMessages(library("ggplot2"))
require(data.table); requireNamespace('jsonlite', quietly = TRUE)
for (p in pkgs) library(p, character.only = TRUE)
x <- stringr::str_detect(y, "a::b")  # utils::head in a comment
add <- function(a, b) {
  if (a > b) {
    "}"
  }
  b
}
sq = function(x) x^2
"""


def test_julia_using_and_import():
    found = [(i.line, i.kind, i.module, i.name, i.alias, i.package, i.is_stdlib, i.is_relative)
             for i in julia.facts(JULIA).imports]
    assert found == [
        (1, "using", "DataFrames", None, None, "DataFrames", False, False),
        (1, "using", "Random", None, None, "Random", True, False),
        (2, "using", "Statistics", "mean", None, "Statistics", True, False),
        (2, "using", "Statistics", "std", None, "Statistics", True, False),
        (3, "import", "Base.show", None, None, "Base", True, False),
        (4, "import", "LinearAlgebra", None, "LA", "LinearAlgebra", True, False),
        (5, "using", "..Local", None, None, None, False, True),
        (6, "using", "Distributed", None, None, "Distributed", True, False),
        (6, "using", "CSV", None, None, "CSV", False, False),
    ]


def test_julia_functions_long_and_short():
    found = [(d.name, d.qualified_name, d.line, d.end_line) for d in julia.facts(JULIA).definitions]
    assert found == [("f", "f", 7, 13), ("g", "g", 14, 14), ("show", "Base.show", 15, 15), ("add!", "add!", 18, 18)]


def test_r_packages_and_functions():
    facts = r.facts(R)
    assert [(i.line, i.kind, i.package, i.name) for i in facts.imports] == [
        (1, "library", "dplyr", None), (2, "library", "ggplot2", None), (3, "require", "data.table", None),
        (3, "requireNamespace", "jsonlite", None), (5, "namespace", "stringr", "str_detect")]
    assert [(d.name, d.line, d.end_line) for d in facts.definitions] == [("add", 6, 11), ("sq", 12, 12)]


def _lines(conn: sqlite3.Connection, language: str):
    for cell, source in conn.execute("SELECT c.id, c.source FROM cells c JOIN notebooks n ON n.id = c.notebook "
                                     "WHERE n.language = ? AND c.cell_type = 'code'", (language,)):
        for number, line in enumerate((source or "").split("\n"), 1):
            yield cell, number, line


def test_the_corpus_julia_and_r_cells_fill_imports(corpus_db):
    """Every plain ``using X`` line of the corpus's Julia notebooks and every ``library(x)`` line
    of its R notebooks is a row of imports; the view, the canned query's columns and the search's
    --imports filter see them."""
    with sqlite3.connect(corpus_db) as conn:
        stored = set(conn.execute("SELECT cell, line, language, module FROM imports WHERE language != 'python'"))
        using = {(cell, number, "julia", m.group(1)) for cell, number, line in _lines(conn, "julia")
                 if (m := re.fullmatch(r"\s*using\s+([\w.]+)\s*(?:#.*)?", line))}
        library = {(cell, number, "r", m.group(1)) for cell, number, line in _lines(conn, "r")
                   if (m := re.fullmatch(r"\s*library\((\w+)\)\s*", line))}
        assert len(using) >= 20 and library and using | library <= stored
        usage = dict(((language, package), notebooks) for language, package, notebooks in conn.execute(
            "SELECT language, package, notebooks FROM package_usage WHERE language != 'python'"))
        assert usage[("julia", "DataFrames")] >= 5
        functions = conn.execute("SELECT count(*) FROM functions f JOIN notebooks n ON n.id = f.notebook "
                                 "WHERE n.language IN ('julia', 'r')").fetchone()[0]
        assert functions > 0
    hits = search("", corpus_db, filters=Filters(imports="DataFrames", language="julia"), limit=1000)
    assert hits.total_notebooks == usage[("julia", "DataFrames")]
