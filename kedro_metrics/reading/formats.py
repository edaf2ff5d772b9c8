"""Pure renderers of the read side: the documents the CLI prints (JSON, CSV, tables)
and the Kubeflow Pipelines v1 metrics file. Standard library only, no I/O.

The JSON and CSV shapes are pinned (see docs/reading.md): scripts rely on them.
``timestamp`` stays MLflow's epoch milliseconds; every other time is ISO 8601 UTC
ending in ``Z``. A missing value is ``null`` in JSON and empty in CSV. JSON is strict:
NaN and infinities, which JSON cannot hold, are written as ``null`` too.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kedro_metrics.errors import ExportError
from kedro_metrics.lineage import (
    GROUPINGS,
    Attribution,
    grouped,
    key_names,
    recorded_sources,
    same_data,
)
from kedro_metrics.meaning import PERCENT, Meaning
from kedro_metrics.points import MetricPoint, ordered
from kedro_metrics.records import Run, iso_utc, matches_any, nest
from kedro_metrics.summaries import summary_point

if TYPE_CHECKING:
    from kedro_metrics.filters import Condition, Sort

#: Kubeflow Pipelines' rule for metric names.
KFP_NAME = re.compile(r"^[a-zA-Z]([-_a-zA-Z0-9]{0,62}[a-zA-Z0-9])?$")
KFP_NAME_LENGTH = 64

RUNS_COLUMNS = (
    "run_id", "run_name", "status", "start_time", "end_time", "duration_s", "pipeline", "metrics",
    "children",
)  # fmt: skip
SHOW_COLUMNS = ("name", "value", "step", "points")
#: The summaries ``show`` adds as fields when declared (``best`` has its own field).
SHOW_SUMMARIES = ("min", "max", "mean", "first", "last")


# Documents ------------------------------------------------------------------------


def runs_document(
    runs: Iterable[Run], keys: Sequence[str] = (), children: Mapping[str, int] | None = None
) -> list[dict[str, Any]]:
    """``runs``: ``{run_id, run_name, status, start_time, end_time, duration_s,
    pipeline, metrics, children, values}`` per run (``metrics``: how many metric keys;
    ``children``: how many child runs, by ``children``; ``values``: the last value of
    each of ``keys``, null when the run lacks it)."""
    counts = children or {}
    return [
        {
            "run_id": run.run_id,
            "run_name": run.run_name,
            "status": run.status,
            "start_time": iso_utc(run.start_time),
            "end_time": iso_utc(run.end_time),
            "duration_s": run.duration_s(),
            "pipeline": run.pipeline,
            "metrics": len(run.metrics),
            "children": counts.get(run.run_id, 0),
            "values": {key: run.latest[key].value if key in run.latest else None for key in keys},
        }
        for run in runs
    ]


def runs_columns(keys: Sequence[str]) -> list[str]:
    """The CSV columns of ``runs``: one per run field, then one per key of ``values``."""
    return [*RUNS_COLUMNS, *keys]


def runs_csv_rows(document: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``runs`` rows flattened for CSV: each of ``values`` a column of its own."""
    return [{**row, **row["values"]} for row in document]


def value_keys(conditions: Iterable[Condition], sort: Sort | None) -> list[str]:
    """The metric keys ``--where`` and ``--sort`` name, in order, once each."""
    keys = [c.key for c in conditions if c.kind == "metric"]
    return list(dict.fromkeys([*keys, *([sort.key] if sort else [])]))


def show_document(
    run: Run,
    histories: Mapping[str, Sequence[MetricPoint]],
    names: Sequence[str],
    meaning: Callable[[str], Meaning],
) -> list[dict[str, Any]]:
    """``show``: ``{name, value, step, points, best}`` per metric, in ``names`` order,
    plus one field per summary declared for any of them (``min``, ``max``, ``mean``,
    ``first``, ``last``), computed from the history. ``best`` is ``{value, step}``
    for a key with a direction, else null; a summary a key does not declare is null."""
    declared = {name for key in names for name in meaning(key).summary}
    columns = [name for name in SHOW_SUMMARIES if name in declared]
    document = []
    for key in names:
        shown = meaning(key)
        points = ordered(histories[key])
        row: dict[str, Any] = {
            "name": key,
            "value": run.latest[key].value,
            "step": run.latest[key].step,
            "points": len(points),
            "best": None,
        }
        if shown.direction and points:
            best = summary_point(points, "best", direction=shown.direction)
            row["best"] = {"value": best.value, "step": best.step}
        for name in columns:
            wanted = name in shown.summary and points
            row[name] = (
                summary_point(points, name, direction=shown.direction).value if wanted else None
            )
        document.append(row)
    return document


def show_columns(document: Sequence[Mapping[str, Any]]) -> list[str]:
    """The CSV columns of a ``show`` document: ``best`` as ``best`` and ``best_step``."""
    extra = [c for c in (document[0] if document else {}) if c not in (*SHOW_COLUMNS, "best")]
    return [*SHOW_COLUMNS, "best", "best_step", *extra]


def show_csv_rows(document: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``show`` rows flattened for CSV (``best`` -> ``best``, ``best_step``)."""
    return [
        {
            **row,
            "best": (row["best"] or {}).get("value"),
            "best_step": (row["best"] or {}).get("step"),
        }
        for row in document
    ]


def export_document(run: Run, histories: Mapping[str, Sequence[MetricPoint]]) -> dict[str, Any]:
    """``export --format json``: the run and its metrics nested by group, each
    ``{value, step, history}`` (last value, its step, every point by step)."""
    metrics = {}
    for key in sorted(histories):
        points = ordered(histories[key])
        last = run.latest.get(key) or points[-1]
        metrics[key] = {
            "value": last.value,
            "step": last.step,
            "history": [
                {"value": p.value, "step": p.step, "timestamp": p.timestamp} for p in points
            ],
        }
    return {
        "run_id": run.run_id,
        "run_name": run.run_name,
        "status": run.status,
        "start_time": iso_utc(run.start_time),
        "end_time": iso_utc(run.end_time),
        "tags": dict(sorted(run.tags.items())),
        "metrics": with_sources(nest(metrics), run.tags, metrics),
    }


def with_sources(
    nested: dict[str, Any], tags: Mapping[str, str], metrics: Mapping[str, Any]
) -> dict[str, Any]:
    """Each metrics dataset's group in ``nested`` (the level of its prefix) gains
    ``source: {node, namespace, inputs}`` (inputs whole) from the run's ``tags``; a
    dataset whose prefix is a metric itself, or whose group holds a metric named
    ``source``, has none."""
    names = key_names(tags)
    for dataset, source in recorded_sources(tags, whole=True).items():
        name = names.get(dataset)
        if name is None or name in metrics:
            continue
        group: Any = nested
        for part in name.split("."):
            group = group.get(part) if isinstance(group, dict) else None
        if isinstance(group, dict) and "source" not in group:
            group["source"] = source.as_json()
    return nested


def attribution_of(runs: Sequence[Run]) -> Attribution:
    """Where the keys of ``runs`` came from, by their tags; of a key two runs record
    differently, the last run's (compare's newest)."""
    found = Attribution({}, {})
    for run in runs:
        found = found.merged(Attribution.of_tags(run.tags))
    return found


def grouped_by(
    rows: Sequence[Mapping[str, Any]], runs: Sequence[Run], by: str
) -> list[dict[str, Any]]:
    """``show``/``compare --by node|namespace|dataset``: each row gains the field
    ``by`` (null when the runs do not record it), rows ordered by it, nulls last."""
    attribution = attribution_of(runs)
    return grouped(rows, by, {row["name"]: attribution.group(row["name"], by) for row in rows})


def with_same_data(
    rows: Sequence[Mapping[str, Any]], runs: Sequence[Run]
) -> tuple[list[dict[str, Any]], list[str]]:
    """``compare``: each row gains ``same_data`` (``lineage.same_data`` of its key
    over ``runs``), and one warning per key evaluated on different data:
    ``<key>: not evaluated on the same data (<name>: <d1> vs <d2>)``."""
    recorded = [Attribution.of_tags(run.tags) for run in runs]
    shown, warnings = [], []
    for row in rows:
        verdict = same_data([seen.evaluated_on(row["name"]) for seen in recorded])
        shown.append({**row, "same_data": verdict.same})
        if verdict.differs is not None:
            name, first, other = verdict.differs
            warnings.append(
                f"{row['name']}: not evaluated on the same data ({name}: {first} vs {other})"
            )
    return shown, warnings


def compare_csv_rows(
    rows: Iterable[Mapping[str, Any]], run_ids: Sequence[str]
) -> list[dict[str, Any]]:
    """Compare rows flattened for CSV: ``name``, one column per run id, ``change``,
    ``change_pct``, ``better`` (``true``/``false``, empty when unknown)."""
    return [
        {"name": row["name"], **{rid: row["values"][rid] for rid in run_ids},
         "change": row["change"], "change_pct": row["change_pct"],
         "better": None if row["better"] is None else str(row["better"]).lower(),
         **{by: row[by] for by in GROUPINGS if by in row}}
        for row in rows
    ]  # fmt: skip


def compare_columns(run_ids: Sequence[str], by: str | None = None) -> list[str]:
    return ["name", *run_ids, "change", "change_pct", "better", *([by] if by else [])]


# Kubeflow Pipelines -----------------------------------------------------------------


def kfp_name(key: str) -> str:
    """An MLflow key as a KFP metric name: characters outside ``[-_a-zA-Z0-9]``
    become ``-``, a leading non-letter gets ``m-``, cut to 64 characters, trailing
    ``-``/``_`` trimmed."""
    name = re.sub(r"[^-_a-zA-Z0-9]", "-", key)
    if not name[:1].isascii() or not name[:1].isalpha():
        name = "m-" + name
    return name[:KFP_NAME_LENGTH].rstrip("-_")


def kubeflow_metrics(
    values: Mapping[str, float],
    *,
    percentage: Iterable[str] = (),
    meaning: Callable[[str], Meaning] | None = None,
) -> dict[str, Any]:
    """The Kubeflow Pipelines v1 metrics file: ``{"metrics": [{"name", "numberValue",
    "format"}]}``, one entry per finite value, sorted by name.

    ``format`` is ``PERCENTAGE`` for keys matching a ``percentage`` glob or whose
    ``meaning`` is ``format: percent``, else ``RAW``; ``numberValue`` is never scaled. NaN and infinities (no JSON number)
    are left out: see ``not_finite``.

    Raises:
        ExportError: when two keys map to one KFP name (naming both); nothing is merged.
    """
    globs = list(percentage)
    owners: dict[str, str] = {}
    for key in sorted(values):
        name = kfp_name(key)
        if name in owners:
            raise ExportError(
                f"Metrics {owners[name]!r} and {key!r} both become the Kubeflow metric name "
                f"{name!r} (KFP allows only letters, digits, '-' and '_', at most 64 "
                "characters); rename one of them."
            )
        owners[name] = key
    entries = [
        {
            "name": name,
            "numberValue": values[key],
            "format": "PERCENTAGE" if _percentage(key, globs, meaning) else "RAW",
        }
        for name, key in sorted(owners.items())
        if math.isfinite(values[key])
    ]
    return {"metrics": entries}


def _percentage(key: str, globs: list[str], meaning: Callable[[str], Meaning] | None) -> bool:
    return matches_any(key, globs) or (meaning is not None and meaning(key).format == PERCENT)


def not_finite(values: Mapping[str, float]) -> list[str]:
    """The keys whose value is NaN or infinite (left out of the Kubeflow file)."""
    return sorted(key for key, value in values.items() if not math.isfinite(value))


# Renderers ------------------------------------------------------------------------


def to_json(document: Any) -> str:
    """Strict JSON (NaN and infinities as null), indented, ending in a newline."""
    return json.dumps(_json_safe(document), indent=2, allow_nan=False) + "\n"


def to_csv(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """CSV with a header row of ``columns``; None is an empty cell."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else _cell(row[c]) for c in columns])
    return out.getvalue()


def _cell(value: Any) -> Any:
    return repr(value) if isinstance(value, float) else value


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    return value
