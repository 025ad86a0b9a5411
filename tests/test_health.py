"""nbsql health end to end: output formats, exit codes, configuration, suppressions, the corpus."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import sqlite3
from contextlib import closing
import re
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

import nbsql
from nbsql.cli import cli
from nbsql import check
from nbsql.health import Settings
from nbsql.health.registry import RULES

from .conftest import BROKEN_SAMPLE, REAL, REPO, SAMPLES, open_db

SARIF_SCHEMA = json.loads((REPO / "tests" / "data" / "sarif-2.1.0.json").read_text())


def notebook(*cells: dict, **metadata) -> dict:
    return {"nbformat": 4, "nbformat_minor": 4, "cells": list(cells),
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                         **metadata}}


def code(source: str, count: int | None = 1, tags: tuple[str, ...] = (), outputs=()) -> dict:
    return {"cell_type": "code", "execution_count": count, "metadata": {"tags": list(tags)} if tags else {},
            "outputs": list(outputs), "source": source}


def markdown(source: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": source}


def write(folder: Path, name: str, content: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(content))
    return path


def run(*args: str, cwd: Path | None = None):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Path:
    """A small project with problems of each severity."""
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "repo"
    write(folder, "clean.ipynb", notebook(markdown("# Clean\nText"), code("x = 1\nprint(x)"), markdown("Done")))
    write(folder, "broken.ipynb", notebook(markdown("# Broken"), code("print(undefined_thing)", 2),
                                           code("import os", 1), markdown("End")))
    (folder / "requirements.txt").write_text("pandas==2.2.2\n")
    return folder


def test_text_format_and_exit_codes(repo):
    result = run("health", "repo", "--db", "nb.db")
    assert result.exit_code == 1  # NB102 is an error
    lines = result.output.splitlines()
    broken = lines.index(next(line for line in lines if line.startswith("repo/broken.ipynb: score ")))
    assert "  cell 1:line 1: NB102 undefined name 'undefined_thing'" in lines[broken:]
    assert "  NB001 execution counts go backwards 1 time(s) (first 2 then 1)" in lines[broken:]
    assert any(re.fullmatch(r"Found \d+ problem\(s\) in \d+ notebook\(s\): 1 error, \d+ warnings?, \d+ infos?\.", line)
               for line in lines)
    assert run("health", "repo", "--db", "nb.db", "--fail-on", "never").exit_code == 0
    assert run("health", "repo/clean.ipynb", "--db", "nb.db").exit_code == 0
    only_info = run("health", "--db", "nb.db", "--select", "NB2", "--fail-on", "warning")
    assert only_info.exit_code == 0 and "NB102" not in only_info.output


def _counted(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def test_text_report_groups_findings_by_notebook_and_ends_with_the_rules(repo):
    write(repo, "other.ipynb", notebook(code("import os\nimport sys"), code("print(x)")))
    output = run("health", "repo", "--db", "nb.db", "--fail-on", "never").output
    with open_db(repo.parent / "nb.db") as conn:
        health = {f"repo/{row['path']}": row for row in conn.execute(
            "SELECT * FROM notebook_health WHERE errors + warnings + infos > 0 ORDER BY path")}
    *blocks, summary = output.split("\n\n")
    assert [block.split(": score ")[0] for block in blocks] == list(health) == ["repo/broken.ipynb", "repo/other.ipynb"]
    for block in blocks:  # each notebook's score and counts are the view's, where nothing is filtered out
        row = health[block.split(": score ")[0]]
        assert block.splitlines()[0].endswith(f": score {row['score']} ({_counted(row['errors'], 'error')}, "
                                              f"{_counted(row['warnings'], 'warning')}, {_counted(row['infos'], 'info')})")
    findings = [line for block in blocks for line in block.splitlines()[1:]]
    assert all(line.startswith("  ") for line in findings)
    totals = [sum(row[column] for row in health.values()) for column in ("errors", "warnings", "infos")]
    lines = summary.splitlines()
    assert lines[0] == f"Found {len(findings)} problem(s) in 2 notebook(s): {_counted(totals[0], 'error')}, " \
        f"{_counted(totals[1], 'warning')}, {_counted(totals[2], 'info')}."
    assert lines[1] == "By rule:"
    ranked = [(line.split()[0], int(line.split()[-1])) for line in lines[2:]]
    assert [n for _, n in ranked] == sorted((n for _, n in ranked), reverse=True)
    assert dict(ranked) == {code: sum(f" {code} " in f" {line} " for line in findings) for code, _ in ranked}
    assert sum(n for _, n in ranked) == len(findings)


def test_usage_and_io_errors_exit_2(repo):
    assert run("health", "--db", "missing.db").exit_code == 2
    assert run("health", "repo", "--db", "nb.db", "--select", "NB999").exit_code == 2
    assert run("health", "repo", "--db", "nb.db", "--format", "xml").exit_code == 2
    assert run("health", "nowhere", "--db", "nb.db").exit_code == 2


def test_select_ignore_severity(repo):
    run("health", "repo", "--db", "nb.db")
    codes = lambda *args: {json_row["code"] for json_row in json.loads(
        run("health", "--db", "nb.db", "--format", "json", *args).output)}
    everything = codes()
    assert {"NB001", "NB102", "NB103"} <= everything
    assert codes("--select", "NB1") == {c for c in everything if c.startswith("NB1")}
    assert codes("--select", "undefined-name,NB001") == {"NB102", "NB001"}
    assert "NB103" not in codes("--ignore", "unused-import")
    assert codes("--severity", "error") == {"NB102"}


def test_json_csv_github_and_sarif(repo):
    run("health", "repo", "--db", "nb.db")
    rows = json.loads(run("health", "--db", "nb.db", "--format", "json").output)
    undefined = next(r for r in rows if r["code"] == "NB102")
    assert undefined == {"path": "repo/broken.ipynb", "code": "NB102", "slug": "undefined-name", "severity": "error",
                         "message": "undefined name 'undefined_thing'", "position": 1, "cell_id": None, "line": 1,
                         "details": {"name": "undefined_thing", "uses": 1}}
    table = list(csv.DictReader(io.StringIO(run("health", "--db", "nb.db", "--format", "csv").output)))
    assert len(table) == len(rows) and table[0].keys() == {"path", "cell", "cell_id", "line", "code", "slug",
                                                           "severity", "message"}
    github = run("health", "--db", "nb.db", "--format", "github").output.splitlines()
    assert "::error file=repo/broken.ipynb,title=NB102 undefined-name::cell 1, line 1: undefined name " \
           "'undefined_thing'" in github
    assert all(re.match(r"::(error|warning|notice) file=[^,]+,title=[^:]+::", line) for line in github)
    result = run("health", "--db", "nb.db", "--format", "sarif", "--output", "report.sarif")
    assert result.exit_code == 1
    log = json.loads(Path("report.sarif").read_text())
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(log)
    results = log["runs"][0]["results"]
    assert len(results) == len(rows)
    descriptors = log["runs"][0]["tool"]["driver"]["rules"]
    assert all(descriptors[r["ruleIndex"]]["id"] == r["ruleId"] for r in results)


def test_sarif_of_the_samples_is_valid(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("health", str(SAMPLES), "--db", "nb.db", "--format", "sarif")
    log = json.loads(result.output)
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(log)
    assert len(log["runs"][0]["results"]) > 20


def test_sarif_uris_are_percent_encoded(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("hash#q?.ipynb", "a,b:c%d.ipynb", "ünï cödé.ipynb"):
        write(tmp_path / "repo", name, notebook(code("print(undefined_thing)")))
    log = json.loads(run("health", "repo", "--db", "nb.db", "--format", "sarif", "--select", "NB102").output)
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in log["runs"][0]["results"]}
    assert uris == {"repo/hash%23q%3F.ipynb", "repo/a%2Cb%3Ac%25d.ipynb", "repo/%C3%BCn%C3%AF%20c%C3%B6d%C3%A9.ipynb"}
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    monkeypatch.chdir(outside)  # paths outside the working folder are shown absolute: file: URIs
    log = json.loads(run("health", "--db", "../nb.db", "--format", "sarif", "--select", "NB102").output)
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in log["runs"][0]["results"]}
    assert f"{(tmp_path / 'repo').as_uri()}/hash%23q%3F.ipynb" in uris


def test_statistics(repo):
    result = run("health", "repo", "--db", "nb.db", "--statistics", "--format", "json")
    stats = json.loads(result.output)
    assert stats["notebooks"] == 2
    by_code = {s["code"]: s for s in stats["rules"]}
    assert by_code["NB102"] == {"code": "NB102", "slug": "undefined-name", "severity": "error", "findings": 1,
                                "notebooks": 1, "percent": 50.0}
    measures = {f["measure"]: f for f in stats["pimentel"]}
    assert measures["out of order"]["notebooks"] == 1 and measures["declaring dependencies"]["percent"] == 100.0
    text = run("health", "--db", "nb.db", "--statistics").output
    assert "NB102  undefined-name" in text and "Pimentel et al." in text


def test_configuration_thresholds_select_and_per_path_ignores(repo):
    long_cell = "\n".join(f"x{i} = {i}" for i in range(8))
    write(repo, "long.ipynb", notebook(markdown("# Long"), code(long_cell), markdown("End")))
    assert "NB113" not in run("health", "repo", "--db", "nb.db").output
    Path("pyproject.toml").write_text('[tool.nbsql]\nignore = ["NB001"]\nfail-on = "error"\n'
                                      '[tool.nbsql.rules.long-cell]\nmax_lines = 5\n'
                                      '[tool.nbsql.per-path-ignores]\n"broken.ipynb" = ["NB102"]\n')
    result = run("health", "repo", "--db", "nb.db")  # thresholds changed: notebooks are checked again
    assert "repo/long.ipynb: score " in result.output and "\n  cell 1: NB113 8 lines > 5\n" in result.output
    assert "NB001" not in result.output and "NB102" not in result.output
    assert result.exit_code == 0  # fail-on = error and the only error is ignored for that path
    Path("nbsql.toml").write_text('select = ["NB113"]\n')  # nbsql.toml wins over pyproject.toml
    reported = run("health", "--db", "nb.db")
    assert set(re.findall(r"^  (?:cell \d+(?::line \d+)?: )?(NB\d{3}) ", reported.stdout, re.M)) == {"NB113"}
    assert "were checked with other rules or thresholds" in reported.stderr  # nbsql.toml sets default thresholds


@pytest.mark.parametrize("content, message", [
    ('[tool.nbsql]\nselect = ["NB999"]\n', "unknown rule selector 'NB999'"),
    ('[tool.nbsql]\nfail = 1\n', "unknown key(s) fail"),
    ('[tool.nbsql.rules.NB113]\nmax_cells = 3\n', "rule NB113 takes these thresholds: max_lines"),
    ('[tool.nbsql.rules.NB113]\nmax_lines = "many"\n', "NB113.max_lines must be a whole number, 0 or more"),
    ('[tool.nbsql.rules.NB113]\nmax_lines = true\n', "NB113.max_lines must be a whole number"),
    ('[tool.nbsql.rules.NB113]\nmax_lines = 2.5\n', "NB113.max_lines must be a whole number"),
    ('[tool.nbsql.rules.NB113]\nmax_lines = -1\n', "NB113.max_lines must be a whole number, 0 or more"),
    ('[tool.nbsql.rules.NB205]\nmin_ratio = nan\n', "NB205.min_ratio must be a number, 0 or more"),
    ('[tool.nbsql]\nrules = 5\n', "'rules' must be a table"),
    ('[tool.nbsql]\nper-path-ignores = 5\n', "'per-path-ignores' must be a table"),
    ('[tool]\nnbsql = 5\n', "[tool.nbsql] must be a table"),
    ('tool = 5\n', None),  # not nbsql's table: no configuration, defaults
    ('[tool.nbsql\n', "cannot read configuration"),
    ("a = " + "[" * 3000 + "]" * 3000 + "\n", "nested too deeply"),
])
def test_bad_configuration_is_a_one_line_error(repo, content, message):
    Path("pyproject.toml").write_text(content)
    result = run("health", "repo", "--db", "nb.db")
    if message is None:
        assert result.exit_code in (0, 1) and "configuration" not in result.output
    else:
        assert result.exit_code == 2 and message in result.output and result.output.count("\n") == 1


def test_suppressions(tmp_path):
    folder = tmp_path / "repo"
    cells = [markdown("# Title"),
             code("print(a)", tags=("nbsql-ignore",)),
             code("print(b)", tags=("nbsql-ignore:NB102",)),
             code("print(c)  # nbsql: ignore[undefined-name]"),
             code("print(d)  # nbsql: ignore"),
             code("print(e)", tags=("nbsql-ignore:NB103",)),
             markdown("End")]
    write(folder, "cells.ipynb", notebook(*cells))
    write(folder, "whole.ipynb", notebook(markdown("# T"), code("print(f)"), code("x = 1", 5), markdown("End"),
                                          nbsql={"ignore": ["NB102", "out-of-order-execution"]}))
    write(folder, "Untitled.ipynb", notebook(markdown("# T"), code("x = 1"), markdown("End"),
                                             nbsql={"ignore": ["NB201", "NB301"]}))
    report = check([folder], tmp_path / "nb.db")
    found = {(Path(r.path).name, r.code, r.position) for r in report.rows}
    assert ("cells.ipynb", "NB102", 5) in found  # a tag for another rule suppresses nothing here
    assert not {f for f in found if f[1] == "NB102" and f[2] in (1, 2, 3, 4)}
    assert not {f for f in found if f[0] == "whole.ipynb" and f[1] in ("NB102", "NB001")}
    assert not {f for f in found if f[0] == "Untitled.ipynb" and f[1] in ("NB201", "NB301")}
    assert ("cells.ipynb", "NB301", None) in found  # corpus rules honour suppressions too, and only listed codes


def test_rules_command():
    listing = run("rules").output.splitlines()
    assert len(listing) == len(RULES) and listing[1].startswith("NB001  out-of-order-execution")
    one = run("rules", "unused-import").output
    for heading in ("## What it does", "## Why is this bad?", "## Example", "## Use instead"):
        assert heading in one
    assert json.loads(run("rules", "NB113", "--format", "json").output)["thresholds"] == {"max_lines": 60}
    assert run("rules", "NB999").exit_code == 2


def test_a_load_without_checks_that_changes_the_notebooks_drops_corpus_findings(tmp_path):
    """Corpus-wide findings (here NB116, the same code in two notebooks) would otherwise go on naming
    a deleted notebook, with no warning (an adversarial review's finding)."""
    repo, db = tmp_path / "repo", tmp_path / "nb.db"
    repo.mkdir()
    code = "import pandas as pd\n" + "\n".join(f"x{i} = pd.Series([{i}])" for i in range(6))
    for name in ("a", "b"):
        (repo / f"{name}.ipynb").write_text(json.dumps({"nbformat": 4, "nbformat_minor": 4, "metadata": {}, "cells": [
            {"cell_type": "code", "execution_count": 1, "metadata": {}, "outputs": [], "source": code}]}))

    def corpus_warning() -> bool:
        result = CliRunner().invoke(cli, ["health", "--db", str(db), "--fail-on", "never"])
        return "corpus-wide rules (NB116, NB301, NB302, NB401, NB402, NB403) last ran" in result.stderr

    def duplicates() -> int:
        with open_db(db) as conn:
            return conn.execute("SELECT count(*) FROM findings WHERE rule = 'NB116'").fetchone()[0]

    nbsql.load(repo, db)
    assert duplicates() == 2 and not corpus_warning()
    nbsql.load(repo, db, checks=False)  # nothing changed: the findings still hold
    assert duplicates() == 2 and not corpus_warning()
    (repo / "b.ipynb").unlink()
    nbsql.load(repo, db, checks=False)
    assert duplicates() == 0 and corpus_warning()
    nbsql.load(repo, db)
    assert duplicates() == 0 and not corpus_warning()


def test_load_without_checks_and_rechecking(tmp_path):
    db = tmp_path / "nb.db"
    nbsql.load(SAMPLES, db, checks=False)
    warned = CliRunner().invoke(cli, ["health", "--db", str(db)])
    assert "10 notebook(s) were loaded with --no-checks" in warned.stderr
    # the one finding: the sample broken on purpose could not be loaded, which fails the run
    header, finding = warned.stdout.splitlines()[:2]
    assert warned.exit_code == 1 and header.endswith(f"{BROKEN_SAMPLE}: score 85 (1 error, 0 warnings, 0 infos)")
    assert finding == "  NB306 could not be loaded: truncated JSON: Expecting value at line 32 column 2"
    with open_db(db) as conn:
        assert conn.execute("SELECT count(*) FROM findings").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM rules").fetchone()[0] == len(RULES)
    report = nbsql.load(SAMPLES, db)  # checks now on: every notebook is checked, though unchanged
    assert report.loaded == 10
    assert nbsql.load(SAMPLES, db).unchanged == 10
    config = tmp_path / "nbsql.toml"
    config.write_text("[rules.NB113]\nmax_lines = 3\n")
    stale = CliRunner().invoke(cli, ["health", "--db", str(db), "--config", str(config)])
    assert "Warning: 10 notebook(s) were checked with other rules or thresholds" in stale.stderr
    changed = Settings(thresholds={"NB113": {"max_lines": 3}})
    assert nbsql.load(SAMPLES, db, settings=changed).loaded == 10


def test_health_view_scores(samples_db):
    with open_db(samples_db) as conn:
        rows = conn.execute("SELECT path, errors, warnings, infos, score FROM notebook_health").fetchall()
        assert len(rows) == 10 and all(0 <= r["score"] <= 100 for r in rows)
        expected = {}
        for path, rule, severity, count in conn.execute(
                "SELECT n.path, f.rule, f.severity, count(*) FROM findings f JOIN notebooks n ON n.id = f.notebook "
                "GROUP BY n.path, f.rule, f.severity"):
            weight = {"error": 15, "warning": 5, "info": 1}[severity]
            expected[path] = expected.get(path, 0) + weight * min(count, 3)
        for row in rows:
            assert row["score"] == max(0, 100 - expected.get(row["path"], 0))


def test_every_corpus_notebook_goes_through_every_rule(corpus_db):
    """No rule crashes on the shared corpus (a crash would be an NB000 finding)."""
    with open_db(corpus_db) as conn:
        assert conn.execute("SELECT count(*) FROM findings WHERE rule = 'NB000'").fetchone()[0] == 0
        checked = conn.execute("SELECT count(*) FROM notebooks WHERE checked_with IS NOT NULL").fetchone()[0]
        assert checked == conn.execute("SELECT count(*) FROM notebooks").fetchone()[0] > 1200
        assert conn.execute("SELECT count(DISTINCT rule) FROM findings").fetchone()[0] >= 35


def _pimentel(cells: list[dict]) -> dict[str, bool]:
    """Pimentel et al.'s measures for one notebook, computed here from the raw JSON."""
    code_cells = [c for c in cells if c.get("cell_type") == "code"]

    def text(c):
        source = c.get("source", c.get("input", ""))
        return "".join(source) if isinstance(source, list) else str(source)

    non_empty = [c for c in code_cells if text(c).strip()]
    counts = [c.get("execution_count", c.get("prompt_number")) for c in non_empty]
    numbers = [n for n in counts if isinstance(n, int) and not isinstance(n, bool)]
    ordered_numbers = sorted(numbers)
    last_code = max((i for i, c in enumerate(code_cells) if text(c).strip()), default=-1)
    return {
        "out_of_order": any(b < a for a, b in zip(numbers, numbers[1:])),
        "skips": bool(ordered_numbers) and (ordered_numbers[0] > 1 or any(
            b - a > 1 for a, b in zip(ordered_numbers, ordered_numbers[1:]))),
        "empty": any(not text(c).strip() for c in code_cells[: last_code + 1]) or any(
            not text(c).strip() for c in code_cells[last_code + 1:]),
        "non_executed": bool(numbers) and any(n is None for n in counts),
    }


def test_agreement_with_an_independent_computation(corpus_db):
    """On the real corpus, the notebooks flagged equal the definitions computed from the JSON."""
    with open_db(corpus_db) as conn:
        flagged: dict[str, set[str]] = {}
        for path, rule in conn.execute("SELECT DISTINCT n.path, f.rule FROM findings f JOIN notebooks n "
                                       "ON n.id = f.notebook WHERE n.path LIKE 'real/%'"):
            flagged.setdefault(rule, set()).add(path)
        loaded = {r[0] for r in conn.execute("SELECT path FROM notebooks WHERE path LIKE 'real/%'")}
    expected: dict[str, set[str]] = {"out_of_order": set(), "skips": set(), "empty": set(), "non_executed": set()}
    for path in sorted(REAL.rglob("*.ipynb")):
        relative = "real/" + path.relative_to(REAL).as_posix()
        if relative not in loaded:
            continue
        raw = json.loads(path.read_bytes())
        cells = raw.get("cells") or [c for w in raw.get("worksheets", []) for c in w.get("cells", [])]
        for measure, value in _pimentel(cells).items():
            if value:
                expected[measure].add(relative)
    union = lambda *codes: set().union(*(flagged.get(c, set()) for c in codes))
    assert union("NB001") == expected["out_of_order"]
    assert union("NB002", "NB003") == expected["skips"]
    assert union("NB008", "NB009") == expected["empty"]
    assert union("NB005", "NB006") == expected["non_executed"]
    assert len(expected["out_of_order"]) > 50 and len(expected["skips"]) > 100


def test_python_rules_stay_silent_on_other_languages(samples_db):
    """The R and Julia samples are full of things Python rules would flag; only neutral rules speak."""
    python_only = {code for code, rule in RULES.items() if rule.python_only}
    with open_db(samples_db) as conn:
        rows = conn.execute("SELECT DISTINCT f.rule FROM findings f JOIN notebooks n ON n.id = f.notebook "
                            "WHERE n.language IN ('r', 'julia')").fetchall()
        neutral = {r[0] for r in rows}
    assert neutral and not neutral & python_only


@pytest.mark.parametrize("name, text, expected", [
    ("pyproject.toml", '[tool.poetry.dependencies]\npython = "^3.11"\npandas = "^2"\n'
                       '[tool.poetry.group.dev.dependencies]\npytest = "^8"\n', {"python", "pandas", "pytest"}),
    ("environment.yml", "dependencies:\n  - python=3.11\n  - conda-forge::numpy=1.26\n  - pip:\n    - requests==2.31\n",
     {"python", "numpy", "requests"}),
])
def test_manifests_declare_what_their_tools_install(tmp_path, name, text, expected):
    from nbsql.health.manifests import clear_manifest_caches, declared_in

    (tmp_path / name).write_text(text)
    clear_manifest_caches()
    assert declared_in(tmp_path) == frozenset(expected)


def test_a_file_below_the_working_folder_is_rooted_there(tmp_path, monkeypatch):
    """As pre-commit passes file names: the manifest one folder up is still found (NB301)."""
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "analysis", "churn.ipynb", notebook(markdown("# Churn"), code("import pandas as pd"),
                                                         markdown("End")))
    (tmp_path / "requirements.txt").write_text("pandas==2.2.2\n")
    rows = json.loads(run("health", "analysis/churn.ipynb", "--db", "nb.db", "--format", "json").output)
    assert rows and all(r["path"] == "analysis/churn.ipynb" for r in rows)
    assert not [r for r in rows if r["code"] in ("NB301", "NB302")]
    with sqlite3.connect("nb.db") as conn:
        assert conn.execute("SELECT root, path FROM notebooks").fetchall() == [(str(tmp_path), "analysis/churn.ipynb")]


def test_imports_map_to_distributions_through_a_maintained_mapping():
    from nbsql.health.manifests import distributions_for

    # pipreqs' mapping, for packages not installed here; installed ones through their own metadata
    assert {"dnspython"} <= distributions_for("dns") and {"python-slugify"} <= distributions_for("slugify")
    assert {"scikit-learn"} <= distributions_for("sklearn") and {"pillow"} <= distributions_for("PIL")
    assert {"opencv-python-headless"} <= distributions_for("cv2")  # beyond pipreqs' mapping
    assert "pandas" in distributions_for("pandas")


def test_a_failing_corpus_rule_is_reported_on_each_notebook_it_covers(tmp_path, monkeypatch):
    def broken(corpus, limits):
        yield from ()
        raise ValueError("a bug")

    def failures() -> tuple:
        with closing(sqlite3.connect(tmp_path / "nb.db")) as conn:
            return conn.execute("SELECT count(*), count(DISTINCT notebook), min(message) FROM findings "
                                "WHERE rule = 'NB000'").fetchone()

    working = RULES["NB116"]
    monkeypatch.setitem(RULES, "NB116", dataclasses.replace(working, check=broken))
    report = nbsql.load(SAMPLES, tmp_path / "nb.db")
    nbsql.load(SAMPLES, tmp_path / "nb.db")  # and again: they are replaced, not added
    with closing(sqlite3.connect(tmp_path / "nb.db")) as conn:
        finished = conn.execute("SELECT count(*) FROM loads WHERE finished IS NOT NULL").fetchone()[0]
    assert failures() == (report.loaded, report.loaded, "rule NB116 failed: ValueError: a bug") and finished == 2
    monkeypatch.setitem(RULES, "NB116", working)
    nbsql.load(SAMPLES, tmp_path / "nb.db")
    assert failures()[0] == 0


def test_text_report_names_the_ten_most_frequent_rules():
    from nbsql.health.report import Row, render

    codes = sorted(c for c in RULES if c != "NB000")[:12]
    rows = [Row("a.ipynb", code, RULES[code].slug, RULES[code].severity, "m", None, None, None, None)
            for rank, code in enumerate(codes) for _ in range(12 - rank)]  # the first most often
    lines = render(rows, "text").splitlines()
    start = lines.index("Most frequent rules:")
    assert [line.split()[0] for line in lines[start + 1:start + 11]] == codes[:10]
    assert lines[start + 11] == "  and 2 more rule(s) with 3 finding(s) (--statistics lists them all)"
