"""Runs with children read as one pipeline: MLflow's parent tag (set by Kubeflow's
MLflow integration for each task, kedro-mlflow's nested runs, a notebook's
``start_run(nested=True)``), a run's family in reading order, and how many children
each run has. Pure: no I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from kedro_metrics.records import Run

#: MLflow's tag naming a run's parent (``mlflow.utils.mlflow_tags.MLFLOW_PARENT_RUN_ID``;
#: a test holds them equal, the pure core does not import mlflow).
PARENT_TAG = "mlflow.parentRunId"


def parent_of(run: Run) -> str | None:
    return run.tags.get(PARENT_TAG) or None


def family(parent: Run, runs: Iterable[Run]) -> list[Run]:
    """``parent`` and its descendants among ``runs``: each run followed by its
    children's families, siblings oldest first, every run once (a cycle of parent
    tags cannot loop)."""
    children: dict[str, list[Run]] = {}
    for run in runs:
        parent_id = parent_of(run)
        if parent_id:
            children.setdefault(parent_id, []).append(run)
    ordered: list[Run] = []
    seen: set[str] = set()
    waiting = [parent]
    while waiting:
        run = waiting.pop()
        if run.run_id in seen:
            continue
        seen.add(run.run_id)
        ordered.append(run)
        kids = sorted(children.get(run.run_id, ()), key=lambda r: (r.start_time or 0, r.run_id))
        waiting.extend(reversed(kids))  # the oldest child is visited next
    return ordered


def children_counts(runs: Iterable[Run]) -> dict[str, int]:
    """Run id -> how many of ``runs`` name it as their parent."""
    return dict(Counter(parent_id for run in runs if (parent_id := parent_of(run))))
