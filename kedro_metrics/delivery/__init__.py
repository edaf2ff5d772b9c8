"""The delivery wing: where a point goes, decided in one place.

A save's validated batch arrives with its run's ``DeliveryPolicy`` (``policy``,
built once per run) and goes to the store directly (a local store), or write-ahead
to the spool and then to the store (a remote one), or to the spool only (offline);
synchronously or from a background thread (``save``). ``ending`` ends a tracked
run and records what its metrics mean (``meaning_record``; or ``sync`` does),
``sync`` delivers what the spool holds, ``spool`` is the files themselves;
``latest_run`` notes which store the latest `kedro run` went to; ``linking`` says
what a save's points link to (the data, the LoggedModel).
Independent of ``reading``.
"""

from kedro_metrics.delivery.ending import finish_run
from kedro_metrics.delivery.latest_run import remember_latest_run
from kedro_metrics.delivery.linking import LinkRequest
from kedro_metrics.delivery.policy import DISABLED, DeliveryPolicy, for_run, outside_a_run
from kedro_metrics.delivery.save import SYNC_COMMAND, open_spool, pending_points, save, send_points
from kedro_metrics.delivery.sync import SyncReport, sync, sync_on_start

__all__ = [
    "DISABLED",
    "SYNC_COMMAND",
    "DeliveryPolicy",
    "LinkRequest",
    "SyncReport",
    "finish_run",
    "for_run",
    "open_spool",
    "outside_a_run",
    "pending_points",
    "remember_latest_run",
    "save",
    "send_points",
    "sync",
    "sync_on_start",
]
