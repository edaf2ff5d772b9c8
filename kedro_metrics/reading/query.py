"""Reading metrics back: ``get_metrics``, the runs a command reads (their
families too), and what the CLI shows. Where runs are looked for is ``scope``'s,
which run a reference names is ``references``'.

Store reads (``store``) in, records and rows (``records``) out. Where runs are
looked for: the ``tracking_uri`` and ``experiment`` given, else the project's
(metrics.yml > ``MLFLOW_TRACKING_URI`` / ``MLFLOW_EXPERIMENT_NAME`` > the defaults,
see ``project``) when Python runs inside a Kedro project or ``project_path`` is
given, else MLflow's current tracking URI and ``MLFLOW_EXPERIMENT_NAME``, else
every experiment.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

from kedro_metrics import families, filters, project, records, store
from kedro_metrics.errors import FilterError
from kedro_metrics.lineage import Attribution
from kedro_metrics.meaning import Declarations, Meaning, RunMeaning
from kedro_metrics.points import MetricPoint, ordered
from kedro_metrics.reading import formats
from kedro_metrics.reading.references import baseline_runs, resolve, resolve_runs
from kedro_metrics.reading.scope import (
    Scope,
    experiment_ids,
    experiment_names,
    scope_for,
    sort_direction,
)
from kedro_metrics.records import RECORD_FIELDS, Run
from kedro_metrics.summaries import summary_point

__all__ = [
    "RECORD_FIELDS", "Scope", "baseline_runs", "get_metrics", "resolve_runs", "scope_for",
]  # fmt: skip

logger = logging.getLogger(__name__)


def get_metrics(  # noqa: PLR0913
    name: str | None = None,
    *,
    pipeline: str | None = None,
    run: str | Sequence[str] | None = None,
    experiment: str | None = None,
    status: str | None = None,
    tracking_uri: str | None = None,
    project_path: str | os.PathLike[str] | None = None,
    history: bool = False,
    value: str = "last",
    where: str | Sequence[str] | None = None,
    sort: str | None = None,
    node: str | None = None,
    namespace: str | None = None,
    children: bool = False,
    as_frame: bool = False,
) -> Any:
    """Metric records of the matching runs; every filter given must hold.

    Args:
        name: An exact metric key, or a glob (``"model_metrics.*"``).
        pipeline: Runs of this Kedro pipeline (the run tag ``kedro.pipeline``).
        run: A run reference or a list of them: a run id, a unique prefix of at
            least 6 characters, ``"latest"``, ``"latest~N"``, ``"branch:NAME"``,
            ``"tag:KEY=VALUE"`` or ``"best:KEY"`` (the last three with ``~N``).
        experiment: The experiment's name. Default: the project's (inside a Kedro
            project or with ``project_path``), else ``MLFLOW_EXPERIMENT_NAME``,
            else every experiment.
        status: Runs with this MLflow status (``FINISHED``, ``FAILED``, ...).
        tracking_uri: The MLflow store. Default: the project's, else MLflow's current.
        project_path: The Kedro project whose settings give URI and experiment.
        history: False: one value of each metric of each run (see ``value``).
            True: every point.
        value: Which point of each metric: ``last`` (default, as MLflow reports it),
            ``best`` (by the key's direction, docs/meaning.md), ``min``, ``max``,
            ``mean`` or ``first``. Every choice but ``last`` reads the histories.
        where: Conditions every run must meet, ``KEY OP VALUE`` (``"model_metrics.
            accuracy > 0.9"``, ``"params.lr = 0.1"``, ``"status = FINISHED"``), as
            ``kedro metrics runs --where``; the store's own search filters them.
        sort: Runs by a metric key, best first when it has a direction, else
            descending; ``KEY:asc`` / ``KEY:desc`` to force the order.
        node: Only metrics saved by this node (its full, namespaced name), as the
            run recorded it (docs/lineage.md).
        namespace: Only metrics saved by a node of exactly this namespace.
        children: Also the metrics of every descendant of the runs found (runs with
            MLflow's ``mlflow.parentRunId`` tag), each record naming its own run.
            Without it, child runs are found only when ``run`` names them.
        as_frame: Return a pandas DataFrame with the same columns.

    Returns:
        A list of dicts with exactly the keys ``name, value, step, timestamp,
        run_id, run_name, pipeline, experiment, created_at`` (``timestamp`` in epoch
        milliseconds, ``created_at`` the same instant in ISO 8601 UTC), newest run
        first, names sorted; or a DataFrame with those columns.

    Cost: last values come from the run search itself, one request per 1,000 runs
    (plus one per full run id given in ``run`` and one per experiment found), never
    one per metric. ``history=True`` adds one request per (run, metric), several
    in flight against a tracking server.

    Raises:
        RunReferenceError: a reference in ``run`` names no run or several, or
            ``status`` is not an MLflow run status.
        FilterError (a ValueError): a malformed ``where`` or ``sort``; ``value``
            unknown, or ``best`` of an exact name without a direction.
        TrackingError: the store could not be read.
    """
    conditions, order = parse_filters(where, sort)
    if value not in VALUES:
        raise FilterError(f"value must be one of {', '.join(VALUES)}; got {value!r}.")
    scope = scope_for(tracking_uri=tracking_uri, experiment=experiment, project_path=project_path)
    runs = find_runs(scope, run=run, pipeline=pipeline, status=status, where=conditions, sort=order)
    if children:
        runs = with_children(scope, runs)
    if history:
        found = all_points(scope, runs, name)
    elif value == "last":
        found = records.last_value_records(runs, name)
    else:
        found = chosen_value_records(scope, runs, name, value)
    if node is not None or namespace is not None:
        found = _saved_by(found, runs, node=node, namespace=namespace)
    if not as_frame:
        return found
    import pandas as pd

    return pd.DataFrame(found, columns=list(RECORD_FIELDS))


def _saved_by(
    found: list[dict[str, Any]], runs: Sequence[Run], *, node: str | None, namespace: str | None
) -> list[dict[str, Any]]:
    """The records whose key the node ``node`` / a node of ``namespace`` saved."""
    saved = {run.run_id: Attribution.of_tags(run.tags) for run in runs}
    return [
        rec
        for rec in found
        if saved[rec["run_id"]].matches(rec["name"], node=node, namespace=namespace)
    ]


def find_runs(  # noqa: PLR0913 - the filters of a run search, keyword-only
    scope: Scope,
    *,
    run: str | Sequence[str] | None = None,
    pipeline: str | None = None,
    status: str | None = None,
    limit: int | None = None,
    where: Sequence[filters.Condition] = (),
    sort: filters.Sort | None = None,
    children: bool = False,
) -> list[Run]:
    """Runs named by ``run`` (references), else every top-level run of the scope
    (``children``: child runs too), newest first (or by ``sort``); kept when they
    match ``pipeline``, ``status`` and every condition of ``where`` (the store's
    search filters them: one request per 1,000 runs, plus one for the newest run's
    meaning when ``sort`` follows a direction)."""
    wanted = store.checked_status(status) if status else None  # a typo fails, runs or not
    if run is not None:
        named = [
            found
            for found in resolve(scope, run)
            if (wanted is None or found.status == wanted)
            and (pipeline is None or found.runs_pipeline(pipeline))
        ]
        return _filtered(scope, named, where, sort)
    ids = experiment_ids(scope)
    if not ids:
        return []
    filter_string = filters.to_filter_string(where)
    order_by = (
        None if sort is None else filters.order_by(sort, sort_direction(scope, ids, sort, where))
    )
    return store.search_runs(
        scope.tracking_uri, ids, status=status, pipeline=pipeline, limit=limit,
        filter_string=filter_string, order_by=order_by, experiment_names=experiment_names(scope, ids),
        top_level=not children,
    )  # fmt: skip


def with_children(scope: Scope, runs: Sequence[Run]) -> list[Run]:
    """Each of ``runs`` followed by its descendants (``families.family``), each run
    once (one search, ``_child_runs``)."""
    if not runs:
        return []
    kids = _child_runs(scope, runs)
    seen: dict[str, Run] = {}
    for run in runs:
        for member in families.family(run, kids):
            seen.setdefault(member.run_id, member)
    return list(seen.values())


def children_counts(scope: Scope, runs: Sequence[Run]) -> dict[str, int]:
    """How many child runs each of ``runs`` has (one search, ``_child_runs``)."""
    return families.children_counts(_child_runs(scope, runs))


def _child_runs(scope: Scope, runs: Sequence[Run]) -> list[Run]:
    """The child runs of the experiments of ``runs`` (one request per 1,000)."""
    names = {run.experiment_id: run.experiment for run in runs}
    return store.child_runs(scope.tracking_uri, sorted(names), experiment_names=names)


def parse_filters(
    where: str | Sequence[str] | None, sort: str | None
) -> tuple[list[filters.Condition], filters.Sort | None]:
    """``where`` (one expression or several) and ``sort`` parsed; FilterError if malformed."""
    texts = [where] if isinstance(where, str) else list(where or ())
    return [filters.parse_condition(t) for t in texts], (
        None if sort is None else filters.parse_sort(sort)
    )


def _filtered(
    scope: Scope, runs: list[Run], where: Sequence[filters.Condition], sort: filters.Sort | None
) -> list[Run]:
    """Runs given by reference, kept when they meet ``where`` (one search of those
    ids), in the order ``sort`` gives."""
    if not runs or (not where and sort is None):
        return runs
    ids = sorted({r.experiment_id for r in runs})
    listed = ", ".join(f"'{r.run_id}'" for r in runs)
    conditions = filters.to_filter_string(where)
    in_runs = f"attributes.run_id IN ({listed})"
    filter_string = f"{conditions} AND {in_runs}" if conditions else in_runs
    order_by = (
        None if sort is None else filters.order_by(sort, sort_direction(scope, ids, sort, where))
    )
    return store.search_runs(
        scope.tracking_uri, ids, filter_string=filter_string, order_by=order_by
    )


#: ``get_metrics(value=...)``.
VALUES = ("last", "best", "min", "max", "mean", "first")


def chosen_value_records(
    scope: Scope, runs: Sequence[Run], name: str | None, value: str
) -> list[dict[str, Any]]:
    """One record per metric per run: the point ``value`` picks from its history
    (one request per (run, metric), in flight). ``best`` needs a direction: an exact
    name without one raises, a glob leaves such keys out with one warning."""
    pairs = []
    undirected = []
    for run in runs:
        meaning = scope.meaning(run)
        for key in records.selected(run, name):
            if value == "best" and meaning(key).direction is None:
                undirected.append(key)
            else:
                pairs.append((run, key, meaning(key)))
    if undirected and name in undirected:
        raise FilterError(
            f"value='best' needs the direction of {name!r}: declare it in metrics.yml "
            "(metrics: {KEY: {direction: max}}, docs/meaning.md) or ask for another value."
        )
    if undirected:
        logger.warning(
            "kedro-metrics: left out of value='best' (no direction declared): %s",
            ", ".join(sorted(set(undirected))),
        )
    histories = store.read_histories(scope.tracking_uri, [(r.run_id, k) for r, k, _ in pairs])
    return [
        records.record(run, _chosen(histories[run.run_id, key], value, meaning))
        for run, key, meaning in pairs
        if histories[run.run_id, key]
    ]


def _chosen(history: Sequence[MetricPoint], value: str, meaning: Meaning) -> MetricPoint:
    return summary_point(ordered(history), value, direction=meaning.direction)


def all_points(scope: Scope, runs: Sequence[Run], name: str | None) -> list[dict[str, Any]]:
    """The records of every point of every matching metric of ``runs``: one request
    per (run, metric), several in flight."""
    pairs = [(run.run_id, key) for run in runs for key in records.matching(run.metrics, name)]
    histories = store.read_histories(scope.tracking_uri, pairs)
    by_id = {run.run_id: run for run in runs}
    return [
        rec
        for run_id, key in pairs
        for rec in records.history_records(by_id[run_id], histories[run_id, key])
    ]


def run_meaning(
    tracking_uri: str | None, run_id: str, settings: project.ProjectSettings | None
) -> RunMeaning:
    """The meaning of one run's keys (one request): what it recorded, then what the
    project's metrics.yml declares."""
    found = store.get_run(tracking_uri, run_id)
    current = settings.config.metrics if settings else Declarations()
    return RunMeaning.of(found.tags if found else {}, current)


def show_run(scope: Scope, reference: str, name: str | None) -> tuple[Run, list[dict[str, Any]]]:
    """``kedro metrics show``: the run, and per matching metric its last value, step,
    number of points, best value and declared summaries (one history request per
    metric, in flight)."""
    (run,) = find_runs(scope, run=reference)
    names = records.matching(run.metrics, name)
    histories = store.read_histories(scope.tracking_uri, [(run.run_id, key) for key in names])
    by_key = {key: histories[run.run_id, key] for key in names}
    return run, formats.show_document(run, by_key, names, scope.meaning(run))


def show_family(
    scope: Scope, runs: Sequence[Run], name: str | None, by: str | None = None
) -> list[dict[str, Any]]:
    """``show --children``: each run's ``show`` rows (grouped ``by`` inside the run),
    each with its ``run_id``; one history request per (run, metric), in flight."""
    names = {run.run_id: records.matching(run.metrics, name) for run in runs}
    pairs = [(run.run_id, key) for run in runs for key in names[run.run_id]]
    histories = store.read_histories(scope.tracking_uri, pairs)
    rows: list[dict[str, Any]] = []
    for run in runs:
        by_key = {key: histories[run.run_id, key] for key in names[run.run_id]}
        document = formats.show_document(run, by_key, names[run.run_id], scope.meaning(run))
        if by:
            document = formats.grouped_by(document, [run], by)
        rows += [{**row, "run_id": run.run_id} for row in document]
    return rows


def run_histories(scope: Scope, run: Run) -> dict[str, list[MetricPoint]]:
    """Every metric's history of ``run``, by key (one request each, in flight)."""
    keys = sorted(run.metrics)
    histories = store.read_histories(scope.tracking_uri, [(run.run_id, key) for key in keys])
    return {key: histories[run.run_id, key] for key in keys}
