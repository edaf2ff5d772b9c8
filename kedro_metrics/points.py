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

Values are converted once, here: ``ValidatedMetrics`` holds floats and ints, so
what was checked is exactly what is written.
"""

from __future__ import annotations

import numbers
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from kedro_metrics.errors import MetricsValidationError, Problem

POINT_FIELDS = frozenset({"value", "step", "timestamp"})
LOAD_MODES = ("last", "history", "values")
#: ``steps``: ``given`` keeps the steps as written (default 0); ``continue`` makes
#: implicit steps continue after the highest step the run holds for the key.
STEP_MODES = ("given", "continue")
#: ``non_numeric``: what a string or a boolean in a value slot becomes.
NON_NUMERIC_MODES = ("error", "tag", "param")
#: Groups nested deeper than this are refused (a cycle or a runaway structure).
MAX_DEPTH = 64

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_REPR_LIMIT = 60
_ACCEPTED_ARRAYS = (
    "a 1-D NumPy array or a pandas Series of integers or floats, or a 0-d NumPy array"
)

#: Returns why a full MLflow key is unacceptable, or None when it is fine.
KeyCheck = Callable[[str], "str | None"]
#: A converted point: value, step (None: implicit) and timestamp (None: now).
_Triple = tuple[float, "int | None", "int | None"]


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """One value of one metric, as MLflow stores it."""

    key: str
    value: float
    step: int = 0
    timestamp: int = 0


@dataclass(frozen=True, slots=True)
class _Series:
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


class ValidatedMetrics:
    """Metrics that passed validation. Yields their points lazily, in input order.

    Building points lazily lets a million-point history be written in chunks
    without ever holding a million ``MetricPoint`` objects. ``values`` holds the
    strings and booleans that ``non_numeric`` routed to tags or params, by full key.
    """

    def __init__(
        self,
        series: list[_Series],
        *,
        values: dict[str, str] | None = None,
        continues: bool = False,
    ):
        self._series = series
        self.keys = tuple(s.key for s in series)
        self.point_count = sum(s.size for s in series)
        self.values: dict[str, str] = values or {}
        #: Keys whose implicit steps continue after the run's highest step.
        self.continuing = (
            tuple(s.key for s in series if s.implicit_steps) if continues else ()
        )

    def __len__(self) -> int:
        return self.point_count

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


def current_time_ms() -> int:
    return int(time.time() * 1000)


def join_key(prefix: str, name: str) -> str:
    """The MLflow key of ``name`` under ``prefix`` (no dot when prefix is empty)."""
    return f"{prefix}.{name}" if prefix else name


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
    walker = _Walker(key_problem, keep_text=non_numeric != "error")
    if not isinstance(metrics, Mapping):
        walker.problem(
            "", f"expected a mapping of metric name to value, got {_describe(metrics)}"
        )
    else:
        walker.group(metrics, prefix=prefix, path="", depth=0)
    if walker.problems:
        raise MetricsValidationError(walker.problems)
    return ValidatedMetrics(
        walker.series, values=walker.values, continues=steps == "continue"
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


class _Walker:
    """Collects series and problems in one pass over the user's data, converting
    every value as it checks it."""

    def __init__(self, key_problem: KeyCheck | None, *, keep_text: bool = False):
        self._key_problem = key_problem
        self._keep_text = keep_text
        self._seen: set[str] = set()
        self._open_groups: set[int] = set()
        self.series: list[_Series] = []
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
        except Exception as exc:  # a broken Mapping implementation
            self.problem(path, f"could not read the mapping: {_failure(exc)}")
            items = []
        for name, entry in items:
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
                    self.series.append(_Series(key, triples=[triple]))
        elif isinstance(entry, (list, tuple)):
            if self.claim(key, path):
                self.history(entry, key=key, path=path)
        elif self._keep_text and _is_text(entry):
            if self.claim(key, path):
                self.values[key] = str(bool(entry)) if _is_bool(entry) else str(entry)
        elif _array_kind(entry):
            if self.claim(key, path):
                self.array(entry, key=key, path=path)
        elif self.claim(key, path):
            value = self.number(entry, path)
            if value is not None:
                self.series.append(_Series(key, values=[value]))

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
            self.series.append(_Series(key, values=items))
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
                self.series.append(_Series(key, triples=triples))
            else:
                self.series.append(_Series(key, values=[t[0] for t in triples]))

    def array(self, array: Any, *, key: str, path: str) -> None:
        """A NumPy array or a pandas Series, by its dtype and shape."""
        kind = _array_kind(array)
        ndim = getattr(array, "ndim", None)
        dtype_kind = getattr(getattr(array, "dtype", None), "kind", "O")
        if ndim == 0 and kind == "ndarray" and dtype_kind in "iuf":
            value = self.number(array.item(), path)
            if value is not None:
                self.series.append(_Series(key, values=[value]))
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
            steps = _series_steps(array)
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
            item_path = f"{path}[{_show(step)}]"
            number = self.number(value, item_path)
            index = self.integer(step, f"{item_path}.step", minimum=_INT64_MIN)
            if number is not None and index is not None:
                triples.append((number, index, None))
        if len(self.problems) == before:
            self.series.append(_Series(key, triples=triples))

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
        if _is_plain_number(value):
            return float(value)
        if _array_kind(value) == "ndarray" and getattr(value, "ndim", None) == 0:
            value = value.item()  # a 0-d array inside a list
        if _is_bool(value) or not isinstance(value, numbers.Real):
            self.problem(path, f"expected a number, got {_describe(value)}")
            return None
        try:
            converted = float(value)
        except OverflowError:
            self.problem(path, f"number {_show(value)} does not fit a 64-bit float")
            return None
        except Exception as exc:  # a __float__ of the user's own type failed
            self.problem(path, f"float() of {_describe(value)} failed: {_failure(exc)}")
            return None
        if type(converted) is not float:  # a float subclass: keep the plain value
            converted = float.__float__(converted)
        return converted

    def integer(self, value: Any, path: str, *, minimum: int) -> int | None:
        """``value`` as an int (integral floats count), or None after recording why not."""
        if type(value) is int and minimum <= value <= _INT64_MAX:  # fast path
            return value
        if _is_bool(value):
            self.problem(path, f"expected an integer, got {_describe(value)}")
            return None
        try:
            if isinstance(value, numbers.Integral):
                converted = int(value)
            elif isinstance(value, numbers.Real) and _is_integral_float(value):
                converted = int(float(value))
            else:
                self.problem(path, f"expected an integer, got {_describe(value)}")
                return None
        except Exception as exc:  # a __int__/__float__ of the user's own type failed
            self.problem(path, f"int() of {_describe(value)} failed: {_failure(exc)}")
            return None
        if not minimum <= converted <= _INT64_MAX:
            self.problem(
                path, f"expected an integer from {minimum} to {_INT64_MAX}, got {_show(value)}"
            )
            return None
        return converted


def _is_integral_float(value: Any) -> bool:
    """1.0 and np.float64(3.0) are steps; 1.5, NaN and infinities are not."""
    try:
        number = float(value)
    except Exception:
        return False
    return number.is_integer()


def _is_bool(value: Any) -> bool:
    """A Python or NumPy boolean (NumPy's is not a ``bool`` subclass)."""
    kind = type(value)
    return isinstance(value, bool) or (
        kind.__name__ in ("bool_", "bool") and kind.__module__ == "numpy"
    )


def _is_text(value: Any) -> bool:
    """What ``non_numeric`` routes: strings and booleans."""
    return isinstance(value, str) or _is_bool(value)


def _array_kind(value: Any) -> str | None:
    """``"ndarray"`` or ``"Series"`` when ``value`` is one; imports neither library."""
    name = type(value).__name__
    if name == "ndarray":
        numpy = sys.modules.get("numpy")
        if numpy is not None and isinstance(value, numpy.ndarray):
            return name
    elif name == "Series":
        pandas = sys.modules.get("pandas")
        if pandas is not None and isinstance(value, pandas.Series):
            return name
    return None


def _series_steps(series: Any) -> list[Any] | None:
    """The steps a Series' index gives: its values when they are integers (a default
    ``RangeIndex`` 0..n-1 gives none: its steps are implicit), else None."""
    index = series.index
    if getattr(index.dtype, "kind", "O") not in "iu":
        return None
    if type(index).__name__ == "RangeIndex" and index.start == 0 and index.step == 1:
        return None
    return index.tolist()


def _failure(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


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
    except Exception:  # a broken or runaway __repr__
        return f"<{type(value).__name__}>"
    return text if len(text) <= _REPR_LIMIT else text[: _REPR_LIMIT - 3] + "..."


#: What a pandas DataFrame should become: its accepted shapes.
_DATAFRAME_HINT = (
    "a pandas DataFrame (not accepted: give one column, df['loss'], a Series; or a "
    "column per metric, df.to_dict('list'))"
)


def _describe(value: Any) -> str:
    """``'x'`` for scalars, the type for containers: short and unambiguous."""
    if isinstance(value, (Mapping, list, tuple, set)):
        return f"a {type(value).__name__}"
    kind = type(value)
    if kind.__name__ == "DataFrame" and kind.__module__.startswith("pandas"):
        return _DATAFRAME_HINT
    if value is None or isinstance(value, (str, bytes, bool, numbers.Number)):
        return _show(value)
    return f"{_show(value)} ({type(value).__name__})"
