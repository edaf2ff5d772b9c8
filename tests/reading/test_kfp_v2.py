"""reading/kfp_v2.py: the executor output KFP v2's launcher reads, checked with the
kfp package itself: the file parses as KFP's ExecutorOutput proto, its artifact reads
back through kfp's own executor as a Metrics artifact with exactly the metrics, and
it equals what a KFP component logging the same metrics writes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from google.protobuf import json_format
from kfp import dsl
from kfp.dsl import executor
from kfp.pipeline_spec import pipeline_spec_pb2

from kedro_metrics.errors import ExportError
from kedro_metrics.reading.kfp_v2 import ExecutorTarget, executor_output, parse_executor_input

VALUES = {"model_metrics.accuracy": 0.875, "eval/f1 score": 0.5, "loss": 2.0}


def executor_input(output_file: Path, name: str = "metrics") -> dict:
    """What KFP v2 passes a task with one ``Output[Metrics]`` named ``name``."""
    return {
        "inputs": {},
        "outputs": {
            "artifacts": {
                name: {
                    "artifacts": [{
                        "name": name,
                        "type": {"schemaTitle": "system.Metrics", "schemaVersion": "0.0.1"},
                        "uri": f"minio://mlpipeline/v2/artifacts/run/task/{name}",
                        "metadata": {},
                    }]
                }
            },
            "outputFile": str(output_file),
        },
    }  # fmt: skip


def read_back(document: dict, name: str = "metrics") -> dsl.Metrics:
    """Our document as KFP reads it: the ExecutorOutput proto, then kfp's executor
    makes the output artifact of its runtime form."""
    proto = json_format.ParseDict(document, pipeline_spec_pb2.ExecutorOutput())
    runtime = json_format.MessageToDict(proto.artifacts[name].artifacts[0])
    runtime["type"] = {"schemaTitle": "system.Metrics"}
    return executor.create_artifact_instance(runtime)


def test_the_metrics_read_back_through_kfp_exactly(tmp_path):
    target = parse_executor_input(json.dumps(executor_input(tmp_path / "out.json")))
    document, skipped = executor_output(target, VALUES)
    artifact = read_back(document)
    assert isinstance(artifact, dsl.Metrics)
    assert artifact.metadata == VALUES
    assert artifact.uri == "minio://mlpipeline/v2/artifacts/run/task/metrics"
    assert skipped == []


def test_the_file_is_what_a_kfp_component_logging_them_writes(tmp_path):
    """kfp's own Executor runs a component that logs the same metrics."""

    def component(metrics):
        for key, value in VALUES.items():
            metrics.log_metric(key, value)

    # real annotations (this module's are strings) for kfp's executor to read
    component.__annotations__ = {"metrics": dsl.Output[dsl.Metrics], "return": None}

    their_file = tmp_path / "theirs" / "executor_output.json"
    executor.Executor(executor_input(their_file), component).execute()
    theirs = json.loads(their_file.read_text())
    target = parse_executor_input(json.dumps(executor_input(tmp_path / "ours.json")))
    ours, _ = executor_output(target, VALUES)
    assert ours == theirs


def test_nan_is_left_out_and_said(tmp_path):
    target = parse_executor_input(json.dumps(executor_input(tmp_path / "o.json")))
    document, skipped = executor_output(target, {**VALUES, "bad": math.nan, "worse": math.inf})
    assert skipped == ["bad", "worse"]
    assert read_back(document).metadata == VALUES


def test_an_existing_executor_output_is_merged_not_overwritten(tmp_path):
    target = parse_executor_input(json.dumps(executor_input(tmp_path / "o.json")))
    existing = {
        "parameterValues": {"threshold": 0.5},
        "artifacts": {
            "model": {"artifacts": [{"name": "model", "uri": "s3://m", "metadata": {"k": 1}}]},
            "metrics": {"artifacts": [{"name": "metrics", "uri": "x", "metadata": {"earlier": 1.0, "loss": 9.0}}]},
        },
    }  # fmt: skip
    document, _ = executor_output(target, VALUES, existing)
    assert document["parameterValues"] == {"threshold": 0.5}
    assert document["artifacts"]["model"] == existing["artifacts"]["model"]
    assert read_back(document).metadata == {"earlier": 1.0, **VALUES}
    assert existing["artifacts"]["metrics"]["artifacts"][0]["metadata"]["loss"] == 9.0  # untouched


def test_another_output_name(tmp_path):
    text = json.dumps(executor_input(tmp_path / "o.json", name="eval_metrics"))
    target = parse_executor_input(text, "eval_metrics")
    document, _ = executor_output(target, VALUES)
    assert read_back(document, "eval_metrics").metadata == VALUES


def test_without_an_executor_input_the_artifact_is_named_after_its_output():
    document, _ = executor_output(ExecutorTarget("/tmp/o.json"), VALUES)
    assert document == {
        "artifacts": {
            "metrics": {"artifacts": [{"name": "metrics", "uri": "", "metadata": VALUES}]}
        }
    }
    assert read_back(document).metadata == VALUES


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "is not JSON"),
        ("[]", "no outputs.outputFile"),
        ('{"outputs": {}}', "no outputs.outputFile"),
        ('{"outputs": {"outputFile": "/o.json"}}', "no output artifact 'metrics' (it has: none)"),
        ('{"outputs": {"outputFile": "/o.json", "artifacts": {"model": {"artifacts": [{}]}}}}',
         "no output artifact 'metrics' (it has: model)"),
    ],
)  # fmt: skip
def test_a_bad_executor_input_is_refused_naming_what_is_missing(text, message):
    with pytest.raises(ExportError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_executor_input(text)


class TestOnDisk:
    """reading/kfp_file.py: the executor input from @FILE, the output merged on disk."""

    def test_an_at_file_executor_input_and_a_merged_file(self, tmp_path):
        from kedro_metrics.reading import kfp_file

        out = tmp_path / "deep" / "executor_output.json"
        spec = tmp_path / "input.json"
        spec.write_text(json.dumps(executor_input(out)))
        target = kfp_file.target_from(f"@{spec}", "metrics")
        assert kfp_file.write_metrics(target, {"a": 1.0}) == (out, [])
        written, skipped = kfp_file.write_metrics(target, {"b": math.nan, "c": 3.0})
        assert (written, skipped) == (out, ["b"])
        assert read_back(json.loads(out.read_text())).metadata == {"a": 1.0, "c": 3.0}
        assert [p.name for p in out.parent.iterdir()] == ["executor_output.json"]

    def test_a_file_that_is_not_an_executor_output_is_left_alone(self, tmp_path):
        from kedro_metrics.reading import kfp_file

        out = tmp_path / "executor_output.json"
        out.write_text("[1, 2]")
        with pytest.raises(ExportError, match="is not a KFP executor output"):
            kfp_file.write_metrics(ExecutorTarget(str(out)), {"a": 1.0})
        assert out.read_text() == "[1, 2]"

    def test_a_missing_executor_input_file_is_said(self, tmp_path):
        from kedro_metrics.reading import kfp_file

        with pytest.raises(ExportError, match="cannot read the executor input"):
            kfp_file.target_from(f"@{tmp_path / 'nope.json'}", "metrics")
