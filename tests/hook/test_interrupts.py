"""Ctrl-C and SIGTERM during `kedro run`: the run is ended from a thread of its own,
so a signal that lands while the main thread holds a lock ending the run needs (a
spool append) never deadlocks. Real signals to this process, a real spool file."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from kedro_metrics import spool
from kedro_metrics.hook.interrupts import InterruptHandlers
from kedro_metrics.points import MetricPoint

POINTS = [MetricPoint("m.loss", 0.5, 0, 1)]


@pytest.fixture
def writer(tmp_path):
    target = spool.SpoolTarget(
        str(tmp_path), spool.new_spool_id(), "run-1", "http://h:5000", owner_pid=os.getpid()
    )
    yield spool.writer_for(target)
    spool.close_writer(target, remove=False)


def interrupt_inside_the_append_lock(writer: spool.SpoolWriter, signum: int) -> InterruptHandlers:
    """Install handlers that end the run in the spool, then signal this process while
    the main thread is inside the writer's lock (where an append would be)."""
    handlers = InterruptHandlers(lambda name: writer.end(f"KILLED by {name}", 1))
    handlers.install()
    try:
        with writer._lock:
            signal.raise_signal(signum)
            raise AssertionError("the signal did not interrupt the main thread")
    finally:
        handlers.restore()
        assert handlers.ending is not None
        handlers.ending.join(timeout=10)
    return handlers


class TestInterruptHandlers:
    @pytest.mark.parametrize(
        ("signum", "raised"), [(signal.SIGINT, KeyboardInterrupt), (signal.SIGTERM, SystemExit)]
    )
    def test_a_signal_inside_a_spool_append_still_ends_the_run(self, writer, signum, raised):
        """The main thread unwinds at once (KeyboardInterrupt, or exit status 143);
        the run's end is written once the lock is free, in the same file."""
        with pytest.raises(raised) as caught:
            interrupt_inside_the_append_lock(writer, signum)
        if raised is SystemExit:
            assert caught.value.code == 143
        name = signal.Signals(signum).name
        assert spool.read(writer.path).end == {
            "kind": "end",
            "status": f"KILLED by {name}",
            "end_time": 1,
        }

    def test_handlers_are_restored_and_called_once(self, writer):
        calls: list[str] = []
        handlers = InterruptHandlers(calls.append)
        before = signal.getsignal(signal.SIGINT)
        handlers.install()
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
        handlers.ending.join(timeout=10)
        assert calls == ["SIGINT"]
        assert signal.getsignal(signal.SIGINT) is before

    def test_an_ignored_signal_stays_ignored(self):
        """nohup and background jobs ignore SIGINT: the plugin must not revive it."""
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            handlers = InterruptHandlers(lambda name: None)
            handlers.install()
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) == handlers._handle
            handlers.restore()
        finally:
            signal.signal(signal.SIGINT, previous)

    def test_the_ending_thread_is_not_a_daemon(self, writer):
        """The interpreter waits for it before exiting, so the run is always ended."""
        handlers = InterruptHandlers(lambda name: None)
        handlers.install()
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
        handlers.ending.join(timeout=10)
        assert handlers.ending.daemon is False
        assert handlers.ending.name == "kedro-metrics-interrupt"
        assert threading.current_thread() is threading.main_thread()
