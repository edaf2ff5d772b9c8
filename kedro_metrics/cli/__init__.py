"""The CLI wing: ``kedro metrics ...`` (entry point ``kedro.project_commands``).

``basics`` holds the everyday commands (init, ui, runs, show, compare, history, plot,
sync; thin), ``check`` the regression gate,
``export`` the exports (Kubeflow v1 and v2, JSON, CSV), ``options`` the shared options,
``scope`` where a reading command reads, ``output`` where they write (tables,
documents alone on stdout, the one-line error), ``mlflow_ui`` the UI's process
group.

Kedro imports this package at the start of every ``kedro`` command (``kedro --help``
and ``kedro run`` too), so it holds only the two groups: a subcommand's module is
imported when the subcommand is looked up (``kedro metrics runs`` imports
``basics``; ``kedro --help`` imports none of them). mlflow and matplotlib are
reached only inside the commands.
"""

from __future__ import annotations

from importlib import import_module

import click

#: Each ``kedro metrics`` subcommand and the ``module:attribute`` that defines it.
SUBCOMMANDS = {
    **{
        name: f"kedro_metrics.cli.basics:{name}"
        for name in ("init", "ui", "runs", "show", "compare", "history", "plot", "sync")
    },
    "check": "kedro_metrics.cli.check:check",
    "export": "kedro_metrics.cli.export:export",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported when looked up (``SUBCOMMANDS``)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *SUBCOMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in SUBCOMMANDS:
            module, attribute = SUBCOMMANDS[cmd_name].split(":")
            self.add_command(getattr(import_module(module), attribute), cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(name="kedro-metrics")
def commands() -> None:
    """kedro-metrics project commands."""


@commands.group(cls=LazyGroup)
def metrics() -> None:
    """Track metrics from Kedro pipelines in MLflow."""


__all__ = ["commands"]
