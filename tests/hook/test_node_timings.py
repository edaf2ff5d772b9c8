"""hook/node_timings.py: the per-session file that every process of a ``kedro run``
appends its nodes' times to, and what the run reads back from it."""

from __future__ import annotations

import threading
import uuid

import pytest

from kedro_metrics.hook.node_timings import NodeClock, collected, start_collecting, timings_file


@pytest.fixture
def session() -> str:
    name = f"test-{uuid.uuid4().hex}"
    yield name
    timings_file(name).unlink(missing_ok=True)


def test_off_until_the_session_collects(session):
    clock = NodeClock()
    clock.started("train")
    clock.ended("train", session)
    assert not timings_file(session).exists()


def test_each_ended_node_appends_its_time_and_the_file_goes_when_read(session):
    path = start_collecting(session)
    clock = NodeClock()
    for node in ("a", "ns.b"):
        clock.started(node)
        clock.ended(node, session)
    clock.ended("never_started", session)
    times = collected(path)
    assert sorted(times) == ["a", "ns.b"]
    assert all(0 <= seconds < 5 for seconds in times.values())
    assert not path.exists()


def test_lines_from_many_threads_all_arrive(session):
    path = start_collecting(session)
    clock = NodeClock()

    def run(index: int) -> None:
        for n in range(50):
            clock.started(f"node_{index}_{n}")
            clock.ended(f"node_{index}_{n}", session)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(collected(path)) == 8 * 50


def test_a_line_that_does_not_parse_is_left_out(session):
    path = start_collecting(session)
    path.write_text(
        '{"node": "a", "seconds": 1.5}\nnot json\n{"node": "b"}\n{"node": "c", "seconds": "x"}\n'
    )
    assert collected(path) == {"a": 1.5}


def test_a_missing_file_reads_as_no_times(session):
    assert collected(timings_file(session)) == {}
