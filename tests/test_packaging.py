"""How nbsql is packaged: what it imports is what it declares, and importing it changes nothing."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "nbsql"


def imported_top_level_modules() -> set[str]:
    """Every top-level module nbsql's code imports that is neither nbsql's nor the standard library's."""
    modules = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return {m for m in modules if m != "nbsql" and m not in sys.stdlib_module_names}


def declared() -> dict[str, bool]:
    """Each declared distribution, the optional extras' but the tests' included, and whether it is
    needed on this Python (its marker holds)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = [line for name, lines in project["optional-dependencies"].items() if name != "test" for line in lines]
    requirements = [Requirement(line) for line in project["dependencies"] + extras]
    return {canonicalize_name(r.name): r.marker is None or r.marker.evaluate() for r in requirements}


def test_imported_and_declared_dependencies_are_the_same():
    providers = importlib.metadata.packages_distributions()
    dependencies = declared()
    needed = {}
    for module in imported_top_level_modules():
        if module not in providers and dependencies.get(canonicalize_name(module)) is False:
            continue  # needed on other Pythons only (tomli before 3.11), and imported there
        assert module in providers, f"nbsql imports {module}, which no installed distribution provides"
        needed[module] = {canonicalize_name(name) for name in providers[module]}
    undeclared = {module: names for module, names in needed.items() if not names & set(dependencies)}
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"
    provided = set().union(*needed.values())
    unused = {name for name, here in dependencies.items() if here} - provided
    assert not unused, f"declared but never imported: {unused}"


def test_importing_nbsql_changes_nothing_for_the_importer():
    """Every module of nbsql imported in a fresh interpreter: no sqlite3 adapter or converter
    registered, no database connection opened, no signal handler set; a load leaves sqlite3's
    adapters as it found them."""
    code = """
import gc, json, pkgutil, signal, sqlite3, importlib
adapters, converters = dict(sqlite3.adapters), dict(sqlite3.converters)
handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
import nbsql
names = sorted(m.name for m in pkgutil.walk_packages(nbsql.__path__, "nbsql.") if m.name != "nbsql.__main__")
for name in names:
    importlib.import_module(name)
after_import = dict(sqlite3.adapters)
import sys, tempfile
with tempfile.TemporaryDirectory() as tmp:
    nbsql.load(sys.argv[1], tmp + "/nb.db")
print(json.dumps({
    "after_a_load": dict(sqlite3.adapters) == after_import,
    "modules": len(names),
    "adapters": sorted(map(repr, set(sqlite3.adapters.items()) ^ set(adapters.items()))),
    "converters": sorted(set(sqlite3.converters) ^ set(converters)),
    "connections": sum(isinstance(o, sqlite3.Connection) for o in gc.get_objects()),
    "handlers": [s.name for s, h in handlers.items() if signal.getsignal(s) != h],
}))
"""
    result = subprocess.run([sys.executable, "-c", code, str(REPO / "sample_notebooks")], capture_output=True,
                            text=True, check=True)
    changes = json.loads(result.stdout)
    assert changes.pop("modules") > 20
    assert changes == {"after_a_load": True, "adapters": [], "converters": [], "connections": 0, "handlers": []}


def test_health_never_imports_the_loader():
    """health/ checks and reports; loading then reporting is the API layer's (nbsql.check)."""
    for path in (PACKAGE / "health").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                module = "." * node.level + (node.module or "")
                names = [alias.name for alias in node.names]
                assert module not in ("..load", "nbsql.load") and not (module in ("..", "nbsql") and "load" in names), \
                    f"{path.relative_to(REPO)} imports the loader"
            elif isinstance(node, ast.Import):
                assert "nbsql.load" not in [alias.name for alias in node.names], f"{path.relative_to(REPO)}"
