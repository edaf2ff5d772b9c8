"""Where a ``kedro metrics`` reading command writes: a rich table, or a JSON / CSV
document alone on stdout (logs and warnings moved to stderr) or in ``--output``;
the one-line error a command fails with; the summary `sync` prints."""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import click
from kedro.framework.cli.utils import KedroCliError


class MetricsCliError(KedroCliError):
    """A KedroCliError that always prints its message.

    ``KedroCliError.show`` formats ``sys.exc_info()``, which click >= 8.2 has
    already cleared when it calls ``show``: the message would be lost.
    """

    def show(self, file: IO[Any] | None = None) -> None:
        click.secho(f"Error: {self.format_message()}", fg="red", err=True)


class MetricsUsageError(MetricsCliError):
    """A malformed option value (a ``--where`` expression, a ``--sort`` key): exit 2,
    as click's own usage errors."""

    exit_code = 2


class Output:
    """Where a reading command writes its document: stdout (or ``--output``)."""

    def __init__(self, fmt: str, stdout: IO[str], output: str | None):
        self.fmt = fmt
        self._stdout = stdout
        self._output = output

    def emit(
        self,
        document: Any,
        columns: Any = (),
        table: tuple[list[str], list[list[Any]]] | None = None,
        *,
        title: str | None = None,
        empty: str | None = None,
    ) -> None:
        """Write ``document`` as JSON or CSV (rows with ``columns``), or draw ``table``."""
        from kedro_metrics.reading import formats

        if self.fmt == "table" and table is not None:
            self._table(*table, title=title, empty=empty)
            return
        self.write(
            formats.to_csv(document, columns) if self.fmt == "csv" else formats.to_json(document)
        )

    def write(self, text: str) -> None:
        """Write ``text`` to ``--output`` (saying so on stderr), else to stdout."""
        if self._output:
            try:
                Path(self._output).write_text(text)
            except OSError as exc:  # checked before reading (arguments.py): a late change
                raise MetricsCliError(f"Cannot write {self._output}: {exc.strerror}.") from None
            click.echo(f"Wrote {self._output}", err=True)
        else:
            self._stdout.write(text)
            self._stdout.flush()

    def _table(
        self, headers: list[str], rows: list[list[Any]], *, title: str | None, empty: str | None
    ) -> None:
        """Cells are text (never read as rich markup) or (text, style): colour shows
        only in a colour terminal, as rich detects it (``NO_COLOR`` honoured)."""
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        console = Console(file=self._stdout)
        if not rows:
            console.print(empty or "Nothing to show.")
            return
        table = Table(*headers)
        for row in rows:
            table.add_row(*(Text(*cell) if isinstance(cell, tuple) else Text(cell) for cell in row))
        if title:
            console.print(title, soft_wrap=True, highlight=False)
        console.print(table)


@contextlib.contextmanager
def reading(fmt: str, *, output: str | None = None) -> Iterator[Output]:
    """Run a reading command: kedro-metrics errors become one-line CLI errors, and
    for JSON/CSV everything but the document (Kedro's rich log handler, warnings,
    prints) goes to stderr, so ``... --format json | jq`` works."""
    from kedro_metrics.errors import FilterError, KedroMetricsError, StoreUnavailableError

    real_stdout = sys.stdout
    try:
        if fmt == "table":
            yield Output(fmt, real_stdout, output)
        else:
            with _logs_to_stderr(real_stdout), contextlib.redirect_stdout(sys.stderr):
                yield Output(fmt, real_stdout, output)
    except FilterError as exc:
        raise MetricsUsageError(str(exc)) from None
    except StoreUnavailableError as exc:
        raise MetricsCliError(unavailable(exc)) from None
    except KedroMetricsError as exc:
        raise MetricsCliError(str(exc)) from None


#: The store a reading command reads and its retry budget (set by scope.project_scope).
READING_STORE: contextvars.ContextVar[tuple[str, float] | None] = contextvars.ContextVar(
    "kedro_metrics_reading_store", default=None
)
#: How long the one probe after a failed request may take, in seconds.
PROBE_SECONDS = 2.0


def unavailable(exc: Exception) -> str:
    """The line a reading command fails with when the store kept failing through
    the retry budget: a tracking server whose ``/health`` fails too (asked once, now
    that a request failed: never before the first one) is said to be down."""
    from kedro_metrics import store

    reading_store = READING_STORE.get()
    if reading_store is None:
        return str(exc)
    uri, within = reading_store
    why = store.unhealthy(uri, within=min(within, PROBE_SECONDS))
    if why is None:
        return str(exc)
    return (
        f"The MLflow tracking server {store.redact(uri)} is not healthy: its /health "
        f"{why} after the requests failed for the whole retry budget ({within:g} s, "
        "metrics.yml `retry_seconds`). Start it, or point metrics.yml `tracking_uri` / "
        "MLFLOW_TRACKING_URI at one that runs."
    )


@contextlib.contextmanager
def _logs_to_stderr(stdout: IO[str]) -> Iterator[None]:
    """Point every logging StreamHandler writing to ``stdout`` at stderr for a while.
    (Kedro's RichHandler writes to ``sys.stdout`` as it is when it writes: the
    ``redirect_stdout`` around the command moves it.)"""
    loggers = [logging.getLogger(), *(
        logger for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    )]  # fmt: skip
    moved = [
        handler
        for logger in loggers
        for handler in logger.handlers
        if isinstance(handler, logging.StreamHandler) and handler.stream is stdout
    ]
    for handler in moved:
        handler.setStream(sys.stderr)
    try:
        yield
    finally:
        for handler in moved:
            handler.setStream(stdout)


def sync_summary(report: Any, directory: str, uri: str, dry_run: bool) -> str:
    """One paragraph: what was delivered, ended, and what is left."""
    if dry_run:
        return (
            f"Would deliver {report.points_left:,} point(s) of {report.runs_left} spooled "
            f"run(s) from {directory} to {uri}; {report.in_use} file(s) in use by a running "
            "`kedro run`."
        )
    lines = [
        f"Delivered {report.points_delivered:,} point(s) of {report.runs_delivered} spooled "
        f"run(s) from {directory} to {uri} ({report.runs_created} run(s) created)."
    ]
    lines += [f"Run {run_id} ended {status}." for run_id, status in report.runs_ended.items()]
    lines.append(
        f"Left: {report.points_left:,} point(s) of {report.runs_left} run(s); "
        f"{report.in_use} file(s) in use by a running `kedro run`."
    )
    return "\n".join(lines)
