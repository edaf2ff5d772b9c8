"""The Kedro hook: one MLflow run per ``kedro run``, catalog names as prefixes.

Registered through the ``kedro.hooks`` entry point (``hooks`` below), so
installing the package is all it takes. Projects that list hooks by hand in
settings.py can use ``HOOKS = (kedro_metrics.hook.MetricsHook(),)`` instead
(and then disable the entry point with ``DISABLE_HOOKS_FOR_PLUGINS``).

Kedro loads this module at start-up: it must not import mlflow at module level.
The hook methods stay thin: the run's state and its start and end are in
``tracked_run``, catalog names in ``catalog_binding``, where each metrics dataset
comes from in ``attribution``, the data it was evaluated on in ``evaluation``, the
run as the node threads' active MLflow run and the models datasets log in
``model_links``, the nodes' times in ``node_timings``, the Kubeflow file in
``kubeflow_file``, interrupts in ``interrupts``, the check at the run's end in
``run_check``.
"""

from __future__ import annotations

import logging
import multiprocessing
import warnings
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kedro.framework.hooks import hook_impl

from kedro_metrics import delivery, project
from kedro_metrics.hook.attribution import attribution_tags
from kedro_metrics.hook.catalog_binding import (
    bind_catalog_names,
    bind_datasets,
    declared_meaning,
    pipeline_datasets,
)
from kedro_metrics.hook.evaluation import evaluated_names, record_evaluations
from kedro_metrics.hook.interrupts import InterruptHandlers
from kedro_metrics.hook.kubeflow_file import KubeflowFile
from kedro_metrics.hook.model_links import ModelWatch, RunActivation, WorkerActivation
from kedro_metrics.hook.node_timings import NodeClock, collected, log_times, start_collecting
from kedro_metrics.hook.one_line import for_kedro_run
from kedro_metrics.hook.run_check import check_at_run_end
from kedro_metrics.hook.tracked_run import (
    TrackedRun,
    flush_pending_writes,
    log_run_params,
    log_run_tags,
    open_run,
    runner_name,
)
from kedro_metrics.io.dataset_errors import one_message
from kedro_metrics.process import state

if TYPE_CHECKING:
    from kedro.framework.context import KedroContext
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Node, Pipeline

logger = logging.getLogger(__name__)

# Kedro warns about every catalog type ending in "DataSet" (kedro-datasets 2.0
# renamed theirs). MlflowMetricsDataSet is this plugin's documented name and an
# alias of MlflowMetricsDataset, so the warning would only be noise for our types.
warnings.filterwarnings(
    "ignore",
    message=r".*'Dataset' is spelled with a lowercase 's'\. Got '(kedro_metrics\.\S*DataSet)'",
    category=UserWarning,
)


class MetricsHook:
    """Starts or reuses an MLflow run around ``kedro run`` and binds the metrics
    datasets of the pipeline to it."""

    def __init__(self) -> None:
        self._context: KedroContext | None = None
        self._run: TrackedRun | None = None
        self._session_id: str | None = None
        self._kubeflow_file: KubeflowFile | None = None
        self._settings: project.ProjectSettings | None = None
        self._clock = NodeClock()
        self._models = ModelWatch()
        self._worker = WorkerActivation()
        self._timings: Path | None = None
        #: The catalog and each metrics dataset's evaluated_on, recorded at the end.
        self._evaluated: tuple[Any, dict[str, tuple[str, ...]]] | None = None

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
        # A project that lists the hook in settings.py without disabling the entry
        # point has two instances: only the first to see a session tracks it.
        session_id = str(run_params.get("run_id"))
        if session_id in state.sessions_tracked:
            logger.debug("kedro-metrics: another MetricsHook tracks session %s.", session_id)
            return
        state.sessions_tracked.add(session_id)
        self._session_id = session_id
        interrupts = InterruptHandlers()
        try:
            # Everything that can fail on the user's configuration comes first: a
            # settings or catalog error must not leave an empty run behind.
            settings = project.settings_for_context(self._context)
            datasets = pipeline_datasets(catalog, pipeline)
            sources = attribution_tags(pipeline, datasets)
            evaluated = evaluated_names(catalog, datasets)
            kubeflow_file = KubeflowFile.for_run(settings)  # a bad KFP_EXECUTOR_INPUT stops here
            # Before the run exists: a signal while it is created ends it KILLED.
            interrupts.install()
            self._settings = settings
            self._run = open_run(settings, self._context, run_params, interrupts, tags=sources)
            if self._run.run_id and self._run.policy.enabled:
                state.current_run = (self._run.tracking_uri, self._run.run_id)
                delivery.remember_latest_run(
                    settings.project_path, run_id=self._run.run_id, uri=self._run.tracking_uri
                )
            self._run.watch_interrupts(interrupts)
            if self._run.run_id and self._run.policy.enabled and not self._run.policy.offline:
                self._run.activation = RunActivation(self._run.tracking_uri, self._run.run_id)
                if "ParallelRunner" in runner_name(run_params.get("runner")):
                    self._run.activation.for_workers()
            if self._run.params and self._run.run_id:
                log_run_params(self._run, self._run.params)
            if sources and self._run.run_id and not (self._run.owned or self._run.policy.offline):
                log_run_tags(self._run, sources)  # a run started here has them already
            bound = bind_datasets(datasets, self._run, catalog)
            self._run.declarations = declared_meaning(
                [datasets[name] for name in bound], settings.config.metrics
            )
            if kubeflow_file is not None:
                kubeflow_file.datasets = [datasets[name] for name in bound]
                self._kubeflow_file = kubeflow_file
            self._evaluated = (catalog, evaluated)
            if settings.config.node_timings and self._run.policy.enabled:
                self._timings = start_collecting(session_id)
        except Exception as error:
            interrupts.restore()
            self._finish(failed=True)
            refused = for_kedro_run(error)
            if refused is error:
                raise
            raise refused from None

    @hook_impl
    def before_node_run(self, node: Node) -> None:
        run = self._run
        if run is not None and run.activation is not None:
            run.activation.in_this_thread()
        elif run is None:
            self._worker.before_node()
        self._clock.started(node.name)

    @hook_impl
    def after_node_run(self, node: Node, run_id: str) -> None:
        self._clock.ended(node.name, session_id=run_id)

    @hook_impl
    def on_node_error(self, node: Node, run_id: str) -> None:
        self._clock.ended(node.name, session_id=run_id)

    @hook_impl
    def before_dataset_saved(self) -> None:
        self._models.before_save()

    @hook_impl
    def after_dataset_saved(self, dataset_name: str) -> None:
        self._models.after_save(dataset_name)
        # ParallelRunner's worker processes end without running atexit handlers:
        # what a node saved asynchronously is written before the node reports done.
        if multiprocessing.parent_process() is not None:
            flush_pending_writes()

    @hook_impl(wrapper=True)
    def after_pipeline_run(self) -> Generator[None, Any, Any]:
        # A wrapper: the run ends before every other plugin's after_pipeline_run (as
        # tryfirst would), and a failed check (metrics.yml check.on_run_end: fail)
        # fails `kedro run` only after all of them have seen the pipeline end.
        run, settings = self._run, self._settings
        self._finish(failed=False)
        failed_check = check_at_run_end(run, settings) if run and settings else None
        result = yield
        if failed_check is not None:
            raise failed_check
        return result

    @hook_impl(tryfirst=True)
    def on_pipeline_error(self, error: Exception) -> None:
        one_message(error)
        self._finish(failed=True)

    def _finish(self, *, failed: bool) -> None:
        state.sessions_tracked.discard(self._session_id or "")
        state.current_run = None
        run, self._run = self._run, None
        kubeflow_file, self._kubeflow_file = self._kubeflow_file, None
        timings, self._timings = self._timings, None
        evaluated, self._evaluated = self._evaluated, None
        try:
            if run is not None and evaluated is not None:
                record_evaluations(run, *evaluated)
            if run is not None and timings is not None:
                log_times(collected(timings), tracking_uri=run.tracking_uri, policy=run.policy)
            if run is not None:
                run.finish(failed=failed)
        finally:
            if run is not None and kubeflow_file is not None:
                kubeflow_file.write(run, failed=failed)


def show_info_messages() -> None:
    """Let the plugin's INFO messages (run started, tracking off) through.

    Kedro's default logging config shows INFO only for ``kedro`` and the project's
    package. A level set for ``kedro_metrics`` in the project's logging.yml wins.
    """
    package_logger = logging.getLogger("kedro_metrics")
    if package_logger.level == logging.NOTSET:
        package_logger.setLevel(logging.INFO)


hooks = MetricsHook()
