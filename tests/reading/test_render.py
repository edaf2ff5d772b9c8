"""render: what is drawn, checked on the matplotlib Figure's own data (lines, markers,
labels), and that drawing leaves the process's matplotlib backend alone."""

from __future__ import annotations

import matplotlib

from kedro_metrics.reading import render
from kedro_metrics.reading.figures import build_figure
from tests.reading.test_figures import RUN_B, rec

RECORDS = [
    rec("m.acc", 0.75, 3),
    rec("m.loss", 0.9, 0), rec("m.loss", 0.5, 1),
    rec("m.acc", 0.5, 3, run_id=RUN_B, run_name="second"),
]  # fmt: skip


def drawn_lines(figure):
    """(panel title, label, xs, ys, linestyle, marker) of every drawn line."""
    return [
        (ax.get_title(), line.get_label(), list(line.get_xdata()), list(line.get_ydata()),
         line.get_linestyle(), line.get_marker())
        for ax in figure.axes if ax.get_visible()
        for line in ax.get_lines()
    ]  # fmt: skip


class TestDraw:
    def test_a_single_point_is_a_marker_and_a_history_a_line(self):
        """m.acc (one point per run): markers without a line, bigger for the earlier
        run; m.loss: a line with a dot at each point."""
        figure = render.draw(build_figure(RECORDS))
        assert drawn_lines(figure) == [
            ("m.acc", "first", [3], [0.75], "None", "o"),
            ("m.acc", "second", [3], [0.5], "None", "o"),
            ("m.loss", "first", [0, 1], [0.9, 0.5], "-", "."),
        ]
        sizes = [line.get_markersize() for line in figure.axes[0].get_lines()]
        assert sizes == [11.0, 8.0]

    def test_labels_and_legend(self):
        figure = render.draw(build_figure(RECORDS))
        acc, loss = figure.axes[:2]
        assert (acc.get_xlabel(), acc.get_ylabel()) == ("step", "value")
        assert [t.get_text() for t in figure.legends[0].get_texts()] == ["first", "second"]
        assert figure.get_suptitle() == "first, second"
        assert loss.get_title() == "m.loss"

    def test_one_metric_png_shows_its_title_once(self):
        """`kedro metrics plot m.loss`: m.loss above the figure, not again above its panel."""
        figure = render.draw(build_figure(RECORDS[1:3], title="m.loss"))
        (panel,) = [ax for ax in figure.axes if ax.get_visible()]
        assert (figure.get_suptitle(), panel.get_title()) == ("m.loss", "")

    def test_drawing_leaves_the_backend_alone(self, tmp_path):
        """A notebook's backend stays what it was; the PNG is still written."""
        before = matplotlib.get_backend()
        render.write_png(build_figure(RECORDS), tmp_path / "m.png")
        assert matplotlib.get_backend() == before
        assert (tmp_path / "m.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    def test_value_ticks_in_each_metric_s_format(self):
        """A percent metric's value axis reads 50.00%; a raw one keeps matplotlib's ticks."""
        from kedro_metrics.meaning import UNDECLARED, Meaning

        meanings = {"m.acc": Meaning(direction="max", format="percent")}
        figure = render.draw(build_figure(RECORDS, meaning=lambda k: meanings.get(k, UNDECLARED)))
        acc, loss = figure.axes[:2]
        assert acc.yaxis.get_major_formatter()(0.5, 0) == "50.00%"
        assert type(loss.yaxis.get_major_formatter()).__name__ == "ScalarFormatter"
