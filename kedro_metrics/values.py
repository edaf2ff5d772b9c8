"""Recognising one value, and showing it in a message: booleans (NumPy's too), text,
integral floats, plain numbers, NumPy arrays and pandas Series (recognised from
``sys.modules``, never imported). Standard library only, like ``shapes``, which
walks a node's metrics with these.
"""

from __future__ import annotations

import numbers
import sys
from collections.abc import Mapping
from typing import Any

_REPR_LIMIT = 60


def is_integral_float(value: Any) -> bool:
    """1.0 and np.float64(3.0) are steps; 1.5, NaN and infinities are not."""
    try:
        number = float(value)
    except Exception:  # noqa: BLE001 - any value that is no number
        return False
    return number.is_integer()


def is_bool(value: Any) -> bool:
    """A Python or NumPy boolean (NumPy's is not a ``bool`` subclass)."""
    kind = type(value)
    return isinstance(value, bool) or (
        kind.__name__ in ("bool_", "bool") and kind.__module__ == "numpy"
    )


def is_text(value: Any) -> bool:
    """What ``non_numeric`` routes: strings and booleans."""
    return isinstance(value, str) or is_bool(value)


def array_kind(value: Any) -> str | None:
    """``"ndarray"`` or ``"Series"`` when ``value`` is one; imports neither library."""
    name = type(value).__name__
    if name == "ndarray":
        numpy = sys.modules.get("numpy")
        if numpy is not None and isinstance(value, numpy.ndarray):
            return name
    elif name == "Series":
        pandas = sys.modules.get("pandas")
        if pandas is not None and isinstance(value, pandas.Series):
            return name
    return None


def series_steps(series: Any) -> list[Any] | None:
    """The steps a Series' index gives: its values when they are integers (a default
    ``RangeIndex`` 0..n-1 gives none: its steps are implicit), else None."""
    index = series.index
    if getattr(index.dtype, "kind", "O") not in "iu":
        return None
    if type(index).__name__ == "RangeIndex" and index.start == 0 and index.step == 1:
        return None
    return index.tolist()


def failure(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def is_plain_number(value: Any) -> bool:
    kind = type(value)
    return kind is float or (kind is int and -(2**1023) < value < 2**1023)


def show(value: Any) -> str:
    try:
        text = repr(value)
    except ValueError:  # ints beyond sys.get_int_max_str_digits()
        return f"<{type(value).__name__} too large to show>"
    except Exception:  # noqa: BLE001 - a broken or runaway __repr__
        return f"<{type(value).__name__}>"
    return text if len(text) <= _REPR_LIMIT else text[: _REPR_LIMIT - 3] + "..."


#: What a pandas DataFrame should become: its accepted shapes.
_DATAFRAME_HINT = (
    "a pandas DataFrame (not accepted: give one column, df['loss'], a Series; or a "
    "column per metric, df.to_dict('list'))"
)


def describe(value: Any) -> str:
    """``'x'`` for scalars, the type for containers: short and unambiguous."""
    if isinstance(value, (Mapping, list, tuple, set)):
        return f"a {type(value).__name__}"
    kind = type(value)
    if kind.__name__ == "DataFrame" and kind.__module__.startswith("pandas"):
        return _DATAFRAME_HINT
    if value is None or isinstance(value, (str, bytes, bool, numbers.Number)):
        return show(value)
    return f"{show(value)} ({type(value).__name__})"
