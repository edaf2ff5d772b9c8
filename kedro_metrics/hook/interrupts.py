"""Ctrl-C and SIGTERM during ``kedro run``: handlers that end the plugin's run
KILLED, then let the interrupt go on as it would without the plugin.

Standard library only: the hook's run state (``tracked_run``) installs them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator
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

    The handlers are installed before the run exists (``on_interrupt`` None: the
    interrupt goes on as without the plugin) and the run sets ``on_interrupt`` once it
    does. While it is being created (``deferred``) a signal waits for the end of the
    creation: the store may have created the run already, and only once its id is
    known can the run be ended KILLED. A second signal does not wait.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, on_interrupt: Callable[[str], None] | None = None) -> None:
        #: What ends the run; None while there is no run to end.
        self.on_interrupt = on_interrupt
        self._previous: dict[int, Any] = {}
        self._deferring = False
        self._pending: int | None = None
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

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """A signal that comes during the block is acted on at its end (with the
        ``on_interrupt`` set by then), not in the middle of it."""
        self._deferring = True
        try:
            yield
        finally:
            self._deferring = False
            pending, self._pending = self._pending, None
            if pending is not None and os.getpid() == self._pid:
                self._handle(pending, None)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._deferring and self._pending is None and os.getpid() == self._pid:
            self._pending = signum  # acted on once the run exists (``deferred``)
            return
        previous = self._previous.get(signum, signal.SIG_DFL)
        if os.getpid() == self._pid and self.ending is None and self.on_interrupt is not None:
            self.restore()
            self.ending = threading.Thread(
                target=self._end_run, args=(signal.Signals(signum).name,),
                name="kedro-metrics-interrupt",
            )  # fmt: skip
            self.ending.start()
        elif os.getpid() == self._pid:
            self.restore()
        if callable(previous):
            previous(signum, frame)
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise SystemExit(128 + signum)

    def _end_run(self, signal_name: str) -> None:
        try:
            if self.on_interrupt is not None:
                self.on_interrupt(signal_name)
        except Exception:
            logger.exception("kedro-metrics: could not end the run after the interrupt")
