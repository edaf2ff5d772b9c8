"""The run lifecycle the hook drives: experiment, start, end, and checking a run."""

from __future__ import annotations

from typing import Any

from mlflow.entities import RunStatus, ViewType
from mlflow.exceptions import MlflowException
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

from kedro_metrics.errors import NoRunError
from kedro_metrics.store.client import client_for, resolve_uri
from kedro_metrics.store.credentials import cause, redact, scrub
from kedro_metrics.store.failures import with_retries


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


#: The tag naming a run's Kedro session: one ``kedro run``, one run. It is what makes
#: creating a run safe to retry.
SESSION_TAG = "kedro.session_id"


def start_run(
    tracking_uri: str | None,
    experiment_id: str,
    run_name: str,
    tags: dict[str, str],
    *,
    start_time: int | None = None,
) -> str:
    """Create a RUNNING run that started at ``start_time`` (epoch ms; default: when
    the store creates it) and return its id.

    Creating a run is not idempotent: an answer lost or later than the time-out may
    hide a run the server did create. So a retry first looks for the run of this
    Kedro session (its ``kedro.session_id`` tag) and takes it; and when a retry was
    needed, another run of the session found afterwards (a create still under way
    when we looked) is deleted: it holds nothing.
    """
    uri = resolve_uri(tracking_uri)
    client = client_for(uri)
    session = tags.get(SESSION_TAG)
    attempts = [0]

    def create() -> Any:
        attempts[0] += 1
        if attempts[0] > 1 and session:
            made = _runs_of_session(client, experiment_id, session)
            if made:
                return made[0]
        return client.create_run(experiment_id, start_time=start_time, run_name=run_name, tags=tags)

    run_id = with_retries(uri, "start a run", create).info.run_id
    if attempts[0] > 1 and session:
        with_retries(
            uri, f"remove duplicate runs of session {session}",
            lambda: _delete_other_runs(client, experiment_id, session, keep=run_id),
        )  # fmt: skip
    return run_id


def _runs_of_session(client: Any, experiment_id: str, session: str) -> list[Any]:
    """The active runs tagged with Kedro session ``session``, oldest first."""
    quoted = session.replace("\\", "\\\\").replace("'", "\\'")
    return client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{SESSION_TAG}` = '{quoted}'",
        order_by=["attributes.start_time ASC"],
    )


def _delete_other_runs(client: Any, experiment_id: str, session: str, *, keep: str) -> None:
    """Delete the runs of ``session`` other than ``keep`` (empty runs a retried create
    left behind)."""
    for run in _runs_of_session(client, experiment_id, session):
        if run.info.run_id != keep:
            client.delete_run(run.info.run_id)


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
    tag when an earlier sync created it; else the run of its Kedro session that the
    server created although ``kedro run`` never heard so (adopted, and tagged); else
    created RUNNING with its original start time. Returns its id."""
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
    session = tags.get(SESSION_TAG)
    if session:  # created by the server although ``kedro run`` never heard so: adopt it
        orphans = with_retries(
            uri, f"find the run of session {session}",
            lambda: _runs_of_session(client, experiment_id, session),
        )  # fmt: skip
        if orphans:
            run_id = orphans[0].info.run_id
            with_retries(
                uri, f"tag run {run_id}", lambda: client.set_tag(run_id, SPOOL_ID_TAG, spool_id)
            )
            return run_id
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
    _require_run(
        resolve_uri(tracking_uri), run_id,
        "Check the run id (MLFLOW_RUN_ID or the dataset's run_id) and the tracking URI.",
        found=f"MLflow run {run_id!r} was not found",
    )  # fmt: skip


def _require_run(uri: str, run_id: str, advice: str, *, found: str) -> None:
    """Ask the store for ``run_id``; ``NoRunError`` (``found``: the sentence that
    says what is missing, then MLflow's reason and ``advice``) when it has none."""
    client = client_for(uri)

    def find() -> None:
        try:
            client.get_run(run_id)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            raise NoRunError(
                f"{found} at {redact(uri)}: {scrub(exc.message, uri)}. {advice}"
            ) from cause(uri, exc)

    with_retries(uri, f"find run {run_id}", find)


def link_parent(tracking_uri: str | None, run_id: str, parent_id: str) -> bool:
    """Name ``parent_id`` as the parent of ``run_id`` in MLflow's parent tag, unless
    the run has a parent already (kept: False). Raises ``NoRunError`` when the store
    has no run ``parent_id``. Two requests, three when the tag is set."""
    uri = resolve_uri(tracking_uri)
    client = client_for(uri)
    run = with_retries(uri, f"read run {run_id}", lambda: client.get_run(run_id))
    if run.data.tags.get(MLFLOW_PARENT_RUN_ID):
        return False

    _require_run(
        uri, parent_id, "Give the id of an existing run, or unset the variable.",
        found=f"MLFLOW_PARENT_RUN_ID names run {parent_id!r}, which was not found",
    )  # fmt: skip
    with_retries(
        uri,
        f"tag run {run_id} with its parent",
        lambda: client.set_tag(run_id, MLFLOW_PARENT_RUN_ID, parent_id),
    )
    return True


def activate_in_thread(tracking_uri: str | None, run_id: str) -> tuple[bool, str | None]:
    """Make ``run_id`` the calling thread's active MLflow run, so that a node's own
    MLflow calls (``mlflow.<flavor>.log_model``) land in it. Nothing when the
    thread has an active run already. Two requests (MLflow's ``start_run`` reads
    the run and marks it running).

    Returns (activated, the tracking URI to restore): see ``point_mlflow_at``;
    ``leave_in_thread`` undoes both.
    """
    import mlflow

    if mlflow.active_run() is not None:
        return False, None
    previous = point_mlflow_at(tracking_uri)
    mlflow.start_run(run_id=run_id)
    return True, previous


def point_mlflow_at(tracking_uri: str | None) -> str | None:
    """MLflow's tracking URI becomes ``tracking_uri`` when it was another one
    (``MLFLOW_TRACKING_URI`` too, so that worker processes inherit it). Returns the
    variable's value before ("" when unset), None when nothing changed."""
    import os

    import mlflow

    uri = resolve_uri(tracking_uri)
    if resolve_uri(None) == uri:
        return None
    previous = os.environ.get("MLFLOW_TRACKING_URI", "")
    mlflow.set_tracking_uri(uri)
    return previous


def leave_in_thread(
    run_id: str, previous_uri: str | None = None, *, thread: int | None = None
) -> None:
    """The active run of ``thread`` (default: the calling thread) is no longer
    ``run_id``, which is not ended (``mlflow.end_run``, or MLflow's own exit handler,
    would end it: the hook ends the run itself); MLflow's tracking URI is
    ``previous_uri`` again when given ("": none was set). MLflow has no public way
    to leave a run without ending it: its per-thread stack of active runs is read."""
    import mlflow
    from mlflow.tracking import fluent

    stacks = fluent._active_run_stack
    stack = stacks.get() if thread is None else stacks.get_all_thread_values().get(thread)
    if stack and stack[-1].info.run_id == run_id:
        stack.pop()
    if previous_uri is not None:
        mlflow.set_tracking_uri(previous_uri or None)
