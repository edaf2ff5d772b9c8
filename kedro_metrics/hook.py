"""The Kedro hook: one MLflow run per ``kedro run``, catalog names as prefixes.

Registered through the ``kedro.hooks`` entry point (``hooks`` below), so
installing the package is all it takes. Projects that list hooks by hand in
settings.py can use ``HOOKS = (kedro_metrics.hook.MetricsHook(),)`` instead
(and then disable the entry point with ``DISABLE_HOOKS_FOR_PLUGINS``).

Kedro loads this module at start-up: it must not import mlflow at module level.
The hook methods stay thin; the work is in the functions below them.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, ClassVar

from kedro.framework.hooks import hook_impl

from kedro_metrics import config as metrics_config
from kedro_metrics import project, run_context
from kedro_metrics.errors import KedroMetricsError, StoreUnavailableError, TrackingError

if TYPE_CHECKING:
    from kedro_metrics.spool import SpoolTarget
    from kedro.framework.context import KedroContext
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Pipeline

logger = logging.getLogger(__name__)

# Kedro warns about every catalog type ending in "DataSet" (kedro-datasets 2.0
# renamed theirs). MlflowMetricsDataSet is this plugin's documented name and an
# alias of MlflowMetricsDataset, so the warning would only be noise for our types.
warnings.filterwarnings(
    "ignore",
    message=r".*'Dataset' is spelled with a lowercase 's'\. Got '(kedro_metrics\.\S*DataSet)'",
    category=UserWarning,
)

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


class InterruptHandlers:
    """SIGINT and SIGTERM handlers that call ``on_interrupt`` once, then behave as
    before: Ctrl-C raises KeyboardInterrupt, SIGTERM exits with status 143.

    Kedro calls ``on_pipeline_error`` only for ``Exception``: an interrupt would
    otherwise leave the run RUNNING forever. Only the process that installed the
    handlers reacts (ParallelRunner's forked workers inherit them).

    ``on_interrupt`` runs in its own (non-daemon) thread, never inside the handler:
    the signal may arrive while the main thread holds a lock that ending the run
    needs (a spool append, the retry budget). The main thread unwinds at once,
    releasing it, and the interpreter waits for that thread before exiting.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, on_interrupt: Callable[[str], None]) -> None:
        self._on_interrupt = on_interrupt
        self._previous: dict[int, Any] = {}
        self._pid = os.getpid()
        #: The thread ending the run after a signal (tests join it).
        self.ending: threading.Thread | None = None

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # Python allows signal handlers in the main thread only
        for signum in self.SIGNALS:
            if signal.getsignal(signum) is signal.SIG_IGN:
                continue  # the process was told to ignore it (nohup, a background job)
            self._previous[signum] = signal.signal(signum, self._handle)

    def restore(self) -> None:
        if os.getpid() != self._pid:
            return
        previous, self._previous = self._previous, {}
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        previous = self._previous.get(signum, signal.SIG_DFL)
        if os.getpid() == self._pid and self.ending is None:
            self.restore()
            self.ending = threading.Thread(
                target=self._end_run, args=(signal.Signals(signum).name,),
                name="kedro-metrics-interrupt",
            )  # fmt: skip
            self.ending.start()
        if callable(previous):
            previous(signum, frame)
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise SystemExit(128 + signum)

    def _end_run(self, signal_name: str) -> None:
        try:
            self._on_interrupt(signal_name)
        except Exception:  # noqa: BLE001 - the interrupt must go on
            logger.exception("kedro-metrics: could not end the run after the interrupt")


class MetricsHook:
    """Starts or reuses an MLflow run around ``kedro run`` and binds the metrics
    datasets of the pipeline to it."""

    #: Sessions some MetricsHook instance is tracking. A project that lists the hook
    #: in settings.py without disabling the entry point has two instances: only the
    #: first to see a session tracks it.
    _sessions_tracked: ClassVar[set[str]] = set()

    def __init__(self) -> None:
        self._context: KedroContext | None = None
        self._run: TrackedRun | None = None
        self._session_id: str | None = None
        self._kubeflow_file: KubeflowFile | None = None

    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        self._context = context
        project.remember_context(context)
        show_info_messages()

    @hook_impl
    def after_catalog_created(self, catalog: CatalogProtocol, conf_catalog: dict[str, Any]) -> None:
        bind_catalog_names(catalog, conf_catalog)

    @hook_impl(trylast=True)  # after other plugins (kedro-mlflow) have started their run
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: CatalogProtocol
    ) -> None:
        if self._context is None:
            raise RuntimeError(
                "kedro-metrics: before_pipeline_run came before after_context_created; "
                "run the pipeline through a KedroSession."
            )
        session_id = str(run_params.get("run_id"))
        if session_id in MetricsHook._sessions_tracked:
            logger.debug("kedro-metrics: another MetricsHook tracks session %s.", session_id)
            return
        MetricsHook._sessions_tracked.add(session_id)
        self._session_id = session_id
        try:
            # Everything that can fail on the user's configuration comes first: a
            # settings or catalog error must not leave an empty run behind.
            settings = project.settings_for_context(self._context)
            datasets = pipeline_datasets(catalog, pipeline)
            self._run = open_run(settings, self._context, run_params)
            if settings.config.log_params and self._run.run_id:
                log_run_params(self._run, self._context.params)
            bound = bind_datasets(datasets, self._run)
            self._run.watch_interrupts()
            self._kubeflow_file = KubeflowFile.for_run(settings, [datasets[n] for n in bound])
        except Exception:
            self._finish(failed=True)
            raise

    @hook_impl
    def after_dataset_saved(self) -> None:
        # ParallelRunner's worker processes end without running atexit handlers:
        # what a node saved asynchronously is written before the node reports done.
        if multiprocessing.parent_process() is not None:
            flush_pending_writes()

    @hook_impl(tryfirst=True)
    def after_pipeline_run(self) -> None:
        self._finish(failed=False)

    @hook_impl(tryfirst=True)
    def on_pipeline_error(self, error: Exception) -> None:
        from kedro_metrics.datasets import one_message

        one_message(error)
        self._finish(failed=True)

    def _finish(self, *, failed: bool) -> None:
        MetricsHook._sessions_tracked.discard(self._session_id or "")
        run, self._run = self._run, None
        kubeflow_file, self._kubeflow_file = self._kubeflow_file, None
        try:
            if run is not None:
                run.finish(failed=failed)
        finally:
            if run is not None and kubeflow_file is not None:
                kubeflow_file.write(run, failed=failed)


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
        from kedro_metrics import formats, store

        try:
            found = store.get_run(run.tracking_uri, run.run_id)
            latest = found.latest if found else {}
            values = {
                key: point.value
                for key, point in latest.items()
                if any(dataset.holds_key(key) for dataset in self.datasets)
            }
            document = formats.kubeflow_metrics(values, percentage=self.percentage)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(formats.to_json(document))
        except Exception as exc:
            if not failed and not _spool_keeps_going(run, exc):
                raise
            logger.error("kedro-metrics: could not write the Kubeflow metrics file %s: %s", self.path, exc)
            return
        skipped = formats.not_finite(values)
        if skipped:
            logger.warning(
                "kedro-metrics: left out of %s (not a finite number): %s", self.path, ", ".join(skipped)
            )
        logger.info(
            "kedro-metrics: wrote %d metric(s) to the Kubeflow metrics file %s.",
            len(document["metrics"]), self.path,
        )  # fmt: skip


def _spool_keeps_going(run: TrackedRun, exc: Exception) -> bool:
    """An unavailable store must not fail a run whose points are spooled."""
    spooling = run.spool is not None and run.spool.on_tracking_error == "spool"
    return spooling and isinstance(exc, StoreUnavailableError)


def show_info_messages() -> None:
    """Let the plugin's INFO messages (run started, tracking off) through.

    Kedro's default logging config shows INFO only for ``kedro`` and the project's
    package. A level set for ``kedro_metrics`` in the project's logging.yml wins.
    """
    package_logger = logging.getLogger("kedro_metrics")
    if package_logger.level == logging.NOTSET:
        package_logger.setLevel(logging.INFO)


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


def pipeline_datasets(catalog: CatalogProtocol, pipeline: Pipeline) -> dict[str, Any]:
    """Every dataset the pipeline uses, materialised: a misspelt argument anywhere in
    the catalog fails here, before any run exists. Dataset-factory names
    (``"{split}_metrics"``) are resolved too: the runner would a moment later."""
    return {
        name: catalog.get(name) for name in sorted(pipeline.datasets()) if name in catalog
    }


def bind_datasets(datasets: dict[str, Any], run: TrackedRun) -> list[str]:
    """Give every metrics dataset among ``datasets`` its catalog name, the run and the
    URI. Returns the names bound."""
    from kedro_metrics.datasets import MlflowRunDataset

    bound = []
    for name, dataset in datasets.items():
        if isinstance(dataset, MlflowRunDataset):
            dataset.bind_to_run(
                name,
                run_id=run.run_id,
                tracking_uri=run.tracking_uri,
                enabled=run.enabled,
                async_logging=run.async_logging,
                spool=run.spool,
            )
            bound.append(name)
    return bound


def bind_catalog_names(catalog: CatalogProtocol, conf_catalog: dict[str, Any]) -> list[str]:
    """Give the catalog's metrics datasets their catalog names as soon as the catalog
    exists, so notebooks and ``kedro ipython`` see the names ``kedro run`` uses.

    Explicit entries are materialised (no I/O) and bound. A dataset-factory pattern
    of ours without ``prefix``/``key`` gets the pattern itself as that argument:
    Kedro fills a pattern's placeholders in its config values, so each dataset it
    resolves gets its own resolved name. Returns the names and patterns bound.
    """
    from kedro.io.catalog_config_resolver import CatalogConfigResolver

    bound = []
    for name, config in (conf_catalog or {}).items():
        dataset_class = metrics_dataset_class(config)
        if dataset_class is None:
            continue
        if CatalogConfigResolver.is_pattern(name):
            pattern_config = _live_pattern_config(catalog, name)
            if pattern_config is not None:
                pattern_config.setdefault(dataset_class.NAME_ARGUMENT, name)
                bound.append(name)
        elif name in catalog:
            dataset = catalog.get(name)
            if isinstance(dataset, dataset_class):
                dataset.bind_name(name)
                bound.append(name)
    return bound


def metrics_dataset_class(config: Any) -> type | None:
    """The kedro-metrics dataset class a catalog entry declares, else None.

    Only entries whose type names a metric dataset are imported to check."""
    type_name = config.get("type") if isinstance(config, dict) else None
    if not isinstance(type_name, str) or "Metric" not in type_name:
        return None
    from kedro.io.core import parse_dataset_definition

    from kedro_metrics.datasets import MlflowRunDataset

    try:
        dataset_class, _ = parse_dataset_definition({"type": type_name})
    except Exception:  # noqa: BLE001 - Kedro reports bad entries itself, with context
        return None
    return dataset_class if issubclass(dataset_class, MlflowRunDataset) else None


def _live_pattern_config(catalog: CatalogProtocol, pattern: str) -> dict[str, Any] | None:
    """The pattern's config that the catalog resolves datasets from (not a copy).

    Kedro has no public setter for it; without the resolver's lookup (another
    catalog implementation), factory names are still bound by ``bind_datasets``
    before the pipeline runs.
    """
    resolver = getattr(catalog, "config_resolver", None)
    lookup = getattr(resolver, "_get_pattern_config", None)
    config = lookup(pattern) if lookup else None
    return config if isinstance(config, dict) and config else None


def runner_name(runner: Any) -> str:
    """``SequentialRunner`` from what Kedro puts in run_params (a class name or an
    instance's repr such as ``<kedro.runner.ThreadRunner object at 0x...>``)."""
    text = str(runner).strip("<>").split(" object at ")[0]
    if text in ("", "None"):  # Kedro runs SequentialRunner when none is given
        return "SequentialRunner"
    return text.rsplit(".", 1)[-1]


hooks = MetricsHook()
