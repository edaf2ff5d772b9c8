"""A metrics dataset's ``evaluated_on``, after real `kedro run`s of the ``evaluated``
pipeline: ``evaluated_metrics`` (lines of ``test_split``, a versioned file, and of
``reference_table``, an unversioned one) logs MLflow dataset inputs with stable
digests, and `compare` says when two runs were not evaluated on the same data.

Three runs: the first two on the same files, the third after ``reference.txt``
changed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import json_of, metrics_in_process

pytestmark = pytest.mark.e2e

VERSION = "2026-01-02T03.04.05.678Z"
TYPE = "e2e_project.datasets.TextDataset"


def digest(description: dict, tail: bytes) -> str:
    """The pinned digest, computed here by hand: sha256 of the compact JSON of the
    description (keys sorted), then the version marker or the file's bytes."""
    text = json.dumps(description, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode() + tail).hexdigest()[:16]


@dataclass(frozen=True)
class Runs:
    project: Path
    store: Any
    ids: list[str]
    refused: Any


@pytest.fixture(scope="module")
def runs(seeded_project, kedro, store_at) -> Runs:
    project = seeded_project("evaluated")
    split = project / "data" / "test_split.txt" / VERSION / "test_split.txt"
    split.parent.mkdir(parents=True)
    split.write_text("a\nb\nc\n")
    (project / "data" / "reference.txt").write_text("x\ny\n")
    store = store_at(project / "mlflow.db")
    ids = []
    for change in (None, None, "x\ny\nz\nw\n"):
        if change:
            (project / "data" / "reference.txt").write_text(change)
        before = {r.info.run_id for r in store.runs()}
        kedro(project, "run", "--pipelines", "evaluated").check()
        (new,) = [r.info.run_id for r in store.runs() if r.info.run_id not in before]
        ids.append(new)
    bad = project / "conf" / "bad"
    bad.mkdir()
    (bad / "catalog.yml").write_text(
        "evaluated_metrics:\n  type: kedro_metrics.MlflowMetricsDataSet\n"
        "  evaluated_on: [test_split, no_such_data]\n"
    )
    before = len(store.runs())
    refused = kedro(project, "run", "--pipelines", "evaluated", "--env", "bad")
    assert len(store.runs()) == before  # refused before any run was created
    return Runs(project, store, ids, refused)


def expected_digests(project: Path, reference: bytes) -> dict[str, str]:
    return {
        "test_split": digest(
            {"type": TYPE, "filepath": str(project / "data" / "test_split.txt"), "load_args": {}},
            f"\0version:{VERSION}".encode(),
        ),
        "reference_table": digest(
            {"type": TYPE, "filepath": str(project / "data" / "reference.txt"),
             "load_args": {"encoding": "utf-8"}},
            reference,
        ),
    }  # fmt: skip


class TestDatasetInputs:
    def test_each_run_logs_the_data_as_mlflow_dataset_inputs(self, runs):
        run = runs.store.run(runs.ids[0])
        inputs = {i.dataset.name: i for i in run.inputs.dataset_inputs}
        assert {name: i.dataset.digest for name, i in inputs.items()} == expected_digests(
            runs.project, b"x\ny\n"
        )
        for name, file in (("test_split", "test_split.txt"), ("reference_table", "reference.txt")):
            dataset_input = inputs[name]
            assert dataset_input.dataset.source_type == "local"
            assert json.loads(dataset_input.dataset.source) == {
                "uri": str(runs.project / "data" / file)
            }
            assert [(t.key, t.value) for t in dataset_input.tags] == [
                ("mlflow.data.context", "evaluation")
            ]

    def test_the_run_keeps_the_link_in_a_tag_per_metrics_dataset(self, runs):
        tags = runs.store.run(runs.ids[2]).data.tags
        digests = expected_digests(runs.project, b"x\ny\nz\nw\n")
        assert json.loads(tags["kedro_metrics.evaluated_on.evaluated_metrics"]) == [
            {"name": "test_split", "digest": digests["test_split"]},
            {"name": "reference_table", "digest": digests["reference_table"]},
        ]

    def test_a_name_not_in_the_catalog_stops_the_run_in_one_line(self, runs):
        result = runs.refused
        assert result.returncode == 1
        assert (
            "Error: 'evaluated_metrics': evaluated_on names 'no_such_data', which is not in "
            "the catalog" in result.stderr
        )
        assert "Traceback" not in result.stderr


class TestSameData:
    def test_runs_on_the_same_files_are_on_the_same_data(self, runs):
        first, second, _ = runs.ids
        result = metrics_in_process(runs.project, "compare", first, second, "--format", "json")
        rows = json_of(result)
        assert [(r["name"], r["same_data"]) for r in rows] == [
            ("evaluated_metrics.reference_lines", True),
            ("evaluated_metrics.test_lines", True),
        ]
        assert "not evaluated on the same data" not in result.stderr

    def test_a_changed_file_changes_the_digest_and_compare_says_so(self, runs):
        _, second, third = runs.ids
        result = metrics_in_process(runs.project, "compare", second, third, "--format", "json")
        assert [(r["name"], r["same_data"]) for r in json_of(result)] == [
            ("evaluated_metrics.reference_lines", False),
            ("evaluated_metrics.test_lines", False),
        ]
        before = expected_digests(runs.project, b"x\ny\n")["reference_table"]
        after = expected_digests(runs.project, b"x\ny\nz\nw\n")["reference_table"]
        assert [line for line in result.stderr.splitlines() if "not evaluated" in line] == [
            f"{key}: not evaluated on the same data (reference_table: {before} vs {after})"
            for key in ("evaluated_metrics.reference_lines", "evaluated_metrics.test_lines")
        ]
