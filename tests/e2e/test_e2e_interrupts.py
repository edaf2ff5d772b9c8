"""Ctrl-C and SIGTERM during a node end the plugin's run KILLED on every runner, and a
catalog error stops `kedro run` before any run exists."""

from __future__ import annotations

import signal

import pytest

from tests.e2e.background import BackgroundKedro

pytestmark = pytest.mark.e2e

RUNNERS = ("SequentialRunner", "ThreadRunner", "ParallelRunner")
PROGRESS = {
    "progress_metrics.seen": [(step, float(step)) for step in range(100)],
    "progress_metrics.done": [(0, 0.5)],
}


def interrupted_run(parent, new_project, seed_store, runner, signum):
    project = new_project(parent)
    seed_store(project / "mlflow.db")
    run = BackgroundKedro(project, "run", "--pipelines", "interruptible", "--runner", runner)
    run.wait_for_file("node_started")
    # Ctrl-C reaches the whole process group; SIGTERM (kill, Kubernetes) only kedro.
    run.signal(signum, group=signum == signal.SIGINT)
    return run.finish(), project


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory, new_project, seed_store, store_at):
    """Each runner, interrupted by SIGINT and by SIGTERM during its long node."""
    results = {}
    for runner in RUNNERS:
        for signum in (signal.SIGINT, signal.SIGTERM):
            parent = tmp_path_factory.mktemp(f"{runner}-{signum.name}")
            result, project = interrupted_run(parent, new_project, seed_store, runner, signum)
            results[runner, signum.name] = result, store_at(project / "mlflow.db")
    return results


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
    def test_no_run_is_created(self, tmp_path, new_project, seed_store, kedro, store_at):
        """A misspelt argument of a dataset the pipeline resolves from a factory pattern
        fails `kedro run` naming it, and leaves no run."""
        project = new_project(tmp_path)
        seed_store(project / "mlflow.db")
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
