"""What a failed request to MLflow means: retried (a server within the process's
retry budget, a sqlite file while it is locked, an answer lost or cut short), or
translated into a ``TrackingError`` that says what failed and what to do.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from http import HTTPStatus
from typing import TypeVar

from mlflow.environment_variables import MLFLOW_HTTP_REQUEST_MAX_RETRIES
from mlflow.exceptions import MlflowException

from kedro_metrics.config import DEFAULT_RETRY_SECONDS
from kedro_metrics.errors import StoreUnavailableError, TrackingError
from kedro_metrics.process import state
from kedro_metrics.store.client import is_server
from kedro_metrics.store.credentials import cause, redact, scrub

T = TypeVar("T")

#: sqlite "database is locked" under parallel writers: retry this long at most.
_LOCKED_RETRY_SECONDS = 60.0
#: What an error about an unreachable store suggests.
_UNREACHABLE_HINT = (
    "Check that the server is running and reachable, or set MLFLOW_TRACKING_URI / "
    "metrics.yml `tracking_uri` to one that is."
)


def _retried(uri: str) -> str:
    """What retried a failed request to a server first: the process's retry budget
    (``kedro run``, ``kedro metrics``: MLflow's own retries are off there), else
    MLflow's own retries, as many as MLFLOW_HTTP_REQUEST_MAX_RETRIES allows. Nothing
    for another store (no HTTP: MLflow retries nothing)."""
    if not is_server(uri):
        return ""
    seconds = retry_budget().seconds
    if seconds is not None:
        return (
            f" It was retried until the retry budget of {seconds:g} s "
            "(metrics.yml `retry_seconds`) was spent."
        )
    retries = MLFLOW_HTTP_REQUEST_MAX_RETRIES.get()
    unbudgeted = " No retry budget applies here (`kedro run` and `kedro metrics` set one)"
    if not retries:
        return f"{unbudgeted}, and MLflow did not retry it (MLFLOW_HTTP_REQUEST_MAX_RETRIES=0)."
    times = "time" if retries == 1 else "times"
    return (
        f"{unbudgeted}: MLflow retried it up to {retries} {times} first "
        "(MLFLOW_HTTP_REQUEST_MAX_RETRIES)."
    )


@contextlib.contextmanager
def translated_errors(uri: str, action: str) -> Iterator[None]:
    """Turn MLflow and connection failures into a TrackingError that says what to do."""
    try:
        yield
    except StoreUnavailableError:
        raise
    except (MlflowException, OSError, http.client.HTTPException, json.JSONDecodeError) as exc:
        # requests' connection errors are OSErrors; a proxy's HTML page where MLflow
        # expected JSON is a JSONDecodeError
        raise tracking_error(uri, action, exc) from cause(uri, exc)


def tracking_error(uri: str, action: str, exc: Exception) -> TrackingError:
    """A TrackingError saying what failed and what to do; a StoreUnavailableError
    when a retry could fix it later (the spool keeps the points meanwhile)."""
    detail = scrub(exc.message if isinstance(exc, MlflowException) else str(exc), uri)
    unreachable = isinstance(exc, OSError) or "Max retries exceeded" in detail
    hint = f" {_UNREACHABLE_HINT}{_retried(uri)}" if unreachable else ""
    kind = StoreUnavailableError if retryable(exc) else TrackingError
    return kind(f"Could not {action} at MLflow tracking URI {redact(uri)}: {detail}{hint}")


def retry_when_locked(call: Callable[[], T]) -> T:
    """Retry ``call`` while sqlite says "database is locked" (parallel writers, or a
    fresh process creating the store while another writes).

    Safe to repeat: MLflow writes a batch in one transaction, and a point it
    already holds (same key, value, step and timestamp) is not stored twice.
    """
    deadline = time.monotonic() + _LOCKED_RETRY_SECONDS
    delay = 0.05
    while True:
        try:
            return call()
        except Exception as exc:  # SQLAlchemy's OperationalError too, at store creation
            if "database is locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 1.0)


class RetryBudget:
    """The time one process (one ``kedro run``) may spend waiting on a failing
    tracking server, shared by every request: start, saves and end together.

    A request that fails in a way a retry can fix (no connection, a 5xx or 429, a
    response lost or cut after sending: MLflow ignores the identical rows of a
    resent batch) is retried with backoff while the budget lasts. Once it is spent
    the store counts as unavailable and every later request fails at once, so a
    dead server costs a run the budget, not MLflow's minutes of retries per request.
    """

    def __init__(self, seconds: float | None = None):
        #: None until ``configure_retries`` (the hook, ``sync``): until then one
        #: attempt per request with MLflow's own retries (a notebook, a script), and
        #: ours only for an answer lost or cut short, which MLflow does not retry.
        self.seconds = seconds
        self._spent = 0.0
        self._lock = threading.Lock()

    def reset(self, seconds: float) -> None:
        with self._lock:
            self.seconds, self._spent = seconds, 0.0

    @property
    def exhausted(self) -> bool:
        with self._lock:
            return self.seconds is not None and self._spent >= self.seconds

    def call(self, uri: str, action: str, call: Callable[[], T]) -> T:
        if self.seconds is None:
            return _retry_lost_answers(call)
        if self.exhausted:
            raise StoreUnavailableError(
                f"Could not {action} at MLflow tracking URI {redact(uri)}: the store kept "
                f"failing for the whole retry budget ({self.seconds:g} s, metrics.yml "
                "`retry_seconds`), so this run no longer waits for it."
            )
        delay = 0.25
        while True:
            started = time.monotonic()
            try:
                return call()
            except Exception as exc:
                if not retryable(exc):
                    raise
                with self._lock:
                    self._spent += time.monotonic() - started
                    left = (self.seconds or 0.0) - self._spent
                if left <= 0:
                    raise
            pause = min(delay, left)
            time.sleep(pause)
            with self._lock:
                self._spent += pause
            delay = min(delay * 2, 4.0)


def _retry_lost_answers(call: Callable[[], T]) -> T:
    """``call``, sent again while its answer is lost or cut short, for up to
    ``DEFAULT_RETRY_SECONDS`` (MLflow's own retries cover refused connections and
    5xx answers, not a response that breaks off; a resent batch stores nothing twice)."""
    deadline = time.monotonic() + DEFAULT_RETRY_SECONDS
    delay = 0.25
    while True:
        try:
            return call()
        except Exception as exc:
            if not answer_lost(exc) or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 4.0)


#: How requests and urllib3 say a response broke off after the request was sent.
_LOST_ANSWER = ("IncompleteRead", "Connection broken", "RemoteDisconnected", "Connection aborted")


def answer_lost(exc: BaseException) -> bool:
    """Was the request sent and its answer lost or cut short? Then the server may have
    done what was asked (a batch may be stored): resending it is safe, and a message
    must not call it unwritten."""
    if isinstance(exc, (http.client.IncompleteRead, http.client.RemoteDisconnected)):
        return True
    return any(sign in str(exc) for sign in _LOST_ANSWER)


def retry_budget() -> RetryBudget:
    """The process's retry budget (the hook and ``sync`` set it from metrics.yml
    ``retry_seconds``)."""
    return state.get("retry_budget", RetryBudget)


def retryable(exc: BaseException) -> bool:
    """Could sending the same request again succeed? Connection failures, lost or
    cut responses, 5xx and 429 answers: yes. MLflow refusing the request: no."""
    if isinstance(exc, MlflowException):
        status = exc.get_http_status_code()
        # MLflow maps connection failures to 500
        return status >= HTTPStatus.INTERNAL_SERVER_ERROR or status == HTTPStatus.TOO_MANY_REQUESTS
    return isinstance(exc, (OSError, http.client.HTTPException, ValueError))


def with_retries(uri: str, action: str, call: Callable[[], T]) -> T:
    """``call`` with the retries its store needs, errors translated: a tracking
    server within the process's retry budget; a database while it is locked."""
    with translated_errors(uri, action):
        if is_server(uri):
            return retry_budget().call(uri, action, call)
        return retry_when_locked(call)


def configure_retries(seconds: float, *, request_timeout: float | None = None) -> None:
    """Give this process a fresh retry budget of ``seconds``, and make each of
    MLflow's own HTTP requests give up at once (we retry) and time out within
    ``request_timeout`` (default: the budget, at most 30 s). Explicit
    MLFLOW_HTTP_REQUEST_* variables win."""
    retry_budget().reset(seconds)
    timeout = min(seconds, 30) if request_timeout is None else request_timeout
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault(_TIMEOUT_VARIABLE, str(max(1, int(timeout))))


_TIMEOUT_VARIABLE = "MLFLOW_HTTP_REQUEST_TIMEOUT"


@contextlib.contextmanager
def request_timeout(seconds: float) -> Iterator[None]:
    """Within the block, no HTTP request to MLflow waits longer than ``seconds`` (a
    shorter time-out already set stays). For a single-threaded moment, such as the
    start of ``kedro run``: the setting is the process's."""
    before = os.environ.get(_TIMEOUT_VARIABLE)
    limit = max(1, int(seconds))
    if before is not None and before.isdigit() and int(before) <= limit:
        yield
        return
    os.environ[_TIMEOUT_VARIABLE] = str(limit)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(_TIMEOUT_VARIABLE, None)
        else:
            os.environ[_TIMEOUT_VARIABLE] = before
