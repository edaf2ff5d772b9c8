"""Nested runs read as one pipeline, as Kubeflow's MLflow integration lays them out:
a parent run, one child run per task, each task a real `kedro run --nodes ...` that
resumes its child through MLFLOW_RUN_ID; `runs`, `show`, `compare`, `export` and
``get_metrics`` with and without ``--children``.

The family, oldest first: ``parent``; ``task_a`` (the candidate nodes of the lineage
pipeline) with a grandchild ``retry_a`` (one metric logged by hand); ``task_b`` (the
champion nodes); ``task_c`` (the small pipeline), made without MLflow's parent tag
and given its parent through MLFLOW_PARENT_RUN_ID.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import json_of, metrics_in_process

pytestmark = pytest.mark.e2e

PARENT_TAG = "mlflow.parentRunId"
#: Each run's metrics, by the run's name in the family.
METRICS = {
    "parent": {},
    "task_a": {
        "candidate.scores.accuracy": 0.5,
        "candidate.scores.rows.all": 4.0,
        "candidate.scores.rows.test": 2.0,
    },
    "retry_a": {"retry.loss": 0.25},
    "task_b": {
        "champion.scores.accuracy": 2 / 3,
        "champion.scores.rows.all": 4.0,
        "champion.scores.rows.test": 3.0,
    },
    "task_c": {"small_metrics.answer": 42.0},
}
#: The reading order of the family: each run followed by its children's families.
ORDER = ["parent", "task_a", "retry_a", "task_b", "task_c"]


@dataclass(frozen=True)
class Family:
    project: Path
    store: Any
    ids: dict[str, str]
    bad_parent: Any

    def named(self, run_id: str) -> str:
        return {v: k for k, v in self.ids.items()}[run_id]


@pytest.fixture(scope="module")
def family(seeded_project, kedro, store_at) -> Family:
    project = seeded_project("children")
    store = store_at(project / "mlflow.db")
    client = store.client
    experiment = client.create_experiment("e2e_project")

    def new_run(name: str, parent: str | None = None) -> str:
        time.sleep(0.01)  # distinct start times: siblings read oldest first
        tags = {PARENT_TAG: parent} if parent else {}
        return client.create_run(experiment, run_name=name, tags=tags).info.run_id

    ids = {"parent": new_run("parent")}
    ids["task_a"] = new_run("task_a", ids["parent"])
    ids["retry_a"] = new_run("retry_a", ids["task_a"])
    client.log_metric(ids["retry_a"], "retry.loss", 0.25)
    ids["task_b"] = new_run("task_b", ids["parent"])
    ids["task_c"] = new_run("task_c")  # its parent comes from MLFLOW_PARENT_RUN_ID
    for task, args in (
        ("task_a", ["--pipelines", "lineage", "--nodes", "make_features,candidate.split,candidate.evaluate"]),
        ("task_b", ["--pipelines", "lineage", "--nodes", "make_features,champion.split,champion.evaluate"]),
    ):  # fmt: skip
        kedro(project, "run", *args, env={"MLFLOW_RUN_ID": ids[task]}).check()
    kedro(
        project, "run", "--pipelines", "small",
        env={"MLFLOW_RUN_ID": ids["task_c"], "MLFLOW_PARENT_RUN_ID": ids["parent"]},
    ).check()  # fmt: skip
    orphan = new_run("orphan")
    bad_parent = kedro(
        project, "run", "--pipelines", "small",
        env={"MLFLOW_RUN_ID": orphan, "MLFLOW_PARENT_RUN_ID": "f" * 32},
    )  # fmt: skip
    client.delete_run(orphan)  # out of the family's way
    return Family(project, store, ids, bad_parent)


def cli(family: Family, *args: str) -> Any:
    return json_of(metrics_in_process(family.project, *args, "--format", "json"))


class TestParentTag:
    def test_mlflow_parent_run_id_tags_a_task_made_without_a_parent(self, family):
        run = family.store.run(family.ids["task_c"])
        assert run.data.tags[PARENT_TAG] == family.ids["parent"]

    def test_a_parent_that_does_not_exist_fails_before_the_pipeline_in_one_line(self, family):
        result = family.bad_parent
        assert result.returncode != 0
        assert f"MLFLOW_PARENT_RUN_ID names run '{'f' * 32}', which was not found" in result.stderr
        assert "Traceback" not in result.stderr
        assert "Running node" not in result.stdout + result.stderr


class TestRuns:
    def test_runs_hides_children_and_counts_them(self, family):
        document = cli(family, "runs")
        assert [(row["run_name"], row["children"]) for row in document] == [("parent", 3)]

    def test_runs_children_lists_every_run_with_its_count(self, family):
        document = cli(family, "runs", "--children")
        assert {row["run_name"]: row["children"] for row in document} == {
            "parent": 3, "task_a": 1, "retry_a": 0, "task_b": 0, "task_c": 0,
        }  # fmt: skip

    def test_latest_is_the_newest_top_level_run(self, family):
        import kedro_metrics

        assert cli(family, "show") == []  # the parent logged nothing itself
        records = kedro_metrics.get_metrics(run="latest", project_path=family.project)
        assert records == []


class TestChildren:
    def test_show_children_gives_every_runs_metrics_naming_its_run(self, family):
        rows = cli(family, "show", "--children")
        assert [(family.named(r["run_id"]), r["name"], r["value"]) for r in rows] == [
            (name, key, value) for name in ORDER for key, value in METRICS[name].items()
        ]

    def test_show_children_by_node_groups_inside_each_run(self, family):
        rows = cli(family, "show", family.ids["parent"], "--children", "--by", "node")
        assert [(family.named(r["run_id"]), r["node"]) for r in rows] == [
            *[("task_a", "candidate.evaluate")] * 3,
            ("retry_a", None),
            *[("task_b", "champion.evaluate")] * 3,
            ("task_c", "answer"),
        ]

    def test_compare_children_has_a_column_per_family_run(self, family):
        rows = cli(family, "compare", "--children", "--name", "*.accuracy")
        ids = [family.ids[name] for name in ORDER]
        assert [(r["name"], list(r["values"])) for r in rows] == [
            ("candidate.scores.accuracy", ids),
            ("champion.scores.accuracy", ids),
        ]
        (candidate, champion) = rows
        assert candidate["values"][family.ids["task_a"]] == 0.5
        assert champion["values"][family.ids["task_b"]] == 2 / 3
        assert [v for v in candidate["values"].values() if v is not None] == [0.5]

    def test_export_children_is_a_list_of_exports_in_family_order(self, family):
        documents = cli(family, "export", "--children")
        assert [family.named(d["run_id"]) for d in documents] == ORDER
        assert documents[2]["metrics"] == {
            "retry": {"loss": {"value": 0.25, "step": 0, "history": [
                {"value": 0.25, "step": 0, "timestamp": documents[2]["metrics"]["retry"]["loss"]["history"][0]["timestamp"]}
            ]}}
        }  # fmt: skip

    def test_export_children_as_kubeflow_is_refused_in_one_line(self, family):
        result = metrics_in_process(family.project, "export", "--children", "--format", "kubeflow")
        assert result.returncode == 1
        assert "--children exports JSON or CSV" in result.stderr

    def test_get_metrics_children(self, family):
        import kedro_metrics

        records = kedro_metrics.get_metrics(
            run="latest", children=True, project_path=family.project
        )
        assert sorted((family.named(r["run_id"]), r["name"]) for r in records) == sorted(
            (name, key) for name in ORDER for key in METRICS[name]
        )
        everything = kedro_metrics.get_metrics(children=True, project_path=family.project)
        assert len(everything) == sum(len(m) for m in METRICS.values())
