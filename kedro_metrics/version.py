"""The installed distribution's version: ``kedro_metrics.__version__``, and what a
run records as ``kedro_metrics.version``. A leaf: nothing of the package imported."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kedro-metrics")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"
