"""metrics.yml ``check: {on_run_end: fail|warn|off}``: the run of a ``kedro run``
held to the gates when it ends (docs/check.md).

Only a run this process started and ended FINISHED is checked (a spooled or offline
run is not in the store yet; a run given by MLFLOW_RUN_ID is not ended here). The
verdict is recorded in the run's tags as ``kedro metrics check`` records it. With
``fail`` a failed check makes ``kedro run`` exit 1 (the run stays FINISHED: its
metrics are valid); with ``warn`` it is logged. A check that cannot decide never
fails a run: it is logged as a warning.
"""

from __future__ import annotations

import logging
from typing import Any

from kedro_metrics import project
from kedro_metrics.errors import KedroMetricsError
from kedro_metrics.gates import FAIL, OFF
from kedro_metrics.hook.one_line import OneLineError
from kedro_metrics.hook.tracked_run import TrackedRun

logger = logging.getLogger(__name__)


class RunCheckFailed(KedroMetricsError, OneLineError):
    """The run failed its check and metrics.yml says ``on_run_end: fail``: `kedro run`
    prints this one line and exits 1."""


def check_at_run_end(run: TrackedRun, settings: project.ProjectSettings) -> RunCheckFailed | None:
    """Check ``run`` when metrics.yml asks for it; the error to raise once every
    other plugin has seen the run end (``on_run_end: fail`` and a failed gate)."""
    chosen = settings.config.check.on_run_end
    policy = run.policy
    if chosen == OFF or not run.owned or not run.run_id or policy.offline or not policy.enabled:
        return None
    from kedro_metrics.reading import check, query

    scope = query.scope_for(tracking_uri=run.tracking_uri, settings=settings)
    try:
        check.gates_declared(settings.config)
        (found,) = query.find_runs(scope, run=run.run_id)
        if found.status != "FINISHED":
            logger.info(
                "kedro-metrics: run %s is %s, not FINISHED: its check is left to "
                "`kedro metrics check %s` once it is in the store.",
                found.run_id, found.status, found.short_id,
            )  # fmt: skip
            return None
        result = check.check_run(scope, settings.config, found, record=True)
    except KedroMetricsError as exc:
        logger.warning("kedro-metrics: the run's check could not decide: %s", exc)
        return None
    return _told(result, failing=chosen == FAIL)


def _told(result: Any, *, failing: bool) -> RunCheckFailed | None:
    """Log the verdict; the error when it failed and ``failing``."""
    from kedro_metrics.reading import report

    run = result.run
    if result.passed is None:
        logger.warning("kedro-metrics: the check of run %s: %s", run.short_id, result.why_undecided)
        return None
    if result.passed:
        logger.info("kedro-metrics: %s", report.summary(result))
        return None
    failed = result.verdict.failed
    listed = "".join(f"\n  {entry.name} ({entry.rule}): {entry.reason}" for entry in failed)
    logger.log(
        logging.ERROR if failing else logging.WARNING,
        "kedro-metrics: %s Failed:%s", report.summary(result), listed,
    )  # fmt: skip
    if not failing:
        return None
    return RunCheckFailed(
        f"run {run.short_id} failed {len(failed)} of {len(result.gates)} gate checks "
        f"(metrics.yml check.on_run_end: fail); the run stays FINISHED. See "
        f"`kedro metrics check {run.short_id}`."
    )
