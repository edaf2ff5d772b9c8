"""The CLI wing: ``kedro metrics ...`` (entry point ``kedro.project_commands``).

``commands`` holds the click commands (thin), ``check`` the regression gate,
``scope`` where a reading command reads, ``output`` where they write (tables,
documents alone on stdout, the one-line error), ``mlflow_ui`` the UI's process
group. Kedro imports this package at start-up: mlflow and matplotlib are reached
only inside the commands.
"""

from kedro_metrics.cli.check import check
from kedro_metrics.cli.commands import commands, metrics

metrics.add_command(check)

__all__ = ["commands"]
