"""At the end of a ``kedro run`` (FINISHED, FAILED or KILLED): record in the run what
its metrics mean, and log the declared summaries as MLflow metrics. A run that is
spooled (offline, or its store down) keeps its declarations in its spool file's end
record instead, and ``sync`` records them when it delivers the run.

Costs nothing when nothing is declared; otherwise one request to read the run, one
per key with a summary to read its history (in flight against a server), and one
``log_batch`` with the summaries and the tags together.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from kedro_metrics import store
from kedro_metrics.errors import ConfigError, KedroMetricsError
from kedro_metrics.meaning import (
    MEANING_TAG,
    SUMMARIES_TAG,
    Declarations,
    meaning_tags,
    recorded_meanings,
)
from kedro_metrics.summaries import plan_summaries

logger = logging.getLogger(__name__)


def record_meaning(tracking_uri: str, run_id: str, declarations: Declarations) -> bool:
    """The meaning of every key of the run that ``declarations`` covers, in the run's
    tags, and the summaries they declare as ``<key>.<summary>`` metrics.

    A summary whose name the run already holds from a dataset is not logged: one
    warning names it. Never raises for the store: the run goes on without them, and
    False says they were not recorded (the caller may spool them).
    """
    if not declarations:
        return True
    try:
        record_or_raise(tracking_uri, run_id, declarations)
    except KedroMetricsError as exc:
        logger.warning(
            "kedro-metrics: the meaning and summaries of run %s were not recorded: %s",
            run_id, exc,
        )  # fmt: skip
        return False
    return True


def record_spooled_meaning(tracking_uri: str, run_id: str, spooled: Mapping[str, Any]) -> None:
    """The declarations a spool file's end record kept (``Declarations.as_json``),
    recorded as at the end of a run; a failing store raises, so the file stays for
    the next ``sync``. Declarations this version cannot read are said, not recorded."""
    try:
        declarations = Declarations.parse(spooled, source=f"the spool of run {run_id}")
    except ConfigError as exc:
        logger.warning("kedro-metrics: the spooled meaning of run %s is not recorded: %s",
                       run_id, exc)  # fmt: skip
        return
    record_or_raise(tracking_uri, run_id, declarations)


def record_or_raise(tracking_uri: str, run_id: str, declarations: Declarations) -> None:
    """``record_meaning``, raising the store's TrackingError."""
    run = store.get_run(tracking_uri, run_id)
    if run is None:
        return
    listed = run.summary_keys
    declared = {key: m for key in run.metrics if (m := declarations.for_key(key)) is not None}
    if not declared:
        return
    summarised = sorted(key for key, meaning in declared.items() if meaning.summary)
    histories = store.read_histories(tracking_uri, [(run_id, key) for key in summarised])
    plan = plan_summaries(
        {key: histories[run_id, key] for key in summarised},
        declared,
        run_keys=run.latest,
        listed=listed,
    )
    for key in plan.kept:
        logger.warning(
            "kedro-metrics: run %s already holds the metric %r from a dataset; the summary "
            "of that name is not logged (kedro metrics show computes it from the history).",
            run_id, key,
        )  # fmt: skip
    meanings = {**recorded_meanings(run.tags), **declared}
    tags = meaning_tags(meanings, limit=store.TAG_VALUE_LIMIT)
    # a shorter text than the one recorded before: empty the chunks it no longer needs
    tags |= {name: "" for name in run.tags if name.startswith(f"{MEANING_TAG}.")} | tags
    summary_keys = sorted(set(listed) | {point.key for point in plan.points})
    if summary_keys:
        tags[SUMMARIES_TAG] = json.dumps(summary_keys, separators=(",", ":"))
    store.log_metrics_and_tags(tracking_uri, run_id, list(plan.points), tags)
    logger.info(
        "kedro-metrics: recorded the meaning of %d metric(s) and %d summary(ies) in run %s.",
        len(declared), len(plan.points), run_id,
    )  # fmt: skip
