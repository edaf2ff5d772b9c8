"""tables.py: the cells the CLI draws, in each key's declared format, changes
coloured by direction; durations and numbers for people."""

from __future__ import annotations

import pytest

from kedro_metrics.meaning import UNDECLARED, Meaning
from kedro_metrics.points import MetricPoint
from kedro_metrics.reading import tables
from kedro_metrics.records import Run, compare, compare_params

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
