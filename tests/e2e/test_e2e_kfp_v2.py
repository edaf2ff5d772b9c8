"""Kubeflow Pipelines v2: a `kedro run` inside a KFP v2 task (KFP_EXECUTOR_INPUT)
and `kedro metrics export --format kfp-v2` write the task's executor output, which
the kfp package reads back to the exact metrics of the run."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from kfp import dsl
from kfp.dsl import executor
from kfp.pipeline_spec import pipeline_spec_pb2

from tests.e2e.conftest import LINEAGE_SCORES, metrics_in_process

pytestmark = pytest.mark.e2e

#: Every metric the lineage pipeline's datasets log.
SCORES = LINEAGE_SCORES
URI = "minio://mlpipeline/v2/artifacts/pipeline/run/evaluate/scores"


def executor_input(output_file: Path, name: str = "metrics") -> dict[str, Any]:
    """What KFP v2 passes a task with one Output[Metrics] named ``name``."""
    artifact = {"name": name, "uri": URI, "metadata": {},
                "type": {"schemaTitle": "system.Metrics", "schemaVersion": "0.0.1"}}  # fmt: skip
    return {
        "inputs": {"parameterValues": {"threshold": 0.8}},
        "outputs": {"artifacts": {name: {"artifacts": [artifact]}}, "outputFile": str(output_file)},
    }


def read_back(path: Path, name: str = "metrics") -> dsl.Metrics:
    """The executor output as KFP reads it: its proto, then kfp's artifact class."""
    proto = json_format.Parse(path.read_text(), pipeline_spec_pb2.ExecutorOutput())
    runtime = json_format.MessageToDict(proto.artifacts[name].artifacts[0])
    runtime["type"] = {"schemaTitle": "system.Metrics"}
    return executor.create_artifact_instance(runtime)


@dataclass(frozen=True)
class Task:
    project: Path
    output_file: Path
    failing_output: Path
    bad_input: Any
    lineage_run: str


@pytest.fixture(scope="module")
def task(tmp_path_factory, seeded_project, kedro, store_at) -> Task:
    project = seeded_project("kfp-v2")
    outputs = tmp_path_factory.mktemp("kfp-outputs")
    output_file = outputs / "task" / "executor_output.json"  # its folder does not exist
    spec = outputs / "executor_input.json"
    spec.write_text(json.dumps(executor_input(output_file)))
    kedro(project, "run", "--pipelines", "lineage", env={"KFP_EXECUTOR_INPUT": f"@{spec}"}).check()
    # a failing task, its executor output holding a parameter already: merged
    failing_output = outputs / "failing" / "executor_output.json"
    failing_output.parent.mkdir()
    failing_output.write_text(json.dumps({"parameterValues": {"rows": 10}}))
    failing = kedro(
        project, "run", "--pipelines", "failing",
        env={"KFP_EXECUTOR_INPUT": json.dumps(executor_input(failing_output))},
    )  # fmt: skip
    assert failing.returncode != 0
    store = store_at(project / "mlflow.db")
    before = len(store.runs())
    bad_input = kedro(project, "run", "--pipelines", "small", env={"KFP_EXECUTOR_INPUT": "{"})
    assert len(store.runs()) == before  # no run was created
    (lineage,) = [r for r in store.runs() if r.data.tags["kedro.pipeline"] == "lineage"]
    return Task(project, output_file, failing_output, bad_input, lineage.info.run_id)


class TestInsideAKfpTask:
    def test_the_executor_output_reads_back_to_the_runs_metrics(self, task):
        metrics = read_back(task.output_file)
        assert isinstance(metrics, dsl.Metrics)
        assert metrics.metadata == SCORES
        assert metrics.uri == URI

    def test_a_failed_run_writes_what_it_logged_merged_with_the_file(self, task):
        document = json.loads(task.failing_output.read_text())
        assert document["parameterValues"] == {"rows": 10}
        assert read_back(task.failing_output).metadata == {
            "partial_metrics.loss": 0.25,
            "partial_metrics.rows_seen": 10.0,
        }

    def test_a_bad_executor_input_stops_the_run_in_one_line(self, task):
        result = task.bad_input
        assert result.returncode == 1
        assert "Error: KFP_EXECUTOR_INPUT: the executor input is not JSON" in result.stderr
        assert "Traceback" not in result.stderr


class TestExportKfpV2:
    def test_export_writes_the_named_output_into_the_given_file(self, task, tmp_path):
        target = tmp_path / "out" / "executor_output.json"
        spec = json.dumps(executor_input(tmp_path / "unused.json", name="scores"))
        result = metrics_in_process(
            task.project, "export", task.lineage_run, "--format", "kfp-v2", "--executor-input", spec,
            "--executor-output", str(target), "--output-name", "scores",
        )  # fmt: skip
        assert result.returncode == 0, result.output
        assert result.stdout == ""
        assert f"Wrote 6 metric(s) to {target}" in result.stderr
        assert read_back(target, "scores").metadata == SCORES
        assert not (tmp_path / "unused.json").exists()

    def test_export_without_an_executor_input_or_output_is_refused(self, task):
        result = metrics_in_process(task.project, "export", "--format", "kfp-v2")
        assert result.returncode == 1
        assert "--format kfp-v2 needs --executor-input" in result.stderr

    def test_an_executor_input_without_the_output_is_refused(self, task, tmp_path):
        spec = tmp_path / "input.json"
        spec.write_text(json.dumps(executor_input(tmp_path / "o.json", name="model")))
        result = metrics_in_process(
            task.project, "export", "--format", "kfp-v2", "--executor-input", f"@{spec}"
        )
        assert result.returncode == 1
        assert "no output artifact 'metrics' (it has: model)" in result.stderr
        assert not (tmp_path / "o.json").exists()
