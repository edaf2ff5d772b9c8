"""Node functions (module-level so ParallelRunner can pickle them); exact binary values."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

#: What each appending node saves, in pipeline order.
APPENDS = [[1.5, 1.25], [1.0, 0.75], [0.5, 0.25]]


def append(index: int, *_after: str) -> tuple[dict, str]:
    """Saves APPENDS[index] to history.loss; the token orders the nodes."""
    time.sleep(0.05)
    return {"loss": APPENDS[index]}, f"after_{index}"


def shapes() -> dict:
    """Every NumPy/pandas shape."""
    return {
        "array": np.array([0.5, 0.25]),
        "arange_steps": [{"value": 1.0, "step": s} for s in np.arange(2.0, 4.0)],
        "zero_d": np.array(2.5),
        "series": pd.Series([0.75, 0.5], index=[10, 20]),
        "ints": np.arange(3, dtype=np.int16),
    }


def texts() -> dict:
    """Strings and booleans beside a number."""
    return {"best_model": "xgboost", "tuned": True, "accuracy": 0.875}


def bad() -> dict:
    """A None among good values: nothing may be written."""
    return {"good": 1.0, "name": "x", "bad": None, "worse": [1.0, "y"]}
