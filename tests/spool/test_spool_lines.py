"""The spool's record lines, read strictly: checksummed, damaged lines counted and
never guessed at, foreign formats refused whole, a torn last write skipped."""

from __future__ import annotations

import json
import math
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kedro_metrics.links import NO_LINK, PointLink
from kedro_metrics.points import MetricPoint
from kedro_metrics.spool.lines import (
    FORMAT,
    Pending,
    PendingStream,
    decode,
    encode,
    parse,
    well_formed,
)

PATH = Path("run.1.jsonl")
HEADER = {"kind": "run", "format": FORMAT, "spool_id": "abc", "run_id": "r1", "owner": True}
FIRST = [["m.loss", 0.2, 0, 1], ["m.loss", 0.1, 1, 2]]
SECOND = [["m.acc", 0.9, 0, 3]]
LINK = PointLink("test_split", "0123456789abcdef", step_models={0: ("m-1", "m-2")})


def file_of(*records: dict, legacy: bool = False) -> bytes:
    if legacy:
        return b"".join(json.dumps(r, separators=(",", ":")).encode() + b"\n" for r in records)
    return b"".join(encode(record) for record in records)


def points_file(legacy: bool = False) -> bytes:
    header = {k: v for k, v in HEADER.items() if k != "format"} if legacy else HEADER
    return file_of(
        header,
        {"kind": "points", "seq": 1, "points": FIRST},
        {"kind": "points", "seq": 2, "points": SECOND},
        legacy=legacy,
    )


def points_of(rows: list) -> list[MetricPoint]:
    return [MetricPoint(*row) for row in rows]


class TestLines:
    def test_a_line_is_json_a_tab_and_its_crc32(self):
        line = encode({"kind": "delivered", "seq": 3})
        body = b'{"kind":"delivered","seq":3}'
        assert line == body + b"\t" + b"%08x\n" % zlib.crc32(body)

    @given(
        st.lists(
            st.tuples(
                st.text(max_size=20),
                st.floats(allow_nan=False),
                st.integers(-(2**63), 2**63 - 1),
                st.integers(0, 2**63 - 1),
            ),
            max_size=20,
        )
    )
    def test_any_points_come_back_exactly(self, rows):
        record = {"kind": "points", "seq": 1, "points": [list(row) for row in rows]}
        assert decode(encode(record)[:-1], checksummed=True) == record

    def test_infinities_and_nan_survive(self):
        record = {
            "kind": "points",
            "seq": 1,
            "points": [["m", math.inf, 0, 0], ["m", -math.inf, 1, 0]],
        }
        assert decode(encode(record)[:-1], checksummed=True) == record
        (value,) = decode(encode({"v": math.nan})[:-1], checksummed=True).values()
        assert math.isnan(value)

    @pytest.mark.parametrize(
        "line", [b'{"kind":"end"}', b'{"kind":"end"}\t0000000', b'{"kind":"end"}\t00000000']
    )
    def test_a_line_without_its_checksum_is_refused(self, line):
        with pytest.raises(ValueError):
            decode(line, checksummed=True)


class TestWellFormed:
    @pytest.mark.parametrize(
        "record",
        [
            {"kind": "points", "points": FIRST},  # no seq
            {"kind": "points", "seq": "1", "points": FIRST},
            {"kind": "points", "seq": True, "points": FIRST},
            {"kind": "points", "seq": 1, "points": [["m", 0.1, 0, 1, "extra"]]},
            {"kind": "points", "seq": 1, "points": [["m", 0.1, 0]]},
            {"kind": "points", "seq": 1, "points": [["m", True, 0, 1]]},
            {"kind": "points", "seq": 1, "points": [["m", "0.1", 0, 1]]},
            {"kind": "points", "seq": 1, "points": [[1, 0.1, 0, 1]]},
            {"kind": "points", "seq": 1, "points": [["m", 0.1, 0.5, 1]]},
            {"kind": "points", "seq": 1, "points": {"m": 1}},
            {"kind": "points", "seq": 1, "points": FIRST, "link": {"model_id": 7}},
            {"kind": "points", "seq": 1, "points": FIRST, "link": {"dataset": "x"}},
            {"kind": "points", "seq": 1, "points": FIRST, "link": None},
            {"kind": "delivered"},
            {"kind": "delivered", "seq": 1, "span": [3, 3]},
            {"kind": "delivered", "seq": 1, "span": [-1, 3]},
            {"kind": "delivered", "seq": 1, "span": [0]},
            {"kind": "refused", "seq": None},
            {"kind": "created"},
            {"kind": "end", "status": "KILLED", "end_time": "now"},
            {"kind": "end", "end_time": 1},
            {"kind": "end", "status": "FAILED", "end_time": 1, "meaning": None},
            {"kind": "end", "status": "FAILED", "end_time": 1, "meaning": ["m.loss"]},
            {"kind": "run"},
        ],
    )
    def test_a_record_missing_what_its_kind_needs_is_not(self, record):
        assert not well_formed(record)

    @pytest.mark.parametrize(
        "record",
        [
            {"kind": "points", "seq": 1, "points": FIRST},
            {"kind": "points", "seq": 1, "points": []},
            {"kind": "points", "seq": 1, "points": FIRST, "link": LINK.as_record()},
            {"kind": "delivered", "seq": 1},
            {"kind": "delivered", "seq": 1, "span": [0, 1000]},
            {"kind": "refused", "seq": 2},
            {"kind": "created", "run_id": "r2"},
            {"kind": "end", "status": "FAILED", "end_time": None},
            {"kind": "end", "status": "FAILED", "end_time": 1, "meaning": {"*": {}}},
            HEADER,
        ],
    )
    def test_records_as_written_are(self, record):
        assert well_formed(record)


class TestParse:
    def test_a_saves_link_comes_back_with_its_pending_points(self):
        run = parse(
            PATH,
            file_of(
                HEADER,
                {"kind": "points", "seq": 1, "points": FIRST, "link": LINK.as_record()},
                {"kind": "points", "seq": 2, "points": SECOND},
                {"kind": "delivered", "seq": 1, "span": [0, 1]},
            ),
        )
        assert run.pending == [
            Pending(1, 1, points_of(FIRST[1:])),
            Pending(2, 0, points_of(SECOND)),
        ]
        assert (run.link_of(1), run.link_of(2)) == (LINK, NO_LINK)

    def test_a_damaged_link_is_a_damaged_record_not_a_save_without_links(self):
        run = parse(
            PATH,
            file_of(HEADER, {"kind": "points", "seq": 1, "points": FIRST, "link": {"x": 1}}),
        )
        assert (run.damaged, run.pending) == (1, [])

    def test_a_file_reads_back(self):
        run = parse(PATH, points_file())
        assert (run.run_id, run.damaged, run.foreign) == ("r1", 0, None)
        assert run.pending == [Pending(1, 0, points_of(FIRST)), Pending(2, 0, points_of(SECOND))]

    def test_a_format_1_file_still_reads(self):
        """Files written before checksums (no "format" in the header) are delivered."""
        run = parse(PATH, points_file(legacy=True))
        assert (run.damaged, run.foreign, run.pending_points) == (0, None, 3)

    def test_a_torn_last_write_is_skipped_not_counted(self):
        data = points_file() + encode({"kind": "points", "seq": 3, "points": SECOND})[:-9]
        run = parse(PATH, data)
        assert (run.damaged, run.pending_points) == (0, 3)

    def test_a_save_of_several_records_is_read_whole(self):
        data = points_file() + encode({"kind": "points", "seq": 3, "points": FIRST, "more": True})
        data += encode({"kind": "points", "seq": 4, "points": SECOND})
        run = parse(PATH, data)
        assert (run.damaged, sorted(run.saves), run.pending_points) == (0, [1, 2, 3, 4], 6)

    def test_a_save_whose_last_record_never_came_is_skipped_not_counted(self):
        """kill -9 between a save's records, before its fsync: never acknowledged,
        so not delivered, even when sync's own marks follow it in the file."""
        data = points_file() + encode({"kind": "points", "seq": 3, "points": FIRST, "more": True})
        data += encode({"kind": "points", "seq": 4, "points": SECOND, "more": True})
        data += encode({"kind": "created", "run_id": "r2"})
        run = parse(PATH, data)
        assert (run.damaged, sorted(run.saves), run.pending_points) == (0, [1, 2], 3)

    def test_a_save_whose_middle_is_missing_is_damage(self):
        data = points_file() + encode({"kind": "points", "seq": 3, "points": FIRST, "more": True})
        data += encode({"kind": "points", "seq": 5, "points": SECOND})
        run = parse(PATH, data)
        assert (run.damaged, sorted(run.saves)) == (1, [1, 2, 5])

    def test_more_that_is_not_a_boolean_is_damage(self):
        data = points_file() + encode({"kind": "points", "seq": 3, "points": FIRST, "more": 1})
        assert parse(PATH, data).damaged == 1

    def test_a_changed_digit_is_damage_not_a_wrong_value(self):
        """0.2 -> 0.7 in the first save: that save is not delivered, the file says so."""
        data = points_file().replace(b'"m.loss",0.2', b'"m.loss",0.7', 1)
        run = parse(PATH, data)
        assert (run.damaged, run.pending) == (1, [Pending(2, 0, points_of(SECOND))])

    def test_a_non_utf8_byte_in_a_key_is_damage(self):
        data = points_file().replace(b'"m.acc"', b'"m.\xffcc"', 1)
        assert parse(PATH, data).damaged == 1

    def test_a_damaged_header_leaves_nothing_readable(self):
        data = points_file().replace(b'"spool_id":"abc"', b'"spool_id":"abd"', 1)
        run = parse(PATH, data)
        assert (run.readable, run.damaged, run.saves) == (False, 1, {})

    @pytest.mark.parametrize(
        "line", [b"[1,2,3]", b"42", encode([1, 2, 3])[:-1], encode(42)[:-1], b"\x00\x01garbage"]
    )
    def test_a_line_that_is_not_a_record_is_damage(self, line):
        data = points_file() + line + b"\n" + encode({"kind": "delivered", "seq": 2})
        run = parse(PATH, data)
        assert (run.damaged, run.pending_points) == (1, 2)

    def test_a_row_with_an_extra_column_is_damage(self):
        extra = encode({"kind": "points", "seq": 3, "points": [["m.x", 1.0, 0, 1, 9]]})
        run = parse(PATH, points_file() + extra)
        assert (run.damaged, sorted(run.saves)) == (1, [1, 2])

    @pytest.mark.parametrize("version", [3, 99, "2", None])
    def test_another_format_is_foreign(self, version):
        data = file_of({**HEADER, "format": version}, {"kind": "points", "seq": 1, "points": FIRST})
        run = parse(PATH, data)
        assert (run.foreign, run.saves) == (f"it is in spool format {version!r}", {})

    def test_another_format_without_checksums_is_foreign(self):
        data = file_of({**HEADER, "format": 3}, {"kind": "points", "seq": 1}, legacy=True)
        assert parse(PATH, data).foreign == "it is in spool format 3"

    def test_an_unknown_record_kind_makes_the_file_foreign(self):
        data = points_file() + encode({"kind": "points_v2", "seq": 3})
        assert parse(PATH, data).foreign == "it holds a record of kind 'points_v2'"

    def test_an_empty_file_holds_nothing_and_no_damage(self):
        run = parse(PATH, b"")
        assert (run.readable, run.damaged, run.pending_points) == (False, 0, 0)

    def test_batch_marks_leave_only_the_gaps_pending(self):
        rows = [["m", float(i), i, 0] for i in range(10)]
        data = file_of(
            HEADER,
            {"kind": "points", "seq": 1, "points": rows},
            {"kind": "delivered", "seq": 1, "span": [0, 3]},
            {"kind": "delivered", "seq": 1, "span": [5, 7]},
        )
        run = parse(PATH, data)
        assert run.pending == [
            Pending(1, 3, points_of(rows[3:5])),
            Pending(1, 7, points_of(rows[7:])),
        ]

    def test_a_whole_save_mark_leaves_nothing_pending(self):
        data = points_file() + encode({"kind": "delivered", "seq": 1, "span": [0, 1]})
        data += encode({"kind": "delivered", "seq": 1})
        assert parse(PATH, data).pending == [Pending(2, 0, points_of(SECOND))]


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_changed_byte_is_reported_and_never_delivered_wrong(data):
    """Any byte of a file changed to any other (except the very last newline, which
    makes the last record a torn write): never a point that was not written, and the
    damage is reported."""
    original = points_file() + encode({"kind": "delivered", "seq": 1, "span": [0, 1]})
    position = data.draw(st.integers(0, len(original) - 2))
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != original[position]))
    changed = original[:position] + bytes([byte]) + original[position + 1 :]
    run = parse(PATH, changed)
    written = set(points_of(FIRST + SECOND))
    assert {point for part in run.pending for point in part.points} <= written
    assert run.damaged >= 1 or run.foreign is not None


@given(st.lists(st.tuples(st.integers(0, 30), st.integers(1, 30)), max_size=8), st.integers(0, 40))
def test_pending_parts_are_exactly_what_no_mark_covers(spans, length):
    rows = [["m", float(i), i, 0] for i in range(length)]
    marks = [
        {"kind": "delivered", "seq": 1, "span": [first, first + size]} for first, size in spans
    ]
    run = parse(PATH, file_of(HEADER, {"kind": "points", "seq": 1, "points": rows}, *marks))
    covered = {i for first, size in spans for i in range(first, first + size)}
    pending = [
        (part.offset + index, point)
        for part in run.pending
        for index, point in enumerate(part.points)
    ]
    assert pending == [(i, MetricPoint(*rows[i])) for i in range(length) if i not in covered]


class TestPendingStreams:
    """Consecutive pending saves with one link are one stream; a confirmed range of
    the stream is marked on each save it covers, in the save's own indices."""

    def test_saves_with_one_link_are_one_stream_another_link_starts_one(self):
        """Saves 1 and 2 unlinked, 3 linked, 4 unlinked: three streams, in order."""
        saves = [{"kind": "points", "seq": seq, "points": FIRST} for seq in (1, 2, 4)]
        linked = {"kind": "points", "seq": 3, "points": SECOND, "link": LINK.as_record()}
        run = parse(PATH, file_of(HEADER, *saves[:2], linked, saves[2]))
        streams = run.pending_streams
        assert [(s.link, [p.seq for p in s.parts], len(s)) for s in streams] == [
            (NO_LINK, [1, 2], 4), (LINK, [3], 1), (NO_LINK, [4], 2),
        ]  # fmt: skip
        assert list(streams[0].points()) == points_of(FIRST) * 2

    def test_a_batch_across_two_saves_marks_both(self):
        """Save 1 pending from 500 (of 1,000), save 2 whole (1,000): stream points 400
        to 700 are 900-1,000 of save 1 and 0-200 of save 2."""
        one = Pending(1, 500, [MetricPoint("m", 0.0, i, 0) for i in range(500)])
        two = Pending(2, 0, [MetricPoint("m", 0.0, i, 0) for i in range(1000)])
        stream = PendingStream(NO_LINK, (one, two))
        assert (len(stream), stream.starts) == (1500, (0, 500))
        assert stream.marks(400, 300) == [(1, 900, 1000), (2, 0, 200)]
        assert stream.marks(0, 500) == [(1, 500, 1000)]
        assert stream.marks(1000, 500) == [(2, 500, 1000)]


@given(
    st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), min_size=1, max_size=6),
    st.integers(1, 25),
)
def test_a_stream_s_batches_mark_exactly_its_pending_points(parts, batch):
    """Parts (offset, size) sent in batches of ``batch``: the marks cover each part's
    range [offset, offset + size) exactly once, whatever the batch boundaries."""
    pending = tuple(
        Pending(seq, offset, [MetricPoint("m", 0.0, i, 0) for i in range(size)])
        for seq, (offset, size) in enumerate(parts, start=1)
    )
    stream = PendingStream(NO_LINK, pending)
    marked = [
        (seq, index)
        for first in range(0, len(stream), batch)
        for seq, start, end in stream.marks(first, min(batch, len(stream) - first))
        for index in range(start, end)
    ]
    assert marked == [
        (seq, index)
        for seq, (offset, size) in enumerate(parts, start=1)
        for index in range(offset, offset + size)
    ]
