"""The exceptions of kedro-metrics.

This module is a leaf: it imports nothing from the package, mlflow or kedro, so
every other module can raise these. The datasets turn them into
``kedro.io.DatasetError`` at the Kedro boundary.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: How many problems an error message lists before it says "... and N more".
MAX_PROBLEMS_SHOWN = 50


class KedroMetricsError(Exception):
    """Base class of every error raised by kedro-metrics."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the metrics a node returned: where, and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}" if self.path else self.reason


class MetricsValidationError(KedroMetricsError, ValueError):
    """The metrics given to save are malformed; nothing was written.

    ``problems`` holds every offending entry, not only the first.
    """

    def __init__(self, problems: Sequence[Problem]):
        self.problems = tuple(problems)
        super().__init__(format_problems(self.problems))


class TrackingError(KedroMetricsError):
    """MLflow refused or could not be reached; the message says what to do."""


class StoreUnavailableError(TrackingError):
    """The store could not be reached or kept failing (no connection, a lost or cut
    response, a 5xx), through every retry allowed: trying again later can work."""


class PartialWriteError(TrackingError):
    """A save failed after MLflow confirmed some of its points."""

    def __init__(self, message: str, *, written: int, total: int, uncertain: int = 0):
        super().__init__(message)
        self.written = written
        self.total = total
        #: Points sent whose answer was lost or cut: MLflow may hold them.
        self.uncertain = uncertain


def store_refused(exc: BaseException) -> bool:
    """MLflow answered and refused (a bad key, a deleted run, a finished run): unlike
    an unavailable store, neither waiting nor resending can make it take the points."""
    if isinstance(exc, PartialWriteError):
        exc = exc.__cause__ or exc
    return isinstance(exc, TrackingError) and not isinstance(exc, StoreUnavailableError)


class NoRunError(KedroMetricsError):
    """There is no MLflow run to log to or read from."""


class NoModelError(KedroMetricsError):
    """A metrics dataset's ``model:`` names a dataset whose save logged no MLflow
    model in the run."""


class RunReferenceError(KedroMetricsError, LookupError):
    """A run reference (id, prefix, ``latest~N``) names no run, or several."""


class ExportError(KedroMetricsError, ValueError):
    """Metrics cannot be rendered in a format (e.g. two keys map to one Kubeflow name)."""


class FilterError(KedroMetricsError, ValueError):
    """A ``--where`` / ``where=`` expression or a ``--sort`` key is malformed; the
    message quotes it and names the bad part."""


class ConfigError(KedroMetricsError, ValueError):
    """metrics.yml is invalid; the message names the key and the file."""

    def __init__(self, message: str, *, key: str | None = None):
        super().__init__(message)
        self.key = key


def format_problems(problems: Sequence[Problem]) -> str:
    """Render problems one per line, capped at ``MAX_PROBLEMS_SHOWN`` lines."""
    count = len(problems)
    noun = "problem" if count == 1 else "problems"
    lines = [f"{count} {noun} in the metrics:"]
    lines += [f"  - {problem}" for problem in problems[:MAX_PROBLEMS_SHOWN]]
    if count > MAX_PROBLEMS_SHOWN:
        lines.append(f"  ... and {count - MAX_PROBLEMS_SHOWN} more")
    return "\n".join(lines)


class CheckError(KedroMetricsError):
    """A check cannot give a verdict at all (metrics.yml declares no gates); the CLI
    exits 2 with this message."""
