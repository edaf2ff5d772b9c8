"""A client per tracking URI, MLflow's own key rules, and what a URI is (a local
store or a server). Every other ``store`` module talks to MLflow through
``client_for`` and wraps its calls in ``failures.with_retries`` (or
``failures.translated_errors``).
"""

from __future__ import annotations

import os
import sys

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.utils.validation import (
    MAX_ENTITY_KEY_LENGTH,
    _validate_length_limit,
    _validate_metric_name,
    validate_param_and_metric_name,
)

from kedro_metrics.errors import TrackingError
from kedro_metrics.process import after_fork, state
from kedro_metrics.store.credentials import has_user_info, redact
from kedro_metrics.store.sqlite_file import sqlite_file_problem

NO_RUN_HELP = (
    "There is no MLflow run to log to. Either pass `run_id` to the dataset, "
    "run the pipeline with `kedro run` with kedro-metrics installed (its hook "
    "starts a run), or call `mlflow.start_run()` before using the dataset."
)


def key_problem(key: str) -> str | None:
    """Why MLflow would refuse ``key`` as a metric name, or None when it is fine."""
    try:
        _validate_metric_name(key)
        _validate_length_limit("Metric name", MAX_ENTITY_KEY_LENGTH, key)
    except MlflowException as exc:
        return exc.message
    return None


def safe_key(name: str) -> str:
    """``name`` with each character MLflow refuses in a metric key replaced by ``_``."""
    return "".join(c if validate_param_and_metric_name(c) else "_" for c in name)


def resolve_uri(tracking_uri: str | None) -> str:
    """The given URI, else MLflow's current tracking URI."""
    return tracking_uri or mlflow.get_tracking_uri()


def client_for(tracking_uri: str | None) -> MlflowClient:
    """One cached client per tracking URI (a client holds a store and its pool).

    A sqlite URI whose file is not a database fails at once (``sqlite_file_problem``):
    MLflow would try to open it for a minute and a half before giving up."""
    uri = resolve_uri(tracking_uri)
    with state.lock:
        client = state.clients.get(uri)
        if client is None:
            problem = sqlite_file_problem(uri)
            if problem is not None:
                raise TrackingError(
                    f"Could not open the MLflow store at {redact(uri)}: {problem}. Move it "
                    "away (MLflow creates a new database where there is none), or set "
                    "metrics.yml `tracking_uri` / MLFLOW_TRACKING_URI to another store."
                )
            if has_user_info(uri):
                # MLflow prints "View run ... at: <URI>" when a run ends: credentials
                # and all. Its own switch turns those lines off.
                os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
            client = state.clients[uri] = MlflowClient(tracking_uri=uri)
    return client


def is_local(uri: str) -> bool:
    """True for a store on this machine (a sqlite file, a file store): no spool needed."""
    scheme = _scheme(uri)
    return scheme in ("", "file", "sqlite") or len(scheme) == 1  # C:\\ on Windows


def is_server(uri: str) -> bool:
    """True for a tracking server reached over HTTP(S) (``HTTP://`` too, as MLflow)."""
    return _scheme(uri) in ("http", "https")


def _scheme(uri: str) -> str:
    """The URI's scheme in lower case ("" for none): MLflow ignores its case."""
    return uri.split(":", 1)[0].lower() if ":" in uri else ""


def active_run_id() -> str | None:
    """The id of the calling thread's active MLflow run, if any."""
    run = mlflow.active_run()
    return run.info.run_id if run else None


def _dispose_engines_after_fork() -> None:
    """A forked worker must not share the parent's pooled database connections."""
    module = sys.modules.get("mlflow.store.tracking.sqlalchemy_store")
    engines = getattr(getattr(module, "SqlAlchemyStore", None), "_engine_map", {})
    for engine in list(engines.values()):
        engine.dispose(close=False)


after_fork(_dispose_engines_after_fork)
