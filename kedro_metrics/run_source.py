"""Which MLflow run one ``kedro run`` logs to: a pure decision over metrics.yml, the
environment and the caller's active run. Pure: no I/O, no kedro, no mlflow.

In order:

1. every pipeline of the run is in ``disabled_pipelines``: ``DISABLED`` (no run);
2. online, an MLflow run is active in this thread (an orchestrator, a notebook,
   another plugin started it): ``ACTIVE``, never ended by the plugin;
3. ``MLFLOW_RUN_ID`` is set (one run shared by node-per-container deployments):
   ``RESUMED``, never ended by the plugin; offline, its points are spooled;
4. offline (metrics.yml ``mode: offline`` or ``KEDRO_METRICS_MODE=offline``):
   ``OFFLINE``, the run itself is spooled and ``kedro metrics sync`` creates it;
5. else ``NEW``: a run started here, ended FINISHED, FAILED or KILLED.

Online, before a resumed or new run, earlier runs' spools are delivered first when
metrics.yml ``sync_on_start`` is on.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kedro_metrics.config import MetricsConfig, offline

#: The variable naming a run to resume (MLflow's own).
RUN_ID_VARIABLE = "MLFLOW_RUN_ID"
#: Our own variable: the parent of the run MLFLOW_RUN_ID resumes, recorded in MLflow's
#: parent tag when the run has none (a Kubeflow task's run made without it).
PARENT_RUN_VARIABLE = "MLFLOW_PARENT_RUN_ID"
#: Our own variable, set by the hook while a ParallelRunner's pipeline runs: the run
#: its worker processes make their active MLflow run (and log models to).
WORKERS_RUN_VARIABLE = "KEDRO_METRICS_ACTIVE_RUN_ID"


class RunSource(enum.Enum):
    """Where the run of a ``kedro run`` comes from."""

    DISABLED = "disabled"
    ACTIVE = "active"
    RESUMED = "resumed"
    OFFLINE = "offline"
    NEW = "new"


@dataclass(frozen=True)
class RunDecision:
    """The run a ``kedro run`` logs to, before anything is asked of the store."""

    source: RunSource
    #: The active or resumed run's id; None for the other sources.
    run_id: str | None = None
    #: Nothing is sent before ``kedro metrics sync`` (OFFLINE, or RESUMED offline).
    offline: bool = False
    #: Deliver earlier runs' spools first (metrics.yml ``sync_on_start``).
    sync_first: bool = False

    @property
    def owned(self) -> bool:
        """Does the plugin start, and so end, this run?"""
        return self.source in (RunSource.OFFLINE, RunSource.NEW)


def decide(
    config: MetricsConfig,
    environ: Mapping[str, str],
    *,
    pipelines: Sequence[str],
    active_run_id: str | None,
) -> RunDecision:
    """The run for ``pipelines``, given metrics.yml, the environment and the id of the
    thread's active MLflow run (None when there is none)."""
    if not config.tracks(list(pipelines)):
        return RunDecision(RunSource.DISABLED)
    spool_only = offline(config, environ)
    if not spool_only and active_run_id:
        return RunDecision(RunSource.ACTIVE, run_id=active_run_id)
    sync_first = config.sync_on_start and not spool_only
    resumed = environ.get(RUN_ID_VARIABLE)
    if resumed:
        return RunDecision(RunSource.RESUMED, resumed, offline=spool_only, sync_first=sync_first)
    if spool_only:
        return RunDecision(RunSource.OFFLINE, offline=True)
    return RunDecision(RunSource.NEW, sync_first=sync_first)
