"""The time in a run's name is its start time (issue 19): it was taken before MLflow
was imported and its store created, 2-10 s before the run started.

The project's store is not seeded (``store=False``): the run creates it, and MLflow's
migrations take seconds, the gap the name's time used to show."""

from __future__ import annotations

from datetime import datetime

import pytest

from kedro_metrics.run_context import START_TIME_FORMAT

pytestmark = pytest.mark.e2e


def local_second(epoch_ms: int) -> str:
    """``epoch_ms`` as the default run name writes a time: local, to the second."""
    return datetime.fromtimestamp(epoch_ms / 1000).strftime(START_TIME_FORMAT)


@pytest.fixture(scope="module")
def run_in_a_new_store(tmp_path_factory, new_project, kedro, store_at):
    project = new_project(tmp_path_factory.mktemp("run-name"), store=False)
    kedro(project, "run", "--pipelines", "small").check()
    store = store_at(project / "mlflow.db")
    run = store.only_run()
    return run, store.client.get_experiment(run.info.experiment_id)


def test_the_name_s_time_is_the_start_time(run_in_a_new_store):
    run, _ = run_in_a_new_store
    assert run.info.run_name == f"small {local_second(run.info.start_time)}"


def test_the_run_starts_once_its_store_and_experiment_exist(run_in_a_new_store):
    """The start time is the run's creation, not the moment before MLflow made the
    store: the experiment, created with the store just before the run, is older."""
    run, experiment = run_in_a_new_store
    assert experiment.creation_time <= run.info.start_time
