"""Reading back: run search, the keys of a run and the histories of its metrics.

Costs, in requests to the store:
- ``search_runs``: one per page of up to 1,000 runs; each run comes back with the
  last point of every metric, so last values cost nothing more;
- ``read_histories``: one per (run, metric), up to ``IN_FLIGHT`` at once against a
  tracking server, as ``write.log_points`` does for saves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from mlflow.entities import RunStatus, ViewType
from mlflow.exceptions import MlflowException
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

from kedro_metrics import records
from kedro_metrics.errors import RunReferenceError
from kedro_metrics.meaning import summary_keys
from kedro_metrics.points import MetricPoint, belongs_to
from kedro_metrics.store.client import client_for, is_server, resolve_uri
from kedro_metrics.store.credentials import redact
from kedro_metrics.store.failures import with_retries
from kedro_metrics.store.write import IN_FLIGHT

T = TypeVar("T")
R = TypeVar("R")

#: MLflow's largest page of a run search.
SEARCH_PAGE = 1000
#: The first page when looking for the newest run holding some key: usually the first.
_FIRST_PAGE = 50


# Keys and histories ---------------------------------------------------------------


def read_points(tracking_uri: str | None, run_id: str, prefix: str) -> list[MetricPoint]:
    """Every point of every metric under ``prefix`` (not the summaries the hook
    logged): 1 request + 1 per metric key, the histories read several at a time
    against a tracking server."""
    uri = resolve_uri(tracking_uri)
    run = with_retries(uri, f"read run {run_id}", lambda: client_for(uri).get_run(run_id))
    summaries = summary_keys(run.data.tags)
    keys = sorted(k for k in run.data.metrics if belongs_to(k, prefix) and k not in summaries)
    histories = read_histories(uri, [(run_id, key) for key in keys])
    return [point for key in keys for point in histories[run_id, key]]


def metric_keys(tracking_uri: str | None, run_id: str) -> list[str]:
    """The metric keys a run holds, in one request."""
    uri = resolve_uri(tracking_uri)
    run = with_retries(uri, f"read run {run_id}", lambda: client_for(uri).get_run(run_id))
    return sorted(run.data.metrics)


def read_history(tracking_uri: str | None, run_id: str, key: str) -> list[MetricPoint]:
    """One metric's whole history in a single request.

    ``MlflowClient.get_metric_history`` pages a long history into several
    requests; the store API without ``max_results`` returns it all at once.
    """
    uri = resolve_uri(tracking_uri)
    store = client_for(uri)._tracking_client.store
    history = with_retries(
        uri,
        f"read metric {key!r} of run {run_id}",
        lambda: store.get_metric_history(run_id=run_id, metric_key=key),
    )
    return [MetricPoint(m.key, m.value, m.step, m.timestamp) for m in history]


def read_histories(
    tracking_uri: str | None, pairs: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], list[MetricPoint]]:
    """The histories of several (run id, key) pairs: one request each, up to
    ``IN_FLIGHT`` in flight against a tracking server."""
    uri = resolve_uri(tracking_uri)
    found = in_flight(lambda pair: read_history(uri, *pair), pairs, concurrent=is_server(uri))
    return dict(zip(pairs, found))


def in_flight(
    call: Callable[[T], R], items: Sequence[T], *, concurrent: bool, limit: int = IN_FLIGHT
) -> list[R]:
    """``[call(item) for item in items]``, with up to ``limit`` calls at once when
    ``concurrent`` (results in input order; the first failure is raised)."""
    if not concurrent or len(items) <= 1:
        return [call(item) for item in items]
    with ThreadPoolExecutor(max_workers=limit, thread_name_prefix="kedro-metrics-read") as pool:
        return list(pool.map(call, items))


# Runs -----------------------------------------------------------------------------


def not_created_yet(uri: str) -> bool:
    """A sqlite store whose file does not exist: it holds nothing, and reading it must
    not create it (MLflow would, tables and all, in the project)."""
    prefix = "sqlite:///"
    if uri[: len(prefix)].lower() != prefix:  # MLflow ignores the scheme's case
        return False
    path = uri[len(prefix) :].split("?", 1)[0]
    return bool(path) and not Path(path).exists()


def experiment_id(tracking_uri: str | None, name: str) -> str | None:
    """The id of the experiment called ``name``, None when the store has none."""
    uri = resolve_uri(tracking_uri)
    if not_created_yet(uri):
        return None
    experiment = with_retries(
        uri, f"find experiment {name!r}", lambda: client_for(uri).get_experiment_by_name(name)
    )
    return experiment.experiment_id if experiment else None


def experiment_ids(tracking_uri: str | None) -> list[str]:
    """The ids of every active experiment of the store."""
    uri = resolve_uri(tracking_uri)
    if not_created_yet(uri):
        return []
    found = _all_pages(uri, "list experiments", client_for(uri).search_experiments)
    return [e.experiment_id for e in found]


def search_runs(  # noqa: PLR0913
    tracking_uri: str | None,
    experiment_ids: Sequence[str],
    *,
    status: str | None = None,
    pipeline: str | None = None,
    run_id_prefix: str | None = None,
    limit: int | None = None,
    filter_string: str = "",
    order_by: Sequence[str] | None = None,
    experiment_names: Mapping[str, str] | None = None,
    top_level: bool = False,
) -> list[records.Run]:
    """Runs of the experiments, newest first by start time (or by ``order_by``,
    MLflow's clauses), each with the last point of every metric: one request per
    page of ``SEARCH_PAGE`` runs. ``filter_string`` (MLflow's search syntax, see
    ``filters``) is ANDed with the filters below. ``experiment_names`` (id -> name,
    when the caller knows them) saves the request per experiment that names them.

    ``pipeline`` keeps runs tagged with that pipeline (one of a comma-separated
    list); ``run_id_prefix`` keeps run ids starting with it; ``limit`` stops early
    (with ``pipeline``, after the exact match: the search's LIKE also matches runs of
    pipelines whose names contain it); ``top_level`` keeps runs without a parent.
    """
    uri = resolve_uri(tracking_uri)
    filters = []
    if status is not None:
        filters.append(f"attributes.status = '{checked_status(status)}'")
    if pipeline is not None:
        filters.append(f"tags.`{records.PIPELINE_TAG}` LIKE '%{_quoted(pipeline)}%'")
    if run_id_prefix is not None:
        filters.append(f"attributes.run_id LIKE '{_quoted(run_id_prefix)}%'")
    if top_level:
        filters.append(f"tags.`{MLFLOW_PARENT_RUN_ID}` IS NULL")
    if filter_string:
        filters.append(filter_string)
    order = list(order_by or _NEWEST_FIRST)
    known = dict(experiment_names or {})
    if pipeline is None:
        return _search(uri, list(experiment_ids), " AND ".join(filters), limit, order, known)
    runs = _search(uri, list(experiment_ids), " AND ".join(filters), None, order, known)
    return [run for run in runs if run.runs_pipeline(pipeline)][:limit]


def child_runs(
    tracking_uri: str | None,
    experiment_ids: Sequence[str],
    *,
    experiment_names: Mapping[str, str] | None = None,
) -> list[records.Run]:
    """Every run of the experiments that has a parent run (MLflow's parent tag): one
    request per page of ``SEARCH_PAGE`` such runs."""
    uri = resolve_uri(tracking_uri)
    if not experiment_ids:
        return []
    having_parent = f"tags.`{MLFLOW_PARENT_RUN_ID}` IS NOT NULL"
    return _search(
        uri, list(experiment_ids), having_parent, None, list(_NEWEST_FIRST),
        dict(experiment_names or {}),
    )  # fmt: skip


def get_run(tracking_uri: str | None, run_id: str) -> records.Run | None:
    """The run with this full id, from any experiment; None when there is none."""
    uri = resolve_uri(tracking_uri)
    if not_created_yet(uri):
        return None
    client = client_for(uri)

    def find() -> Any:
        try:
            return client.get_run(run_id)
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise

    run = with_retries(uri, f"read run {run_id}", find)
    return None if run is None else _to_runs(uri, [run])[0]


def latest_run_holding(
    tracking_uri: str | None, experiment: str, holds: Callable[[str], bool]
) -> records.Run | None:
    """The newest run (by start time) of ``experiment`` holding a metric key for
    which ``holds(key)`` is true (e.g. ``points.belongs_to(key, prefix)``); None when
    no run does. Usually two requests (the experiment, the first page of runs)."""
    uri = resolve_uri(tracking_uri)
    found = experiment_id(uri, experiment)
    if found is None:
        return None
    client = client_for(uri)
    token, page = None, _FIRST_PAGE
    while True:
        batch = with_retries(
            uri, f"search the runs of experiment {experiment!r}",
            lambda token=token, page=page: client.search_runs(
                [found], max_results=page, order_by=_NEWEST_FIRST, page_token=token,
                run_view_type=ViewType.ACTIVE_ONLY,
            ),
        )  # fmt: skip
        for run in batch:
            if any(holds(key) for key in run.data.metrics):
                return _to_runs(uri, [run])[0]
        token, page = batch.token, SEARCH_PAGE
        if not token:
            return None


def checked_status(status: str) -> str:
    """``status`` upper-cased, when it is one of MLflow's run statuses."""
    upper = status.upper()
    try:
        RunStatus.from_string(upper)
    except Exception:  # noqa: BLE001 - MLflow raises a bare Exception here
        allowed = ", ".join(_status_names())
        raise RunReferenceError(
            f"Run status {status!r} is not one of MLflow's: {allowed}."
        ) from None
    return upper


def where(tracking_uri: str | None, experiment: str | None) -> str:
    """Where runs were looked for, for messages: experiment and URI, no credentials."""
    uri = redact(resolve_uri(tracking_uri))
    scope = f"experiment {experiment!r}" if experiment else "every experiment"
    return f"{scope} at {uri}"


_NEWEST_FIRST = ["attributes.start_time DESC", "attributes.run_id ASC"]


def _status_names() -> list[str]:
    return [RunStatus.to_string(status) for status in RunStatus.all_status()]


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


def _search(  # noqa: PLR0913
    uri: str,
    ids: list[str],
    filter_string: str,
    limit: int | None,
    order_by: list[str],
    known: dict[str, str],
) -> list[records.Run]:
    client = client_for(uri)
    found: list[Any] = []
    token = None
    while limit is None or len(found) < limit:
        page = SEARCH_PAGE if limit is None else min(SEARCH_PAGE, limit - len(found))
        batch = with_retries(
            uri,
            "search runs",
            lambda page=page, token=token: client.search_runs(
                ids, filter_string, ViewType.ACTIVE_ONLY, page, order_by, token
            ),
        )
        found.extend(batch)
        token = batch.token
        if not token:
            break
    return _to_runs(uri, found, known)


def _all_pages(uri: str, action: str, search: Callable[..., Any]) -> list[Any]:
    found, token = [], None
    while True:
        batch = with_retries(
            uri, action, lambda token=token: search(max_results=SEARCH_PAGE, page_token=token)
        )
        found.extend(batch)
        token = batch.token
        if not token:
            return found


def _to_runs(
    uri: str, runs: Iterable[Any], known: Mapping[str, str] | None = None
) -> list[records.Run]:
    """MLflow runs -> ``records.Run``, with one request per distinct experiment whose
    name is not ``known``."""
    runs = list(runs)
    names: dict[str, str] = dict(known or {})
    client = client_for(uri)
    for experiment in {run.info.experiment_id for run in runs} - set(names):
        names[experiment] = with_retries(
            uri,
            f"read experiment {experiment}",
            lambda experiment=experiment: client.get_experiment(experiment).name,
        )
    return [_to_run(run, names[run.info.experiment_id]) for run in runs]


def _to_run(run: Any, experiment: str) -> records.Run:
    info = run.info
    latest = {
        m.key: MetricPoint(m.key, m.value, m.step, m.timestamp) for m in run.data.to_proto().metrics
    }
    return records.Run(
        run_id=info.run_id,
        run_name=info.run_name or "",
        status=info.status,
        start_time=info.start_time,
        end_time=info.end_time,
        experiment=experiment,
        experiment_id=info.experiment_id,
        tags=dict(run.data.tags),
        params=dict(run.data.params),
        latest=latest,
    )
