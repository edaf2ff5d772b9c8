"""Where a reading command reads: the project's settings for ``--env``, the query
scope they give, and a fast failure when the tracking server is down."""

from __future__ import annotations

from typing import Any

from kedro.framework.startup import ProjectMetadata

from kedro_metrics.cli.output import MetricsCliError


def project_scope(metadata: ProjectMetadata, env: str | None) -> tuple[Any, Any]:
    """The project's settings for ``env`` and the query scope they give."""
    from kedro_metrics import project, store
    from kedro_metrics.reading import query

    settings = project.settings_for_path(metadata.project_path, env)
    scope = query.scope_for(settings=settings)
    check_answers(scope.tracking_uri, within=settings.config.retry_seconds)
    # the reading requests wait on a failing server as `kedro run` does: one budget
    store.configure_retries(settings.config.retry_seconds)
    return scope, settings


def check_answers(uri: str, *, within: float) -> None:
    """Fail within the project's retry budget (metrics.yml ``retry_seconds``), not
    MLflow's minutes, when a tracking server is down or answers 5xx."""
    from kedro_metrics import store

    why = store.unhealthy(uri, within=within)
    if why is not None:
        raise MetricsCliError(
            f"The MLflow tracking server {store.redact(uri)} is not healthy: its /health "
            f"{why} for the whole retry budget ({within:g} s, metrics.yml `retry_seconds`). "
            "Start it, or point metrics.yml `tracking_uri` / MLFLOW_TRACKING_URI at one "
            "that runs."
        )
