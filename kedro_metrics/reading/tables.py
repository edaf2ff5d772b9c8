"""The cells of the tables the CLI draws (rich does the drawing): values in each
metric's declared format, changes signed in it, times local. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from kedro_metrics.lineage import GROUPINGS
from kedro_metrics.meaning import UNDECLARED, Meaning
from kedro_metrics.records import Run


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


#: A table cell: text, or (text, style) for a coloured one ("green", "red").
Cell = str | tuple[str, str]
Table = tuple[list[str], list[list[Cell]]]
#: Tells each key's meaning (``meaning.RunMeaning``, or ``lambda key: UNDECLARED``).
MeaningOf = Callable[[str], Meaning]


def _undeclared(key: str) -> Meaning:
    return UNDECLARED


def runs_table(
    runs: Sequence[Run],
    values: Sequence[str] = (),
    meaning: MeaningOf = _undeclared,
    children: Mapping[str, int] | None = None,
) -> Table:
    """``runs``: a row per run, one more column per key of ``values`` (its last value),
    and a ``children`` column (how many child runs) when a run listed has any.

    No pipeline column: the default run name begins with the pipeline, and without
    it a run of the example project is one line at 100 columns (JSON and CSV have
    it, ``--pipeline`` selects by it)."""
    counts = {run.run_id: (children or {}).get(run.run_id, 0) for run in runs}
    parents = any(counts.values())
    headers = ["run", "name", "status", "start", "duration", "metrics",
               *(["children"] if parents else []), *values]  # fmt: skip
    rows: list[list[Cell]] = [
        [run.short_id, run.run_name, run.status, local_time(run.start_time),
         duration(run.duration_s()), str(len(run.metrics)),
         *([str(counts[run.run_id] or "-")] if parents else []),
         *(meaning(key).show(run.latest[key].value if key in run.latest else None) for key in values)]
        for run in runs
    ]  # fmt: skip
    return headers, rows


def show_table(document: Sequence[Mapping[str, Any]], meaning: MeaningOf = _undeclared) -> Table:
    """``show``: name, value, step, points, then ``best`` (value @ step) and a column
    per summary when the document has them."""
    shown_apart = (*_SHOW_BASE, *GROUPINGS, "run_id")  # run_id: --children's headings
    extra = [c for c in document[0] if c not in shown_apart] if document else []
    rows: list[list[Cell]] = []
    for d in document:
        shown = meaning(d["name"])
        row: list[Cell] = [d["name"], shown.show(d["value"]), str(d["step"]), str(d["points"])]
        for column in extra:
            cell = d[column]
            if column == "best":
                row.append("-" if cell is None else f"{shown.show(cell['value'])} @ {cell['step']}")
            else:
                row.append(shown.show(cell))
        rows.append(row)
    return ["name", "value", "step", "points", *extra], rows


_SHOW_BASE = ("name", "value", "step", "points")


def compare_table(
    rows: Sequence[Mapping[str, Any]], runs: Sequence[Run], meaning: MeaningOf = _undeclared
) -> Table:
    """``compare``: a row per metric (values in its format), the change green when
    better, red when worse by its direction; params rows as text."""
    headers = ["name", *(run.short_id for run in runs), "change", "change %"]
    cells: list[list[Cell]] = []
    for row in rows:
        if any(isinstance(value, str) for value in row["values"].values()):  # params.<name>
            cells.append(
                [row["name"], *(_text(row["values"][run.run_id]) for run in runs), "-", "-"]
            )
            continue
        shown = meaning(row["name"])
        style = {True: "green", False: "red"}.get(row.get("better"))  # type: ignore[arg-type]
        change: Cell = shown.show_change(row["change"])
        change_pct: Cell = _signed(row["change_pct"])
        if style:
            change, change_pct = (change, style), (change_pct, style)
        values = [shown.show(row["values"][run.run_id]) for run in runs]
        cells.append([row["name"], *values, change, change_pct])
    return headers, cells


def under_headings(
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    by: str,
    labels: Mapping[Any, str] | None = None,
) -> Table:
    """``--by``: ``table`` (a row per entry of ``rows``, grouped by their field ``by``)
    with a bold heading row before each group: ``node: evaluate``, ``node: -``, or
    the group's entry in ``labels``."""
    headers, cells = table
    shown: list[list[Cell]] = []
    current: object = object()
    for row, line in zip(rows, cells, strict=True):
        if row[by] != current:
            current = row[by]
            label = (labels or {}).get(current) or f"{by}: {_text(current)}"
            shown.append([(label, "bold"), *([""] * (len(headers) - 1))])
        shown.append(line)
    return headers, shown


def records_table(found: Sequence[Mapping[str, Any]], meaning: MeaningOf = _undeclared) -> Table:
    headers = ["run", "run name", "name", "step", "value", "created at"]
    rows: list[list[Cell]] = [
        [r["run_id"][:8], r["run_name"], r["name"], str(r["step"]),
         meaning(r["name"]).show(r["value"]), r["created_at"]]
        for r in found
    ]  # fmt: skip
    return headers, rows


def _text(value: Any) -> str:
    return "-" if value is None else str(value)


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.6g}"
