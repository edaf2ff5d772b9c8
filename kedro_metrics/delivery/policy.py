"""The delivery policy of one run: where its points go and what a failing store does.

Built once per run: by the hook for the run of a ``kedro run`` (``for_run``), or for
a save outside one (``outside_a_run``). The datasets carry it (it pickles, for
ParallelRunner's workers) and hand it to ``delivery.save`` with each batch; nobody
else reads metrics.yml's ``on_tracking_error``, ``mode`` or ``async_logging``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from kedro_metrics import config, spool, store
from kedro_metrics.config import MetricsConfig
from kedro_metrics.errors import StoreUnavailableError
from kedro_metrics.spool import SpoolTarget


@dataclass(frozen=True)
class DeliveryPolicy:
    """Where one run's points go: the store directly (a local store), or through the
    write-ahead spool (a remote store, offline mode); and whether a store that
    fails fails the save (``raises``) or leaves the points spooled."""

    #: The MLflow run; None for a run spooled offline (``sync`` creates it) or
    #: tracking that is off.
    run_id: str | None
    #: False for a pipeline listed in metrics.yml ``disabled_pipelines``.
    enabled: bool = True
    #: Nothing is sent before ``kedro metrics sync``.
    offline: bool = False
    #: Saves return once the points are validated (and spooled): MLflow gets them
    #: from a background thread.
    asynchronous: bool = False
    #: ``on_tracking_error: raise``: a failing store fails the save.
    raises: bool = False
    #: The run's spool file; None for a local store (written before save returns).
    spool: SpoolTarget | None = None

    @property
    def spooled(self) -> bool:
        return self.spool is not None

    @property
    def keeps_going(self) -> bool:
        """A failing store leaves the pipeline going: the points wait in the spool
        (``on_tracking_error: spool``)."""
        return self.spooled and not self.raises

    def survives(self, exc: BaseException) -> bool:
        """Does the run go on after ``exc``? Yes for an unavailable store while the
        points wait in the spool."""
        return self.keeps_going and isinstance(exc, StoreUnavailableError)

    def with_run(self, run_id: str) -> DeliveryPolicy:
        """This policy for the run the store just created."""
        target = replace(self.spool, run_id=run_id) if self.spool is not None else None
        return replace(self, run_id=run_id, spool=target)


#: The policy of a pipeline whose tracking is off.
DISABLED = DeliveryPolicy(run_id=None, enabled=False)


def for_run(  # noqa: PLR0913
    settings: MetricsConfig,
    *,
    tracking_uri: str,
    run_id: str | None,
    spool_directory: str,
    offline: bool = False,
    owner: bool = False,
    new_run: Mapping[str, Any] | None = None,
) -> DeliveryPolicy:
    """The policy of a run one ``kedro run`` tracks. Spooled when the store is remote
    or the run is offline; ``owner``: this process started the run (only its spool
    file ends it); ``new_run``: what ``sync`` needs to create an offline run
    (experiment, run_name, tags, start_time, params)."""
    target = None
    if offline or not store.is_local(tracking_uri):
        target = SpoolTarget(
            spool_directory, spool.new_spool_id(), run_id, store.redact(tracking_uri) or "",
            owner_pid=os.getpid() if owner else None, **dict(new_run or {}),
        )  # fmt: skip
    return DeliveryPolicy(
        run_id=run_id,
        offline=offline,
        asynchronous=settings.async_logging and not offline,
        raises=settings.on_tracking_error == config.RAISE,
        spool=target,
    )


def outside_a_run(tracking_uri: str, run_id: str) -> DeliveryPolicy:
    """A save outside ``kedro run`` (a notebook, a script) to ``run_id``: a local store
    directly; a remote one through the working directory's ``.kedro_metrics/spool``
    (or ``KEDRO_METRICS_SPOOL_DIR``). A failed save raises there (the caller is at
    the keyboard); its points stay spooled for ``kedro metrics sync``."""
    if store.is_local(tracking_uri):
        return DeliveryPolicy(run_id=run_id, raises=True)
    directory = config.spool_dir(None, os.environ, os.getcwd())
    target = SpoolTarget(directory, f"run-{run_id}", run_id, store.redact(tracking_uri) or "")
    return DeliveryPolicy(run_id=run_id, raises=True, spool=target)
