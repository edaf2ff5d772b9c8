"""The pure core: what a node returns <-> flat metric points, and validation.

Standard library only: no kedro, no mlflow, no I/O. Key names are checked by a
function the caller passes in (``store.key_problem`` applies MLflow's own rules),
so this module never has to restate them.

Accepted shapes, per metric name (see docs/datasets.md):

================================  ==================================
given                             logged as
================================  ==================================
a point ``{"value", "step"?,      one point
"timestamp"?}``
a non-empty list of points        that history, in order
a number                          one point at step 0
a non-empty list of numbers       points at steps 0..n-1
any other mapping                 a group: names joined with "."
================================  ==================================
"""

from __future__ import annotations

import numbers
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from kedro_metrics.errors import MetricsValidationError, Problem

POINT_FIELDS = frozenset({"value", "step", "timestamp"})
LOAD_MODES = ("last", "history", "values")

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_REPR_LIMIT = 60

#: Returns why a full MLflow key is unacceptable, or None when it is fine.
KeyCheck = Callable[[str], "str | None"]


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """One value of one metric, as MLflow stores it."""

    key: str
    value: float
    step: int = 0
    timestamp: int = 0


class _Shape(Enum):
    NUMBER = "number"
    POINT = "point"
    NUMBERS = "numbers"
    POINTS = "points"


@dataclass(frozen=True, slots=True)
class _Series:
    key: str
    shape: _Shape
    raw: Any
    size: int


class ValidatedMetrics:
    """Metrics that passed validation. Yields their points lazily, in input order.

    Building points lazily lets a million-point history be written in chunks
    without ever holding a million ``MetricPoint`` objects.
    """

    def __init__(self, series: list[_Series]):
        self._series = series
        self.keys = tuple(s.key for s in series)
        self.point_count = sum(s.size for s in series)

    def __len__(self) -> int:
        return self.point_count

    def points(self, now_ms: int | None = None) -> Iterator[MetricPoint]:
        """Every point; ``now_ms`` is the timestamp of points that carry none."""
        now = current_time_ms() if now_ms is None else now_ms
        for series in self._series:
            key, raw = series.key, series.raw
            if series.shape is _Shape.NUMBER:
                yield MetricPoint(key, float(raw), 0, now)
            elif series.shape is _Shape.POINT:
                yield _point(key, raw, now)
            elif series.shape is _Shape.NUMBERS:
                for step, value in enumerate(raw):
                    yield MetricPoint(key, float(value), step, now)
            elif series.shape is _Shape.POINTS:
                for item in raw:
                    yield _point(key, item, now)
            else:  # pragma: no cover - the enum is closed
                raise AssertionError(f"unhandled shape {series.shape}")


def current_time_ms() -> int:
    return int(time.time() * 1000)


def join_key(prefix: str, name: str) -> str:
    """The MLflow key of ``name`` under ``prefix`` (no dot when prefix is empty)."""
    return f"{prefix}.{name}" if prefix else name


def belongs_to(key: str, prefix: str) -> bool:
    """True when ``key`` lies under ``prefix``: ``model`` owns ``model.x``, not ``model_2.x``."""
    return not prefix or key.startswith(prefix + ".")


def validate(
    metrics: Any, *, prefix: str = "", key_problem: KeyCheck | None = None
) -> ValidatedMetrics:
    """Check ``metrics`` whole and return it ready to yield points.

    Raises:
        MetricsValidationError: listing every problem with its path.
    """
    walker = _Walker(key_problem)
    if not isinstance(metrics, Mapping):
        walker.problem(
            "", f"expected a mapping of metric name to value, got {_describe(metrics)}"
        )
    else:
        walker.group(metrics, prefix=prefix, path="")
    if walker.problems:
        raise MetricsValidationError(walker.problems)
    return ValidatedMetrics(walker.series)


def normalise(
    metrics: Any,
    *,
    prefix: str = "",
    key_problem: KeyCheck | None = None,
    now_ms: int | None = None,
) -> list[MetricPoint]:
    """All points of ``metrics`` as a list (see ``validate`` for the errors)."""
    return list(validate(metrics, prefix=prefix, key_problem=key_problem).points(now_ms))


def to_load_form(
    points: Iterable[MetricPoint], *, prefix: str = "", timestamps: bool = False
) -> dict[str, Any]:
    """MLflow history -> what ``load`` returns.

    ``{name: point}`` for a metric with one point, ``{name: [points]}`` ordered by
    step then timestamp for more; names lose ``prefix + "."``; keys outside the
    prefix are left out.
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


def _point(key: str, raw: Mapping[str, Any], now: int) -> MetricPoint:
    return MetricPoint(
        key, float(raw["value"]), int(raw.get("step", 0)), int(raw.get("timestamp", now))
    )


class _Walker:
    """Collects series and problems in one pass over the user's data."""

    def __init__(self, key_problem: KeyCheck | None):
        self._key_problem = key_problem
        self._seen: set[str] = set()
        self.series: list[_Series] = []
        self.problems: list[Problem] = []

    def problem(self, path: str, reason: str) -> None:
        self.problems.append(Problem(path, reason))

    def group(self, group: Mapping[Any, Any], *, prefix: str, path: str) -> None:
        for name, entry in group.items():
            if not isinstance(name, str):
                self.problem(
                    f"{path}[{_show(name)}]" if path else f"[{_show(name)}]",
                    f"expected a string metric name, got {_describe(name)}",
                )
                continue
            entry_path = f"{path}.{name}" if path else name
            if not name:
                self.problem(entry_path or "''", "metric names must not be empty")
                continue
            self.entry(entry, key=join_key(prefix, name), path=entry_path)

    def entry(self, entry: Any, *, key: str, path: str) -> None:
        if isinstance(entry, Mapping):
            kind = _mapping_kind(entry)
            if kind == "group":
                if not entry:
                    self.problem(path, "empty group: give at least one metric")
                else:
                    self.group(entry, prefix=key, path=path)
                return
            if self.claim(key, path) and self.point(entry, path, kind):
                self.series.append(_Series(key, _Shape.POINT, entry, 1))
        elif isinstance(entry, (list, tuple)):
            if self.claim(key, path):
                self.history(entry, key=key, path=path)
        elif self.claim(key, path) and self.number(entry, path):
            self.series.append(_Series(key, _Shape.NUMBER, entry, 1))

    def claim(self, key: str, path: str) -> bool:
        """Check the key once per metric; False when it cannot be logged."""
        if key in self._seen:
            self.problem(
                path, f"duplicate metric key {key!r}: another entry flattens to the same key"
            )
            return False
        self._seen.add(key)
        reason = self._key_problem(key) if self._key_problem else None
        if reason:
            self.problem(path, f"invalid MLflow key {key!r}: {reason}")
            return False
        return True

    def history(self, items: list[Any] | tuple[Any, ...], *, key: str, path: str) -> None:
        if not items:
            self.problem(path, "empty list: give at least one value or point")
            return
        if all(_is_plain_number(v) for v in items):  # fast path for large histories
            self.series.append(_Series(key, _Shape.NUMBERS, items, len(items)))
            return
        before = len(self.problems)
        shapes = set()
        for index, item in enumerate(items):
            item_path = f"{path}[{index}]"
            if isinstance(item, Mapping):
                shapes.add(_Shape.POINTS)
                kind = _mapping_kind(item)
                if kind == "group":
                    self.problem(
                        item_path,
                        "expected a point with a 'value' (and optional 'step', 'timestamp'), "
                        f"got a mapping with keys {_keys(item)}",
                    )
                else:
                    self.point(item, item_path, kind)
            else:
                shapes.add(_Shape.NUMBERS)
                self.number(item, item_path)
        if len(shapes) > 1:
            self.problem(path, "a list must hold only numbers or only points, not both")
        if len(self.problems) == before:
            (shape,) = shapes
            self.series.append(_Series(key, shape, items, len(items)))

    def point(self, point: Mapping[str, Any], path: str, kind: str) -> bool:
        before = len(self.problems)
        if kind == "no value":
            self.problem(path, "point without a value: add a 'value' key")
        elif kind == "unknown keys":
            extra = [key for key in point if key not in POINT_FIELDS]
            self.problem(
                path,
                f"unknown key(s) {_keys(extra)[1:-1]} in a point; "
                "a point takes only 'value', 'step' and 'timestamp'",
            )
        else:
            self.number(point["value"], f"{path}.value")
        if "step" in point:
            self.integer(point["step"], f"{path}.step", minimum=_INT64_MIN)
        if "timestamp" in point:
            self.integer(point["timestamp"], f"{path}.timestamp", minimum=0)
        return len(self.problems) == before

    def number(self, value: Any, path: str) -> bool:
        if _is_plain_number(value):
            return True
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            self.problem(path, f"expected a number, got {_describe(value)}")
            return False
        try:
            float(value)
        except (OverflowError, ValueError, TypeError):
            self.problem(path, f"number {_show(value)} does not fit a 64-bit float")
            return False
        return True

    def integer(self, value: Any, path: str, *, minimum: int) -> None:
        if type(value) is int and minimum <= value <= _INT64_MAX:  # fast path
            return
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            self.problem(path, f"expected an integer, got {_describe(value)}")
        elif not minimum <= int(value) <= _INT64_MAX:
            self.problem(
                path, f"expected an integer from {minimum} to {_INT64_MAX}, got {_show(value)}"
            )


def _mapping_kind(mapping: Mapping[Any, Any]) -> str:
    """Classify a mapping: "point", "no value", "unknown keys" or "group".

    A mapping is a point when it has "value" and nothing beyond value/step/
    timestamp. Keys all among those but no "value" is a point without a value.
    "value" together with "step" or "timestamp" and other keys is a point with
    unknown keys (a typo, not a group). Anything else is a group.
    """
    if "value" in mapping and len(mapping) <= len(POINT_FIELDS):  # fast path: points
        if all(key in POINT_FIELDS for key in mapping):
            return "point"
    keys = set(mapping)
    if keys and keys <= POINT_FIELDS:
        return "point" if "value" in keys else "no value"
    if "value" in keys and keys & {"step", "timestamp"}:
        return "unknown keys"
    return "group"


def _is_plain_number(value: Any) -> bool:
    kind = type(value)
    return kind is float or (kind is int and -(2**1023) < value < 2**1023)


def _keys(keys: Iterable[Any]) -> str:
    return "[" + ", ".join(sorted(_show(key) for key in keys)) + "]"


def _show(value: Any) -> str:
    try:
        text = repr(value)
    except ValueError:  # ints beyond sys.get_int_max_str_digits()
        return f"<{type(value).__name__} too large to show>"
    return text if len(text) <= _REPR_LIMIT else text[: _REPR_LIMIT - 3] + "..."


def _describe(value: Any) -> str:
    """``'x'`` for scalars, the type for containers: short and unambiguous."""
    if isinstance(value, (Mapping, list, tuple, set)):
        return f"a {type(value).__name__}"
    if value is None or isinstance(value, (str, bytes, bool, numbers.Number)):
        return _show(value)
    return f"{_show(value)} ({type(value).__name__})"
