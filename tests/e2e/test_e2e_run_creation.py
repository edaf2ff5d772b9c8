"""One `kedro run`, one MLflow run, although creating a run is not idempotent: the
answer to `runs/create` lost after the server created the run (a real proxy in front
of a real `mlflow server`), and an offline-spooled run whose create the server did
carry out: sync adopts that run instead of making a second one."""

from __future__ import annotations

import os
import uuid

import pytest

from kedro_metrics import delivery, spool, store
from kedro_metrics.points import MetricPoint
from tests.fault_proxy import FaultProxy

pytestmark = [pytest.mark.e2e, pytest.mark.server]


def all_runs(url: str, experiment: str) -> list:
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    client = MlflowClient(tracking_uri=url)
    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    return client.search_runs([experiment_id], run_view_type=ViewType.ALL)


@pytest.fixture(scope="module")
def lost_create_answer(tmp_path_factory, new_project, kedro, mlflow_server):
    project = new_project(tmp_path_factory.mktemp("create"))
    experiment = f"create-{uuid.uuid4().hex[:8]}"
    (project / "conf" / "local" / "metrics.yml").write_text(f"experiment: {experiment}\n")
    with FaultProxy(mlflow_server.url, ["drop_after"], path_part="runs/create") as proxy:
        result = kedro(
            project, "run", "--pipelines", "small", env={"MLFLOW_TRACKING_URI": proxy.url}
        )
        injected = list(proxy.injected)
    return result, injected, all_runs(mlflow_server.url, experiment)


class TestLostCreateAnswer:
    def test_the_answer_was_lost_and_the_run_succeeded(self, lost_create_answer):
        result, injected, _ = lost_create_answer
        result.check()
        assert injected == ["drop_after"]

    def test_exactly_one_run_holds_the_metrics_and_finished(self, lost_create_answer):
        """No second, empty RUNNING run (deleted ones counted too)."""
        _, _, runs = lost_create_answer
        assert [(r.info.status, r.info.lifecycle_stage, r.data.metrics) for r in runs] == [
            ("FINISHED", "active", {"small_metrics.answer": 42.0})
        ]


def test_sync_adopts_the_run_a_late_create_made(tmp_path, mlflow_server):
    """`kedro run` spooled its run offline after `runs/create` failed, but the server
    did create it (tagged with the Kedro session): sync delivers into that run and
    ends it, and no second run appears."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_server.url)
    experiment = f"adopt-{uuid.uuid4().hex[:8]}"
    session = "2026-12-03T10.00.00.000Z"
    tags = {store.SESSION_TAG: session, "kedro.pipeline": "__default__"}
    orphan = client.create_run(client.create_experiment(experiment), tags=tags).info.run_id
    target = spool.SpoolTarget(
        str(tmp_path), spool.new_spool_id(), None, mlflow_server.url, owner_pid=os.getpid(),
        experiment=experiment, run_name="late", tags=tags, start_time=1,
    )  # fmt: skip
    writer = spool.writer_for(target)
    writer.add_points([MetricPoint("m.loss", 0.5, 0, 1)])
    writer.end("FINISHED", 2)
    spool.close_writer(target, remove=False)
    report = delivery.sync(str(tmp_path), mlflow_server.url)
    assert (report.runs_created, report.runs_ended, report.problems) == (
        1, {orphan: "FINISHED"}, [],
    )  # fmt: skip
    (run,) = all_runs(mlflow_server.url, experiment)
    assert (run.info.run_id, run.info.status, run.data.metrics) == (
        orphan, "FINISHED", {"m.loss": 0.5},
    )  # fmt: skip
    assert run.data.tags[store.SPOOL_ID_TAG] == target.spool_id
