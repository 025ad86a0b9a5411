"""Every rule against its fixtures: notebooks that must trigger it and corrected ones that must not.

``tests/fixtures/rules/<CODE>/`` holds, for each registered rule (NB000 aside, no check yields it):

- ``bad/``: notebooks (and, for corpus rules, files beside them) that trigger the rule;
- ``good/``: the corrected versions, which must not trigger it (other rules may fire);
- ``expected.json``: ``{"<path below bad/>": [positions]}``, the exact findings of the rule in
  ``bad/`` (``null`` for a notebook-level finding, one entry per finding);
- the notebooks of rules that read runs (``health/rules/runs.py``) are run by ``nbsql run`` first;
- ``thresholds.json`` (optional): thresholds for the rule, e.g. ``{"max_bytes": 1000}``, so that
  size rules can be checked with small files.

Each folder is copied to ``tmp_path`` and loaded into its own database there, so nothing is
written into the repository.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

import nbsql.health.check  # noqa: F401  (registers every rule, NB000 included)
from nbsql import check, run
from nbsql.health import Settings
from nbsql.health.registry import RULES
from nbsql.health.rules import rules_of, runs

#: Rules that read runs: their fixtures are run (nbsql run) before they are checked.
RUN_RULES = {r.code for r in rules_of(runs)}

FIXTURES = Path(__file__).parent / "fixtures" / "rules"
CODES = sorted(code for code in RULES if code != "NB000")
SECTIONS = ("What it does", "Why is this bad?", "Example", "Use instead")


def _order(position: int | None) -> tuple[int, int]:
    return (0, 0) if position is None else (1, position)


def _settings(code: str) -> Settings:
    path = FIXTURES / code / "thresholds.json"
    if not path.is_file():
        return Settings()
    values = json.loads(path.read_text(encoding="utf-8"))
    unknown = set(values) - set(RULES[code].thresholds)
    assert not unknown, f"{path}: {code} has no threshold(s) {sorted(unknown)}"
    return Settings(thresholds={code: values})


def _notebooks(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.ipynb"))


def _findings(code: str, source: Path, tmp_path: Path, kind: str) -> dict[str, list[int | None]]:
    """Load a copy of ``source`` and return the rule's findings there: relative path -> positions."""
    assert source.is_dir() and _notebooks(source), f"{code} has no notebooks in {source}"
    copy = tmp_path / kind
    shutil.copytree(source, copy)
    if code in RUN_RULES:
        run([copy], db=tmp_path / f"{kind}.db", settings=_settings(code))
    report = check([copy], db=tmp_path / f"{kind}.db", settings=_settings(code))
    assert report.notebooks == len(_notebooks(source)), f"some {code}/{kind} notebooks did not load"
    found: dict[str, list[int | None]] = {}
    for row in report.rows:
        if row.code == code:
            path = Path(row.path)
            path = path if path.is_absolute() else Path.cwd() / path
            found.setdefault(path.resolve().relative_to(copy.resolve()).as_posix(), []).append(row.position)
    return {name: sorted(positions, key=_order) for name, positions in found.items()}


def test_every_fixture_folder_is_a_rule():
    folders = {p.name for p in FIXTURES.iterdir() if p.is_dir()}
    assert folders <= set(CODES), f"fixtures for unknown rules: {sorted(folders - set(CODES))}"


@pytest.mark.parametrize("code", CODES)
def test_rule_fixtures(code, tmp_path):
    folder = FIXTURES / code
    assert folder.is_dir(), f"{code} ({RULES[code].slug}) has no fixtures: add {folder}/bad and {folder}/good"
    expected_file = folder / "expected.json"
    assert expected_file.is_file(), f"{code} has no expected.json"
    expected = {name: sorted(positions, key=_order)
                for name, positions in json.loads(expected_file.read_text(encoding="utf-8")).items()}
    assert set(expected) == set(_notebooks(folder / "bad")), "expected.json must list every bad notebook"
    assert all(expected.values()), "every bad notebook must expect at least one finding"

    assert _findings(code, folder / "bad", tmp_path, "bad") == expected
    assert _findings(code, folder / "good", tmp_path, "good") == {}


@pytest.mark.parametrize("code", sorted(RULES))
def test_rule_documentation(code):
    rule = RULES[code]
    assert re.fullmatch(r"NB\d{3}", rule.code)
    assert re.fullmatch(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*", rule.slug), rule.slug
    for heading in SECTIONS:
        assert rule.section(heading), f"{code}: section {heading!r} is empty"


# Known rule bugs: the documented behaviour, in small notebooks written here. Each case fails
# today (strict xfail); once nbsql is fixed it passes, XPASS fails the run, and the case should
# then move into the rule's fixture folders.

_KERNEL = {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
           "language_info": {"name": "python"}}


_PYTHON2 = {"kernelspec": {"display_name": "Python 2", "language": "python", "name": "python2"},
            "language_info": {"name": "python", "version": "2.7.18"}}


def _notebook(*cells: str | tuple[str, str], metadata: dict = _KERNEL) -> str:
    """A notebook of code cells (strings) and ``("markdown", text)`` cells, every code cell executed."""
    out, count = [], 0
    for cell in cells:
        kind, source = cell if isinstance(cell, tuple) else ("code", cell)
        if kind == "code":
            count += 1
            out.append({"cell_type": "code", "execution_count": count, "metadata": {}, "outputs": [],
                        "source": source})
        else:
            out.append({"cell_type": kind, "metadata": {}, "source": source})
    return json.dumps({"cells": out, "metadata": metadata, "nbformat": 4, "nbformat_minor": 4}, indent=1)


_LINES = "\n".join(f"Step {i}: do the thing number {i}." for i in range(6))
_FENCE = "## Setup\n\n```bash\n# install first\npip install -r requirements.txt\n```"
_SETUP = "# Imports\nimport pandas as pd\n\n# Load the data\ndf = pd.read_csv('data.csv')"

#: Bugs found while writing the fixtures, kept as regression cases.
REGRESSIONS = [
    pytest.param("NB107", {"setup.ipynb": _notebook('!conda install -y "numpy>=1.26"')}, {"setup.ipynb": [0]},
                 id="NB107-conda-range-is-not-an-exact-version"),
    pytest.param("NB108", {"report.ipynb": _notebook('n = 3\nprint("n:\\t", n)')}, {"report.ipynb": []},
                 id="NB108-escape-sequence-is-not-a-path"),
    pytest.param("NB110", {"panel.ipynb": _notebook("import numpy as np\n# np.random.seed(0)",
                                                    "x = np.random.rand(3)")}, {"panel.ipynb": [1]},
                 id="NB110-commented-out-seed-sets-no-seed"),
    pytest.param("NB115", {"runs.ipynb": _notebook("import matplotlib.pyplot as plt",
                                                   'plt.plot([1, 2, 3])\nplt.title("Run #1")',
                                                   'plt.plot([1, 2, 3])\nplt.title("Run #2")')}, {"runs.ipynb": []},
                 id="NB115-hash-in-a-string-is-not-a-comment"),
    pytest.param("NB116", {"a.ipynb": _notebook(_SETUP), "b.ipynb": _notebook(_SETUP),
                           "c.ipynb": _notebook("import pandas as pd\ndf = pd.read_csv('data.csv')")},
                 {"c.ipynb": []}, id="NB116-cell-shorter-than-min-lines"),
    pytest.param("NB204", {"churn.ipynb": _notebook(("markdown", "Churn\r\n=====\r\n\r\nWhy customers leave."),
                                                    "x = 1")}, {"churn.ipynb": []},
                 id="NB204-setext-title-with-crlf"),
    pytest.param("NB204", {"setup.ipynb": _notebook(("markdown", _FENCE), "x = 1")},
                 {"setup.ipynb": [None]}, id="NB204-comment-in-code-fence-is-no-title"),
    pytest.param("NB204", {"churn.ipynb": _notebook(("markdown", "\n  \n  # Churn\nWhy customers leave."), "x = 1")},
                 {"churn.ipynb": []}, id="NB204-title-after-blank-lines"),
    pytest.param("NB204", {"churn.ipynb": _notebook(("markdown", "    # Churn\n"), "x = 1")},
                 {"churn.ipynb": [None]}, id="NB204-indented-hash-line-is-code-not-a-title"),
    pytest.param("NB110", {"mixed.ipynb": _notebook("import random\nimport numpy as np\nrandom.seed(1)",
                                                    "x = np.random.rand(3)\ny = random.random()")},
                 {"mixed.ipynb": [1]}, id="NB110-a-seed-for-one-library-does-not-seed-another"),
    pytest.param("NB110", {"alias.ipynb": _notebook("import numpy.random as npr", "x = npr.rand(3)")},
                 {"alias.ipynb": [1]}, id="NB110-numpy-random-imported-under-an-alias"),
    pytest.param("NB109", {"html.ipynb": json.dumps({"cells": [{"cell_type": "code", "execution_count": 1,
        "metadata": {}, "source": "show()", "outputs": [{"output_type": "display_data", "metadata": {},
        "data": {"text/html": "<p>key: AKIAIOSFODNN7EXAMPLE</p>"}}]}], "metadata": _KERNEL, "nbformat": 4,
        "nbformat_minor": 4})}, {"html.ipynb": [0]}, id="NB109-secret-in-an-html-output"),
    # found by a review against the rules' own documentation
    pytest.param("NB102", {"help.ipynb": _notebook("import pandas as pd\ndf = pd.DataFrame()  # is this right?",
                                                   "df.head()")}, {"help.ipynb": []},
                 id="NB102-question-mark-in-a-comment-is-not-ipython-help"),
    pytest.param("NB103", {"help.ipynb": _notebook("import pandas as pd\ndf = pd.DataFrame()  # is this right?",
                                                   "df.head()")}, {"help.ipynb": []},
                 id="NB103-question-mark-in-a-comment-is-not-ipython-help"),
    pytest.param("NB101", {"cont.ipynb": _notebook('a, b = 1, 2\ns = ("%d"\n     % a)\nif (a\n    != b):\n    pass')},
                 {"cont.ipynb": []}, id="NB101-continuation-lines-starting-like-magics-are-python"),
    pytest.param("NB102", {"timed.ipynb": _notebook("import numpy as np\n%time x = np.arange(10)",
                                                    "%%capture out\nprint(x)", "out.stdout")},
                 {"timed.ipynb": []}, id="NB102-names-bound-in-time-and-capture-magics"),
    pytest.param("NB102", {"py2.ipynb": _notebook("total = 1\nprint 'hi'", "print(total)")}, {"py2.ipynb": []},
                 id="NB102-names-of-a-cell-that-does-not-parse-are-not-undefined"),
    pytest.param("NB104", {"stub.ipynb": _notebook("def solve():\n    pass", "def solve():\n    return 1",
                                                   "from math import log", "from numpy import log", "log(1)")},
                 {"stub.ipynb": [3]}, id="NB104-a-function-defined-again-is-not-an-import"),
    pytest.param("NB110", {"tf.ipynb": _notebook("import random\nimport tensorflow as tf\ntf.random.set_seed(0)",
                                                 "x = tf.random.uniform((2,))")}, {"tf.ipynb": []},
                 id="NB110-tf-random-is-not-the-random-module"),
    pytest.param("NB110", {"np.ipynb": _notebook("import random\nimport numpy as np\nnp.random.seed(0)",
                                                 "x = random.random()")}, {"np.ipynb": [1]},
                 id="NB110-a-numpy-seed-does-not-seed-random"),
    pytest.param("NB110", {"clock.ipynb": _notebook("import random\nrandom.seed()", "x = random.random()")},
                 {"clock.ipynb": [1]}, id="NB110-seed-without-a-value-seeds-from-the-clock"),
    pytest.param("NB107", {"shell.ipynb": _notebook(
        "!pip install -q pandas==2.2.2 && echo done\n!pip install numpy==1.26 | tail -n 1\n"
        "!pip install a==1; python setup.py build\n"
        "%pip install --upgrade-strategy eager --progress-bar off --timeout 60 scipy==1.11\n"
        "!pip install torch @ https://download.pytorch.org/whl/torch-2.0.0-cp311-linux_x86_64.whl\n"
        "!pip install git+https://github.com/huggingface/transformers@v4.40.0")}, {"shell.ipynb": []},
                 id="NB107-shell-words-and-option-values-are-not-packages"),
    pytest.param("NB107", {"more.ipynb": _notebook("!pip install pandas==2.2.2 \\\n    seaborn",
                                                   "!pip install git+https://github.com/huggingface/transformers")},
                 {"more.ipynb": [0, 1]}, id="NB107-continued-lines-and-repositories-at-no-ref"),
    pytest.param("NB108", {"note.ipynb": _notebook("x = 1  # was '/home/alice/data.csv'")}, {"note.ipynb": []},
                 id="NB108-a-path-in-a-comment-is-not-a-string"),
    pytest.param("NB204", {"code.ipynb": _notebook(("markdown", "Use `<h1>` for titles.\n\n```html\n<h1>T</h1>\n```"),
                                                   "x = 1")}, {"code.ipynb": [None]},
                 id="NB204-an-h1-tag-inside-code-is-no-title"),
    pytest.param("NB101", {"auto.ipynb": _notebook("pip install diffusers==0.27.2\ncd data\nimport os",
                                                   "timeit os.getcwd()\ntime = 3")}, {"auto.ipynb": []},
                 id="NB101-magics-typed-without-percent-are-ipython"),
    pytest.param("NB107", {"auto.ipynb": _notebook("pip install diffusers torch==2.2.1\nimport torch",
                                                   '"""\npip install notes-in-a-string\n"""')},
                 {"auto.ipynb": [0]}, id="NB107-install-typed-without-percent"),
    pytest.param("NB110", {"names.ipynb": _notebook("from random import shuffle\nfrom numpy.random import rand",
                                                    "x = rand(3)\nshuffle(x)"),
                           "seeded.ipynb": _notebook("from random import shuffle, seed\nseed(1)", "shuffle([1, 2])"),
                           "numpy.ipynb": _notebook("from numpy import random", "x = random.rand(3)")},
                 {"names.ipynb": [1, 1], "seeded.ipynb": [], "numpy.ipynb": [1]},
                 id="NB110-functions-imported-by-name"),
    pytest.param("NB102", {"script.ipynb": _notebook("import os\nhere = os.path.dirname(__file__)"),
                           "module.ipynb": _notebook("import types\nm = types.ModuleType('m')\nm.__file__ = 'm.py'",
                                                     "print(m.__file__)")},
                 {"script.ipynb": [0], "module.ipynb": []}, id="NB102-a-notebook-has-no-file"),
    # found by an adversarial review: manifests of unexpected shapes declare nothing, and crash nothing
    *[pytest.param("NB302", {f"{name}/pyproject.toml": text, f"{name}/a.ipynb": _notebook("import requests")},
                   {f"{name}/a.ipynb": [0]}, id=f"NB302-pyproject-with-{name}")
      for name, text in [("project-a-string", 'project = "x"\n'), ("tool-a-string", 'tool = "x"\n'),
                         ("dependencies-a-number", "[project]\ndependencies = 5\n"),
                         ("extras-a-list", '[project]\noptional-dependencies = ["a"]\n'),
                         ("groups-a-list", 'dependency-groups = ["x"]\n'),
                         ("group-a-number", "[dependency-groups]\ndev = 5\n"),
                         ("poetry-groups-a-list", '[tool.poetry]\ngroup = ["x"]\n'),
                         ("deep-nesting", "a = " + "[" * 3000 + "]" * 3000 + "\n")]],
    *[pytest.param(code, {"a.ipynb": _notebook(first, second), "b.ipynb": _notebook(second)}, expected,
                   id=f"{code}-a-hash-inside-a-multi-line-string-is-text")
      for first, second in [(f'prompt = """\n# Task\n{_LINES}\n"""\nprint(prompt)',
                             f'prompt = """\n# Other task\n{_LINES}\n"""\nprint(prompt)')]
      for code, expected in [("NB115", {"a.ipynb": []}), ("NB116", {"a.ipynb": [1], "b.ipynb": [0]})]],
    pytest.param("NB115", {"cr.ipynb": _notebook("x = 1\r# setup\ry = 2\rz = 3", "x = 1\ry = 2\rz = 3")},
                 {"cr.ipynb": [1]}, id="NB115-lines-ending-in-a-lone-carriage-return"),
    # issue 14: a Python 2 notebook is one NB308, not a syntax error per print statement
    pytest.param("NB101", {"py2.ipynb": _notebook('print "hi"', "def f(:\n    pass", "print `1` <> 2L",
                                                  metadata=_PYTHON2),
                           "silent.ipynb": _notebook('print "hi"', "x = 1", metadata={}),
                           "py3.ipynb": _notebook('print "hi"')},
                 {"py2.ipynb": [1], "silent.ipynb": [], "py3.ipynb": [0]}, id="NB101-python2-cells-of-a-python2-notebook"),
    pytest.param("NB102", {"py2.ipynb": _notebook("for i in xrange(3):\n    print unicode(i)", metadata=_PYTHON2),
                           "py3.ipynb": _notebook("for i in xrange(3):\n    print(i)")},
                 {"py2.ipynb": [], "py3.ipynb": [0]}, id="NB102-python2-builtins-in-a-python2-notebook"),
    pytest.param("NB308", {"py3.ipynb": _notebook("x = 1\nprint(x)", metadata={}),
                           "broken.ipynb": _notebook("x = (", "1 = x", metadata={}),
                           "lexer.ipynb": _notebook("x = 1", metadata={"language_info": {"name": "python",
                                                                                        "pygments_lexer": "ipython2"}}),
                           "conda.ipynb": _notebook("x = 1", metadata={"kernelspec": {"name": "conda-env-py27-py",
                                                                                      "language": "python"}}),
                           "r.ipynb": _notebook('print "x"', metadata={"kernelspec": {"name": "ir", "language": "R"}})},
                 {"py3.ipynb": [], "broken.ipynb": [], "lexer.ipynb": [None], "conda.ipynb": [None], "r.ipynb": []},
                 id="NB308-python-version-from-metadata-or-cells"),
    # issue 14: line magics typed without '%' are magics, not undefined names or syntax errors
    pytest.param("NB102", {"auto.ipynb": _notebook("%load_ext watermark\nwatermark -iv", "ls", "ls -la\npwd",
                                                   "for name in ['a', 'b']:\n    ls", "time.sleep(1)", "ls.sort()",
                                                   "who = 3\nwho")},
                 {"auto.ipynb": [4, 5]}, id="NB102-magics-typed-without-percent-are-not-names"),
    pytest.param("NB101", {"auto.ipynb": _notebook("watermark -v -p numpy,pandas", "pip install -q x\nls -la data/")},
                 {"auto.ipynb": []}, id="NB101-magics-with-options-typed-without-percent"),
    # issue 14: one finding per thing a user changes
    pytest.param("NB105", {"late.ipynb": _notebook("import os", "x = 1", "y = 2",
                                                   "from azureml.core.compute import ComputeTarget, AmlCompute\n"
                                                   "import json, csv\nimport re")},
                 {"late.ipynb": [3, 3, 3]}, id="NB105-once-per-import-statement"),
    pytest.param("NB103", {"unused.ipynb": _notebook("from os import path, sep\nimport json, csv")},
                 {"unused.ipynb": [0, 0]}, id="NB103-once-per-import-statement"),
    pytest.param("NB102", {"hidden.ipynb": _notebook("df.head()", "df.describe()\nprint(df.shape, other)")},
                 {"hidden.ipynb": [0, 1]}, id="NB102-once-per-undefined-name"),
    pytest.param("NB107", {"setup.ipynb": _notebook("!pip install pandas seaborn\n%pip install numpy")},
                 {"setup.ipynb": [0, 0]}, id="NB107-once-per-install-command"),
    pytest.param("NB110", {"draws.ipynb": _notebook("import numpy as np\nimport numpy\nfrom numpy import random",
                                                    "a = np.random.rand(3)", "b = numpy.random.rand(3)",
                                                    "c = random.rand(3)")},
                 {"draws.ipynb": [1]}, id="NB110-once-per-library"),
    pytest.param("NB009", {"tail.ipynb": _notebook("x = 1", "", " ", "")}, {"tail.ipynb": [1]},
                 id="NB009-once-per-notebook"),
    pytest.param("NB306", {"float.ipynb": json.dumps({"cells": [], "metadata": {}, "nbformat": 4.0,
                                                      "nbformat_minor": 5}),
                           "whole.ipynb": json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})},
                 {"float.ipynb": [None], "whole.ipynb": []}, id="NB306-nbformat-a-float"),
]


@pytest.mark.parametrize("code, files, expected", REGRESSIONS)
def test_rule_regressions(code, files, expected, tmp_path):
    source = tmp_path / "source"
    for name, text in files.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(text, encoding="utf-8")
    found = _findings(code, source, tmp_path, "case")
    assert {name: found.get(name, []) for name in expected} == expected


def test_a_redefined_import_names_the_cell_of_the_first_import(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    (source / "logs.ipynb").write_text(_notebook("import os", "from math import log", "from numpy import log",
                                                 "log(1)"))
    report = check([source], db=tmp_path / "nb.db", settings=_settings("NB104"))
    assert [(r.position, r.message) for r in report.rows if r.code == "NB104"] == [
        (2, "redefinition of unused 'log' from cell 1, line 1")]


def test_an_unseeded_draw_points_at_its_line_not_a_comment(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    (source / "draw.ipynb").write_text(_notebook("import numpy as np\n# np.random.rand(3) is slow\nx = np.random.rand(3)"))
    report = check([source], db=tmp_path / "nb.db", settings=_settings("NB110"))
    assert [(r.position, r.line) for r in report.rows if r.code == "NB110"] == [(0, 3)]
