"""A node fails after a metrics node: the run is FAILED and keeps what was logged."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def failed_run(tmp_path_factory, new_project, kedro, store_at):
    project = new_project(tmp_path_factory.mktemp("failing"))
    result = kedro(project, "run", "--pipelines", "failing")
    store = store_at(project / "mlflow.db")
    return result, store, store.runs()


class TestFailingNode:
    def test_kedro_run_exits_non_zero(self, failed_run):
        """The node's error makes `kedro run` fail, and it is the node's error."""
        result, _, _ = failed_run
        assert result.returncode != 0, result.output
        assert "fails on purpose" in result.stdout + result.stderr

    def test_run_is_marked_failed(self, failed_run):
        """The plugin's run ends FAILED, and there is no other run."""
        _, _, runs = failed_run
        assert [r.info.status for r in runs] == ["FAILED"]
        assert runs[0].info.end_time is not None

    def test_metrics_saved_before_the_error_stay(self, failed_run):
        """What the metrics node saved before the failure is in the run, exactly."""
        _, store, runs = failed_run
        assert store.metrics(runs[0].info.run_id) == {
            "partial_metrics.rows_seen": [(0, 10.0)],
            "partial_metrics.loss": [(0, 0.5), (1, 0.25)],
        }
