"""``kedro metrics export --format kfp-v2``: the run's scalar metrics as the
``system.Metrics`` output artifact of a Kubeflow Pipelines v2 task, in the executor
output file its executor input names (or ``--executor-output``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from kedro_metrics.cli import arguments
from kedro_metrics.cli.output import MetricsCliError


def executor_target(
    executor_input: str | None, executor_output: str | None, output: str | None, name: str
) -> tuple[Any, Path]:
    """Before the store is read: the artifact to fill and the file to write, from
    ``--executor-input`` (JSON or @FILE) and/or ``--executor-output``; a missing or
    conflicting option, a bad executor input or an unwritable file is one line."""
    from kedro_metrics.reading import kfp_file
    from kedro_metrics.reading.kfp_v2 import ExecutorTarget

    if output:
        raise MetricsCliError(
            "--format kfp-v2 writes the task's executor output: give --executor-output "
            "instead of --output (or leave both out to use the executor input's outputFile)."
        )
    if not (executor_input or executor_output):
        raise MetricsCliError(
            "--format kfp-v2 needs --executor-input (the JSON KFP passes the task, or "
            "@FILE) or --executor-output PATH."
        )
    target = (
        kfp_file.target_from(executor_input, name)
        if executor_input
        else ExecutorTarget(str(executor_output), name)
    )
    path = Path(executor_output or target.output_file)
    problem = arguments.why_unwritable(path, create_folders=True)
    if problem:
        raise MetricsCliError(f"Cannot write the executor output {path}: {problem}.")
    return target, path


def write_executor_output(run: Any, target: Any, path: Path) -> None:
    """``run``'s last values into the executor output (merged with what it holds);
    the keys left out (not finite) and the file written are said on stderr."""
    from kedro_metrics.reading import kfp_file

    values = {key: point.value for key, point in run.metrics.items()}
    written, skipped = kfp_file.write_metrics(target, values, str(path))
    if skipped:
        click.echo(
            f"Left out of the executor output (not a finite number): {', '.join(skipped)}",
            err=True,
        )
    click.echo(f"Wrote {len(values) - len(skipped)} metric(s) to {written}", err=True)
