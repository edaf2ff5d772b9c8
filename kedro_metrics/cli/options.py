"""The options several ``kedro metrics`` commands share, defined once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
from kedro.framework.cli.utils import env_option

from kedro_metrics.cli import arguments
from kedro_metrics.lineage import GROUPINGS

#: ``--env`` of the commands reading a project: a folder under conf/.
env = env_option(callback=arguments.environment(must_exist=True))

TABLE_FORMATS = ("table", "json", "csv")

table_format = click.option(
    "--format", "fmt", type=click.Choice(TABLE_FORMATS), default="table", show_default=True,
    help="A rich table, or a JSON / CSV document on stdout (logs go to stderr).",
)  # fmt: skip
name = click.option("--name", default=None, help="Metric key or glob, e.g. 'model_metrics.*'.")
children = click.option(
    "--children", is_flag=True,
    help="Also every descendant run (MLflow's mlflow.parentRunId), each row naming its run.",
)  # fmt: skip
by = click.option(
    "--by", type=click.Choice(GROUPINGS), default=None,
    help="Group the rows by the node that saved them, its namespace or the dataset.",
)  # fmt: skip


def output_file(
    *names: str, help: str, if_empty: str, create_folders: bool, required: bool = False
) -> Callable[[Any], Any]:
    """An option naming a file the command writes, checked before anything runs
    (``arguments.output_file``)."""
    return click.option(
        *names, required=required, type=click.Path(dir_okay=False, writable=True),
        default=None, help=help,
        callback=arguments.output_file(if_empty=if_empty, create_folders=create_folders),
    )  # fmt: skip
