"""Where metrics came from, after real `kedro run`s of the ``lineage`` pipeline: the
attribution tags of each metrics dataset, `show`/`compare --by`, `export`'s
``source``, ``get_metrics(node=, namespace=)``, and ``node_timings`` under the three
runners and when the run fails.

The lineage pipeline: ``make_features`` -> features; then, in the namespaces
``candidate`` and ``champion``, ``split`` (features, params:test_share -> X_test) and
``evaluate`` (X_test, features, params:threshold -> scores), a metrics dataset from
the catalog pattern ``"{namespace}.scores"``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import LINEAGE_SCORES, json_of, metrics_in_process

pytestmark = pytest.mark.e2e

#: Exactly what the run's attribution tags hold.
SOURCE_TAGS = {
    "kedro_metrics.source.candidate.scores": {
        "node": "candidate.evaluate",
        "namespace": "candidate",
        "inputs": ["candidate.X_test", "features"],
    },
    "kedro_metrics.source.champion.scores": {
        "node": "champion.evaluate",
        "namespace": "champion",
        "inputs": ["champion.X_test", "features"],
    },
}
#: Every metric the lineage pipeline's datasets log.
SCORES = LINEAGE_SCORES
NODES = [
    "candidate.evaluate",
    "candidate.split",
    "champion.evaluate",
    "champion.split",
    "make_features",
]
TIMING_KEYS = {f"kedro.node.{node}.seconds" for node in NODES}
RUNNERS = ("SequentialRunner", "ThreadRunner", "ParallelRunner")


@dataclass(frozen=True)
class Runs:
    project: Path
    store: Any
    by_runner: dict[str, Any]
    failed: Any
    resumed: Any


@pytest.fixture(scope="module")
def runs(seeded_project, kedro, store_at) -> Runs:
    project = seeded_project("lineage")
    (project / "conf" / "local" / "metrics.yml").write_text("node_timings: true\n")
    store = store_at(project / "mlflow.db")
    by_runner = {}
    for runner in RUNNERS:
        before = {r.info.run_id for r in store.runs()}
        kedro(project, "run", "--pipelines", "lineage", "--runner", runner).check()
        (new,) = [r for r in store.runs() if r.info.run_id not in before]
        by_runner[runner] = new
    before = {r.info.run_id for r in store.runs()}
    failing = kedro(project, "run", "--pipelines", "failing")
    assert failing.returncode != 0
    (failed,) = [r for r in store.runs() if r.info.run_id not in before]
    # a node-per-container task: a run made elsewhere, resumed through MLFLOW_RUN_ID
    experiment = store.experiments()["e2e_project"]
    resumed_id = store.client.create_run(experiment).info.run_id
    kedro(
        project, "run", "--pipelines", "lineage", "--nodes",
        "make_features,champion.split,champion.evaluate",
        env={"MLFLOW_RUN_ID": resumed_id},
    ).check()  # fmt: skip
    return Runs(project, store, by_runner, store.run(failed.info.run_id), store.run(resumed_id))


def attribution_tags(run: Any) -> dict[str, Any]:
    return {
        name: json.loads(value)
        for name, value in run.data.tags.items()
        if name.startswith(
            ("kedro_metrics.source.", "kedro_metrics.inputs.", "kedro_metrics.keys.")
        )
    }


class TestAttributionTags:
    @pytest.mark.parametrize("runner", RUNNERS)
    def test_each_metrics_dataset_names_its_node_namespace_and_inputs(self, runs, runner):
        """One tag per metrics dataset, inputs in the node's order, parameters left out."""
        assert attribution_tags(runs.by_runner[runner]) == SOURCE_TAGS

    def test_a_resumed_run_gets_the_tags_of_the_nodes_it_ran(self, runs):
        """MLFLOW_RUN_ID (a run started elsewhere): the datasets this kedro run saved."""
        champion = "kedro_metrics.source.champion.scores"
        assert attribution_tags(runs.resumed) == {champion: SOURCE_TAGS[champion]}
        scores = {k: v for k, v in runs.resumed.data.metrics.items() if ".scores." in k}
        assert scores == {k: v for k, v in SCORES.items() if k.startswith("champion.")}


class TestReadingByNode:
    def run_id(self, runs) -> str:
        return runs.by_runner["SequentialRunner"].info.run_id

    def test_show_by_node_names_each_rows_node_and_groups_them(self, runs):
        document = json_of(
            metrics_in_process(
                runs.project, "show", self.run_id(runs), "--by", "node", "--name", "*.scores.*",
                "--format", "json",
            )
        )  # fmt: skip
        assert [(row["name"], row["value"], row["node"]) for row in document] == [
            (key, value, f"{key.split('.')[0]}.evaluate") for key, value in SCORES.items()
        ]

    def test_show_by_namespace_leaves_the_plugins_own_keys_without_one(self, runs):
        document = json_of(
            metrics_in_process(
                runs.project, "show", self.run_id(runs), "--by", "namespace", "--format", "json"
            )
        )
        assert [(row["name"], row["namespace"]) for row in document] == [
            *((key, key.split(".")[0]) for key in SCORES),
            *((key, None) for key in sorted(TIMING_KEYS)),
        ]

    def test_show_by_dataset_in_a_table_puts_a_heading_over_each_group(self, runs):
        result = metrics_in_process(
            runs.project, "show", self.run_id(runs), "--by", "dataset", "--name", "*.accuracy"
        )
        assert result.returncode == 0, result.output
        lines = [line.strip("│ ").split()[0] for line in result.stdout.splitlines() if "│" in line]
        assert lines == [
            "dataset:", "candidate.scores.accuracy", "dataset:", "champion.scores.accuracy",
        ]  # fmt: skip
        assert "dataset: candidate.scores" in result.stdout
        assert "dataset: champion.scores" in result.stdout

    def test_compare_by_namespace_across_runners(self, runs):
        ids = [runs.by_runner[r].info.run_id for r in ("SequentialRunner", "ParallelRunner")]
        rows = json_of(
            metrics_in_process(
                runs.project, "compare", *ids, "--by", "namespace", "--name", "*.accuracy",
                "--format", "json",
            )
        )  # fmt: skip
        assert [(row["name"], row["namespace"], row["change"]) for row in rows] == [
            ("candidate.scores.accuracy", "candidate", 0.0),
            ("champion.scores.accuracy", "champion", 0.0),
        ]

    def test_export_json_gives_each_datasets_group_its_source(self, runs):
        document = json_of(
            metrics_in_process(runs.project, "export", self.run_id(runs), "--format", "json")
        )
        for namespace in ("candidate", "champion"):
            group = document["metrics"][namespace]["scores"]
            assert group["source"] == SOURCE_TAGS[f"kedro_metrics.source.{namespace}.scores"]
            assert set(group) == {"source", "accuracy", "rows"}

    def test_get_metrics_filters_by_node_and_by_namespace(self, runs):
        import kedro_metrics

        run_id = self.run_id(runs)
        by_node = kedro_metrics.get_metrics(
            run=run_id, node="champion.evaluate", project_path=runs.project
        )
        assert {r["name"]: r["value"] for r in by_node} == {
            k: v for k, v in SCORES.items() if k.startswith("champion.")
        }
        by_namespace = kedro_metrics.get_metrics(
            run=run_id, namespace="candidate", project_path=runs.project
        )
        assert sorted(r["name"] for r in by_namespace) == [
            k for k in SCORES if k.startswith("candidate.")
        ]
        assert kedro_metrics.get_metrics(run=run_id, node="split", project_path=runs.project) == []


class TestNodeTimings:
    @pytest.mark.parametrize("runner", RUNNERS)
    def test_every_node_has_its_time_in_one_batch(self, runs, runner):
        run = runs.by_runner[runner]
        timings = {k: v for k, v in run.data.metrics.items() if k.startswith("kedro.node.")}
        assert set(timings) == TIMING_KEYS
        assert all(0 < seconds < 60 for seconds in timings.values())
        points = [runs.store.client.get_metric_history(run.info.run_id, k) for k in TIMING_KEYS]
        assert all(len(history) == 1 and history[0].step == 0 for history in points)
        assert len({history[0].timestamp for history in points}) == 1  # one batch
        assert {k: v for k, v in run.data.metrics.items() if k not in TIMING_KEYS} == SCORES

    def test_a_failed_run_has_the_times_of_its_nodes_the_failing_one_included(self, runs):
        assert runs.failed.info.status == "FAILED"
        timings = {k for k in runs.failed.data.metrics if k.startswith("kedro.node.")}
        assert timings == {"kedro.node.record_progress.seconds", "kedro.node.explode.seconds"}

    def test_the_timings_files_are_gone(self, runs):
        from kedro_metrics.hook.node_timings import timings_file

        sessions = [
            r.data.tags["kedro.session_id"] for r in [*runs.by_runner.values(), runs.failed]
        ]
        assert [timings_file(s) for s in sessions if timings_file(s).exists()] == []
