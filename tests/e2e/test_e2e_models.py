"""MLflow 3's model and dataset links, after real `kedro run`s of the ``models``
pipeline: ``train`` returns a pyfunc model whose dataset's save logs it
(``mlflow.pyfunc.log_model`` in the hook's run, made active in the node thread);
``model_scores`` (``model: model``, ``evaluated_on: test_split``) links each point
to that LoggedModel and to the test split; ``inline`` logs its own model and
returns ``inline_scores``, linked by MLflow's rule (a model output at the step).

Two runs on the sqlite store with different test splits, then one through a
recording proxy to a real `mlflow server`: what the server was sent.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient

from tests.e2e.test_e2e_evaluated import TYPE, VERSION, digest
from tests.fault_proxy import FaultProxy

pytestmark = pytest.mark.e2e

#: Each run's test split: line lengths 1..3 and 1..5, so accuracy 2/3 and 4/5 for a
#: threshold of 2.
SPLITS = ("a\nbb\nccc\n", "a\nbb\nccc\ndddd\neeeee\n")


@dataclass(frozen=True)
class Runs:
    project: Path
    ids: list[str]
    served: str
    bodies: list[bytes]
    server: Any
    parallel: str


def split_digest(project: Path, version: str) -> str:
    return digest(
        {"type": TYPE, "filepath": str(project / "data" / "test_split.txt"), "load_args": {}},
        f"\0version:{version}".encode(),
    )


@pytest.fixture(scope="module")
def runs(seeded_project, kedro, store_at, mlflow_server) -> Runs:
    project = seeded_project("models")
    store = store_at(project / "mlflow.db")
    ids = []
    for index, lines in enumerate(SPLITS):
        version = VERSION.replace("05.678", f"0{5 + index}.678")
        split = project / "data" / "test_split.txt" / version / "test_split.txt"
        split.parent.mkdir(parents=True)
        split.write_text(lines)
        before = {r.info.run_id for r in store.runs()}
        kedro(project, "run", "--pipelines", "models").check()
        (new,) = [r.info.run_id for r in store.runs() if r.info.run_id not in before]
        ids.append(new)
    experiment = f"models-{uuid.uuid4().hex[:8]}"
    (project / "conf" / "local" / "metrics.yml").write_text(f"experiment: {experiment}\n")
    with FaultProxy(mlflow_server.url, [], path_part="log-batch") as proxy:
        kedro(
            project, "run", "--pipelines", "models", env={"MLFLOW_TRACKING_URI": proxy.url}
        ).check()
        bodies = list(proxy.bodies)
    served_client = MlflowClient(mlflow_server.url)
    found = served_client.get_experiment_by_name(experiment)
    (served,) = [r.info.run_id for r in served_client.search_runs([found.experiment_id])]
    (project / "conf" / "local" / "metrics.yml").unlink()
    before = {r.info.run_id for r in store.runs()}
    kedro(project, "run", "--pipelines", "models", "--runner", "ParallelRunner").check()
    (parallel,) = [r.info.run_id for r in store.runs() if r.info.run_id not in before]
    return Runs(project, ids, served, bodies, mlflow_server, parallel)


def client_of(runs: Runs) -> MlflowClient:
    return MlflowClient(f"sqlite:///{runs.project / 'mlflow.db'}")


def models_of(client: MlflowClient, run_id: str) -> dict[str, Any]:
    """The run's LoggedModels by name (``model`` and ``inline``)."""
    experiment = client.get_run(run_id).info.experiment_id
    found = client.search_logged_models([experiment], filter_string=f"source_run_id = '{run_id}'")
    return {model.name: model for model in found}


def linked(metrics: list[Any]) -> list[tuple]:
    return sorted(
        (m.key, m.value, m.step, m.model_id, m.dataset_name, m.dataset_digest) for m in metrics
    )


class TestModelLinks:
    def test_the_dataset_save_and_the_node_log_their_models_to_the_run(self, runs):
        client = client_of(runs)
        for run_id in runs.ids:
            models = models_of(client, run_id)
            assert sorted(models) == ["inline", "model"]
            assert models["model"].tags["kedro_metrics.dataset"] == "model"
            assert "kedro_metrics.dataset" not in models["inline"].tags
            outputs = client.get_run(run_id).outputs.model_outputs
            assert sorted((o.model_id, o.step) for o in outputs) == sorted(
                (m.model_id, 0) for m in models.values()
            )

    def test_model_scores_link_to_the_model_and_the_test_split(self, runs):
        client = client_of(runs)
        for run_id, accuracy, version_second in zip(runs.ids, (2 / 3, 4 / 5), (5, 6)):
            model = models_of(client, run_id)["model"]
            split = split_digest(runs.project, VERSION.replace("05.678", f"0{version_second}.678"))
            assert linked(client.get_logged_model(model.model_id).metrics) == [
                # a model output at step 0 when inline_scores was saved (MLflow's rule)
                ("inline_scores.threshold", 2.0, 0, model.model_id, None, None),
                ("model_scores.accuracy", accuracy, 0, model.model_id, "test_split", split),
                ("model_scores.lines", 3.0 if accuracy < 0.7 else 5.0, 0, model.model_id,
                 "test_split", split),
            ]  # fmt: skip
            inputs = client.get_run(run_id).inputs.dataset_inputs
            assert [(i.dataset.name, i.dataset.digest) for i in inputs] == [("test_split", split)]

    def test_a_nodes_own_model_links_the_points_at_its_step(self, runs):
        """``model: model`` links model_scores to that model only; inline_scores,
        with no ``model:``, links to each model the run output at step 0."""
        client = client_of(runs)
        for run_id in runs.ids:
            model = models_of(client, run_id)["inline"]
            assert linked(client.get_logged_model(model.model_id).metrics) == [
                ("inline_scores.threshold", 2.0, 0, model.model_id, None, None)
            ]

    def test_mlflow_ranks_the_models_by_the_metrics_logged(self, runs):
        client = client_of(runs)
        experiment = client.get_run(runs.ids[0]).info.experiment_id
        ranked = client.search_logged_models(
            [experiment],
            filter_string="name = 'model'",
            order_by=[{"field_name": "metrics.model_scores.accuracy", "ascending": False}],
        )
        ranked_runs = [m.source_run_id for m in ranked if m.source_run_id in runs.ids]
        assert ranked_runs == [runs.ids[1], runs.ids[0]]


class TestWhatTheServerIsSent:
    def test_every_point_sent_carries_its_links(self, runs):
        client = MlflowClient(runs.server.url)
        models = models_of(client, runs.served)
        sent = [
            metric
            for body in runs.bodies
            if json.loads(body).get("run_id") == runs.served
            for metric in json.loads(body).get("metrics", [])
        ]
        split = split_digest(runs.project, VERSION.replace("05.678", "06.678"))
        model, inline = models["model"].model_id, models["inline"].model_id
        for metric in sent:
            links = (
                metric.get("model_id"),
                metric.get("dataset_name"),
                metric.get("dataset_digest"),
            )
            if metric["key"].startswith("model_scores."):
                assert links == (model, "test_split", split)
            else:
                assert metric["key"] == "inline_scores.threshold"
                assert links in ((model, None, None), (inline, None, None))
        assert {(m["key"], m.get("model_id")) for m in sent} == {
            ("inline_scores.threshold", inline),
            ("inline_scores.threshold", model),
            ("model_scores.accuracy", model),
            ("model_scores.lines", model),
        }


class TestParallelRunner:
    def test_models_logged_in_worker_processes_are_the_runs_and_linked(self, runs):
        """The nodes run in worker processes: each makes the run its active MLflow
        run, so the models land in it, and the points link to them as before."""
        client = client_of(runs)
        assert client.get_run(runs.parallel).info.status == "FINISHED"
        models = models_of(client, runs.parallel)
        assert sorted(models) == ["inline", "model"]
        assert models["model"].tags["kedro_metrics.dataset"] == "model"
        model_keys = {m.key for m in client.get_logged_model(models["model"].model_id).metrics}
        assert {"model_scores.accuracy", "model_scores.lines"} <= model_keys
        # which other points MLflow's own log_model links depends on the workers' order
        inline = client.get_logged_model(models["inline"].model_id).metrics
        assert ("inline_scores.threshold", 2.0) in [(m.key, m.value) for m in inline]
