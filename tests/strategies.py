"""Hypothesis strategies shared by the test modules (all of them live here).

The valid-input strategies build what a node may return *together with* the
canonical load form, computed while generating and independently of
``kedro_metrics.points``: that is what the round-trip properties compare against.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

#: The keys that make a mapping a point; generated group names avoid them so a
#: generated group is never mistaken for a point.
POINT_KEYS = frozenset({"value", "step", "timestamp"})

# --------------------------------------------------------------------------- names

#: Valid MLflow metric names without dots (a dot would make group flattening
#: ambiguous): letters first, then letters, digits, "_", "-", ":" and " ".
metric_names = st.from_regex(r"[A-Za-z][A-Za-z0-9_\-: ]{0,11}", fullmatch=True).filter(
    lambda name: name not in POINT_KEYS
)

#: Prefixes a dataset may carry: none, a plain name, or a dotted one.
prefixes = st.one_of(
    st.just(""),
    metric_names,
    st.lists(metric_names, min_size=2, max_size=3).map(".".join),
)

# ------------------------------------------------------------------------- numbers

# Huge bounds make a strategy's repr (printed in Hypothesis' reports) unreadable,
# so the big-integer ranges hide behind composites.


@st.composite
def _float_sized_ints(draw: st.DrawFn) -> int:
    """Ints beyond int64 that still convert to a finite 64-bit float."""
    return draw(st.integers(min_value=-(10**300), max_value=10**300))


@st.composite
def _beyond_float_ints(draw: st.DrawFn) -> int:
    """Ints whose float() overflows, either sign."""
    magnitude = draw(st.integers(min_value=2**1024, max_value=2**1100))
    return magnitude if draw(st.booleans()) else -magnitude


python_ints = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63),
    # Large but still representable as a 64-bit float.
    _float_sized_ints(),
)
python_floats = st.floats(allow_nan=True, allow_infinity=True)
special_floats = st.sampled_from(
    [math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308]
)


def _numpy_ints(dtype: type) -> st.SearchStrategy[Any]:
    info = np.iinfo(dtype)
    return st.integers(min_value=int(info.min), max_value=int(info.max)).map(dtype)


numpy_scalars = st.one_of(
    *(_numpy_ints(t) for t in (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint64)),
    st.floats(width=16, allow_nan=True, allow_infinity=True).map(np.float16),
    st.floats(width=32, allow_nan=True, allow_infinity=True).map(np.float32),
    st.floats(allow_nan=True, allow_infinity=True).map(np.float64),
)

#: Every kind of number a save accepts as a metric value (docs/datasets.md).
numbers = st.one_of(python_ints, python_floats, special_floats, numpy_scalars)

#: Steps: any int64, sometimes as a numpy integer.
steps = st.one_of(
    st.integers(min_value=INT64_MIN, max_value=INT64_MAX),
    st.integers(min_value=INT64_MIN, max_value=INT64_MAX).map(np.int64),
    st.integers(min_value=0, max_value=5),  # small steps make ties and reorderings likely
)
#: Timestamps in milliseconds: any non-negative int64.
timestamps = st.one_of(
    st.integers(min_value=0, max_value=INT64_MAX),
    st.integers(min_value=0, max_value=3),
)

# -------------------------------------------------------------- valid input + form

#: A point's canonical pieces: (value as float, step, timestamp or None for "now").
Canon = tuple[float, int, "int | None"]


@st.composite
def points_with_canon(draw: st.DrawFn) -> tuple[dict[str, Any], list[Canon]]:
    """A point ``{"value", "step"?, "timestamp"?}`` and its one canonical entry."""
    point = draw(
        st.fixed_dictionaries({"value": numbers}, optional={"step": steps, "timestamp": timestamps})
    )
    step = int(point.get("step", 0))
    stamp = int(point["timestamp"]) if "timestamp" in point else None
    return point, [(float(point["value"]), step, stamp)]


def _number_with_canon(value: Any) -> tuple[Any, list[Canon]]:
    return value, [(float(value), 0, None)]


def _numbers_with_canon(values: list[Any]) -> tuple[list[Any], list[Canon]]:
    return values, [(float(v), step, None) for step, v in enumerate(values)]


def _points_list_with_canon(
    pairs: list[tuple[dict[str, Any], list[Canon]]],
) -> tuple[list[dict[str, Any]], list[Canon]]:
    return [raw for raw, _ in pairs], [canon for _, (canon,) in pairs]


#: One metric: a number, a point, a list of numbers or a list of points.
metric_values_with_canon = st.one_of(
    numbers.map(_number_with_canon),
    points_with_canon(),
    st.lists(numbers, min_size=1, max_size=6).map(_numbers_with_canon),
    st.lists(points_with_canon(), min_size=1, max_size=6).map(_points_list_with_canon),
)

#: Metric values as users write them (no canonical form attached).
points = points_with_canon().map(lambda pair: pair[0])
histories = st.one_of(
    st.lists(numbers, min_size=1, max_size=6),
    st.lists(points, min_size=1, max_size=6),
)
metric_values = metric_values_with_canon.map(lambda pair: pair[0])


def _group(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.dictionaries(metric_names, children, min_size=1, max_size=4).map(
        lambda entries: (
            {name: raw for name, (raw, _) in entries.items()},
            {name: canon for name, (_, canon) in entries.items()},
        )
    )


#: A metric or a non-empty group of them, nested: (raw, canon-tree) pairs where a
#: group's canon-tree is a dict of name -> canon-tree and a metric's is a list.
entries_with_canon = st.recursive(metric_values_with_canon, _group, max_leaves=12)

#: Non-empty nested groups as users write them.
nested_groups = _group(entries_with_canon).map(lambda pair: pair[0])


@dataclass(frozen=True)
class ValidCase:
    """A valid ``save`` input with everything needed to predict its points and load form."""

    metrics: dict[str, Any]
    prefix: str
    now_ms: int
    #: Flattened name (without prefix) -> canonical points, in input order.
    series: dict[str, list[Canon]]

    def stamped(self, canon: Canon) -> tuple[float, int, int]:
        value, step, stamp = canon
        return value, step, self.now_ms if stamp is None else stamp

    def keys(self) -> list[str]:
        """The MLflow keys, in input order."""
        return [f"{self.prefix}.{name}" if self.prefix else name for name in self.series]

    def flat_points(self) -> list[tuple[str, float, int, int]]:
        """(key, value, step, timestamp) of every point, in input order."""
        return [
            (key, *self.stamped(canon))
            for key, history in zip(self.keys(), self.series.values())
            for canon in history
        ]

    def load_form(self, *, timestamps: bool = False) -> dict[str, Any]:
        """What ``load`` returns: one point or a list ordered by (step, timestamp)."""
        form: dict[str, Any] = {}
        for name, history in self.series.items():
            stamped = sorted((self.stamped(c) for c in history), key=lambda p: (p[1], p[2]))
            dicts = [
                {"value": v, "step": s, **({"timestamp": t} if timestamps else {})}
                for v, s, t in stamped
            ]
            form[name] = dicts[0] if len(dicts) == 1 else dicts
        return form


def _flatten(tree: dict[str, Any], into: dict[str, list[Canon]], prefix: str = "") -> None:
    for name, sub in tree.items():
        full = f"{prefix}.{name}" if prefix else name
        if isinstance(sub, dict):
            _flatten(sub, into, full)
        else:
            into[full] = sub


@st.composite
def valid_cases(draw: st.DrawFn) -> ValidCase:
    """A valid input of any shape, a prefix, a clock, and the predicted result."""
    metrics, tree = draw(_group(entries_with_canon))
    series: dict[str, list[Canon]] = {}
    _flatten(tree, series)
    return ValidCase(
        metrics=metrics,
        prefix=draw(prefixes),
        now_ms=draw(st.integers(min_value=0, max_value=INT64_MAX) | st.integers(0, 3)),
        series=series,
    )


# ------------------------------------------------------------------------- garbage

#: Integers far beyond a 64-bit float or an int64 step.
huge_ints = st.one_of(
    st.integers(min_value=2**63, max_value=2**70),
    _beyond_float_ints(),
    # So long that even repr() refuses them by default (Python >= 3.11).
    st.integers(min_value=4301, max_value=5000).map(lambda digits: 10**digits),
)

_hashable_junk = st.one_of(
    st.none(),
    st.booleans(),
    st.text(max_size=5),
    st.binary(max_size=5),
    st.integers(),
    st.floats(),
    huge_ints,
    st.complex_numbers(),
    st.decimals(allow_nan=False),  # a signalling NaN cannot be hashed (set items, dict keys)
    st.fractions(),
    st.just(np.bool_(True)),
    numpy_scalars,
    st.tuples(st.integers()),
)

_junk_keys = st.one_of(
    metric_names,
    st.sampled_from(
        sorted(POINT_KEYS) + ["", "a.b", "a", "b", "a!b", "../x", "/x", "a//b", "stamp"]
    ),
    st.just("x" * 251),
    _hashable_junk,
)

#: Mappings that are almost points: missing value, junk value, bad step or
#: timestamp, an extra key.
bad_points = st.fixed_dictionaries(
    {},
    optional={
        "value": st.one_of(numbers, _hashable_junk),
        "step": st.one_of(
            steps, huge_ints, st.floats(), st.text(max_size=2), st.booleans(), st.none()
        ),
        "timestamp": st.one_of(
            timestamps, st.integers(max_value=-1), huge_ints, st.floats(), st.none()
        ),
        "stamp": st.integers(),
    },
)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, max_size=4),
        st.tuples(children, children),
        st.dictionaries(_junk_keys, children, max_size=4),
        st.sets(_hashable_junk, max_size=3),
        st.frozensets(_hashable_junk, max_size=3),
        # Lists mixing numbers and points.
        st.lists(st.one_of(numbers, points, bad_points), min_size=2, max_size=4),
    )


#: Arbitrary nested junk, valid fragments included.
junk = st.recursive(
    st.one_of(_hashable_junk, st.decimals(), bad_points, points, metric_values),
    _containers,
    max_leaves=16,
)

#: Groups whose dotted names and nested names may flatten to the same key
#: (``{"a.b": 1, "a": {"b": 2}}``).
colliding_groups = st.recursive(
    numbers,
    lambda children: st.dictionaries(
        st.sampled_from(["a", "b", "a.b", "b.a"]), children, min_size=1, max_size=3
    ),
    max_leaves=8,
)

#: What a careless node may return: mostly mappings of junk, sometimes not a mapping.
garbage = st.one_of(
    st.dictionaries(_junk_keys, junk, max_size=5),
    colliding_groups,
    st.dictionaries(metric_names, junk, max_size=5),
    junk,
)

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "ValidCase",
    "bad_points",
    "colliding_groups",
    "garbage",
    "histories",
    "huge_ints",
    "junk",
    "metric_names",
    "metric_values",
    "nested_groups",
    "numbers",
    "numpy_scalars",
    "points",
    "prefixes",
    "steps",
    "timestamps",
    "valid_cases",
]

# ------------------------------------------------------------------------ figures

#: Finite metric values (what a Plotly trace carries unchanged).
finite_floats = st.floats(allow_nan=False, allow_infinity=False)

# ------------------------------------------------------------------ read side (records)

#: Dotted MLflow metric keys (groups joined with "."), as runs hold them.
dotted_keys = st.lists(metric_names, min_size=1, max_size=4).map(".".join)

#: A run's metrics as {dotted key: last value}: keys may be both a metric and a group.
flat_metrics = st.dictionaries(dotted_keys, st.floats(allow_nan=False), max_size=12)

# ------------------------------------------------------------- NumPy and pandas shapes

#: NumPy dtypes a 1-D array of metric values may have.
numeric_dtypes = st.sampled_from(
    [
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "uint32",
        "uint64",
        "float16",
        "float32",
        "float64",
    ]
)


@st.composite
def numeric_arrays(draw: st.DrawFn) -> np.ndarray:
    """Non-empty 1-D NumPy arrays of any integer or float dtype (NaN and inf included)."""
    from hypothesis.extra import numpy as hnp

    dtype = np.dtype(draw(numeric_dtypes))
    return draw(hnp.arrays(dtype, st.integers(min_value=1, max_value=8)))


@st.composite
def indexed_series(draw: st.DrawFn) -> Any:
    """pandas Series of numbers with a default, an integer or a string index."""
    import pandas as pd

    values = draw(numeric_arrays())
    index_kind = draw(st.sampled_from(["default", "integers", "strings"]))
    if index_kind == "default":
        return pd.Series(values)
    if index_kind == "integers":
        steps = draw(
            st.lists(st.integers(INT64_MIN, INT64_MAX), min_size=len(values), max_size=len(values))
        )
        return pd.Series(values, index=pd.Index(steps, dtype="int64"))
    return pd.Series(values, index=[f"r{i}" for i in range(len(values))])


#: Text values ``non_numeric`` routes to tags or params: strings and booleans.
text_values = st.one_of(st.text(max_size=10), st.booleans(), st.just(np.bool_(False)))


# ------------------------------------------------------------------- tracking URIs

#: The text a generated secret is made of: upper case, so that it never occurs in a
#: generated scheme, host, path or query (all lower case).
_SECRET_TEXT = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ23456789-._~%!$&'()*+,;=@", min_size=1)


@st.composite
def schemes(draw: st.DrawFn) -> str:
    """A URI scheme as a user may type it: MLflow's, a database's or any other, each
    letter upper or lower case at random."""
    known = ["http", "https", "postgresql", "postgresql+psycopg2", "mysql+pymysql", "mssql"]
    scheme = draw(
        st.one_of(st.sampled_from(known), st.from_regex(r"[a-z][a-z0-9+.\-]{0,9}", fullmatch=True))
    )
    upper = draw(st.lists(st.booleans(), min_size=len(scheme), max_size=len(scheme)))
    return "".join(c.upper() if up else c for c, up in zip(scheme, upper))


@st.composite
def user_infos(draw: st.DrawFn) -> tuple[str, str, str]:
    """(user-info, the secret in it, how redaction shows it): a token as the user name
    (``TOKEN``, ``TOKEN:``), or a user and a password (``user:PW``, ``:PW``); the
    secret may hold ``@`` and percent escapes."""
    secret = "S" + draw(_SECRET_TEXT).replace("@@", "@")
    form = draw(st.sampled_from(["token", "token:", "user:password", ":password"]))
    if form == "token":
        return secret, secret, "***"
    if form == "token:":
        return f"{secret}:", secret, "***"
    user = (
        "" if form == ":password" else draw(st.from_regex(r"[a-z][a-z0-9._-]{0,7}", fullmatch=True))
    )
    return f"{user}:{secret}", secret, f"{user}:***"


#: The part of a URI after its authority: a path, a query, a fragment (lower case).
uri_tails = st.from_regex(
    r"(/[a-z0-9._-]{0,8}){0,3}(\?[a-z0-9=&]{0,8})?(#[a-z]{0,4})?", fullmatch=True
)
#: A host and maybe a port.
uri_hosts = st.from_regex(
    r"([a-z][a-z0-9-]{0,10}(\.[a-z]{2,5}){0,2}|127\.0\.0\.1|\[::1\])(:[0-9]{1,5})?", fullmatch=True
)


# ------------------------------------------------------------- filter expressions

#: A metric key as ``--where`` takes it: MLflow's key characters (no operator
#: character), trimmed, neither ``status`` nor starting with ``params.``/``tags.``.
filter_metric_keys = st.from_regex(r"[A-Za-z0-9_./ -]{1,40}", fullmatch=True).filter(
    lambda key: (
        key == key.strip() and key.lower() != "status" and not key.startswith(("params.", "tags."))
    )
)

#: A param or tag value MLflow's filter can hold verbatim: at most one kind of quote,
#: no final backslash (control characters left out).
filter_text_values = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=20
).filter(lambda value: not ("'" in value and '"' in value) and not value.endswith("\\"))

#: A finite float, as a metric condition compares with.
finite_floats = st.floats(allow_nan=False, allow_infinity=False)
