"""kedro-metrics: track metrics from Kedro pipelines in MLflow.

Public names are loaded lazily, so ``import kedro_metrics`` (and Kedro's start-up,
which loads the hook and CLI entry points) does not pay for importing mlflow.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("kedro-metrics")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = [
    "MlflowMetricDataSet",
    "MlflowMetricDataset",
    "MlflowMetricsDataSet",
    "MlflowMetricsDataset",
    "__version__",
    "get_metrics",
]

_LAZY = {
    name: "kedro_metrics.datasets" for name in __all__ if name.startswith("Mlflow")
}
_LAZY["get_metrics"] = "kedro_metrics.query"

if TYPE_CHECKING:
    from kedro_metrics.datasets import (
        MlflowMetricDataSet,
        MlflowMetricDataset,
        MlflowMetricsDataSet,
        MlflowMetricsDataset,
    )
    from kedro_metrics.query import get_metrics


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kedro_metrics' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
