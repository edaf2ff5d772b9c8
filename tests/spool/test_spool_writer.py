"""The spool's files: what is written, read back, locked, and never holds."""

from __future__ import annotations

import math
import multiprocessing
import os

import pytest

from kedro_metrics import spool
from kedro_metrics.links import PointLink
from kedro_metrics.points import MetricPoint

POINTS = [
    MetricPoint("m.loss", 0.5, 0, 1),
    MetricPoint("m.loss", math.inf, 1, 2),
    MetricPoint("m.x", -0.0, 0, 3),
]


@pytest.fixture
def target(tmp_path):
    made = spool.SpoolTarget(
        str(tmp_path / "spool"),
        spool.new_spool_id(),
        "run-1",
        "http://u:***@h:5000",
        owner_pid=os.getpid(),
    )
    yield made
    spool.close_writer(made, remove=False)


def _hold_lock(path: str, ready, done) -> None:
    import fcntl

    fd = os.open(path, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    ready.set()
    done.wait(10)


class TestWriteAndRead:
    """A save's points come back exactly; delivered saves are not pending."""

    def test_a_saves_link_is_written_with_its_points(self, target):
        link = PointLink("test_split", "0123456789abcdef", "m-1")
        writer = spool.writer_for(target)
        writer.add_points(POINTS, link)
        writer.add_points(POINTS[:1])
        (path,) = spool.spool_files(target.directory)
        run = spool.read(path)
        assert run.pending == [(1, 0, POINTS), (2, 0, POINTS[:1])]
        assert (run.link_of(1), run.link_of(2)) == (link, PointLink())

    def test_round_trip(self, target):
        """Points (inf included) read back exactly; the header names run, URI and owner."""
        writer = spool.writer_for(target)
        seq, count = writer.add_points(POINTS)
        (path,) = spool.spool_files(target.directory)
        run = spool.read(path)
        assert (seq, count) == (1, 3)
        assert run.pending == [(1, 0, POINTS)]
        assert (run.run_id, run.header["tracking_uri"], run.header["owner"]) == (
            "run-1",
            "http://u:***@h:5000",
            True,
        )

    def test_delivered_saves_are_not_pending(self, target):
        """After mark_delivered only the other save is pending, in the file and the writer."""
        writer = spool.writer_for(target)
        first, _ = writer.add_points(POINTS)
        writer.add_points(POINTS[:1])
        writer.mark_delivered(first)
        (path,) = spool.spool_files(target.directory)
        assert spool.read(path).pending_points == 1
        assert writer.pending_points == 1

    def test_a_torn_last_line_is_skipped(self, target):
        """A write cut by kill -9 (never acknowledged) is ignored, the rest is read."""
        writer = spool.writer_for(target)
        writer.add_points(POINTS)
        with writer.path.open("ab") as handle:
            handle.write(b'{"kind":"points","seq":2,"points":[["m.loss",1.0')
        assert spool.read(writer.path).pending == [(1, 0, POINTS)]

    def test_end_is_recorded(self, target):
        """The run's end status and time are read back."""
        writer = spool.writer_for(target)
        writer.end("FAILED", 123)
        assert spool.read(writer.path).end == {"kind": "end", "status": "FAILED", "end_time": 123}

    def test_end_keeps_the_declarations_the_store_did_not_get(self, target):
        """The end record carries ``Declarations.as_json`` for sync to record."""
        meaning = {"m.loss": {"direction": "min", "format": ".4f", "summary": ["min"]}}
        writer = spool.writer_for(target)
        writer.end("FINISHED", 7, meaning=meaning)
        assert spool.read(writer.path).end == {
            "kind": "end", "status": "FINISHED", "end_time": 7, "meaning": meaning
        }  # fmt: skip

    def test_close_removes_when_asked(self, target):
        """close_writer(remove=True) leaves no file."""
        spool.writer_for(target).add_points(POINTS)
        spool.close_writer(target, remove=True)
        assert spool.spool_files(target.directory) == []


class TestAfterTheRunEnded:
    """Saves and confirmations that come after this process closed the run's file."""

    def test_a_later_save_gets_a_late_file_that_does_not_claim_the_run(self, target):
        """The first file keeps its header and points; the late one has its own header
        (owner false: sync will not end the run again) and numbering."""
        first = spool.writer_for(target)
        first.add_points(POINTS)
        first.end("KILLED", 7)
        spool.close_writer(target, remove=False)
        late = spool.writer_for(target)
        late.add_points(POINTS[:1])
        spool.close_writer(target, remove=False)
        runs = {path.name: spool.read(path) for path in spool.spool_files(target.directory)}
        assert sorted(runs) == sorted([first.path.name, late.path.name])
        assert late.path.name.startswith(f"{target.spool_id}.{os.getpid()}.late-")
        kept, extra = runs[first.path.name], runs[late.path.name]
        assert (kept.header["owner"], kept.pending, kept.end["status"]) == (
            True,
            [(1, 0, POINTS)],
            "KILLED",
        )
        assert (extra.header["owner"], extra.pending, extra.end) == (
            False,
            [(1, 0, POINTS[:1])],
            None,
        )

    def test_a_confirmation_after_close_is_dropped_not_written_elsewhere(self, target, tmp_path):
        """The closed file's descriptor may be reused by another file: nothing is
        written to it, and the save stays pending in the spool (sync resends it)."""
        writer = spool.writer_for(target)
        seq, _ = writer.add_points(POINTS)
        spool.close_writer(target, remove=False)
        other = tmp_path / "other.txt"
        fd = os.open(other, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            writer.mark_delivered(seq)
        finally:
            os.close(fd)
        assert other.read_bytes() == b""
        assert spool.read(writer.path).pending == [(1, 0, POINTS)]

    def test_a_save_to_a_closed_writer_says_so(self, target):
        writer = spool.writer_for(target)
        spool.close_writer(target, remove=False)
        with pytest.raises(spool.SpoolClosedError, match="was closed: its run has ended"):
            writer.add_points(POINTS)

    def test_a_second_header_never_drops_earlier_saves(self, target):
        """Reading keeps the first header and every save after it."""
        writer = spool.writer_for(target)
        writer.add_points(POINTS)
        with spool.appender(writer.path) as add:
            add({**target.header(), "run_id": "other"})
        assert (spool.read(writer.path).run_id, spool.read(writer.path).pending) == (
            "run-1",
            [(1, 0, POINTS)],
        )


class TestLocks:
    """A live writer's file cannot be claimed; two syncs never hold the lock at once."""

    def test_a_file_in_use_cannot_be_claimed(self, target, tmp_path):
        """While another process holds the file's lock, claimed() is False; after, True."""
        writer = spool.writer_for(target)
        spool.close_writer(target, remove=False)
        context = multiprocessing.get_context("spawn")
        ready, done = context.Event(), context.Event()
        holder = context.Process(target=_hold_lock, args=(str(writer.path), ready, done))
        holder.start()
        try:
            assert ready.wait(30)
            with spool.claimed(writer.path) as mine:
                assert mine is False
        finally:
            done.set()
            holder.join(30)
        with spool.claimed(writer.path) as mine:
            assert mine is True

    def test_sync_lock_is_exclusive(self, tmp_path):
        """A second sync_lock on the same directory is refused while the first is held."""
        with spool.sync_lock(tmp_path) as first, spool.sync_lock(tmp_path) as second:
            assert (first, second) == (True, False)
        with spool.sync_lock(tmp_path) as again:
            assert again is True
