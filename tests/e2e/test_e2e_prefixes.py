"""`kedro run` with nothing configured: catalog names become prefixes, one run per
kedro run, in the embedded sqlite store of the project.

One ``kedro run`` of the default pipeline (see project_template) is shared by the
tests of this module; each asserts one behaviour on it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

#: Everything the default pipeline logs, exactly: {key: [(step, value), ...]}.
EXPECTED = {
    # model_metrics: default prefix = catalog name
    "model_metrics.accuracy": [(1, 0.875)],
    "model_metrics.loss": [(0, 0.5), (1, 0.25)],
    "model_metrics.confusion.tp": [(0, 40.0)],
    "model_metrics.confusion.fp": [(0, 3.0)],
    # eval_metrics: prefix: eval
    "eval.f1": [(0, 0.625)],
    # flat_metrics: prefix: ""
    "top_level": [(0, 7.0)],
    "group.inner": [(0, 1.5)],
    # "{name}_metrics" factory: a_metrics .. d_metrics
    **{f"{letter}_metrics.score": [(0, float(i))] for i, letter in enumerate("abcd")},
    **{f"{letter}_metrics.curve": [(0, float(i)), (1, i + 0.5)] for i, letter in enumerate("abcd")},
    # MlflowMetricDataSet without key: the catalog name is the key
    "holdout_accuracy": [(0, 0.5), (1, 0.625), (2, 0.75)],
}


def _made_by(node: str) -> str:
    return json.dumps({"node": node, "namespace": None, "inputs": []}, separators=(",", ":"))


#: Where each metrics dataset of the default pipeline comes from (no node has inputs
#: other than parameters), and the prefixes that are not the catalog name.
SOURCE_TAGS = {
    "kedro_metrics.source.model_metrics": _made_by("model_scores"),
    "kedro_metrics.source.eval_metrics": _made_by("eval_scores"),
    "kedro_metrics.keys.eval_metrics": "eval",
    "kedro_metrics.source.flat_metrics": _made_by("flat_scores"),
    "kedro_metrics.keys.flat_metrics": "",
    **{f"kedro_metrics.source.{x}_metrics": _made_by(f"{x}_scores") for x in "abcd"},
    "kedro_metrics.source.holdout_accuracy": _made_by("holdout_accuracy"),
}


@dataclass(frozen=True)
class DefaultRun:
    project: Path
    store: Any
    run: Any
    metrics: dict[str, list[tuple[int, float]]]

    def under(self, prefix: str) -> dict[str, list[tuple[int, float]]]:
        return {k: v for k, v in self.metrics.items() if k.startswith(prefix)}


@pytest.fixture(scope="module")
def default_run(tmp_path_factory, new_project, kedro, store_at) -> DefaultRun:
    project = new_project(tmp_path_factory.mktemp("prefixes"))
    kedro(project, "run").check()
    store = store_at(project / "mlflow.db")
    run = store.only_run()
    return DefaultRun(project, store, run, store.metrics(run.info.run_id))


class TestPrefixes:
    def test_default_prefix_is_the_catalog_name(self, default_run):
        """A dataset without prefix logs under its catalog name."""
        assert default_run.under("model_metrics.") == {
            "model_metrics.accuracy": [(1, 0.875)],
            "model_metrics.loss": [(0, 0.5), (1, 0.25)],
            "model_metrics.confusion.tp": [(0, 40.0)],
            "model_metrics.confusion.fp": [(0, 3.0)],
        }

    def test_explicit_prefix_wins_over_the_catalog_name(self, default_run):
        """`prefix: eval` logs under eval, not under the catalog name eval_metrics."""
        assert default_run.under("eval") == {"eval.f1": [(0, 0.625)]}

    def test_empty_prefix_means_no_prefix(self, default_run):
        """`prefix: ""` logs the metric names themselves as keys."""
        assert default_run.metrics["top_level"] == [(0, 7.0)]
        assert default_run.metrics["group.inner"] == [(0, 1.5)]
        assert default_run.under("flat_metrics") == {}

    def test_factory_datasets_get_their_resolved_names(self, default_run):
        """Four outputs of one "{name}_metrics" pattern get four distinct prefixes."""
        factory = {
            k: v
            for k, v in default_run.metrics.items()
            if k[0] in "abcd" and k[1:].startswith("_metrics.")
        }
        assert factory == {
            "a_metrics.score": [(0, 0.0)],
            "a_metrics.curve": [(0, 0.0), (1, 0.5)],
            "b_metrics.score": [(0, 1.0)],
            "b_metrics.curve": [(0, 1.0), (1, 1.5)],
            "c_metrics.score": [(0, 2.0)],
            "c_metrics.curve": [(0, 2.0), (1, 2.5)],
            "d_metrics.score": [(0, 3.0)],
            "d_metrics.curve": [(0, 3.0), (1, 3.5)],
        }

    def test_single_metric_dataset_key_defaults_to_the_catalog_name(self, default_run):
        """MlflowMetricDataSet without `key` logs under its catalog name."""
        assert default_run.metrics["holdout_accuracy"] == [(0, 0.5), (1, 0.625), (2, 0.75)]

    def test_exactly_the_saved_metrics_are_logged(self, default_run):
        """The run holds the saved metrics and nothing else (no metrics of the plugin's own)."""
        assert default_run.metrics == EXPECTED


class TestDefaultRun:
    def test_one_finished_run_in_the_package_named_experiment(self, default_run):
        """One FINISHED run, in the experiment named after the package, named after the pipeline."""
        experiments = default_run.store.experiments()
        run = default_run.run
        assert run.info.status == "FINISHED"
        assert run.info.experiment_id == experiments["e2e_project"]
        assert run.info.run_name.startswith("__default__ ")  # then the start time

    def test_run_records_where_each_metrics_dataset_comes_from(self, default_run):
        """One source tag per dataset; a keys tag where the prefix is not its name."""
        tags = default_run.store.user_tags(default_run.run)
        lineage = {
            k: v
            for k, v in tags.items()
            if k.startswith(("kedro_metrics.source.", "kedro_metrics.keys."))
        }
        assert lineage == SOURCE_TAGS

    def test_run_is_tagged_with_the_kedro_session(self, default_run):
        """The run carries the session id, pipeline, env and runner as tags."""
        tags = default_run.store.user_tags(default_run.run)
        assert set(tags) - {"kedro_metrics.git_dirty"} - set(SOURCE_TAGS) == {
            "kedro.session_id",
            "kedro.pipeline",
            "kedro.env",
            "kedro.runner",
            "kedro.version",
            "kedro_metrics.version",
        }
        assert tags["kedro.pipeline"] == "__default__"
        assert tags["kedro.env"] == "local"
        assert tags["kedro.runner"] == "SequentialRunner"
        assert tags["kedro.session_id"]


class TestDefaultStore:
    def test_default_store_is_sqlite_in_the_project_root(self, project, kedro, store_at):
        """With nothing configured the store is sqlite:///<project>/mlflow.db, created on
        first use, whatever the cwd."""
        # Run from a subdirectory: MLflow's own default would follow the cwd.
        subdir = project / "src"
        kedro(project, "run", "--pipelines", "small", cwd=subdir).check()

        store = store_at(project / "mlflow.db")
        run = store.only_run()
        assert store.metrics(run.info.run_id) == {"small_metrics.answer": [(0, 42.0)]}
        assert run.info.experiment_id == store.experiments()["e2e_project"]
        created = sorted(
            str(p.relative_to(project))
            for p in project.rglob("*")
            if p.name in ("mlflow.db", "mlruns", "mlartifacts")
        )
        assert created == ["mlflow.db"]
