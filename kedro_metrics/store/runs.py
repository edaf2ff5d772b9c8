"""The run lifecycle the hook drives: experiment, start, end, and checking a run."""

from __future__ import annotations

from mlflow.entities import RunStatus
from mlflow.exceptions import MlflowException

from kedro_metrics.errors import NoRunError
from kedro_metrics.store.client import (
    scrub,
    cause,
    client_for,
    redact,
    resolve_uri,
    tracking_error,
    translated_errors,
)


def ensure_experiment(tracking_uri: str | None, name: str) -> str:
    """The id of the experiment called ``name``, created when missing."""
    uri = resolve_uri(tracking_uri)
    client = client_for(uri)
    with translated_errors(uri, f"find or create experiment {name!r}"):
        experiment = client.get_experiment_by_name(name)
        if experiment is not None:
            return experiment.experiment_id
        try:
            return client.create_experiment(name)
        except MlflowException:  # created concurrently by another process
            experiment = client.get_experiment_by_name(name)
            if experiment is None:
                raise
            return experiment.experiment_id


def start_run(
    tracking_uri: str | None, experiment_id: str, run_name: str, tags: dict[str, str]
) -> str:
    """Create a RUNNING run and return its id."""
    uri = resolve_uri(tracking_uri)
    with translated_errors(uri, "start a run"):
        run = client_for(uri).create_run(experiment_id, run_name=run_name, tags=tags)
    return run.info.run_id


def end_run(
    tracking_uri: str | None,
    run_id: str,
    *,
    failed: bool = False,
    status: str | None = None,
    end_time: int | None = None,
) -> None:
    """Mark a run FINISHED, or FAILED, or ``status`` (a name of MLflow's RunStatus,
    e.g. "KILLED"), at ``end_time`` (ms; default now)."""
    uri = resolve_uri(tracking_uri)
    if status is None:
        status = RunStatus.to_string(RunStatus.FAILED if failed else RunStatus.FINISHED)
    RunStatus.from_string(status)  # raises on a name MLflow does not know
    with translated_errors(uri, f"end run {run_id}"):
        client_for(uri).set_terminated(run_id, status=status, end_time=end_time)


def check_run(tracking_uri: str | None, run_id: str) -> None:
    """Raise ``NoRunError`` when the store has no such run (TrackingError when the
    store cannot be asked)."""
    uri = resolve_uri(tracking_uri)
    try:
        client_for(uri).get_run(run_id)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise tracking_error(uri, f"find run {run_id}", exc) from cause(uri, exc)
        raise NoRunError(
            f"MLflow run {run_id!r} was not found at {redact(uri)}: "
            f"{scrub(exc.message, uri)}. Check the run id (MLFLOW_RUN_ID or the "
            "dataset's run_id) and the tracking URI."
        ) from cause(uri, exc)
