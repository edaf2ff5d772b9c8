"""hook/evaluation.py on a real sqlite store and a real Kedro catalog: what is
recorded at the run's end, and that nothing there stops the run from ending."""

from __future__ import annotations

import json
import logging

import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.io.core import Version
from mlflow import MlflowClient

from kedro_metrics.delivery import DeliveryPolicy
from kedro_metrics.errors import ConfigError
from kedro_metrics.hook.evaluation import evaluated_names, record_evaluations
from kedro_metrics.hook.tracked_run import TrackedRun
from kedro_metrics.io.data_digest import describe
from kedro_metrics.io.datasets import MlflowMetricsDataSet
from tests.e2e.project_template.src.e2e_project.datasets import TextDataset


@pytest.fixture
def tracked(sqlite_uri):
    client = MlflowClient(sqlite_uri)
    run_id = client.create_run(client.create_experiment("evaluation")).info.run_id
    return TrackedRun(sqlite_uri, owned=True, policy=DeliveryPolicy(run_id=run_id)), client


def test_a_file_its_digest_and_a_dataset_input_with_the_tag(tracked, tmp_path):
    run, client = tracked
    (tmp_path / "ref.txt").write_text("x\n")
    catalog = DataCatalog({"ref": TextDataset(str(tmp_path / "ref.txt"))})
    record_evaluations(run, catalog, {"scores": ("ref",)})
    stored = client.get_run(run.run_id)
    (dataset_input,) = stored.inputs.dataset_inputs
    assert dataset_input.dataset.digest == describe("ref", catalog.get("ref")).digest
    assert json.loads(stored.data.tags["kedro_metrics.evaluated_on.scores"]) == [
        {"name": "ref", "digest": dataset_input.dataset.digest}
    ]


def test_a_versioned_dataset_without_a_version_is_a_warning_not_a_failure(
    tracked, tmp_path, caplog
):
    run, client = tracked
    versioned = TextDataset(str(tmp_path / "never_saved.txt"), version=Version(None, None))
    catalog = DataCatalog({"split": versioned})
    with caplog.at_level(logging.WARNING, logger="kedro_metrics"):
        record_evaluations(run, catalog, {"scores": ("split",)})
    assert "the data run" in caplog.text and "was not recorded" in caplog.text
    assert client.get_run(run.run_id).inputs.dataset_inputs == []


def test_memory_data_has_the_description_alone_and_no_source():
    evaluated = describe("m", MemoryDataset([1, 2]))
    assert evaluated.source is None
    assert evaluated.digest == describe("m", MemoryDataset([3])).digest  # content not read


@pytest.mark.parametrize(
    ("name", "why"), [("params:x", "a parameter"), ("nope", "not in the catalog")]
)
def test_names_are_checked_against_the_catalog(name, why):
    catalog = DataCatalog({"ref": MemoryDataset()})
    metrics = MlflowMetricsDataSet(evaluated_on=["ref", name])
    with pytest.raises(ConfigError, match=f"evaluated_on names '{name}', which is {why}"):
        evaluated_names(catalog, {"scores": metrics})
    assert evaluated_names(catalog, {"scores": MlflowMetricsDataSet(evaluated_on="ref")}) == {
        "scores": ("ref",)
    }


@pytest.mark.parametrize("bad", [5, [1], [""], {"a": 1}])
def test_evaluated_on_must_be_catalog_names(bad):
    from kedro.io import DatasetError

    with pytest.raises(DatasetError, match="evaluated_on must be a catalog name or a list"):
        MlflowMetricsDataSet(evaluated_on=bad)
