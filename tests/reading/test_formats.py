"""formats: the pinned JSON/CSV documents and the Kubeflow Pipelines metrics file."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kedro_metrics.errors import ExportError
from kedro_metrics.meaning import UNDECLARED, Meaning
from kedro_metrics.points import MetricPoint
from kedro_metrics.reading import formats
from kedro_metrics.records import Run
from tests.strategies import dotted_keys

RUN = Run(
    run_id="0123456789abcdef0123456789abcdef",
    run_name="__default__",
    status="FINISHED",
    start_time=1_700_000_000_000,
    end_time=1_700_000_002_500,
    experiment="exp",
    experiment_id="1",
    tags={"kedro.pipeline": "__default__", "b": "2", "a": "1"},
    latest={
        "m.per_class.cat.recall": MetricPoint("m.per_class.cat.recall", 0.5, 1, 30),
        "m.acc": MetricPoint("m.acc", 0.875, 0, 10),
    },
)


class TestDocuments:
    """The JSON documents have exactly the pinned keys and values."""

    def test_runs_document(self):
        """runs: run_id, run_name, status, ISO times, duration_s, pipeline, metric count,
        child run count."""
        assert formats.runs_document([RUN], children={RUN.run_id: 3, "other": 1}) == [
            {
                "run_id": RUN.run_id,
                "run_name": "__default__",
                "status": "FINISHED",
                "start_time": "2023-11-14T22:13:20.000Z",
                "end_time": "2023-11-14T22:13:22.500Z",
                "duration_s": 2.5,
                "pipeline": "__default__",
                "metrics": 2,
                "children": 3,
                "values": {},
            }
        ]
        assert formats.runs_document([RUN])[0]["children"] == 0

    def test_runs_document_values_of_the_keys_asked(self):
        """runs: ``values`` holds the last value of each key --where/--sort name, null
        when the run lacks it; CSV gives each its own column."""
        (row,) = formats.runs_document([RUN], ["m.acc", "m.missing"])
        assert row["values"] == {"m.acc": 0.875, "m.missing": None}
        columns = formats.runs_columns(["m.acc", "m.missing"])
        assert columns[-4:] == ["metrics", "children", "m.acc", "m.missing"]
        assert (
            formats.to_csv(formats.runs_csv_rows([row]), columns)
            .splitlines()[1]
            .endswith(",2,0,0.875,")
        )

    def test_running_run_has_no_end(self):
        """A run without end time has end_time and duration_s null."""
        running = Run("r" * 32, "x", "RUNNING", 1000, None, "exp", "1")
        (row,) = formats.runs_document([running])
        assert (row["end_time"], row["duration_s"], row["pipeline"]) == (None, None, None)

    def test_show_document(self):
        """show: name, last value, its step, number of points, best (null without a
        direction); no summary field when none is declared."""
        histories = {"m.acc": [MetricPoint("m.acc", v, 0, t) for v, t in ((0.5, 1), (0.875, 10))]}
        got = formats.show_document(RUN, histories, ["m.acc"], lambda key: UNDECLARED)
        assert got == [{"name": "m.acc", "value": 0.875, "step": 0, "points": 2, "best": None}]

    def test_show_document_best_and_declared_summaries(self):
        """show: best is {value, step} by the direction; one field per summary declared
        for any key shown, null for keys that do not declare it; CSV splits best."""
        loss = [MetricPoint("m.loss", v, s, s) for s, v in enumerate((0.75, 0.25, 0.5))]
        run_ = Run("r" * 32, "x", "FINISHED", 1, 2, "e", "1", latest={
            "m.loss": loss[-1], "m.acc": MetricPoint("m.acc", 0.875, 0, 10)})  # fmt: skip
        meanings = {
            "m.loss": Meaning(direction="min", summary=("last", "min")),
            "m.acc": Meaning(direction="max"),
        }
        got = formats.show_document(
            run_, {"m.loss": loss, "m.acc": [run_.latest["m.acc"]]}, ["m.acc", "m.loss"],
            lambda key: meanings[key],
        )  # fmt: skip
        assert got == [
            {"name": "m.acc", "value": 0.875, "step": 0, "points": 1,
             "best": {"value": 0.875, "step": 0}, "min": None, "last": None},
            {"name": "m.loss", "value": 0.5, "step": 2, "points": 3,
             "best": {"value": 0.25, "step": 1}, "min": 0.25, "last": 0.5},
        ]  # fmt: skip
        columns = formats.show_columns(got)
        assert columns == ["name", "value", "step", "points", "best", "best_step", "min", "last"]
        assert formats.to_csv(formats.show_csv_rows(got), columns) == (
            "name,value,step,points,best,best_step,min,last\n"
            "m.acc,0.875,0,1,0.875,0,,\n"
            "m.loss,0.5,2,3,0.25,1,0.25,0.5\n"
        )

    def test_export_document_nests_groups(self):
        """export json: run fields, sorted tags, metrics nested with value, step, history."""
        histories = {
            "m.acc": [MetricPoint("m.acc", 0.875, 0, 10), MetricPoint("m.acc", 0.5, 0, 5)],
            "m.per_class.cat.recall": [MetricPoint("m.per_class.cat.recall", 0.5, 1, 30)],
        }
        assert formats.export_document(RUN, histories) == {
            "run_id": RUN.run_id,
            "run_name": "__default__",
            "status": "FINISHED",
            "start_time": "2023-11-14T22:13:20.000Z",
            "end_time": "2023-11-14T22:13:22.500Z",
            "tags": {"a": "1", "b": "2", "kedro.pipeline": "__default__"},
            "metrics": {
                "m": {
                    "acc": {
                        "value": 0.875,
                        "step": 0,
                        "history": [
                            {"value": 0.5, "step": 0, "timestamp": 5},
                            {"value": 0.875, "step": 0, "timestamp": 10},
                        ],
                    },
                    "per_class": {
                        "cat": {
                            "recall": {
                                "value": 0.5,
                                "step": 1,
                                "history": [{"value": 0.5, "step": 1, "timestamp": 30}],
                            }
                        }
                    },  # fmt: skip
                }
            },
        }

    def test_compare_csv_rows(self):
        """compare csv: name, a column per run id, change, change_pct, better (true,
        false or empty)."""
        rows = [
            {"name": "a", "values": {"r1": 1.0, "r2": None}, "change": None,
             "change_pct": None, "better": None},
            {"name": "b", "values": {"r1": 1.0, "r2": 2.0}, "change": 1.0,
             "change_pct": 100.0, "better": False},
        ]  # fmt: skip
        flat = formats.compare_csv_rows(rows, ["r1", "r2"])
        assert formats.to_csv(flat, formats.compare_columns(["r1", "r2"])) == (
            "name,r1,r2,change,change_pct,better\na,1.0,,,,\nb,1.0,2.0,1.0,100.0,false\n"
        )


class TestRenderers:
    """JSON is strict; CSV has a header and empty cells for missing values."""

    def test_json_is_strict(self):
        """NaN and infinities become null; the text ends in a newline."""
        text = formats.to_json({"a": math.nan, "b": [math.inf, 1.5], "c": None})
        assert json.loads(text) == {"a": None, "b": [None, 1.5], "c": None}
        assert text.endswith("\n")

    def test_csv_floats_round_trip(self):
        """Floats are written with repr: read back, they are the same numbers."""
        text = formats.to_csv([{"v": 0.1 + 0.2, "s": 3}], ["v", "s"])
        assert text == f"v,s\n{0.1 + 0.2!r},3\n"
        assert float(text.splitlines()[1].split(",")[0]) == 0.1 + 0.2


class TestKubeflow:
    """The KFP v1 metrics file: names made to match KFP's rule, collisions refused."""

    @pytest.mark.parametrize(
        ("key", "name"),
        [("model_metrics.accuracy", "model_metrics-accuracy"), ("1st.score", "m-1st-score"),
         ("eval/f1 score", "eval-f1-score"), ("loss.", "loss"), ("_x", "m-_x"), ("a" * 80, "a" * 64),
         ("a" * 63 + ".b", "a" * 63)],
    )  # fmt: skip
    def test_names(self, key, name):
        """Dots and other characters become -, a leading non-letter gets m-, cut, trimmed."""
        assert formats.kfp_name(key) == name

    @given(st.one_of(dotted_keys, st.text(min_size=1, max_size=300)))
    def test_every_key_gives_a_valid_name(self, key):
        """Whatever the key, the name matches KFP's regex."""
        assert formats.KFP_NAME.fullmatch(formats.kfp_name(key))

    def test_document(self):
        """Sorted entries, RAW or PERCENTAGE by glob, values unscaled, non-finite left out."""
        values = {
            "model.accuracy": 0.875,
            "model.loss": 0.25,
            "eval.accuracy_top5": 0.5,
            "bad": math.nan,
        }
        document = formats.kubeflow_metrics(values, percentage=["*accuracy*"])
        assert document == {
            "metrics": [
                {"name": "eval-accuracy_top5", "numberValue": 0.5, "format": "PERCENTAGE"},
                {"name": "model-accuracy", "numberValue": 0.875, "format": "PERCENTAGE"},
                {"name": "model-loss", "numberValue": 0.25, "format": "RAW"},
            ]
        }
        assert formats.not_finite(values) == ["bad"]
        for entry in document["metrics"]:
            assert set(entry) == {"name", "numberValue", "format"}
            assert formats.KFP_NAME.fullmatch(entry["name"])

    def test_collision_names_both_keys(self):
        """Two keys that map to one KFP name are an error naming both; nothing merged."""
        with pytest.raises(ExportError) as caught:
            formats.kubeflow_metrics({"model.acc": 1.0, "model/acc": 2.0})
        message = str(caught.value)
        assert "'model.acc'" in message and "'model/acc'" in message and "'model-acc'" in message


class TestSources:
    """export's ``source`` per dataset group, and ``--by`` on show/compare rows."""

    SOURCE = {"node": "ns.evaluate", "namespace": "ns", "inputs": ["ns.X", "features"]}

    def tagged(self, **tags: str) -> Run:
        return Run("r" * 32, "x", "FINISHED", 1, 2, "e", "1", tags=tags)

    def test_each_datasets_group_gets_its_source_at_the_level_of_its_prefix(self):
        tags = {
            "kedro_metrics.source.ns.scores": json.dumps(self.SOURCE),
            "kedro_metrics.source.eval_metrics": json.dumps({**self.SOURCE, "node": "e"}),
            "kedro_metrics.keys.eval_metrics": "eval",
            "kedro_metrics.source.acc": json.dumps(self.SOURCE),  # a single-key dataset
            "kedro_metrics.source.flat": json.dumps(self.SOURCE),
            "kedro_metrics.keys.flat": "",
        }
        flat = {"ns.scores.f1": 1, "ns.scores.source": 2, "eval.f1": 3, "acc": 4, "top": 5}
        nested = formats.with_sources(formats.nest(dict(flat)), tags, flat)
        assert nested == {
            "ns": {"scores": {"f1": 1, "source": 2}},  # a metric named source keeps it
            "eval": {"f1": 3, "source": {**self.SOURCE, "node": "e"}},
            "acc": 4,
            "top": 5,
        }

    def test_grouped_by_uses_the_newest_runs_record(self):
        old = self.tagged(**{"kedro_metrics.source.m": json.dumps({**self.SOURCE, "node": "a"})})
        new = self.tagged(**{"kedro_metrics.source.m": json.dumps({**self.SOURCE, "node": "b"})})
        rows = [{"name": "zz"}, {"name": "m.x"}]
        assert formats.grouped_by(rows, [old, new], "node") == [
            {"name": "m.x", "node": "b"},
            {"name": "zz", "node": None},
        ]

    def test_compare_csv_has_the_grouping_column(self):
        rows = [{"name": "m.x", "values": {"r1": 1.0}, "change": None, "change_pct": None,
                 "better": None, "node": "b"}]  # fmt: skip
        assert formats.compare_columns(["r1"], "node")[-1] == "node"
        assert formats.compare_csv_rows(rows, ["r1"])[0]["node"] == "b"
