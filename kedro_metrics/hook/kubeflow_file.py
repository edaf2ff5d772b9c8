"""The Kubeflow Pipelines file the hook writes at the end of every ``kedro run``:
metrics.yml ``kubeflow.metrics_file``, the v1 metrics file; or, for a KFP v2 task
(``KFP_EXECUTOR_INPUT``, or ``kubeflow.version: 2``), its executor output with the
run's metrics as its ``system.Metrics`` artifact."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kedro_metrics import project, store
from kedro_metrics.errors import ConfigError, ExportError
from kedro_metrics.hook.tracked_run import TrackedRun
from kedro_metrics.meaning import RunMeaning
from kedro_metrics.reading import formats, kfp_file
from kedro_metrics.reading.kfp_v2 import ExecutorTarget

logger = logging.getLogger(__name__)

#: A KFP v2 task's executor input (its JSON, or @FILE): the run's metrics go into the
#: executor output it names, as the Output[Metrics] artifact ``kubeflow.output``.
EXECUTOR_INPUT_VARIABLE = "KFP_EXECUTOR_INPUT"


@dataclass
class KubeflowFile:
    """The file written at the end of every ``kedro run``, also a failed one."""

    path: Path
    percentage: tuple[str, ...]
    #: KFP v2: the output artifact to fill; None for the v1 metrics file.
    target: ExecutorTarget | None = None
    #: The metrics datasets this run uses (the hook sets them once they are bound):
    #: their keys go into the file.
    datasets: list[Any] = field(default_factory=list)

    @classmethod
    def for_run(
        cls, settings: project.ProjectSettings, environ: Mapping[str, str] = os.environ
    ) -> KubeflowFile | None:
        """The file this run writes, None for none; a bad ``KFP_EXECUTOR_INPUT`` is a
        ConfigError (the hook asks before the run exists)."""
        kubeflow = settings.config.kubeflow
        configured = (
            settings.project_path / Path(kubeflow.metrics_file).expanduser()
            if kubeflow.metrics_file
            else None
        )
        executor_input = environ.get(EXECUTOR_INPUT_VARIABLE)
        if executor_input:
            try:
                target = kfp_file.target_from(executor_input, kubeflow.output)
            except ExportError as exc:
                raise ConfigError(f"{EXECUTOR_INPUT_VARIABLE}: {exc}", key="kubeflow") from None
            return cls(configured or Path(target.output_file), (), target)
        if configured is None:
            return None
        if kubeflow.v2:
            return cls(configured, (), ExecutorTarget(str(configured), kubeflow.output))
        return cls(configured, kubeflow.percentage)

    def write(self, run: TrackedRun, *, failed: bool) -> None:
        """The last value of every metric under the datasets' prefixes (one request).

        After a failed pipeline a problem here is logged, so the node's error stays
        the one reported; after a successful one it is raised, except a store that
        is unavailable while the run spools (``on_tracking_error: spool``): logged.
        """
        if not run.run_id:
            return
        try:
            found = store.get_run(run.tracking_uri, run.run_id)
            latest = found.metrics if found else {}
            values = {
                key: point.value
                for key, point in latest.items()
                if any(dataset.holds_key(key) for dataset in self.datasets)
            }
            if self.target is not None:
                _, skipped = kfp_file.write_metrics(self.target, values, str(self.path))
            else:
                skipped = formats.not_finite(values)
                document = formats.kubeflow_metrics(
                    values,
                    percentage=self.percentage,
                    meaning=RunMeaning.of(found.tags if found else {}, run.declarations),
                )
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.path.write_text(formats.to_json(document))
        except Exception as exc:
            if not failed and not run.policy.survives(exc):
                raise
            logger.error("kedro-metrics: could not write the %s %s: %s", self._what, self.path, exc)
            return
        if skipped:
            logger.warning(
                "kedro-metrics: left out of %s (not a finite number): %s",
                self.path,
                ", ".join(skipped),
            )
        logger.info(
            "kedro-metrics: wrote %d metric(s) to the %s %s.",
            len(values) - len(skipped), self._what, self.path,
        )  # fmt: skip

    @property
    def _what(self) -> str:
        return "KFP v2 executor output" if self.target is not None else "Kubeflow metrics file"
