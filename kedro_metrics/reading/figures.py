"""Pure figure data for the pictures of metrics: which series, which labels.

Two pictures are built from metric records (the dicts of ``get_metrics``, keys
``name, value, step, timestamp, run_id, run_name, ...``):

- ``build_figure``: the PNG of ``kedro metrics plot`` / ``history --plot``: one
  panel per metric, one series per run (x = steps, y = values, label = run name).
  ``kedro_metrics.reading.render`` draws it with matplotlib; a single-point series is drawn
  as a marker, not as an empty line.
- ``plotly_preview``: the Kedro-Viz preview of a metrics dataset: a Plotly figure
  as plain JSON, a line per metric history (its name written at its end: Kedro-Viz's
  side panel shows no legend) and the single-point metrics as one bar chart of their
  values. ``empty_preview`` is the figure that says why there is
  nothing to show.

No I/O, no matplotlib, no plotly, no kedro, no mlflow: tests check the data.
"""

from __future__ import annotations

import fnmatch
import html
import math
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NewType

from kedro_metrics.meaning import PERCENT, RAW, UNDECLARED, Meaning
from kedro_metrics.records import SHORT_ID

#: The return type of the datasets' ``preview()``: Kedro-Viz reads its name from the
#: return annotation and renders the value (``{"data": [...], "layout": {...}}``)
#: with Plotly. Declared here so that neither plotly nor kedro-datasets is needed.
PlotlyPreview = NewType("PlotlyPreview", dict)

STEP_LABEL = "step"
VALUE_LABEL = "value"
METRIC_LABEL = "metric"

#: The PNG's size: each panel's inches at 100 dpi, and the smallest figure
#: (800 x 500 pixels, readable at 100 dpi).
DPI = 100
PANEL_INCHES = (5.0, 3.6)
MIN_INCHES = (8.0, 5.0)
#: Panels per row before the grid wraps.
MAX_COLUMNS = 3

#: Where a preview puts its bar chart beside the line chart (fractions of the width).
_LINES_DOMAIN = [0.0, 0.58]
_BARS_DOMAIN = [0.7, 1.0]


# The PNG figure -------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    """One run's points of one metric, ordered by step (then timestamp)."""

    label: str
    run_id: str
    steps: tuple[int, ...]
    values: tuple[float, ...]

    @property
    def single_point(self) -> bool:
        """A lone point: drawn as a marker, since a line needs two."""
        return len(self.steps) == 1


@dataclass(frozen=True)
class Panel:
    """One metric: its series, and the runs that lack it."""

    metric: str
    series: tuple[Series, ...]
    #: Labels of the figure's runs that hold no point of this metric.
    missing: tuple[str, ...] = ()
    x_label: str = STEP_LABEL
    y_label: str = VALUE_LABEL
    #: The metric's declared format: the value axis's ticks show it.
    value_format: str = RAW
    #: False when the figure's title already names the metric (a figure of one).
    titled: bool = True

    @property
    def title(self) -> str:
        return self.metric if self.titled else ""

    @property
    def note(self) -> str:
        """What the panel says about runs without the metric ("" when none)."""
        if not self.missing:
            return ""
        return f"not in: {', '.join(self.missing)}"


@dataclass(frozen=True)
class Figure:
    """A grid of panels, one per metric, sharing one legend of run labels."""

    title: str
    panels: tuple[Panel, ...]
    #: Every run of the figure, in legend order.
    run_labels: tuple[str, ...]

    @property
    def grid(self) -> tuple[int, int]:
        """(rows, columns): up to ``MAX_COLUMNS`` panels per row."""
        count = max(len(self.panels), 1)
        columns = min(count, MAX_COLUMNS)
        return -(-count // columns), columns

    @property
    def size_inches(self) -> tuple[float, float]:
        """Width and height: ``PANEL_INCHES`` per panel, at least ``MIN_INCHES``."""
        rows, columns = self.grid
        return (
            max(MIN_INCHES[0], PANEL_INCHES[0] * columns),
            max(MIN_INCHES[1], PANEL_INCHES[1] * rows + 0.8),
        )


def build_figure(
    records: Iterable[Mapping[str, Any]],
    *,
    title: str | None = None,
    meaning: Callable[[str], Meaning] | None = None,
) -> Figure:
    """The figure of ``records``: a panel per metric name (sorted), a series per run,
    the value axis in the metric's declared format (``meaning``).

    Runs keep the order in which the records first name them; a run whose name is
    shared by another run of the figure is labelled ``name (short id)``. A run that
    lacks a metric other runs have is listed in that panel's ``missing``.
    ``title`` defaults to the runs' labels; a figure of one metric titled with its
    name does not repeat it above the panel.
    """
    records = list(records)
    labels = run_labels(records)
    grouped: dict[str, dict[str, list[Mapping[str, Any]]]] = {}
    for rec in records:
        grouped.setdefault(rec["name"], {}).setdefault(rec["run_id"], []).append(rec)
    panels = []
    for metric in sorted(grouped):
        by_run = grouped[metric]
        series = tuple(
            _series(labels[run_id], run_id, by_run[run_id]) for run_id in labels if run_id in by_run
        )
        missing = tuple(label for run_id, label in labels.items() if run_id not in by_run)
        shown = (meaning or _undeclared)(metric).format
        titled = len(grouped) > 1 or title != metric  # else the figure's title says it
        panels.append(Panel(metric, series, missing, value_format=shown, titled=titled))
    legend = tuple(labels.values())
    return Figure(title if title is not None else ", ".join(legend), tuple(panels), legend)


def run_labels(records: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Run id -> legend label, in order of first appearance: the run name, with a
    short id when two runs share it (or the short id alone for an unnamed run)."""
    names: dict[str, str] = {}
    for rec in records:
        names.setdefault(rec["run_id"], rec.get("run_name") or "")
    counts: dict[str, int] = {}
    for name in names.values():
        counts[name] = counts.get(name, 0) + 1
    return {
        run_id: name if name and counts[name] == 1 else _with_short_id(name, run_id)
        for run_id, name in names.items()
    }


def _with_short_id(name: str, run_id: str) -> str:
    return f"{name} ({run_id[:SHORT_ID]})" if name else run_id[:SHORT_ID]


def _series(label: str, run_id: str, records: list[Mapping[str, Any]]) -> Series:
    ordered = sorted(records, key=_step_order)
    return Series(
        label,
        run_id,
        tuple(int(rec["step"]) for rec in ordered),
        tuple(float(rec["value"]) for rec in ordered),
    )


def _step_order(rec: Mapping[str, Any]) -> tuple[int, int]:
    return int(rec["step"]), int(rec.get("timestamp") or 0)


# The Kedro-Viz preview ------------------------------------------------------------


def plotly_preview(
    records: Iterable[Mapping[str, Any]],
    *,
    title: str,
    prefix: str = "",
    meaning: Callable[[str], Meaning] | None = None,
) -> PlotlyPreview:
    """A Plotly figure (plain JSON) of one run's metrics under ``prefix``.

    Each metric with two or more points is a line trace (x = steps, y = values);
    the metrics with a single point make one bar chart of their values, beside the
    lines. Trace and bar names drop ``prefix + "."``. NaN and infinities become
    ``null`` (JSON has no such numbers; Plotly leaves a gap). A value axis whose
    metrics share one declared format (``meaning``) shows it in its ticks
    (``tickformat``). No metric at all gives ``empty_preview(title)``.
    """
    by_name: dict[str, list[Mapping[str, Any]]] = {}
    for rec in records:
        by_name.setdefault(short_name(rec["name"], prefix), []).append(rec)
    if not by_name:
        return empty_preview(title)
    meaning_of = meaning or _undeclared
    formats = {name: meaning_of(recs[0]["name"]).format for name, recs in by_name.items()}
    lines, singles = [], []
    for name in sorted(by_name):
        ordered = sorted(by_name[name], key=_step_order)
        if len(ordered) == 1:
            singles.append((name, ordered[0]))
            continue
        lines.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": name,
                "x": [int(rec["step"]) for rec in ordered],
                "y": [json_number(rec["value"]) for rec in ordered],
            }
        )
    bars_axes = ("x2", "y2") if lines else ("x", "y")
    data = list(lines)
    if singles:
        data.append(
            {
                "type": "bar",
                "name": "single values",
                "x": [name for name, _ in singles],
                "y": [json_number(rec["value"]) for _, rec in singles],
                "xaxis": bars_axes[0],
                "yaxis": bars_axes[1],
            }
        )
    layout = _layout(title, lines=bool(lines), bars=bool(singles))
    labels = [label for label in map(_line_label, lines) if label is not None]
    if labels:
        layout["annotations"] = labels
    axes = [
        ("yaxis", [t["name"] for t in lines]),
        ("yaxis2" if lines else "yaxis", [n for n, _ in singles]),
    ]
    for axis, names in axes:
        tick = tickformat({formats[name] for name in names})
        if names and tick:
            layout[axis]["tickformat"] = tick
    return PlotlyPreview({"data": data, "layout": layout})


def _line_label(trace: Mapping[str, Any]) -> dict[str, Any] | None:
    """The line's name written at its last finite point (None when it has none).
    Kedro-Viz's side panel draws the preview without a legend (its layout sets
    ``showlegend`` off), so a line must carry its name itself."""
    points = [(x, y) for x, y in zip(trace["x"], trace["y"]) if y is not None]
    if not points:
        return None
    x, y = points[-1]
    return {
        "text": trace["name"], "x": x, "y": y, "xref": "x", "yref": "y",
        "showarrow": False, "xanchor": "right", "yanchor": "bottom",
    }  # fmt: skip


def tickformat(shared: set[str]) -> str | None:
    """Plotly's (d3's) tick format for an axis whose metrics have the formats
    ``shared``: one declared format, or None (several, or raw)."""
    if len(shared) != 1:
        return None
    (shown,) = shared
    if shown == RAW:
        return None
    return ".2%" if shown == PERCENT else shown


def _undeclared(key: str) -> Meaning:
    return UNDECLARED


#: Characters per line of a preview's title: what Kedro-Viz's side panel shows of a
#: line at Plotly's title font (a longer line is cut at both ends).
PREVIEW_TITLE_WIDTH = 40


def preview_title_text(title: str) -> str:
    """``title`` as a Plotly title that fits Kedro-Viz's side panel: lines of at most
    ``PREVIEW_TITLE_WIDTH`` characters joined by ``<br>`` (words kept whole where
    they fit), ``<``, ``>`` and ``&`` escaped, since Plotly reads titles as HTML."""
    lines = textwrap.wrap(title, PREVIEW_TITLE_WIDTH, break_on_hyphens=False) or [""]
    return "<br>".join(html.escape(line, quote=False) for line in lines)


def _layout(title: str, *, lines: bool, bars: bool) -> dict[str, Any]:
    layout: dict[str, Any] = {"title": {"text": preview_title_text(title)}, "showlegend": True}
    first_x = STEP_LABEL if lines else METRIC_LABEL
    layout["xaxis"] = {"title": {"text": first_x}}
    layout["yaxis"] = {"title": {"text": VALUE_LABEL}}
    if lines and bars:
        layout["xaxis"]["domain"] = list(_LINES_DOMAIN)
        layout["xaxis2"] = {
            "title": {"text": METRIC_LABEL}, "domain": list(_BARS_DOMAIN), "anchor": "y2",
        }  # fmt: skip
        layout["yaxis2"] = {"title": {"text": VALUE_LABEL}, "anchor": "x2"}
    return layout


def empty_preview(title: str) -> PlotlyPreview:
    """A figure with no data whose title says why (no run yet, store unreachable ...)."""
    layout = {
        "title": {"text": preview_title_text(title)},
        "xaxis": {"visible": False},
        "yaxis": {"visible": False},
    }
    return PlotlyPreview({"data": [], "layout": layout})


def preview_title(label: str, run_name: str | None, run_id: str) -> str:
    """``model_metrics: run training (0123abcd)``: the dataset and the run shown."""
    return f"{label}: run {run_name or '(unnamed)'} ({run_id[:SHORT_ID]})"


def short_name(key: str, prefix: str) -> str:
    """The metric's name without ``prefix + "."`` (the key itself without a prefix)."""
    head = f"{prefix}." if prefix else ""
    return key[len(head) :] if head and key.startswith(head) else key


def select_names(
    records: Iterable[Mapping[str, Any]], prefix: str, globs: Sequence[str] | str | None
) -> list[Mapping[str, Any]]:
    """The records whose name without the prefix matches one of ``globs`` (all when
    ``globs`` is None; one string is one glob)."""
    if globs is None:
        return list(records)
    patterns = [globs] if isinstance(globs, str) else list(globs)
    return [
        rec
        for rec in records
        if any(fnmatch.fnmatchcase(short_name(rec["name"], prefix), glob) for glob in patterns)
    ]


def json_number(value: float) -> float | None:
    """``value`` as a JSON number; NaN and infinities (which JSON lacks) as None."""
    number = float(value)
    return number if math.isfinite(number) else None
