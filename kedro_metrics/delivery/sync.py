"""``kedro metrics sync``: deliver what the spool holds, exactly once, to the project's
store; also a bounded pass at the start of ``kedro run`` (``sync_on_start``).

One bad file never stops the others: a file that cannot be opened is skipped, a
file of a format this version does not know is refused and kept as it is, a file
with damaged records has its readable saves delivered and is kept aside as
``<name>.damaged``. Each is reported, and makes the report a failure.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kedro_metrics import spool, store
from kedro_metrics.delivery.meaning_record import record_spooled_meaning
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
    #: Entries that could not be opened or read (not a regular file, no permission).
    skipped: dict[str, str] = field(default_factory=dict)
    #: Files of a format this version does not know, kept as they are: why.
    refused: dict[str, str] = field(default_factory=dict)
    #: Files with records that could not be read, kept aside: new name -> how many.
    damaged: dict[str, int] = field(default_factory=dict)
    points_left: int = 0
    runs_left: int = 0

    @property
    def problems(self) -> list[str]:
        """One line per file that was not delivered whole and as written."""
        return [
            *(f"{name}: {why}" for name, why in self.failed.items()),
            *(f"{name}: skipped, {why}" for name, why in self.skipped.items()),
            *(f"{name}: not delivered, {why}; it is kept as it is" for name, why in
              self.refused.items()),
            *(f"{name}: {count} record(s) could not be read (damaged); the rest was delivered "
              "and the file is kept under this name" for name, count in self.damaged.items()),
        ]  # fmt: skip


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
    run spooled for another store is left alone. Past ``deadline``
    (``time.monotonic``) no new batch is sent: what is left waits for the next sync.
    ``on_points(done, total)`` reports progress.
    """
    report = SyncReport()
    with spool.sync_lock(directory) as mine:
        if not mine:
            report.busy = True
            return report
        report.skipped.update(spool.odd_entries(directory))
        # What each file holds pending, for the progress bar and the deadline: only the
        # counts are kept, each file is read whole again once it is claimed.
        listed = [
            (path, run.pending_points, run.foreign is not None)
            for path in spool.spool_files(directory)
            if (run := _read(path, report))
        ]
        progress = _Progress(sum(n for _, n, foreign in listed if not foreign), on_points)
        for path, pending, _ in listed:
            if deadline is not None and time.monotonic() > deadline:
                report.runs_left += 1
                report.points_left += pending
                continue
            with spool.claimed(path) as claimed:
                if not claimed:
                    report.in_use += 1
                    continue
                now = _read(path, report)  # as of now that we hold it
                if now is not None:
                    _sync_file(now, tracking_uri, report, dry_run, deadline, progress)
    return report


@dataclass
class _Progress:
    """Points delivered so far, told to ``on_points``; batches confirm in threads."""

    total: int
    on_points: Callable[[int, int], None] | None
    done: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.add(0)

    def add(self, count: int) -> None:
        with self._lock:
            self.done += count
            if self.on_points:
                self.on_points(self.done, self.total)


def _read(path: Path, report: SyncReport) -> spool.SpooledRun | None:
    try:
        return spool.read(path)
    except FileNotFoundError:
        return None  # delivered and removed by another process meanwhile
    except OSError as exc:
        report.skipped[path.name] = f"it cannot be read ({exc.strerror or exc})"
        return None


def _sync_file(  # noqa: PLR0913
    run: spool.SpooledRun,
    tracking_uri: str,
    report: SyncReport,
    dry_run: bool,
    deadline: float | None,
    progress: _Progress,
) -> None:
    """Deliver one claimed file and remove it, put it aside, or leave it."""
    if run.foreign:
        report.refused[run.path.name] = (
            f"{run.foreign}, which this version of kedro-metrics cannot read"
        )
        return
    if dry_run:
        report.runs_left += 1
        report.points_left += run.pending_points
        return
    try:
        sent, created = _deliver(run, tracking_uri, report, deadline, progress)
        left = run.pending_points - sent
    except TrackingError as exc:
        report.failed[run.path.name] = str(exc)
        left = spool.read(run.path).pending_points  # as marked before the failure
    else:
        report.runs_created += created
        report.points_delivered += sent
    if run.path.name in report.failed or left:
        report.runs_left += 1
        report.points_left += left
        return
    if run.damaged:
        report.damaged[spool.put_aside(run.path).name] = run.damaged
        return
    report.runs_delivered += 1
    run.path.unlink(missing_ok=True)


def _deliver_params(tracking_uri: str, run_id: str, params: dict[str, str]) -> None:
    """A spooled run's Kedro parameters, with the run: those it holds already are not
    sent again (a second sync); one it holds with another value is kept, and said."""
    if not params:
        return
    conflicts = store.log_params(tracking_uri, run_id, params)
    for name, kept in conflicts.items():
        logger.warning(
            "kedro-metrics: run %s already has parameter %r = %s; the spooled value %s is "
            "not logged (MLflow params cannot change).", run_id, name, kept, params[name],
        )  # fmt: skip


def _deliver(
    run: spool.SpooledRun,
    tracking_uri: str,
    report: SyncReport,
    deadline: float | None,
    progress: _Progress,
) -> tuple[int, int]:
    """Send one claimed file, batch by batch until ``deadline``, each confirmed batch
    marked in the file; returns (points sent, runs created). Consecutive saves with
    one link go as one stream (``PendingStream``): to a tracking server several
    batches are in flight, across records. The run is ended only once every save is
    delivered."""
    header = run.header
    if not run.readable:  # no header: nothing was ever acknowledged, or it is damaged
        return 0, 0
    offline = header.get("run_id") is None
    if not offline and header.get("tracking_uri") != store.redact(tracking_uri):
        raise TrackingError(
            f"spooled for {header.get('tracking_uri')}, but the project's tracking URI is "
            f"{store.redact(tracking_uri)}; set it (metrics.yml `tracking_uri` or "
            "MLFLOW_TRACKING_URI) to that store to deliver this run."
        )
    created = 0
    sent = 0
    with spool.appender(run.path) as add:
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
            add({"kind": "created", "run_id": run_id})
            created = 1
        if offline:
            _deliver_params(tracking_uri, run_id, header.get("params") or {})
        for stream in run.pending_streams:

            def confirmed(first: int, count: int, stream: spool.PendingStream = stream) -> None:
                for seq, start, end in stream.marks(first, count):
                    add({"kind": "delivered", "seq": seq, "span": [start, end]}, sync=False)
                progress.add(count)

            done = store.log_points(
                tracking_uri, run_id, stream.points(), total=len(stream),
                on_batch=confirmed, deadline=deadline, link=stream.link,
            )  # fmt: skip
            sent += done
            if done < len(stream):
                return sent, created  # past the deadline: the rest waits for the next sync
        if header.get("owner"):
            # The writer is gone (we hold its lock): without an end record it was killed.
            end = run.end or {"status": "KILLED", "end_time": None}
            if end.get("meaning"):
                record_spooled_meaning(tracking_uri, run_id, end["meaning"])
            store.end_run(tracking_uri, run_id, status=end["status"], end_time=end["end_time"])
            report.runs_ended[run_id] = end["status"]
    return sent, created


def sync_on_start(directory: str, tracking_uri: str, *, within: float) -> None:
    """Deliver earlier runs' spools at the start of ``kedro run``, for about ``within``
    seconds (no batch starts later, and no request may take longer), and say what
    was done and what is left."""
    if not spool.spool_files(directory):
        return
    with store.request_timeout(within):
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
    for problem in report.problems:
        logger.warning("kedro-metrics: spool %s: %s", directory, problem)
