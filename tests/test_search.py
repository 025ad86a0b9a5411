"""nbsql search: full-text and regex search through the library and the command line."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from nbsql import NbsqlError
from nbsql.cli import cli
from nbsql.search import DEFAULT_TIMEOUT, MAX_QUERY_LENGTH, MAX_TERMS, Filters, fts_query, match_query, path_glob
from nbsql.search import search as search_results


def search(query, db, regex=False, limit=20, timeout=DEFAULT_TIMEOUT, **filters):
    """The hits of a search (filters as keywords)."""
    return search_results(query, db, filters=Filters(**filters), regex=regex, limit=limit, timeout=timeout).hits

#: Seconds within which a pathological search must answer (they took minutes, or forever).
PROMPT = 5


def test_fts_query_is_always_valid_syntax():
    assert fts_query('read_csv("x") AND -- "quote') == '"read_csv" "x" "AND" "quote"'
    assert fts_query("plot*") == '"plot"*'
    assert fts_query("(*)") == ""


def test_repeated_words_count_once_and_queries_are_bounded():
    assert fts_query("plot Show PLOT plot* show plot") == '"plot" "Show" "plot"*'
    assert fts_query(" ".join(["plot"] * 150)) == '"plot"'  # 749 characters
    fts_query(" ".join(f"w{i}" for i in range(MAX_TERMS)))
    with pytest.raises(NbsqlError, match=f"65 distinct words; at most {MAX_TERMS}"):
        fts_query(" ".join(f"w{i}" for i in range(MAX_TERMS + 1)))
    with pytest.raises(NbsqlError, match=f"1,001 characters; at most {MAX_QUERY_LENGTH:,}"):
        fts_query("x" * (MAX_QUERY_LENGTH + 1))


def test_match_query_is_bounded_in_fts5_syntax_too():
    """FTS5 evaluates every word of its own syntax, repeated or not: 330 'a*' took 75 s on the corpus."""
    assert match_query(" OR ".join(["plot"] * MAX_TERMS)).count("plot") == MAX_TERMS
    for text in (" ".join(["a*"] * 330), "NEAR(" + " ".join(["a*"] * 300) + ")", "plot OR " * 200):
        with pytest.raises(NbsqlError, match="words; at most|characters; at most"):
            match_query(text)
    with pytest.raises(NbsqlError, match="characters"):
        match_query("plot " * 100_000)  # refused before FTS5 parses it


def test_importing_search_opens_no_connection():
    code = "import nbsql.search.query as s; assert s._probe.cache_info().currsize == 0; s.match_query('a OR b'); " \
           "assert s._probe.cache_info().currsize == 1"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_full_text_hits_are_ranked_and_highlighted(samples_db):
    hits = search("read_csv", samples_db)
    assert hits and all(h.cell_type in ("code", "markdown") for h in hits)
    first = hits[0]
    assert any("read_csv" in first.excerpt[i].text[s:e] for i, s, e in first.highlights)
    assert [h.score for h in hits] == sorted(h.score for h in hits)  # bm25: lower is better
    with sqlite3.connect(samples_db) as conn:
        source = conn.execute("SELECT source FROM cells c JOIN notebooks n ON n.id = c.notebook "
                              "WHERE n.path = ? AND c.position = ?", (first.path, first.position)).fetchone()[0]
    start = first.excerpt[0].number - 1
    assert [line.text for line in first.excerpt] == source.splitlines()[start:start + len(first.excerpt)]
    assert {line.where for line in first.excerpt} == {"source"} and first.match_in == "source"


def test_outputs_are_searched_too(samples_db):
    hits = search("ZeroDivisionError", samples_db)
    assert any(h.path == "teaching/intro_to_python.ipynb" for h in hits)


def test_filters(samples_db):
    assert {h.cell_type for h in search("import", samples_db, cell_type="markdown")} <= {"markdown"}
    assert all(h.path.startswith("teaching/") for h in search("import", samples_db, path="teaching/*"))
    assert {h.path for h in search("x", samples_db, language="r", regex=True)} == {"teaching/r_basics.ipynb"}
    errors = search("print", samples_db, has_error=True, limit=50)
    no_errors = search("print", samples_db, has_error=False, limit=50)
    assert errors and no_errors and not {(h.path, h.position) for h in errors} & {(h.path, h.position) for h in no_errors}
    with sqlite3.connect(samples_db) as conn:
        tag = conn.execute("SELECT value FROM cells, json_each(cells.tags) LIMIT 1").fetchone()[0]
    tagged = search(".", samples_db, regex=True, tag=tag)
    assert tagged and len(tagged) < len(search(".", samples_db, regex=True, limit=1000))


def test_a_path_filter_is_a_glob_or_a_part_of_the_path():
    """One rule for --path and the gallery's path box."""
    assert path_glob("teaching") == "*teaching*"
    assert [path_glob(p) for p in ("teaching/*", "a?.ipynb", "[ab]/x")] == ["teaching/*", "a?.ipynb", "[ab]/x"]


def test_regex_search(samples_db):
    hits = search(r"np\.random\.\w+\(", samples_db, regex=True)
    assert hits and all("np.random." in "\n".join(line.text for line in h.excerpt) for h in hits)
    lines = search(r"^import \w+$", samples_db, regex=True, limit=100)  # ^ and $ at each line of a cell
    assert any(h.excerpt[i].number > 1 and h.excerpt[i].text.startswith("import ") for h in lines
               for i, _, _ in h.highlights)
    with pytest.raises(NbsqlError, match="invalid regular expression"):
        search("(", samples_db, regex=True)
    with pytest.raises(NbsqlError, match="invalid regular expression"):
        search("a{1001}", samples_db, regex=True)  # beyond RE2's largest repeat count


@pytest.mark.parametrize("pattern, reason", [(r"(\w+)\1", r"invalid escape sequence: \\1"),
                                             (r"(?<=import )os", r"invalid perl operator: \(\?<="),
                                             (r"plot(?!ly)", r"invalid perl operator: \(\?!"),
                                             ("a\n(", r"missing \): a\\n\(")])
def test_what_re2_refuses_is_a_one_line_error(samples_db, pattern, reason):
    with pytest.raises(NbsqlError, match=reason + r".*RE2 syntax: no backreferences or lookaround\)$") as caught:
        search(pattern, samples_db, regex=True)
    assert "\n" not in str(caught.value)
    result = CliRunner().invoke(cli, ["search", pattern, "--regex", "--db", str(samples_db)])
    assert result.exit_code == 2 and result.output.count("\n") == 1 and result.output.startswith("Error: ")


def test_a_regex_too_large_to_match_quickly_is_refused(samples_db):
    """RE2's time is the text's length times the program's: an adversarial review's 905-character
    pattern (80,000 instructions) took 50 s on one 1 MB cell, between two checks of the time limit."""
    large = "|".join(f"[a-z]{{{n}}}q" for n in range(100, 180))
    with pytest.raises(NbsqlError, match=r"too large to match quickly \(11,244 RE2 instructions; at most 2,000\)"):
        search(large, samples_db, regex=True)
    with pytest.raises(NbsqlError, match="characters; at most 1,000"):
        search("a" * 1001, samples_db, regex=True)
    assert search(r"[a-z]{1000}|np\.random", samples_db, regex=True) is not None  # 1,000 repeats still fit


def test_empty_matches_are_not_highlighted(samples_db):
    hits = search("x*", samples_db, regex=True, limit=5)
    assert hits and all(end > start for hit in hits for _, start, end in hit.highlights)


def test_text_that_is_not_utf8_is_a_user_error(samples_db):
    not_utf8 = "\udcff"  # how Python keeps a command-line byte that is not UTF-8
    for options in ({"path": not_utf8}, {"tag": not_utf8}, {"language": not_utf8}):
        with pytest.raises(NbsqlError, match="is not valid UTF-8"):
            search("plot", samples_db, **options)
    with pytest.raises(NbsqlError, match="the query is not valid UTF-8"):
        search(not_utf8, samples_db)
    with pytest.raises(NbsqlError, match="the query is not valid UTF-8"):
        search(not_utf8, samples_db, regex=True)


def test_cli_text_json_and_exit_codes(samples_db):
    runner = CliRunner()
    text = runner.invoke(cli, ["search", "read_csv", "--db", str(samples_db), "--context", "0"])
    assert text.exit_code == 0 and "[read_csv]" in text.output and re.search(r"\n4 cells in 3 notebooks match; showing 4\.\n$", text.output)
    assert ":cell " in text.output.splitlines()[0]
    found = json.loads(runner.invoke(cli, ["search", "plot", "--db", str(samples_db), "--format", "json",
                                           "-n", "3"]).output)
    rows = found["hits"]
    assert len(rows) == 3 and found["total_cells"] > 3 and found["query"] == "plot"
    assert {"url", "notebook", "path", "position", "cell_id", "cell_type", "match_in", "excerpt", "highlights",
            "copies", "score"} <= rows[0].keys()
    assert runner.invoke(cli, ["search", "zzzznotthere", "--db", str(samples_db)]).exit_code == 1
    assert runner.invoke(cli, ["search", "x", "--db", "missing.db"]).exit_code == 2
    assert runner.invoke(cli, ["search", "(", "--regex", "--db", str(samples_db)]).exit_code == 2


def test_cli_help_states_the_bounds():
    text = CliRunner().invoke(cli, ["search", "--help"]).output
    assert f"[default: {DEFAULT_TIMEOUT:g}]" in text and "RE2" in text
    assert f"{MAX_TERMS} distinct words and {MAX_QUERY_LENGTH:,} characters" in " ".join(text.split())


def test_a_search_past_its_time_limit_stops_with_one_line(samples_db):
    for regex in (False, True):
        with pytest.raises(NbsqlError, match="time limit of 1e-06 s"):
            search("import", samples_db, regex=regex, timeout=1e-6)
    with pytest.raises(NbsqlError, match="positive"):
        search("import", samples_db, timeout=0)
    result = CliRunner().invoke(cli, ["search", "import", "--regex", "--timeout", "0.000001", "--db", str(samples_db)])
    assert result.exit_code == 2 and result.output.count("\n") == 1 and "time limit" in result.output


def _answers_promptly(*args: str) -> subprocess.CompletedProcess:
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "nbsql", "search", *args], capture_output=True, text=True,
                            timeout=60)
    assert time.monotonic() - start < PROMPT + 3, args  # the interpreter's start included
    return result


def test_pathological_searches_answer_promptly_on_the_corpus(corpus_db):
    """Issue 11: a backtracking regex never finished; a word repeated 1,000 times took 15 s (quadratic)."""
    start = time.monotonic()
    hits = search(r"(\w+\s?)+\$", corpus_db, regex=True, limit=100_000)  # every cell is scanned
    assert hits and time.monotonic() - start < PROMPT
    for repeats in (1000, 17_000):
        start = time.monotonic()
        with pytest.raises(NbsqlError, match="characters; at most"):
            search(" ".join(["plot"] * repeats), corpus_db)
        assert time.monotonic() - start < PROMPT
    start = time.monotonic()
    assert search(" ".join(["plot"] * 150), corpus_db)  # under the length cap: merged into one word
    assert time.monotonic() - start < PROMPT
    result = _answers_promptly(r"(\w+\s?)+\$", "--regex", "--db", str(corpus_db), "-n", "1")
    assert result.returncode == 0 and "notebooks match" in result.stdout and "; showing 1." in result.stdout
    result = _answers_promptly(" ".join(["plot"] * 1000), "--db", str(corpus_db))
    assert result.returncode == 2 and result.stderr.count("\n") == 1
