"""metrics.yml ``kubeflow.metrics_file``: the Kubeflow Pipelines v1 metrics file the
hook writes at the end of every ``kedro run``."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kedro_metrics import project, store
from kedro_metrics.hook.tracked_run import TrackedRun
from kedro_metrics.meaning import RunMeaning
from kedro_metrics.reading import formats

logger = logging.getLogger(__name__)


@dataclass
class KubeflowFile:
    """metrics.yml ``kubeflow.metrics_file``: the Kubeflow Pipelines v1 metrics file
    written at the end of every ``kedro run``, also a failed one."""

    path: Path
    percentage: tuple[str, ...]
    #: The metrics datasets this run used: their keys go into the file.
    datasets: list[Any]

    @classmethod
    def for_run(cls, settings: project.ProjectSettings, datasets: list[Any]) -> KubeflowFile | None:
        kubeflow = settings.config.kubeflow
        if not kubeflow.metrics_file:
            return None
        path = settings.project_path / Path(kubeflow.metrics_file).expanduser()
        return cls(path, kubeflow.percentage, datasets)

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
            logger.error(
                "kedro-metrics: could not write the Kubeflow metrics file %s: %s", self.path, exc
            )
            return
        skipped = formats.not_finite(values)
        if skipped:
            logger.warning(
                "kedro-metrics: left out of %s (not a finite number): %s",
                self.path,
                ", ".join(skipped),
            )
        logger.info(
            "kedro-metrics: wrote %d metric(s) to the Kubeflow metrics file %s.",
            len(document["metrics"]), self.path,
        )  # fmt: skip
