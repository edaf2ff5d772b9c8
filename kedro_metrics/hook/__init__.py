"""The hook wing: one MLflow run per ``kedro run``.

The Kedro hook (``MetricsHook``, registered through the ``kedro.hooks`` entry point
as ``hooks``), the run it tracks (start, params, tags, end), catalog binding,
Ctrl-C/SIGTERM, and the Kubeflow metrics file. Kedro imports this package at
start-up: nothing here imports mlflow at module level.
"""

from kedro_metrics.hook.metrics_hook import MetricsHook, hooks

__all__ = ["MetricsHook", "hooks"]
