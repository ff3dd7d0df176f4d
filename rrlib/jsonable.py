"""Plain JSON values from numbers, arrays and tensors: what experiments' ``metrics()`` return and chapters record.

>>> import numpy as np
>>> to_jsonable({"a": np.float64(0.5), "b": np.arange(3)})
{'a': 0.5, 'b': [0, 1, 2]}
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["to_jsonable"]


def to_jsonable(value: Any) -> Any:
    """Convert numbers, arrays and tensors (recursively) into plain JSON values; non-finite floats are an error."""
    if isinstance(value, Mapping):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(item) for item in value]
    if hasattr(value, "tolist"):  # numpy arrays/scalars, torch tensors
        return to_jsonable(value.tolist())
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"metric value {value!r} is not finite; record finite numbers only")
        return float(value)
    raise TypeError(f"cannot record a value of type {type(value).__name__}: {value!r}")
