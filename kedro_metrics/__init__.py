"""kedro-metrics: track metrics from Kedro pipelines in MLflow.

Public names are loaded lazily, ``__version__`` too, so ``import kedro_metrics`` (and
Kedro's start-up, which loads the hook and CLI entry points) pays for nothing it does
not use: not for importing mlflow, not for reading the distribution's metadata.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__all__ = [
    "MlflowMetricDataSet",
    "MlflowMetricDataset",
    "MlflowMetricsDataSet",
    "MlflowMetricsDataset",
    "__version__",
    "check",
    "get_metrics",
]

_LAZY = {name: "kedro_metrics.io.datasets" for name in __all__ if name.startswith("Mlflow")}
_LAZY["get_metrics"] = "kedro_metrics.reading.query"
_LAZY["check"] = "kedro_metrics.reading.check"
_LAZY["__version__"] = "kedro_metrics.version"  # importlib.metadata reads the disk

if TYPE_CHECKING:
    from kedro_metrics.io.datasets import (
        MlflowMetricDataSet,
        MlflowMetricDataset,
        MlflowMetricsDataSet,
        MlflowMetricsDataset,
    )
    from kedro_metrics.reading.check import check
    from kedro_metrics.reading.query import get_metrics
    from kedro_metrics.version import __version__


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kedro_metrics' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
