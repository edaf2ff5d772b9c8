"""The spool's files: what is written, read back, locked, and never holds."""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import subprocess
import sys
import textwrap

import pytest

from kedro_metrics import spool
from kedro_metrics.links import PointLink
from kedro_metrics.points import MetricPoint
from kedro_metrics.spool.lines import decode

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
        saved = writer.add_points(POINTS)
        (path,) = spool.spool_files(target.directory)
        run = spool.read(path)
        assert (saved.seqs, saved.points) == ((1,), 3)
        assert run.pending == [(1, 0, POINTS)]
        assert (run.run_id, run.header["tracking_uri"], run.header["owner"]) == (
            "run-1",
            "http://u:***@h:5000",
            True,
        )

    def test_delivered_saves_are_not_pending(self, target):
        """After mark_delivered only the other save is pending, in the file and the writer."""
        writer = spool.writer_for(target)
        first = writer.add_points(POINTS)
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


def curve(count: int) -> list[MetricPoint]:
    return [MetricPoint("m.curve", i / 4, i, 1_700_000_000_000) for i in range(count)]


class TestLargeSaves:
    """A save is spooled as records of ``CHUNK_POINTS`` points, drawn as they are
    written, fsync'd once, and all of them or none."""

    def test_a_save_is_one_record_per_thousand_points_and_one_fsync(self, target, monkeypatch):
        points = curve(2500)
        writer = spool.writer_for(target)
        fsyncs = []
        real_fsync = os.fsync
        monkeypatch.setattr(os, "fsync", lambda fd: (fsyncs.append(fd), real_fsync(fd)))
        saved = writer.add_points(points)
        assert len(fsyncs) == 1
        assert saved.records == ((1, 0, 1000), (2, 1000, 2000), (3, 2000, 2500))
        assert (saved.points, saved.seqs) == (2500, (1, 2, 3))
        records = [decode(line, checksummed=True) for line in writer.path.read_bytes().splitlines()]
        assert [
            (r["kind"], r.get("seq"), len(r.get("points", [])), r.get("more")) for r in records
        ] == [
            ("run", None, 0, None),
            ("points", 1, 1000, True), ("points", 2, 1000, True), ("points", 3, 500, None),
        ]  # fmt: skip
        assert spool.read(writer.path).pending == [
            (1, 0, points[:1000]), (2, 0, points[1000:2000]), (3, 0, points[2000:])
        ]  # fmt: skip
        assert writer.add_points(POINTS).seqs == (4,)

    def test_every_record_carries_the_saves_link(self, target):
        link = PointLink("test_split", "0123456789abcdef", "m-1")
        writer = spool.writer_for(target)
        writer.add_points(curve(1001), link)
        run = spool.read(writer.path)
        assert (run.link_of(1), run.link_of(2)) == (link, link)

    def test_a_batch_across_records_marks_each_part(self, target):
        """Batch [500, 1500) of a 2,500-point save ends half of record 1 and half of
        record 2; the rest stays pending in the file and the writer."""
        points = curve(2500)
        writer = spool.writer_for(target)
        saved = writer.add_points(points)
        writer.mark_delivered(saved, (500, 1500))
        marks = [
            decode(line, checksummed=True) for line in writer.path.read_bytes().splitlines()[4:]
        ]
        assert marks == [
            {"kind": "delivered", "seq": 1, "span": [500, 1000]},
            {"kind": "delivered", "seq": 2, "span": [0, 500]},
        ]
        assert spool.read(writer.path).pending == [
            (1, 0, points[:500]), (2, 500, points[1500:2000]), (3, 0, points[2000:])
        ]  # fmt: skip
        assert writer.pending_points == 1500
        writer.mark_delivered(saved, (2000, 2500))
        assert decode(writer.path.read_bytes().splitlines()[-1], checksummed=True) == {
            "kind": "delivered", "seq": 3
        }  # fmt: skip
        writer.mark_delivered(saved)
        assert (spool.read(writer.path).pending, writer.pending_points) == ([], 0)

    def test_a_refused_save_is_refused_in_every_record(self, target):
        writer = spool.writer_for(target)
        writer.add_points(POINTS)
        writer.mark_refused(writer.add_points(curve(2001)))
        assert spool.read(writer.path).pending == [(1, 0, POINTS)]
        assert writer.pending_points == len(POINTS)

    def test_a_failure_while_drawing_the_points_leaves_the_file_as_it_was(self, target):
        """Points that raise half-way (after a whole record was written) are not
        spooled at all: the error is the caller's, the file and numbering unchanged."""
        writer = spool.writer_for(target)
        writer.add_points(POINTS)
        before = writer.path.read_bytes()

        def failing():
            yield from curve(1500)
            raise ValueError("no more points")

        with pytest.raises(ValueError, match="no more points"):
            writer.add_points(failing())
        assert writer.path.read_bytes() == before
        assert (writer.pending_points, writer.add_points(POINTS[:1]).seqs) == (3, (2,))


FULL_DISK = textwrap.dedent(
    """
    import json, os, resource, signal, sys
    from kedro_metrics import spool
    from kedro_metrics.points import MetricPoint

    target = spool.SpoolTarget(sys.argv[1], spool.new_spool_id(), "run-1", "", owner_pid=os.getpid())
    writer = spool.writer_for(target)
    writer.add_points([MetricPoint("m.loss", 0.5, 0, 1)])
    before = writer.path.read_bytes()
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails: EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (len(before) + 60_000, resource.RLIM_INFINITY))
    try:
        writer.add_points([MetricPoint("m.curve", i / 4, i, 1) for i in range(5000)])
    except spool.SpoolWriteError as exc:
        error = str(exc)
    else:
        error = None
    print(json.dumps({
        "error": error, "unchanged": writer.path.read_bytes() == before,
        "pending": writer.pending_points, "next": writer.add_points([]).seqs,
    }))
    """
)


class TestAFullDisk:
    def test_a_save_the_disk_cannot_hold_leaves_no_record_of_it(self, tmp_path):
        """The file may grow by 60 kB, the save needs ~200 kB: two records fit,
        the save fails as a whole and the file is cut back to its one earlier save."""
        done = subprocess.run(
            [sys.executable, "-c", FULL_DISK, str(tmp_path)],
            capture_output=True, text=True, check=True, timeout=120,
        )  # fmt: skip
        result = json.loads(done.stdout)
        assert result["error"].startswith("Could not write to the spool file ")
        assert "File too large" in result["error"]
        assert (result["unchanged"], result["pending"], result["next"]) == (True, 1, [])


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
        seq = writer.add_points(POINTS)
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
