"""Which kernel runs a notebook, and the parameters injected into it (papermill's convention)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from typing import Any


@dataclass(frozen=True)
class Kernel:
    """The kernel a notebook runs in: ``missing`` says why none was found (the run is then
    recorded as kernel-missing, and nothing runs)."""

    name: str | None
    language: str | None = None
    data_dir: str | None = None  # the Jupyter data folder holding its kernelspec (JUPYTER_PATH for the run)
    missing: str | None = None


@cache
def _installed() -> dict[str, str]:
    """Installed kernelspecs: name -> resource folder (read once per process)."""
    from jupyter_client.kernelspec import KernelSpecManager

    return KernelSpecManager().find_kernel_specs()


def find_kernel(notebook_kernel: str | None, override: str | None = None) -> Kernel:
    """The kernel ``override`` names, else the one the notebook's kernelspec names, if installed:
    never a guess."""
    name = override or notebook_kernel
    if not name:
        return Kernel(None, missing="the notebook names no kernel (give one with --kernel)")
    installed = _installed()
    if name not in installed:
        return Kernel(name, missing=f"no kernel named {name!r} is installed (jupyter kernelspec list)")
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec(name)
    return Kernel(name, spec.language, os.path.dirname(os.path.dirname(installed[name])))


def parameter_value(text: str) -> Any:
    """A ``-p NAME VALUE`` value as papermill's command line reads it: an integer, a float, True,
    False or None when it reads as one, else the string."""
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return {"True": True, "False": False, "None": None}.get(text, text)


def read_notebook(path: str, for_parameters: bool) -> Any:
    """The notebook at ``path`` as an nbformat 4 node; read as papermill reads it
    (``load_notebook_node``: its metadata and every cell's tags there) ``for_parameters``."""
    if for_parameters:
        from papermill.iorw import load_notebook_node

        return load_notebook_node(path)
    import nbformat

    return nbformat.read(path, as_version=4)


def inject_parameters(notebook: Any, parameters: dict[str, Any], kernel: Kernel) -> Any:
    """``notebook`` (read ``for_parameters``) with a cell tagged ``injected-parameters`` after the
    cell tagged ``parameters`` (at the top when there is none, replacing an earlier injection),
    written by papermill in the kernel's language."""
    from papermill.parameterize import parameterize_notebook

    return parameterize_notebook(notebook, parameters, kernel_name=kernel.name, language=kernel.language)
