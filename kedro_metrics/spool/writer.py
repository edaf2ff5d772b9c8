"""Writing the spool: this process's file of one run, each record appended whole
(or not at all) and fsync'd, kept locked while the process lives.

A write the disk does not take whole (a full disk, a file size limit) is undone (the
file is cut back to where it was) and raised as ``SpoolWriteError``: a save is never
told its points are kept when they are not.
"""

from __future__ import annotations

import errno
import fcntl
import itertools
import os
import threading
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kedro_metrics.errors import KedroMetricsError
from kedro_metrics.links import NO_LINK, PointLink
from kedro_metrics.points import MetricPoint
from kedro_metrics.process import state
from kedro_metrics.spool.lines import FORMAT, encode

#: Points per ``points`` record: a save is spooled in records of this many points
#: (MLflow's own batch size), so no record, and no line read back, is ever large.
CHUNK_POINTS = 1000
#: Every spool file's name ends so: ``<spool_id>.<pid>[.late-<n>].jsonl``.
SUFFIX = ".jsonl"


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
    #: The run's Kedro parameters as MLflow params (metrics.yml ``log_params``).
    params: dict[str, str] = field(default_factory=dict)

    def header(self) -> dict[str, Any]:
        return {
            "kind": "run",
            "format": FORMAT,
            "spool_id": self.spool_id,
            "run_id": self.run_id,
            "tracking_uri": self.tracking_uri,
            "owner": self.owner_pid == os.getpid(),
            "pid": os.getpid(),
            "experiment": self.experiment,
            "run_name": self.run_name,
            "tags": dict(self.tags),
            "start_time": self.start_time,
            "params": dict(self.params),
        }


class SpoolClosedError(KedroMetricsError):
    """A save reached a spool file its run already closed."""


class SpoolWriteError(KedroMetricsError):
    """The disk did not take a spool record whole (a full disk, say); the record was
    undone, so nothing in the file claims it."""


def write_fully(fd: int, line: bytes, *, sync: bool, path: Path) -> None:
    """Append ``line`` to ``fd`` whole (and fsync it), or leave the file as it was
    and raise ``SpoolWriteError``."""
    append_whole(fd, (line,), sync=sync, path=path)


def append_whole(fd: int, lines: Iterable[bytes], *, sync: bool, path: Path) -> None:
    """Append every line of ``lines`` (drawn one at a time) to ``fd`` and fsync
    once, or leave the file as it was: a disk that does not take them all (an
    ``OSError``: ``SpoolWriteError``), or anything raised while drawing them,
    cuts the file back to where it was."""
    size = os.fstat(fd).st_size
    try:
        for line in lines:
            view = memoryview(line)
            while view:
                written = os.write(fd, view)
                if not written:
                    raise OSError(errno.EIO, "the disk took no byte")
                view = view[written:]
        if sync:
            os.fsync(fd)
    except BaseException as exc:
        try:
            os.ftruncate(fd, size)
        except OSError:
            cut = "; the cut record stays in the file (sync counts it as damaged)"
        else:
            cut = ""
        if not isinstance(exc, OSError):
            raise
        raise SpoolWriteError(f"Could not write to the spool file {path}: {exc}{cut}.") from None


@dataclass(frozen=True)
class SpooledSave:
    """Where one save's points are in its spool file: one ``points`` record per
    ``CHUNK_POINTS`` points, each as (seq, first, end), the save's points
    ``first`` to ``end``."""

    records: tuple[tuple[int, int, int], ...]

    @property
    def points(self) -> int:
        return self.records[-1][2] if self.records else 0

    @property
    def seqs(self) -> tuple[int, ...]:
        return tuple(seq for seq, _, _ in self.records)

    def parts(self, span: tuple[int, int] | None) -> list[tuple[int, tuple[int, int] | None, int]]:
        """The records that ``span`` (of the save's points; None: all of them)
        covers: (seq, the span within the record or None when it covers all of
        it, number of points)."""
        first, end = span if span is not None else (0, self.points)
        covered = []
        for seq, start, stop in self.records:
            low, high = max(first, start), min(end, stop)
            if low < high:
                whole = (low, high) == (start, stop)
                covered.append((seq, None if whole else (low - start, high - start), high - low))
        return covered


class SpoolWriter:
    """The spool file of one run in this process: append, fsync, keep it locked.

    A ``late`` writer serves saves that come after this process ended the run (a
    thread still saving after Ctrl-C): a file of its own, whose header does not
    claim the run, so ``sync`` delivers its points without ending the run again.
    """

    def __init__(self, target: SpoolTarget, *, late: bool = False):
        directory = Path(target.directory)
        name = f"{target.spool_id}.{os.getpid()}"
        if late:
            name += f".late-{uuid.uuid4().hex[:8]}"
        self.path = directory / f"{name}{SUFFIX}"
        self.target = target
        self._lock = threading.Lock()
        self._seq = 0
        self._undelivered: dict[int, int] = {}  # seq -> number of points not confirmed
        self.ended = False
        self.closed = False
        header = target.header()
        if late:
            header["owner"] = False
        self._fd = self._create(directory, name, header)

    def _create(self, directory: Path, name: str, header: dict[str, Any]) -> int:
        """The file, locked and holding its header before sync can see it: a sync
        never finds an unlocked, empty file of a writer that is starting (and
        removes it)."""
        starting = directory / f".{name}.starting"
        try:
            directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(starting, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_TRUNC, 0o600)
        except OSError as exc:
            raise SpoolWriteError(f"Could not create the spool file {self.path}: {exc}.") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            write_fully(fd, encode(header), sync=True, path=self.path)
            os.replace(starting, self.path)
            _fsync_directory(directory)
        except (OSError, SpoolWriteError) as exc:
            os.close(fd)
            starting.unlink(missing_ok=True)
            if isinstance(exc, SpoolWriteError):
                raise
            raise SpoolWriteError(f"Could not create the spool file {self.path}: {exc}.") from None
        return fd

    def add_points(self, points: Iterable[MetricPoint], link: PointLink = NO_LINK) -> SpooledSave:
        """Append one save's points (and their ``link``), fsync'd once: a record per
        ``CHUNK_POINTS`` points, encoded as they are drawn from ``points``, so a
        million-point save is never held whole; every record but the save's last
        says ``"more": true``. All or nothing: when the disk does not take every
        record, none of them stays; when the process dies between them, the
        records written so far are a save never acknowledged, which sync skips.

        Raises:
            SpoolWriteError: the disk did not take them; they are not in the file.
        """
        extra = {"link": link.as_record()} if not link.empty else {}
        with self._lock:
            self._check_open()
            first_seq, records = self._seq, []

            def chunks() -> Iterator[list[list[Any]]]:
                drawn = iter(points)
                while rows := [
                    [p.key, p.value, p.step, p.timestamp]
                    for p in itertools.islice(drawn, CHUNK_POINTS)
                ]:
                    yield rows

            def lines() -> Iterator[bytes]:
                at, drawn = 0, chunks()
                rows = next(drawn, None)
                while rows is not None:
                    seq = first_seq + len(records) + 1
                    following = next(drawn, None)
                    more = {"more": True} if following is not None else {}
                    yield encode({"kind": "points", "seq": seq, "points": rows, **more, **extra})
                    records.append((seq, at, at + len(rows)))
                    at += len(rows)
                    rows = following

            append_whole(self._fd, lines(), sync=True, path=self.path)
            self._seq = first_seq + len(records)
            for seq, first, end in records:
                self._undelivered[seq] = end - first
        return SpooledSave(tuple(records))

    def mark_delivered(self, save: SpooledSave, span: tuple[int, int] | None = None) -> None:
        """MLflow has ``save`` (only its points ``span`` = [first, end) when given:
        one batch). Not fsync'd: a lost mark only means an identical resend, which
        MLflow ignores; a mark the disk did not take is dropped for that reason
        too."""
        with self._lock:
            for seq, part, count in save.parts(span):
                if seq not in self._undelivered:
                    continue
                record: dict[str, Any] = {"kind": "delivered", "seq": seq}
                if part is not None:
                    record["span"] = list(part)
                if not self._take(record, sync=False):
                    return
                left = self._undelivered[seq] - count
                if part is None or left <= 0:
                    del self._undelivered[seq]
                else:
                    self._undelivered[seq] = left

    def mark_refused(self, save: SpooledSave) -> None:
        """MLflow refused ``save`` (its caller was told): sync must not resend it."""
        with self._lock:
            for seq in save.seqs:
                if self._take({"kind": "refused", "seq": seq}, sync=True):
                    self._undelivered.pop(seq, None)

    def end(self, status: str, end_time: int, *, meaning: dict[str, Any] | None = None) -> None:
        """Record how the run ended (the store could not be told), and the declarations
        of what its metrics mean that the store was not given."""
        self.ended = True
        record: dict[str, Any] = {"kind": "end", "status": status, "end_time": end_time}
        if meaning:
            record["meaning"] = meaning
        with self._lock:
            self._write(record, sync=True)

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

    def _take(self, mark: dict[str, Any], *, sync: bool) -> bool:
        """Write a delivery mark (lock held): False when it could not be (the save
        stays pending, so sync resends it and MLflow ignores the resend)."""
        if self.closed:
            return False
        try:
            write_fully(self._fd, encode(mark), sync=sync, path=self.path)
        except SpoolWriteError:
            return False
        return True

    def _check_open(self) -> None:
        if self.closed:
            raise SpoolClosedError(f"The spool file {self.path} was closed: its run has ended.")

    def _write(self, record: dict[str, Any], *, sync: bool) -> None:
        self._check_open()
        write_fully(self._fd, encode(record), sync=sync, path=self.path)


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


def unowned_writers() -> list[SpoolWriter]:
    """This process's open writers of runs it did not start (saves outside ``kedro
    run``: a script, a notebook, to a run id of their own)."""
    with state.lock:
        return [w for w in state.spool_writers.values() if w.target.owner_pid is None]


def close_writer(target: SpoolTarget, *, remove: bool) -> None:
    key = (target.directory, target.spool_id)
    with state.lock:
        writer = state.spool_writers.pop(key, None)
        state.closed_spools.add(key)
    if writer is not None:
        writer.close(remove=remove)
