"""The run lifecycle the hook drives: experiment, start, end, and checking a run."""

from __future__ import annotations

from typing import Any

from mlflow.entities import RunStatus, ViewType
from mlflow.exceptions import MlflowException

from kedro_metrics.errors import NoRunError
from kedro_metrics.store.client import (
    cause,
    client_for,
    redact,
    resolve_uri,
    scrub,
    with_retries,
)


def ensure_experiment(tracking_uri: str | None, name: str) -> str:
    """The id of the experiment called ``name``, created when missing."""
    uri = resolve_uri(tracking_uri)
    client = client_for(uri)

    def find_or_create() -> str:
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

    return with_retries(uri, f"find or create experiment {name!r}", find_or_create)


def start_run(
    tracking_uri: str | None, experiment_id: str, run_name: str, tags: dict[str, str]
) -> str:
    """Create a RUNNING run and return its id."""
    uri = resolve_uri(tracking_uri)
    client = client_for(uri)
    run = with_retries(
        uri, "start a run", lambda: client.create_run(experiment_id, run_name=run_name, tags=tags)
    )
    return run.info.run_id


#: The tag of a run ``kedro metrics sync`` created from a spooled (offline) run.
SPOOL_ID_TAG = "kedro_metrics.spool_id"


def create_spooled_run(  # noqa: PLR0913
    tracking_uri: str | None,
    experiment: str,
    run_name: str | None,
    tags: dict[str, str],
    start_time: int | None,
    spool_id: str,
) -> str:
    """The run of a spooled (offline) run: found by its ``kedro_metrics.spool_id``
    tag when an earlier sync created it, else created RUNNING with its original
    start time. Returns its id."""
    uri = resolve_uri(tracking_uri)
    client = client_for(uri)
    experiment_id = ensure_experiment(uri, experiment)

    def find() -> list[Any]:
        return client.search_runs(
            [experiment_id],
            filter_string=f"tags.`{SPOOL_ID_TAG}` = '{spool_id}'",
            run_view_type=ViewType.ALL,
            max_results=1,
        )

    found = with_retries(uri, f"find the run of spool {spool_id}", find)
    if found:
        return found[0].info.run_id
    run = with_retries(
        uri,
        "create a spooled run",
        lambda: client.create_run(
            experiment_id,
            start_time=start_time,
            tags={**tags, SPOOL_ID_TAG: spool_id},
            run_name=run_name,
        ),
    )
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
    client = client_for(uri)
    with_retries(
        uri,
        f"end run {run_id}",
        lambda: client.set_terminated(run_id, status=status, end_time=end_time),
    )


def check_run(tracking_uri: str | None, run_id: str) -> None:
    """Raise ``NoRunError`` when the store has no such run (TrackingError when the
    store cannot be asked, after the retries its store allows)."""
    uri = resolve_uri(tracking_uri)
    client = client_for(uri)

    def find() -> None:
        try:
            client.get_run(run_id)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            raise NoRunError(
                f"MLflow run {run_id!r} was not found at {redact(uri)}: "
                f"{scrub(exc.message, uri)}. Check the run id (MLFLOW_RUN_ID or the "
                "dataset's run_id) and the tracking URI."
            ) from cause(uri, exc)

    with_retries(uri, f"find run {run_id}", find)
