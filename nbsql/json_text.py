"""Values as JSON text for storage: valid JSON whatever the notebook held."""

from __future__ import annotations

import json
import math
from typing import Any

import orjson


def to_json(value: Any) -> str | None:
    """Valid JSON text for storage (None stays NULL); orjson, with stdlib json for huge integers.

    Non-finite numbers (NaN, Infinity: not JSON) are written as null, as orjson writes them.
    """
    if value is None:
        return None
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(_finite(value), default=str)


def _finite(value: Any) -> Any:
    """``value`` with NaN and the infinities replaced by None, at any depth."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value
