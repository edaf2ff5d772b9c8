"""What a spool file says: its record lines, their checksums, and a whole file's
bytes read back as a ``SpooledRun``. No I/O: bytes in, records out.

Format 2 (this version writes it): every line is one compact JSON object, a tab,
and the CRC-32 of the JSON as 8 hex digits. The first record is the run's header
and names the format (``"format": 2``). Format 1 (kedro-metrics before the
checksums) is plain JSON lines with no ``format`` in the header; it is still read.

Reading is strict, because a point is only "kept" if it comes back as it was
written:

- a last line without its newline is a write cut by ``kill -9`` (its ``fsync``
  never returned, so no save claimed it): skipped;
- a save is one or more ``points`` records of consecutive seqs, each but the last
  saying ``"more": true``; records of a save whose last record never came (the
  process died between them, before the save's ``fsync``) are a save never
  acknowledged: skipped, like a torn last line;
- any other line that does not decode, fails its checksum, or is not a record of
  its kind's shape is **damaged**: counted, never guessed at;
- a header of another format, or a record of a kind this version does not know,
  makes the whole file **foreign**: nothing in it is delivered, it is kept for the
  version that wrote it.
"""

from __future__ import annotations

import bisect
import itertools
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from kedro_metrics.links import NO_LINK, PointLink
from kedro_metrics.points import MetricPoint

#: The format this version writes.
FORMAT = 2
#: The format of files written before checksums (still read).
LEGACY_FORMAT = 1
KINDS = frozenset({"run", "points", "delivered", "refused", "created", "end"})
_TAB = b"\t"
_CHECKSUM_DIGITS = 8


def encode(record: dict[str, Any]) -> bytes:
    """One record as a line of the current format: JSON, tab, CRC-32, newline."""
    body = json.dumps(record, separators=(",", ":"), ensure_ascii=True, allow_nan=True).encode()
    return body + _TAB + f"{zlib.crc32(body):08x}".encode() + b"\n"


def decode(line: bytes, *, checksummed: bool) -> Any:
    """The JSON value of one line (without its newline); ``ValueError`` when the
    line does not decode or its checksum does not match."""
    body = line
    if checksummed:
        body, tab, digits = line.rpartition(_TAB)
        if not tab or len(digits) != _CHECKSUM_DIGITS:
            raise ValueError("no checksum")
        if f"{zlib.crc32(body):08x}".encode() != digits:
            raise ValueError("checksum mismatch")
    return json.loads(body)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_row(row: Any) -> bool:
    return (
        isinstance(row, list)
        and len(row) == 4  # noqa: PLR2004 - key, value, step, timestamp
        and isinstance(row[0], str)
        and _is_number(row[1])
        and _is_int(row[2])
        and _is_int(row[3])
    )


def _is_span(span: Any) -> bool:
    return (
        isinstance(span, list)
        and len(span) == 2  # noqa: PLR2004 - [first, end)
        and all(_is_int(i) for i in span)
        and 0 <= span[0] < span[1]
    )


def well_formed(record: dict[str, Any]) -> bool:
    """Does ``record`` (of a known kind) have the fields its kind needs?"""
    kind = record["kind"]
    seq = record.get("seq")
    if kind == "points":
        rows = record.get("points")
        return (
            _is_int(seq)
            and isinstance(rows, list)
            and all(_is_row(row) for row in rows)
            and isinstance(record.get("more", False), bool)
            and ("link" not in record or PointLink.from_record(record["link"]) is not None)
        )
    if kind == "delivered":
        return _is_int(seq) and ("span" not in record or _is_span(record["span"]))
    if kind == "refused":
        return _is_int(seq)
    if kind == "created":
        return isinstance(record.get("run_id"), str)
    if kind == "end":
        end_time = record.get("end_time")
        return (
            isinstance(record.get("status"), str)
            and (end_time is None or _is_int(end_time))
            and isinstance(record.get("meaning", {}), dict)
        )
    return isinstance(record.get("spool_id"), str)  # a second "run" header


class Pending(NamedTuple):
    """Points of one save MLflow has not confirmed: ``points`` start at ``offset``."""

    seq: int
    offset: int
    points: list[MetricPoint]


@dataclass(frozen=True)
class PendingStream:
    """Consecutive pending parts whose points share one link, sent as one stream, so
    that batches cross records and several are in flight at once. ``marks`` says
    which saves a confirmed range of the stream belongs to."""

    link: PointLink
    parts: tuple[Pending, ...]
    #: Where each part starts in the stream.
    starts: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        sizes = [len(part.points) for part in self.parts]
        object.__setattr__(self, "starts", tuple(itertools.accumulate(sizes, initial=0))[:-1])

    def __len__(self) -> int:
        return self.starts[-1] + len(self.parts[-1].points) if self.parts else 0

    def points(self) -> Iterator[MetricPoint]:
        for part in self.parts:
            yield from part.points

    def marks(self, first: int, count: int) -> list[tuple[int, int, int]]:
        """``(seq, start, end)`` of each save holding points ``first`` to ``first +
        count`` of the stream, in the save's own indices (a ``delivered`` span)."""
        end = first + count
        found = []
        for index in range(max(bisect.bisect_right(self.starts, first) - 1, 0), len(self.parts)):
            part, at = self.parts[index], self.starts[index]
            if at >= end:
                break
            low, high = max(first, at), min(end, at + len(part.points))
            if low < high:
                found.append((part.seq, part.offset + low - at, part.offset + high - at))
        return found


@dataclass
class SpooledRun:
    """What one spool file holds."""

    path: Path
    header: dict[str, Any]
    saves: dict[int, list[MetricPoint]] = field(default_factory=dict)
    #: The links of the saves that have one, by seq.
    links: dict[int, PointLink] = field(default_factory=dict)
    #: Saves with nothing left to deliver (delivered whole, or refused by MLflow).
    done: set[int] = field(default_factory=set)
    #: Parts of saves MLflow confirmed batch by batch: seq -> [[first, end), ...].
    spans: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    end: dict[str, Any] | None = None
    created_run_id: str | None = None
    #: Records that could not be read (a torn last line is not counted).
    damaged: int = 0
    #: Why the file is of a format this version does not know; None when it is not.
    foreign: str | None = None

    @property
    def run_id(self) -> str | None:
        return self.header.get("run_id") or self.created_run_id

    @property
    def readable(self) -> bool:
        """Does the file say which run it is (a header was read)?"""
        return self.header.get("spool_id") is not None

    @property
    def pending(self) -> list[Pending]:
        """What MLflow has not confirmed, save by save, in order."""
        return [
            Pending(seq, first, points[first:end])
            for seq, points in sorted(self.saves.items())
            if seq not in self.done
            for first, end in _gaps(self.spans.get(seq, []), len(points))
        ]

    @property
    def pending_streams(self) -> list[PendingStream]:
        """``pending`` as streams: consecutive parts with the same link together."""
        return [
            PendingStream(link, tuple(parts))
            for link, parts in itertools.groupby(self.pending, key=lambda p: self.link_of(p.seq))
        ]

    def link_of(self, seq: int) -> PointLink:
        """What the points of save ``seq`` link to (``links``)."""
        return self.links.get(seq, NO_LINK)

    @property
    def pending_points(self) -> int:
        return sum(len(part.points) for part in self.pending)


def _gaps(spans: list[tuple[int, int]], length: int) -> Iterator[tuple[int, int]]:
    """The ranges of ``range(length)`` that no span covers."""
    at = 0
    for first, end in sorted(spans):
        if first > at:
            yield at, min(first, length)
        at = max(at, end)
    if at < length:
        yield at, length


def _header(line: bytes) -> tuple[dict[str, Any] | None, bool, str | None]:
    """(header, checksummed, why foreign) of a file's first line; header None when
    the line is not a header at all."""
    for checksummed in (True, False):
        try:
            record = decode(line, checksummed=checksummed)
        except ValueError:
            continue
        if not isinstance(record, dict) or record.get("kind") != "run":
            return None, False, None
        version = record.get("format", LEGACY_FORMAT)
        if (version, checksummed) in ((FORMAT, True), (LEGACY_FORMAT, False)):
            return record, checksummed, None
        if version == FORMAT:  # a current header whose checksum failed
            return None, False, None
        return record, checksummed, f"it is in spool format {version!r}"
    return None, False, None


def parse(path: Path, data: bytes) -> SpooledRun:
    """Read a spool file's bytes (see the module's rules)."""
    lines = data.split(b"\n")
    lines.pop()  # the piece after the last newline: empty, or a torn last write
    if not lines:  # nothing was ever acknowledged
        return SpooledRun(path, {"kind": "run", "spool_id": None, "run_id": None})
    header, checksummed, foreign = _header(lines[0])
    if header is None:
        return SpooledRun(path, {"kind": "run", "spool_id": None, "run_id": None}, damaged=1)
    run = SpooledRun(path, header, foreign=foreign)
    if foreign:
        return run
    unfinished: list[dict[str, Any]] = []  # records of a save whose last is to come
    for line in lines[1:]:
        try:
            record = decode(line, checksummed=checksummed)
        except ValueError:
            run.damaged += 1
            continue
        if isinstance(record, dict) and record.get("kind") not in KINDS:
            run.foreign = f"it holds a record of kind {str(record.get('kind'))[:40]!r}"
            return run
        if not isinstance(record, dict) or not well_formed(record):
            run.damaged += 1
            continue
        if record["kind"] == "points":
            if unfinished and record["seq"] != unfinished[-1]["seq"] + 1:
                run.damaged += len(unfinished)  # a save whose middle is missing
                unfinished = []
            unfinished.append(record)
            if record.get("more"):
                continue
            for part in unfinished:
                _apply(run, part)
            unfinished = []
            continue
        _apply(run, record)
    return run


def _apply(run: SpooledRun, record: dict[str, Any]) -> None:
    kind = record["kind"]
    if kind == "points":
        run.saves[record["seq"]] = [MetricPoint(*row) for row in record["points"]]
        if "link" in record:
            run.links[record["seq"]] = PointLink.from_record(record["link"]) or NO_LINK
    elif kind == "delivered" and "span" in record:
        first, end = record["span"]
        run.spans.setdefault(record["seq"], []).append((first, end))
    elif kind in ("delivered", "refused"):
        run.done.add(record["seq"])
    elif kind == "end":
        run.end = record
    elif kind == "created":
        run.created_run_id = record["run_id"]
    # a second "run" header is ignored: one header per file
