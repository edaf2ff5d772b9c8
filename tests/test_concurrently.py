"""Side-by-side scenarios (tests/concurrently.py) run at the same time and fail as a
sequential fixture would."""

from __future__ import annotations

import threading

import pytest

from tests.concurrently import side_by_side


def test_the_scenarios_run_at_the_same_time():
    """Three scenarios that each wait for the other two: run one after the other,
    the barrier would break."""
    barrier = threading.Barrier(3, timeout=30)

    def scenario(name: str):
        return lambda: (barrier.wait(), name)[1]

    assert side_by_side({key: scenario(key) for key in "abc"}) == {"a": "a", "b": "b", "c": "c"}


def test_an_error_is_raised_once_every_scenario_has_ended():
    ended = threading.Event()

    def slow() -> str:
        ended.wait(0.2)
        ended.set()
        return "slow"

    def failing() -> str:
        raise ValueError("this scenario failed")

    with pytest.raises(ValueError, match="this scenario failed"):
        side_by_side({"failing": failing, "slow": slow})
    assert ended.is_set()


def test_no_scenario_is_no_result():
    assert side_by_side({}) == {}
