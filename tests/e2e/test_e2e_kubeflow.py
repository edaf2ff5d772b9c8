"""metrics.yml `kubeflow.metrics_file`: every `kedro run` writes the Kubeflow Pipelines
v1 metrics file, also when a node fails (with what was logged before)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from kedro_metrics.reading.formats import KFP_NAME

pytestmark = pytest.mark.e2e

METRICS_YML = """\
kubeflow:
  percentage: ["*accuracy*"]
  metrics_file: kfp/mlpipeline-metrics.json
"""


@dataclass(frozen=True)
class KubeflowRuns:
    after_success: Any
    after_failure: Any
    failure: Any


@pytest.fixture(scope="module")
def kubeflow_runs(tmp_path_factory, new_project, kedro) -> KubeflowRuns:
    project = new_project(tmp_path_factory.mktemp("kubeflow"))
    (project / "conf" / "base" / "metrics.yml").write_text(METRICS_YML)
    target = project / "kfp" / "mlpipeline-metrics.json"
    kedro(project, "run", "--pipelines", "small").check()
    after_success = json.loads(target.read_text())
    failure = kedro(project, "run", "--pipelines", "failing")
    return KubeflowRuns(after_success, json.loads(target.read_text()), failure)


class TestKubeflowMetricsFile:
    """The hook writes {"metrics": [{name, numberValue, format}]} after every run."""

    def test_written_after_a_run(self, kubeflow_runs):
        """After `kedro run`: the run's metrics under the datasets' prefixes, KFP names."""
        assert kubeflow_runs.after_success == {
            "metrics": [{"name": "small_metrics-answer", "numberValue": 42.0, "format": "RAW"}]
        }

    def test_written_when_a_later_node_fails(self, kubeflow_runs):
        """A failing node: the run fails, and the file holds what was logged before."""
        assert kubeflow_runs.failure.returncode != 0
        assert kubeflow_runs.after_failure == {
            "metrics": [
                {"name": "partial_metrics-loss", "numberValue": 0.25, "format": "RAW"},
                {"name": "partial_metrics-rows_seen", "numberValue": 10.0, "format": "RAW"},
            ]
        }

    def test_schema_and_names(self, kubeflow_runs):
        """Exactly the three fields per entry; names match KFP's rule; format RAW|PERCENTAGE."""
        for document in (kubeflow_runs.after_success, kubeflow_runs.after_failure):
            assert set(document) == {"metrics"}
            for entry in document["metrics"]:
                assert set(entry) == {"name", "numberValue", "format"}
                assert KFP_NAME.fullmatch(entry["name"])
                assert isinstance(entry["numberValue"], float)
                assert entry["format"] in ("RAW", "PERCENTAGE")
