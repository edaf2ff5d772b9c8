"""The CLI wing: ``kedro metrics ...`` (entry point ``kedro.project_commands``).

``commands`` holds the click commands (thin), ``check`` the regression gate,
``export`` the exports (Kubeflow v1 and v2, JSON, CSV), ``options`` the shared options,
``scope`` where a reading command reads, ``output`` where they write (tables,
documents alone on stdout, the one-line error), ``mlflow_ui`` the UI's process
group. Kedro imports this package at start-up: mlflow and matplotlib are reached
only inside the commands.
"""

from kedro_metrics.cli.check import check
from kedro_metrics.cli.commands import commands, metrics
from kedro_metrics.cli.export import export

metrics.add_command(check)
metrics.add_command(export)

__all__ = ["commands"]
