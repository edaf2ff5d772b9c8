"""Ctrl-C and SIGTERM during ``kedro run``: handlers that end the plugin's run
KILLED, then let the interrupt go on as it would without the plugin.

Standard library only: the hook's run state (``tracked_run``) installs them.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

logger = logging.getLogger(__name__)


class InterruptHandlers:
    """SIGINT and SIGTERM handlers that call ``on_interrupt`` once, then behave as
    before: Ctrl-C raises KeyboardInterrupt, SIGTERM exits with status 143.

    Kedro calls ``on_pipeline_error`` only for ``Exception``: an interrupt would
    otherwise leave the run RUNNING forever. Only the process that installed the
    handlers reacts (ParallelRunner's forked workers inherit them).

    ``on_interrupt`` runs in its own (non-daemon) thread, never inside the handler:
    the signal may arrive while the main thread holds a lock that ending the run
    needs (a spool append, the retry budget). The main thread unwinds at once,
    releasing it, and the interpreter waits for that thread before exiting.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, on_interrupt: Callable[[str], None]) -> None:
        self._on_interrupt = on_interrupt
        self._previous: dict[int, Any] = {}
        self._pid = os.getpid()
        #: The thread ending the run after a signal (tests join it).
        self.ending: threading.Thread | None = None

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # Python allows signal handlers in the main thread only
        for signum in self.SIGNALS:
            if signal.getsignal(signum) is signal.SIG_IGN:
                continue  # the process was told to ignore it (nohup, a background job)
            self._previous[signum] = signal.signal(signum, self._handle)

    def restore(self) -> None:
        if os.getpid() != self._pid:
            return
        previous, self._previous = self._previous, {}
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        previous = self._previous.get(signum, signal.SIG_DFL)
        if os.getpid() == self._pid and self.ending is None:
            self.restore()
            self.ending = threading.Thread(
                target=self._end_run, args=(signal.Signals(signum).name,),
                name="kedro-metrics-interrupt",
            )  # fmt: skip
            self.ending.start()
        if callable(previous):
            previous(signum, frame)
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise SystemExit(128 + signum)

    def _end_run(self, signal_name: str) -> None:
        try:
            self._on_interrupt(signal_name)
        except Exception:
            logger.exception("kedro-metrics: could not end the run after the interrupt")
