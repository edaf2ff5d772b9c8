"""Where a reading command reads: the project's settings for ``--env`` and the query
scope they give (a server that fails is explained by ``output.reading``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from kedro.framework.startup import ProjectMetadata

from kedro_metrics.cli.output import READING_STORE
from kedro_metrics.records import SHORT_ID


def project_scope(metadata: ProjectMetadata, env: str | None) -> tuple[Any, Any]:
    """The project's settings for ``env`` and the query scope they give."""
    from kedro_metrics import project, store
    from kedro_metrics.reading import query

    settings = project.settings_for_path(metadata.project_path, env, bootstrapped=metadata)
    scope = query.scope_for(settings=settings)
    say_if_the_latest_run_went_elsewhere(settings.project_path, scope.tracking_uri)
    # the reading requests wait on a failing server as `kedro run` does: one budget;
    # the server is probed only once they failed for it (output.reading)
    store.configure_retries(settings.config.retry_seconds)
    READING_STORE.set((scope.tracking_uri, settings.config.retry_seconds))
    return scope, settings


def say_if_the_latest_run_went_elsewhere(project_path: str | Path, uri: str) -> None:
    """One line on stderr when the latest `kedro run` logged to another store than
    the one this command reads (delivery/latest_run.py)."""
    from kedro_metrics import store
    from kedro_metrics.delivery.latest_run import latest_run

    note = latest_run(project_path)
    here = store.redact(uri)
    if note is not None and note.store != here:
        click.echo(
            f"Note: this reads {here}, but the latest `kedro run` logged to run "
            f"{note.run_id[:SHORT_ID]} in {note.store} (another plugin's run, e.g. kedro-mlflow's, or "
            "another MLFLOW_TRACKING_URI): set metrics.yml `tracking_uri` to that store to "
            "read it here.",
            err=True,
        )
