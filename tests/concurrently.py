"""Run a test module's independent scenarios side by side.

An e2e scenario spends most of its seconds waiting: for a child process, a server, a
retry budget, a signal to be handled. Scenarios that share nothing (each its own
project, store, server or proxy) can wait at the same time. ``side_by_side`` runs
each in its own thread and returns every result, or raises the first error once all
have ended, so a failing scenario fails the tests that read it as before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

Key = TypeVar("Key")
Result = TypeVar("Result")


def side_by_side(scenarios: Mapping[Key, Callable[[], Result]]) -> dict[Key, Result]:
    """``{key: scenario()}``, the scenarios run in threads at the same time."""
    with ThreadPoolExecutor(max_workers=max(len(scenarios), 1)) as pool:
        futures = {key: pool.submit(scenario) for key, scenario in scenarios.items()}
    return {key: future.result() for key, future in futures.items()}


def result_fixture(name: str, of: str, *, skip_reason: str = "") -> Callable[..., object]:
    """A module-scoped fixture ``name`` whose value is ``results[name]``, ``results``
    the value of the module fixture ``of`` (scenarios run ``side_by_side``). A
    scenario left out of ``results`` skips its tests with ``skip_reason``."""
    import pytest

    @pytest.fixture(scope="module", name=name)
    def result(request: pytest.FixtureRequest) -> object:
        results = request.getfixturevalue(of)
        if name not in results:
            pytest.skip(skip_reason or f"the scenario {name} did not run")
        return results[name]

    return result
