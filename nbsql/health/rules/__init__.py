"""Every rule module; importing this package registers the whole catalog."""

from . import code, corpus, documentation, execution, reproducibility  # noqa: F401
