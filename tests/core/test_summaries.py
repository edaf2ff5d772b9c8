"""summaries.py: min, max, mean, best, first and last of a history (NaN skipped, ties
to the lowest step then the earliest timestamp), and what a run's end logs."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kedro_metrics.meaning import Meaning
from kedro_metrics.points import MetricPoint
from kedro_metrics.summaries import best_point, plan_summaries, summarise, summary_point

NAN = math.nan


def history(*values_steps_times, key="m.loss"):
    return [MetricPoint(key, v, s, t) for v, s, t in values_steps_times]


def found(summary):
    return {name: (p.key, p.value, p.step, p.timestamp) for name, p in summary.items()}


class TestSummaries:
    """Each summary is a point of the history, named <key>.<summary>."""

    def test_every_summary(self):
        points = history((0.75, 0, 10), (0.25, 1, 20), (0.5, 2, 30))
        got = summarise(points, ["min", "max", "mean", "best", "first", "last"], direction="min")
        assert found(got) == {
            "min": ("m.loss.min", 0.25, 1, 20),
            "max": ("m.loss.max", 0.75, 0, 10),
            "mean": ("m.loss.mean", 0.5, 2, 30),
            "best": ("m.loss.best", 0.25, 1, 20),
            "first": ("m.loss.first", 0.75, 0, 10),
            "last": ("m.loss.last", 0.5, 2, 30),
        }

    def test_order_is_by_step_then_timestamp_not_by_arrival(self):
        points = history((0.5, 2, 30), (0.9, 0, 10), (0.7, 2, 5))
        got = summarise(points, ["first", "last"], direction=None)
        assert found(got) == {
            "first": ("m.loss.first", 0.9, 0, 10),
            "last": ("m.loss.last", 0.5, 2, 30),
        }

    def test_nan_is_skipped_by_min_max_best_and_mean_not_by_first_and_last(self):
        points = history((NAN, 0, 1), (0.5, 1, 2), (0.25, 2, 3), (NAN, 3, 4))
        got = summarise(points, ["min", "max", "mean", "best", "first", "last"], direction="max")
        assert got["min"].value == 0.25 and got["max"].value == 0.5 and got["best"].value == 0.5
        assert (got["mean"].value, got["mean"].step) == (0.375, 3)
        assert math.isnan(got["first"].value) and math.isnan(got["last"].value)

    def test_all_nan_gives_nan_at_the_last_point(self):
        got = summarise(history((NAN, 0, 1), (NAN, 4, 9)), ["min", "mean", "best"], direction="min")
        assert all(math.isnan(p.value) and (p.step, p.timestamp) == (4, 9) for p in got.values())

    def test_ties_go_to_the_lowest_step_then_the_earliest_timestamp(self):
        points = history((0.5, 3, 1), (0.1, 2, 9), (0.1, 2, 4), (0.1, 5, 0), (0.5, 1, 7))
        got = summarise(points, ["min", "max"], direction=None)
        assert found(got) == {"min": ("m.loss.min", 0.1, 2, 4), "max": ("m.loss.max", 0.5, 1, 7)}

    def test_empty_history_has_no_summaries(self):
        assert summarise([], ["min"], direction=None) == {}
        assert best_point([], "max") is None

    def test_best_needs_a_direction(self):
        with pytest.raises(ValueError, match="needs a direction"):
            summary_point(history((1.0, 0, 0)), "best", direction=None)
        with pytest.raises(ValueError, match="Unknown summary 'median'"):
            summary_point(history((1.0, 0, 0)), "median", direction=None)

    @given(
        st.lists(
            st.tuples(
                st.floats(allow_infinity=False, width=32), st.integers(0, 20), st.integers(0, 5)
            ),
            min_size=1,
            max_size=30,
        )
    )
    def test_invariants(self, rows):
        points = history(*rows)
        got = summarise(points, ["min", "max", "mean", "first", "last"], direction=None)
        numbers = [p.value for p in points if not math.isnan(p.value)]
        if numbers:
            assert got["min"].value == min(numbers) and got["max"].value == max(numbers)
            assert got["min"].value <= got["mean"].value <= got["max"].value or math.isinf(
                got["mean"].value
            )
            lowest = min((p.step, p.timestamp) for p in points if p.value == min(numbers))
            assert (got["min"].step, got["min"].timestamp) == lowest
        last = max(points, key=lambda p: (p.step, p.timestamp))
        assert (got["last"].step, got["last"].timestamp) == (last.step, last.timestamp)
        assert got["mean"].step == last.step
        assert best_point(points, "min").value == got["min"].value or not numbers


class TestPlan:
    """The end of a run logs each declared summary, except over a dataset's own key."""

    def test_summaries_of_declared_keys(self):
        plan = plan_summaries(
            {"m.loss": history((0.5, 0, 1), (0.25, 1, 2))},
            {"m.loss": Meaning(direction="min", summary=("best", "last"))},
            run_keys=["m.loss"],
            listed=[],
        )
        assert [(p.key, p.value, p.step) for p in plan.points] == [
            ("m.loss.best", 0.25, 1),
            ("m.loss.last", 0.25, 1),
        ]
        assert plan.kept == ()

    def test_a_dataset_key_of_that_name_is_kept_and_a_listed_one_logged_again(self):
        plan = plan_summaries(
            {"m.loss": history((0.5, 0, 1))},
            {"m.loss": Meaning(summary=("min", "max"))},
            run_keys=["m.loss", "m.loss.min", "m.loss.max"],
            listed=["m.loss.max"],
        )
        assert [p.key for p in plan.points] == ["m.loss.max"]
        assert plan.kept == ("m.loss.min",)
