"""All MLflow I/O of kedro-metrics; the only module that imports mlflow.

Writes go through ``MlflowClient.log_batch`` in chunks that respect MLflow's own
per-request limits; reads cost one request for the run plus one per metric key.
Errors come out as ``TrackingError``/``NoRunError`` with the server named (its
credentials removed) and what to do.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric, RunStatus
from mlflow.exceptions import MlflowException
from mlflow.utils.validation import (
    MAX_BATCH_LOG_REQUEST_SIZE,
    MAX_ENTITY_KEY_LENGTH,
    MAX_METRICS_PER_BATCH,
    _validate_length_limit,
    _validate_metric_name,
)

from kedro_metrics.errors import NoRunError, TrackingError
from kedro_metrics.points import MetricPoint, belongs_to

T = TypeVar("T")

#: Serialised size of one metric in a log_batch request, beyond its key (JSON
#: field names, a 64-bit value, step and timestamp). Generous on purpose.
_METRIC_OVERHEAD_BYTES = 120
#: Stay this far below MLflow's request size limit.
_REQUEST_BYTES_BUDGET = int(MAX_BATCH_LOG_REQUEST_SIZE * 0.9)
#: Batches sent at once to a tracking server (never more than one to a database).
IN_FLIGHT = 4
#: sqlite "database is locked" under parallel writers: retry this long at most.
_LOCKED_RETRY_SECONDS = 60.0

NO_RUN_HELP = (
    "There is no MLflow run to log to. Either pass `run_id` to the dataset, "
    "run the pipeline with `kedro run` with kedro-metrics installed (its hook "
    "starts a run), or call `mlflow.start_run()` before using the dataset."
)

_clients: dict[str, MlflowClient] = {}
_clients_lock = threading.Lock()


def key_problem(key: str) -> str | None:
    """Why MLflow would refuse ``key`` as a metric name, or None when it is fine."""
    try:
        _validate_metric_name(key)
        _validate_length_limit("Metric name", MAX_ENTITY_KEY_LENGTH, key)
    except MlflowException as exc:
        return exc.message
    return None


def resolve_uri(tracking_uri: str | None) -> str:
    """The given URI, else MLflow's current tracking URI."""
    return tracking_uri or mlflow.get_tracking_uri()


def redact(uri: str | None) -> str | None:
    """``uri`` without the password of its user-info part (``https://user:***@host``)."""
    if not uri:
        return uri
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def client_for(tracking_uri: str | None) -> MlflowClient:
    """One cached client per tracking URI (a client holds a store and its pool)."""
    uri = resolve_uri(tracking_uri)
    with _clients_lock:
        client = _clients.get(uri)
        if client is None:
            client = _clients[uri] = MlflowClient(tracking_uri=uri)
    return client


def active_run_id() -> str | None:
    """The id of the calling thread's active MLflow run, if any."""
    run = mlflow.active_run()
    return run.info.run_id if run else None


def log_points(tracking_uri: str | None, run_id: str, points: Iterable[MetricPoint]) -> int:
    """Log ``points`` to the run in as few ``log_batch`` requests as MLflow allows.

    Returns the number of points written. ``points`` is consumed lazily, a batch
    at a time. Against a tracking server (http/https) up to ``IN_FLIGHT`` batches
    are sent at once: MLflow orders a history by step and timestamp, not by
    arrival, and picks the latest value the same way, so concurrent batches
    store exactly what sequential ones would.
    """
    uri = resolve_uri(tracking_uri)
    client = client_for(uri)

    def send(batch: list[Metric]) -> int:
        with _translated_errors(uri, f"log metrics to run {run_id}"):
            _retry_when_locked(lambda: client.log_batch(run_id, metrics=batch))
        return len(batch)

    if not is_server(uri):
        return sum(send(batch) for batch in batches(points))
    return _send_concurrently(send, batches(points), IN_FLIGHT)


def is_server(uri: str) -> bool:
    """True for a tracking server reached over HTTP(S)."""
    return uri.split(":", 1)[0] in ("http", "https")


def _send_concurrently(
    send: Callable[[list[Metric]], int], chunks: Iterator[list[Metric]], limit: int
) -> int:
    """Run ``send`` over ``chunks`` with at most ``limit`` calls in flight.

    Chunks are drawn only as slots free up, so a long history is never held
    whole in memory. The first failure stops new sends and is raised.
    """
    first = next(chunks, None)
    second = next(chunks, None)
    if second is None:  # one request: no thread pool to start
        return send(first) if first is not None else 0
    written = 0
    with ThreadPoolExecutor(max_workers=limit, thread_name_prefix="kedro-metrics") as pool:
        pending: set[Future[int]] = set()
        for chunk in itertools.chain((first, second), chunks):
            if len(pending) >= limit:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                written += sum(future.result() for future in done)
            pending.add(pool.submit(send, chunk))
        written += sum(future.result() for future in pending)
    return written


def batches(points: Iterable[MetricPoint]) -> Iterator[list[Metric]]:
    """Chunks of MLflow metrics within the per-request count and size limits."""
    batch: list[Metric] = []
    size = 0
    for point in points:
        point_size = len(point.key) + _METRIC_OVERHEAD_BYTES
        if len(batch) == MAX_METRICS_PER_BATCH or size + point_size > _REQUEST_BYTES_BUDGET:
            yield batch
            batch, size = [], 0
        batch.append(Metric(point.key, point.value, point.timestamp, point.step))
        size += point_size
    if batch:
        yield batch


def read_points(tracking_uri: str | None, run_id: str, prefix: str) -> list[MetricPoint]:
    """Every point of every metric under ``prefix``: 1 request + 1 per metric key."""
    uri = resolve_uri(tracking_uri)
    keys = [key for key in metric_keys(uri, run_id) if belongs_to(key, prefix)]
    return [point for key in keys for point in read_history(uri, run_id, key)]


def metric_keys(tracking_uri: str | None, run_id: str) -> list[str]:
    """The metric keys a run holds, in one request."""
    uri = resolve_uri(tracking_uri)
    with _translated_errors(uri, f"read run {run_id}"):
        return sorted(client_for(uri).get_run(run_id).data.metrics)


def read_history(tracking_uri: str | None, run_id: str, key: str) -> list[MetricPoint]:
    """One metric's whole history in a single request.

    ``MlflowClient.get_metric_history`` pages a long history into several
    requests; the store API without ``max_results`` returns it all at once.
    """
    uri = resolve_uri(tracking_uri)
    store = client_for(uri)._tracking_client.store
    with _translated_errors(uri, f"read metric {key!r} of run {run_id}"):
        history = store.get_metric_history(run_id=run_id, metric_key=key)
    return [MetricPoint(m.key, m.value, m.step, m.timestamp) for m in history]


# Asynchronous logging -------------------------------------------------------------


class _Spool:
    """Writes that ``save`` handed over in async mode, done by one background thread.

    ``flush`` waits until every write handed over so far is in MLflow and raises
    if any failed, so nothing is lost silently.
    """

    def __init__(self) -> None:
        self._jobs: queue.Queue[tuple[str | None, str, Iterable[MetricPoint]]] = queue.Queue()
        self._errors: list[Exception] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, tracking_uri: str | None, run_id: str, points: Iterable[MetricPoint]) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._work, name="kedro-metrics-spool", daemon=True
                )
                self._thread.start()
        self._jobs.put((tracking_uri, run_id, points))

    @property
    def pending(self) -> int:
        return self._jobs.unfinished_tasks

    def flush(self) -> None:
        self._jobs.join()
        with self._lock:
            errors, self._errors = self._errors, []
        if errors:
            details = "\n".join(f"  - {error}" for error in errors)
            raise TrackingError(
                f"{len(errors)} asynchronous metric write(s) failed; those points are not "
                f"in MLflow:\n{details}"
            )

    def _work(self) -> None:
        while True:
            uri, run_id, points = self._jobs.get()
            try:
                log_points(uri, run_id, points)
            except Exception as exc:  # reported by flush()
                with self._lock:
                    self._errors.append(exc)
            finally:
                self._jobs.task_done()


_spool = _Spool()


def submit_points(tracking_uri: str | None, run_id: str, points: Iterable[MetricPoint]) -> None:
    """Log ``points`` in the background; ``flush()`` waits for them."""
    _spool.submit(tracking_uri, run_id, points)


def flush() -> None:
    """Wait until every asynchronous write of this process is in MLflow.

    Raises:
        TrackingError: when any of them failed (listing them).
    """
    _spool.flush()


def pending_writes() -> int:
    """How many asynchronous writes of this process are not done yet."""
    return _spool.pending


def _flush_at_exit() -> None:
    try:
        flush()
    except TrackingError as exc:
        logging.getLogger(__name__).error("kedro-metrics: %s", exc)


atexit.register(_flush_at_exit)


# Run lifecycle (used by the hook) -------------------------------------------------


def ensure_experiment(tracking_uri: str | None, name: str) -> str:
    """The id of the experiment called ``name``, created when missing."""
    uri = resolve_uri(tracking_uri)
    client = client_for(uri)
    with _translated_errors(uri, f"find or create experiment {name!r}"):
        experiment = client.get_experiment_by_name(name)
        if experiment is not None:
            return experiment.experiment_id
        try:
            return client.create_experiment(name)
        except MlflowException:  # created concurrently by another process
            experiment = client.get_experiment_by_name(name)
            if experiment is None:
                raise
            return experiment.experiment_id


def start_run(
    tracking_uri: str | None, experiment_id: str, run_name: str, tags: dict[str, str]
) -> str:
    """Create a RUNNING run and return its id."""
    uri = resolve_uri(tracking_uri)
    with _translated_errors(uri, "start a run"):
        run = client_for(uri).create_run(experiment_id, run_name=run_name, tags=tags)
    return run.info.run_id


def end_run(tracking_uri: str | None, run_id: str, *, failed: bool) -> None:
    """Mark a run FINISHED, or FAILED."""
    uri = resolve_uri(tracking_uri)
    status = RunStatus.to_string(RunStatus.FAILED if failed else RunStatus.FINISHED)
    with _translated_errors(uri, f"end run {run_id}"):
        client_for(uri).set_terminated(run_id, status=status)


def check_run(tracking_uri: str | None, run_id: str) -> None:
    """Raise ``NoRunError`` when the store has no such run (TrackingError when the
    store cannot be asked)."""
    uri = resolve_uri(tracking_uri)
    try:
        client_for(uri).get_run(run_id)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise _tracking_error(uri, f"find run {run_id}", exc) from _cause(uri, exc)
        raise NoRunError(
            f"MLflow run {run_id!r} was not found at {redact(uri)}: "
            f"{_scrub(exc.message, uri)}. Check the run id (MLFLOW_RUN_ID or the "
            "dataset's run_id) and the tracking URI."
        ) from _cause(uri, exc)


# Errors and retries --------------------------------------------------------------

_UNREACHABLE_HINT = (
    "Check that the server is running and reachable, or set MLFLOW_TRACKING_URI / "
    "metrics.yml `tracking_uri` to one that is. MLflow retried with backoff first "
    "(MLFLOW_HTTP_REQUEST_MAX_RETRIES, MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR)."
)


@contextlib.contextmanager
def _translated_errors(uri: str, action: str) -> Iterator[None]:
    """Turn MLflow and connection failures into a TrackingError that says what to do."""
    try:
        yield
    except (MlflowException, OSError) as exc:  # requests' connection errors are OSErrors
        raise _tracking_error(uri, action, exc) from _cause(uri, exc)


def _tracking_error(uri: str, action: str, exc: Exception) -> TrackingError:
    detail = _scrub(exc.message if isinstance(exc, MlflowException) else str(exc), uri)
    unreachable = isinstance(exc, OSError) or "Max retries exceeded" in detail
    hint = f" {_UNREACHABLE_HINT}" if unreachable else ""
    return TrackingError(
        f"Could not {action} at MLflow tracking URI {redact(uri)}: {detail}{hint}"
    )


def _cause(uri: str, exc: Exception) -> Exception | None:
    """The exception to chain: none when the original could show credentials in a
    printed traceback."""
    return None if _secrets(uri) else exc


def _retry_when_locked(call: Callable[[], T]) -> T:
    """Retry ``call`` while sqlite says "database is locked" (parallel writers).

    Safe to repeat: MLflow writes a batch in one transaction, and a point it
    already holds (same key, value, step and timestamp) is not stored twice.
    """
    deadline = time.monotonic() + _LOCKED_RETRY_SECONDS
    delay = 0.05
    while True:
        try:
            return call()
        except MlflowException as exc:
            if "database is locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 1.0)


def _secrets(uri: str) -> list[str]:
    """The URI's password and MLflow's credential variables, where set."""
    found = [urlsplit(uri).password]
    found += [os.environ.get(n) for n in ("MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")]
    return [secret for secret in found if secret]


def _scrub(message: str, uri: str) -> str:
    """``message`` with every secret of ``_secrets`` replaced by ***."""
    for secret in _secrets(uri):
        message = message.replace(secret, "***")
    return message


def _after_fork_in_child() -> None:
    """A forked worker must not share the parent's pooled database connections, nor
    replay the parent's queued asynchronous writes."""
    global _spool
    _spool = _Spool()
    module = sys.modules.get("mlflow.store.tracking.sqlalchemy_store")
    engines = getattr(getattr(module, "SqlAlchemyStore", None), "_engine_map", {})
    for engine in list(engines.values()):
        engine.dispose(close=False)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
