"""A metrics dataset's errors as Kedro's DatasetError: malformed metrics (every
problem, nothing written), shown once in ``kedro run``'s output; store failures
naming the dataset."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from kedro.io import DatasetError

from kedro_metrics.errors import NoModelError, NoRunError, TrackingError


class InvalidMetricsError(DatasetError):
    """What save raises for malformed metrics: every problem, nothing written."""


#: How every InvalidMetricsError message begins.
NOTHING_SAVED = "Nothing was saved to "


def one_message(error: BaseException) -> None:
    """Show a validation error once in ``kedro run``'s output.

    Kedro's catalog wraps a dataset's DatasetError in another one prefixed with the
    dataset name (``raise DatasetError(f"{name}: {e}") from e``), so the traceback
    printed the problem list twice and named the dataset twice. Our message already
    names the dataset: the wrapper takes it over and drops the chain. Under
    ParallelRunner the chain is the worker's whole traceback as text (the list
    twice more): recognised by our exception's name in it, dropped too.
    """
    if not isinstance(error, DatasetError):
        return
    cause = error.__cause__
    if isinstance(cause, InvalidMetricsError):
        error.args = cause.args
    elif _worker_traceback_of_invalid_metrics(cause) and NOTHING_SAVED in str(error):
        message = str(error)  # "<catalog name>: Nothing was saved to ..."
        error.args = (message[message.index(NOTHING_SAVED) :],)
    else:
        return
    error.__cause__ = None
    error.__suppress_context__ = True


def _worker_traceback_of_invalid_metrics(cause: BaseException | None) -> bool:
    """Is ``cause`` a ParallelRunner worker's traceback (concurrent.futures'
    ``_RemoteTraceback``, text) of an InvalidMetricsError?"""
    name = f"{InvalidMetricsError.__module__}.{InvalidMetricsError.__qualname__}: {NOTHING_SAVED}"
    return type(cause).__name__ == "_RemoteTraceback" and name in str(cause)


@contextlib.contextmanager
def as_dataset_error(label: str) -> Iterator[None]:
    """TrackingError/NoRunError/NoModelError -> DatasetError naming the dataset."""
    try:
        yield
    except (TrackingError, NoRunError, NoModelError) as exc:
        raise DatasetError(f"{label}: {exc}") from exc
