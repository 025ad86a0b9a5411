"""What manifests declare: requirement lines of every shape, read by packaging or leniently, never failing."""

from __future__ import annotations

import pytest

from nbsql.health.manifests import clear_manifest_caches, declared_in, distributions_for

REQUIREMENTS = """\
# pinned for the course
pandas==2.2.2
numpy>=1.20,<2  # a comment after the requirement
  scikit_learn == 1.3.0
requests[security]>=2.0; python_version >= "3.8"
Django (>=2.0)
Foo.Bar_baz
torch==2.0 --hash=sha256:0123456789abcdef
matplotlib==3.8 \\
    --hash=sha256:0123456789abcdef
-e git+https://github.com/org/project.git#egg=project-from-egg
git+https://github.com/org/other.git@v1#egg=other_egg
https://example.com/downloads/wheel_from_url-1.0-py3-none-any.whl
direct @ https://example.com/direct-1.0.tar.gz
--index-url https://pypi.org/simple
-i https://pypi.org/simple
-c constraints.txt
./local/project
seaborn=0.13
statsmodels 0.14
"""


@pytest.mark.parametrize("name, text, expected", [
    pytest.param("requirements.txt", REQUIREMENTS,
                 {"pandas", "numpy", "scikit-learn", "requests", "django", "foo-bar-baz", "torch", "matplotlib",
                  "project-from-egg", "other-egg", "seaborn", "statsmodels", "direct"}, id="requirements-of-every-shape"),
    pytest.param("requirements-dev.txt", "pytest\n--requirement=requirements-base.txt\n",
                 {"pytest", "scipy"}, id="requirements-include"),
    pytest.param("pyproject.toml", '[project]\ndependencies = ["requests>=2", "Typer[all]; python_version > \'3.8\'",'
                                   ' "https://example.com/x.whl", "not a requirement!"]\n'
                                   '[project.optional-dependencies]\nplot = ["matplotlib"]\n'
                                   '[dependency-groups]\ntest = ["pytest>=8"]\n',
                 {"requests", "typer", "not", "matplotlib", "pytest"}, id="pyproject"),
    pytest.param("environment.yml", "name: course\nchannels:\n  - conda-forge\ndependencies:\n  - python=3.11\n"
                                    "  - conda-forge::numpy=1.26\n  - scipy 1.11\n  - r-base>=4\n  - pip:\n"
                                    "    - requests==2.31\n    - -e .\n"
                                    "    - git+https://github.com/org/tool.git#egg=tool\n",
                 {"conda-forge", "python", "numpy", "scipy", "r-base", "requests", "tool"}, id="environment"),
    pytest.param("setup.py", "from setuptools import setup\nsetup(name='x', install_requires=[\n"
                             "    'numpy>=1.0', \"pandas; python_version > '3.8'\",\n])\n", {"numpy", "pandas"}, id="setup.py"),
    pytest.param("setup.cfg", "[options]\ninstall_requires =\n    numpy>=1\n    pandas  # data frames\n"
                              "[options.extras_require]\n", {"numpy", "pandas"}, id="setup.cfg"),
    pytest.param("requirements.txt", "pkg; " + "(" * 5000 + "python_version > '3'" + ")" * 5000 + "\n"
                                     "pkg2[" + "a," * 50_000 + "a]\n\x00\npandas\n",
                 {"pkg", "pkg2", "pandas"}, id="pathological-lines"),
])
def test_what_a_manifest_declares(tmp_path, name, text, expected):
    (tmp_path / name).write_text(text)
    (tmp_path / "requirements-base.txt").write_text("scipy>=1\n")  # included by one case, declared by all
    clear_manifest_caches()
    assert declared_in(tmp_path) == frozenset(expected | {"scipy"})


def test_distribution_names_are_normalised():
    assert distributions_for("Foo.Bar_baz") == {"foo-bar-baz"}
    assert {"scikit-learn"} <= distributions_for("sklearn")
