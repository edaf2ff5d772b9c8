"""Reading back: the metric keys of a run and the histories of its metrics."""

from __future__ import annotations

from kedro_metrics.points import MetricPoint, belongs_to
from kedro_metrics.store.client import client_for, resolve_uri, translated_errors


def read_points(tracking_uri: str | None, run_id: str, prefix: str) -> list[MetricPoint]:
    """Every point of every metric under ``prefix``: 1 request + 1 per metric key."""
    uri = resolve_uri(tracking_uri)
    keys = [key for key in metric_keys(uri, run_id) if belongs_to(key, prefix)]
    return [point for key in keys for point in read_history(uri, run_id, key)]


def metric_keys(tracking_uri: str | None, run_id: str) -> list[str]:
    """The metric keys a run holds, in one request."""
    uri = resolve_uri(tracking_uri)
    with translated_errors(uri, f"read run {run_id}"):
        return sorted(client_for(uri).get_run(run_id).data.metrics)


def read_history(tracking_uri: str | None, run_id: str, key: str) -> list[MetricPoint]:
    """One metric's whole history in a single request.

    ``MlflowClient.get_metric_history`` pages a long history into several
    requests; the store API without ``max_results`` returns it all at once.
    """
    uri = resolve_uri(tracking_uri)
    store = client_for(uri)._tracking_client.store
    with translated_errors(uri, f"read metric {key!r} of run {run_id}"):
        history = store.get_metric_history(run_id=run_id, metric_key=key)
    return [MetricPoint(m.key, m.value, m.step, m.timestamp) for m in history]
