"""The hook's side of MLflow 3's model links: the run is the active MLflow run of
each thread that runs a node, so a node's ``mlflow.<flavor>.log_model`` (or a model
dataset's) logs its LoggedModel to the run; and the model a catalog dataset's save
logged is tagged with that dataset's name, which a metrics dataset's ``model:``
finds.

A node thread is activated once per ``kedro run`` (two requests, MLflow's
``start_run``), only when the thread has no active run of its own (kedro-mlflow's,
a notebook's). Under ParallelRunner the nodes run in worker processes, which
inherit ``RUN_VARIABLE`` and MLflow's tracking URI from the process that tracks the
run: each worker makes the run active before its first node (two requests per
worker). Whatever fails here is said at DEBUG: the run goes on as it would have
without model links.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import threading

from kedro_metrics import store
from kedro_metrics.run_source import WORKERS_RUN_VARIABLE

logger = logging.getLogger(__name__)

#: The run of the ``kedro run`` whose worker processes (ParallelRunner) make it
#: active before their first node; set while its pipeline runs.
RUN_VARIABLE = WORKERS_RUN_VARIABLE


class RunActivation:
    """The threads in which the hook made its run the active MLflow run."""

    def __init__(self, tracking_uri: str, run_id: str) -> None:
        self.tracking_uri = tracking_uri
        self.run_id = run_id
        self._threads: set[int] = set()
        self._lock = threading.Lock()
        self._previous_uri: str | None = None
        self._activated_in: int | None = None

    def in_this_thread(self) -> None:
        """Before a node runs: the run is the thread's active run (once per thread)."""
        thread = threading.get_ident()
        with self._lock:
            if thread in self._threads:
                return
            self._threads.add(thread)
        try:
            activated, previous = store.activate_in_thread(self.tracking_uri, self.run_id)
        except Exception as exc:  # noqa: BLE001 - a convenience: never stops a node
            logger.debug("kedro-metrics: run %s not made active: %s", self.run_id, exc)
            return
        with self._lock:
            if previous is not None:
                self._previous_uri = previous
            if activated and thread == threading.main_thread().ident:
                self._activated_in = thread

    def for_workers(self) -> None:
        """Before a ParallelRunner starts its workers: they inherit the run's id and
        MLflow's tracking URI, which becomes the run's store."""
        try:
            previous = store.point_mlflow_at(self.tracking_uri)
        except Exception as exc:  # noqa: BLE001 - a convenience: never stops the run
            logger.debug("kedro-metrics: workers not pointed at run %s: %s", self.run_id, exc)
            return
        with self._lock:
            if previous is not None and self._previous_uri is None:
                self._previous_uri = previous
        os.environ[RUN_VARIABLE] = self.run_id

    def leave(self) -> None:
        """At the run's end (from whichever thread ends it: an interrupt's is not the
        main one): the main thread's active run is no longer the run, so MLflow's
        exit handler cannot end it again, and MLflow's tracking URI is what it was.
        Other threads were the runner's pool, gone with their active runs."""
        os.environ.pop(RUN_VARIABLE, None)
        if self._activated_in is None and self._previous_uri is None:
            return
        try:
            store.leave_in_thread(self.run_id, self._previous_uri, thread=self._activated_in)
        except Exception as exc:  # noqa: BLE001 - at the end: the run still ends
            logger.debug("kedro-metrics: run %s not left: %s", self.run_id, exc)


class WorkerActivation:
    """In a ParallelRunner worker process: the run ``RUN_VARIABLE`` names is the
    thread's active MLflow run from its first node on. It is never left: a node's
    outputs (a model dataset's save) are saved after ``after_node_run``, and a
    worker process ends without running exit handlers (multiprocessing's workers
    leave through ``os._exit``), so MLflow's own cannot end the run."""

    def __init__(self) -> None:
        self._done = threading.local()

    def before_node(self) -> None:
        run_id = os.environ.get(RUN_VARIABLE)
        if not run_id or multiprocessing.parent_process() is None:
            return
        if getattr(self._done, "run_id", None) == run_id:
            return
        self._done.run_id = run_id
        try:
            store.activate_in_thread(None, run_id)
        except Exception as exc:  # noqa: BLE001 - a convenience: never stops a node
            logger.debug("kedro-metrics: run %s not made active: %s", run_id, exc)


class ModelWatch:
    """Tags the LoggedModel a dataset's save logged with the dataset's catalog name."""

    def __init__(self) -> None:
        self._before = threading.local()

    def before_save(self) -> None:
        self._before.model = _last_model()

    def after_save(self, dataset_name: str) -> None:
        logged = _last_model()
        if logged is None or logged == getattr(self._before, "model", None):
            return
        try:
            store.mark_model_of_dataset(None, logged, dataset_name)
        except Exception as exc:  # noqa: BLE001 - `model:` then says no model was found
            logger.warning(
                "kedro-metrics: the model %s that %r logged was not tagged with its name "
                "(%s); a metrics dataset's `model: %s` will not find it.",
                logged, dataset_name, exc, dataset_name,
            )  # fmt: skip


def _last_model() -> str | None:
    """The calling thread's last LoggedModel; None without importing MLflow when
    this process never loaded MLflow's tracking (so never logged a model)."""
    if "mlflow.tracking.fluent" not in sys.modules:
        return None
    return store.last_model_here()
