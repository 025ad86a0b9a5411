"""The rule catalog is listed explicitly: the same rules whatever is imported, and in what order."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
import types

import pytest

from nbsql.health import registry, rules
from nbsql.health.rules.base import hit, rule

from .conftest import REPO

_READ_CATALOG = """
import json
from nbsql.health import registry, rules
print(json.dumps({
    "registry": [[r.code, r.slug, r.severity, r.scope, r.python_only, r.thresholds, r.check.__module__]
                 for r in registry.RULES.values()],
    "all_rules": [r.code for r in rules.all_rules()],
}))
"""

IMPORT_ORDERS = [
    "import nbsql.health.rules.corpus, nbsql.health.rules.code",
    "import nbsql.health.rules.code, nbsql.health.rules.corpus",
    "import nbsql.health.rules.execution, nbsql.health.registry",
    "import nbsql.health.registry, nbsql.health.rules.reproducibility",
    "import nbsql.health.store, nbsql.health.check",
    "import nbsql.health.check, nbsql.health.store",
]


def catalog_after(imports: str) -> dict:
    """The catalog a fresh interpreter holds after ``imports``."""
    result = subprocess.run([sys.executable, "-c", imports + "\n" + _READ_CATALOG], cwd=REPO, capture_output=True,
                            text=True, check=True)
    return json.loads(result.stdout)


def test_the_catalog_does_not_depend_on_the_import_order():
    catalogs = [catalog_after(imports) for imports in IMPORT_ORDERS]
    first = catalogs[0]
    assert all(catalog == first for catalog in catalogs[1:])
    codes = [code for code, *_ in first["registry"]]
    assert codes == sorted(codes) == first["all_rules"] == list(registry.RULES)
    assert {"NB000", "NB001", "NB101", "NB116", "NB201", "NB301", "NB307"} <= set(codes)


def test_every_module_of_rules_is_listed():
    """A rule module left out of MODULES would silently not run: each one defining rules is listed."""
    defining = {info.name for info in pkgutil.iter_modules(rules.__path__)
                if rules.rules_of(__import__(f"{rules.__name__}.{info.name}", fromlist=["_"]))}
    assert defining == {module.__name__.rsplit(".", 1)[1] for module in rules.MODULES}
    assert all(rules.rules_of(module) for module in rules.MODULES)
    listed = [r.code for module in rules.MODULES for r in rules.rules_of(module)]
    assert sorted(listed) == list(registry.RULES)


def test_the_decorator_registers_nothing():
    @rule("NB999", "test-only", "info", "notebook", "Defined by a test")
    def test_only(nb, limits):
        """## What it does\nx\n## Why is this bad?\nx\n## Example\nx\n## Use instead\nx"""
        yield hit("seen")

    assert test_only.rule.code == "NB999" and test_only.rule.check is test_only
    assert "NB999" not in registry.RULES and "NB999" not in {r.code for r in rules.all_rules()}


def test_a_code_or_slug_used_twice_is_an_error(monkeypatch):
    twin = types.ModuleType("twin")
    twin.out_of_order = rules.execution.out_of_order
    # a function of another module does not count twice (modules import each other's names)
    assert rules.rules_of(twin) == []

    def again(nb, limits):
        """## What it does\nx\n## Why is this bad?\nx\n## Example\nx\n## Use instead\nx"""
        return ()

    again.__module__ = "twin"
    twin.again = rule("NB001", "again", "info", "notebook", "Twice")(again)
    monkeypatch.setattr(rules, "MODULES", (*rules.MODULES, twin))
    with pytest.raises(ValueError, match="rules share a code: NB001"):
        rules.all_rules()
