"""Process state: created on first use, and a real forked child forgets exactly what
it must not share with its parent (queued writes, spool files, warnings) and keeps
the rest; the clean-ups registered with ``after_fork`` run in the child."""

from __future__ import annotations

import multiprocessing
import os
import threading

import pytest

from kedro_metrics.process import ProcessState, after_fork, state


def test_get_creates_once():
    fresh = ProcessState()
    made = []
    first = fresh.get("async_writer", lambda: made.append(1) or object())
    assert fresh.get("async_writer", object) is first
    assert made == [1]


def test_get_is_safe_from_many_threads():
    fresh = ProcessState()
    seen = []
    threads = [
        threading.Thread(target=lambda: seen.append(fresh.get("step_ledger", object)))
        for _ in range(16)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(value) for value in seen}) == 1


_CLEANED: list[int] = []
after_fork(lambda: _CLEANED.append(os.getpid()))


def _report(queue) -> None:
    queue.put(
        {
            "clients": sorted(state.clients),
            "retry_budget": state.retry_budget,
            "sessions": sorted(state.sessions_tracked),
            "async_writer": state.async_writer,
            "step_ledger": state.step_ledger,
            "spool_writers": dict(state.spool_writers),
            "closed_spools": set(state.closed_spools),
            "warned": set(state.warned_spools),
            "said_disabled": set(state.said_disabled),
            "cleaned_here": _CLEANED == [os.getpid()],
        }
    )


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_forgets_what_it_must_not_share(monkeypatch):
    for name, value in {
        "clients": {"http://h": "client"}, "retry_budget": "budget",
        "sessions_tracked": {"s1"}, "async_writer": "writer", "step_ledger": "ledger",
        "spool_writers": {("/d", "id"): "w"}, "closed_spools": {("/d", "x")},
        "warned_spools": {"id"}, "said_disabled": {"ds"},
    }.items():  # fmt: skip
        monkeypatch.setattr(state, name, value)
    queue = multiprocessing.get_context("fork").Queue()
    child = multiprocessing.get_context("fork").Process(target=_report, args=(queue,))
    child.start()
    seen = queue.get(timeout=60)
    child.join(60)
    assert seen == {
        "clients": ["http://h"], "retry_budget": "budget", "sessions": ["s1"],
        "async_writer": None, "step_ledger": None, "spool_writers": {},
        "closed_spools": set(), "warned": set(), "said_disabled": set(),
        "cleaned_here": True,
    }  # fmt: skip
    assert state.async_writer == "writer"  # the parent keeps its own


class TestCollectionPaused:
    """process.collection_paused: the cyclic collector off while saves run."""

    def test_off_inside_on_after_nested_included(self):
        import gc

        from kedro_metrics.process import collection_paused

        assert gc.isenabled()
        with collection_paused():
            assert not gc.isenabled()
            with collection_paused():
                assert not gc.isenabled()
            assert not gc.isenabled()  # the outer save still runs
        assert gc.isenabled()

    def test_collect_young_frees_cycles_left_during_a_pause(self):
        """What a batch left in reference cycles is freed between batches, not when
        the save ends: a long save's memory stays flat."""
        import gc
        import weakref

        from kedro_metrics.process import collect_young, collection_paused

        class Node:
            pass

        with collection_paused():
            cycle = Node()
            cycle.itself = cycle
            gone = weakref.ref(cycle)
            del cycle
            gc.collect(0)  # nothing left from before the cycle in the youngest generation
            cycle = Node()
            cycle.itself = cycle
            gone = weakref.ref(cycle)
            del cycle
            assert gone() is not None  # the collector is paused: the cycle stays
            collect_young()
            assert gone() is None

    def test_collect_young_outside_a_pause_starts_nothing(self):
        import gc

        from kedro_metrics.process import collect_young

        started: list[int] = []

        def watch(phase: str, info: dict[str, int]) -> None:
            if phase == "start":
                started.append(info["generation"])

        gc.callbacks.append(watch)
        try:
            collect_young()
        finally:
            gc.callbacks.remove(watch)
        assert started == []

    def test_a_collector_already_off_stays_off(self):
        import gc

        from kedro_metrics.process import collection_paused

        gc.disable()
        try:
            with collection_paused():
                pass
            assert not gc.isenabled()
        finally:
            gc.enable()

    def test_back_on_after_an_error(self):
        import gc

        from kedro_metrics.process import collection_paused

        with pytest.raises(RuntimeError), collection_paused():
            raise RuntimeError("boom")
        assert gc.isenabled()

    def test_overlapping_saves_in_threads_end_with_it_on(self):
        import gc
        import threading

        from kedro_metrics.process import collection_paused

        started, release = threading.Barrier(5), threading.Event()

        def save() -> None:
            with collection_paused():
                started.wait()
                release.wait()

        threads = [threading.Thread(target=save) for _ in range(4)]
        for thread in threads:
            thread.start()
        started.wait()
        assert not gc.isenabled()
        release.set()
        for thread in threads:
            thread.join()
        assert gc.isenabled()

    def test_a_process_forked_during_a_save_collects_again(self):
        import gc
        import os

        from kedro_metrics.process import collection_paused

        with collection_paused():
            pid = os.fork()
            if pid == 0:  # the child: the fork reset turned the collector back on
                os._exit(0 if gc.isenabled() else 1)
            _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert gc.isenabled()
