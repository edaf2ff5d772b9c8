"""records: the record shape, times, run references, name globs, compare, nesting."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given

from kedro_metrics import records
from kedro_metrics.points import MetricPoint
from kedro_metrics.records import Run
from tests.strategies import flat_metrics

ID_A = "abcdef0123456789abcdef0123456789"
ID_B = "abcdef99aaaaaaaaaaaaaaaaaaaaaaaa"
ID_C = "0123456789abcdef0123456789abcdef"


def run(run_id: str, start: int, **latest: float | tuple[float, int]) -> Run:
    points = {}
    for key, given_value in latest.items():
        value, step = given_value if isinstance(given_value, tuple) else (given_value, 0)
        points[key.replace("__", ".")] = MetricPoint(key.replace("__", "."), value, step, start + 5)
    return Run(
        run_id=run_id,
        run_name=f"name-{run_id[:3]}",
        status="FINISHED",
        start_time=start,
        end_time=start + 1500,
        experiment="exp",
        experiment_id="1",
        tags={"kedro.pipeline": "train,eval"},
        latest=points,
    )


#: Newest first, as the store returns them.
RUNS = [run(ID_C, 3000, acc=0.9), run(ID_B, 2000, acc=0.8), run(ID_A, 1000, acc=0.5)]


class TestRecordShape:
    """A record is a plain dict with exactly RECORD_FIELDS, in order."""

    def test_record_fields_are_pinned(self):
        """The field names and their order are the documented ones."""
        assert records.RECORD_FIELDS == (
            "name", "value", "step", "timestamp", "run_id", "run_name", "pipeline",
            "experiment", "created_at",
        )  # fmt: skip

    def test_record_of_a_point(self):
        """Every field comes from the run or the point; created_at is the timestamp in UTC."""
        source = run(ID_A, 1_700_000_000_000, model__acc=(0.5, 3))
        got = records.record(source, source.latest["model.acc"])
        assert list(got) == list(records.RECORD_FIELDS)
        assert got == {
            "name": "model.acc",
            "value": 0.5,
            "step": 3,
            "timestamp": 1_700_000_000_005,
            "run_id": ID_A,
            "run_name": "name-abc",
            "pipeline": "train,eval",
            "experiment": "exp",
            "created_at": "2023-11-14T22:13:20.005Z",
        }

    def test_last_value_records_filter_by_glob_and_sort_names(self):
        """One record per metric per run, names sorted, only those the glob selects."""
        source = run(ID_A, 0, b__x=1.0, a__y=2.0, a__x=3.0)
        got = records.last_value_records([source], "a.*")
        assert [(r["name"], r["value"]) for r in got] == [("a.x", 3.0), ("a.y", 2.0)]

    def test_history_records_are_ordered_by_step_then_timestamp(self):
        """A history comes back ordered by step, then timestamp."""
        source = run(ID_A, 0)
        history = [
            MetricPoint("k", 3.0, 2, 1),
            MetricPoint("k", 1.0, 0, 9),
            MetricPoint("k", 2.0, 0, 10),
        ]
        got = records.history_records(source, history)
        assert [(r["step"], r["value"]) for r in got] == [(0, 1.0), (0, 2.0), (2, 3.0)]


class TestIsoUtc:
    """Times are ISO 8601 UTC strings ending in Z, milliseconds kept."""

    @pytest.mark.parametrize(
        ("epoch_ms", "expected"),
        [
            (0, "1970-01-01T00:00:00.000Z"),
            (1_700_000_000_123, "2023-11-14T22:13:20.123Z"),
            (None, None),
        ],
    )
    def test_iso_utc(self, epoch_ms, expected):
        """Epoch milliseconds -> ISO 8601 UTC with Z; None stays None."""
        assert records.iso_utc(epoch_ms) == expected


class TestNames:
    """Names select metrics by exact key or glob."""

    @pytest.mark.parametrize(
        ("key", "pattern", "expected"),
        [("model.acc", None, True), ("model.acc", "model.acc", True),
         ("model.acc", "model.*", True), ("model_2.acc", "model.*", False),
         ("model.per_class.cat", "*.cat", True), ("a[1]", "a[1]", True),
         ("model.acc", "model", False)],
    )  # fmt: skip
    def test_name_matches(self, key, pattern, expected):
        """None matches everything; otherwise the exact key or an fnmatch glob."""
        assert records.name_matches(key, pattern) is expected


class TestCompare:
    """compare: a row per metric, a value per run, change of the last against the first."""

    def test_values_change_and_percent(self):
        """change = last - first; change_pct relative to |first|; missing is None."""
        first = run(ID_A, 1, acc=0.5, loss=2.0, zero=0.0, gone=1.0)
        last = run(ID_C, 2, acc=0.75, loss=1.0, zero=1.0, new=3.0)
        rows = records.compare([first, last])
        assert rows == [
            {
                "name": "acc",
                "values": {ID_A: 0.5, ID_C: 0.75},
                "change": 0.25,
                "change_pct": 50.0,
                "better": None,
            },
            {
                "name": "gone",
                "values": {ID_A: 1.0, ID_C: None},
                "change": None,
                "change_pct": None,
                "better": None,
            },
            {
                "name": "loss",
                "values": {ID_A: 2.0, ID_C: 1.0},
                "change": -1.0,
                "change_pct": -50.0,
                "better": None,
            },
            {
                "name": "new",
                "values": {ID_A: None, ID_C: 3.0},
                "change": None,
                "change_pct": None,
                "better": None,
            },
            {
                "name": "zero",
                "values": {ID_A: 0.0, ID_C: 1.0},
                "change": 1.0,
                "change_pct": None,
                "better": None,
            },
        ]

    def test_only_changed_keeps_missing_and_different(self):
        """--only-changed drops equal rows and keeps rows missing somewhere."""
        first = run(ID_A, 1, same=1.0, diff=1.0, gone=1.0)
        last = run(ID_C, 2, same=1.0, diff=2.0)
        rows = records.compare([first, last], only_changed=True)
        assert [row["name"] for row in rows] == ["diff", "gone"]

    def test_middle_runs_count_for_only_changed_and_glob_filters(self):
        """A metric that differs only in a middle run is changed; the glob filters names."""
        runs = [
            run(ID_A, 1, m__a=1.0, x=1.0),
            run(ID_B, 2, m__a=5.0, x=2.0),
            run(ID_C, 3, m__a=1.0),
        ]
        rows = records.compare(runs, names="m.*", only_changed=True)
        assert rows == [
            {
                "name": "m.a",
                "values": {ID_A: 1.0, ID_B: 5.0, ID_C: 1.0},
                "change": 0.0,
                "change_pct": 0.0,
                "better": None,
            }
        ]


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat = {}
    for name, value in tree.items():
        key = f"{prefix}.{name}" if prefix else name
        flat.update(flatten(value, key) if isinstance(value, dict) else {key: value})
    return flat


class TestNest:
    """Groups nest by "."; a key that is metric and group keeps both, unmerged."""

    def test_groups_nest(self):
        """model_metrics.per_class.cat.recall nests four levels deep."""
        flat = {"m.per_class.cat.recall": 1, "m.per_class.dog.recall": 2, "m.acc": 3, "top": 4}
        assert records.nest(flat) == {
            "m": {"acc": 3, "per_class": {"cat": {"recall": 1}, "dog": {"recall": 2}}},
            "top": 4,
        }

    def test_metric_and_group_of_one_name_are_both_kept(self):
        """loss and loss.val: loss stays a metric, loss.val sits beside it unsplit."""
        assert records.nest({"m.loss": 1, "m.loss.val": 2, "m.loss.val.x": 3}) == {
            "m": {"loss": 1, "loss.val": 2, "loss.val.x": 3}
        }

    @given(flat_metrics)
    def test_nesting_loses_nothing(self, flat):
        """Flattening the nested form gives back exactly the input."""
        assert flatten(records.nest(flat)) == flat
