"""Ctrl-C and SIGTERM during a node end the plugin's run KILLED on every runner, and a
catalog error stops `kedro run` before any run exists."""

from __future__ import annotations

import functools
import signal

import pytest

from tests.concurrently import side_by_side
from tests.e2e.background import BackgroundKedro

pytestmark = pytest.mark.e2e

RUNNERS = ("SequentialRunner", "ThreadRunner", "ParallelRunner")
PROGRESS = {
    "progress_metrics.seen": [(step, float(step)) for step in range(100)],
    "progress_metrics.done": [(0, 0.5)],
}


def interrupted_run(parent, new_project, runner, signum):
    project = new_project(parent)
    run = BackgroundKedro(project, "run", "--pipelines", "interruptible", "--runner", runner)
    run.wait_for_file("node_started")
    # Ctrl-C reaches the whole process group; SIGTERM (kill, Kubernetes) only kedro.
    run.signal(signum, group=signum == signal.SIGINT)
    return run.finish(), project


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory, new_project, store_at):
    """Each runner, interrupted by SIGINT and by SIGTERM during its long node (the six
    runs side by side, each in its own project)."""

    def scenario(runner: str, signum: signal.Signals):
        parent = tmp_path_factory.mktemp(f"{runner}-{signum.name}")
        result, project = interrupted_run(parent, new_project, runner, signum)
        return result, store_at(project / "mlflow.db")

    return side_by_side(
        {
            (runner, signum.name): functools.partial(scenario, runner, signum)
            for runner in RUNNERS
            for signum in (signal.SIGINT, signal.SIGTERM)
        }
    )


@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"])
class TestInterruptedRun:
    def test_run_ends_killed_with_its_points(self, interrupted, runner, signal_name):
        """The one run is KILLED with an end time, and every point saved before is in it."""
        result, store = interrupted[runner, signal_name]
        assert result.returncode != 0, result.output
        run = store.only_run()
        assert run.info.status == "KILLED", result.output
        assert run.info.end_time is not None
        assert store.metrics(run.info.run_id) == PROGRESS


class TestCatalogError:
    def test_no_run_is_created(self, tmp_path, new_project, kedro, store_at):
        """A misspelt argument of a dataset the pipeline resolves from a factory pattern
        fails `kedro run` naming it, and leaves no run."""
        project = new_project(tmp_path)
        catalog = project / "conf" / "base" / "catalog.yml"
        text = catalog.read_text()
        typo = '"{name}_metrics":\n  type: kedro_metrics.MlflowMetricsDataSet\n  prefx: typo\n'
        catalog.write_text(
            text.replace('"{name}_metrics":\n  type: kedro_metrics.MlflowMetricsDataSet\n', typo)
        )
        assert "prefx" in catalog.read_text()
        result = kedro(project, "run", "--pipelines", "small")
        assert result.returncode != 0, result.output
        assert "prefx" in result.stdout + result.stderr
        assert store_at(project / "mlflow.db").runs() == []


@pytest.fixture(scope="module")
def interrupted_while_created(tmp_path_factory, new_project, mlflow_server):
    """`kedro run` whose `runs/create` the server has answered but a proxy holds back;
    the signal comes then, and only after it the answer. Per signal: the result, the
    experiment's runs (deleted ones included) and the spool files left; the two side
    by side, each with its own proxy and experiment."""
    import uuid

    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    from tests.fault_proxy import FaultProxy

    client = MlflowClient(tracking_uri=mlflow_server.url)

    def scenario(signum: signal.Signals):
        project = new_project(tmp_path_factory.mktemp(f"creating-{signum.name}"))
        experiment = f"interrupted-create-{uuid.uuid4().hex[:8]}"
        (project / "conf" / "local" / "metrics.yml").write_text(f"experiment: {experiment}\n")
        with FaultProxy(mlflow_server.url, ["hold"], path_part="runs/create") as proxy:
            env = {"MLFLOW_TRACKING_URI": proxy.url}
            run = BackgroundKedro(project, "run", "--pipelines", "small", env=env)
            assert proxy.holding.wait(120), run.finish().output
            run.signal(signum, group=signum == signal.SIGINT)
            proxy.release()
            result = run.finish()
        found = client.get_experiment_by_name(experiment)
        runs = client.search_runs([found.experiment_id], run_view_type=ViewType.ALL)
        spooled = sorted((project / ".kedro_metrics" / "spool").glob("*.jsonl"))
        return result, runs, spooled

    return side_by_side(
        {
            signum.name: functools.partial(scenario, signum)
            for signum in (signal.SIGINT, signal.SIGTERM)
        }
    )


@pytest.mark.server
@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"])
class TestInterruptWhileTheRunIsCreated:
    def test_the_created_run_ends_killed(self, interrupted_while_created, signal_name):
        """The signal waits until the run exists, then ends it: one run, KILLED, with
        an end time; nothing left in the spool; SIGTERM exits with status 143."""
        result, runs, spooled = interrupted_while_created[signal_name]
        if signal_name == "SIGTERM":
            assert result.returncode == 143, result.output
        else:
            assert result.returncode != 0, result.output
        assert [(r.info.status, r.info.lifecycle_stage) for r in runs] == [("KILLED", "active")], (
            result.output
        )
        assert runs[0].info.end_time is not None
        assert spooled == []
