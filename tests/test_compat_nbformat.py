"""nbsql._compat.nbformat against nbformat's public converter."""

from __future__ import annotations

import warnings

import nbformat

from nbsql.read import read_notebook

from .conftest import EDGE, notebook_files


def test_upgraded_notebooks_hold_what_nbformat_convert_gives():
    """Every nbformat 3 notebook of the shared corpus's edge cases, upgraded by nbsql (validation
    skipped) and by nbformat.convert (public, validating): the same cells."""
    compared = 0
    for path in notebook_files(EDGE):
        data = path.read_bytes()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                public = nbformat.reads(data.decode("utf-8"), as_version=nbformat.NO_CONVERT)
        except Exception:  # not a notebook nbformat reads: nothing to compare
            continue
        if public.get("nbformat") != 3:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                expected = nbformat.convert(public, 4)
        except Exception:  # nbformat refuses it (nbsql repairs and upgrades it): nothing to compare
            continue
        ours = read_notebook(data)
        assert [(c.cell_type, c.source) for c in ours.cells] == \
            [(c["cell_type"], "".join(c["source"]) if isinstance(c["source"], list) else c["source"])
             for c in expected["cells"]], path
        compared += 1
    assert compared >= 2
