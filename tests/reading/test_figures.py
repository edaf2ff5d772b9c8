"""kedro_metrics.reading.figures: the data of the PNG figure and of the Kedro-Viz preview."""

from __future__ import annotations

import json
import math
import typing

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kedro_metrics.meaning import UNDECLARED, Meaning
from kedro_metrics.reading.figures import (
    MIN_INCHES,
    PREVIEW_TITLE_WIDTH,
    Figure,
    Panel,
    PlotlyPreview,
    Series,
    build_figure,
    empty_preview,
    json_number,
    plotly_preview,
    preview_title,
    preview_title_text,
    run_labels,
    select_names,
    short_name,
    tickformat,
)
from tests import strategies

RUN_A = "a" * 32
RUN_B = "b" * 32
RUN_C = "c" * 32


def rec(
    name: str,
    value: float,
    step: int = 0,
    run_id: str = RUN_A,
    run_name: str | None = "first",
    timestamp: int = 1_700_000_000_000,
) -> dict:
    """A metric record as get_metrics returns it."""
    return {
        "name": name,
        "value": value,
        "step": step,
        "timestamp": timestamp,
        "run_id": run_id,
        "run_name": run_name,
        "pipeline": "__default__",
        "experiment": "project",
        "created_at": "2023-11-14T22:13:20.000Z",
    }


class TestBuildFigure:
    """build_figure: a panel per metric, a series per run, exact steps and values."""

    def test_one_run_history(self):
        """A history becomes one series ordered by step, labelled with the run name."""
        figure = build_figure(
            [rec("m.loss", 0.5, 1), rec("m.loss", 0.9, 0), rec("m.loss", 0.25, 2)]
        )
        assert figure == Figure(
            title="first",
            panels=(Panel("m.loss", (Series("first", RUN_A, (0, 1, 2), (0.9, 0.5, 0.25)),)),),
            run_labels=("first",),
        )

    def test_single_point_is_a_single_point_series(self):
        """A metric with one point gives a one-point series, drawn as a marker."""
        (panel,) = build_figure([rec("m.acc", 0.875, 3)]).panels
        (series,) = panel.series
        assert (series.steps, series.values, series.single_point) == ((3,), (0.875,), True)

    def test_history_is_not_single_point(self):
        """Two points make a line."""
        (panel,) = build_figure([rec("m.loss", 1, 0), rec("m.loss", 2, 1)]).panels
        assert panel.series[0].single_point is False

    def test_several_runs_and_metrics(self):
        """Panels sorted by metric; series in the order the records name the runs."""
        records = [
            rec("m.loss", 0.4, 0, RUN_B, "second"),
            rec("m.loss", 0.3, 1, RUN_B, "second"),
            rec("m.acc", 0.8, 1, RUN_B, "second"),
            rec("m.loss", 0.9, 0, RUN_A, "first"),
            rec("m.loss", 0.7, 1, RUN_A, "first"),
            rec("m.acc", 0.6, 1, RUN_A, "first"),
        ]
        figure = build_figure(records, title="m.*")
        assert figure == Figure(
            title="m.*",
            panels=(
                Panel(
                    "m.acc",
                    (Series("second", RUN_B, (1,), (0.8,)), Series("first", RUN_A, (1,), (0.6,))),
                ),
                Panel(
                    "m.loss",
                    (
                        Series("second", RUN_B, (0, 1), (0.4, 0.3)),
                        Series("first", RUN_A, (0, 1), (0.9, 0.7)),
                    ),
                ),
            ),
            run_labels=("second", "first"),
        )

    def test_missing_metric_is_listed_not_zero(self):
        """A run without a metric has no series in its panel and is named as missing."""
        records = [
            rec("m.loss", 0.9, 0, RUN_A, "first"),
            rec("m.f1", 0.5, 0, RUN_A, "first"),
            rec("m.loss", 0.4, 0, RUN_B, "second"),
            rec("m.loss", 0.3, 0, RUN_C, "third"),
        ]
        figure = build_figure(records)
        f1, loss = figure.panels
        assert f1 == Panel("m.f1", (Series("first", RUN_A, (0,), (0.5,)),), ("second", "third"))
        assert f1.note == "not in: second, third"
        assert [s.label for s in loss.series] == ["first", "second", "third"]
        assert loss.missing == () and loss.note == ""

    def test_no_records_no_panels(self):
        """Nothing to draw: no panels, no runs."""
        assert build_figure([]) == Figure("", (), ())

    def test_ties_on_step_keep_timestamp_order(self):
        """Two points at one step are ordered by timestamp."""
        records = [rec("m.x", 2.0, 0, timestamp=20), rec("m.x", 1.0, 0, timestamp=10)]
        (panel,) = build_figure(records).panels
        assert panel.series[0].values == (1.0, 2.0)

    def test_values_are_floats_and_nan_stays(self):
        """Values come out as floats; NaN is kept (matplotlib leaves a gap)."""
        (panel,) = build_figure([rec("m.x", 1, 0), rec("m.x", float("nan"), 1)]).panels
        values = panel.series[0].values
        assert values[0] == 1.0 and type(values[0]) is float
        assert math.isnan(values[1])

    def test_axis_labels_and_title(self):
        """Panels say step and value on their axes and the metric in their title."""
        (panel,) = build_figure([rec("model_metrics.loss", 1)]).panels
        assert (panel.title, panel.x_label, panel.y_label) == (
            "model_metrics.loss",
            "step",
            "value",
        )

    def test_one_metric_titled_with_its_name_says_it_once(self):
        """`kedro metrics plot m.loss` titles the figure m.loss: its one panel repeats
        no title (the PNG showed m.loss twice)."""
        figure = build_figure([rec("m.loss", 1, 0), rec("m.loss", 2, 1)], title="m.loss")
        (panel,) = figure.panels
        assert (figure.title, panel.title) == ("m.loss", "")

    def test_panels_keep_their_titles_under_another_figure_title(self):
        """A glob's figure title names no single metric: each panel says its own."""
        one = build_figure([rec("m.loss", 1)], title="m.*")
        two = build_figure([rec("m.loss", 1), rec("m.acc", 1)], title="m.loss")
        assert [p.title for p in one.panels] == ["m.loss"]
        assert [p.title for p in two.panels] == ["m.acc", "m.loss"]


class TestRunLabels:
    """run_labels: run names, told apart by a short id only when needed."""

    def test_unique_names_stay(self):
        """Distinct names are the labels, in order of first appearance."""
        labels = run_labels(
            [rec("x", 1, run_id=RUN_B, run_name="b"), rec("x", 1, run_id=RUN_A, run_name="a")]
        )
        assert labels == {RUN_B: "b", RUN_A: "a"}

    def test_shared_names_get_short_ids(self):
        """Two runs named alike are labelled with 8 characters of their ids."""
        labels = run_labels(
            [
                rec("x", 1, run_id=RUN_A, run_name="train"),
                rec("x", 1, run_id=RUN_B, run_name="train"),
            ]
        )
        assert labels == {RUN_A: "train (aaaaaaaa)", RUN_B: "train (bbbbbbbb)"}

    def test_unnamed_run_is_its_short_id(self):
        """A run without a name is labelled by its short id."""
        assert run_labels([rec("x", 1, run_name=None)]) == {RUN_A: "aaaaaaaa"}


class TestFigureSize:
    """The PNG is at least 800 x 500 pixels at 100 dpi and grows with the panels."""

    @pytest.mark.parametrize(
        ("panels", "grid", "inches"),
        [
            (1, (1, 1), (8.0, 5.0)),
            (2, (1, 2), (10.0, 5.0)),
            (3, (1, 3), (15.0, 5.0)),
            (4, (2, 3), (15.0, 8.0)),
            (10, (4, 3), (15.0, 15.2)),
        ],
    )
    def test_grid_and_size(self, panels, grid, inches):
        """Up to three panels per row; 5 x 3.6 inches per panel, 8 x 5 at least."""
        figure = build_figure([rec(f"m.{i:02d}", 1.0) for i in range(panels)])
        assert figure.grid == grid
        assert figure.size_inches == pytest.approx(inches)

    @given(st.integers(min_value=0, max_value=40))
    def test_never_smaller_than_the_minimum(self, count):
        """Any number of panels gives at least 800 x 500 pixels."""
        figure = build_figure([rec(f"m.{i}", 1.0) for i in range(count)])
        width, height = figure.size_inches
        assert width >= MIN_INCHES[0] and height >= MIN_INCHES[1]
        rows, columns = figure.grid
        assert rows * columns >= count


def line_label(name: str, step: int, value: float) -> dict:
    """The annotation naming a preview's line at its last point."""
    return {
        "text": name, "x": step, "y": value, "xref": "x", "yref": "y",
        "showarrow": False, "xanchor": "right", "yanchor": "bottom",
    }  # fmt: skip


class TestPlotlyPreview:
    """plotly_preview: line traces for histories, one bar chart for single values."""

    def test_histories_and_single_values(self):
        """Exact traces: lines per history (x = steps, y = values), one bar of singles."""
        records = [
            rec("model_metrics.loss", 0.25, 1),
            rec("model_metrics.loss", 0.5, 0),
            rec("model_metrics.accuracy", 0.875, 1),
            rec("model_metrics.confusion.tp", 40, 0),
            rec("model_metrics.curve", 1, 0),
            rec("model_metrics.curve", 2, 1),
            rec("model_metrics.curve", 4, 2),
        ]
        preview = plotly_preview(
            records, title="model_metrics: run first (aaaaaaaa)", prefix="model_metrics"
        )
        assert preview == {
            "data": [
                {
                    "type": "scatter",
                    "mode": "lines+markers",
                    "name": "curve",
                    "x": [0, 1, 2],
                    "y": [1.0, 2.0, 4.0],
                },
                {
                    "type": "scatter",
                    "mode": "lines+markers",
                    "name": "loss",
                    "x": [0, 1],
                    "y": [0.5, 0.25],
                },
                {
                    "type": "bar",
                    "name": "single values",
                    "x": ["accuracy", "confusion.tp"],
                    "y": [0.875, 40.0],
                    "xaxis": "x2",
                    "yaxis": "y2",
                },
            ],
            "layout": {
                "title": {"text": "model_metrics: run first (aaaaaaaa)"},
                "showlegend": True,
                "xaxis": {"title": {"text": "step"}, "domain": [0.0, 0.58]},
                "yaxis": {"title": {"text": "value"}},
                "xaxis2": {"title": {"text": "metric"}, "domain": [0.7, 1.0], "anchor": "y2"},
                "yaxis2": {"title": {"text": "value"}, "anchor": "x2"},
                "annotations": [
                    line_label("curve", 2, 4.0),
                    line_label("loss", 1, 0.25),
                ],
            },
        }

    def test_each_line_is_labelled_at_its_last_point(self):
        """Kedro-Viz's side panel hides the legend (its preview layout sets showlegend
        off): each line carries its name at its last finite point, in the layout."""
        records = [
            rec("p.loss", 0.75, 0), rec("p.loss", 0.5, 1), rec("p.loss", float("nan"), 2),
            rec("p.val", 0.875, 0), rec("p.val", 0.625, 4),
            rec("p.empty", float("nan"), 0), rec("p.empty", float("inf"), 1),
        ]  # fmt: skip
        layout = plotly_preview(records, title="t", prefix="p")["layout"]
        assert layout["annotations"] == [line_label("loss", 1, 0.5), line_label("val", 4, 0.625)]

    def test_only_single_values(self):
        """Only single values: one bar chart on the first axes, metrics on x."""
        preview = plotly_preview(
            [rec("eval.f1", 0.625), rec("eval.auc", 0.75)], title="t", prefix="eval"
        )
        assert preview == {
            "data": [
                {
                    "type": "bar",
                    "name": "single values",
                    "x": ["auc", "f1"],
                    "y": [0.75, 0.625],
                    "xaxis": "x",
                    "yaxis": "y",
                }
            ],
            "layout": {
                "title": {"text": "t"},
                "showlegend": True,
                "xaxis": {"title": {"text": "metric"}},
                "yaxis": {"title": {"text": "value"}},
            },
        }

    def test_only_histories(self):
        """Only histories: line traces, no bar and no second axes."""
        preview = plotly_preview([rec("loss", 3, 0), rec("loss", 2, 5)], title="t")
        assert preview["data"] == [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": "loss",
                "x": [0, 5],
                "y": [3.0, 2.0],
            }
        ]
        assert set(preview["layout"]) == {"title", "showlegend", "xaxis", "yaxis", "annotations"}
        assert preview["layout"]["annotations"] == [line_label("loss", 5, 2.0)]

    def test_nan_and_inf_become_null(self):
        """JSON has no NaN or infinity: they become null, and the figure dumps as strict JSON."""
        records = [
            rec("p.x", float("nan"), 0),
            rec("p.x", 1.5, 1),
            rec("p.x", float("inf"), 2),
            rec("p.y", float("-inf")),
        ]
        preview = plotly_preview(records, title="t", prefix="p")
        assert preview["data"][0]["y"] == [None, 1.5, None]
        assert preview["data"][1]["y"] == [None]
        json.dumps(preview, allow_nan=False)

    def test_no_records_is_the_empty_figure(self):
        """No metric: the empty figure, titled."""
        assert plotly_preview([], title="nothing here") == empty_preview("nothing here")

    def test_is_a_plain_dict(self):
        """The preview is a plain dict (PlotlyPreview is a NewType over dict)."""
        preview = plotly_preview([rec("x", 1)], title="t")
        assert type(preview) is dict
        assert json.loads(json.dumps(preview)) == preview

    @given(strategies.metric_names, st.lists(strategies.finite_floats, min_size=2, max_size=20))
    def test_a_history_round_trips_exactly(self, name, values):
        """Any history comes out as x = its steps and y = its values, in order."""
        records = [rec(f"pre.{name}", v, step) for step, v in enumerate(values)]
        (trace,) = plotly_preview(records, title="t", prefix="pre")["data"]
        assert (trace["name"], trace["x"], trace["y"]) == (name, list(range(len(values))), values)


class TestEmptyPreview:
    """empty_preview: no data, hidden axes, the reason as title."""

    def test_exact(self):
        """The whole figure."""
        assert empty_preview("No run yet") == {
            "data": [],
            "layout": {
                "title": {"text": "No run yet"},
                "xaxis": {"visible": False},
                "yaxis": {"visible": False},
            },
        }


class TestPreviewTitleText:
    """Preview titles fit Kedro-Viz's side panel: lines of at most PREVIEW_TITLE_WIDTH."""

    def test_a_short_title_is_one_line(self):
        """Nothing to wrap: the title as it is."""
        assert preview_title_text("model: run first (aaaaaaaa)") == "model: run first (aaaaaaaa)"

    def test_the_message_that_was_cut_off(self):
        """The message Kedro-Viz showed as "...run `kedro viz run --i": whole, in lines."""
        text = preview_title_text(
            "'model_metrics': the MLflow store at http://127.0.0.1:5000 does not answer; "
            "start it, then reload"
        )
        assert text == (
            "'model_metrics': the MLflow store at<br>http://127.0.0.1:5000 does not answer;"
            "<br>start it, then reload"
        )

    def test_html_is_escaped(self):
        """Plotly reads a title as HTML: <, > and & are shown, not interpreted."""
        assert preview_title_text("a <b> & c") == "a &lt;b&gt; &amp; c"

    def test_a_word_longer_than_a_line_is_broken(self):
        """A long URI is cut into lines too (no line wider than the panel)."""
        text = preview_title_text("x" * (2 * PREVIEW_TITLE_WIDTH + 1))
        assert text.split("<br>") == [
            "x" * PREVIEW_TITLE_WIDTH, "x" * PREVIEW_TITLE_WIDTH, "x",
        ]  # fmt: skip

    @given(st.text(alphabet=st.characters(codec="ascii", exclude_characters="<>&"), max_size=300))
    def test_every_line_fits_and_no_word_is_lost(self, title):
        """Each line is at most PREVIEW_TITLE_WIDTH characters; the words come back in
        order (whitespace aside)."""
        lines = preview_title_text(title).split("<br>")
        assert all(len(line) <= PREVIEW_TITLE_WIDTH for line in lines)
        assert "".join("".join(lines).split()) == "".join(title.split())

    def test_both_kinds_of_preview_use_it(self):
        """The data preview's and the empty preview's titles are both wrapped."""
        title = "model_metrics: run __default__ 2026-12-07 01:51:19 (3f2a9c1b)"
        shown = plotly_preview([rec("m.loss", 1.0)], title=title, prefix="m")
        assert shown["layout"]["title"]["text"] == (
            "model_metrics: run __default__<br>2026-12-07 01:51:19 (3f2a9c1b)"
        )
        assert empty_preview(title)["layout"]["title"]["text"] == (shown["layout"]["title"]["text"])


class TestPlotlyPreviewType:
    """PlotlyPreview is a NewType over dict named PlotlyPreview (what Kedro-Viz reads)."""

    def test_newtype(self):
        """Its __name__ is PlotlyPreview and its supertype dict."""
        assert PlotlyPreview.__name__ == "PlotlyPreview"
        assert PlotlyPreview.__supertype__ is dict
        assert isinstance(PlotlyPreview, typing.NewType)


class TestNames:
    """Names without the prefix, glob selection and titles."""

    @pytest.mark.parametrize(
        ("key", "prefix", "expected"),
        [
            ("model.loss", "model", "loss"),
            ("model.per_class.cat", "model", "per_class.cat"),
            ("model_2.loss", "model", "model_2.loss"),
            ("loss", "", "loss"),
        ],
    )
    def test_short_name(self, key, prefix, expected):
        """Only ``prefix + "."`` is dropped."""
        assert short_name(key, prefix) == expected

    def test_select_names_by_globs(self):
        """Globs match names without the prefix; one string is one glob; None keeps all."""
        records = [rec("m.loss", 1), rec("m.val.loss", 1), rec("m.acc", 1)]
        assert [r["name"] for r in select_names(records, "m", ["*loss"])] == [
            "m.loss",
            "m.val.loss",
        ]
        assert [r["name"] for r in select_names(records, "m", "acc")] == ["m.acc"]
        assert select_names(records, "m", None) == records
        assert select_names(records, "m", []) == []

    def test_preview_title(self):
        """The dataset, the run name and 8 characters of its id."""
        assert (
            preview_title("model_metrics", "training", RUN_A)
            == "model_metrics: run training (aaaaaaaa)"
        )
        assert preview_title("eval", None, RUN_B) == "eval: run (unnamed) (bbbbbbbb)"

    @pytest.mark.parametrize(
        ("value", "expected"), [(1, 1.0), (0.5, 0.5), (float("nan"), None), (float("-inf"), None)]
    )
    def test_json_number(self, value, expected):
        """Finite numbers as floats, the rest as None."""
        assert json_number(value) == expected


class TestDeclaredFormats:
    """Plots and previews show the value axis in the metrics' declared format."""

    MEANINGS = {"m.acc": Meaning(format="percent"), "m.loss": Meaning(format=".3f")}

    def meaning(self, key):
        return self.MEANINGS.get(key, UNDECLARED)

    def test_panels_carry_the_format(self):
        records = [rec("m.acc", 0.5, 0), rec("m.loss", 0.9, 0), rec("m.x", 1.0, 0)]
        figure = build_figure(records, meaning=self.meaning)
        assert [(p.metric, p.value_format) for p in figure.panels] == [
            ("m.acc", "percent"), ("m.loss", ".3f"), ("m.x", "raw"),
        ]  # fmt: skip

    def test_preview_axes_take_one_shared_format(self):
        """Lines on one axis, bars on the other: each gets a tickformat only when all
        its metrics share one declared format."""
        records = [rec("m.loss", 0.9, 0), rec("m.loss", 0.5, 1), rec("m.acc", 0.5, 0)]
        preview = plotly_preview(records, title="t", prefix="m", meaning=self.meaning)
        assert preview["layout"]["yaxis"]["tickformat"] == ".3f"
        assert preview["layout"]["yaxis2"]["tickformat"] == ".2%"
        mixed = [rec("m.loss", 0.9, 0), rec("m.acc", 0.5, 0)]
        layout = plotly_preview(mixed, title="t", prefix="m", meaning=self.meaning)["layout"]
        assert "tickformat" not in layout["yaxis"]
        assert tickformat({"raw"}) is None and tickformat({"percent", ".3f"}) is None
