"""All MLflow I/O of kedro-metrics: the only package that imports mlflow.

- ``client``: a client per tracking URI, MLflow's key rules, error translation,
  redaction of credentials, retries;
- ``write``: batching, batches in flight, asynchronous writes;
- ``read``: run search, histories and the keys of a run;
- ``runs``: the run lifecycle (experiment, start, end);
- ``context``: params and tags of a run, and each key's highest step.

The names below are the package's interface; the rest of kedro-metrics imports
``from kedro_metrics import store`` and calls ``store.<name>``.
"""

from kedro_metrics.store.client import (
    NO_RUN_HELP,
    active_run_id,
    configure_retries,
    client_for,
    is_local,
    is_server,
    key_problem,
    redact,
    resolve_uri,
)
from kedro_metrics.store.context import (
    PARAM_VALUE_LIMIT,
    STANDARD_TAG_NAMES,
    first_steps,
    log_params,
    log_values,
    read_values,
    run_started_here,
)
from kedro_metrics.store.probe import answers
from kedro_metrics.store.read import (
    checked_status,
    experiment_id,
    experiment_ids,
    get_run,
    latest_run_holding,
    metric_keys,
    read_histories,
    read_history,
    read_points,
    search_runs,
    where,
)
from kedro_metrics.store.runs import (
    SPOOL_ID_TAG,
    check_run,
    create_spooled_run,
    end_run,
    ensure_experiment,
    start_run,
)
from kedro_metrics.store.write import (
    IN_FLIGHT,
    batches,
    flush,
    log_points,
    pending_writes,
    submit_points,
)

__all__ = [
    "PARAM_VALUE_LIMIT",
    "STANDARD_TAG_NAMES",
    "first_steps",
    "log_params",
    "log_values",
    "read_values",
    "run_started_here",
    "SPOOL_ID_TAG",
    "configure_retries",
    "create_spooled_run",
    "IN_FLIGHT",
    "NO_RUN_HELP",
    "active_run_id",
    "answers",
    "batches",
    "check_run",
    "checked_status",
    "client_for",
    "end_run",
    "ensure_experiment",
    "experiment_id",
    "experiment_ids",
    "flush",
    "get_run",
    "is_local",
    "is_server",
    "key_problem",
    "latest_run_holding",
    "log_points",
    "metric_keys",
    "pending_writes",
    "read_histories",
    "read_history",
    "read_points",
    "redact",
    "resolve_uri",
    "search_runs",
    "start_run",
    "submit_points",
    "where",
]
