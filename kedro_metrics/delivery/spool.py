"""The durable local spool: points a save accepted, kept on disk until MLflow has them.

Files only, no mlflow. One append-only file per process and run
(``<spool_id>.<pid>.jsonl`` in the spool directory), one JSON record per line,
each write flushed and fsync'd before ``save`` returns:

- ``{"kind": "run", ...}`` first: the run (``run_id``, or none for a run spooled in
  offline mode), the *redacted* tracking URI, and what ``sync`` needs to create an
  offline run (experiment, name, tags, start time);
- ``{"kind": "points", "seq": n, "points": [[key, value, step, timestamp], ...]}``:
  one save;
- ``{"kind": "delivered", "seq": n}``: MLflow confirmed that save;
- ``{"kind": "refused", "seq": n}``: MLflow refused it (the save failed, loudly):
  nothing left to deliver;
- ``{"kind": "created", "run_id": ...}``: ``sync`` created the offline run;
- ``{"kind": "end", "status": ..., "end_time": ...}``: how the run ended, when the
  store could not be told.

A writer holds an exclusive ``flock`` on its file for as long as its process
lives, so ``sync`` never touches a file that is still being written, and knows
that the process of an unlocked file without an end record is gone (the run then
ends KILLED). ``sync`` itself holds ``.sync.lock`` in the directory: two syncs
never send the same point twice.

Spool files never hold credentials: the tracking URI is redacted by the caller,
and ``sync`` learns the real one from the project's settings at sync time.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kedro_metrics.errors import KedroMetricsError
from kedro_metrics.points import MetricPoint
from kedro_metrics.process import state

SUFFIX = ".jsonl"
SYNC_LOCK = ".sync.lock"


def new_spool_id() -> str:
    """A fresh id for a spooled run (the MLflow tag ``kedro_metrics.spool_id``)."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class SpoolTarget:
    """Where one run's points are spooled, and what its header says; travels with
    the datasets inside their delivery policy (picklable)."""

    directory: str
    spool_id: str
    #: The MLflow run; None for a run spooled in offline mode (sync creates it).
    run_id: str | None
    #: The tracking URI with credentials redacted.
    tracking_uri: str
    #: The process that started the run: only its file may end the run.
    owner_pid: int | None = None
    #: What sync needs to create an offline run.
    experiment: str | None = None
    run_name: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    start_time: int | None = None

    def header(self) -> dict[str, Any]:
        return {
            "kind": "run",
            "spool_id": self.spool_id,
            "run_id": self.run_id,
            "tracking_uri": self.tracking_uri,
            "owner": self.owner_pid == os.getpid(),
            "pid": os.getpid(),
            "experiment": self.experiment,
            "run_name": self.run_name,
            "tags": dict(self.tags),
            "start_time": self.start_time,
        }


class SpoolClosedError(KedroMetricsError):
    """A save reached a spool file its run already closed."""


class SpoolWriter:
    """The spool file of one run in this process: append, fsync, keep it locked.

    A ``late`` writer serves saves that come after this process ended the run (a
    thread still saving after Ctrl-C): a file of its own, whose header does not
    claim the run, so ``sync`` delivers its points without ending the run again.
    """

    def __init__(self, target: SpoolTarget, *, late: bool = False):
        directory = Path(target.directory)
        directory.mkdir(parents=True, exist_ok=True)
        name = f"{target.spool_id}.{os.getpid()}"
        if late:
            name += f".late-{uuid.uuid4().hex[:8]}"
        self.path = directory / f"{name}{SUFFIX}"
        self._lock = threading.Lock()
        self._seq = 0
        self._undelivered: dict[int, int] = {}  # seq -> number of points
        self.ended = False
        self.closed = False
        header = target.header()
        if late:
            header["owner"] = False
        # Locked and holding its header before sync can see it: a sync never finds
        # an unlocked, empty file of a writer that is starting (and removes it).
        starting = directory / f".{name}.starting"
        self._fd = os.open(starting, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_TRUNC, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        self._append(header, sync=True)
        os.replace(starting, self.path)
        _fsync_directory(directory)

    def add_points(self, points: Iterable[MetricPoint]) -> tuple[int, int]:
        """Append one save's points, fsync'd; returns (seq, number of points)."""
        rows = [[p.key, p.value, p.step, p.timestamp] for p in points]
        with self._lock:
            self._seq += 1
            seq = self._seq
            self._undelivered[seq] = len(rows)
        self._append({"kind": "points", "seq": seq, "points": rows}, sync=True)
        return seq, len(rows)

    def mark_delivered(self, seq: int) -> None:
        """MLflow has save ``seq``. Not fsync'd: a lost mark only means an identical
        resend, which MLflow ignores."""
        with self._lock:
            self._undelivered.pop(seq, None)
        self._append({"kind": "delivered", "seq": seq}, sync=False)

    def mark_refused(self, seq: int) -> None:
        """MLflow refused save ``seq`` (its caller was told): sync must not resend it."""
        with self._lock:
            self._undelivered.pop(seq, None)
        self._append({"kind": "refused", "seq": seq}, sync=True)

    def end(self, status: str, end_time: int) -> None:
        """Record how the run ended (the store could not be told)."""
        self.ended = True
        self._append({"kind": "end", "status": status, "end_time": end_time}, sync=True)

    @property
    def pending_points(self) -> int:
        with self._lock:
            return sum(self._undelivered.values())

    def close(self, *, remove: bool) -> None:
        """Close the file; ``remove`` it when nothing in it is left to deliver."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            if remove:
                self.path.unlink(missing_ok=True)
            os.close(self._fd)

    def _append(self, record: dict[str, Any], *, sync: bool) -> None:
        line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
        with self._lock:
            if self.closed:
                if record["kind"] in ("delivered", "refused"):
                    return  # the save stays pending: sync resends it, MLflow ignores it
                raise SpoolClosedError(f"The spool file {self.path} was closed: its run has ended.")
            os.write(self._fd, line)
            if sync:
                os.fsync(self._fd)


def _fsync_directory(directory: Path) -> None:
    """Make a new name in ``directory`` survive a power cut, not only a kill."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def writer_for(target: SpoolTarget) -> SpoolWriter:
    """This process's writer of ``target``'s run, opened on first use."""
    key = (target.directory, target.spool_id)
    with state.lock:
        writer = state.spool_writers.get(key)
        if writer is None:
            writer = SpoolWriter(target, late=key in state.closed_spools)
            state.spool_writers[key] = writer
    return writer


def existing_writer(target: SpoolTarget) -> SpoolWriter | None:
    """This process's writer of ``target``'s run, if it spooled anything."""
    with state.lock:
        return state.spool_writers.get((target.directory, target.spool_id))


def close_writer(target: SpoolTarget, *, remove: bool) -> None:
    key = (target.directory, target.spool_id)
    with state.lock:
        writer = state.spool_writers.pop(key, None)
        state.closed_spools.add(key)
    if writer is not None:
        writer.close(remove=remove)


# Reading and syncing ----------------------------------------------------------------


@dataclass
class SpooledRun:
    """What one spool file holds."""

    path: Path
    header: dict[str, Any]
    saves: dict[int, list[MetricPoint]] = field(default_factory=dict)
    #: Saves with nothing left to deliver (delivered, or refused by MLflow).
    delivered: set[int] = field(default_factory=set)
    end: dict[str, Any] | None = None
    created_run_id: str | None = None

    @property
    def run_id(self) -> str | None:
        return self.header.get("run_id") or self.created_run_id

    @property
    def pending(self) -> list[tuple[int, list[MetricPoint]]]:
        """The saves MLflow has not confirmed, in order."""
        return [(seq, pts) for seq, pts in sorted(self.saves.items()) if seq not in self.delivered]

    @property
    def pending_points(self) -> int:
        return sum(len(pts) for _, pts in self.pending)


def spool_files(directory: str | os.PathLike[str]) -> list[Path]:
    """The spool files in ``directory``, oldest first."""
    found = []
    for path in Path(directory).glob(f"*{SUFFIX}"):
        try:
            found.append((path.stat().st_mtime, path.name, path))
        except FileNotFoundError:
            continue  # delivered and removed by a sync meanwhile
    return [path for *_, path in sorted(found)]


def read(path: Path) -> SpooledRun:
    """Parse a spool file. A last line cut by ``kill -9`` was never acknowledged
    (its fsync did not return): it is skipped."""
    run: SpooledRun | None = None
    with path.open("rb") as handle:
        for raw in handle:
            try:
                record = json.loads(raw)
            except ValueError:
                continue  # a torn last write
            kind = record.get("kind")
            if kind == "run":
                run = run or SpooledRun(path, record)  # one header per file
            elif run is None:
                continue
            elif kind == "points":
                run.saves[record["seq"]] = [MetricPoint(*row) for row in record["points"]]
            elif kind in ("delivered", "refused"):
                run.delivered.add(record["seq"])
            elif kind == "end":
                run.end = record
            elif kind == "created":
                run.created_run_id = record["run_id"]
    if run is None:
        return SpooledRun(path, {"kind": "run", "spool_id": None, "run_id": None})
    return run


def append(path: Path, record: dict[str, Any]) -> None:
    """Append one record to a spool file sync has claimed, fsync'd."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, (json.dumps(record, separators=(",", ":")) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def claimed(path: Path) -> Iterator[bool]:
    """Try to lock a spool file without waiting; yields False when its writer still
    runs (or another sync has it)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        yield False
        return
    with _locked(fd) as mine:
        yield mine


@contextlib.contextmanager
def sync_lock(directory: str | os.PathLike[str]) -> Iterator[bool]:
    """The directory's sync lock; yields False when another sync holds it."""
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    with _locked(os.open(path / SYNC_LOCK, os.O_RDWR | os.O_CREAT, 0o600)) as mine:
        yield mine


@contextlib.contextmanager
def _locked(fd: int) -> Iterator[bool]:
    """An exclusive flock on ``fd`` if free (False if not); closes ``fd`` after."""
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)
