"""``kedro metrics ...`` project commands (entry point ``kedro.project_commands``).

Kedro loads this module at start-up: no mlflow import here, and commands stay
thin (pure logic lives in config.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

import click
from kedro.framework.cli.utils import KedroCliError
from kedro.framework.startup import ProjectMetadata

METRICS_YML_TEMPLATE = """\
# kedro-metrics settings: see "The hook" in the kedro-metrics docs (docs/hook.md).
# Every key is optional; conf/<env>/metrics.yml overrides this file key by key.

# Where MLflow stores runs. Beats MLFLOW_TRACKING_URI.
# Default: sqlite:///<project root>/mlflow.db (no server needed).
# tracking_uri: http://127.0.0.1:5000

# Experiment of the runs. Beats MLFLOW_EXPERIMENT_NAME. Default: the package name.
# experiment: my-experiment

# Name of the runs the hook starts. Default: the pipeline name(s).
# run_name: nightly-training

# Tags added to the runs the hook starts (besides kedro.session_id, kedro.pipeline,
# kedro.env and kedro.runner, which are always set).
# tags:
#   team: forecasting

# Pipelines run without tracking: their metrics datasets log nothing.
# disabled_pipelines:
#   - data_processing

# Let save() return before MLflow has the points; the hook waits for them at the
# end of the pipeline (and on error), so nothing is lost.
# async_logging: false
"""


class MetricsCliError(KedroCliError):
    """A KedroCliError that always prints its message.

    ``KedroCliError.show`` formats ``sys.exc_info()``, which click >= 8.2 has
    already cleared when it calls ``show``: the message would be lost.
    """

    def show(self, file: IO[Any] | None = None) -> None:
        click.secho(f"Error: {self.format_message()}", fg="red", err=True)


@click.group(name="kedro-metrics")
def commands() -> None:
    """kedro-metrics project commands."""


@commands.group()
def metrics() -> None:
    """Track metrics from Kedro pipelines in MLflow."""


@metrics.command()
@click.option("--env", "-e", default="base", show_default=True, help="Configuration environment.")
@click.option("--force", is_flag=True, help="Overwrite an existing metrics.yml.")
@click.pass_obj
def init(metadata: ProjectMetadata, env: str, force: bool) -> None:
    """Write a commented conf/<env>/metrics.yml."""
    target = write_metrics_yml(Path(metadata.project_path) / "conf" / env, force=force)
    click.secho(f"Wrote {target}", fg="green")


def write_metrics_yml(conf_env_dir: Path, *, force: bool) -> Path:
    """Write the template into ``conf_env_dir``; refuse to overwrite unless ``force``."""
    target = conf_env_dir / "metrics.yml"
    if target.exists() and not force:
        raise MetricsCliError(f"{target} already exists; use --force to overwrite it.")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(METRICS_YML_TEMPLATE)
    return target
