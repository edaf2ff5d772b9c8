"""Writing points: batches within MLflow's per-request limits, several batches in
flight to a tracking server, and asynchronous writes done by a background thread.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, NamedTuple

from mlflow import MlflowClient
from mlflow.entities import Metric
from mlflow.utils.validation import MAX_BATCH_LOG_REQUEST_SIZE, MAX_METRICS_PER_BATCH

from kedro_metrics.errors import PartialWriteError, TrackingError
from kedro_metrics.links import NO_LINK, PointLink
from kedro_metrics.points import MetricPoint
from kedro_metrics.process import collect_young, state
from kedro_metrics.store import rest_batch
from kedro_metrics.store.client import client_for, is_server, resolve_uri
from kedro_metrics.store.failures import answer_lost, with_retries
from kedro_metrics.store.models import active_model_id

#: Serialised size of one metric in a log_batch request, beyond its key (JSON
#: field names, a 64-bit value, step and timestamp). Generous on purpose.
_METRIC_OVERHEAD_BYTES = 120
#: Stay this far below MLflow's request size limit.
_REQUEST_BYTES_BUDGET = int(MAX_BATCH_LOG_REQUEST_SIZE * 0.9)
#: Batches sent at once to a tracking server (never more than one to a database).
IN_FLIGHT = 4


def log_points(  # noqa: PLR0913
    tracking_uri: str | None,
    run_id: str,
    points: Iterable[MetricPoint],
    *,
    total: int | None = None,
    on_batch: Callable[[int, int], None] | None = None,
    deadline: float | None = None,
    link: PointLink = NO_LINK,
) -> int:
    """Log ``points`` to the run in as few ``log_batch`` requests as MLflow allows.

    Returns the number of points written. A batch whose request failed in a way a
    retry can fix (see ``failures.retryable``) is sent again, within the retry budget:
    MLflow ignores the rows of a batch it already stored. When a batch fails for
    good, ``PartialWriteError`` says how many of the ``total`` points MLflow
    confirmed before. ``on_batch(first, count)`` is told each batch MLflow
    confirmed (points ``first`` to ``first + count`` of ``points``), in whatever
    order they complete. Past ``deadline`` (``time.monotonic``) no new batch is
    started: the return value then says how far it got. ``points`` is consumed
    lazily, a batch at a time. Against a tracking server (http/https) up to
    ``IN_FLIGHT`` batches are sent at once: MLflow orders a history by step and
    timestamp, not by arrival, and picks the latest value the same way, so
    concurrent batches store exactly what sequential ones would. ``link`` gives
    every point its dataset and model (``links``): a point linked to several models
    is one row per model, in the same batch, and still counts as one point.
    """
    uri = resolve_uri(tracking_uri)
    client = client_for(uri)
    server = is_server(uri)
    confirmed = [0]
    uncertain = [0]  # points of batches whose answer was lost: MLflow may hold them
    lock = threading.Lock()
    route = _route(client, run_id, server=server)

    def send(first: int, count: int, batch: Any) -> int:
        try:
            with_retries(uri, f"log metrics to run {run_id}", lambda: route.send(batch))
        except TrackingError as exc:
            if answer_lost(exc):
                with lock:
                    uncertain[0] += count
            raise
        with lock:
            confirmed[0] += count
        if on_batch is not None:
            on_batch(first, count)
        return count

    encoded = _counted_batches(points, link, route.row, route.encode)
    chunks = _until(deadline, _numbered(encoded))
    try:
        if not server:
            return sum(send(*chunk) for chunk in chunks)
        return _send_concurrently(send, chunks, IN_FLIGHT)
    except TrackingError as exc:
        if not confirmed[0]:
            raise
        of = f" of {total:,}" if total is not None else ""
        maybe = (
            f" ({uncertain[0]:,} more were sent and their answer lost: MLflow may hold "
            "them; sending them again stores nothing twice)"
            if uncertain[0]
            else ""
        )
        raise PartialWriteError(
            f"{confirmed[0]:,}{of} points were confirmed before the failure{maybe}: {exc}",
            written=confirmed[0],
            total=total if total is not None else -1,
            uncertain=uncertain[0],
        ) from exc


#: A batch: the index of its first point, its number of points, what ``_Route.send``
#: sends (MLflow's ``Metric`` objects, or the JSON of a REST request).
_Chunk = tuple[int, int, Any]
#: Builds a row from a metric's fields: ``Metric`` or ``rest_batch.row``.
_RowMaker = Callable[..., Any]
#: Turns a batch's rows into what is sent: as they are, or ``rest_batch.encode``.
_Encoder = Callable[[list[Any]], Any]


class _Route(NamedTuple):
    """How a batch's rows are made (from a metric's fields), encoded, and sent."""

    row: _RowMaker
    encode: _Encoder
    send: Callable[[Any], None]


def _route(client: MlflowClient, run_id: str, *, server: bool) -> _Route:
    """To a server through MLflow's REST store: ``rest_batch`` rows, a batch's JSON
    written once as the batch is drawn, so a batch in flight holds only its bytes
    (rows without a model get the saving thread's active model, as MLflow's client
    gives it). Otherwise MLflow's ``Metric`` objects through the client."""
    if server and rest_batch.usable(client):
        model_id = active_model_id()
        return _Route(
            rest_batch.row,
            lambda rows: rest_batch.encode(run_id, rows, model_id),
            lambda body: rest_batch.post(client, body),
        )
    return _Route(Metric, _as_is, lambda batch: client.log_batch(run_id, metrics=batch))


def _numbered(chunks: Iterator[tuple[int, Any]]) -> Iterator[_Chunk]:
    """Each batch with the index of its first point; the next is drawn once a batch
    was sent (or a slot freed), after the garbage it left is collected."""
    first = 0
    for count, batch in chunks:
        yield first, count, batch
        first += count
        collect_young()


def _until(deadline: float | None, chunks: Iterator[_Chunk]) -> Iterator[_Chunk]:
    for chunk in chunks:
        if deadline is not None and time.monotonic() > deadline:
            return
        yield chunk


def _send_concurrently(
    send: Callable[[int, int, Any], int], chunks: Iterator[_Chunk], limit: int
) -> int:
    """Run ``send`` over ``chunks`` with at most ``limit`` calls in flight.

    A chunk is drawn only once a slot is free, so at most ``limit`` batches are held
    at once, and a deadline checked as chunks are drawn stops the next batch from
    starting after it. The first failure stops new sends and is raised.
    """
    first = next(chunks, None)
    second = next(chunks, None)
    if second is None:  # one request: no thread pool to start
        return send(*first) if first is not None else 0
    written = 0
    with ThreadPoolExecutor(max_workers=limit, thread_name_prefix="kedro-metrics") as pool:
        pending = {pool.submit(send, *first), pool.submit(send, *second)}
        while True:
            if len(pending) >= limit:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                written += sum(future.result() for future in done)
            chunk = next(chunks, None)
            if chunk is None:
                break
            pending.add(pool.submit(send, *chunk))
        written += sum(future.result() for future in pending)
    return written


def batches(points: Iterable[MetricPoint], link: PointLink = NO_LINK) -> Iterator[list[Metric]]:
    """Chunks of MLflow metrics within the per-request count and size limits."""
    for _, batch in _counted_batches(points, link, Metric, _as_is):
        yield batch


def _as_is(rows: list[Any]) -> list[Any]:
    return rows


def _counted_batches(
    points: Iterable[MetricPoint], link: PointLink, row: _RowMaker, encode: _Encoder
) -> Iterator[tuple[int, Any]]:
    """(number of points, ``encode(rows)``) per batch, each row made by ``row``; the
    rows of one point share a batch. A batch's rows are let go before it is handed
    on: once encoded, they are not held while the batch waits or is in flight."""
    if link.empty:
        yield from _plain_batches(points, row, encode)
        return
    link_bytes = sum(len(v or "") for v in (link.dataset_name, link.dataset_digest))
    batch: list[Any] = []
    size = count = 0
    for point in points:
        models = link.models_at(point.step)
        point_size = (len(point.key) + _METRIC_OVERHEAD_BYTES + link_bytes + 40) * len(models)
        if batch and (
            len(batch) + len(models) > MAX_METRICS_PER_BATCH
            or size + point_size > _REQUEST_BYTES_BUDGET
        ):
            chunk = count, encode(batch)
            batch, size, count = [], 0, 0
            yield chunk
        batch.extend(
            row(
                point.key,
                point.value,
                point.timestamp,
                point.step,
                model_id=model,
                dataset_name=link.dataset_name,
                dataset_digest=link.dataset_digest,
            )  # fmt: skip
            for model in models
        )
        size += point_size
        count += 1
    if batch:
        yield count, encode(batch)


def _plain_batches(
    points: Iterable[MetricPoint], row: _RowMaker, encode: _Encoder
) -> Iterator[tuple[int, Any]]:
    batch: list[Any] = []
    size = 0
    for point in points:
        point_size = len(point.key) + _METRIC_OVERHEAD_BYTES
        if len(batch) == MAX_METRICS_PER_BATCH or size + point_size > _REQUEST_BYTES_BUDGET:
            chunk = len(batch), encode(batch)
            batch, size = [], 0
            yield chunk
        batch.append(row(point.key, point.value, point.timestamp, point.step))
        size += point_size
    if batch:
        yield len(batch), encode(batch)


@dataclass
class _Job:
    tracking_uri: str | None
    run_id: str
    points: Iterable[MetricPoint]
    total: int | None = None
    #: Called once MLflow has every point (the spool marks them delivered).
    on_written: Callable[[], None] | None = None
    #: Called first on failure: True when it took care of it (the spool keeps the
    #: points), False when ``flush`` must still report it.
    on_failed: Callable[[Exception], bool] | None = None
    #: Told each batch MLflow confirmed (see ``log_points``).
    on_batch: Callable[[int, int], None] | None = None
    link: PointLink = NO_LINK


class _AsyncWriter:
    """Writes that ``save`` handed over in async mode, done by one background thread.

    ``flush`` waits until every write handed over so far is in MLflow and raises
    if any failed, so nothing is lost silently.
    """

    def __init__(self) -> None:
        self._jobs: queue.Queue[_Job] = queue.Queue()
        self._errors: list[Exception] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, job: _Job) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._work, name="kedro-metrics-async", daemon=True
                )
                self._thread.start()
        self._jobs.put(job)

    @property
    def pending(self) -> int:
        return self._jobs.unfinished_tasks

    def flush(self, timeout: float | None = None) -> None:
        if timeout is None:
            self._jobs.join()
        else:  # Queue.join has no timeout
            deadline = time.monotonic() + timeout
            while self._jobs.unfinished_tasks and time.monotonic() < deadline:
                time.sleep(0.05)
        with self._lock:
            errors, self._errors = self._errors, []
        if errors:
            details = "\n".join(f"  - {error}" for error in errors)
            raise TrackingError(
                f"{len(errors)} asynchronous metric write(s) failed; those points did not "
                f"reach MLflow:\n{details}"
            )

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                log_points(
                    job.tracking_uri, job.run_id, job.points, total=job.total,
                    on_batch=job.on_batch, link=job.link,
                )  # fmt: skip
            except Exception as exc:  # noqa: BLE001 - handed to on_failed or to flush()
                if job.on_failed is None or not job.on_failed(exc):  # reported by flush()
                    with self._lock:
                        self._errors.append(exc)
            else:
                if job.on_written is not None:
                    job.on_written()
            finally:
                self._jobs.task_done()


def _async_writer() -> _AsyncWriter:
    return state.get("async_writer", _AsyncWriter)


def submit_points(  # noqa: PLR0913
    tracking_uri: str | None,
    run_id: str,
    points: Iterable[MetricPoint],
    *,
    total: int | None = None,
    on_written: Callable[[], None] | None = None,
    on_failed: Callable[[Exception], bool] | None = None,
    on_batch: Callable[[int, int], None] | None = None,
    link: PointLink = NO_LINK,
) -> None:
    """Log ``points`` in the background; ``flush()`` waits for them. With
    ``on_failed``, a failure goes to it first; ``flush`` reports it unless it
    returned True. ``on_batch`` is told each batch MLflow confirmed."""
    _async_writer().submit(
        _Job(tracking_uri, run_id, points, total, on_written, on_failed, on_batch, link)
    )


def flush(timeout: float | None = None) -> None:
    """Wait until every asynchronous write of this process is in MLflow (at most
    ``timeout`` seconds when given).

    Raises:
        TrackingError: when any of them failed (listing them).
    """
    _async_writer().flush(timeout)


def pending_writes() -> int:
    """How many asynchronous writes of this process are not done yet."""
    writer = state.async_writer
    return writer.pending if writer is not None else 0


def _flush_at_exit() -> None:
    try:
        flush()
    except TrackingError as exc:
        logging.getLogger(__name__).error("kedro-metrics: %s", exc)


atexit.register(_flush_at_exit)
