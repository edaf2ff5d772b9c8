"""The MLflow run one ``kedro run`` tracks: which run (``run_source.decide``: the
caller's active one, MLFLOW_RUN_ID, one started here, or spooled offline or when the
store cannot be reached), its parameters and context tags, and how it ends
(FINISHED, FAILED, KILLED).

Kedro loads the hook, and so this module, at start-up: mlflow loads only when
``store`` is first used (its names are lazy).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from kedro import __version__ as kedro_version

from kedro_metrics import config, delivery, project, run_context, store, workspace
from kedro_metrics.delivery import DeliveryPolicy
from kedro_metrics.errors import KedroMetricsError, StoreUnavailableError, TrackingError
from kedro_metrics.hook.interrupts import InterruptHandlers
from kedro_metrics.hook.model_links import RunActivation
from kedro_metrics.meaning import Declarations
from kedro_metrics.process import state
from kedro_metrics.run_source import PARENT_RUN_VARIABLE, RunDecision, RunSource, decide
from kedro_metrics.version import __version__

if TYPE_CHECKING:
    from kedro.framework.context import KedroContext

logger = logging.getLogger(__name__)

#: After Ctrl-C or SIGTERM, how long pending asynchronous writes may take.
INTERRUPT_WAIT_SECONDS = 5.0


@dataclass
class TrackedRun:
    """The per-run state of one ``kedro run``: the store, whether the plugin owns the
    run (started it, so ends it), the run's delivery policy (its id, its spool), and
    the interrupt handlers that end it KILLED."""

    tracking_uri: str
    owned: bool
    policy: DeliveryPolicy
    interrupts: InterruptHandlers | None = None
    #: What the run's metrics mean: the catalog entries' declarations, then metrics.yml's.
    declarations: Declarations = field(default_factory=Declarations)
    #: The Kedro parameters to log as MLflow params (metrics.yml ``log_params``).
    params: dict[str, str] = field(default_factory=dict)
    #: The threads where the run is MLflow's active run (``model_links``).
    activation: RunActivation | None = None

    @property
    def run_id(self) -> str | None:
        return self.policy.run_id

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

    def watch_interrupts(self, handlers: InterruptHandlers) -> None:
        """``handlers`` (installed before the run was created) end this run KILLED for
        the pipeline's lifetime when the plugin owns it; otherwise they go."""
        if self.owned:
            self.interrupts = handlers
            handlers.on_interrupt = self.interrupted
        else:
            handlers.restore()

    def _stop_watching(self) -> None:
        handlers, self.interrupts = self.interrupts, None
        if handlers is not None:
            handlers.restore()

    def _end(self, status: str) -> None:
        if self.activation is not None:  # before MLflow's own exit handler could end it
            self.activation.leave()
        delivery.finish_run(
            self.tracking_uri, self.policy, owned=self.owned, status=status,
            declarations=self.declarations,
        )  # fmt: skip


def flush_pending_writes(timeout: float | None = None) -> None:
    """Wait for this process's asynchronous writes, if it has any (mlflow loaded);
    at most ``timeout`` seconds when given."""
    if "kedro_metrics.store.write" in sys.modules and store.pending_writes():
        store.flush(timeout=timeout)


def open_run(
    project_settings: project.ProjectSettings,
    context: KedroContext,
    run_params: dict[str, Any],
    interrupts: InterruptHandlers | None = None,
    *,
    tags: dict[str, str] | None = None,
) -> TrackedRun:
    """The run of this ``kedro run``: decided by ``run_source.decide``, then built.
    ``interrupts`` (installed already) end the run KILLED from the moment it exists:
    a signal while the store creates it waits until it does. The run's ``params``
    (metrics.yml ``log_params``) go into the spool of a run spooled whole. ``tags``
    (where its metrics come from) are given to a run started here at its creation;
    ``log_run_tags`` logs them to a reused one."""
    interrupts = interrupts or InterruptHandlers()
    settings = project_settings.config
    pipelines = run_params.get("pipeline_names") or ["__default__"]
    uri = project_settings.tracking_uri
    decision = decide(
        settings, os.environ, pipelines=pipelines, active_run_id=store.active_run_id()
    )
    if decision.source is RunSource.DISABLED:
        logger.info("kedro-metrics: tracking is off for pipeline(s) %s.", ", ".join(pipelines))
        return TrackedRun(uri, owned=False, policy=delivery.DISABLED)
    store.configure_retries(settings.retry_seconds)
    params = params_to_log(context.params) if settings.log_params else {}
    directory = config.spool_dir(settings, os.environ, str(project_settings.project_path))
    if decision.sync_first:
        sync_earlier_runs(directory, uri)
    if decision.owned:
        return _start_run(
            project_settings, context, run_params, decision, directory, interrupts, params,
            extra_tags=tags or {},
        )  # fmt: skip
    if decision.source is RunSource.ACTIVE:
        uri = store.resolve_uri(None)  # the active run lives in MLflow's current store
    policy = delivery.for_run(
        settings, tracking_uri=uri, run_id=decision.run_id, spool_directory=directory,
        offline=decision.offline,
    )  # fmt: skip
    if decision.source is RunSource.ACTIVE:
        logger.info(
            "kedro-metrics: logging to the active MLflow run %s at %s.",
            decision.run_id, store.redact(uri),
        )  # fmt: skip
    else:
        if not decision.offline:
            check_resumed_run(uri, policy)
            link_to_parent(uri, policy, os.environ.get(PARENT_RUN_VARIABLE))
            # a task of a pipeline spread over processes: others log models to it too
            state.shared_runs.add(decision.run_id)
        logger.info(
            "kedro-metrics: logging to run %s (MLFLOW_RUN_ID) at %s.",
            decision.run_id, store.redact(uri),
        )  # fmt: skip
    return TrackedRun(uri, owned=False, policy=policy, params=params)


def _start_run(  # noqa: PLR0913
    project_settings: project.ProjectSettings,
    context: KedroContext,
    run_params: dict[str, Any],
    decision: RunDecision,
    directory: str,
    interrupts: InterruptHandlers,
    params: dict[str, str],
    *,
    extra_tags: dict[str, str],
) -> TrackedRun:
    """A run started here: created in the store, or spooled whole (offline, or a
    remote store that cannot be reached, unless ``on_tracking_error: raise``), its
    ``params`` then in the spool."""
    settings = project_settings.config
    uri = project_settings.tracking_uri
    pipelines = run_params.get("pipeline_names") or ["__default__"]
    tags = {
        "kedro.session_id": str(run_params.get("run_id")),
        "kedro.pipeline": ",".join(pipelines),
        "kedro.env": str(run_params.get("env") or context.env or "local"),
        "kedro.runner": runner_name(run_params.get("runner")),
        **context_tags(project_settings),
        **extra_tags,
        **settings.tags,
    }
    experiment = project_settings.experiment

    def starting_now() -> dict[str, Any]:
        """The run as it starts now: its start time, and its name holding that time."""
        started = int(time.time() * 1000)
        name = run_context.run_name(
            settings.run_name,
            pipelines=pipelines,
            env=tags["kedro.env"],
            session_id=tags["kedro.session_id"],
            start_time=datetime.fromtimestamp(started / 1000),
        )
        return {
            "experiment": experiment, "run_name": name, "tags": tags,
            "start_time": started, "params": params,
        }  # fmt: skip

    def spooled(new_run: dict[str, Any]) -> TrackedRun:
        return TrackedRun(uri, owned=True, policy=delivery.for_run(
            settings, tracking_uri=uri, run_id=None, spool_directory=directory, offline=True,
            owner=True, new_run=new_run,
        ))  # fmt: skip

    online = delivery.for_run(
        settings, tracking_uri=uri, run_id=None, spool_directory=directory, owner=True
    )
    if decision.offline:
        spooled_run = spooled(starting_now())
        spooled_run.watch_interrupts(interrupts)
        delivery.open_spool(spooled_run.policy)  # the run itself is spooled
        logger.info(
            "kedro-metrics: offline mode: the run and its metrics are spooled in %s; "
            "`%s` delivers them to %s.", directory, delivery.SYNC_COMMAND, store.redact(uri),
        )  # fmt: skip
        return spooled_run
    new_run: dict[str, Any] | None = None
    try:
        # The run starts once its store and experiment exist (creating the store can
        # take seconds): its name's time is its start time.
        experiment_id = store.ensure_experiment(uri, experiment)
        new_run = starting_now()
        with interrupts.deferred():  # the store may create it although we never hear so
            run_id = store.start_run(
                uri, experiment_id, new_run["run_name"], tags, start_time=new_run["start_time"]
            )
            run = TrackedRun(uri, owned=True, policy=online.with_run(run_id), params=params)
            run.watch_interrupts(interrupts)  # a signal pending since ends it KILLED
            store.run_started_here(uri, run_id)
            delivery.open_spool(run.policy)  # if this process dies, sync ends it KILLED
    except TrackingError as exc:
        if not online.keeps_going:
            raise
        spooled_run = spooled(new_run or starting_now())
        spooled_run.watch_interrupts(interrupts)
        delivery.open_spool(spooled_run.policy)
        logger.warning(
            "kedro-metrics: could not start a run (%s); the run and its metrics are spooled "
            "in %s, and the pipeline goes on. `%s` delivers them.",
            exc, directory, delivery.SYNC_COMMAND,
        )  # fmt: skip
        return spooled_run
    logger.info(
        "kedro-metrics: started MLflow run %s in experiment %r at %s.",
        run_id, experiment, store.redact(uri),
    )  # fmt: skip
    return run


def sync_earlier_runs(directory: str, uri: str) -> None:
    """metrics.yml ``sync_on_start``: a courtesy that must never stop the pipeline."""
    try:
        delivery.sync_on_start(directory, uri, within=config.SYNC_ON_START_SECONDS)
    except Exception as exc:  # noqa: BLE001 - the spool stays for `kedro metrics sync`
        logger.warning(
            "kedro-metrics: could not deliver earlier spooled runs from %s (%s: %s); "
            "`%s` delivers them.", directory, type(exc).__name__, exc, delivery.SYNC_COMMAND,
        )  # fmt: skip


def check_resumed_run(uri: str, policy: DeliveryPolicy) -> None:
    """MLFLOW_RUN_ID must name a run of the store. A store that cannot be asked fails
    the run only when its points could not be spooled instead."""
    run_id = policy.run_id or ""
    try:
        store.check_run(uri, run_id)
    except StoreUnavailableError as exc:
        if not policy.keeps_going:
            raise
        logger.warning(
            "kedro-metrics: could not check run %s (MLFLOW_RUN_ID): %s The pipeline goes "
            "on; its metrics are spooled until the store answers.", run_id, exc,
        )  # fmt: skip


def link_to_parent(uri: str, policy: DeliveryPolicy, parent_id: str | None) -> None:
    """MLFLOW_PARENT_RUN_ID: the resumed run's parent, when MLflow's parent tag does
    not name one yet. A parent that does not exist fails the run before the pipeline;
    a store that cannot be asked leaves the tag out, with a warning, when the points
    are spooled."""
    run_id = policy.run_id or ""
    if not parent_id or parent_id == run_id:
        return
    try:
        if store.link_parent(uri, run_id, parent_id):
            logger.info("kedro-metrics: run %s is a child of run %s.", run_id, parent_id)
    except StoreUnavailableError as exc:
        if not policy.keeps_going:
            raise
        logger.warning("kedro-metrics: the parent of run %s was not recorded: %s", run_id, exc)


def context_tags(project_settings: project.ProjectSettings) -> dict[str, str]:
    """MLflow's standard tags (user, source, git) and the Kedro and plugin versions."""
    return run_context.standard_tags(
        store.STANDARD_TAG_NAMES,
        user=workspace.current_user(),
        package_name=project_settings.package_name,
        git=workspace.git_state(project_settings.project_path),
        kedro_version=kedro_version,
        plugin_version=__version__,
    )


def params_to_log(params: dict[str, Any]) -> dict[str, str]:
    """The run's Kedro parameters (``--params`` included) as MLflow params: flattened,
    too long a value cut to MLflow's limit and a name MLflow refuses left out, each
    with a warning."""
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
    return values


def log_run_params(run: TrackedRun, values: dict[str, str]) -> None:
    """``values`` (``params_to_log``) as the run's MLflow params.

    A param a reused run already holds with another value is kept, with a warning
    (MLflow params are immutable). The run goes on either way. A run spooled whole
    (offline, or a store down at its start) carries them in its spool instead:
    ``sync`` logs them with the run.
    """
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


def log_run_tags(run: TrackedRun, tags: dict[str, str]) -> None:
    """``tags`` in a run reused from elsewhere (one request); like its params, context
    rather than metrics: a store that refuses them does not stop the pipeline."""
    try:
        store.log_values(run.tracking_uri, run.run_id, tags=tags)
    except KedroMetricsError as exc:
        logger.warning("kedro-metrics: where the metrics come from was not recorded: %s", exc)


def runner_name(runner: Any) -> str:
    """``SequentialRunner`` from what Kedro puts in run_params (a class name or an
    instance's repr such as ``<kedro.runner.ThreadRunner object at 0x...>``)."""
    text = str(runner).strip("<>").split(" object at ")[0]
    if text in ("", "None"):  # Kedro runs SequentialRunner when none is given
        return "SequentialRunner"
    return text.rsplit(".", 1)[-1]
