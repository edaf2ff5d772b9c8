"""kedro_metrics.points: user data <-> metric points, validation, the load form."""

from __future__ import annotations

import inspect
import itertools
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kedro_metrics.errors import MAX_PROBLEMS_SHOWN, MetricsValidationError, Problem
from kedro_metrics.points import (
    MetricPoint,
    ValidatedMetrics,
    belongs_to,
    current_time_ms,
    select,
    to_load_form,
    validate,
)
from kedro_metrics.shapes import join_key
from kedro_metrics.store import key_problem
from tests import strategies

NOW = 1_700_000_000_000
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
POINT_KEYS_HINT = "a point takes only 'value', 'step' and 'timestamp'"


def normalise(
    metrics: Any, *, prefix: str = "", key_problem: Any = None, now_ms: int | None = None
) -> list[MetricPoint]:
    """Every point of ``metrics``, validated (the list a save writes)."""
    return list(validate(metrics, prefix=prefix, key_problem=key_problem).points(now_ms))


def problems_of(metrics: Any, **kwargs: Any) -> list[Problem]:
    """The problems validate() reports for ``metrics`` (fails if it accepts them)."""
    with pytest.raises(MetricsValidationError) as caught:
        validate(metrics, **kwargs)
    return list(caught.value.problems)


def same(left: Any, right: Any) -> bool:
    """Structural equality where NaN equals NaN (and a float equals only a float)."""
    if isinstance(left, float) and isinstance(right, float):
        return (math.isnan(left) and math.isnan(right)) or left == right
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(same(left[k], right[k]) for k in left)
    if isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
        return (
            type(left) is type(right)
            and len(left) == len(right)
            and all(same(a, b) for a, b in zip(left, right))
        )
    return type(left) is type(right) and left == right


def P(key: str, value: float, step: int = 0, timestamp: int = NOW) -> MetricPoint:
    return MetricPoint(key, value, step, timestamp)


class TestSame:
    def test_nan_equals_nan(self):
        """The comparison helper treats NaN as equal to NaN, anywhere in a structure."""
        assert same(
            {"a": [{"value": math.nan, "step": 0}]}, {"a": [{"value": math.nan, "step": 0}]}
        )

    def test_differences_are_found(self):
        """The comparison helper still tells different values, keys and types apart."""
        assert not same({"a": 1.0}, {"a": 2.0})
        assert not same({"a": 1.0}, {"b": 1.0})
        assert not same({"a": 1.0}, {"a": 1})
        assert not same([1.0], [1.0, 2.0])
        assert not same(math.nan, 0.0)


# ------------------------------------------------------------------ accepted shapes


class TestAcceptedShapes:
    def test_point(self):
        """A point becomes one MetricPoint with its value, step and timestamp."""
        assert normalise({"acc": {"value": 0.93, "step": 1, "timestamp": 5}}, now_ms=NOW) == [
            P("acc", 0.93, 1, 5)
        ]

    def test_list_of_points(self):
        """A list of points becomes that history, in the given order."""
        given_ = {"loss": [{"value": 0.9, "step": 2}, {"value": 0.4, "step": 1}, {"value": 0.1}]}
        assert normalise(given_, now_ms=NOW) == [
            P("loss", 0.9, 2),
            P("loss", 0.4, 1),
            P("loss", 0.1, 0),
        ]

    def test_number(self):
        """A bare number becomes one point at step 0, its value a float."""
        (point,) = normalise({"n": 3}, now_ms=NOW)
        assert point == P("n", 3.0, 0)
        assert type(point.value) is float

    def test_list_of_numbers(self):
        """A list of numbers becomes points at steps 0..n-1."""
        assert normalise({"curve": [5, 4.5, 4]}, now_ms=NOW) == [
            P("curve", 5.0, 0),
            P("curve", 4.5, 1),
            P("curve", 4.0, 2),
        ]

    def test_tuple_of_numbers(self):
        """A tuple of numbers is a history like a list."""
        assert normalise({"curve": (1, 2)}, now_ms=NOW) == [P("curve", 1.0, 0), P("curve", 2.0, 1)]

    def test_nested_group(self):
        """A mapping that is not a point is a group: names join with '.', at any depth."""
        given_ = {"val": {"acc": 0.8, "per_class": {"cat": [1, 2], "dog": {"value": 3, "step": 4}}}}
        assert normalise(given_, now_ms=NOW) == [
            P("val.acc", 0.8),
            P("val.per_class.cat", 1.0, 0),
            P("val.per_class.cat", 2.0, 1),
            P("val.per_class.dog", 3.0, 4),
        ]

    def test_group_with_a_value_name_and_others(self):
        """A mapping with 'value' plus names other than step/timestamp is a group (DESIGN's rule)."""
        assert normalise({"g": {"value": 1, "other": 2}}, now_ms=NOW) == [
            P("g.value", 1.0),
            P("g.other", 2.0),
        ]

    @pytest.mark.parametrize(
        "scalar",
        [
            np.float64(0.25),
            np.float32(0.25),
            np.float16(0.25),
            np.int64(7),
            np.int8(-3),
            np.uint8(200),
            np.uint64(2**64 - 1),
        ],
        ids=lambda s: type(s).__name__,
    )
    def test_numpy_scalars(self, scalar):
        """numpy scalars are numbers: as a value, in a list and in a point, logged as float."""
        given_ = {"a": scalar, "b": [scalar, scalar], "c": {"value": scalar, "step": np.int64(2)}}
        points = normalise(given_, now_ms=NOW)
        assert points == [
            P("a", float(scalar)),
            P("b", float(scalar), 0),
            P("b", float(scalar), 1),
            P("c", float(scalar), 2),
        ]
        assert all(type(p.value) is float and type(p.step) is int for p in points)

    def test_nan_and_infinities(self):
        """NaN, +inf and -inf are legal values, in every slot."""
        points = normalise(
            {"n": math.nan, "l": [math.inf, -math.inf], "p": {"value": np.float32("nan")}},
            now_ms=NOW,
        )
        assert [(p.key, p.step) for p in points] == [("n", 0), ("l", 0), ("l", 1), ("p", 0)]
        assert math.isnan(points[0].value) and math.isnan(points[3].value)
        assert points[1].value == math.inf and points[2].value == -math.inf

    def test_large_int_that_fits_a_float(self):
        """An int beyond 2**63 but within float range is a legal value."""
        assert normalise({"big": 10**300}, now_ms=NOW) == [P("big", 1e300)]

    def test_empty_prefix_adds_no_dot(self):
        """With prefix '' the key is the name itself."""
        assert [p.key for p in normalise({"a": 1, "g": {"b": 2}}, prefix="")] == ["a", "g.b"]

    def test_prefix_is_joined_with_a_dot(self):
        """With prefix 'model' every key is 'model.' + the flattened name."""
        assert [p.key for p in normalise({"a": 1, "g": {"b": 2}}, prefix="model")] == [
            "model.a",
            "model.g.b",
        ]

    def test_timestamps_are_passed_through(self):
        """Explicit timestamps (0 and the int64 maximum included) are kept as given."""
        given_ = {"t": [{"value": 1, "timestamp": 0}, {"value": 2, "timestamp": INT64_MAX}]}
        assert normalise(given_, now_ms=NOW) == [P("t", 1.0, 0, 0), P("t", 2.0, 0, INT64_MAX)]

    def test_step_int64_bounds_are_accepted(self):
        """Steps at both ends of int64 are legal."""
        given_ = {"s": [{"value": 1, "step": INT64_MIN}, {"value": 2, "step": INT64_MAX}]}
        assert normalise(given_, now_ms=NOW) == [P("s", 1.0, INT64_MIN), P("s", 2.0, INT64_MAX)]

    def test_default_step_is_zero_and_timestamp_is_now_ms(self):
        """A point without step and timestamp gets step 0 and the given now_ms."""
        assert normalise({"x": {"value": 1}}, now_ms=123) == [P("x", 1.0, 0, 123)]

    def test_default_timestamp_is_the_current_time(self):
        """Without now_ms, missing timestamps are the current time in milliseconds."""
        before = current_time_ms()
        (point,) = normalise({"x": 1})
        assert before <= point.timestamp <= current_time_ms()

    def test_valid_mlflow_keys_pass_key_problem(self):
        """MLflow's own rules accept names with '-', '_', ':', '/', ' ' and 250 characters."""
        given_ = {"a-b_c": 1, "x:y": 2, "dir/name": 3, "with space": 4, "a" * 244: 5}
        points = normalise(given_, prefix="model", key_problem=key_problem, now_ms=NOW)
        assert len(points) == 5
        assert len(points[-1].key) == 250


# ------------------------------------------------------------------ rejected inputs


class TestRejectedInputs:
    @pytest.mark.parametrize(
        ("value", "shown"), [(True, "True"), (False, "False"), (np.bool_(True), "np.True_ (bool)")]
    )
    def test_bool_value(self, value, shown):
        """A bool is not a number, as a value or inside a point."""
        assert problems_of({"x": value, "p": {"value": value}, "l": [1, value]}) == [
            Problem("x", f"expected a number, got {shown}"),
            Problem("p.value", f"expected a number, got {shown}"),
            Problem("l[1]", f"expected a number, got {shown}"),
        ]

    def test_str_value(self):
        """A string is not a number, even when it spells one."""
        assert problems_of({"x": "0.5", "p": {"value": "1"}}) == [
            Problem("x", "expected a number, got '0.5'"),
            Problem("p.value", "expected a number, got '1'"),
        ]

    def test_none_value(self):
        """None is not a number."""
        assert problems_of({"x": None, "l": [None]}) == [
            Problem("x", "expected a number, got None"),
            Problem("l[0]", "expected a number, got None"),
        ]

    @pytest.mark.parametrize(
        ("given_", "expected"),
        [
            ({"x": {1, 2}}, Problem("x", "expected a number, got a set")),
            ({"x": {"value": [1]}}, Problem("x.value", "expected a number, got a list")),
            ({"x": {"value": {"a": 1}}}, Problem("x.value", "expected a number, got a dict")),
            ({"x": [[1, 2]]}, Problem("x[0]", "expected a number, got a list")),
            ({"x": [(1,)]}, Problem("x[0]", "expected a number, got a tuple")),
        ],
        ids=["set", "list-in-point", "dict-in-point", "list-in-list", "tuple-in-list"],
    )
    def test_container_value(self, given_, expected):
        """A container where a number belongs is an error at that slot."""
        assert problems_of(given_) == [expected]

    def test_number_too_large_for_a_float(self):
        """An int beyond float range is rejected, not logged as inf."""
        (problem,) = problems_of({"x": 2**1024})
        assert problem.path == "x"
        assert (
            problem.reason.startswith("number 1797693")
            and "does not fit a 64-bit float" in problem.reason
        )

    @pytest.mark.parametrize(
        ("step", "shown"),
        [(1.5, "1.5"), ("x", "'x'"), (None, "None"), (True, "True"), (math.nan, "nan")],
    )
    def test_non_integer_step(self, step, shown):
        """A step must be an integer: 1.5, 'x', None, True and NaN are not."""
        assert problems_of({"m": {"value": 1, "step": step}}) == [
            Problem("m.step", f"expected an integer, got {shown}")
        ]

    def test_error_message_form(self):
        """The message reads `loss[3].step: expected an integer, got 'x'`."""
        loss = [{"value": 1.0, "step": i} for i in range(3)] + [{"value": 0.5, "step": "x"}]
        with pytest.raises(MetricsValidationError) as caught:
            validate({"loss": loss})
        assert caught.value.problems == (Problem("loss[3].step", "expected an integer, got 'x'"),)
        assert str(caught.value.problems[0]) == "loss[3].step: expected an integer, got 'x'"
        assert "loss[3].step: expected an integer, got 'x'" in str(caught.value)

    def test_negative_timestamp(self):
        """A timestamp below 0 is rejected with the allowed range."""
        assert problems_of({"m": {"value": 1, "timestamp": -1}}) == [
            Problem("m.timestamp", f"expected an integer from 0 to {INT64_MAX}, got -1")
        ]

    def test_non_integer_timestamp(self):
        """A timestamp must be an integer (ms), not a float."""
        assert problems_of({"m": {"value": 1, "timestamp": 1.5}}) == [
            Problem("m.timestamp", "expected an integer, got 1.5")
        ]

    @pytest.mark.parametrize("step", [INT64_MAX + 1, INT64_MIN - 1, np.uint64(2**64 - 1)])
    def test_step_outside_int64(self, step):
        """A step outside int64 is rejected with the allowed range and the value."""
        assert problems_of({"m": {"value": 1, "step": step}}) == [
            Problem("m.step", f"expected an integer from {INT64_MIN} to {INT64_MAX}, got {step!r}")
        ]

    def test_empty_list(self):
        """An empty list is an error, not a metric without points."""
        assert problems_of({"m": []}) == [
            Problem("m", "empty list: give at least one value or point")
        ]

    def test_empty_nested_group(self):
        """An empty group is an error, at any depth."""
        assert problems_of({"g": {}, "h": {"i": {}}}) == [
            Problem("g", "empty group: give at least one metric"),
            Problem("h.i", "empty group: give at least one metric"),
        ]

    def test_unknown_key_in_a_point(self):
        """A point with an extra key ({'value', 'step', 'stamp'}) is a typo, not a group."""
        assert problems_of({"m": {"value": 1, "step": 0, "stamp": 3}}) == [
            Problem("m", f"unknown key(s) 'stamp' in a point; {POINT_KEYS_HINT}")
        ]

    def test_point_without_a_value(self):
        """{'step': 1} is a point without a value, not a group."""
        assert problems_of({"m": {"step": 1}}) == [
            Problem("m", "point without a value: add a 'value' key")
        ]

    def test_mapping_in_a_list_that_is_not_a_point(self):
        """A list item that is a mapping must be a point."""
        assert problems_of({"m": [{"a": 1}]}) == [
            Problem(
                "m[0]",
                "expected a point with a 'value' (and optional 'step', 'timestamp'), "
                "got a mapping with keys ['a']",
            )
        ]

    def test_mixed_list_of_numbers_and_points(self):
        """A list holds only numbers or only points, never both."""
        assert problems_of({"m": [1, {"value": 2}]}) == [
            Problem("m", "a list must hold only numbers or only points, not both")
        ]

    @pytest.mark.parametrize(
        ("name", "path", "shown"),
        [
            (1, "[1]", "1"),
            (None, "[None]", "None"),
            (b"x", "[b'x']", "b'x'"),
            (("a",), "[('a',)]", "a tuple"),
        ],
    )
    def test_non_str_name(self, name, path, shown):
        """A metric name must be a string; the path shows the offending key."""
        assert problems_of({name: 1}) == [
            Problem(path, f"expected a string metric name, got {shown}")
        ]

    def test_non_str_name_in_a_group(self):
        """A non-string name inside a group is reported under the group's path."""
        assert problems_of({"g": {1: 2}}) == [
            Problem("g[1]", "expected a string metric name, got 1")
        ]

    def test_empty_name(self):
        """An empty metric name is an error."""
        assert problems_of({"": 1}) == [Problem("''", "metric names must not be empty")]

    def test_empty_name_in_a_group(self):
        """An empty name inside a group is an error too."""
        (problem,) = problems_of({"g": {"": 1}})
        assert problem.reason == "metric names must not be empty"
        assert problem.path.startswith("g")

    def test_duplicate_flattened_key(self):
        """{'a.b': 1, 'a': {'b': 2}} names the key 'a.b' twice: an error, not two histories."""
        problems = problems_of({"a.b": 1, "a": {"b": 2}})
        assert problems
        assert all(p.reason.startswith("duplicate metric key 'a.b'") for p in problems)

    def test_duplicate_flattened_key_inside_a_group(self):
        """Duplicate keys are caught at any depth and under a prefix."""
        problems = problems_of({"g": {"x.y": [1, 2], "x": {"y": 3}}}, prefix="model")
        assert problems
        assert all(p.reason.startswith("duplicate metric key 'model.g.x.y'") for p in problems)

    @pytest.mark.parametrize("top", [[1, 2], 3, None, "metrics", (("a", 1),)])
    def test_non_mapping_top_level(self, top):
        """The input must be a mapping of metric name to value."""
        (problem,) = problems_of(top)
        assert problem.path == ""
        assert problem.reason.startswith("expected a mapping of metric name to value, got ")

    def test_non_mapping_top_level_message(self):
        """A problem without a path renders as its reason alone."""
        with pytest.raises(MetricsValidationError) as caught:
            validate([1])
        assert str(caught.value) == (
            "1 problem in the metrics:\n  - expected a mapping of metric name to value, got a list"
        )

    def test_key_problem_callback(self):
        """A key_problem callback sees the full key; its reason is reported at the path."""
        seen = []

        def no_secret(key: str) -> str | None:
            seen.append(key)
            return "secrets are not metrics" if "secret" in key else None

        assert problems_of({"ok": 1, "g": {"secret": 2}}, prefix="m", key_problem=no_secret) == [
            Problem("g.secret", "invalid MLflow key 'm.g.secret': secrets are not metrics")
        ]
        assert seen == ["m.ok", "m.g.secret"]

    def test_all_problems_are_collected(self):
        """Every problem is reported, in input order, not just the first one."""
        given_ = {
            "a": True,
            "b": {"value": 1, "step": "x", "timestamp": -5},
            "c": [],
            "d": {"e": None, "f": [1, "2", {"value": 3}]},
            "ok": 1.0,
            7: 1,
        }
        assert problems_of(given_) == [
            Problem("a", "expected a number, got True"),
            Problem("b.step", "expected an integer, got 'x'"),
            Problem("b.timestamp", f"expected an integer from 0 to {INT64_MAX}, got -5"),
            Problem("c", "empty list: give at least one value or point"),
            Problem("d.e", "expected a number, got None"),
            Problem("d.f[1]", "expected a number, got '2'"),
            Problem("d.f", "a list must hold only numbers or only points, not both"),
            Problem("[7]", "expected a string metric name, got 7"),
        ]

    def test_all_problems_of_one_point_are_collected(self):
        """A point with a bad value, step and timestamp reports all three."""
        assert problems_of({"p": {"value": None, "step": 1.5, "timestamp": "now"}}) == [
            Problem("p.value", "expected a number, got None"),
            Problem("p.step", "expected an integer, got 1.5"),
            Problem("p.timestamp", "expected an integer, got 'now'"),
        ]

    def test_message_lists_every_problem(self):
        """str(error) counts the problems and lists each on its own line."""
        with pytest.raises(MetricsValidationError) as caught:
            validate({"a": None, "b": []})
        assert str(caught.value) == (
            "2 problems in the metrics:\n"
            "  - a: expected a number, got None\n"
            "  - b: empty list: give at least one value or point"
        )

    def test_message_caps_the_list(self):
        """Beyond MAX_PROBLEMS_SHOWN problems the message says how many more, yet all are kept."""
        count = MAX_PROBLEMS_SHOWN + 7
        with pytest.raises(MetricsValidationError) as caught:
            validate({f"m{i}": None for i in range(count)})
        assert len(caught.value.problems) == count
        message = str(caught.value)
        assert message.splitlines()[0] == f"{count} problems in the metrics:"
        assert f"m{MAX_PROBLEMS_SHOWN - 1}: expected" in message
        assert f"m{MAX_PROBLEMS_SHOWN}: expected" not in message
        assert message.endswith("... and 7 more")

    def test_error_is_a_value_error(self):
        """MetricsValidationError is a ValueError, so generic handlers catch it."""
        assert issubclass(MetricsValidationError, ValueError)

    def test_huge_int_beyond_repr_limit_is_a_clean_problem(self):
        """An int too long for repr() (> 4300 digits) is still reported as a Problem."""
        huge = 10**5000
        for given_ in ({"x": huge}, {"x": {"value": 1, "step": huge}}, {huge: 1}):
            problems = problems_of(given_)
            assert len(problems) == 1
            assert len(str(problems[0])) < 200


class TestMlflowKeyRules:
    @pytest.mark.parametrize("name", ["a!b", "a\\b", "a@b", "tab\tname"])
    def test_bad_characters(self, name):
        """Characters MLflow refuses are rejected through store.key_problem."""
        (problem,) = problems_of({name: 1}, key_problem=key_problem)
        assert problem.path == name
        assert problem.reason.startswith(f"invalid MLflow key {name!r}: ")
        assert "Names may only contain" in problem.reason

    @pytest.mark.parametrize("name", ["../x", "/x", "a//b", "x/..", "a/./b"])
    def test_path_tricks(self, name):
        """Names that resolve to another path are rejected through store.key_problem."""
        (problem,) = problems_of({name: 1}, key_problem=key_problem)
        assert problem.path == name
        assert problem.reason.startswith(f"invalid MLflow key {name!r}: ")
        assert "resolve" in problem.reason

    def test_longer_than_250_characters(self):
        """A 251-character key is rejected; the limit applies to prefix + name."""
        assert validate({"a" * 250: 1}, key_problem=key_problem).keys == ("a" * 250,)
        (problem,) = problems_of({"a" * 251: 1}, key_problem=key_problem)
        assert "250" in problem.reason
        (problem,) = problems_of({"b" * 245: 1}, prefix="model", key_problem=key_problem)
        assert problem.path == "b" * 245
        assert problem.reason.startswith("invalid MLflow key 'model.bbb")
        assert "250" in problem.reason

    def test_bad_prefix_taints_every_key(self):
        """An invalid prefix makes every metric key invalid, each reported."""
        problems = problems_of({"a": 1, "b": 2}, prefix="bad!", key_problem=key_problem)
        assert [p.path for p in problems] == ["a", "b"]

    def test_bad_keys_are_reported_with_other_problems(self):
        """Key problems and value problems are collected together."""
        problems = problems_of({"a!b": 1, "c": None}, key_problem=key_problem)
        assert [p.path for p in problems] == ["a!b", "c"]


# ------------------------------------------------------------------ validated metrics


class TestValidatedMetrics:
    def test_keys_and_point_count(self):
        """keys lists each metric key once in input order; point_count and len count points."""
        validated = validate({"a": [1, 2, 3], "g": {"b": 1}, "c": {"value": 1}}, prefix="p")
        assert isinstance(validated, ValidatedMetrics)
        assert validated.keys == ("p.a", "p.g.b", "p.c")
        assert validated.point_count == 5
        assert len(validated) == 5

    def test_points_is_a_generator(self):
        """points() is a generator: nothing is built until it is iterated."""
        assert inspect.isgenerator(validate({"a": 1}).points(now_ms=NOW))

    def test_points_are_lazy(self):
        """Taking the first points of a long history does not build the rest."""
        values = [0.5] * 200_000
        validated = validate({"big": values})
        assert validated.point_count == 200_000
        first = list(itertools.islice(validated.points(now_ms=NOW), 3))
        assert first == [P("big", 0.5, 0), P("big", 0.5, 1), P("big", 0.5, 2)]

    def test_points_can_be_read_twice(self):
        """Each points() call starts afresh, with its own now_ms."""
        validated = validate({"a": 1})
        assert list(validated.points(now_ms=1)) == [P("a", 1.0, 0, 1)]
        assert list(validated.points(now_ms=2)) == [P("a", 1.0, 0, 2)]

    def test_normalise_equals_validate_points(self):
        """normalise() is validate() followed by points()."""
        given_ = {"a": [1, 2], "b": {"c": {"value": 3, "step": 9}}}
        assert normalise(given_, prefix="x", now_ms=NOW) == list(
            validate(given_, prefix="x").points(now_ms=NOW)
        )


# ------------------------------------------------------------------ keys and prefixes


class TestKeys:
    def test_join_key(self):
        """join_key adds a dot only when there is a prefix."""
        assert join_key("", "acc") == "acc"
        assert join_key("model", "acc") == "model.acc"
        assert join_key("a.b", "c.d") == "a.b.c.d"

    @pytest.mark.parametrize(
        ("key", "prefix", "expected"),
        [
            ("model.x", "model", True),
            ("model.g.x", "model", True),
            ("model_2.x", "model", False),
            ("modelx", "model", False),
            ("model", "model", False),
            ("other.model.x", "model", False),
            ("anything", "", True),
        ],
    )
    def test_belongs_to(self, key, prefix, expected):
        """A key belongs to a prefix only when it starts with prefix + '.' (any key for '')."""
        assert belongs_to(key, prefix) is expected


# ------------------------------------------------------------------ load form


class TestToLoadForm:
    def test_single_point_is_a_point_dict(self):
        """A metric with one point loads as {'value', 'step'}, without timestamp."""
        assert to_load_form([P("m.acc", 0.5, 3, 99)], prefix="m") == {
            "acc": {"value": 0.5, "step": 3}
        }

    def test_history_is_a_list(self):
        """A metric with several points loads as a list of point dicts."""
        assert to_load_form([P("loss", 0.9, 0), P("loss", 0.4, 1)]) == {
            "loss": [{"value": 0.9, "step": 0}, {"value": 0.4, "step": 1}]
        }

    def test_prefix_boundary(self):
        """Prefix 'model' keeps 'model.x' and drops 'model_2.x', 'modelx' and 'model'."""
        points = [P("model.x", 1.0), P("model_2.x", 2.0), P("modelx", 3.0), P("model", 4.0)]
        assert to_load_form(points, prefix="model") == {"x": {"value": 1.0, "step": 0}}

    def test_names_lose_only_the_prefix(self):
        """Group names stay dotted after the prefix is cut."""
        assert to_load_form([P("model.val.acc", 1.0)], prefix="model") == {
            "val.acc": {"value": 1.0, "step": 0}
        }

    def test_empty_prefix_keeps_every_key(self):
        """With prefix '' every key is returned whole."""
        assert set(to_load_form([P("a.b", 1.0), P("c", 2.0)], prefix="")) == {"a.b", "c"}

    def test_ordered_by_step_then_timestamp(self):
        """Histories come back ordered by step, then timestamp, ties in input order."""
        points = [
            P("m", 1.0, 2, 5),
            P("m", 2.0, 1, 9),
            P("m", 3.0, 1, 3),
            P("m", 4.0, 0, 7),
            P("m", 5.0, 1, 3),
        ]
        assert [d["value"] for d in to_load_form(points)["m"]] == [4.0, 3.0, 5.0, 2.0, 1.0]

    def test_timestamps_flag(self):
        """timestamps=True adds each point's timestamp."""
        points = [P("m", 1.0, 0, 10), P("m", 2.0, 1, 20), P("n", 3.0, 0, 30)]
        assert to_load_form(points, timestamps=True) == {
            "m": [
                {"value": 1.0, "step": 0, "timestamp": 10},
                {"value": 2.0, "step": 1, "timestamp": 20},
            ],
            "n": {"value": 3.0, "step": 0, "timestamp": 30},
        }

    def test_no_points(self):
        """No points under the prefix load as an empty mapping."""
        assert to_load_form([P("other.x", 1.0)], prefix="model") == {}

    RUN_TAGS = {
        "mlflow.user": "me", "mlflow.runName": "r", "kedro.pipeline": "__default__",
        "kedro_metrics.git_dirty": "false", "best_model": "forest", "model.kind": "tree",
    }  # fmt: skip

    def test_values_without_a_prefix_leave_out_the_run_s_own_tags(self):
        """prefix "": the dataset's values, never MLflow's system tags nor the tags
        kedro-metrics sets on the run."""
        loaded = to_load_form([P("acc", 0.5)], prefix="", values=self.RUN_TAGS)
        assert loaded == {
            "acc": {"value": 0.5, "step": 0},
            "best_model": "forest",
            "model.kind": "tree",
        }

    def test_values_under_a_prefix_are_that_prefix_s(self):
        assert to_load_form([], prefix="model", values=self.RUN_TAGS) == {"kind": "tree"}


class TestSelect:
    HISTORY = [P("m", 1.0, 2, 5), P("m", 2.0, 0, 1), P("m", 3.0, 2, 9), P("m", 4.0, 1, 1)]

    def test_last_is_highest_step_latest_timestamp(self):
        """'last' is the value at the highest step, the latest timestamp on ties."""
        assert select(self.HISTORY, "last") == 3.0

    def test_last_with_full_ties_takes_the_later_input(self):
        """'last' with equal step and timestamp takes the point given last."""
        assert select([P("m", 1.0, 1, 1), P("m", 2.0, 1, 1)], "last") == 2.0

    def test_last_of_nothing_is_none(self):
        """'last' of an empty history is None."""
        assert select([], "last") is None

    def test_history(self):
        """'history' is the ordered list of point dicts."""
        assert select(self.HISTORY, "history") == [
            {"value": 2.0, "step": 0},
            {"value": 4.0, "step": 1},
            {"value": 1.0, "step": 2},
            {"value": 3.0, "step": 2},
        ]

    def test_history_with_timestamps(self):
        """'history' with timestamps=True carries each point's timestamp."""
        assert select(self.HISTORY, "history", timestamps=True)[0] == {
            "value": 2.0,
            "step": 0,
            "timestamp": 1,
        }

    def test_values(self):
        """'values' is the ordered list of bare numbers."""
        assert select(self.HISTORY, "values") == [2.0, 4.0, 1.0, 3.0]

    def test_unknown_mode(self):
        """An unknown mode raises ValueError naming the modes and the bad one."""
        with pytest.raises(ValueError, match=r"last, history, values; got 'latest'"):
            select(self.HISTORY, "latest")


# ------------------------------------------------------------------ properties

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class TestProperties:
    @PROPERTY
    @given(case=strategies.valid_cases())
    def test_round_trip_equals_canonical_form(self, case):
        """to_load_form(normalise(x, prefix=p), prefix=p) is the canonical form of x; 'last' agrees."""
        points = normalise(
            case.metrics, prefix=case.prefix, key_problem=key_problem, now_ms=case.now_ms
        )
        assert same(to_load_form(points, prefix=case.prefix), case.load_form())
        assert same(
            to_load_form(points, prefix=case.prefix, timestamps=True),
            case.load_form(timestamps=True),
        )
        for name, form in case.load_form().items():  # 'last' is the end of the history
            key = join_key(case.prefix, name)
            last = form[-1] if isinstance(form, list) else form
            assert same(select([p for p in points if p.key == key], "last"), last["value"])

    @PROPERTY
    @given(case=strategies.valid_cases())
    def test_points_come_in_input_order(self, case):
        """normalise() yields every point with its full key, in input order."""
        points = normalise(case.metrics, prefix=case.prefix, now_ms=case.now_ms)
        actual = [(p.key, p.value, p.step, p.timestamp) for p in points]
        assert same(actual, case.flat_points())
        validated = validate(case.metrics, prefix=case.prefix)
        assert list(validated.keys) == case.keys()
        assert validated.point_count == len(actual)

    # One bug is enough per run: shrinking several distinct failures is what costs time.
    @settings(
        max_examples=300,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
        report_multiple_bugs=False,
    )
    @given(
        metrics=strategies.garbage,
        prefix=st.sampled_from(["", "model"]),
        check=st.sampled_from([None, key_problem]),
        non_numeric=st.sampled_from(["error", "tag"]),
    )
    def test_garbage_gives_points_or_problems(self, metrics, prefix, check, non_numeric):
        """Any input either validates into points or raises MetricsValidationError listing problems."""
        try:
            validated = validate(metrics, prefix=prefix, key_problem=check, non_numeric=non_numeric)
        except MetricsValidationError as error:
            problems = error.problems
            assert problems
            assert all(isinstance(p, Problem) for p in problems)
            assert all(isinstance(p.path, str) and isinstance(p.reason, str) for p in problems)
            assert all(p.reason for p in problems)
            message = str(error)
            for problem in problems[:MAX_PROBLEMS_SHOWN]:
                assert str(problem) in message
            if len(problems) > MAX_PROBLEMS_SHOWN:
                assert f"... and {len(problems) - MAX_PROBLEMS_SHOWN} more" in message
        else:
            assert len(set(validated.keys)) == len(validated.keys), "a key was accepted twice"
            points = list(validated.points(now_ms=NOW))
            assert len(points) == validated.point_count
            for point in points:
                assert type(point.value) is float
                assert type(point.step) is int and INT64_MIN <= point.step <= INT64_MAX
                assert type(point.timestamp) is int and 0 <= point.timestamp <= INT64_MAX
                assert belongs_to(point.key, prefix)
            assert not set(validated.values) & set(validated.keys), "a key is both"
            assert all(
                type(v) is str and belongs_to(k, prefix) for k, v in validated.values.items()
            )
            if non_numeric == "error":
                assert validated.values == {}

    @PROPERTY
    @given(case=strategies.valid_cases(), offset=st.integers(min_value=0, max_value=10**6))
    def test_continue_shifts_only_implicit_steps(self, case, offset):
        """With steps="continue", implicit steps start at the given first step; explicit
        steps and values are unchanged, and last_steps is the highest step written."""
        given_points = validate(case.metrics, prefix=case.prefix).points(case.now_ms)
        validated = validate(case.metrics, prefix=case.prefix, steps="continue")
        first = {key: offset for key in validated.continuing}
        continued = list(validated.points(case.now_ms, first))
        given_list = list(given_points)
        assert same([p.value for p in continued], [p.value for p in given_list])
        index: dict[str, int] = {}
        for before, after in zip(given_list, continued):
            i = index.get(before.key, 0)
            index[before.key] = i + 1
            if before.key in first and after.step != before.step:
                assert after.step == offset + i  # an implicit step, counted on
        for key, highest in validated.last_steps(first).items():
            assert highest == max(p.step for p in continued if p.key == key)


def history_of(metrics: Any, **kwargs: Any) -> list[tuple[str, float, int]]:
    """(key, value, step) of every point validate() yields."""
    return [(p.key, p.value, p.step) for p in validate(metrics, **kwargs).points(NOW)]


class TestNumpyAndPandas:
    """1-D arrays and Series are lists of numbers; other shapes say what is accepted."""

    def test_array_is_a_list_of_numbers(self):
        """A 1-D float array gives steps 0..n-1 and plain floats."""
        assert history_of({"loss": np.array([0.5, 0.25])}) == [("loss", 0.5, 0), ("loss", 0.25, 1)]
        assert all(type(p.value) is float for p in normalise({"x": np.arange(3)}))

    def test_zero_d_array_is_a_number(self):
        """np.array(3.5) is one point at step 0."""
        assert history_of({"x": np.array(3.5)}) == [("x", 3.5, 0)]

    def test_series_with_integer_index_uses_it_as_steps(self):
        """A Series indexed by integers logs each value at its index."""
        import pandas as pd

        series = pd.Series([0.9, 0.5], index=[10, 20])
        assert history_of({"loss": series}) == [("loss", 0.9, 10), ("loss", 0.5, 20)]

    def test_series_with_other_index_counts_steps(self):
        """A string index (or the default RangeIndex) gives steps 0..n-1."""
        import pandas as pd

        assert history_of({"a": pd.Series([1.0, 2.0], index=["x", "y"])}) == [
            ("a", 1.0, 0),
            ("a", 2.0, 1),
        ]
        assert history_of({"a": pd.Series([1.0, 2.0])}) == [("a", 1.0, 0), ("a", 2.0, 1)]

    @pytest.mark.parametrize(
        ("make", "shown"),
        [
            (lambda: np.zeros((2, 2)), "a 2-D ndarray of dtype float64"),
            (lambda: np.array(["a", "b"]), "a 1-D ndarray of dtype <U1"),
            (lambda: np.array([True, False]), "a 1-D ndarray of dtype bool"),
            (lambda: np.array([1 + 2j]), "a 1-D ndarray of dtype complex128"),
            (
                lambda: __import__("pandas").Series([1, "a"], dtype=object),
                "a 1-D Series of dtype object",
            ),
        ],
    )
    def test_other_shapes_say_what_is_accepted(self, make, shown):
        """2-D arrays, object, string, bool or complex dtypes are errors naming the accepted shapes."""
        assert problems_of({"m": make()}) == [
            Problem(
                "m",
                "expected a 1-D NumPy array or a pandas Series of integers or floats, "
                f"or a 0-d NumPy array, got {shown}",
            )
        ]

    def test_a_dataframe_says_which_shapes_to_give(self):
        """A DataFrame, as a value or as the whole input: the error names its two
        accepted forms (a column, or a column per metric)."""
        import pandas as pd

        frame = pd.DataFrame({"loss": [0.9, 0.5]})
        hint = (
            "a pandas DataFrame (not accepted: give one column, df['loss'], a Series; "
            "or a column per metric, df.to_dict('list'))"
        )
        assert problems_of({"m": frame}) == [Problem("m", f"expected a number, got {hint}")]
        assert problems_of(frame) == [
            Problem("", f"expected a mapping of metric name to value, got {hint}")
        ]
        assert history_of(frame.to_dict("list")) == [("loss", 0.9, 0), ("loss", 0.5, 1)]

    def test_empty_array(self):
        """An empty array is an empty list."""
        assert problems_of({"m": np.array([])}) == [
            Problem("m", "empty list: give at least one value or point")
        ]

    @settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
    @given(strategies.numeric_arrays())
    def test_any_numeric_array_is_its_tolist(self, array):
        """Any numeric 1-D array logs exactly what its tolist() would."""
        from_array = normalise({"a": array}, now_ms=NOW)
        from_list = normalise({"a": array.tolist()}, now_ms=NOW)
        assert same([(p.value, p.step) for p in from_array], [(p.value, p.step) for p in from_list])

    @settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
    @given(strategies.indexed_series())
    def test_any_series_uses_its_integer_index(self, series):
        """A Series' steps are its integer index, else 0..n-1; values are its values."""
        got = normalise({"s": series}, now_ms=NOW)
        integer_index = series.index.dtype.kind in "iu"
        expected_steps = series.index.tolist() if integer_index else list(range(len(series)))
        assert [p.step for p in got] == expected_steps
        assert same([p.value for p in got], [float(v) for v in series.tolist()])

    def test_numpy_is_not_imported_by_points(self):
        """The pure core imports neither numpy nor pandas."""
        source = inspect.getsource(__import__("kedro_metrics.points", fromlist=["x"]))
        assert "import numpy" not in source and "import pandas" not in source


class TestSteps:
    """Integral floats and NumPy integers are steps."""

    @pytest.mark.parametrize("step", [1.0, np.float64(1.0), np.int32(1), np.uint8(1), np.int64(1)])
    def test_integral_steps(self, step):
        """1.0, np.float64(1.0) and NumPy integers count as the step 1 (a plain int)."""
        (point,) = normalise({"m": {"value": 1, "step": step}}, now_ms=NOW)
        assert point.step == 1 and type(point.step) is int

    def test_arange_steps(self):
        """np.arange's float steps work as steps of points."""
        metrics = {"m": [{"value": v, "step": s} for v, s in zip([0.3, 0.2], np.arange(0.0, 2.0))]}
        assert history_of(metrics) == [("m", 0.3, 0), ("m", 0.2, 1)]


class TestContinue:
    """steps="continue": implicit steps count on from the run's highest step."""

    def test_keys_with_implicit_steps_continue(self):
        """Numbers, lists and step-less points continue; fully stepped histories do not."""
        validated = validate(
            {"a": 1.0, "b": [1.4, 1.2], "c": {"value": 2}, "d": [{"value": 1, "step": 7}]},
            steps="continue",
        )
        assert validated.continuing == ("a", "b", "c")
        assert [(p.key, p.step) for p in validated.points(NOW, {"a": 5, "b": 2, "c": 0})] == [
            ("a", 5),
            ("b", 2),
            ("b", 3),
            ("c", 0),
            ("d", 7),
        ]
        assert validated.last_steps({"a": 5, "b": 2, "c": 0}) == {"a": 5, "b": 3, "c": 0}

    def test_craft_accumulation(self):
        """[1.4, 1.2] then [1.1, 1.0] give steps 0..3."""
        first = validate({"m": [1.4, 1.2]}, steps="continue")
        highest = first.last_steps({"m": 0})["m"]
        second = validate({"m": [1.1, 1.0]}, steps="continue")
        assert [(p.value, p.step) for p in second.points(NOW, {"m": highest + 1})] == [
            (1.1, 2),
            (1.0, 3),
        ]

    def test_given_mode_has_no_continuing_keys(self):
        """The default keeps steps as written."""
        assert validate({"a": [1, 2]}).continuing == ()

    def test_unknown_mode(self):
        """An unknown steps mode is a ValueError naming the choices."""
        with pytest.raises(ValueError, match="steps must be one of given, continue; got 'append'"):
            validate({"a": 1}, steps="append")


class TestNonNumeric:
    """non_numeric="tag"|"param" routes strings and booleans; validation stays whole."""

    def test_strings_and_booleans_become_values(self):
        """Strings keep their text, booleans become 'True'/'False', under the prefixed key."""
        validated = validate(
            {
                "best_model": "xgboost",
                "tuned": True,
                "np_flag": np.bool_(False),
                "acc": 0.9,
                "group": {"note": "x"},
            },
            prefix="model_metrics",
            non_numeric="tag",
        )
        assert validated.values == {
            "model_metrics.best_model": "xgboost",
            "model_metrics.tuned": "True",
            "model_metrics.np_flag": "False",
            "model_metrics.group.note": "x",
        }
        assert validated.keys == ("model_metrics.acc",)

    def test_none_and_text_in_lists_stay_errors(self):
        """None, and strings inside a history, are still errors; nothing is kept."""
        assert problems_of({"a": None, "b": ["x"], "c": "ok"}, non_numeric="param") == [
            Problem("a", "expected a number, got None"),
            Problem("b[0]", "expected a number, got 'x'"),
        ]

    def test_default_refuses_text(self):
        """Without the option a string is an error."""
        assert problems_of({"a": "x"}) == [Problem("a", "expected a number, got 'x'")]

    def test_text_keys_are_checked_like_metric_keys(self):
        """A text value's key goes through the same duplicate and key checks."""
        assert problems_of({"a.b": "x", "a": {"b": 1}}, non_numeric="tag") == [
            Problem("a.b", "duplicate metric key 'a.b': another entry flattens to the same key")
        ]

    @given(
        st.dictionaries(strategies.metric_names, strategies.text_values, min_size=1, max_size=5),
        st.dictionaries(strategies.metric_names, strategies.numbers, max_size=3),
    )
    def test_text_and_numbers_split(self, texts, numbers_):
        """Every text value lands in values, every number in points, nothing lost."""
        metrics = {
            **{f"n_{k}": v for k, v in numbers_.items()},
            **{f"t_{k}": v for k, v in texts.items()},
        }
        validated = validate(metrics, non_numeric="param")
        assert validated.values == {
            f"t_{k}": str(bool(v)) if isinstance(v, (bool, np.bool_)) else v
            for k, v in texts.items()
        }
        assert validated.keys == tuple(f"n_{k}" for k in numbers_)

    def test_load_form_puts_values_beside_metrics(self):
        """load's form carries the values as bare strings, names without the prefix."""
        form = to_load_form(
            [P("m.acc", 0.9)], prefix="m", values={"m.best": "xgboost", "other.x": "y"}
        )
        assert form == {"acc": {"value": 0.9, "step": 0}, "best": "xgboost"}


class _Flaky(float):
    """A float whose float() works once, then fails: converting twice would break."""

    def __float__(self):
        self.calls = getattr(self, "calls", 0) + 1
        if self.calls > 1:
            raise ValueError("second conversion")
        return 2.5


class _Broken:
    """A numbers.Real whose __float__ raises."""

    def __init__(self, exc):
        self.exc = exc

    def __float__(self):
        raise self.exc

    def __repr__(self):
        return "Broken()"


import numbers as _numbers  # noqa: E402

_numbers.Real.register(_Broken)


class TestConvertedOnce:
    """Values are converted once, in validation; conversion failures are problems."""

    def test_float_is_called_once(self):
        """A value whose float() works once is written as validated."""
        validated = validate({"m": _Flaky(0.0), "h": [_Flaky(0.0)], "p": {"value": _Flaky(0.0)}})
        assert [p.value for p in validated.points(NOW)] == [2.5, 2.5, 2.5]
        assert [type(p.value) for p in validated.points(NOW)] == [float, float, float]

    def test_raising_float_is_a_problem_with_a_path(self):
        """A __float__ that raises is reported with its path and exception, not as overflow."""
        assert problems_of({"m": _Broken(ValueError("bad")), "n": [_Broken(RuntimeError())]}) == [
            Problem("m", "float() of Broken() failed: ValueError: bad"),
            Problem("n[0]", "float() of Broken() failed: RuntimeError"),
        ]

    def test_overflow_is_still_named_as_such(self):
        """OverflowError keeps the 64-bit float message."""
        assert problems_of({"m": _Broken(OverflowError())}) == [
            Problem("m", "number Broken() does not fit a 64-bit float")
        ]


class TestRecursion:
    """Cycles and runaway nesting are problems with a path, not crashes."""

    def test_self_referential_group(self):
        """A dict containing itself is reported at the path where it recurs."""
        metrics: dict[str, Any] = {"a": 1}
        metrics["self"] = metrics
        group: dict[str, Any] = {"x": 1}
        group["loop"] = {"back": group}
        assert problems_of(metrics) == [
            Problem("self", "the group contains itself: metrics must be a tree, not a cycle")
        ]
        assert problems_of({"g": group}) == [
            Problem("g.loop.back", "the group contains itself: metrics must be a tree, not a cycle")
        ]

    def test_deep_nesting(self):
        """600 levels of nesting are refused at the depth limit."""
        deep: dict[str, Any] = {"v": 1.0}
        for _ in range(600):
            deep = {"g": deep}
        (problem,) = problems_of(deep)
        assert problem == Problem(".".join(["g"] * 65), "groups nested deeper than 64 levels")

    def test_shared_subgroup_is_not_a_cycle(self):
        """The same dict under two names is fine (a tree by value)."""
        shared = {"x": 1.0}
        assert history_of({"a": shared, "b": shared}) == [("a.x", 1.0, 0), ("b.x", 1.0, 0)]
