"""A client per tracking URI, MLflow's own key rules, error translation, redaction
of credentials, and retries. Every other ``store`` module talks to MLflow through
``client_for`` and wraps its calls in ``translated_errors``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.utils.validation import (
    MAX_ENTITY_KEY_LENGTH,
    _validate_length_limit,
    _validate_metric_name,
)

from kedro_metrics.errors import TrackingError

T = TypeVar("T")

#: sqlite "database is locked" under parallel writers: retry this long at most.
_LOCKED_RETRY_SECONDS = 60.0

NO_RUN_HELP = (
    "There is no MLflow run to log to. Either pass `run_id` to the dataset, "
    "run the pipeline with `kedro run` with kedro-metrics installed (its hook "
    "starts a run), or call `mlflow.start_run()` before using the dataset."
)

_clients: dict[str, MlflowClient] = {}
_clients_lock = threading.Lock()


def key_problem(key: str) -> str | None:
    """Why MLflow would refuse ``key`` as a metric name, or None when it is fine."""
    try:
        _validate_metric_name(key)
        _validate_length_limit("Metric name", MAX_ENTITY_KEY_LENGTH, key)
    except MlflowException as exc:
        return exc.message
    return None


def resolve_uri(tracking_uri: str | None) -> str:
    """The given URI, else MLflow's current tracking URI."""
    return tracking_uri or mlflow.get_tracking_uri()


def redact(uri: str | None) -> str | None:
    """``uri`` without the password of its user-info part (``https://user:***@host``);
    a tracking server's user name without a password is a token (``https://***@host``)."""
    if not uri:
        return uri
    parts = urlsplit(uri)
    if parts.password is None and not _token_as_user(uri):
        return uri
    host = parts.netloc.rsplit("@", 1)[1]
    user = "***" if parts.password is None else f"{parts.username or ''}:***"
    return urlunsplit(parts._replace(netloc=f"{user}@{host}"))


def _token_as_user(uri: str) -> str | None:
    """The user name of a tracking server URI that has no password: a token."""
    parts = urlsplit(uri)
    if is_server(uri) and parts.password is None and parts.username:
        return parts.username
    return None


def client_for(tracking_uri: str | None) -> MlflowClient:
    """One cached client per tracking URI (a client holds a store and its pool)."""
    uri = resolve_uri(tracking_uri)
    with _clients_lock:
        client = _clients.get(uri)
        if client is None:
            if urlsplit(uri).username or urlsplit(uri).password:
                # MLflow prints "View run ... at: <URI>" when a run ends: credentials
                # and all. Its own switch turns those lines off.
                os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
            client = _clients[uri] = MlflowClient(tracking_uri=uri)
    return client


def is_server(uri: str) -> bool:
    """True for a tracking server reached over HTTP(S)."""
    return uri.split(":", 1)[0] in ("http", "https")


def active_run_id() -> str | None:
    """The id of the calling thread's active MLflow run, if any."""
    run = mlflow.active_run()
    return run.info.run_id if run else None


# Errors and retries --------------------------------------------------------------

_UNREACHABLE_HINT = (
    "Check that the server is running and reachable, or set MLFLOW_TRACKING_URI / "
    "metrics.yml `tracking_uri` to one that is. MLflow retried with backoff first "
    "(MLFLOW_HTTP_REQUEST_MAX_RETRIES, MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR)."
)


@contextlib.contextmanager
def translated_errors(uri: str, action: str) -> Iterator[None]:
    """Turn MLflow and connection failures into a TrackingError that says what to do."""
    try:
        yield
    except (MlflowException, OSError) as exc:  # requests' connection errors are OSErrors
        raise tracking_error(uri, action, exc) from cause(uri, exc)


def tracking_error(uri: str, action: str, exc: Exception) -> TrackingError:
    detail = scrub(exc.message if isinstance(exc, MlflowException) else str(exc), uri)
    unreachable = isinstance(exc, OSError) or "Max retries exceeded" in detail
    hint = f" {_UNREACHABLE_HINT}" if unreachable else ""
    return TrackingError(
        f"Could not {action} at MLflow tracking URI {redact(uri)}: {detail}{hint}"
    )


def cause(uri: str, exc: Exception) -> Exception | None:
    """The exception to chain: none when the original could show credentials in a
    printed traceback."""
    return None if _secrets(uri) else exc


def retry_when_locked(call: Callable[[], T]) -> T:
    """Retry ``call`` while sqlite says "database is locked" (parallel writers).

    Safe to repeat: MLflow writes a batch in one transaction, and a point it
    already holds (same key, value, step and timestamp) is not stored twice.
    """
    deadline = time.monotonic() + _LOCKED_RETRY_SECONDS
    delay = 0.05
    while True:
        try:
            return call()
        except MlflowException as exc:
            if "database is locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 1.0)


def _secrets(uri: str) -> list[str]:
    """The URI's password and MLflow's credential variables, where set."""
    found = [urlsplit(uri).password, _token_as_user(uri)]
    found += [os.environ.get(n) for n in ("MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")]
    return [secret for secret in found if secret]


def scrub(message: str, uri: str) -> str:
    """``message`` with every secret of ``_secrets`` replaced by ***."""
    for secret in _secrets(uri):
        message = message.replace(secret, "***")
    return message




def _dispose_engines_after_fork() -> None:
    """A forked worker must not share the parent's pooled database connections."""
    module = sys.modules.get("mlflow.store.tracking.sqlalchemy_store")
    engines = getattr(getattr(module, "SqlAlchemyStore", None), "_engine_map", {})
    for engine in list(engines.values()):
        engine.dispose(close=False)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_dispose_engines_after_fork)
