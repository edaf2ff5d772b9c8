"""``kedro metrics check``: the regression gate for CI (docs/check.md).

Exit codes: 0 every gate passed, 1 a gate failed, 2 the check could not decide
(the run or the store not found, no gates, a gate without what it needs). Once the
run is found its verdict is printed (table, JSON or Markdown) whatever the exit
code; earlier stops print only the ``Error:`` line.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
from kedro.framework.cli.utils import env_option
from kedro.framework.startup import ProjectMetadata

from kedro_metrics.cli.output import MetricsCliError, Output, reading
from kedro_metrics.cli.scope import project_scope

if TYPE_CHECKING:
    from kedro_metrics.reading.check import CheckResult

#: The formats of ``--format``.
CHECK_FORMATS = ("table", "json", "md")


class CheckFailed(MetricsCliError):
    """A gate failed: exit 1."""


class CheckUndecided(MetricsCliError):
    """The check could not decide: exit 2."""

    exit_code = 2


@click.command()
@click.argument("run", default="latest")
@click.option(
    "--baseline", default=None, metavar="REF",
    help="The run to compare with (a run id, 'branch:main', 'tag:KEY=VALUE', 'best:KEY', "
    "'latest~1'). Default: metrics.yml 'baseline', else the run before RUN.",
)  # fmt: skip
@click.option(
    "--format", "fmt", type=click.Choice(CHECK_FORMATS), default="table", show_default=True,
    help="A table, a JSON document, or a Markdown report for a pull-request comment.",
)  # fmt: skip
@click.option(
    "--output", "-o", default=None, type=click.Path(dir_okay=False),
    help="Write the verdict to this file instead of stdout.",
)  # fmt: skip
@click.option(
    "--no-record", is_flag=True,
    help="Leave the run untouched (by default it is tagged kedro_metrics.check=passed|failed|undecided).",
)  # fmt: skip
@env_option
@click.pass_obj
def check(  # noqa: PLR0913
    metadata: ProjectMetadata, run: str, baseline: str | None, fmt: str, output: str | None,
    no_record: bool, env: str | None,
) -> None:  # fmt: skip
    """Hold RUN (default: latest) to metrics.yml's gates: exit 0 passed, 1 failed,
    2 could not decide."""
    try:
        with reading("table" if fmt == "table" else "json", output=output) as out:
            from kedro_metrics.reading.check import run_check

            scope, settings = project_scope(metadata, env)
            result = run_check(scope, settings.config, run, baseline, record=not no_record)
            _emit(out, result, fmt, output)
    except MetricsCliError as exc:
        raise CheckUndecided(exc.message) from None
    if result.passed is False:
        failed = result.verdict.failed
        first = failed[0]
        raise CheckFailed(
            f"{len(failed)} of {len(result.gates)} gate checks failed; first: {first.name} "
            f"({first.rule}): {first.reason}"
        )
    if result.passed is None:
        raise CheckUndecided(result.why_undecided or "the check could not decide")


def _emit(out: Output, result: CheckResult, fmt: str, output: str | None) -> None:
    from kedro_metrics.reading import report

    if fmt == "json":
        out.emit(result.to_dict())
    elif fmt == "md":
        out.write(report.markdown(result))
    elif output:  # the table as plain text in a file
        with Path(output).open("w") as file:
            _draw(Output("table", file, None), result)
        click.echo(f"Wrote {output}", err=True)
    else:
        _draw(out, result)


def _draw(out: Output, result: CheckResult) -> None:
    """The summary line, a row per entry, then why each entry did not pass."""
    from kedro_metrics.reading import report

    out.emit(None, table=report.table_rows(result), title=report.summary(result))
    for line in report.reasons(result):
        out.write(f"{line}\n")
