"""The pure core: what a node returns <-> flat metric points, and validation.

Standard library only: no kedro, no mlflow, no I/O, and no numpy or pandas import
(an array or a Series is recognised by its type, from ``sys.modules``, only when the
user's data already is one). Key names are checked by a function the caller passes
in (``store.key_problem`` applies MLflow's own rules), so this module never has to
restate them.

Accepted shapes, per metric name (see docs/datasets.md):

================================  ==================================
given                             logged as
================================  ==================================
a point ``{"value", "step"?,      one point
"timestamp"?}``
a non-empty list of points        that history, in order
a number                          one point at step 0
a non-empty list of numbers       points at steps 0..n-1
a 1-D NumPy array                 as a list of numbers
a pandas Series                   as a list of numbers; an integer
                                  index gives the steps
a 0-d NumPy array                 a number
any other mapping                 a group: names joined with "."
a string or a boolean             with ``non_numeric="tag"|"param"``:
                                  a tag or param of the run
================================  ==================================

Values are converted once, by ``shapes.Walker``: ``ValidatedMetrics`` holds floats and ints, so
what was checked is exactly what is written.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from kedro_metrics.errors import MetricsValidationError
from kedro_metrics.shapes import KeyCheck, Series, Walker
from kedro_metrics.values import describe

LOAD_MODES = ("last", "history", "values")
#: ``steps``: ``given`` keeps the steps as written (default 0); ``continue`` makes
#: implicit steps continue after the highest step the run holds for the key.
STEP_MODES = ("given", "continue")
#: ``non_numeric``: what a string or a boolean in a value slot becomes.
NON_NUMERIC_MODES = ("error", "tag", "param")


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """One value of one metric, as MLflow stores it: what a save writes, what the
    spool keeps, what the read side gets back."""

    key: str
    value: float
    step: int = 0
    timestamp: int = 0


class ValidatedMetrics:
    """Metrics that passed validation. Yields their points lazily, in input order.

    Building points lazily lets a million-point history be written in chunks
    without ever holding a million ``MetricPoint`` objects. ``values`` holds the
    strings and booleans that ``non_numeric`` routed to tags or params, by full key.
    """

    def __init__(
        self,
        series: list[Series],
        *,
        values: dict[str, str] | None = None,
        values_as: str = "tag",
        continues: bool = False,
    ):
        self._series = series
        self.keys = tuple(s.key for s in series)
        self.point_count = sum(s.size for s in series)
        self.values: dict[str, str] = values or {}
        #: Where ``values`` go: ``tag`` or ``param`` (the ``non_numeric`` mode).
        self.values_as = values_as
        #: Keys whose implicit steps continue after the run's highest step.
        self.continuing = tuple(s.key for s in series if s.implicit_steps) if continues else ()

    def __len__(self) -> int:
        return self.point_count

    def batch(self, now_ms: int, first_steps: Mapping[str, int] | None = None) -> PointBatch:
        """The points of ``points(now_ms, first_steps)`` as a collection that can be
        drawn from more than once (spooled, then sent), built afresh each time."""
        return PointBatch(self, now_ms, dict(first_steps or {}))

    def points(
        self, now_ms: int | None = None, first_steps: Mapping[str, int] | None = None
    ) -> Iterator[MetricPoint]:
        """Every point; ``now_ms`` is the timestamp of points that carry none.

        ``first_steps`` maps a continuing key to the step its first implicit point
        takes (the run's highest step + 1); implicit steps count on from there, one
        per item of the list. Without it a point without a step is at step 0 and
        a list of numbers at steps 0..n-1.
        """
        now = current_time_ms() if now_ms is None else now_ms
        first_steps = first_steps or {}
        for series in self._series:
            key, start = series.key, first_steps.get(series.key, 0)
            if series.values is not None:
                for step, value in enumerate(series.values, start):
                    yield MetricPoint(key, float(value), step, now)
            elif series.key in first_steps:  # continuing: step-less points count on
                for index, (value, step, stamp) in enumerate(series.triples or (), start):
                    yield MetricPoint(
                        key, value, index if step is None else step, now if stamp is None else stamp
                    )
            else:  # a point without a step is at step 0
                for value, step, stamp in series.triples or ():
                    yield MetricPoint(key, value, step or 0, now if stamp is None else stamp)

    def last_steps(self, first_steps: Mapping[str, int]) -> dict[str, int]:
        """The highest step each continuing key reaches when written with
        ``first_steps`` (what the next continuing save starts after)."""
        highest: dict[str, int] = {}
        for series in self._series:
            if series.key not in self.continuing:
                continue
            start = first_steps.get(series.key, 0)
            if series.values is not None:
                highest[series.key] = start + len(series.values) - 1
            else:
                highest[series.key] = max(
                    start + i if step is None else step
                    for i, (_, step, _) in enumerate(series.triples or ())
                )
        return highest


@dataclass(frozen=True)
class PointBatch:
    """One save's points: a sized collection, iterated as often as needed, each
    time built afresh from the validated data (``ValidatedMetrics.batch``)."""

    validated: ValidatedMetrics
    now_ms: int
    first_steps: Mapping[str, int]

    def __iter__(self) -> Iterator[MetricPoint]:
        return self.validated.points(self.now_ms, self.first_steps)

    def __len__(self) -> int:
        return len(self.validated)


def current_time_ms() -> int:
    return int(time.time() * 1000)


def belongs_to(key: str, prefix: str) -> bool:
    """True when ``key`` lies under ``prefix``: ``model`` owns ``model.x``, not ``model_2.x``."""
    return not prefix or key.startswith(prefix + ".")


#: Tags and params under these belong to the run itself (MLflow's system tags, the
#: tags kedro-metrics sets), never to a dataset's ``non_numeric`` values.
RUN_OWN_PREFIXES = ("mlflow.", "kedro.", "kedro_metrics.")


def dataset_value(key: str, prefix: str) -> bool:
    """Is the tag or param ``key`` one of a dataset's values under ``prefix``? With
    no prefix, every key but the run's own (``RUN_OWN_PREFIXES``)."""
    if prefix:
        return belongs_to(key, prefix)
    return not key.startswith(RUN_OWN_PREFIXES)


def validate(
    metrics: Any,
    *,
    prefix: str = "",
    key_problem: KeyCheck | None = None,
    steps: str = "given",
    non_numeric: str = "error",
) -> ValidatedMetrics:
    """Check ``metrics`` whole, convert every value once, and return it ready to
    yield points.

    Args:
        steps: ``given`` or ``continue`` (see ``STEP_MODES``).
        non_numeric: ``error``, ``tag`` or ``param``: where strings and booleans
            in a value slot go (``ValidatedMetrics.values``).

    Raises:
        MetricsValidationError: listing every problem with its path.
        ValueError: for an unknown ``steps`` or ``non_numeric`` mode.
    """
    _check_mode("steps", steps, STEP_MODES)
    _check_mode("non_numeric", non_numeric, NON_NUMERIC_MODES)
    walker = Walker(key_problem, keep_text=non_numeric != "error")
    if not isinstance(metrics, Mapping):
        walker.problem("", f"expected a mapping of metric name to value, got {describe(metrics)}")
    else:
        walker.group(metrics, prefix=prefix, path="", depth=0)
    if walker.problems:
        raise MetricsValidationError(walker.problems)
    return ValidatedMetrics(
        walker.series,
        values=walker.values,
        values_as=non_numeric if non_numeric != "error" else "tag",
        continues=steps == "continue",
    )


def check_mode(argument: str, value: Any, allowed: tuple[str, ...]) -> str | None:
    """Why ``value`` is not one of ``allowed`` for ``argument``, or None."""
    if value in allowed:
        return None
    return f"{argument} must be one of {', '.join(allowed)}; got {value!r}"


def _check_mode(argument: str, value: Any, allowed: tuple[str, ...]) -> None:
    reason = check_mode(argument, value, allowed)
    if reason:
        raise ValueError(reason)


def to_load_form(
    points: Iterable[MetricPoint],
    *,
    prefix: str = "",
    timestamps: bool = False,
    values: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """MLflow history -> what ``load`` returns.

    ``{name: point}`` for a metric with one point, ``{name: [points]}`` ordered by
    step then timestamp for more; names lose ``prefix + "."``; keys outside the
    prefix are left out. ``values`` (full key -> text: the tags or params that
    ``non_numeric`` wrote) join the result as bare strings, except the run's own
    (see ``dataset_value``).
    """
    histories: dict[str, list[MetricPoint]] = {}
    for point in points:
        if belongs_to(point.key, prefix):
            histories.setdefault(point.key, []).append(point)
    cut = len(prefix) + 1 if prefix else 0
    result: dict[str, Any] = {}
    for key in sorted(histories):
        history = [point_dict(p, timestamps=timestamps) for p in ordered(histories[key])]
        result[key[cut:]] = history[0] if len(history) == 1 else history
    for key in sorted(values or ()):
        if dataset_value(key, prefix) and key[cut:] not in result:
            result[key[cut:]] = values[key]  # type: ignore[index]
    return result


def point_dict(point: MetricPoint, *, timestamps: bool = False) -> dict[str, Any]:
    """A point as the mapping users write: value, step and (optionally) timestamp."""
    out: dict[str, Any] = {"value": point.value, "step": point.step}
    if timestamps:
        out["timestamp"] = point.timestamp
    return out


def ordered(history: Iterable[MetricPoint]) -> list[MetricPoint]:
    """A history ordered by step, then timestamp (stable otherwise)."""
    return sorted(history, key=lambda p: (p.step, p.timestamp))


def select(history: Iterable[MetricPoint], mode: str, *, timestamps: bool = False) -> Any:
    """One metric's history in a load mode: ``last``, ``history`` or ``values``."""
    points = ordered(history)
    if mode == "last":
        return points[-1].value if points else None
    if mode == "history":
        return [point_dict(p, timestamps=timestamps) for p in points]
    if mode == "values":
        return [p.value for p in points]
    raise ValueError(f"load mode must be one of {', '.join(LOAD_MODES)}; got {mode!r}")
