"""The MLflow run one ``kedro run`` tracks: which run (the caller's active one,
MLFLOW_RUN_ID, or one started here, or spooled when the store cannot be reached),
its parameters and context tags, and how it ends (FINISHED, FAILED, KILLED).

Kedro loads the hook, and so this module, at start-up: no mlflow at module level.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from kedro_metrics import config as metrics_config
from kedro_metrics import project, run_context
from kedro_metrics.errors import KedroMetricsError, StoreUnavailableError, TrackingError
from kedro_metrics.interrupts import InterruptHandlers

if TYPE_CHECKING:
    from kedro.framework.context import KedroContext

    from kedro_metrics.spool import SpoolTarget

logger = logging.getLogger(__name__)


@dataclass
class TrackedRun:
    """The per-run state of one ``kedro run``: the MLflow run, whether the plugin owns
    it, its spool (a remote store, or offline mode), and the interrupt handlers that
    end it KILLED."""

    tracking_uri: str
    run_id: str | None
    owned: bool
    enabled: bool = True
    async_logging: bool = False
    spool: SpoolTarget | None = None
    interrupts: InterruptHandlers | None = None

    def finish(self, *, failed: bool) -> None:
        """Wait for asynchronous writes, then end the run (FINISHED, or FAILED) when
        the plugin started it. A failed asynchronous write fails the run."""
        self._stop_watching()
        try:
            flush_pending_writes()
        except Exception:
            if not failed:
                self._end("FAILED")
                raise
            logger.exception("kedro-metrics: metrics were lost while the pipeline failed")
        self._end("FAILED" if failed else "FINISHED")

    def interrupted(self, signal_name: str) -> None:
        """Ctrl-C or SIGTERM: wait a bounded time for pending writes, end the run KILLED
        (also when some of those writes failed: their points stay spooled)."""
        self._stop_watching()
        logger.warning("kedro-metrics: %s received; ending the run.", signal_name)
        try:
            flush_pending_writes(timeout=INTERRUPT_WAIT_SECONDS)
        finally:
            self._end("KILLED")

    def watch_interrupts(self) -> None:
        """Install SIGINT/SIGTERM handlers for the pipeline's lifetime (main thread only)."""
        if self.owned:
            self.interrupts = InterruptHandlers(self.interrupted)
            self.interrupts.install()

    def _stop_watching(self) -> None:
        handlers, self.interrupts = self.interrupts, None
        if handlers is not None:
            handlers.restore()

    def _end(self, status: str) -> None:
        if self.spool is None:
            if self.owned and self.run_id:
                from kedro_metrics import store

                store.end_run(self.tracking_uri, self.run_id, status=status)
                logger.info("kedro-metrics: run %s ended %s.", self.run_id, status)
            return
        from kedro_metrics import delivery

        delivery.end_run(self.tracking_uri, self.spool, owned=self.owned, status=status)


#: After Ctrl-C or SIGTERM, how long pending asynchronous writes may take.
INTERRUPT_WAIT_SECONDS = 5.0
#: At the start of `kedro run`, how long delivering earlier spools may take.
SYNC_ON_START_SECONDS = 5.0


def flush_pending_writes(timeout: float | None = None) -> None:
    """Wait for this process's asynchronous writes, if it has any (mlflow loaded);
    at most ``timeout`` seconds when given."""
    store = sys.modules.get("kedro_metrics.store")
    if store is not None and store.pending_writes():
        store.flush(timeout=timeout)


def open_run(
    project_settings: project.ProjectSettings, context: KedroContext, run_params: dict[str, Any]
) -> TrackedRun:
    """Reuse the caller's active run, else resume MLFLOW_RUN_ID, else start one (in
    offline mode, or when the store cannot be reached: spool its creation)."""
    from kedro_metrics import spool, store

    settings = project_settings.config
    pipelines = run_params.get("pipeline_names") or ["__default__"]
    uri = project_settings.tracking_uri
    if not settings.tracks(pipelines):
        logger.info("kedro-metrics: tracking is off for pipeline(s) %s.", ", ".join(pipelines))
        return TrackedRun(uri, run_id=None, owned=False, enabled=False)

    offline = metrics_config.offline(settings, os.environ)
    directory = metrics_config.spool_dir(settings, os.environ, str(project_settings.project_path))
    store.configure_retries(settings.retry_seconds)
    target = partial(
        spool.SpoolTarget, directory, spool.new_spool_id(),
        tracking_uri=store.redact(uri) or "", on_tracking_error=settings.on_tracking_error,
    )  # fmt: skip
    spooled = not store.is_local(uri)

    if not offline:
        active = store.active_run_id()
        if active:
            uri = store.resolve_uri(None)  # the active run lives in MLflow's current store
            logger.info("kedro-metrics: logging to the active MLflow run %s.", active)
            spooled = not store.is_local(uri)
            target = partial(target, tracking_uri=store.redact(uri) or "")
            return TrackedRun(uri, active, owned=False, async_logging=settings.async_logging,
                              spool=target(run_id=active) if spooled else None)  # fmt: skip
        if settings.sync_on_start:  # also offline runs of a local store
            sync_earlier_runs(directory, uri)

    resumed = os.environ.get("MLFLOW_RUN_ID")
    if resumed:
        if not offline:
            check_resumed_run(uri, resumed, spooled=spooled and settings.on_tracking_error == "spool")
        logger.info("kedro-metrics: logging to run %s (MLFLOW_RUN_ID).", resumed)
        return TrackedRun(uri, resumed, owned=False, async_logging=settings.async_logging,
                          spool=target(run_id=resumed, offline=offline) if spooled or offline else None)  # fmt: skip

    experiment = project_settings.experiment
    tags = {
        "kedro.session_id": str(run_params.get("run_id")),
        "kedro.pipeline": ",".join(pipelines),
        "kedro.env": str(run_params.get("env") or context.env or "local"),
        "kedro.runner": runner_name(run_params.get("runner")),
        **context_tags(project_settings),
        **settings.tags,
    }
    name = run_context.run_name(
        settings.run_name,
        pipelines=pipelines,
        env=tags["kedro.env"],
        session_id=tags["kedro.session_id"],
        start_time=datetime.now(),
    )
    offline_run = partial(
        target, run_id=None, offline=True, owner_pid=os.getpid(), experiment=experiment,
        run_name=name, tags=tags, start_time=int(time.time() * 1000),
    )  # fmt: skip
    if offline:
        run = TrackedRun(uri, None, owned=True, async_logging=False, spool=offline_run())
        spool.writer_for(run.spool)  # the run itself is spooled
        logger.info(
            "kedro-metrics: offline mode: the run and its metrics are spooled in %s; "
            "`kedro metrics sync` delivers them to %s.", directory, store.redact(uri),
        )  # fmt: skip
        return run
    try:
        experiment_id = store.ensure_experiment(uri, experiment)
        run_id = store.start_run(uri, experiment_id, name, tags)
        store.run_started_here(uri, run_id)
    except TrackingError as exc:
        if not spooled or settings.on_tracking_error == "raise":
            raise
        run = TrackedRun(uri, None, owned=True, async_logging=False, spool=offline_run())
        spool.writer_for(run.spool)
        logger.warning(
            "kedro-metrics: could not start a run (%s); the run and its metrics are spooled "
            "in %s, and the pipeline goes on. `kedro metrics sync` delivers them.",
            exc, directory,
        )  # fmt: skip
        return run
    logger.info(
        "kedro-metrics: started MLflow run %s in experiment %r at %s.",
        run_id,
        experiment,
        store.redact(uri),
    )
    run = TrackedRun(uri, run_id, owned=True, async_logging=settings.async_logging)
    if spooled:
        run.spool = target(run_id=run_id, owner_pid=os.getpid())
        spool.writer_for(run.spool)  # if this process dies, sync ends the run KILLED
    return run


def sync_earlier_runs(directory: str, uri: str) -> None:
    """metrics.yml ``sync_on_start``: a courtesy that must never stop the pipeline."""
    from kedro_metrics import delivery

    try:
        delivery.sync_on_start(directory, uri, within=SYNC_ON_START_SECONDS)
    except Exception as exc:  # noqa: BLE001 - the spool stays for `kedro metrics sync`
        logger.warning(
            "kedro-metrics: could not deliver earlier spooled runs from %s (%s: %s); "
            "`kedro metrics sync` delivers them.", directory, type(exc).__name__, exc,
        )  # fmt: skip


def check_resumed_run(uri: str, run_id: str, *, spooled: bool) -> None:
    """MLFLOW_RUN_ID must name a run of the store. A store that cannot be asked fails
    the run only when its points could not be spooled instead."""
    from kedro_metrics import store

    try:
        store.check_run(uri, run_id)
    except StoreUnavailableError as exc:
        if not spooled:
            raise
        logger.warning(
            "kedro-metrics: could not check run %s (MLFLOW_RUN_ID): %s The pipeline goes "
            "on; its metrics are spooled until the store answers.", run_id, exc,
        )  # fmt: skip


def context_tags(project_settings: project.ProjectSettings) -> dict[str, str]:
    """MLflow's standard tags (user, source, git) and the Kedro and plugin versions."""
    from kedro import __version__ as kedro_version

    from kedro_metrics import __version__, store

    return run_context.standard_tags(
        store.STANDARD_TAG_NAMES,
        user=project.current_user(),
        package_name=project_settings.package_name,
        git=project.git_state(project_settings.project_path),
        kedro_version=kedro_version,
        plugin_version=__version__,
    )


def log_run_params(run: TrackedRun, params: dict[str, Any]) -> None:
    """The run's Kedro parameters (``--params`` included) as MLflow params.

    Too long a value is cut to MLflow's limit, with a warning; a param a reused
    run already holds with another value is kept, with a warning (MLflow params
    are immutable). The run goes on either way.
    """
    from kedro_metrics import store

    flat = run_context.flatten_params(params, max_value_length=store.PARAM_VALUE_LIMIT)
    for name in flat.cut:
        logger.warning(
            "kedro-metrics: parameter %r is longer than MLflow's limit of %d characters; "
            "its first %d are logged.",
            name,
            store.PARAM_VALUE_LIMIT,
            store.PARAM_VALUE_LIMIT,
        )
    values = {}
    for name, value in flat.values.items():
        problem = store.key_problem(name)
        if problem:
            logger.warning("kedro-metrics: parameter %r is not logged: %s", name, problem)
        else:
            values[name] = value
    try:
        conflicts = store.log_params(run.tracking_uri, run.run_id, values, fresh=run.owned)
    except KedroMetricsError as exc:  # context, not metrics: the pipeline goes on
        logger.warning("kedro-metrics: the run's parameters were not logged: %s", exc)
        return
    for name, kept in conflicts.items():
        logger.warning(
            "kedro-metrics: run %s already has parameter %r = %s; this run's value %s is "
            "not logged (MLflow params cannot change). Start a new run to record it.",
            run.run_id,
            name,
            run_context.shortened(kept),
            run_context.shortened(values[name]),
        )


def runner_name(runner: Any) -> str:
    """``SequentialRunner`` from what Kedro puts in run_params (a class name or an
    instance's repr such as ``<kedro.runner.ThreadRunner object at 0x...>``)."""
    text = str(runner).strip("<>").split(" object at ")[0]
    if text in ("", "None"):  # Kedro runs SequentialRunner when none is given
        return "SequentialRunner"
    return text.rsplit(".", 1)[-1]
