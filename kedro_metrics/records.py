"""The pure core of the read side: runs, metric records, compare, nesting.

Standard library only: no kedro, no mlflow, no I/O. ``store`` turns MLflow's runs
into ``Run`` values; ``query`` picks runs and turns them into records with the
functions here; ``formats`` renders the results.

A **record** is a plain dict with exactly the keys of ``RECORD_FIELDS``, in that
order: one point of one metric of one run. ``timestamp`` is MLflow's epoch
milliseconds; ``created_at`` is the same instant as ISO 8601 UTC ending in ``Z``.

Run references (``latest~1``, ``branch:main``...) are parsed and resolved against
these runs in ``run_references``.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from typing import Any

from kedro_metrics.meaning import UNDECLARED, Meaning, summary_keys
from kedro_metrics.points import MetricPoint, ordered

#: The keys of a metric record, in order (also the CSV columns of get_metrics).
RECORD_FIELDS = (
    "name",
    "value",
    "step",
    "timestamp",
    "run_id",
    "run_name",
    "pipeline",
    "experiment",
    "created_at",
)

#: The run tag the kedro-metrics hook writes the pipeline name(s) to.
PIPELINE_TAG = "kedro.pipeline"
#: How many characters of a run id the tables show.
SHORT_ID = 8


@dataclass(frozen=True)
class Run:
    """What the read side needs of an MLflow run, with its metrics' last points."""

    run_id: str
    run_name: str
    status: str
    start_time: int | None
    end_time: int | None
    experiment: str
    experiment_id: str
    tags: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)
    #: The last point of each metric (the one MLflow reports as its value), by key.
    latest: Mapping[str, MetricPoint] = field(default_factory=dict)

    @cached_property
    def summary_keys(self) -> frozenset[str]:
        """The keys the hook logged as summaries of other keys (its summaries tag)."""
        return summary_keys(self.tags)

    @cached_property
    def metrics(self) -> Mapping[str, MetricPoint]:
        """``latest`` without the summary keys: the metrics a reader lists as rows."""
        hidden = self.summary_keys
        return {key: point for key, point in self.latest.items() if key not in hidden}

    @property
    def pipeline(self) -> str | None:
        """The pipeline name(s) the hook tagged the run with, comma-separated."""
        return self.tags.get(PIPELINE_TAG)

    @property
    def short_id(self) -> str:
        return self.run_id[:SHORT_ID]

    def duration_s(self) -> float | None:
        """Seconds from start to end; None while running or when unknown."""
        if self.start_time is None or self.end_time is None:
            return None
        return (self.end_time - self.start_time) / 1000

    def runs_pipeline(self, pipeline: str) -> bool:
        """True when ``pipeline`` is one of the run's pipelines."""
        return pipeline in (self.pipeline or "").split(",")


def newest(runs: Iterable[Run]) -> Run:
    """The run that started last (where one answer spans runs, it decides)."""
    return max(runs, key=lambda run: run.start_time or 0)


# Times ---------------------------------------------------------------------------


def iso_utc(epoch_ms: int | None) -> str | None:
    """Epoch milliseconds as ISO 8601 UTC ending in ``Z`` (milliseconds kept)."""
    if epoch_ms is None:
        return None
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# Records -------------------------------------------------------------------------


def record(run: Run, point: MetricPoint) -> dict[str, Any]:
    """The record of one point of ``run``: the keys of ``RECORD_FIELDS``, in order."""
    return {
        "name": point.key,
        "value": point.value,
        "step": point.step,
        "timestamp": point.timestamp,
        "run_id": run.run_id,
        "run_name": run.run_name,
        "pipeline": run.pipeline,
        "experiment": run.experiment,
        "created_at": iso_utc(point.timestamp),
    }


def last_value_records(runs: Iterable[Run], names: str | None = None) -> list[dict[str, Any]]:
    """One record per metric per run: the metric's last point, names sorted per run."""
    return [record(run, run.latest[key]) for run in runs for key in selected(run, names)]


def selected(run: Run, pattern: str | None) -> list[str]:
    """The metric keys of ``run`` that ``pattern`` selects, sorted; a summary key
    only by its exact name."""
    if pattern in run.summary_keys and pattern in run.latest:
        return [pattern]
    return matching(run.metrics, pattern)


def history_records(run: Run, history: Iterable[MetricPoint]) -> list[dict[str, Any]]:
    """The records of one metric's history, ordered by step then timestamp."""
    return [record(run, point) for point in ordered(history)]


# Names ---------------------------------------------------------------------------


def name_matches(key: str, pattern: str | None) -> bool:
    """``pattern`` is None (everything), the exact key, or a glob (``model_metrics.*``)."""
    return pattern is None or key == pattern or fnmatch.fnmatchcase(key, pattern)


def matching(keys: Iterable[str], pattern: str | None) -> list[str]:
    """The keys ``pattern`` selects, sorted."""
    return sorted(key for key in keys if name_matches(key, pattern))


def matches_any(key: str, globs: Iterable[str]) -> bool:
    """True when ``key`` matches one of ``globs``."""
    return any(name_matches(key, glob) for glob in globs)


# Run references ------------------------------------------------------------------

# Compare -------------------------------------------------------------------------


def compare(
    runs: Sequence[Run],
    *,
    names: str | None = None,
    only_changed: bool = False,
    meaning: Callable[[str], Meaning] | None = None,
) -> list[dict[str, Any]]:
    """A row per metric: ``{name, values, change, change_pct, better}``.

    ``values`` maps each run id (in ``runs`` order) to its last value, or None when
    the run lacks the metric. ``change`` is the last run's value minus the first
    run's, ``change_pct`` that change in percent of the first value (None when
    either is missing, or the first is 0). ``only_changed`` keeps rows whose
    values differ or are missing somewhere (DVC's ``metrics diff``).
    """
    keys = matching({key for run in runs for key in run.metrics}, names)
    rows = []
    for key in keys:
        values = {
            run.run_id: (run.latest[key].value if key in run.latest else None) for run in runs
        }
        first, last = (values[runs[0].run_id], values[runs[-1].run_id]) if runs else (None, None)
        change = None if first is None or last is None else last - first
        change_pct = None if change is None or first == 0 else change / abs(first) * 100
        better = (meaning or _undeclared)(key).better(change)
        row = {
            "name": key, "values": values, "change": change, "change_pct": change_pct,
            "better": better,
        }  # fmt: skip
        if not only_changed or _changed(values.values()):
            rows.append(row)
    return rows


def _undeclared(key: str) -> Meaning:
    return UNDECLARED


def compare_params(runs: Sequence[Run]) -> list[dict[str, Any]]:
    """``compare --params``: a row per parameter whose value differs between the runs
    (or is missing in one), named ``params.<name>``: values as strings, a missing
    one None; ``change``, ``change_pct`` and ``better`` None."""
    names = sorted({name for run in runs for name in run.params})
    rows = []
    for name in names:
        values = {run.run_id: run.params.get(name) for run in runs}
        if len(set(values.values())) > 1:
            rows.append({
                "name": f"params.{name}", "values": values, "change": None,
                "change_pct": None, "better": None,
            })  # fmt: skip
    return rows


def _changed(values: Iterable[float | None]) -> bool:
    seen = list(values)
    if any(value is None for value in seen):
        return True
    return len({_comparable(value) for value in seen}) > 1


def _comparable(value: float) -> Any:
    return "nan" if isinstance(value, float) and math.isnan(value) else value


# Nesting -------------------------------------------------------------------------


def nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """``{"a.b.c": x}`` -> ``{"a": {"b": {"c": x}}}``, groups split on ".".

    A key that is both a metric and a group (``loss`` and ``loss.val``) keeps the
    metric under its name and the deeper keys, unsplit, beside it
    (``{"loss": x, "loss.val": y}``): nothing is merged or lost.
    """
    return _nest_level({tuple(key.split(".")): value for key, value in flat.items()})


def _nest_level(entries: dict[tuple[str, ...], Any]) -> dict[str, Any]:
    groups: dict[str, dict[tuple[str, ...], Any]] = {}
    for parts, value in entries.items():
        groups.setdefault(parts[0], {})[parts[1:]] = value
    nested: dict[str, Any] = {}
    for head in sorted(groups):
        members = groups[head]
        if () in members:  # a metric named exactly `head`
            nested[head] = members.pop(())
            for rest, value in sorted(members.items()):
                nested[".".join((head, *rest))] = value
        else:
            nested[head] = _nest_level(members)
    return nested
