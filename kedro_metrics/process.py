"""What one process of kedro-metrics remembers, and what a forked worker forgets.

Every piece of process-wide state lives in ``state``, one ``ProcessState``, so
"what does this process remember" has one answer: MLflow clients per tracking URI,
the retry budget, the asynchronous writer, the step ledger of ``steps: continue``,
the open spool writers, the runs already warned about, the last Kedro context and
the sessions a hook tracks. Modules create their objects in it on first use.

A forked worker (ParallelRunner) must not replay its parent's queued writes, append
to its parent's spool files or reuse its parent's database connections: the one
fork reset below gives the child a fresh state for those, keeps what is safe to
share (clients, the retry budget, the Kedro context), and runs the clean-ups other
modules registered with ``after_fork`` (the store disposes MLflow's SQL engines).

Standard library only: every module may import this one.
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ProcessState:
    """The state of kedro-metrics in this process. Fields typed ``Any`` hold objects
    of modules above this one (``store``, ``delivery``), created there on first use."""

    #: Guards every lazily created field below.
    lock: threading.RLock = field(default_factory=threading.RLock)
    # Kept in a forked worker --------------------------------------------------------
    #: One MLflow client per tracking URI (store.client).
    clients: dict[str, Any] = field(default_factory=dict)
    #: The retry budget of this process (store.failures.RetryBudget).
    retry_budget: Any = None
    #: The last KedroContext created in this process (project).
    last_context: Any = None
    #: Sessions some MetricsHook instance tracks (hook).
    sessions_tracked: set[str] = field(default_factory=set)
    #: The run a ``kedro run`` of this process writes to, ``(tracking URI, run id)``,
    #: while its pipeline runs (hook): ``kedro_metrics.check()`` in a node checks it.
    current_run: tuple[str, str] | None = None
    #: Runs other processes log to as well (the hook resumed them): a save reads
    #: their model outputs every time (delivery.linking).
    shared_runs: set[str] = field(default_factory=set)
    #: A run's LoggedModel outputs by (URI, run id, last model logged) (store.models).
    model_outputs: dict[tuple[str, str, str], list[tuple[str, int]]] = field(default_factory=dict)
    #: The LoggedModel a catalog dataset's save logged, by (URI, run id, dataset).
    dataset_models: dict[tuple[str, str, str], str] = field(default_factory=dict)
    #: The digests of data metrics were evaluated on, by (run id, catalog name):
    #: taken at the first save that links to them, reused for the run's inputs.
    data_digests: dict[tuple[str, str], Any] = field(default_factory=dict)
    # Forgotten in a forked worker ---------------------------------------------------
    #: The asynchronous writer (store.write), None until the first async save.
    async_writer: Any = None
    #: The highest step per key of ``steps: continue`` saves (store.context).
    step_ledger: Any = None
    #: Open spool writers by (directory, spool id) (spool.writer).
    spool_writers: dict[tuple[str, str], Any] = field(default_factory=dict)
    #: Runs whose spool writer this process closed: later saves get a late file.
    closed_spools: set[tuple[str, str]] = field(default_factory=set)
    #: Warnings already given: one per run and kind (spooled, unspooled, lost; delivery).
    warned_spools: set[str] = field(default_factory=set)
    #: Datasets that already said tracking is off for their pipeline (delivery).
    said_disabled: set[str] = field(default_factory=set)
    #: Saves running with the cyclic garbage collector paused (collection_paused),
    #: and whether it ran before the first of them.
    gc_pauses: int = 0
    gc_was_enabled: bool = False

    def get(self, name: str, factory: Callable[[], Any]) -> Any:
        """The field ``name``, created with ``factory`` when still None."""
        with self.lock:
            value = getattr(self, name)
            if value is None:
                value = factory()
                setattr(self, name, value)
            return value

    def forget_after_fork(self) -> None:
        """What a forked worker must not share with its parent."""
        self.lock = threading.RLock()  # the parent's may have been held at fork time
        self.async_writer = None
        self.step_ledger = None
        self.spool_writers = {}
        self.closed_spools = set()
        self.warned_spools = set()
        self.said_disabled = set()
        if self.gc_pauses and self.gc_was_enabled:  # forked in the middle of a save
            gc.enable()
        self.gc_pauses, self.gc_was_enabled = 0, False


state = ProcessState()


@contextlib.contextmanager
def collection_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused while a save builds and sends its
    points, or a load reads them back: a large save allocates millions of
    short-lived objects that hold no cycles, and the collections they trigger cost
    more than the validation itself (tests/benchmarks/bench.py; a load's MLflow rows
    and points likewise). Reference counting still frees them at once; the collector
    resumes when the last save or load running in the process ends, and collects
    then if it is due. Between a save's batches ``collect_young`` frees the cycles
    MLflow's calls leave behind, so the pause saves time without holding memory."""
    with state.lock:
        if state.gc_pauses == 0:
            state.gc_was_enabled = gc.isenabled()
            gc.disable()
        state.gc_pauses += 1
    try:
        yield
    finally:
        with state.lock:
            state.gc_pauses -= 1
            if state.gc_pauses == 0 and state.gc_was_enabled:
                gc.enable()


def collect_young() -> None:
    """While a pause holds, collect the youngest generation once: what a batch's
    MLflow call left in reference cycles (SQLAlchemy's session and its unit of work,
    about 3 KB a batch) is freed then rather than when the save ends, so a
    1,000,000-point save grows no more than a hand-written ``log_batch`` loop
    (tests/benchmarks/bench_memory.py). It walks only the objects allocated since
    the last batch, never the whole process as a full collection does."""
    if state.gc_pauses:
        gc.collect(0)


_fork_cleanups: list[Callable[[], None]] = []


def after_fork(cleanup: Callable[[], None]) -> None:
    """Run ``cleanup`` in every forked child, after the state was reset."""
    _fork_cleanups.append(cleanup)


def _reset_in_child() -> None:
    state.forget_after_fork()
    for cleanup in _fork_cleanups:
        cleanup()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_in_child)
