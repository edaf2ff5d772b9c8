"""The end of a tracked run: tell the store how it ended, or record it in the spool
for ``sync`` to tell; remove the spool files once MLflow has everything."""

from __future__ import annotations

import logging

from kedro_metrics import spool, store
from kedro_metrics.delivery.meaning_record import record_meaning
from kedro_metrics.delivery.policy import DeliveryPolicy
from kedro_metrics.delivery.save import SYNC_COMMAND, pending_points
from kedro_metrics.errors import TrackingError
from kedro_metrics.meaning import Declarations
from kedro_metrics.points import current_time_ms

logger = logging.getLogger(__name__)


def finish_run(
    tracking_uri: str,
    policy: DeliveryPolicy,
    *,
    owned: bool,
    status: str,
    declarations: Declarations | None = None,
) -> None:
    """End the policy's run with ``status`` (FINISHED, FAILED, KILLED) when this process
    started it (``owned``); a run reused from elsewhere is never ended here.

    First what its metrics mean (``declarations``) is recorded in the run. Without a
    spool the store is then told directly. With one, the status is recorded in the
    spool first (if the store cannot be told, ``sync`` tells it), with the
    declarations the store did not take (``sync`` records them); then the store is
    told, then the spool files go when MLflow has everything; otherwise one line says
    what is pending and how to deliver it.
    """
    meaning = _meaning_left_over(tracking_uri, policy, declarations)
    target = policy.spool
    if target is None:
        if owned and policy.run_id:
            store.end_run(tracking_uri, policy.run_id, status=status)
            logger.info("kedro-metrics: run %s ended %s.", policy.run_id, status)
        return
    end_time = current_time_ms()
    told = not owned
    if owned:
        _record_end(target, status, end_time, meaning)
        if not policy.offline and policy.run_id:
            try:
                store.end_run(tracking_uri, policy.run_id, status=status, end_time=end_time)
                told = True
                logger.info("kedro-metrics: run %s ended %s.", policy.run_id, status)
            except TrackingError as exc:
                if policy.raises:
                    spool.close_writer(target, remove=False)
                    raise
                logger.warning("kedro-metrics: could not end run %s: %s", policy.run_id, exc)
    pending = pending_points(policy)
    delivered = told and not policy.offline and pending == 0 and not (owned and meaning)
    spool.close_writer(target, remove=delivered)
    if delivered:
        _remove_delivered(target)
    elif policy.offline:
        logger.info(
            "kedro-metrics: the run (%s, %s points) is spooled in %s; `%s` delivers it.",
            status, f"{pending:,}", target.directory, SYNC_COMMAND,
        )  # fmt: skip
    else:
        logger.warning(
            "kedro-metrics: %s points of run %s%s are pending in the spool %s; `%s` "
            "delivers them.", f"{pending:,}", policy.run_id,
            " and what its metrics mean" if owned and meaning else "", target.directory,
            SYNC_COMMAND,
        )  # fmt: skip


def _meaning_left_over(
    tracking_uri: str, policy: DeliveryPolicy, declarations: Declarations | None
) -> Declarations | None:
    """Record ``declarations`` in the run; those the store did not take (a run spooled
    whole, a store that failed), for the spool."""
    if not (policy.enabled and declarations):
        return None
    in_the_store = policy.run_id is not None and not policy.offline
    if in_the_store and record_meaning(tracking_uri, policy.run_id, declarations):
        return None
    return declarations


def _record_end(
    target: spool.SpoolTarget, status: str, end_time: int, meaning: Declarations | None
) -> None:
    """The end status in the spool, for ``sync`` should the store not be told, and the
    declarations it was not given; a disk that does not take them does not stop the
    run from ending."""
    try:
        spool.writer_for(target).end(
            status, end_time, meaning=meaning.as_json() if meaning else None
        )
    except spool.SpoolWriteError as exc:
        logger.warning("kedro-metrics: the run's end could not be spooled: %s", exc)


def _remove_delivered(target: spool.SpoolTarget) -> None:
    """Remove the run's files of finished worker processes that hold nothing pending."""
    for path in spool.spool_files(target.directory):
        if path.name.startswith(f"{target.spool_id}."):
            with spool.claimed(path) as claimed:
                if claimed and spool.delivered_whole(path):
                    path.unlink(missing_ok=True)
