"""``kedro metrics export``: a run's metrics as a Kubeflow Pipelines v1 metrics file,
a KFP v2 task's ``system.Metrics`` artifact in its executor output (or
``--executor-output``), JSON (nested, with each dataset's source) or CSV (every point)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from kedro.framework.startup import ProjectMetadata

from kedro_metrics.cli import arguments, options
from kedro_metrics.cli.output import MetricsCliError, reading
from kedro_metrics.cli.scope import project_scope

EXPORT_FORMATS = ("kubeflow", "kfp-v2", "json", "csv")


@click.command()
@click.argument("run", default="latest")
@options.env
@click.option(
    "--format", "fmt", type=click.Choice(EXPORT_FORMATS), default="json", show_default=True,
    help="kubeflow: KFP v1 metrics file; kfp-v2: a KFP v2 task's system.Metrics artifact in "
    "its executor output; json: the run with nested metrics; csv: every point.",
)  # fmt: skip
@options.output_file(
    "--output",
    "-o",
    help="Write to this file instead of stdout.",
    if_empty="give a file path, or leave --output out to print to stdout",
    create_folders=False,
)
@options.children
@click.option(
    "--executor-input", default=None,
    help="kfp-v2: the executor input KFP passes the task (its JSON, or @FILE).",
)  # fmt: skip
@click.option(
    "--executor-output", default=None, type=click.Path(dir_okay=False),
    help="kfp-v2: the executor output file to write (default: the executor input's outputFile).",
)  # fmt: skip
@click.option(
    "--output-name", default="metrics", show_default=True,
    help="kfp-v2: the name of the task's Output[Metrics].",
)  # fmt: skip
@click.pass_obj
def export(  # noqa: PLR0913
    metadata: ProjectMetadata, run: str, env: str | None, fmt: str, output: str | None,
    children: bool, executor_input: str | None, executor_output: str | None, output_name: str,
) -> None:  # fmt: skip
    """Export the metrics of RUN (default: latest) as a Kubeflow metrics file (KFP v1
    or v2), JSON or CSV."""
    with reading(fmt, output=output) as out:
        from kedro_metrics import records
        from kedro_metrics.reading import formats, query

        if children and fmt in ("kubeflow", "kfp-v2"):
            raise MetricsCliError(
                "--children exports JSON or CSV (a Kubeflow metrics file holds one run's "
                "metrics): use --format json or csv, or export each run."
            )
        if fmt == "kfp-v2":
            target, path = executor_target(executor_input, executor_output, output, output_name)
        scope, settings = project_scope(metadata, env)
        (found,) = query.find_runs(scope, run=run)
        family = query.with_children(scope, [found]) if children else [found]
        if fmt == "kfp-v2":
            write_executor_output(found, target, path)
        elif children and fmt == "json":
            out.emit([formats.export_document(r, query.run_histories(scope, r)) for r in family])
        elif fmt == "kubeflow":
            values = {key: point.value for key, point in found.metrics.items()}
            skipped = formats.not_finite(values)
            if skipped:
                click.echo(
                    f"Left out of the Kubeflow file (not a finite number): {', '.join(skipped)}",
                    err=True,
                )
            out.emit(
                formats.kubeflow_metrics(
                    values,
                    percentage=settings.config.kubeflow.percentage,
                    meaning=scope.meaning(found),
                )
            )
        elif fmt == "json":
            out.emit(formats.export_document(found, query.run_histories(scope, found)))
        else:
            rows = []
            for member in family:
                histories = query.run_histories(scope, member)
                rows += [
                    r for k in histories for r in records.history_records(member, histories[k])
                ]
            out.emit(rows, records.RECORD_FIELDS)


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
