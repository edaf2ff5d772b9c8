"""tables.py: the cells the CLI draws, in each key's declared format, changes
coloured by direction; durations and numbers for people."""

from __future__ import annotations

import pytest

from kedro_metrics.meaning import UNDECLARED, Meaning
from kedro_metrics.points import MetricPoint
from kedro_metrics.reading import tables
from kedro_metrics.records import PIPELINE_TAG, Run, compare, compare_params

A, B = "a" * 32, "b" * 32


def run(run_id, start, params=None, **values):
    latest = {
        k.replace("__", "."): MetricPoint(k.replace("__", "."), v, 0, 1) for k, v in values.items()
    }
    return Run(
        run_id,
        run_id[:3],
        "FINISHED",
        start,
        start + 1,
        "e",
        "1",
        params=params or {},
        latest=latest,
    )


class TestTableCells:
    """Table cells: numbers, durations and times for people."""

    @pytest.mark.parametrize(
        ("seconds", "text"),
        [(None, "-"), (4.24, "4.2 s"), (185, "3 min 05 s"), (7260, "2 h 01 min")],
    )
    def test_duration(self, seconds, text):
        """Seconds under a minute, then minutes, then hours."""
        assert tables.duration(seconds) == text

    def test_undeclared_values(self):
        """Undeclared: 6 significant digits; missing is -."""
        assert (UNDECLARED.show(0.875), UNDECLARED.show(40.0), UNDECLARED.show(None)) == (
            "0.875",
            "40",
            "-",
        )


class TestMeaningInTables:
    """Values in the declared format; the change green when better, red when worse."""

    MEANINGS = {
        "m.acc": Meaning(direction="max", format="percent"),
        "m.loss": Meaning(direction="min", format=".4f"),
    }

    def meaning(self, key):
        return self.MEANINGS.get(key, UNDECLARED)

    def test_compare_cells(self):
        runs = [
            run(A, 1, {"lr": "0.1"}, m__acc=0.8, m__loss=0.5, x=1.0),
            run(B, 2, {"lr": "0.01"}, m__acc=0.928, m__loss=0.75, x=2.0),
        ]
        rows = compare(runs, meaning=self.meaning) + compare_params(runs)
        assert [row["better"] for row in rows] == [True, False, None, None]
        headers, cells = tables.compare_table(rows, runs, self.meaning)
        assert headers == ["name", "aaaaaaaa", "bbbbbbbb", "change", "change %"]
        assert cells == [
            ["m.acc", "80.00%", "92.80%", ("+12.80%", "green"), ("+16", "green")],
            ["m.loss", "0.5000", "0.7500", ("+0.2500", "red"), ("+50", "red")],
            ["x", "1", "2", "+1", "+100"],
            ["params.lr", "0.1", "0.01", "-", "-"],
        ]

    def test_show_cells(self):
        document = [
            {
                "name": "m.loss",
                "value": 0.5,
                "step": 2,
                "points": 3,
                "best": {"value": 0.25, "step": 1},
                "min": 0.25,
            },
            {"name": "x", "value": 1.0, "step": 0, "points": 1, "best": None, "min": None},
        ]
        headers, cells = tables.show_table(document, self.meaning)
        assert headers == ["name", "value", "step", "points", "best", "min"]
        assert cells == [
            ["m.loss", "0.5000", "2", "3", "0.2500 @ 1", "0.2500"],
            ["x", "1", "0", "1", "-", "-"],
        ]

    def test_runs_cells_hold_the_values_asked(self):
        headers, cells = tables.runs_table(
            [run(A, 1, m__acc=0.5)], ["m.acc", "m.loss"], self.meaning
        )
        assert headers[-3:] == ["metrics", "m.acc", "m.loss"]
        assert cells[0][-3:] == ["1", "50.00%", "-"]


class TestRunsTableWidth:
    """`kedro metrics runs` of the example project (docs/example) fits 100 columns:
    each run one line, its name whole (it wrapped over three lines at 80 and 100)."""

    @staticmethod
    def example_run(index: int) -> Run:
        """A run as `kedro run` of the example makes it: the default name (pipeline and
        start time), eight metric keys, about a second long."""
        from datetime import datetime

        start = datetime(2026, 12, 4, 6, 33, 10 + index)
        start_ms = int(start.timestamp() * 1000)
        keys = ["accuracy", "loss", "precision", "recall"]
        latest = {
            f"{prefix}.{key}": MetricPoint(f"{prefix}.{key}", 0.5, 0, start_ms)
            for prefix in ("model_metrics", "test_scores")
            for key in keys
        }
        return Run(
            f"{index:x}" * 32,
            f"__default__ {start:%Y-%m-%d %H:%M:%S}",
            "FINISHED",
            start_ms,
            start_ms + 1234,
            "metrics_example",
            "1",
            tags={PIPELINE_TAG: "__default__"},
            latest=latest,
        )

    def drawn(self, runs, monkeypatch, columns: int) -> list[str]:
        """The table as `kedro metrics runs` draws it in a terminal ``columns`` wide."""
        import io

        from kedro_metrics.cli.output import Output

        monkeypatch.setenv("COLUMNS", str(columns))
        monkeypatch.setenv("NO_COLOR", "1")
        out = io.StringIO()
        Output("table", out, None).emit(runs, table=tables.runs_table(runs))
        return out.getvalue().splitlines()

    def test_each_run_is_one_line_at_100_columns(self, monkeypatch):
        runs = [self.example_run(index) for index in (3, 2, 1)]
        lines = self.drawn(runs, monkeypatch, 100)
        rows = [line for line in lines if line.startswith("│")]
        assert [row.split("│")[2].strip() for row in rows] == [run.run_name for run in runs]
        assert max(map(len, lines)) <= 100

    def test_the_columns(self):
        headers, (row,) = tables.runs_table([self.example_run(1)])
        assert headers == ["run", "name", "status", "start", "duration", "metrics"]
        assert row == [
            "11111111", "__default__ 2026-12-04 06:33:11", "FINISHED",
            tables.local_time(self.example_run(1).start_time), "1.2 s", "8",
        ]  # fmt: skip


class TestHeadings:
    def test_a_bold_heading_row_before_each_group(self):
        from kedro_metrics.reading.tables import under_headings

        rows = [
            {"name": "a", "node": "n1"},
            {"name": "b", "node": "n1"},
            {"name": "c", "node": None},
        ]
        table = (["name", "value"], [["a", "1"], ["b", "2"], ["c", "3"]])
        assert under_headings(table, rows, "node") == (
            ["name", "value"],
            [
                [("node: n1", "bold"), ""],
                ["a", "1"],
                ["b", "2"],
                [("node: -", "bold"), ""],
                ["c", "3"],
            ],
        )
