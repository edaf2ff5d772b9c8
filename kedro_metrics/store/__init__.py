"""All MLflow I/O of kedro-metrics: the only package that imports mlflow.

- ``client``: a client per tracking URI, MLflow's key rules, local or server;
- ``failures``: retries (the budget, locked sqlite, lost answers) and errors that
  say what to do;
- ``credentials``: a URI's secrets kept out of every message;
- ``sqlite_file``: is a sqlite URI's file a usable database;
- ``write``: batching, batches in flight, asynchronous writes;
- ``rest_batch``: a server's ``log_batch`` request, its JSON written straight from
  the points;
- ``read``: run search (child runs too), histories and the keys of a run;
- ``runs``: the run lifecycle (experiment, start, end);
- ``context``: params and tags of a run, and each key's highest step;
- ``models``: MLflow 3's LoggedModels a save links its points to;
- ``probe``: a bounded check that a tracking server answers.

The names below are the package's interface: the rest of kedro-metrics imports
``from kedro_metrics import store`` at the top of a module and calls
``store.<name>``. The names load lazily: importing ``store`` costs nothing, the
first ``store.<name>`` imports its submodule (and mlflow).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_INTERFACE = {
    "client": (
        "NO_RUN_HELP", "active_run_id", "client_for", "is_local", "is_server", "key_problem",
        "resolve_uri", "safe_key",
    ),
    "credentials": ("redact",),
    "failures": ("answer_lost", "configure_retries", "request_timeout"),
    "sqlite_file": ("sqlite_file_problem",),
    "context": (
        "PARAM_VALUE_LIMIT", "STANDARD_TAG_NAMES", "TAG_VALUE_LIMIT", "delete_tags", "first_steps",
        "log_evaluation_inputs",
        "log_metrics_and_tags", "log_params", "log_values", "read_values", "run_started_here",
    ),
    "models": (
        "DATASET_TAG", "active_model_id", "last_model_here", "mark_model_of_dataset",
        "model_logged_by", "model_outputs",
    ),
    "probe": ("answers", "unhealthy", "within"),
    "read": (
        "checked_status", "child_runs", "experiment_id", "experiment_ids", "get_run",
        "latest_run_holding", "metric_keys", "read_histories", "read_history",
        "read_points", "search_runs", "where",
    ),
    "runs": (
        "SESSION_TAG", "SPOOL_ID_TAG", "activate_in_thread", "check_run", "create_spooled_run",
        "end_run", "ensure_experiment", "leave_in_thread", "link_parent", "point_mlflow_at",
        "start_run",
    ),
    "write": ("IN_FLIGHT", "batches", "flush", "log_points", "pending_writes", "submit_points"),
}  # fmt: skip
_SUBMODULE = {name: module for module, names in _INTERFACE.items() for name in names}

__all__ = [  # the interface above, sorted (a test checks they agree)
    "DATASET_TAG", "IN_FLIGHT", "NO_RUN_HELP", "PARAM_VALUE_LIMIT", "SESSION_TAG", "SPOOL_ID_TAG",
    "STANDARD_TAG_NAMES", "TAG_VALUE_LIMIT",
    "activate_in_thread", "active_model_id", "active_run_id", "answer_lost", "answers", "batches", "check_run", "checked_status", "child_runs",
    "client_for",
    "configure_retries", "create_spooled_run", "delete_tags", "end_run", "ensure_experiment",
    "experiment_id", "experiment_ids", "first_steps", "flush", "get_run", "is_local",
    "is_server", "key_problem", "last_model_here", "latest_run_holding", "leave_in_thread", "link_parent", "log_evaluation_inputs", "log_metrics_and_tags", "log_params", "log_points",
    "log_values", "mark_model_of_dataset", "metric_keys", "model_logged_by", "model_outputs",
    "pending_writes", "point_mlflow_at", "read_histories", "read_history",
    "read_points", "read_values", "redact", "request_timeout", "resolve_uri",
    "run_started_here", "safe_key", "search_runs", "sqlite_file_problem", "start_run", "submit_points",
    "unhealthy", "where",
    "within",
]  # fmt: skip


def __getattr__(name: str) -> Any:
    module = _SUBMODULE.get(name)
    if module is None:
        if name in _INTERFACE:  # a submodule: ``store.probe``
            return import_module(f"{__name__}.{name}")
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*__all__, *_INTERFACE])
