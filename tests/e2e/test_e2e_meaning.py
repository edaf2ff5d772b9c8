"""What metrics mean, after real `kedro run`s: declarations in metrics.yml and in the
catalog, the meaning and summaries recorded in the run, best values, better or worse
in `compare`, runs filtered and sorted by value; on sqlite and on a loopback server.

Three runs of the ``meaning`` pipeline (``nodes.quality_scores``), oldest first, with
quality 0.75, 0.875 and 0.625: ``scored_metrics.accuracy`` = quality, ``.f1`` =
quality - 0.125, ``.loss`` = [1.0, 1 - quality, 1.25 - quality] at steps 0, 1, 2.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import json_of, metrics_in_process

pytestmark = pytest.mark.e2e

QUALITIES = (0.75, 0.875, 0.625)
METRICS_YML = """\
metrics:
  "*accuracy*": {direction: max, format: percent}
  "*loss*": {direction: min, format: ".4f", summary: [min, best, mean]}
  "*f1": {direction: min}   # the catalog entry of scored_metrics declares f1 itself
"""
#: What the project declares after the runs: readers keep the runs' recorded meaning.
CHANGED_YML = 'metrics:\n  "*accuracy*": {direction: min}\n'
SUMMARY_KEYS = ["scored_metrics.loss.best", "scored_metrics.loss.mean", "scored_metrics.loss.min"]


def loss(quality: float) -> list[float]:
    return [1.0, 1.0 - quality, 1.25 - quality]


@dataclass(frozen=True)
class Runs:
    project: Path
    store: Any
    ids: list[str]
    outputs: dict[str, Any]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, new_project, kedro, store_at) -> Runs:
    project = new_project(tmp_path_factory.mktemp("meaning"))
    (project / "conf" / "local" / "metrics.yml").write_text(METRICS_YML)
    for quality in QUALITIES:
        kedro(project, "run", "--pipelines", "meaning", "--params", f"quality={quality}").check()
    store = store_at(project / "mlflow.db")
    ids = [r.info.run_id for r in sorted(store.runs(), key=lambda r: r.info.start_time)]
    outputs = {}
    (project / "conf" / "local" / "metrics.yml").write_text(CHANGED_YML)
    outputs["show_after_change"] = metrics_in_process(project, "show", "--format", "json")
    outputs["show_table_after_change"] = metrics_in_process(project, "show")
    outputs["compare_after_change"] = metrics_in_process(
        project, "compare", "latest~2", "latest~1", "--format", "json"
    )
    (project / "conf" / "local" / "metrics.yml").write_text(METRICS_YML)
    return Runs(project, store, ids, outputs)


class TestRecordedInTheRun:
    """Each run holds its summaries as MLflow metrics and its meaning in its tags."""

    @pytest.mark.parametrize("index", [0, 1, 2])
    def test_summaries_are_stored_metrics_at_their_source_step(self, runs, index):
        run_id, quality = runs.ids[index], QUALITIES[index]
        curve = runs.store.client.get_metric_history(run_id, "scored_metrics.loss")
        by_step = {m.step: m for m in curve}
        got = {
            key: [
                (m.value, m.step, m.timestamp)
                for m in runs.store.client.get_metric_history(run_id, key)
            ]
            for key in SUMMARY_KEYS
        }
        assert got == {
            "scored_metrics.loss.best": [(1.0 - quality, 1, by_step[1].timestamp)],
            "scored_metrics.loss.mean": [(sum(loss(quality)) / 3, 2, by_step[2].timestamp)],
            "scored_metrics.loss.min": [(1.0 - quality, 1, by_step[1].timestamp)],
        }

    def test_tags_name_the_meaning_and_the_summary_keys(self, runs):
        tags = runs.store.run(runs.ids[0]).data.tags
        assert json.loads(tags["kedro_metrics.summaries"]) == SUMMARY_KEYS
        assert json.loads(tags["kedro_metrics.meaning"]) == {
            "scored_metrics.accuracy": {"direction": "max", "format": "percent", "summary": []},
            "scored_metrics.f1": {"direction": "max", "format": ".3f", "summary": []},
            "scored_metrics.loss": {"direction": "min", "format": ".4f", "summary": ["min", "best", "mean"]},
        }  # fmt: skip

    def test_a_dataset_load_returns_no_summary(self, runs):
        from kedro_metrics import MlflowMetricsDataSet

        dataset = MlflowMetricsDataSet(
            prefix="scored_metrics", run_id=runs.ids[0], tracking_uri=runs.store.uri
        )
        assert dataset.load() == {
            "accuracy": {"value": 0.75, "step": 0},
            "f1": {"value": 0.625, "step": 0},
            "loss": [{"value": v, "step": s} for s, v in enumerate(loss(0.75))],
        }

    def test_mode_best_loads_the_best_value_by_the_recorded_direction(self, runs):
        from kedro_metrics import MlflowMetricDataSet

        best = MlflowMetricDataSet(
            key="scored_metrics.loss", run_id=runs.ids[1], tracking_uri=runs.store.uri,
            load_args={"mode": "best"},
        )  # fmt: skip
        assert best.load() == 0.125


class TestShow:
    """show: best value and step, declared summaries as columns, formats in the table."""

    def test_json(self, runs):
        document = json_of(metrics_in_process(runs.project, "show", "--format", "json"))
        assert document == [
            {"name": "scored_metrics.accuracy", "value": 0.625, "step": 0, "points": 1,
             "best": {"value": 0.625, "step": 0}, "min": None, "mean": None},
            {"name": "scored_metrics.f1", "value": 0.5, "step": 0, "points": 1,
             "best": {"value": 0.5, "step": 0}, "min": None, "mean": None},
            {"name": "scored_metrics.loss", "value": 0.625, "step": 2, "points": 3,
             "best": {"value": 0.375, "step": 1}, "min": 0.375, "mean": 2.0 / 3},
        ]  # fmt: skip

    def test_csv(self, runs):
        result = metrics_in_process(runs.project, "show", "--name", "*loss", "--format", "csv")
        assert result.stdout == (
            "name,value,step,points,best,best_step,min,mean\n"
            f"scored_metrics.loss,0.625,2,3,0.375,1,0.375,{2.0 / 3!r}\n"
        )

    def test_table_uses_each_format(self, runs):
        result = metrics_in_process(runs.project, "show")
        lines = [line for line in result.stdout.splitlines() if "scored_metrics." in line]
        cells = [[cell.strip() for cell in line.strip("│ ").split("│")] for line in lines]
        assert cells == [
            ["scored_metrics.accuracy", "62.50%", "0", "1", "62.50% @ 0", "-", "-"],
            ["scored_metrics.f1", "0.500", "0", "1", "0.500 @ 0", "-", "-"],
            ["scored_metrics.loss", "0.6250", "2", "3", "0.3750 @ 1", "0.3750", "0.6667"],
        ]

    def test_a_run_keeps_its_recorded_meaning_when_the_project_changes(self, runs):
        """After metrics.yml changed, the run still reads with the meaning it ran with."""
        document = json_of(runs.outputs["show_after_change"])
        assert [row["best"] for row in document] == [
            {"value": 0.625, "step": 0}, {"value": 0.5, "step": 0}, {"value": 0.375, "step": 1},
        ]  # fmt: skip
        assert "62.50%" in runs.outputs["show_table_after_change"].stdout
        rows = json_of(runs.outputs["compare_after_change"])
        assert [row["better"] for row in rows] == [True, True, True]


class TestCompare:
    """compare: better or worse by each key's direction, parameters with --params."""

    def test_better(self, runs):
        first_two = json_of(
            metrics_in_process(runs.project, "compare", "latest~2", "latest~1", "--format", "json")
        )
        a, b, c = runs.ids
        assert first_two == [
            {"name": "scored_metrics.accuracy", "values": {a: 0.75, b: 0.875}, "change": 0.125,
             "change_pct": 0.125 / 0.75 * 100, "better": True, "same_data": None},
            {"name": "scored_metrics.f1", "values": {a: 0.625, b: 0.75}, "change": 0.125,
             "change_pct": 20.0, "better": True, "same_data": None},
            {"name": "scored_metrics.loss", "values": {a: 0.5, b: 0.375}, "change": -0.125,
             "change_pct": -25.0, "better": True, "same_data": None},
        ]  # fmt: skip
        last_two = json_of(metrics_in_process(runs.project, "compare", "--format", "json"))
        assert [row["better"] for row in last_two] == [False, False, False]

    def test_params_rows(self, runs):
        a, _, c = runs.ids
        rows = json_of(
            metrics_in_process(
                runs.project, "compare", "latest~2", "latest", "--params", "--format", "json"
            )
        )
        assert rows[-1] == {
            "name": "params.quality", "values": {a: "0.75", c: "0.625"}, "change": None,
            "change_pct": None, "better": None, "same_data": None,
        }  # fmt: skip
        assert [row["name"] for row in rows[:-1]] == [
            "scored_metrics.accuracy", "scored_metrics.f1", "scored_metrics.loss",
        ]  # fmt: skip

    def test_csv_better_column(self, runs):
        result = metrics_in_process(
            runs.project, "compare", "latest~2", "latest~1", "--name", "*loss", "--format", "csv"
        )
        a, b, _ = runs.ids
        assert result.stdout == (
            f"name,{a},{b},change,change_pct,better\nscored_metrics.loss,0.5,0.375,-0.125,-25.0,true\n"
        )

    def test_table_formats_changes_in_each_format(self, runs):
        result = metrics_in_process(runs.project, "compare", "latest~2", "latest~1")
        lines = [line for line in result.stdout.splitlines() if "scored_metrics." in line]
        cells = [[cell.strip() for cell in line.strip("│ ").split("│")] for line in lines]
        assert cells == [
            ["scored_metrics.accuracy", "75.00%", "87.50%", "+12.50%", "+16.6667"],
            ["scored_metrics.f1", "0.625", "0.750", "+0.125", "+20"],
            ["scored_metrics.loss", "0.5000", "0.3750", "-0.1250", "-25"],
        ]

    def test_colour_only_in_a_colour_terminal(self, runs):
        """Green for better, red for worse where rich sees a colour terminal; none with
        NO_COLOR, nor when stdout is not a terminal."""
        args = ("compare", "latest~2", "latest~1", "--name", "*loss")
        coloured = metrics_in_process(runs.project, *args, env={"FORCE_COLOR": "1"}).stdout
        assert "\x1b[32m-0.1250" in coloured  # green: a lower loss is better
        worse = metrics_in_process(
            runs.project, "compare", "--name", "*loss", env={"FORCE_COLOR": "1"}
        )
        assert "\x1b[31m+0.2500" in worse.stdout  # red: 0.375 -> 0.625
        plain = metrics_in_process(runs.project, *args, env={"FORCE_COLOR": "1", "NO_COLOR": "1"})
        assert "\x1b[3" not in plain.stdout and "-0.1250" in plain.stdout
        assert "\x1b[" not in metrics_in_process(runs.project, *args).stdout

    def test_history_and_export_leave_summaries_out(self, runs):
        export = json_of(metrics_in_process(runs.project, "export", "--format", "json"))
        # beside the metrics, the group's source (where they came from), no summary
        assert sorted(export["metrics"]["scored_metrics"]) == ["accuracy", "f1", "loss", "source"]
        history = json_of(
            metrics_in_process(runs.project, "history", "scored_metrics.*", "--format", "json")
        )
        assert {r["name"] for r in history} == {
            "scored_metrics.accuracy", "scored_metrics.f1", "scored_metrics.loss",
        }  # fmt: skip


class TestRunsWhereSort:
    """runs --where/--sort: the store's search filters and orders; values in JSON."""

    def test_where_and_sort_by_a_summary(self, runs):
        a, b, _ = runs.ids
        document = json_of(
            metrics_in_process(
                runs.project,
                "runs",
                "--where",
                "scored_metrics.accuracy>0.7",
                "--sort",
                "scored_metrics.loss.min",
                "--format",
                "json",
            )  # fmt: skip
        )
        assert [(row["run_id"], row["values"]) for row in document] == [
            (b, {"scored_metrics.accuracy": 0.875, "scored_metrics.loss.min": 0.125}),
            (a, {"scored_metrics.accuracy": 0.75, "scored_metrics.loss.min": 0.25}),
        ]
        assert document[0]["metrics"] == 3  # summary keys are not counted

    @pytest.mark.parametrize(
        ("args", "order"),
        [
            (("--sort", "scored_metrics.accuracy"), [1, 0, 2]),  # max: best first
            (("--sort", "scored_metrics.accuracy:asc"), [2, 0, 1]),
            (("--sort", "scored_metrics.loss"), [1, 0, 2]),  # min: lowest first
            (("--sort", "scored_metrics.loss", "--limit", "1"), [1]),
            (("--where", "params.quality = 0.625"), [2]),
            (("--where", "status=finished", "--where", "scored_metrics.f1 <= 0.625"), [2, 0]),
            (("--where", "scored_metrics.missing != 1"), []),
        ],
    )
    def test_orders(self, runs, args, order):
        document = json_of(metrics_in_process(runs.project, "runs", *args, "--format", "json"))
        assert [row["run_id"] for row in document] == [runs.ids[i] for i in order]

    def test_get_metrics_where_sort_and_value(self, runs):
        from kedro_metrics import get_metrics

        found = get_metrics(
            "scored_metrics.loss", project_path=runs.project,
            where=["scored_metrics.accuracy >= 0.75"], sort="scored_metrics.loss.min",
            value="best",
        )  # fmt: skip
        assert [(r["run_id"], r["value"], r["step"]) for r in found] == [
            (runs.ids[1], 0.125, 1), (runs.ids[0], 0.25, 1),
        ]  # fmt: skip
        summary = get_metrics("scored_metrics.loss.mean", project_path=runs.project, run="latest")
        assert [(r["value"], r["step"]) for r in summary] == [(2.0 / 3, 2)]
        everything = get_metrics(project_path=runs.project, run="latest")
        assert [r["name"] for r in everything] == [
            "scored_metrics.accuracy", "scored_metrics.f1", "scored_metrics.loss",
        ]  # fmt: skip

    def test_get_metrics_malformed_where(self, runs):
        from kedro_metrics import get_metrics

        with pytest.raises(ValueError, match="Cannot filter by 'a > zzq': 'zzq' is not a number"):
            get_metrics(project_path=runs.project, where="a > zzq")

    def test_a_malformed_expression_is_one_error_line_exit_2(self, runs, kedro):
        """A real `kedro metrics` subprocess: exit 2, one Error: line naming the part."""
        result = kedro(runs.project, "metrics", "runs", "--where", "scored_metrics.accuracy >> 0.9")
        assert result.returncode == 2, result.output
        errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
        assert errors == [
            "Error: Cannot filter by 'scored_metrics.accuracy >> 0.9': '> 0.9' is not a number."
        ]


@pytest.mark.server
class TestOnAServer:
    """The same on a loopback `mlflow server`: summaries stored, filters in its search."""

    @pytest.fixture(scope="class")
    def served(self, tmp_path_factory, new_project, kedro, mlflow_server):
        project = new_project(tmp_path_factory.mktemp("meaning-server"))
        experiment = f"meaning-{uuid.uuid4().hex[:8]}"
        (project / "conf" / "local" / "metrics.yml").write_text(
            f"experiment: {experiment}\n{METRICS_YML}"
        )
        env = {"MLFLOW_TRACKING_URI": mlflow_server.url}
        for quality in QUALITIES[:2]:
            kedro(
                project, "run", "--pipelines", "meaning", "--params", f"quality={quality}", env=env
            ).check()
        searched = metrics_in_process(
            project, "runs", "--where", "scored_metrics.loss.best < 0.2", "--format", "json",
            env=env,
        )  # fmt: skip
        return project, experiment, searched

    def test_summaries_and_filter(self, served, mlflow_server):
        from mlflow import MlflowClient

        _, experiment, searched = served
        client = MlflowClient(tracking_uri=mlflow_server.url)
        found = client.get_experiment_by_name(experiment)
        runs = client.search_runs([found.experiment_id], order_by=["attributes.start_time ASC"])
        assert [run.data.metrics["scored_metrics.loss.best"] for run in runs] == [0.25, 0.125]
        assert [row["run_id"] for row in json_of(searched)] == [runs[1].info.run_id]
