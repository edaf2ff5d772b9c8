"""Draw a ``figures.Figure`` to a PNG with matplotlib (its Agg renderer, no display).

The only module that imports matplotlib, and only inside its functions: the CLI
imports this module inside its commands, so ``kedro --help`` never pays for it.
Which series and labels to draw is decided in ``figures``; this module only draws.
"""

from __future__ import annotations

import os
from typing import Any

from kedro_metrics.meaning import RAW, Meaning
from kedro_metrics.reading.figures import DPI, Figure, Panel

#: Histories up to this many points show a dot at each point; longer ones a plain line.
_MARKED_POINTS = 50


def write_png(figure: Figure, path: str | os.PathLike[str]) -> None:
    """Draw ``figure`` (a grid of panels, one legend of runs) into the PNG ``path``."""
    draw(figure).savefig(path, dpi=DPI, format="png")


def draw(figure: Figure) -> Any:
    """``figure`` as a matplotlib Figure, drawn with the Agg renderer when saved.

    A ``matplotlib.figure.Figure`` made directly, not through pyplot: no GUI, no
    global backend switch in the caller's process (a notebook keeps its own).
    """
    import matplotlib.lines
    from matplotlib import rcParams
    from matplotlib.figure import Figure as MplFigure

    rows, columns = figure.grid
    canvas = MplFigure(figsize=figure.size_inches, dpi=DPI, layout="constrained")
    canvas.suptitle(figure.title)
    axes = canvas.subplots(rows, columns, squeeze=False).flatten()
    colours = _colours(figure, rcParams["axes.prop_cycle"].by_key()["color"])
    for ax, panel in zip(axes, figure.panels):
        _draw_panel(ax, panel, colours)
    for ax in axes[len(figure.panels) :]:
        ax.set_visible(False)
    handles = [
        matplotlib.lines.Line2D([], [], color=colours[label], marker="o", label=label)
        for label in figure.run_labels
    ]
    if handles:
        canvas.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 4))
    return canvas


def _draw_panel(ax, panel: Panel, colours: dict[str, str]) -> None:
    from matplotlib.ticker import MaxNLocator

    order = {label: index for index, label in enumerate(colours)}

    for series in panel.series:
        if series.single_point:
            # Earlier runs get bigger markers: equal values stay visible as rings.
            size = max(4.0, 11.0 - 3.0 * order[series.label])
            style = {"linestyle": "none", "marker": "o", "markersize": size}
        else:
            style = {"marker": "." if len(series.steps) <= _MARKED_POINTS else None}
        colour = colours[series.label]
        ax.plot(series.steps, series.values, color=colour, label=series.label, **style)
    ax.set_title(panel.title)
    ax.set_xlabel(panel.x_label)
    ax.set_ylabel(panel.y_label)
    if panel.value_format != RAW:
        from matplotlib.ticker import FuncFormatter

        shown = Meaning(format=panel.value_format)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: shown.show(value)))
    ax.grid(alpha=0.3)
    steps = {step for series in panel.series for step in series.steps}
    if len(steps) == 1:
        ax.set_xticks(sorted(steps))  # one step: one tick, not fractions around it
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps are integers
    if panel.note:
        ax.text(0.01, 0.01, panel.note, transform=ax.transAxes, fontsize="small", color="dimgray")


def _colours(figure: Figure, cycle: list[str]) -> dict[str, str]:
    """One colour per run, the same in every panel and in the legend."""
    return {label: cycle[index % len(cycle)] for index, label in enumerate(figure.run_labels)}
