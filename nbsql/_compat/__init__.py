"""Where nbsql relies on other libraries' private internals: one module per library, nowhere else.

Each module names the versions it was checked against (``SUPPORTED``, which ``pyproject.toml``
pins within) and calls :func:`require` when it is imported, before building anything on the
library, so that another version stops nbsql with a one-line error (in the loading process, before
any work) instead of giving a wrong result. ``import nbsql`` imports none of them. Tests:
``tests/test_compat*.py`` compare each module with the library's public behaviour and check that
no other module uses a private name.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError, version

from ..errors import NbsqlError


@cache
def require(library: str, supported: str, installed: str | None = None) -> None:
    """Raise :class:`NbsqlError` unless ``library`` is installed in the range ``supported``.

    ``supported`` is a version specifier (``">=2.2,<4.2"``); ``installed`` defaults to the version
    of the distribution named ``library`` (give Python's for a module of the standard library).
    """
    from packaging.specifiers import SpecifierSet
    from packaging.version import InvalidVersion

    if installed is None:
        try:
            installed = version(library)
        except PackageNotFoundError:
            installed = "no version"  # imported from a folder without its distribution's metadata
    try:
        within = SpecifierSet(supported).contains(installed, prereleases=True)
    except InvalidVersion:
        within = False
    if not within:
        raise NbsqlError(f"{library} {installed} is installed, but nbsql works with {library} {supported}: "
                         "install a version in that range")
