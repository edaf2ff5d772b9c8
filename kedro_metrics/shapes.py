"""The accepted shapes (see ``points``): one pass over what a node returned that
converts every value as it checks it, collecting the series of each metric and
every problem with its path.

Standard library only, like ``points``, which builds ``ValidatedMetrics`` from what
the ``Walker`` collects.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kedro_metrics.errors import Problem
from kedro_metrics.values import (
    array_kind,
    describe,
    failure,
    is_bool,
    is_integral_float,
    is_plain_number,
    is_text,
    series_steps,
    show,
)

POINT_FIELDS = frozenset({"value", "step", "timestamp"})
#: Groups nested deeper than this are refused (a cycle or a runaway structure).
MAX_DEPTH = 64

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_ACCEPTED_ARRAYS = (
    "a 1-D NumPy array or a pandas Series of integers or floats, or a 0-d NumPy array"
)

#: Returns why a full MLflow key is unacceptable, or None when it is fine.
KeyCheck = Callable[[str], "str | None"]
#: A converted point: value, step (None: implicit) and timestamp (None: now).
_Triple = tuple[float, "int | None", "int | None"]


@dataclass(frozen=True, slots=True)
class Series:
    """One metric's validated history.

    ``values`` holds plain numbers at implicit steps 0..n-1 (a list whose items are
    all ``float`` or float-sized ``int``, kept as given: the fast path), or
    ``triples`` holds converted ``(value, step | None, timestamp | None)``.
    """

    key: str
    values: list[Any] | tuple[Any, ...] | None = None
    triples: list[_Triple] | None = None

    @property
    def size(self) -> int:
        return len(self.values if self.values is not None else self.triples)  # type: ignore[arg-type]

    @property
    def implicit_steps(self) -> bool:
        """True when some point has no step of its own."""
        return self.values is not None or any(t[1] is None for t in self.triples or ())


def join_key(prefix: str, name: str) -> str:
    """The MLflow key of ``name`` under ``prefix`` (no dot when prefix is empty)."""
    return f"{prefix}.{name}" if prefix else name


class Walker:
    """Collects series and problems in one pass over the user's data, converting
    every value as it checks it."""

    def __init__(self, key_problem: KeyCheck | None, *, keep_text: bool = False):
        self._key_problem = key_problem
        self._keep_text = keep_text
        self._seen: set[str] = set()
        self._open_groups: set[int] = set()
        self.series: list[Series] = []
        self.values: dict[str, str] = {}
        self.problems: list[Problem] = []

    def problem(self, path: str, reason: str) -> None:
        self.problems.append(Problem(path, reason))

    def group(self, group: Mapping[Any, Any], *, prefix: str, path: str, depth: int) -> None:
        if id(group) in self._open_groups:
            self.problem(path, "the group contains itself: metrics must be a tree, not a cycle")
            return
        if depth > MAX_DEPTH:
            self.problem(path, f"groups nested deeper than {MAX_DEPTH} levels")
            return
        self._open_groups.add(id(group))
        try:
            items = list(group.items())
        except Exception as exc:  # noqa: BLE001 - a broken Mapping implementation
            self.problem(path, f"could not read the mapping: {failure(exc)}")
            items = []
        for name, entry in items:
            if not isinstance(name, str):
                self.problem(
                    f"{path}[{show(name)}]" if path else f"[{show(name)}]",
                    f"expected a string metric name, got {describe(name)}",
                )
                continue
            entry_path = f"{path}.{name}" if path else name
            if not name:
                self.problem(entry_path or "''", "metric names must not be empty")
                continue
            self.entry(entry, key=join_key(prefix, name), path=entry_path, depth=depth)
        self._open_groups.discard(id(group))

    def entry(self, entry: Any, *, key: str, path: str, depth: int) -> None:
        if isinstance(entry, Mapping):
            kind = _mapping_kind(entry)
            if kind == "group":
                if not entry:
                    self.problem(path, "empty group: give at least one metric")
                else:
                    self.group(entry, prefix=key, path=path, depth=depth + 1)
                return
            if self.claim(key, path):
                triple = self.point(entry, path, kind)
                if triple is not None:
                    self.series.append(Series(key, triples=[triple]))
        elif isinstance(entry, (list, tuple)):
            if self.claim(key, path):
                self.history(entry, key=key, path=path)
        elif self._keep_text and is_text(entry):
            if self.claim(key, path):
                self.values[key] = str(bool(entry)) if is_bool(entry) else str(entry)
        elif array_kind(entry):
            if self.claim(key, path):
                self.array(entry, key=key, path=path)
        elif self.claim(key, path):
            value = self.number(entry, path)
            if value is not None:
                self.series.append(Series(key, values=[value]))

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
        if all(is_plain_number(v) for v in items):  # fast path for large histories
            self.series.append(Series(key, values=items))
            return
        before = len(self.problems)
        has_points = has_numbers = False
        triples: list[_Triple] = []
        for index, item in enumerate(items):
            item_path = f"{path}[{index}]"
            if isinstance(item, Mapping):
                has_points = True
                kind = _mapping_kind(item)
                if kind == "group":
                    self.problem(
                        item_path,
                        "expected a point with a 'value' (and optional 'step', 'timestamp'), "
                        f"got a mapping with keys {_keys(item)}",
                    )
                    continue
                triple = self.point(item, item_path, kind)
            else:
                has_numbers = True
                value = self.number(item, item_path)
                triple = None if value is None else (value, None, None)
            if triple is not None:
                triples.append(triple)
        if has_points and has_numbers:
            self.problem(path, "a list must hold only numbers or only points, not both")
        if len(self.problems) == before:
            if has_points:
                self.series.append(Series(key, triples=triples))
            else:
                self.series.append(Series(key, values=[t[0] for t in triples]))

    def array(self, array: Any, *, key: str, path: str) -> None:
        """A NumPy array or a pandas Series, by its dtype and shape."""
        kind = array_kind(array)
        ndim = getattr(array, "ndim", None)
        dtype_kind = getattr(getattr(array, "dtype", None), "kind", "O")
        if ndim == 0 and kind == "ndarray" and dtype_kind in "iuf":
            value = self.number(array.item(), path)
            if value is not None:
                self.series.append(Series(key, values=[value]))
            return
        if ndim != 1 or dtype_kind not in "iuf":
            self.problem(
                path,
                f"expected {_ACCEPTED_ARRAYS}, got a {ndim}-D {type(array).__name__} "
                f"of dtype {getattr(array, 'dtype', '?')}",
            )
            return
        values = array.tolist()
        if kind == "Series":
            steps = series_steps(array)
            if steps is not None:
                self.stepped(values, steps, key=key, path=path)
                return
        self.history(values, key=key, path=path)

    def stepped(self, values: list[Any], steps: list[Any], *, key: str, path: str) -> None:
        """A Series with an integer index: the index gives the steps."""
        if not values:
            self.problem(path, "empty Series: give at least one value")
            return
        before = len(self.problems)
        triples: list[_Triple] = []
        for step, value in zip(steps, values):
            item_path = f"{path}[{show(step)}]"
            number = self.number(value, item_path)
            index = self.integer(step, f"{item_path}.step", minimum=_INT64_MIN)
            if number is not None and index is not None:
                triples.append((number, index, None))
        if len(self.problems) == before:
            self.series.append(Series(key, triples=triples))

    def point(self, point: Mapping[str, Any], path: str, kind: str) -> _Triple | None:
        before = len(self.problems)
        value = step = stamp = None
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
            value = self.number(point["value"], f"{path}.value")
        if "step" in point:
            step = self.integer(point["step"], f"{path}.step", minimum=_INT64_MIN)
        if "timestamp" in point:
            stamp = self.integer(point["timestamp"], f"{path}.timestamp", minimum=0)
        if len(self.problems) != before or value is None:
            return None
        return (value, step, stamp)

    def number(self, value: Any, path: str) -> float | None:
        """``value`` as a float, or None after recording why it is not one."""
        if type(value) is float:
            return value
        if is_plain_number(value):
            return float(value)
        if array_kind(value) == "ndarray" and getattr(value, "ndim", None) == 0:
            value = value.item()  # a 0-d array inside a list
        if is_bool(value) or not isinstance(value, numbers.Real):
            self.problem(path, f"expected a number, got {describe(value)}")
            return None
        try:
            converted = float(value)
        except OverflowError:
            self.problem(path, f"number {show(value)} does not fit a 64-bit float")
            return None
        except Exception as exc:  # noqa: BLE001 - a __float__ of the user's own type failed
            self.problem(path, f"float() of {describe(value)} failed: {failure(exc)}")
            return None
        if type(converted) is not float:  # a float subclass: keep the plain value
            converted = float.__float__(converted)
        return converted

    def integer(self, value: Any, path: str, *, minimum: int) -> int | None:
        """``value`` as an int (integral floats count), or None after recording why not."""
        if type(value) is int and minimum <= value <= _INT64_MAX:  # fast path
            return value
        if is_bool(value):
            self.problem(path, f"expected an integer, got {describe(value)}")
            return None
        try:
            if isinstance(value, numbers.Integral):
                converted = int(value)
            elif isinstance(value, numbers.Real) and is_integral_float(value):
                converted = int(float(value))
            else:
                self.problem(path, f"expected an integer, got {describe(value)}")
                return None
        except Exception as exc:  # noqa: BLE001 - a __int__/__float__ of the user's own type failed
            self.problem(path, f"int() of {describe(value)} failed: {failure(exc)}")
            return None
        if not minimum <= converted <= _INT64_MAX:
            self.problem(
                path, f"expected an integer from {minimum} to {_INT64_MAX}, got {show(value)}"
            )
            return None
        return converted


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


def _keys(keys: Iterable[Any]) -> str:
    return "[" + ", ".join(sorted(show(key) for key in keys)) + "]"
