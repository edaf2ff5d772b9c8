"""The everyday commands, ``kedro metrics init/ui/runs/show/compare/history/plot/sync``:
what the ``metrics`` group of ``kedro_metrics.cli`` imports when one of them is run.

No mlflow or matplotlib import here (``kedro metrics init`` needs neither), and
commands stay thin (pure logic lives in config.py, figures.py ...).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click
from kedro.framework.cli.utils import env_option
from kedro.framework.startup import ProjectMetadata

from kedro_metrics.cli import arguments, options
from kedro_metrics.cli.mlflow_ui import serve_mlflow_ui
from kedro_metrics.cli.output import MetricsCliError, reading, sync_summary
from kedro_metrics.cli.scope import project_scope
from kedro_metrics.config_template import METRICS_YML_TEMPLATE

#: What a project's .gitignore should hold: the embedded store and the local spool.
GITIGNORE_ENTRIES = ("mlflow.db", ".kedro_metrics/")


@click.command()
@env_option(
    default="base", show_default=True, help="Configuration environment to write metrics.yml into.",
    callback=arguments.environment(must_exist=False),
)  # fmt: skip
@click.option("--force", is_flag=True, help="Overwrite an existing metrics.yml.")
@click.pass_obj
def init(metadata: ProjectMetadata, env: str, force: bool) -> None:
    """Write a commented conf/<env>/metrics.yml."""
    target = write_metrics_yml(Path(metadata.project_path) / "conf" / env, force=force)
    click.secho(f"Wrote {target}", fg="green")
    missing = missing_gitignore_entries(Path(metadata.project_path) / ".gitignore")
    if missing:
        click.echo(
            "Keep the local MLflow store and spool out of git: add "
            + ", ".join(missing)
            + " to the project's .gitignore."
        )


def missing_gitignore_entries(gitignore: Path) -> list[str]:
    """The GITIGNORE_ENTRIES a project's .gitignore lacks (all when it has none)."""
    from kedro_metrics import workspace

    lines = gitignore.read_text().splitlines() if gitignore.is_file() else []
    return [entry for entry in GITIGNORE_ENTRIES if not workspace.gitignore_covers(lines, entry)]


def write_metrics_yml(conf_env_dir: Path, *, force: bool) -> Path:
    """Write the template into ``conf_env_dir``; refuse to overwrite unless ``force``."""
    target = conf_env_dir / "metrics.yml"
    if target.exists() and not force:
        raise MetricsCliError(f"{target} already exists; use --force to overwrite it.")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(METRICS_YML_TEMPLATE)
    return target


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port", default=5000, type=click.IntRange(1, 65535), show_default=True,
    help="Port to listen on.",
)  # fmt: skip
@options.env
@click.pass_obj
def ui(metadata: ProjectMetadata, host: str, port: int, env: str | None) -> None:
    """Start `mlflow ui` on the project's tracking store; Ctrl-C stops it."""
    from kedro_metrics import store

    uri = _settings(metadata, env).tracking_uri
    if store.is_server(uri):
        click.echo(f"The project tracks to the MLflow server {store.redact(uri)}: open it there.")
        return
    arguments.check_port_free(host, port)
    click.echo(f"MLflow UI of {store.redact(uri)} at http://{host}:{port} (Ctrl-C stops it)")
    code = serve_mlflow_ui(uri, host=host, port=port, cwd=Path(metadata.project_path))
    if code:
        raise MetricsCliError(f"mlflow ui exited with code {code} (is port {port} free?).")


def _settings(metadata: ProjectMetadata, env: str | None) -> Any:
    """The project's settings for ``env``; a bad metrics.yml is one ``Error:`` line."""
    from kedro_metrics import project

    with reading("table"):
        return project.settings_for_path(metadata.project_path, env, bootstrapped=metadata)


# Reading back: runs, show, compare, history, export ----------------------------------
# Each command resolves the project's settings (metrics.yml of --env), asks `query`,
# and renders with `formats`. With --format json|csv stdout carries only the document.


@click.command()
@options.env
@click.option(
    "--limit", default=20, show_default=True, type=click.IntRange(min=1),
    help="At most this many runs.",
)  # fmt: skip
@click.option("--pipeline", default=None, help="Only runs of this pipeline.")
@click.option("--status", default=None, help="Only runs with this status (FINISHED, FAILED, ...).")
@click.option(
    "--where", "where", multiple=True, metavar="EXPR",
    help="Only runs where KEY OP VALUE holds (repeatable, all must hold), e.g. "
    "'model_metrics.accuracy > 0.9', 'params.lr = 0.1', 'status = FINISHED'.",
)  # fmt: skip
@click.option(
    "--sort", default=None, metavar="KEY[:asc|:desc]",
    help="Order by a metric: best first when it has a direction, else descending.",
)  # fmt: skip
@options.children
@options.table_format
@click.pass_obj
def runs(  # noqa: PLR0913
    metadata: ProjectMetadata, env: str | None, limit: int, pipeline: str | None,
    status: str | None, where: tuple[str, ...], sort: str | None, children: bool, fmt: str,
) -> None:  # fmt: skip
    """List the project's runs, newest first (or by --sort), filtered by --where; a
    parent run says how many child runs it has, which show with --children."""
    with reading(fmt) as out:
        from kedro_metrics.reading import formats, query, tables

        conditions, order = query.parse_filters(where, sort)
        scope, _ = project_scope(metadata, env)
        found = query.find_runs(
            scope, pipeline=pipeline, status=status, limit=limit, where=conditions, sort=order,
            children=children,
        )  # fmt: skip
        counts = query.children_counts(scope, found) if found else {}
        keys = formats.value_keys(conditions, order)
        meaning = scope.meaning(found[0]) if found else scope.meaning_of_none()
        document = formats.runs_document(found, keys, counts)
        out.emit(
            formats.runs_csv_rows(document) if out.fmt == "csv" else document,
            formats.runs_columns(keys),
            tables.runs_table(found, keys, meaning, counts),
            title=f"Runs of {scope.where}", empty=f"No runs in {scope.where}{_matching(where)}.",
        )  # fmt: skip


def _matching(where: tuple[str, ...]) -> str:
    return f" where {' and '.join(where)}" if where else ""


@click.command()
@click.argument("run", default="latest")
@options.env
@options.name
@options.by
@options.children
@options.table_format
@click.pass_obj
def show(  # noqa: PLR0913
    metadata: ProjectMetadata, run: str, env: str | None, name: str | None, by: str | None,
    children: bool, fmt: str,
) -> None:  # fmt: skip
    """Show the metrics of RUN (default: latest): last value, its step, number of
    points, the best value (by the key's direction) and its declared summaries."""
    with reading(fmt) as out:
        from kedro_metrics.reading import formats, query, tables

        scope, _ = project_scope(metadata, env)
        labels = {}
        if children:
            (found,) = query.find_runs(scope, run=run)
            family = query.with_children(scope, [found])
            document = query.show_family(scope, family, name, by)
            labels = {r.run_id: f"run {r.short_id} ({r.run_name})" for r in family}
        else:
            found, document = query.show_run(scope, run, name)
            if by:
                document = formats.grouped_by(document, [found], by)
        csv_rows = formats.show_csv_rows(document) if out.fmt == "csv" else document
        table = tables.show_table(document, scope.meaning(found))
        heading = "run_id" if children else by
        out.emit(
            csv_rows, formats.show_columns(document),
            tables.under_headings(table, document, heading, labels) if heading else table,
            title=_run_title(found), empty=f"Run {found.run_id} has no metric matching {name or '*'!r}.",
        )  # fmt: skip


@click.command()
@click.argument("run_refs", metavar="[RUN]...", nargs=-1)
@options.env
@options.name
@click.option(
    "--only-changed", is_flag=True, help="Only metrics that differ or are missing somewhere."
)
@click.option(
    "--params", "with_params", is_flag=True,
    help="Also the parameters that differ between the runs, as rows params.<name>.",
)  # fmt: skip
@options.by
@options.children
@options.table_format
@click.pass_obj
def compare(  # noqa: PLR0913
    metadata: ProjectMetadata, run_refs: tuple[str, ...], env: str | None, name: str | None,
    only_changed: bool, with_params: bool, by: str | None, children: bool, fmt: str,
) -> None:  # fmt: skip
    """Compare the last values of runs (default: latest~1 latest; with --children:
    latest and its descendants, a column per run), with the change of the last run
    against the first, green when better and red when worse by the key's direction."""
    with reading(fmt) as out:
        from kedro_metrics import records
        from kedro_metrics.reading import formats, query, tables

        scope, _ = project_scope(metadata, env)
        default = ("latest",) if children else ("latest~1", "latest")
        found = query.find_runs(scope, run=list(run_refs or default))
        if children:
            found = query.with_children(scope, found)
        meaning = scope.meaning(records.newest(found)) if found else scope.meaning_of_none()
        rows = records.compare(found, names=name, only_changed=only_changed, meaning=meaning)
        if with_params:
            rows += records.compare_params(found)
        if by:
            rows = formats.grouped_by(rows, found, by)
        rows, not_same = formats.with_same_data(rows, found)
        for warning in not_same:
            click.echo(warning, err=True)
        ids = list(dict.fromkeys(run.run_id for run in found))
        if out.fmt == "csv":
            out.emit(formats.compare_csv_rows(rows, ids), formats.compare_columns(ids, by))
        else:
            table = tables.compare_table(rows, found, meaning)
            out.emit(
                rows, (), tables.under_headings(table, rows, by) if by else table,
                title=" vs ".join(f"{r.short_id} ({r.run_name})" for r in found),
                empty="No metric to compare." if not only_changed else "No metric changed.",
            )  # fmt: skip


_runs_option = click.option(
    "--run", "run_refs", multiple=True,
    help="A run (repeatable): a run id, a unique prefix of 6+ characters, latest or latest~N. "
    "Default: latest.",
)  # fmt: skip


@click.command()
@click.argument("name")
@_runs_option
@options.env
@options.table_format
@options.output_file(
    "--plot",
    "plot_file",
    help="Also draw the points to this PNG (a line per run).",
    if_empty="give the PNG file to draw, or leave --plot out",
    create_folders=True,
)
@click.pass_obj
def history(  # noqa: PLR0913
    metadata: ProjectMetadata, name: str, run_refs: tuple[str, ...], env: str | None, fmt: str,
    plot_file: str | None,
) -> None:  # fmt: skip
    """Every point of metric NAME (a key or a glob), per run."""
    with reading(fmt) as out:
        from kedro_metrics.reading import tables
        from kedro_metrics.records import RECORD_FIELDS

        points, meaning = _history_points(metadata, env, name, run_refs)
        table = tables.records_table(points, meaning)
        out.emit(points, RECORD_FIELDS, table, title=f"History of {name}")
        if plot_file:
            write_plot(points, plot_file, title=name, meaning=meaning)


@click.command()
@click.argument("name_glob")
@_runs_option
@options.output_file(
    "--output",
    "-o",
    required=True,
    help="The PNG file to write.",
    if_empty="give the PNG file to write",
    create_folders=True,
)
@options.env
@click.pass_obj
def plot(
    metadata: ProjectMetadata,
    name_glob: str,
    run_refs: tuple[str, ...],
    output: str,
    env: str | None,
) -> None:
    """Draw the metrics matching NAME_GLOB to a PNG: a panel per metric, a line per run."""
    with reading("table"):
        points, meaning = _history_points(metadata, env, name_glob, run_refs)
        write_plot(points, output, title=name_glob, meaning=meaning)


def _history_points(
    metadata: ProjectMetadata, env: str | None, name: str, run_refs: tuple[str, ...]
) -> tuple[list[dict[str, Any]], Any]:
    """Every point of the metrics ``name`` matches in the runs (default: latest), and
    their meaning (the newest run's, then the project's)."""
    from kedro_metrics import records
    from kedro_metrics.reading import query

    scope, _ = project_scope(metadata, env)
    found = query.find_runs(scope, run=list(run_refs or ("latest",)))
    points = query.all_points(scope, found, name)
    if not points:
        runs_named = ", ".join(run.run_id for run in found)
        raise MetricsCliError(f"No metric matches {name!r} in run(s) {runs_named}.")
    return points, scope.meaning(records.newest(found))


def write_plot(records: list[dict[str, Any]], output: str, *, title: str, meaning: Any) -> None:
    """Draw ``records`` (metric records with every point) into the PNG ``output``:
    ``figures`` decides the panels and series, ``render`` draws them (matplotlib is
    imported only here)."""
    from kedro_metrics.reading.figures import build_figure
    from kedro_metrics.reading.render import write_png

    figure = build_figure(records, title=title, meaning=meaning)
    try:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        write_png(figure, output)
    except OSError as exc:
        raise MetricsCliError(f"Cannot write {output}: {exc.strerror or exc}.") from None
    click.echo(f"Wrote {output}")


def _run_title(run: Any) -> str:
    return f"Run {run.run_id} ({run.run_name}, {run.status}) in experiment {run.experiment!r}"


@click.command()
@click.option("--dry-run", is_flag=True, help="Say what would be delivered; send nothing.")
@options.env
@click.pass_obj
def sync(metadata: ProjectMetadata, dry_run: bool, env: str | None) -> None:
    """Deliver the spooled metrics and runs to the project's MLflow store, exactly once.

    The store is the project's tracking URI now (metrics.yml `tracking_uri`, else
    MLFLOW_TRACKING_URI, else the project's sqlite file): spool files hold only a
    redacted URI. Offline mode does not apply here.
    """
    from rich.progress import Progress

    from kedro_metrics import config, delivery, store

    settings = _settings(metadata, env)
    directory = config.spool_dir(settings.config, os.environ, str(settings.project_path))
    store.configure_retries(
        settings.config.retry_seconds, request_timeout=config.SYNC_REQUEST_TIMEOUT_SECONDS
    )
    with Progress(transient=True) as progress:
        task = progress.add_task("Delivering spooled metrics", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total or None)

        report = delivery.sync(directory, settings.tracking_uri, dry_run=dry_run, on_points=advance)
    if report.busy:
        click.echo(f"Another `kedro metrics sync` is delivering {directory}; nothing to do.")
        return
    click.echo(sync_summary(report, directory, store.redact(settings.tracking_uri) or "", dry_run))
    if report.problems:
        details = "\n".join(f"  - {problem}" for problem in report.problems)
        raise MetricsCliError(
            f"{len(report.problems)} spool file(s) in {directory} were not delivered whole:\n"
            f"{details}"
        )
