"""Where a save's points go, decided once: the store directly (a local store), or
write-ahead to the spool, send, mark delivered; offline, the spool only. A store
that fails past the retry budget leaves the points spooled and the pipeline going
(``on_tracking_error: raise``: the save fails, saying how much was written).
"""

from __future__ import annotations

import atexit
import logging
from collections.abc import Collection

from kedro_metrics import spool, store
from kedro_metrics.delivery.linking import LinkRequest, link_of
from kedro_metrics.delivery.policy import DeliveryPolicy
from kedro_metrics.errors import (
    PartialWriteError,
    StoreUnavailableError,
    TrackingError,
    store_refused,
)
from kedro_metrics.links import NO_LINK, PointLink
from kedro_metrics.points import MetricPoint, ValidatedMetrics, current_time_ms
from kedro_metrics.process import state

logger = logging.getLogger(__name__)

#: The command that delivers what the spool holds.
SYNC_COMMAND = "kedro metrics sync"


def save(  # noqa: PLR0913 - keyword-only settings of one save
    validated: ValidatedMetrics,
    *,
    tracking_uri: str | None,
    policy: DeliveryPolicy,
    label: str,
    asynchronous: bool | None = None,
    linking: LinkRequest | None = None,
) -> None:
    """Deliver one validated save of the dataset ``label`` as ``policy`` says.

    ``asynchronous`` (the dataset's own ``async_logging``) overrides the policy's.
    Non-numeric values (``non_numeric: tag|param``) go first: a value MLflow refuses
    writes nothing. They are never spooled. ``linking`` says what the points link
    to (``delivery.linking``): resolved once, before anything is written.
    """
    if not policy.enabled:
        _say_disabled(label)
        return
    if policy.offline:
        # Offline, the run does not exist yet: no earlier steps to continue from.
        if validated.values:
            logger.warning(
                "%s: offline mode spools numbers only; %d non-numeric value(s) were not "
                "kept.", label, len(validated.values),
            )  # fmt: skip
        points = validated.batch(current_time_ms())
        link = link_of(linking, tracking_uri, None, label)
        try:
            _spooled(policy, points, link)
        except spool.SpoolWriteError as exc:
            _report_lost(policy, len(points), f"offline mode keeps them only there ({exc})")
        return
    run_id = _run_of(policy)
    link = link_of(linking, tracking_uri, run_id, label)
    if validated.values:
        _log_values(tracking_uri, run_id, validated, policy, label)
    first_steps = store.first_steps(tracking_uri, run_id, validated)
    batch = validated.batch(current_time_ms(), first_steps)
    send_points(
        tracking_uri, batch, policy=policy, total=len(batch),
        asynchronous=policy.asynchronous if asynchronous is None else asynchronous, link=link,
    )  # fmt: skip


def send_points(  # noqa: PLR0913
    tracking_uri: str | None,
    points: Collection[MetricPoint],
    *,
    policy: DeliveryPolicy,
    total: int,
    asynchronous: bool = False,
    link: PointLink = NO_LINK,
) -> None:
    """Send ``points`` (each linked as ``link`` says) to the policy's run: directly
    when it has no spool; else spooled (fsync'd) before returning, then sent. A
    failure past the retry budget leaves them spooled and warns once (``raises``:
    raises, saying how much was written). MLflow refusing them (a 4xx) fails the
    save as it would without a spool, and sync will not resend them.

    ``points`` is drawn twice when spooled (into the spool, then to MLflow) and
    must yield the same points each time: a list, or ``ValidatedMetrics.batch``,
    which builds them afresh each time so a large save is never held whole."""
    run_id = _run_of(policy)
    if not policy.spooled:  # a local store: written before save returns
        if asynchronous:
            store.submit_points(tracking_uri, run_id, points, total=total, link=link)
        else:
            store.log_points(tracking_uri, run_id, points, total=total, link=link)
        return
    try:
        writer, saved = _spooled(policy, points, link)
    except spool.SpoolWriteError as exc:
        _send_unspooled(tracking_uri, run_id, points, policy, exc, link)
        return
    count = saved.points

    def written() -> None:
        writer.mark_delivered(saved)

    def batch_written(first: int, count: int) -> None:
        writer.mark_delivered(saved, (first, first + count))

    def failed(exc: Exception) -> bool:
        """Spooled (True), or refused by MLflow: then ``flush`` reports it (False)."""
        if store_refused(exc):
            writer.mark_refused(saved)
            return False
        _report_spooled(exc, count, policy)
        return True

    if asynchronous:
        store.submit_points(
            tracking_uri, run_id, points, total=count, on_written=written,
            on_failed=None if policy.raises else failed, on_batch=batch_written, link=link,
        )  # fmt: skip
        return
    try:
        store.log_points(
            tracking_uri, run_id, points, total=count, on_batch=batch_written, link=link
        )
    except TrackingError as exc:
        if not failed(exc):
            raise
    else:
        written()


def _send_unspooled(  # noqa: PLR0913
    tracking_uri: str | None,
    run_id: str,
    points: Collection[MetricPoint],
    policy: DeliveryPolicy,
    spool_error: spool.SpoolWriteError,
    link: PointLink,
) -> None:
    """The spool did not take a save (a full disk): send it straight to MLflow. What
    MLflow does not take then is lost, and said so."""
    try:
        store.log_points(tracking_uri, run_id, points, total=len(points), link=link)
    except TrackingError as exc:
        if store_refused(exc):
            raise
        written = exc.written if isinstance(exc, PartialWriteError) else 0
        _report_lost(
            policy, len(points) - written,
            f"{written:,} of {len(points):,} were confirmed before MLflow failed "
            f"({exc.__cause__ or exc if isinstance(exc, PartialWriteError) else exc}), and "
            f"the spool could not keep the rest ({spool_error})",
        )  # fmt: skip
        return
    _warn_once(
        f"unspooled:{_spool_of(policy).spool_id}",
        f"kedro-metrics: the spool could not take a save ({spool_error}); its points were "
        "sent to MLflow directly, which took them all. Free the disk: while the spool "
        "cannot be written, points MLflow does not take are lost.",
    )


def _report_lost(policy: DeliveryPolicy, lost: int, why: str) -> None:
    """``lost`` points of a save are NOT kept anywhere: raise (``raises``), else warn
    once per run and let the pipeline go on."""
    message = f"{lost:,} point(s) of a save were NOT kept: {why}."
    if policy.raises:
        raise TrackingError(message)
    _warn_once(
        f"lost:{_spool_of(policy).spool_id}", f"kedro-metrics: {message} The pipeline goes on."
    )


def _warn_once(key: str, message: str) -> None:
    """``message`` as a warning the first time ``key`` is seen in this process, as a
    debug line after."""
    with state.lock:
        first = key not in state.warned_spools
        state.warned_spools.add(key)
    if first:
        logger.warning(message)
    else:
        logger.debug(message)


def open_spool(policy: DeliveryPolicy) -> None:
    """Create the run's spool file now (its header first): if this process dies, the
    file tells ``sync`` which run to end KILLED, or which offline run to create. A
    disk that does not take it is said once; each save then tries again."""
    if policy.spool is not None:
        try:
            spool.writer_for(policy.spool)
        except spool.SpoolWriteError as exc:
            _warn_once(f"unspooled:{policy.spool.spool_id}", f"kedro-metrics: {exc}")


def _spooled(
    policy: DeliveryPolicy, points: Collection[MetricPoint], link: PointLink = NO_LINK
) -> tuple[spool.SpoolWriter, spool.SpooledSave]:
    """Append one save to this process's spool file of the run: (writer, where the
    save is in it). A file closed meanwhile (the run ended under a thread still
    saving) gives way to a late file."""
    target = _spool_of(policy)
    writer = spool.writer_for(target)
    try:
        saved = writer.add_points(points, link)
    except spool.SpoolClosedError:
        writer = spool.writer_for(target)  # a late writer now
        saved = writer.add_points(points, link)
    return writer, saved


def _report_spooled(exc: Exception, total: int, policy: DeliveryPolicy) -> None:
    """The points MLflow did not take are in the spool: raise (``raises``), else warn
    once per run and let the pipeline go on."""
    target = _spool_of(policy)
    partial = isinstance(exc, PartialWriteError)
    written = exc.written if partial else 0
    uncertain = exc.uncertain if partial else (total if store.answer_lost(exc) else 0)
    reason = exc.__cause__ if partial and exc.__cause__ is not None else exc
    rest = total - written
    where = f"the spool ({target.directory}); `{SYNC_COMMAND}` delivers them"
    maybe = (
        f" ({uncertain:,} of them were sent and their answer lost: MLflow may hold them, "
        "and delivering them again stores nothing twice)"
        if uncertain
        else ""
    )
    if policy.raises:
        raise TrackingError(
            f"{written:,} of {total:,} points were confirmed before the failure; the other "
            f"{rest:,} are not confirmed{maybe} (they are kept in {where}). {reason}"
        ) from None
    done = f"{written:,} of {total:,} points were confirmed before the failure; the rest{maybe} are"
    if not written:
        done = f"MLflow did not confirm the {total:,} point(s) of a save{maybe}; they are"
    _warn_once(
        target.spool_id, f"kedro-metrics: {done} in {where}. The pipeline goes on. ({reason})"
    )


def _log_values(
    tracking_uri: str | None,
    run_id: str,
    validated: ValidatedMetrics,
    policy: DeliveryPolicy,
    label: str,
) -> None:
    """The non-numeric values as params or tags. Not spooled: when the store is
    unavailable and the run spools, they are reported lost and the metrics still go
    to the spool (``on_tracking_error: raise`` fails instead)."""
    values = validated.values
    try:
        store.log_values(tracking_uri, run_id, **{f"{validated.values_as}s": values})
    except StoreUnavailableError as exc:
        if not policy.survives(exc):
            raise
        logger.warning(
            "%s: %d non-numeric value(s) (%s) were not logged, the store is unavailable; "
            "only numbers are spooled. (%s)", label, len(values), ", ".join(sorted(values)), exc,
        )  # fmt: skip


def _say_disabled(label: str) -> None:
    with state.lock:
        first = label not in state.said_disabled
        state.said_disabled.add(label)
    if first:
        logger.info(
            "Metrics tracking is off for this pipeline (metrics.yml `disabled_pipelines`): "
            "%s logs nothing.", label,
        )  # fmt: skip


def pending_points(policy: DeliveryPolicy) -> int:
    """Points of the policy's run not confirmed by MLflow, in every process's file."""
    target = policy.spool
    if target is None:
        return 0
    writer = spool.existing_writer(target)
    mine = writer.path if writer is not None else None
    count = writer.pending_points if writer is not None else 0
    for path in spool.spool_files(target.directory):
        if path.name.startswith(f"{target.spool_id}.") and path != mine:
            try:
                count += spool.read(path).pending_points
            except OSError:  # a sync delivered it meanwhile
                continue
    return count


def _run_of(policy: DeliveryPolicy) -> str:
    if policy.run_id is None:  # only an offline or a disabled policy has no run
        raise ValueError(f"{policy!r} has no run to send to")
    return policy.run_id


def _spool_of(policy: DeliveryPolicy) -> spool.SpoolTarget:
    if policy.spool is None:
        raise ValueError(f"{policy!r} has no spool")
    return policy.spool


def close_unowned_spools() -> None:
    """At the exit of a process that saved outside ``kedro run`` (a script, a notebook,
    to a run id of its own): once its asynchronous saves are done, close each of its
    spool files, and remove those whose saves MLflow all confirmed. A file with a
    save pending stays for ``kedro metrics sync``."""
    if not spool.unowned_writers():
        return  # also: a process that never saved imports no mlflow here
    try:
        if store.pending_writes():
            store.flush()
    except Exception:  # noqa: BLE001 - at exit: what failed stays spooled, said at save time
        return
    for writer in spool.unowned_writers():
        delivered = writer.pending_points == 0
        spool.close_writer(writer.target, remove=delivered)


# Registered at import, before the store's own exit flush (atexit runs in reverse order),
# and flushing first all the same.
atexit.register(close_unowned_spools)
