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
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from kedro_metrics.errors import ExportError
from kedro_metrics.points import MetricPoint, ordered
from kedro_metrics.records import Run, iso_utc, matches_any, nest

#: Kubeflow Pipelines' rule for metric names.
KFP_NAME = re.compile(r"^[a-zA-Z]([-_a-zA-Z0-9]{0,62}[a-zA-Z0-9])?$")
KFP_NAME_LENGTH = 64

RUNS_COLUMNS = (
    "run_id", "run_name", "status", "start_time", "end_time", "duration_s", "pipeline", "metrics",
)  # fmt: skip
SHOW_COLUMNS = ("name", "value", "step", "points")


# Documents ------------------------------------------------------------------------


def runs_document(runs: Iterable[Run]) -> list[dict[str, Any]]:
    """``runs``: ``{run_id, run_name, status, start_time, end_time, duration_s,
    pipeline, metrics}`` per run (``metrics``: how many metric keys)."""
    return [
        {
            "run_id": run.run_id,
            "run_name": run.run_name,
            "status": run.status,
            "start_time": iso_utc(run.start_time),
            "end_time": iso_utc(run.end_time),
            "duration_s": run.duration_s(),
            "pipeline": run.pipeline,
            "metrics": len(run.latest),
        }
        for run in runs
    ]


def show_document(
    run: Run, point_counts: Mapping[str, int], names: Sequence[str]
) -> list[dict[str, Any]]:
    """``show``: ``{name, value, step, points}`` per metric, in ``names`` order."""
    return [
        {
            "name": key,
            "value": run.latest[key].value,
            "step": run.latest[key].step,
            "points": point_counts[key],
        }
        for key in names
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
        "metrics": nest(metrics),
    }


def compare_csv_rows(
    rows: Iterable[Mapping[str, Any]], run_ids: Sequence[str]
) -> list[dict[str, Any]]:
    """Compare rows flattened for CSV: ``name``, one column per run id, ``change``,
    ``change_pct``."""
    return [
        {"name": row["name"], **{rid: row["values"][rid] for rid in run_ids},
         "change": row["change"], "change_pct": row["change_pct"]}
        for row in rows
    ]  # fmt: skip


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
    values: Mapping[str, float], *, percentage: Iterable[str] = ()
) -> dict[str, Any]:
    """The Kubeflow Pipelines v1 metrics file: ``{"metrics": [{"name", "numberValue",
    "format"}]}``, one entry per finite value, sorted by name.

    ``format`` is ``PERCENTAGE`` for keys matching a ``percentage`` glob, else
    ``RAW``; ``numberValue`` is never scaled. NaN and infinities (no JSON number)
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
            "format": "PERCENTAGE" if matches_any(key, globs) else "RAW",
        }
        for name, key in sorted(owners.items())
        if math.isfinite(values[key])
    ]
    return {"metrics": entries}


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


# Tables (text cells; the CLI draws them) ---------------------------------------------


def number(value: float | None) -> str:
    """A value for a table cell: 6 significant digits, "-" when missing."""
    return "-" if value is None else f"{value:.6g}"


def local_time(epoch_ms: int | None) -> str:
    """Epoch milliseconds in the local time zone, to the second."""
    if epoch_ms is None:
        return "-"
    return datetime.fromtimestamp(epoch_ms / 1000).astimezone().strftime("%Y-%m-%d %H:%M:%S")


#: Seconds in a minute, minutes in an hour.
_SIXTY = 60


def duration(seconds: float | None) -> str:
    """``4.2 s``, ``3 min 05 s``, ``2 h 01 min``; "-" while running."""
    if seconds is None:
        return "-"
    if seconds < _SIXTY:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), _SIXTY)
    if minutes < _SIXTY:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, _SIXTY)
    return f"{hours} h {minutes:02d} min"


def runs_table(runs: Sequence[Run]) -> tuple[list[str], list[list[str]]]:
    headers = ["run", "name", "status", "start", "duration", "pipeline", "metrics"]
    rows = [
        [run.short_id, run.run_name, run.status, local_time(run.start_time),
         duration(run.duration_s()), run.pipeline or "-", str(len(run.latest))]
        for run in runs
    ]  # fmt: skip
    return headers, rows


def show_table(document: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list[str]]]:
    headers = ["name", "value", "step", "points"]
    rows = [[d["name"], number(d["value"]), str(d["step"]), str(d["points"])] for d in document]
    return headers, rows


def compare_table(
    rows: Sequence[Mapping[str, Any]], runs: Sequence[Run]
) -> tuple[list[str], list[list[str]]]:
    headers = ["name", *(run.short_id for run in runs), "change", "change %"]
    cells = [
        [row["name"], *(number(row["values"][run.run_id]) for run in runs),
         _signed(row["change"]), _signed(row["change_pct"])]
        for row in rows
    ]  # fmt: skip
    return headers, cells


def records_table(found: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list[str]]]:
    headers = ["run", "run name", "name", "step", "value", "created at"]
    rows = [
        [
            r["run_id"][:8],
            r["run_name"],
            r["name"],
            str(r["step"]),
            number(r["value"]),
            r["created_at"],
        ]
        for r in found
    ]
    return headers, rows


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.6g}"
