"""A metrics save's MLflow 3 links outside ``kedro run`` (a script, a notebook),
against a real sqlite store: the active model, the thread's own model outputs, a
``model:`` that logged nothing; and batches that keep a point's rows together."""

from __future__ import annotations

import logging
import threading

import mlflow
import pytest
from kedro.io import DatasetError
from mlflow import MlflowClient

from kedro_metrics import MlflowMetricsDataSet, store
from kedro_metrics.links import PointLink
from kedro_metrics.points import MetricPoint


@pytest.fixture
def run(sqlite_uri):
    """An active run in this thread, on a fresh sqlite store (MLflow's URI too; the
    autouse fixture restores it)."""
    mlflow.set_tracking_uri(sqlite_uri)
    mlflow.tracking.fluent._reset_last_logged_model_id()  # an earlier test's model
    with mlflow.start_run() as active:
        yield MlflowClient(sqlite_uri), active.info


def model_metrics(client: MlflowClient, model_id: str) -> list[tuple]:
    return sorted(
        (m.key, m.value, m.step, m.model_id, m.dataset_name)
        for m in client.get_logged_model(model_id).metrics
    )


class TestOutsideKedroRun:
    def test_the_active_model_links_every_point(self, run):
        client, info = run
        model = mlflow.create_external_model(name="external")
        mlflow.set_active_model(model_id=model.model_id)
        try:
            MlflowMetricsDataSet(prefix="m").save({"loss": [0.5, 0.25]})
        finally:
            mlflow.clear_active_model()
        assert model_metrics(client, model.model_id) == [
            ("m.loss", 0.25, 1, model.model_id, None),
            ("m.loss", 0.5, 0, model.model_id, None),
        ]

    def test_mlflow_active_model_id_links_the_points_of_a_new_thread(self, run, monkeypatch):
        """MLFLOW_ACTIVE_MODEL_ID: MLflow's default active model, read by each thread."""
        client, info = run
        model = mlflow.create_external_model(name="from-the-environment")
        monkeypatch.setenv("MLFLOW_ACTIVE_MODEL_ID", model.model_id)
        saving = threading.Thread(
            target=lambda: MlflowMetricsDataSet(prefix="m", run_id=info.run_id).save({"f1": 0.5})
        )
        saving.start()
        saving.join()
        assert model_metrics(client, model.model_id) == [("m.f1", 0.5, 0, model.model_id, None)]

    def test_a_model_this_thread_logged_links_the_points_at_its_step(self, run):
        client, info = run
        model = mlflow.create_external_model(name="external")
        client.log_outputs(info.run_id, [mlflow.entities.LoggedModelOutput(model.model_id, step=1)])
        MlflowMetricsDataSet(prefix="m").save({"loss": [0.5, 0.25]})
        assert model_metrics(client, model.model_id) == [("m.loss", 0.25, 1, model.model_id, None)]

    def test_a_model_another_thread_logged_is_not_looked_up(self, run):
        """No model logged in the saving thread: no request for the run's outputs."""
        client, info = run
        created = []
        thread = threading.Thread(
            target=lambda: created.append(mlflow.create_external_model(name="elsewhere"))
        )
        thread.start()
        thread.join()
        assert store.last_model_here() is None
        assert store.model_outputs(None, info.run_id) == []

    def test_a_run_other_processes_log_to_reads_its_outputs_at_every_save(self, run):
        """A run the hook resumed (MLFLOW_RUN_ID: a task among others): a model
        another process output at step 0 links the points this one saves."""
        from kedro_metrics.process import state

        client, info = run
        made = []
        thread = threading.Thread(target=lambda: made.append(mlflow.create_external_model()))
        thread.start()
        thread.join()
        (model,) = made
        client.log_outputs(info.run_id, [mlflow.entities.LoggedModelOutput(model.model_id, 0)])
        state.shared_runs.add(info.run_id)
        try:
            MlflowMetricsDataSet(prefix="m").save({"acc": 0.5})
        finally:
            state.shared_runs.discard(info.run_id)
        assert model_metrics(client, model.model_id) == [("m.acc", 0.5, 0, model.model_id, None)]

    def test_a_model_dataset_that_logged_nothing_fails_the_save_saying_why(self, run):
        client, info = run
        with pytest.raises(DatasetError) as caught:
            MlflowMetricsDataSet(prefix="m", model="trained_model").save({"loss": 0.5})
        assert str(caught.value) == (
            "'m': its metrics link to the model 'trained_model' (`model:`), but no save of "
            f"'trained_model' logged an MLflow model in run {info.run_id}. Save the model "
            "first: make the node that computes these metrics take the model as an input, "
            "or drop `model:`."
        )
        assert client.get_run(info.run_id).data.metrics == {}

    def test_a_model_dataset_finds_the_model_tagged_with_its_name(self, run):
        client, info = run
        model = mlflow.create_external_model(name="trained", source_run_id=info.run_id)
        store.mark_model_of_dataset(None, model.model_id, "trained_model")
        MlflowMetricsDataSet(prefix="m", model="trained_model").save({"acc": 0.75})
        assert model_metrics(client, model.model_id) == [("m.acc", 0.75, 0, model.model_id, None)]

    def test_data_whose_digest_fails_costs_the_link_not_the_metrics(self, run, sqlite_uri, caplog):
        from kedro_metrics.delivery import DeliveryPolicy

        class Unreadable:
            def _describe(self) -> dict:
                raise OSError("the disk is gone")

        client, info = run
        dataset = MlflowMetricsDataSet(evaluated_on="test_split")
        dataset.bind_to_run(
            "scores", tracking_uri=sqlite_uri, policy=DeliveryPolicy(run_id=info.run_id),
            evaluated_data=Unreadable(),
        )  # fmt: skip
        with caplog.at_level(logging.WARNING, logger="kedro_metrics"):
            dataset.save({"acc": 0.5})
        assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
            "'scores': the digest of 'test_split' could not be taken (OSError: the disk is "
            "gone); its points go without the data link."
        ]
        assert client.get_run(info.run_id).data.metrics == {"scores.acc": 0.5}

    @pytest.mark.parametrize("model", [3, "", ["a"]])
    def test_model_must_be_a_catalog_name(self, model):
        with pytest.raises(DatasetError, match="model must be the catalog name of a model"):
            MlflowMetricsDataSet(prefix="m", model=model)


class TestBatches:
    def test_a_point_linked_to_two_models_is_two_rows_of_one_batch(self):
        link = PointLink("data", "d1", step_models={0: ("m-1", "m-2")})
        points = [MetricPoint("k", float(i), i % 2, 1) for i in range(1001)]
        chunks = list(store.batches(points, link))
        # 501 points at step 0 (2 rows each), 500 at step 1: 1,502 rows. After 666
        # points (999 rows) the next one's 2 rows would pass 1,000: a new batch.
        assert [len(c) for c in chunks] == [999, 503]
        rows = [(m.value, m.model_id) for chunk in chunks for m in chunk]
        assert rows[:3] == [(0.0, "m-1"), (0.0, "m-2"), (1.0, None)]
        assert all(m.dataset_name == "data" and m.dataset_digest == "d1" for c in chunks for m in c)
        assert all(len(c) <= 1000 for c in chunks)
