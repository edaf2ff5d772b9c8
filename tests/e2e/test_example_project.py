"""docs/example runs as its README says and logs the metrics it promises.

The example is copied to a temporary directory and run with ``python -m kedro run``
on the embedded sqlite default (no seeded store: this is a new user's first run).
The scores are checked against a recomputation with the example's own node
functions and parameters.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest
import yaml

pytestmark = pytest.mark.e2e

EXAMPLE = Path(__file__).parents[2] / "docs" / "example"


def load_nodes(project: Path) -> ModuleType:
    """The example's nodes module, loaded from its file (numpy is its only import)."""
    path = project / "src" / "metrics_example" / "nodes.py"
    spec = importlib.util.spec_from_file_location("metrics_example_nodes_under_test", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


LOSSES = ("model_metrics.loss", "train_scores.log_loss", "test_scores.log_loss")


def recompute(project: Path) -> dict[str, list[tuple[int, float]]]:
    """What the pipeline should log, computed in-process from the same nodes and params."""
    nodes = load_nodes(project)
    params = yaml.safe_load((project / "conf" / "base" / "parameters.yml").read_text())
    features, labels = nodes.make_data(params["data"])
    x_train, x_test, y_train, y_test = nodes.split_data(features, labels, params["split"])
    model, loss_curve = nodes.train_model(x_train, y_train, params["model"])
    expected = {}
    for prefix, metrics in [
        ("model_metrics", nodes.evaluate_model(model, x_test, y_test, loss_curve)),
        ("train_scores", nodes.score_split(model, x_train, y_train)),
        ("test_scores", nodes.score_split(model, x_test, y_test)),
    ]:
        for name, value in metrics.items():
            values = value if isinstance(value, list) else [value]
            expected[f"{prefix}.{name}"] = [(step, float(v)) for step, v in enumerate(values)]
    # conf/base/metrics.yml: "*loss*" summaries min and last, at their source steps
    for key in [key for key in expected if "loss" in key]:
        points = expected[key]
        expected[f"{key}.min"] = [min(points, key=lambda p: (p[1], p[0]))]
        expected[f"{key}.last"] = [points[-1]]
    return expected


@pytest.fixture(scope="module")
def example_run(tmp_path_factory, new_project, kedro, store_at):
    project = new_project(tmp_path_factory.mktemp("example"), EXAMPLE, store=False)
    assert not (project / "mlflow.db").exists()
    kedro(project, "run", exec_=True).check()  # the README's command, as typed
    store = store_at(project / "mlflow.db")
    run = store.only_run()
    return project, store, run, store.metrics(run.info.run_id)


class TestExampleProject:
    def test_one_finished_run_in_the_package_experiment(self, example_run):
        """`kedro run` makes one FINISHED run in the experiment metrics_example."""
        _, store, run, _ = example_run
        assert run.info.status == "FINISHED"
        assert run.info.experiment_id == store.experiments()["metrics_example"]

    def test_logs_exactly_the_documented_keys(self, example_run):
        """Loss curve, final scores, one prefix per split from the "{split}_scores" factory,
        and the summaries metrics.yml declares for the losses."""
        *_, metrics = example_run
        assert set(metrics) == {
            *(f"{key}.{name}" for key in LOSSES for name in ("min", "last")),
            "model_metrics.loss",
            "model_metrics.accuracy",
            "model_metrics.precision",
            "model_metrics.recall",
            "train_scores.accuracy",
            "train_scores.log_loss",
            "test_scores.accuracy",
            "test_scores.log_loss",
        }

    def test_loss_curve_has_one_point_per_epoch_and_decreases(self, example_run):
        """model_metrics.loss has steps 0..epochs-1 and ends well below where it starts."""
        project, _, _, metrics = example_run
        params = yaml.safe_load((project / "conf" / "base" / "parameters.yml").read_text())
        epochs = params["model"]["epochs"]
        curve = metrics["model_metrics.loss"]
        assert [step for step, _ in curve] == list(range(epochs))
        values = [value for _, value in curve]
        assert values[-1] < 0.5 * values[0]
        assert values == sorted(values, reverse=True)  # gradient descent on a convex loss

    def test_scores_are_what_the_model_gives(self, example_run):
        """Every logged value equals a recomputation with the example's own nodes."""
        project, _, _, metrics = example_run
        assert metrics == recompute(project)

    def test_model_is_good_on_separable_data(self, example_run):
        """The scores are probabilities, and the model beats 80% accuracy on both splits."""
        *_, metrics = example_run
        for key in ("accuracy", "precision", "recall"):
            [(step, value)] = metrics[f"model_metrics.{key}"]
            assert step == 0
            assert 0.8 < value <= 1.0, (key, value)
        assert metrics["test_scores.accuracy"] == metrics["model_metrics.accuracy"]
        assert metrics["train_scores.accuracy"][0][1] > 0.8

    def test_readme_gives_the_commands_that_were_run(self):
        """The README says `kedro run` in docs/example, and how to read the results back
        and open the project's store in the MLflow UI with the plugin's commands."""
        readme = (EXAMPLE / "README.md").read_text()
        assert re.search(r"^cd docs/example$", readme, re.MULTILINE)
        assert re.search(r"^kedro run$", readme, re.MULTILINE)
        for command in ("runs", "show", "compare", "ui"):
            assert re.search(rf"^kedro metrics {command}\b", readme, re.MULTILINE), command


class TestExampleLeavesTrackedFilesAlone:
    """Running the example (README's first command) changes no tracked file."""

    def test_git_status_is_clean_after_kedro_run_with_telemetry_installed(
        self, tmp_path_factory, new_project, kedro
    ):
        """With kedro-telemetry active (no opt-out variables), the shipped .telemetry
        keeps pyproject.toml as committed; the store and .viz/ are ignored."""
        import subprocess

        project = new_project(tmp_path_factory.mktemp("example-git"), EXAMPLE, store=False)

        def git(*args: str) -> str:
            return subprocess.run(
                ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                cwd=project,
                check=True,
                capture_output=True,
                text=True,
            ).stdout

        git("init", "-q")
        git("add", ".")
        git("commit", "-q", "-m", "example as shipped")
        telemetry_on = {"KEDRO_DISABLE_TELEMETRY": None, "DO_NOT_TRACK": None}
        kedro(project, "run", env=telemetry_on, exec_=True).check()
        assert (project / "mlflow.db").is_file()
        assert git("status", "--porcelain", "--untracked-files=all") == ""


class TestExampleLineageEnvironment:
    """`kedro run --env lineage` (docs/lineage.md): the model is logged to the run and
    the scores are linked to it and to their split, as MLflow's model page shows."""

    def test_the_model_holds_the_scores_per_dataset(self, tmp_path_factory, new_project, kedro):
        import hashlib
        import json

        from mlflow import MlflowClient

        project = new_project(tmp_path_factory.mktemp("example-lineage"), EXAMPLE, store=False)
        kedro(project, "run", "--env", "lineage").check()
        client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
        experiment = client.get_experiment_by_name("metrics_example").experiment_id
        (run,) = client.search_runs([experiment])
        (model,) = client.search_logged_models([experiment])
        assert (model.name, model.source_run_id, model.tags["kedro_metrics.dataset"]) == (
            "model",
            run.info.run_id,
            "model",
        )
        described = json.dumps(
            {"type": "kedro.io.memory_dataset.MemoryDataset"}, sort_keys=True, separators=(",", ":")
        )
        memory_digest = hashlib.sha256(described.encode()).hexdigest()[:16]
        linked = sorted(
            (m.key, m.step, m.model_id, m.dataset_name, m.dataset_digest) for m in model.metrics
        )
        assert linked == [
            ("model_metrics.accuracy", 0, model.model_id, None, None),
            ("model_metrics.loss", 0, model.model_id, None, None),  # the step of the model
            ("model_metrics.precision", 0, model.model_id, None, None),
            ("model_metrics.recall", 0, model.model_id, None, None),
            ("test_scores.accuracy", 0, model.model_id, "X_test", memory_digest),
            ("test_scores.log_loss", 0, model.model_id, "X_test", memory_digest),
            ("train_scores.accuracy", 0, model.model_id, "X_train", memory_digest),
            ("train_scores.log_loss", 0, model.model_id, "X_train", memory_digest),
        ]
        first_loss = client.get_metric_history(run.info.run_id, "model_metrics.loss")[0]
        assert {m.key: m.value for m in model.metrics} == {
            **{key: run.data.metrics[key] for key, *_ in linked},
            "model_metrics.loss": first_loss.value,
        }
