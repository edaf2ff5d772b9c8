"""Summaries of one metric's history: min, max, mean, best, first, last. Pure.

Each summary is a point of the history (its step and timestamp), except ``mean``,
which sits at the last point's step and timestamp. NaN is skipped by min, max, best
and mean (a history of NaN only gives NaN at the last point); first and last are the
stored points, last as MLflow defines it (highest step, then latest timestamp).
Ties go to the lowest step, then the earliest timestamp.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from kedro_metrics.meaning import SUMMARIES, Meaning, summary_key
from kedro_metrics.points import MetricPoint, ordered


def summarise(
    history: Iterable[MetricPoint], wanted: Sequence[str], *, direction: str | None
) -> dict[str, MetricPoint]:
    """The ``wanted`` summaries of one key's history, by summary name, each named
    ``<key>.<summary>``; empty for an empty history.

    Raises:
        ValueError: ``best`` without a direction, or an unknown summary.
    """
    points = ordered(history)
    if not points:
        return {}
    found = {}
    for name in wanted:
        point = summary_point(points, name, direction=direction)
        found[name] = MetricPoint(
            summary_key(points[0].key, name), point.value, point.step, point.timestamp
        )
    return found


def summary_point(
    points: Sequence[MetricPoint], name: str, *, direction: str | None
) -> MetricPoint:
    """One summary of a non-empty history ordered by step then timestamp."""
    if name not in SUMMARIES:
        raise ValueError(f"Unknown summary {name!r}; summaries are: {', '.join(SUMMARIES)}.")
    if name == "first":
        return points[0]
    if name == "last":
        return points[-1]
    if name == "best":
        if direction is None:
            raise ValueError(f"The best value of {points[0].key!r} needs a direction (max or min).")
        name = direction
    numbers = [p for p in points if not math.isnan(p.value)]
    if not numbers:
        return MetricPoint(points[-1].key, math.nan, points[-1].step, points[-1].timestamp)
    if name == "mean":
        last = points[-1]
        return MetricPoint(last.key, math.fsum(p.value for p in numbers) / len(numbers),
                           last.step, last.timestamp)  # fmt: skip
    pick = min if name == "min" else max
    # ordered: the first of equal values is the lowest step, then the earliest timestamp
    return pick(numbers, key=lambda p: p.value)


def best_point(history: Iterable[MetricPoint], direction: str) -> MetricPoint | None:
    """The best point of a history by ``direction``; None for an empty history."""
    points = ordered(history)
    return summary_point(points, "best", direction=direction) if points else None


@dataclass(frozen=True)
class SummaryPlan:
    """What the end of a run logs: the summary points, and the summary keys not
    logged because the run holds a metric of that name from a dataset."""

    points: tuple[MetricPoint, ...]
    kept: tuple[str, ...]


def plan_summaries(
    histories: Mapping[str, Sequence[MetricPoint]],
    meanings: Mapping[str, Meaning],
    *,
    run_keys: Iterable[str],
    listed: Iterable[str],
) -> SummaryPlan:
    """The summaries of each history whose key declares some (``meanings``).

    ``run_keys`` are the run's metric keys; a summary key among them is logged
    again when ``listed`` (the run's summaries tag: a resumed run), and kept as the
    dataset wrote it otherwise.
    """
    taken = set(run_keys) - set(listed)
    found: list[MetricPoint] = []
    kept: list[str] = []
    for key in sorted(histories):
        meaning = meanings[key]
        summary = summarise(histories[key], meaning.summary, direction=meaning.direction)
        for point in summary.values():
            if point.key in taken:
                kept.append(point.key)
            else:
                found.append(point)
    return SummaryPlan(tuple(found), tuple(kept))
