"""What a run holds besides metrics: params and tags (the run's context, and the
strings and booleans ``non_numeric`` routes), and each key's highest step for
``steps: continue``.
"""

from __future__ import annotations

import json
import multiprocessing
import threading
from collections.abc import Iterable, Mapping

from mlflow.entities import Metric, Param, RunTag
from mlflow.utils import mlflow_tags
from mlflow.utils.validation import (
    MAX_METRICS_PER_BATCH,
    MAX_PARAM_VAL_LENGTH,
    MAX_PARAMS_TAGS_PER_BATCH,
    MAX_TAG_VAL_LENGTH,
)

from kedro_metrics.points import MetricPoint, ValidatedMetrics, belongs_to
from kedro_metrics.process import state
from kedro_metrics.run_context import StandardTagNames
from kedro_metrics.store.client import client_for, resolve_uri
from kedro_metrics.store.failures import translated_errors, with_retries

#: MLflow's names of the standard tags the hook sets.
STANDARD_TAG_NAMES = StandardTagNames(
    user=mlflow_tags.MLFLOW_USER,
    source_name=mlflow_tags.MLFLOW_SOURCE_NAME,
    source_type=mlflow_tags.MLFLOW_SOURCE_TYPE,
    git_commit=mlflow_tags.MLFLOW_GIT_COMMIT,
    git_branch=mlflow_tags.MLFLOW_GIT_BRANCH,
)
#: MLflow's longest param value; longer ones are cut (with a warning) before logging.
PARAM_VALUE_LIMIT = MAX_PARAM_VAL_LENGTH
#: MLflow's longest tag value.
TAG_VALUE_LIMIT = MAX_TAG_VAL_LENGTH


def log_params(
    tracking_uri: str | None, run_id: str, params: Mapping[str, str], *, fresh: bool = False
) -> dict[str, str]:
    """Log ``params`` in as few ``log_batch`` requests as MLflow allows (100 each).

    Unless the run is ``fresh`` (created just now, so empty), its params are read
    first (one request): equal ones are not sent again, and a name the run already
    holds with another value is left alone (MLflow params are immutable). Returns
    those conflicts: name -> the value the run keeps.
    """
    uri = resolve_uri(tracking_uri)
    existing: dict[str, str] = {}
    if not fresh:
        with translated_errors(uri, f"read the params of run {run_id}"):
            existing = client_for(uri).get_run(run_id).data.params
    conflicts = {
        name: existing[name]
        for name, value in params.items()
        if name in existing and existing[name] != value
    }
    new = {name: value for name, value in params.items() if name not in existing}
    _log_batches(uri, run_id, params=new)
    return conflicts


def log_values(
    tracking_uri: str | None,
    run_id: str,
    *,
    tags: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
) -> None:
    """Log tags and params, 100 per ``log_batch`` request."""
    _log_batches(resolve_uri(tracking_uri), run_id, tags=tags or {}, params=params or {})


def delete_tags(tracking_uri: str | None, run_id: str, names: Iterable[str]) -> None:
    """Remove the run's tags ``names`` (one request each; MLflow has no batch delete)."""
    uri = resolve_uri(tracking_uri)
    client = client_for(uri)
    for name in names:
        with_retries(
            uri, f"delete tag {name} of run {run_id}", lambda n=name: client.delete_tag(run_id, n)
        )


def log_metrics_and_tags(
    tracking_uri: str | None, run_id: str, points: list[MetricPoint], tags: Mapping[str, str]
) -> None:
    """Log a few metrics and tags together: one ``log_batch`` request while they fit
    in one (1,000 metrics, 100 tags), more only beyond that."""
    uri = resolve_uri(tracking_uri)
    client = client_for(uri)
    metrics = [Metric(p.key, p.value, p.timestamp, p.step) for p in points]
    entries = [RunTag(k, v) for k, v in tags.items()]
    while metrics or entries:
        batch, metrics = metrics[:MAX_METRICS_PER_BATCH], metrics[MAX_METRICS_PER_BATCH:]
        batch_tags, entries = (
            entries[:MAX_PARAMS_TAGS_PER_BATCH],
            entries[MAX_PARAMS_TAGS_PER_BATCH:],
        )
        with_retries(
            uri,
            f"log summaries and tags to run {run_id}",
            lambda batch=batch, batch_tags=batch_tags: client.log_batch(
                run_id, metrics=batch, tags=batch_tags
            ),
        )


def _log_batches(
    uri: str,
    run_id: str,
    *,
    tags: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
) -> None:
    client = client_for(uri)
    entries: list[Param | RunTag] = [Param(k, v) for k, v in (params or {}).items()]
    entries += [RunTag(k, v) for k, v in (tags or {}).items()]
    for start in range(0, len(entries), MAX_PARAMS_TAGS_PER_BATCH):
        chunk = entries[start : start + MAX_PARAMS_TAGS_PER_BATCH]
        batch_params = [e for e in chunk if isinstance(e, Param)]
        batch_tags = [e for e in chunk if isinstance(e, RunTag)]
        with_retries(
            uri,
            f"log params and tags to run {run_id}",
            lambda: client.log_batch(run_id, params=batch_params, tags=batch_tags),
        )


def read_values(tracking_uri: str | None, run_id: str, prefix: str, kind: str) -> dict[str, str]:
    """The run's ``kind`` (``tag`` or ``param``) values under ``prefix``, by full key."""
    uri = resolve_uri(tracking_uri)
    with translated_errors(uri, f"read the {kind}s of run {run_id}"):
        data = client_for(uri).get_run(run_id).data
    values = data.tags if kind == "tag" else data.params
    return {key: value for key, value in values.items() if belongs_to(key, prefix)}


class _StepLedger:
    """The highest step of each key this process appended to with ``steps: continue``.

    Steps are reserved under one lock before the points are written, so threads
    appending to one key get disjoint steps. A key the ledger does not know is
    read from the run (one request for all of a save's keys), except in a run this
    process started (``started_here``): there a key not yet appended to is new.
    A worker process (ParallelRunner) remembers nothing between saves: other
    workers append to the same run, so each of its saves reads the run once.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._highest: dict[tuple[str, str, str], int] = {}
        self._fresh_runs: set[tuple[str, str]] = set()

    def started_here(self, uri: str, run_id: str) -> None:
        self._fresh_runs.add((uri, run_id))

    def reserve(self, uri: str, run_id: str, validated: ValidatedMetrics) -> dict[str, int]:
        """The first step of each continuing key, recorded as taken."""
        keys = validated.continuing
        if not keys:
            return {}
        worker = multiprocessing.parent_process() is not None
        with self._lock:
            known = {} if worker else self._highest
            unknown = [key for key in keys if (uri, run_id, key) not in known]
            if unknown and (worker or (uri, run_id) not in self._fresh_runs):
                for key, step in _highest_steps(uri, run_id, unknown).items():
                    known[(uri, run_id, key)] = step
            first = {key: known.get((uri, run_id, key), -1) + 1 for key in keys}
            for key, step in validated.last_steps(first).items():
                known[(uri, run_id, key)] = step
            return first


def _highest_steps(uri: str, run_id: str, keys: Iterable[str]) -> dict[str, int]:
    """Each key's highest step in the run, in one request (MLflow's latest metrics
    are the values at the highest step)."""
    with translated_errors(uri, f"read the metrics of run {run_id}"):
        run = client_for(uri).get_run(run_id)
    wanted = set(keys)
    return {m.key: m.step for m in run.data._metric_objs if m.key in wanted}


def _ledger() -> _StepLedger:
    return state.get("step_ledger", _StepLedger)


def first_steps(
    tracking_uri: str | None, run_id: str, validated: ValidatedMetrics
) -> dict[str, int]:
    """Where each continuing key of ``validated`` starts in the run (see _StepLedger)."""
    return _ledger().reserve(resolve_uri(tracking_uri), run_id, validated)


def run_started_here(tracking_uri: str | None, run_id: str) -> None:
    """Tell the step ledger that this process created the run: it holds no metrics yet."""
    _ledger().started_here(resolve_uri(tracking_uri), run_id)


def log_evaluation_inputs(
    tracking_uri: str | None, run_id: str, inputs: Iterable[tuple[str, str, str | None]]
) -> None:
    """MLflow dataset inputs of the run, context ``evaluation``, one request: each
    (name, digest, source), the source as MLflow resolves a path or URL (local,
    HTTP, S3 ...); an unknown scheme or no source: type ``unknown``."""
    import warnings

    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.entities import Dataset, DatasetInput, InputTag
    from mlflow.exceptions import MlflowException

    uri = resolve_uri(tracking_uri)
    logged = []
    for name, digest, source in inputs:
        source_type, described = "unknown", json.dumps({"name": name})
        if source:
            try:
                with warnings.catch_warnings():  # "can be interpreted in multiple ways"
                    warnings.simplefilter("ignore")
                    resolved = resolve_dataset_source(source)
                source_type, described = resolved._get_source_type(), resolved.to_json()
            except MlflowException:  # a scheme MLflow has no source for: the URI itself
                described = json.dumps({"uri": source})
        dataset = Dataset(name, digest, source_type, described)
        context = InputTag(mlflow_tags.MLFLOW_DATASET_CONTEXT, "evaluation")
        logged.append(DatasetInput(dataset, tags=[context]))
    if logged:
        client = client_for(uri)
        with_retries(
            uri, f"log the data run {run_id} was evaluated on",
            lambda: client.log_inputs(run_id, datasets=logged),
        )  # fmt: skip
