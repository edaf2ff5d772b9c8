"""``kedro metrics ...`` project commands (entry point ``kedro.project_commands``).

Kedro loads this module at start-up: no mlflow or matplotlib import here, and
commands stay thin (pure logic lives in config.py, figures.py ...).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
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


@metrics.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=5000, type=int, show_default=True, help="Port to listen on.")
@click.option("--env", "-e", default=None, help="Configuration environment (default: KEDRO_ENV, else local).")
@click.pass_obj
def ui(metadata: ProjectMetadata, host: str, port: int, env: str | None) -> None:
    """Start `mlflow ui` on the project's tracking store; Ctrl-C stops it."""
    from kedro_metrics import project, store

    uri = project.settings_for_path(metadata.project_path, env).tracking_uri
    if store.is_server(uri):
        click.echo(f"The project tracks to the MLflow server {store.redact(uri)}: open it there.")
        return
    click.echo(f"MLflow UI of {store.redact(uri)} at http://{host}:{port} (Ctrl-C stops it)")
    code = serve_mlflow_ui(uri, host=host, port=port, cwd=Path(metadata.project_path))
    if code:
        raise MetricsCliError(f"mlflow ui exited with code {code} (is port {port} free?).")


#: How long the UI's processes get to exit after SIGTERM before they are killed.
UI_STOP_SECONDS = 10.0


def serve_mlflow_ui(uri: str, *, host: str, port: int, cwd: Path) -> int:
    """Run ``mlflow ui`` on ``uri`` until it exits or this process gets SIGINT/SIGTERM.

    mlflow ui starts uvicorn workers (and, unless disabled, job consumers) that
    outlive a signal to their parent: it runs in its own process group, and a
    Ctrl-C or SIGTERM here stops the whole group. The URI goes through the
    environment, not the command line, so no credential shows in a process list.
    Returns mlflow's exit code, 0 when stopped by a signal.
    """
    executable = Path(sys.executable).with_name("mlflow")
    command = [str(executable) if executable.exists() else "mlflow", "ui", "--host", host, "--port", str(port)]
    env = {**os.environ, "MLFLOW_BACKEND_STORE_URI": uri}
    env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    process = subprocess.Popen(command, cwd=cwd, env=env, start_new_session=True)  # noqa: S603
    stopped: list[int] = []

    def stop(signum: int, frame: Any) -> None:
        # Only signal here: the main thread is inside process.wait().
        stopped.append(signum)
        signal_group(process.pid, signal.SIGTERM)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = process.wait()
    finally:
        stop_process_group(process, UI_STOP_SECONDS)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0 if stopped else code


def stop_process_group(process: subprocess.Popen[Any], timeout: float) -> None:
    """SIGTERM ``process``'s whole group, wait until every member has exited, and
    SIGKILL what is left after ``timeout``."""
    import time

    signal_group(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while group_alive(process.pid) and time.monotonic() < deadline:
        try:
            process.wait(0.1)  # reaps the leader, which would otherwise linger as a zombie
        except subprocess.TimeoutExpired:
            pass
        else:
            time.sleep(0.05)
    signal_group(process.pid, signal.SIGKILL)
    process.wait()


def signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        pass


def group_alive(pgid: int) -> bool:
    """True while some process of the group ``pgid`` exists."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


# Pictures --------------------------------------------------------------------------


@metrics.command()
@click.argument("name_glob")
@click.option(
    "--run", "run_refs", multiple=True,
    help="A run (repeatable): a run id, a unique prefix of 6+ characters, latest or latest~N. "
    "Default: latest.",
)  # fmt: skip
@click.option(
    "--output", "-o", required=True, type=click.Path(dir_okay=False, writable=True),
    help="The PNG file to write.",
)  # fmt: skip
@click.option("--env", "-e", default=None, help="Configuration environment (default: KEDRO_ENV, else local).")
@click.pass_obj
def plot(
    metadata: ProjectMetadata, name_glob: str, run_refs: tuple[str, ...], output: str, env: str | None
) -> None:
    """Draw the metrics matching NAME_GLOB to a PNG: a panel per metric, a line per run."""
    from kedro_metrics import project, query
    from kedro_metrics.errors import KedroMetricsError

    settings = project.settings_for_path(metadata.project_path, env)
    runs = list(run_refs) or ["latest"]
    try:
        found = query.get_metrics(
            name_glob, run=runs, tracking_uri=settings.tracking_uri,
            experiment=settings.experiment, history=True,
        )  # fmt: skip
    except KedroMetricsError as exc:
        raise MetricsCliError(str(exc)) from None
    if not found:
        raise MetricsCliError(
            f"No metric matches {name_glob!r} in run(s) {', '.join(runs)}; nothing written."
        )
    write_plot(found, output, title=name_glob)


def write_plot(records: list[dict[str, Any]], output: str, *, title: str) -> None:
    """Draw ``records`` (get_metrics records, history=True) into the PNG ``output``."""
    from kedro_metrics.figures import build_figure
    from kedro_metrics.render import write_png

    write_png(build_figure(records, title=title), output)
    click.echo(f"Wrote {output}")
