"""``kedro metrics sync``: deliver what the spool holds, exactly once, to the project's
store; also a bounded pass at the start of ``kedro run`` (``sync_on_start``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from kedro_metrics import store
from kedro_metrics.delivery import spool
from kedro_metrics.delivery.save import SYNC_COMMAND
from kedro_metrics.errors import TrackingError

logger = logging.getLogger(__name__)


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


def sync(
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
        for listed in runs:
            if deadline is not None and time.monotonic() > deadline:
                report.runs_left += 1
                report.points_left += listed.pending_points
                continue
            with spool.claimed(listed.path) as claimed:
                if not claimed:
                    report.in_use += 1
                    continue
                run = spool.read(listed.path)  # as of now that we hold it
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
