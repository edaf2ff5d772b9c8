"""Every runner gives the same result: 8 nodes x 50-step histories, 400 points, one run,
with synchronous and with asynchronous logging (metrics.yml ``async_logging: true``:
save returns at once, the hook waits for the writes at the end of the pipeline).

Half of the eight outputs are explicit catalog entries, half come from a
``"{name}_hist"`` dataset factory; the nodes sleep a little so that the threads and
processes of ThreadRunner and ParallelRunner save concurrently.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

OUTPUTS = [f"hist_{i}" for i in range(4)] + [f"f{i}_hist" for i in range(4, 8)]
STEPS = 50
#: Node i logs ``<output>.loss`` with values i * 1000 + step at steps 0..49.
EXPECTED = {
    f"{output}.loss": [(step, float(i * 1000 + step)) for step in range(STEPS)]
    for i, output in enumerate(OUTPUTS)
}


RUNNERS = ["SequentialRunner", "ThreadRunner", "ParallelRunner"]


@pytest.fixture(
    scope="module",
    params=[(runner, False) for runner in RUNNERS] + [(runner, True) for runner in RUNNERS],
    ids=lambda param: f"{param[0]}-{'async' if param[1] else 'sync'}",
)
def runner_run(request, tmp_path_factory, new_project, kedro, store_at):
    runner, asynchronous = request.param
    project = new_project(tmp_path_factory.mktemp(runner))
    if asynchronous:
        (project / "conf" / "base" / "metrics.yml").write_text("async_logging: true\n")
    kedro(project, "run", "--pipelines", "runners", "--runner", runner).check()
    store = store_at(project / "mlflow.db")
    return runner, store, store.runs()


class TestRunners:
    def test_all_points_land_in_exactly_one_finished_run(self, runner_run):
        """The kedro run makes exactly one MLflow run, FINISHED."""
        _, _, runs = runner_run
        assert [r.info.status for r in runs] == ["FINISHED"]

    def test_exactly_400_points_none_lost_none_duplicated(self, runner_run):
        """8 keys x 50 steps: every point once, with its exact step and value."""
        _, store, runs = runner_run
        metrics = store.metrics(runs[0].info.run_id)
        assert sum(len(history) for history in metrics.values()) == 8 * STEPS
        assert metrics == EXPECTED

    def test_run_is_tagged_with_the_runner(self, runner_run):
        """kedro.runner names the runner class; session, pipeline and env are tagged."""
        runner, store, runs = runner_run
        tags = store.user_tags(runs[0])
        assert tags["kedro.runner"] == runner
        assert tags["kedro.pipeline"] == "runners"
        assert tags["kedro.env"] == "local"
        assert tags["kedro.session_id"]
        assert runs[0].info.run_name.startswith("runners ")  # then the start time
