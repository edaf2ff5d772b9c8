"""MLflow 3's LoggedModels as a save links its points to them (``links``): the
saving thread's active model, the run's model outputs, and the model a catalog
dataset's save logged.

Nothing here costs a request unless a model is in play: the active model is
MLflow's thread-local state, and the run's outputs are read only after the
calling thread logged a model (MLflow remembers the last one per thread), once
per model logged; or at every save of a run other processes log to as well (a
ParallelRunner worker's, a run resumed with ``MLFLOW_RUN_ID``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import mlflow
from mlflow.tracking import fluent

from kedro_metrics.process import state
from kedro_metrics.store.client import client_for, resolve_uri
from kedro_metrics.store.failures import with_retries

#: The LoggedModel tag naming the catalog dataset whose save logged it.
DATASET_TAG = "kedro_metrics.dataset"


def active_model_id() -> str | None:
    """The calling thread's active model (``mlflow.set_active_model``, else
    ``MLFLOW_ACTIVE_MODEL_ID``), as ``mlflow.log_metrics`` reads it."""
    return mlflow.get_active_model_id()


def last_model_here() -> str | None:
    """The id of the last LoggedModel the calling thread logged (MLflow's own
    record of it, as ``mlflow.last_logged_model`` reads it, without its request)."""
    remembered = getattr(fluent, "_last_logged_model_id", None)
    return remembered.get() if remembered is not None else None


def model_outputs(
    tracking_uri: str | None, run_id: str, *, shared: bool = False
) -> list[tuple[str, int]]:
    """The run's LoggedModel outputs as (model id, step). Read once per model the
    calling thread logged, and not at all when it logged none, unless the run is
    ``shared`` (other processes log to it too: read at every call)."""
    last = last_model_here()
    if last is None and not shared:
        return []
    uri = resolve_uri(tracking_uri)

    def read() -> list[tuple[str, int]]:
        run = with_retries(
            uri, f"read the models of run {run_id}", lambda: client_for(uri).get_run(run_id)
        )
        outputs = run.outputs.model_outputs if run.outputs else []
        return [(output.model_id, output.step) for output in outputs]

    if shared:
        return read()
    return _remembered(state.model_outputs, (uri, run_id, last), read) or []


def mark_model_of_dataset(tracking_uri: str | None, model_id: str, dataset: str) -> None:
    """Tag the LoggedModel ``model_id`` with the catalog dataset whose save logged it."""
    uri = resolve_uri(tracking_uri)
    client = client_for(uri)
    with_retries(
        uri, f"tag model {model_id}",
        lambda: client.set_logged_model_tags(model_id, {DATASET_TAG: dataset}),
    )  # fmt: skip


def model_logged_by(tracking_uri: str | None, run_id: str, dataset: str) -> str | None:
    """The newest LoggedModel of the run that the save of catalog ``dataset`` logged
    (``mark_model_of_dataset``), None when it logged none. Two requests the first
    time for a run and dataset, none after (a model id never changes)."""
    uri = resolve_uri(tracking_uri)
    client = client_for(uri)
    quoted = dataset.replace("'", "\\'")
    where = f"source_run_id = '{run_id}' AND tags.`{DATASET_TAG}` = '{quoted}'"

    def search() -> str | None:
        run = with_retries(uri, f"read run {run_id}", lambda: client.get_run(run_id))
        found = with_retries(
            uri, f"find the model {dataset!r} logged in run {run_id}",
            lambda: client.search_logged_models(
                experiment_ids=[run.info.experiment_id], filter_string=where,
                order_by=[{"field_name": "creation_time", "ascending": False}], max_results=1,
            ),
        )  # fmt: skip
        return found[0].model_id if found else None

    return _remembered(state.dataset_models, (uri, run_id, dataset), search)


def _remembered(table: dict[Any, Any], key: Any, compute: Callable[[], Any]) -> Any:
    """``table[key]``, computed once (a None result is not remembered)."""
    with state.lock:
        found = table.get(key)
    if found is None:
        found = compute()
        if found is not None:
            with state.lock:
                table[key] = found
    return found
