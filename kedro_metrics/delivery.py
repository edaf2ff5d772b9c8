"""Getting points to MLflow without losing any: write-ahead to the spool, send, mark
delivered; on failure keep them spooled and go on; ``sync`` delivers what is left.

Sits between the datasets/hook and the two places points go (``store``, ``spool``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from kedro_metrics import spool, store
from kedro_metrics.errors import PartialWriteError, TrackingError, store_refused
from kedro_metrics.points import MetricPoint
from kedro_metrics.spool import SpoolTarget

logger = logging.getLogger(__name__)

SYNC_COMMAND = "kedro metrics sync"

_warned = set[str]()
_warned_lock = threading.Lock()


def save(
    tracking_uri: str | None,
    run_id: str | None,
    points: Iterable[MetricPoint],
    *,
    target: SpoolTarget,
    asynchronous: bool,
) -> None:
    """Spool ``points`` (fsync'd) before returning, then send them unless offline.

    A failure past the retry budget leaves them spooled and warns once (``raise``
    mode: raises, saying how much was written). MLflow refusing them (a 4xx) fails
    the save as it would without a spool, and sync will not resend them. ``run_id``
    is None offline only.
    """
    materialised = list(points)
    writer, seq, total = _spooled(target, materialised)
    if target.offline or run_id is None:
        return

    def written() -> None:
        writer.mark_delivered(seq)

    def failed(exc: Exception) -> bool:
        """Spooled (True), or refused by MLflow: then ``flush`` reports it (False)."""
        if store_refused(exc):
            writer.mark_refused(seq)
            return False
        _failed(exc, total, target, raising=target.raises)
        return True

    if asynchronous:
        on_failed = None if target.raises else failed
        store.submit_points(
            tracking_uri, run_id, materialised, total=total, on_written=written, on_failed=on_failed
        )
        return
    try:
        store.log_points(tracking_uri, run_id, materialised, total=total)
    except TrackingError as exc:
        if not failed(exc):
            raise
    else:
        written()


def _spooled(target: SpoolTarget, points: list[MetricPoint]) -> tuple[spool.SpoolWriter, int, int]:
    """Append one save to this process's spool file of the run: (writer, seq, count).
    A file closed meanwhile (the run ended under a thread still saving) gives way
    to a late file."""
    writer = spool.writer_for(target)
    try:
        seq, total = writer.add_points(points)
    except spool.SpoolClosedError:
        writer = spool.writer_for(target)  # a late writer now
        seq, total = writer.add_points(points)
    return writer, seq, total


def _failed(exc: Exception, total: int, target: SpoolTarget, *, raising: bool) -> None:
    written = exc.written if isinstance(exc, PartialWriteError) else 0
    rest = total - written
    where = f"the spool ({target.directory}); `{SYNC_COMMAND}` delivers them"
    if raising:
        raise TrackingError(
            f"{written:,} of {total:,} points were written before the failure; the other "
            f"{rest:,} were not written (they are kept in {where}). {exc}"
        ) from None
    done = f"{written:,} of {total:,} points were written before the failure; the rest are"
    if not written:
        done = f"MLflow did not take the {total:,} point(s) of a save; they are"
    message = f"kedro-metrics: {done} in {where}. The pipeline goes on. ({exc})"
    with _warned_lock:
        first = target.spool_id not in _warned
        _warned.add(target.spool_id)
    if first:
        logger.warning(message)
    else:
        logger.debug(message)


def pending_points(target: SpoolTarget) -> int:
    """Points of ``target``'s run not confirmed by MLflow, in every process's file."""
    writer = spool.existing_writer(target)
    mine = writer.path if writer is not None else None
    count = writer.pending_points if writer is not None else 0
    for path in spool.spool_files(target.directory):
        if path.name.startswith(f"{target.spool_id}.") and path != mine:
            with contextlib.suppress(FileNotFoundError):  # a sync delivered it meanwhile
                count += spool.read(path).pending_points
    return count


# Sync ---------------------------------------------------------------------------------


@dataclass
class SyncReport:
    """What ``sync`` did."""

    busy: bool = False
    runs_delivered: int = 0
    runs_created: int = 0
    points_delivered: int = 0
    runs_ended: dict[str, str] = field(default_factory=dict)
    #: Files whose writer still runs (a `kedro run` in progress).
    in_use: int = 0
    #: Files that could not be delivered, with why.
    failed: dict[str, str] = field(default_factory=dict)
    points_left: int = 0
    runs_left: int = 0


def pending_files(directory: str) -> list[Path]:
    return spool.spool_files(directory)


def sync(  # noqa: C901, PLR0912
    directory: str,
    tracking_uri: str,
    *,
    dry_run: bool = False,
    deadline: float | None = None,
    on_points: Callable[[int, int], None] | None = None,
) -> SyncReport:
    """Deliver every spooled run in ``directory`` to ``tracking_uri`` exactly once.

    ``tracking_uri`` is the real URI (from the project's settings at sync time); a
    run spooled for another store is left alone. ``deadline`` (``time.monotonic``)
    stops starting new files. ``on_points(done, total)`` reports progress.
    """
    report = SyncReport()
    with spool.sync_lock(directory) as mine:
        if not mine:
            report.busy = True
            return report
        files = spool.spool_files(directory)
        runs = [spool.read(path) for path in files]
        total = sum(run.pending_points for run in runs)
        done = 0
        if on_points:
            on_points(done, total)
        for run in runs:
            if deadline is not None and time.monotonic() > deadline:
                report.runs_left += 1
                report.points_left += run.pending_points
                continue
            with spool.claimed(run.path) as claimed:
                if not claimed:
                    report.in_use += 1
                    continue
                run = spool.read(run.path)  # as of now that we hold it
                if dry_run:
                    report.runs_left += 1
                    report.points_left += run.pending_points
                    continue
                try:
                    sent, created = _deliver(run, tracking_uri, report, deadline)
                    left = run.pending_points - sent
                except TrackingError as exc:
                    report.failed[run.path.name] = str(exc)
                    sent, created = 0, 0
                    left = spool.read(run.path).pending_points  # as marked before the failure
                report.runs_created += created
                report.points_delivered += sent
                done += sent
                if on_points:
                    on_points(done, total)
                if run.path.name in report.failed or left:
                    report.runs_left += 1
                    report.points_left += left
                    continue
                report.runs_delivered += 1
                run.path.unlink(missing_ok=True)
    return report


def _deliver(
    run: spool.SpooledRun, tracking_uri: str, report: SyncReport, deadline: float | None
) -> tuple[int, int]:
    """Send one claimed file, save by save until ``deadline``; returns (points sent,
    runs created). The run is ended only once every save is delivered."""
    header = run.header
    if header.get("spool_id") is None:  # no header: nothing was ever acknowledged
        return 0, 0
    offline = header.get("run_id") is None
    if not offline and header.get("tracking_uri") != store.redact(tracking_uri):
        raise TrackingError(
            f"spooled for {header.get('tracking_uri')}, but the project's tracking URI is "
            f"{store.redact(tracking_uri)}; set it (metrics.yml `tracking_uri` or "
            "MLFLOW_TRACKING_URI) to that store to deliver this run."
        )
    created = 0
    run_id = run.run_id
    if run_id is None:
        run_id = store.create_spooled_run(
            tracking_uri,
            header.get("experiment") or "Default",
            header.get("run_name"),
            header.get("tags") or {},
            header.get("start_time"),
            header["spool_id"],
        )
        spool.append(run.path, {"kind": "created", "run_id": run_id})
        created = 1
    sent = 0
    for seq, points in run.pending:
        if deadline is not None and time.monotonic() > deadline:
            return sent, created  # the rest waits for the next sync
        store.log_points(tracking_uri, run_id, points, total=len(points))
        spool.append(run.path, {"kind": "delivered", "seq": seq})
        sent += len(points)
    if header.get("owner"):
        # The writer is gone (we hold its lock): without an end record it was killed.
        end = run.end or {"status": "KILLED", "end_time": None}
        store.end_run(tracking_uri, run_id, status=end["status"], end_time=end["end_time"])
        report.runs_ended[run_id] = end["status"]
    return sent, created


def target_outside_a_run(tracking_uri: str, run_id: str) -> SpoolTarget:
    """The spool of a save outside ``kedro run`` (a notebook, a script): the
    working directory's ``.kedro_metrics/spool`` or ``KEDRO_METRICS_SPOOL_DIR``.
    A failed save raises there (the caller is at the keyboard); its points stay
    spooled for ``kedro metrics sync``."""
    from kedro_metrics import config

    directory = config.spool_dir(None, os.environ, os.getcwd())
    return SpoolTarget(
        directory, f"run-{run_id}", run_id, store.redact(tracking_uri) or "",
        on_tracking_error="raise",
    )  # fmt: skip


# The end of a run ---------------------------------------------------------------------


def end_run(tracking_uri: str, target: SpoolTarget, *, owned: bool, status: str) -> None:
    """End a spooled run: record the status in the spool first (if the store cannot
    be told, ``sync`` tells it), tell the store, then remove the spool files when
    MLflow has everything, or warn how much is pending and how to deliver it."""
    from kedro_metrics.points import current_time_ms

    end_time = current_time_ms()
    told = not owned
    if owned:
        spool.writer_for(target).end(status, end_time)
        if not target.offline and target.run_id:
            try:
                store.end_run(tracking_uri, target.run_id, status=status, end_time=end_time)
                told = True
                logger.info("kedro-metrics: run %s ended %s.", target.run_id, status)
            except TrackingError as exc:
                if target.raises:
                    spool.close_writer(target, remove=False)
                    raise
                logger.warning("kedro-metrics: could not end run %s: %s", target.run_id, exc)
    pending = pending_points(target)
    delivered = told and not target.offline and pending == 0
    spool.close_writer(target, remove=delivered)
    if delivered:
        _remove_delivered(target)
    elif target.offline:
        logger.info(
            "kedro-metrics: the run (%s, %s points) is spooled in %s; `%s` delivers it.",
            status, f"{pending:,}", target.directory, SYNC_COMMAND,
        )  # fmt: skip
    else:
        logger.warning(
            "kedro-metrics: %s points of run %s are pending in the spool %s; `%s` "
            "delivers them.", f"{pending:,}", target.run_id, target.directory, SYNC_COMMAND,
        )  # fmt: skip


def _remove_delivered(target: SpoolTarget) -> None:
    """Remove the run's files of finished worker processes that hold nothing pending."""
    for path in spool.spool_files(target.directory):
        if path.name.startswith(f"{target.spool_id}."):
            with spool.claimed(path) as claimed:
                if claimed and spool.read(path).pending_points == 0:
                    path.unlink(missing_ok=True)


def sync_on_start(directory: str, tracking_uri: str, *, within: float) -> None:
    """Deliver earlier runs' spools at the start of ``kedro run``, for ``within``
    seconds at most, and say what was done."""
    if not spool.spool_files(directory):
        return
    report = sync(directory, tracking_uri, deadline=time.monotonic() + within)
    if report.runs_delivered:
        logger.info(
            "kedro-metrics: delivered %s spooled point(s) of %s earlier run(s) from %s.",
            f"{report.points_delivered:,}", report.runs_delivered, directory,
        )  # fmt: skip
    if report.points_left or report.failed:
        logger.warning(
            "kedro-metrics: %s spooled point(s) of %s earlier run(s) are still pending in "
            "%s; `%s` delivers them.", f"{report.points_left:,}", report.runs_left, directory,
            SYNC_COMMAND,
        )  # fmt: skip
